"""The S3 command-line clients users already have (the aws CLI, rclone, s3cmd), each run against
a real ``andromede serve`` with its configuration, HOME and credentials in a folder of the test's
own, so nothing leaks in from the developer's setup.

Each factory returns ``run(*args, check=True)``, which fails the test with the client's output
when it exits non-zero and ``check`` is set. ``ca_pem`` trusts a test CA for an HTTPS server.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from e2e.helpers import client_binary, run_cli
from support.server import REGION, ServerProcess

__all__ = ["RCLONE_REMOTE", "Cli", "aws_cli", "rclone_cli", "s3cmd_cli"]

Cli = Callable[..., subprocess.CompletedProcess[str]]


def _home(root: Path) -> Path:
    """``root/home``, made with ``root``, where the client's configuration also goes."""
    home = root / "home"
    home.mkdir(parents=True, exist_ok=True)
    return home


def aws_cli(
    server: ServerProcess,
    root: Path,
    ca_pem: Path | None = None,
    *,
    credentials_file: Path | None = None,
    account_hosts: bool = False,
) -> Cli:
    """The venv's aws CLI (awscli v1), path-style, JSON output; as the server's admin, or as
    the ``andromede`` profile of ``credentials_file`` (another tenant's keys).
    ``account_hosts``: requests to ``<account id>.<endpoint host>`` (S3 Control's, which
    resolve nowhere here) sent through the server itself as their HTTP proxy (decision 0152)."""
    binary = client_binary("aws", in_venv=True)
    home = _home(root)
    config = root / "aws-config"
    config.write_text(
        f"[profile andromede]\nregion = {REGION}\noutput = json\n"
        "s3 =\n    addressing_style = path\n"
    )
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env.update(
        HOME=str(home),
        AWS_SHARED_CREDENTIALS_FILE=str(credentials_file or server.credentials_file),
        AWS_CONFIG_FILE=str(config),
        AWS_PROFILE="andromede",
        AWS_PAGER="",
    )
    if ca_pem is not None:
        env["AWS_CA_BUNDLE"] = str(ca_pem)
    if account_hosts:
        env["HTTP_PROXY"] = server.endpoint

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run_cli(
            "aws", [str(binary), "--endpoint-url", server.endpoint, *args], env, check=check
        )

    return run


RCLONE_REMOTE = "andromede"


def rclone_cli(server: ServerProcess, root: Path, ca_pem: Path | None = None) -> Cli:
    """Debian's rclone (``provider = Other``), remote ``andromede:``; files over 5 MiB go in
    5 MiB parts (``--s3-upload-cutoff 5M --s3-chunk-size 5M``)."""
    binary = client_binary("rclone", in_venv=False)
    home = _home(root)
    access_key, secret_key = server.credentials()
    config = root / "rclone.conf"
    config.write_text(
        f"[{RCLONE_REMOTE}]\n"
        "type = s3\n"
        "provider = Other\n"
        f"access_key_id = {access_key}\n"
        f"secret_access_key = {secret_key}\n"
        f"endpoint = {server.endpoint}\n"
        f"region = {REGION}\n"
        f"location_constraint = {REGION}\n"
        "force_path_style = true\n"
    )
    config.chmod(0o600)
    # The AWS SDK inside rclone reads AWS_* (AWS_CA_BUNDLE breaks its plain-HTTP transport).
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("RCLONE_", "AWS_"))
    }
    env["HOME"] = str(home)
    trust = ["--ca-cert", str(ca_pem)] if ca_pem is not None else []

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run_cli(
            "rclone",
            [
                str(binary),
                "--config",
                str(config),
                *trust,
                "--retries",
                "1",
                "--low-level-retries",
                "1",
                "--s3-upload-cutoff",
                "5M",
                "--s3-chunk-size",
                "5M",
                *args,
            ],
            env,
            check=check,
        )

    return run


def s3cmd_cli(server: ServerProcess, root: Path) -> Cli:
    """The venv's s3cmd, path-style, SigV4, over plain HTTP."""
    binary = client_binary("s3cmd", in_venv=True)
    home = _home(root)
    access_key, secret_key = server.credentials()
    host = f"127.0.0.1:{server.port}"
    config = root / "s3cmd.cfg"
    config.write_text(
        "[default]\n"
        f"access_key = {access_key}\n"
        f"secret_key = {secret_key}\n"
        f"host_base = {host}\n"
        f"host_bucket = {host}\n"
        "use_https = False\n"
        f"bucket_location = {REGION}\n"
        "signature_v2 = False\n"
        "check_ssl_certificate = True\n"
        "progress_meter = False\n"
    )
    config.chmod(0o600)
    env = {**os.environ, "HOME": str(home)}

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run_cli(
            "s3cmd", [str(binary), "-c", str(config), "--no-progress", *args], env, check=check
        )

    return run
