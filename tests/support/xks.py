"""A real ``andromede xks-proxy serve`` process over HTTPS, on a private SoftHSM2 token.

For the proxy's own e2e tests and for the KMS side's (custom key stores)::

    with running_xks_proxy(tmp_path) as proxy:
        key_id = proxy.create_key("orders-key")
        # sign POSTs to proxy.endpoint + proxy.uri_path + "/keys/<id>/encrypt" with SigV4,
        # service SIGV4_SERVICE ("kms-xks-proxy", the spec's Appendix A), the fixture's region,
        # proxy.access_key_id / proxy.secret_access_key; trust proxy.ca_bundle.
        proxy.stop()    # "proxy unreachable": the port refuses connections
        proxy.start()   # same endpoint, credentials and keys again

Everything lives under ``root``: the SoftHSM2 configuration and token (the proxy and the key
commands are separate processes, each given ``SOFTHSM2_CONF`` in its environment: the test
process itself never loads SoftHSM2 for this, so it does not disturb the contract suites'
in-process token), the trustme CA and the certificate of ``localhost`` (an FQDN, as the spec
wants, not an IP address), the PIN file, the credentials file and the audit log.

The key commands (``create_key`` …) run ``andromede xks-proxy create-key`` and friends as
processes of their own, and are safe while the proxy serves: the proxy reads keys and their
status from the token on every request, and SoftHSM2 shows one process's changes to the
other (``tests/e2e/test_xks_proxy.py`` tests it).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from support.launcher import LaunchedServer, run_command, start_command
from support.server import REGION, free_port
from support.softhsm import softhsm_library

__all__ = ["SIGV4_SERVICE", "URI_PATH_PREFIX", "RunningXksProxy", "running_xks_proxy", "sign"]

SIGV4_SERVICE = "kms-xks-proxy"
URI_PATH_PREFIX = "/tenant-a"
ANDROMEDE = Path(sys.executable).with_name("andromede")


def sign(
    url: str,
    body: bytes,
    *,
    access_key_id: str,
    secret_access_key: str,
    region: str,
    service: str = SIGV4_SERVICE,
    method: str = "POST",
    content_type: str = "application/json",
) -> dict[str, str]:
    """The headers of a request signed by botocore's own SigV4 (an implementation independent
    of the proxy's), as AWS KMS signs its calls to a proxy."""
    request = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": content_type})
    SigV4Auth(Credentials(access_key_id, secret_access_key), service, region).add_auth(request)
    return dict(request.headers.items())


@dataclass
class _Process:
    root: Path
    port: int
    env: dict[str, str]
    serve_args: list[str]
    token_args: list[str]
    ca_bundle: Path
    log_path: Path
    process: subprocess.Popen[bytes] | LaunchedServer | None = None
    # Mutual TLS: what serve is started with, and the client certificate the readiness probe
    # presents (certificate file, key file).
    client_args: list[str] = field(default_factory=list)
    probe_identity: tuple[Path, Path] | None = None

    def start(self, timeout: float = 30.0) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        with self.log_path.open("ab") as log:
            self.process = start_command(
                [str(ANDROMEDE), "xks-proxy", "serve", *self.serve_args, *self.client_args],
                env=self.env,
                log=log.fileno(),
            )
        deadline = time.monotonic() + timeout
        context = ssl.create_default_context(cafile=str(self.ca_bundle))
        if self.probe_identity is not None:
            context.load_cert_chain(*(str(path) for path in self.probe_identity))
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"xks-proxy serve exited early:\n{self.log_path.read_text()}")
            with contextlib.suppress(httpx.HTTPError):
                answer = httpx.get(f"https://localhost:{self.port}/healthz", verify=context,
                                   timeout=2)  # fmt: skip
                if answer.status_code == 200:
                    return
            time.sleep(0.05)  # polling for readiness, not synchronising on a guess
        self.stop()
        raise RuntimeError(f"xks-proxy serve did not start:\n{self.log_path.read_text()}")

    def stop(self, timeout: float = 15.0) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)

    def command(self, *args: str) -> str:
        done = run_command(
            [str(ANDROMEDE), "xks-proxy", *args, *self.token_args],
            env=self.env,
            timeout=60,
        )
        if done.returncode != 0:
            raise RuntimeError(f"xks-proxy {args[0]} failed: {done.stderr.strip()}")
        return done.stdout.strip()


