"""Mutual TLS between the gateway and an XKS proxy (decision 0101), end to end: a real
``andromede xks-proxy`` on SoftHSM2 requiring client certificates of a CA with a subject CN
(``tls_client_ca``, ``tls_client_subject``), real ``andromede serve`` processes with and
without a client certificate (``xks_client_cert``, ``xks_client_key``), boto3.

The spec (Authentication): a proxy supporting mTLS MUST let the customer configure the CA and
the subject name, and MUST end the connection of a client whose certificate has another; a
gateway refused that way gets AWS's answers: CreateCustomKeyStore
``XksProxyUriUnreachableException``, ConnectCustomKeyStore FAILED with a ConnectionErrorCode.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from e2e.test_kms_api import kms_client
from e2e.test_kms_xks import code, refused, server_env, store_parameters
from support.server import REGION, ServerProcess, running_server
from support.xks import RunningXksProxy, running_xks_proxy

pytestmark = pytest.mark.e2e

SUBJECT = f"cks.kms.{REGION}.andromede.test"


def identity(ca: trustme.CA, folder: Path, name: str, subject: str) -> tuple[Path, Path]:
    """A client certificate of ``ca`` with the subject CN ``subject``: (chain file, key file)."""
    issued = ca.issue_cert(subject, common_name=subject)
    certificate, key = folder / f"{name}.pem", folder / f"{name}-key.pem"
    issued.cert_chain_pems[0].write_to_path(str(certificate))
    issued.private_key_pem.write_to_path(str(key))
    key.chmod(0o600)
    return certificate, key


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("xks-pki")
    gateways, other = trustme.CA(), trustme.CA()
    gateways_pem, other_pem = folder / "gateways-ca.pem", folder / "other-ca.pem"
    gateways.cert_pem.write_to_path(str(gateways_pem))
    other.cert_pem.write_to_path(str(other_pem))
    return {
        "gateways_ca": gateways_pem,
        "other_ca": other_pem,
        "gateway": identity(gateways, folder, "gateway", SUBJECT),
        "probe_other_ca": identity(other, folder, "probe-other", SUBJECT),
        "probe_other_subject": identity(gateways, folder, "probe-subject", "someone.test"),
    }


@pytest.fixture(scope="module")
def proxy(
    tmp_path_factory: pytest.TempPathFactory, pki: dict[str, Any]
) -> Iterator[RunningXksProxy]:
    with running_xks_proxy(tmp_path_factory.mktemp("xks-proxy"), region=REGION) as running:
        running.require_client_certificates(pki["gateways_ca"], SUBJECT, pki["gateway"])
        yield running


@pytest.fixture(scope="module")
def with_certificate(
    tmp_path_factory: pytest.TempPathFactory, proxy: RunningXksProxy, pki: dict[str, Any]
) -> Iterator[ServerProcess]:
    certificate, key = pki["gateway"]
    env = {
        **server_env(proxy),
        "ANDROMEDE_WORKERS": "1",
        "ANDROMEDE_XKS_CLIENT_CERT": str(certificate),
        "ANDROMEDE_XKS_CLIENT_KEY": str(key),
    }
    with running_server(tmp_path_factory.mktemp("mtls") / "data", extra_env=env) as server:
        yield server


@pytest.fixture(scope="module")
def without_certificate(
    tmp_path_factory: pytest.TempPathFactory, proxy: RunningXksProxy
) -> Iterator[ServerProcess]:
    env = {**server_env(proxy), "ANDROMEDE_WORKERS": "1"}
    with running_server(tmp_path_factory.mktemp("no-mtls") / "data", extra_env=env) as server:
        yield server


def _state(kms: Any, store_id: str) -> dict[str, Any]:
    (entry,) = kms.describe_custom_key_stores(CustomKeyStoreId=store_id)["CustomKeyStores"]
    return dict(entry)


def test_a_gateway_without_a_client_certificate_is_refused(
    without_certificate: ServerProcess, proxy: RunningXksProxy
) -> None:
    kms = kms_client(without_certificate, *without_certificate.credentials())
    error = refused(kms.create_custom_key_store, **store_parameters(proxy, "no-certificate"))
    assert code(error) == "XksProxyUriUnreachableException"
    assert kms.describe_custom_key_stores()["CustomKeyStores"] == []
    # Nothing reached the proxy's API: the connection ended before any request.
    assert not [r for r in proxy.audit_records() if r.get("operation") == "GetHealthStatus"]


def test_with_its_certificate_everything_works_and_another_ca_or_subject_is_refused(
    with_certificate: ServerProcess, proxy: RunningXksProxy, pki: dict[str, Any]
) -> None:
    kms = kms_client(with_certificate, *with_certificate.credentials())
    store_id = str(
        kms.create_custom_key_store(**store_parameters(proxy, "mtls"))["CustomKeyStoreId"]
    )
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    assert _state(kms, store_id)["ConnectionState"] == "CONNECTED"
    external = proxy.create_key(f"mtls-{uuid.uuid4().hex[:6]}")
    key_id = kms.create_key(
        Origin="EXTERNAL_KEY_STORE", CustomKeyStoreId=store_id, XksKeyId=external
    )["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"over mutual TLS")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"over mutual TLS"
    kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)

    # The proxy now trusts another CA: the gateway's certificate is refused in the handshake.
    proxy.require_client_certificates(pki["other_ca"], SUBJECT, pki["probe_other_ca"])
    try:
        kms.connect_custom_key_store(CustomKeyStoreId=store_id)
        state = _state(kms, store_id)
        assert state["ConnectionState"] == "FAILED"
        assert state["ConnectionErrorCode"] == "XKS_PROXY_INVALID_TLS_CONFIGURATION"
        error = refused(kms.create_custom_key_store, **store_parameters(proxy, "other-ca"))
        assert code(error) == "XksProxyUriUnreachableException"
        kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)

        # The right CA, but the proxy wants another subject: the connection is ended as the
        # handshake completes, before a request is read.
        proxy.require_client_certificates(
            pki["gateways_ca"], "someone.test", pki["probe_other_subject"]
        )
        kms.connect_custom_key_store(CustomKeyStoreId=store_id)
        state = _state(kms, store_id)
        assert state["ConnectionState"] == "FAILED"
        assert state["ConnectionErrorCode"] == "XKS_PROXY_INVALID_TLS_CONFIGURATION"
        kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    finally:
        proxy.require_client_certificates(pki["gateways_ca"], SUBJECT, pki["gateway"])
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    assert _state(kms, store_id)["ConnectionState"] == "CONNECTED"
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"over mutual TLS"
