"""Fixtures for the end-to-end suite: real clients (boto3, aws CLI, rclone, s3cmd, Chromium)
against the session's real ``andromede serve``.

Every test gets its own bucket (a uuid name) so the suite runs in any order and in parallel under
pytest-xdist; each xdist worker has its own server (the ``server`` session fixture). A failing
test's report carries the part of every server's log written while it ran (tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import trustme

from e2e.helpers import (
    MakeFile,
    Payload,
    TlsServer,
    boto3_client,
    client_binary,
    create_bucket,
    empty_and_delete_bucket,
    unique_bucket,
    write_random,
)
from e2e.terraform_kit import AttachedProvider, Terraform, attached_provider_running
from support.console_browser import chromium
from support.server import ServerProcess, running_server

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@pytest.fixture
def s3(server: ServerProcess) -> S3Client:
    return boto3_client(server)


@pytest.fixture
def bucket(s3: S3Client) -> Iterator[str]:
    """A fresh empty bucket, emptied and deleted after the test."""
    name = unique_bucket()
    create_bucket(s3, name)
    yield name
    empty_and_delete_bucket(s3, name)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for a module's console flows (tests/support/console_browser.py)."""
    with chromium() as launched:
        yield launched


@pytest.fixture
def make_file(tmp_path: Path) -> MakeFile:
    """``make_file(relative_name, size)`` writes random bytes under the test's tmp folder."""

    def make(name: str, size: int) -> Payload:
        return write_random(tmp_path / "payload" / name, size)

    return make


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    root = tmp_path_factory.mktemp("andromede-tls")
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    ca_pem = root / "ca.pem"
    cert_pem = root / "server-chain.pem"
    key_pem = root / "server-key.pem"
    ca.cert_pem.write_to_path(str(ca_pem))
    leaf.private_key_pem.write_to_path(str(key_pem))
    cert_pem.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    key_pem.chmod(0o600)
    with running_server(
        root / "data",
        scheme="https",
        extra_args=["--tls-cert", str(cert_pem), "--tls-key", str(key_pem)],
    ) as process:
        yield TlsServer(process=process, ca_pem=ca_pem)


@pytest.fixture(scope="module")
def attached_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AttachedProvider]:
    """The Terraform provider a module's ``terraform`` commands attach to
    (tests/e2e/terraform_kit.py)."""
    with attached_provider_running(tmp_path_factory) as provider:
        yield provider


@pytest.fixture
def terraform(tmp_path: Path, attached_provider: AttachedProvider) -> Terraform:
    """``terraform`` from PATH, run in the test's own folder, attached to the module's provider."""
    return Terraform(client_binary("terraform", in_venv=False), tmp_path, attached_provider)