@dataclass(frozen=True)
class RunningXksProxy:
    endpoint: str  # "https://localhost:<port>"
    uri_path: str  # "/tenant-a/kms/xks/v1"
    access_key_id: str
    secret_access_key: str
    ca_bundle: Path  # PEM of the CA that signed the proxy's certificate
    audit_log: Path
    region: str = REGION
    credentials_file: Path = Path()
    _process: _Process = field(default=None, repr=False, compare=False)  # type: ignore[assignment]

    def create_key(self, label: str) -> str:
        """A new AES-256 key in the token (``xks-proxy create-key``); its externalKeyId."""
        return self._process.command("create-key", "--label", label)

    def disable_key(self, key_id: str) -> None:
        self._process.command("disable-key", "--label", key_id)

    def enable_key(self, key_id: str) -> None:
        self._process.command("enable-key", "--label", key_id)

    def delete_key(self, key_id: str) -> None:
        """Destroy the key in the token: crypto-shredding."""
        self._process.command("delete-key", "--label", key_id, "--yes")

    def stop(self) -> None:
        """Stop the proxy (SIGTERM, graceful); its port then refuses connections."""
        self._process.stop()

    def start(self) -> None:
        """Start it again on the same port, with the same token, credentials and audit log."""
        self._process.start()

    def require_client_certificates(
        self, client_ca: Path | None, subject: str | None, probe: tuple[Path, Path] | None
    ) -> None:
        """Restart the proxy requiring client certificates chained to ``client_ca`` with the
        subject CN ``subject`` (mutual TLS; ``None``: not required); ``probe`` is a client
        certificate and key it accepts, for the readiness check."""
        self._process.stop()
        self._process.client_args = (
            []
            if client_ca is None or subject is None
            else ["--tls-client-ca", str(client_ca), "--tls-client-subject", subject]
        )
        self._process.probe_identity = probe
        self._process.start()

    def add_credential(self) -> tuple[str, str]:
        """A new SigV4 credential, added to the running proxy's credentials file (which the
        proxy reads again at its next request): ``(access_key_id, secret_access_key)``."""
        printed = run_command(
            [str(ANDROMEDE), "xks-proxy", "new-credential",
             "--append-to", str(self.credentials_file)],
            env=self._process.env, check=True, timeout=60,
        ).stdout  # fmt: skip
        credential = json.loads(printed)["XksProxyAuthenticationCredential"]
        return credential["AccessKeyId"], credential["RawSecretAccessKey"]

    def remove_credential(self, access_key_id: str) -> None:
        """Take a credential out of the credentials file (the proxy refuses it from then on)."""
        import tomllib

        entries = tomllib.loads(self.credentials_file.read_text())["credentials"]
        kept = [e for e in entries if e["access_key_id"] != access_key_id]
        _write_private(self.credentials_file, _credentials_toml(kept))

    def audit_records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.audit_log.read_text().splitlines() if line]


def _credentials_toml(entries: list[dict[str, str]]) -> str:
    return "".join(
        f'[[credentials]]\naccess_key_id = "{e["access_key_id"]}"\n'
        f'secret_access_key = "{e["secret_access_key"]}"\n\n'
        for e in entries
    )


def _write_private(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".new")
    temporary.write_text(text)
    temporary.chmod(0o600)
    temporary.replace(path)


@contextlib.contextmanager
def running_xks_proxy(root: Path, *, region: str = REGION) -> Iterator[RunningXksProxy]:
    """A proxy serving on a free port of localhost; stopped on exit."""
    library = softhsm_library()
    if library is None:
        pytest.skip("SoftHSM2 is not installed (scripts/install-system-deps.sh installs it)")
    root.mkdir(parents=True, exist_ok=True)
    hsm = root / "softhsm"
    (hsm / "tokens").mkdir(parents=True)
    config = hsm / "softhsm2.conf"
    config.write_text(
        f"directories.tokendir = {hsm / 'tokens'}\nobjectstore.backend = file\n"
        "log.level = ERROR\nslots.removable = false\n"
    )
    env = {**os.environ, "SOFTHSM2_CONF": str(config)}
    env = {k: v for k, v in env.items() if not k.startswith("ANDROMEDE_XKS_")}
    pin = os.urandom(8).hex()
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", "xks-proxy",
         "--pin", pin, "--so-pin", os.urandom(8).hex()],
        check=True, capture_output=True, env=env,
    )  # fmt: skip
    pin_file = root / "pin"
    _write_private(pin_file, pin + "\n")

    ca = trustme.CA()
    certificate = ca.issue_cert("localhost")
    ca_bundle = root / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_bundle))
    cert_file, key_file = root / "proxy-cert.pem", root / "proxy-key.pem"
    certificate.cert_chain_pems[0].write_to_path(str(cert_file))
    for extra in certificate.cert_chain_pems[1:]:
        extra.write_to_path(str(cert_file), append=True)
    certificate.private_key_pem.write_to_path(str(key_file))
    key_file.chmod(0o600)

    credentials_file = root / "credentials.toml"
    printed = run_command(
        [str(ANDROMEDE), "xks-proxy", "new-credential", "--uri-path-prefix", URI_PATH_PREFIX,
         "--append-to", str(credentials_file)],
        env=env, check=True, timeout=60,
    ).stdout  # fmt: skip
    console_file = json.loads(printed)
    credential = console_file["XksProxyAuthenticationCredential"]

    port = free_port()
    audit_log = root / "xks-audit.log"
    token_args = ["--pkcs11-module", library, "--token-label", "xks-proxy",
                  "--pin-file", str(pin_file)]  # fmt: skip
    serve_args = [
        "--host", "127.0.0.1", "--port", str(port), "--tls-cert", str(cert_file),
        "--tls-key", str(key_file), "--uri-path-prefix", URI_PATH_PREFIX, "--region", region,
        "--credentials-file", str(credentials_file), "--audit-log", str(audit_log),
        *token_args,
    ]  # fmt: skip
    process = _Process(
        root=root, port=port, env=env, serve_args=serve_args, token_args=token_args,
        ca_bundle=ca_bundle, log_path=root / "xks-proxy.log",
    )  # fmt: skip
    proxy = RunningXksProxy(
        endpoint=f"https://localhost:{port}",
        uri_path=console_file["XksProxyUriPath"],
        access_key_id=credential["AccessKeyId"],
        secret_access_key=credential["RawSecretAccessKey"],
        ca_bundle=ca_bundle,
        audit_log=audit_log,
        region=region,
        credentials_file=credentials_file,
        _process=process,
    )
    process.start()
    try:
        yield proxy
    finally:
        process.stop()
