"""KMS external key stores end to end (decision 0090): a real ``andromede serve`` and a real
``andromede xks-proxy`` over a SoftHSM2 token (tests/support/xks.py), boto3 and the aws CLI.

The customer's HSM holds the external key; the gateway reaches the proxy on localhost because
the operator allows 127.0.0.0/8 (``xks_allowed_networks``) and trusts the proxy's CA
(``xks_ca_bundle``). Every use shows in the proxy's audit log; disabling or deleting the key in
the HSM, or stopping the proxy, makes KMS refuse with AWS's error at once; deleting the KMS key
destroys its ring on the operator's side, so a restored database copy decrypts nothing. S3
objects and EBS volumes under such keys: tests/e2e/test_s3_ebs_xks.py (decision 0094)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from e2e.clients import aws_cli
from e2e.test_kms_api import kms_client, new_tenant
from support.server import REGION, ServerProcess, free_port, running_server
from support.xks import RunningXksProxy, running_xks_proxy

pytestmark = pytest.mark.e2e


def server_env(proxy: RunningXksProxy) -> dict[str, str]:
    return {
        "ANDROMEDE_XKS_ALLOWED_NETWORKS": json.dumps(["127.0.0.0/8", "::1/128"]),
        "ANDROMEDE_XKS_CA_BUNDLE": str(proxy.ca_bundle),
        "ANDROMEDE_XKS_TIMEOUT": "2.0",
        "ANDROMEDE_KMS_UPKEEP_INTERVAL": "0.2",
    }


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningXksProxy]:
    with running_xks_proxy(tmp_path_factory.mktemp("xks-proxy"), region=REGION) as running:
        yield running


@pytest.fixture(scope="module")
def xks_server(
    tmp_path_factory: pytest.TempPathFactory, proxy: RunningXksProxy
) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("xks-kms") / "data"
    with running_server(data_dir, extra_env=server_env(proxy)) as server:
        yield server


@pytest.fixture
def kms(xks_server: ServerProcess) -> Any:
    return kms_client(xks_server, *xks_server.credentials())


@pytest.fixture(scope="module")
def store_id(xks_server: ServerProcess, proxy: RunningXksProxy) -> str:
    """The account's store of the proxy (one per proxy URI per account, as on AWS)."""
    return connected_store(kms_client(xks_server, *xks_server.credentials()), proxy, "hsm")


def store_parameters(proxy: RunningXksProxy, name: str) -> dict[str, Any]:
    return {
        "CustomKeyStoreName": name,
        "CustomKeyStoreType": "EXTERNAL_KEY_STORE",
        "XksProxyUriEndpoint": proxy.endpoint,
        "XksProxyUriPath": proxy.uri_path,
        "XksProxyAuthenticationCredential": {
            "AccessKeyId": proxy.access_key_id,
            "RawSecretAccessKey": proxy.secret_access_key,
        },
        "XksProxyConnectivity": "PUBLIC_ENDPOINT",
    }


def connected_store(kms: Any, proxy: RunningXksProxy, name: str) -> str:
    store_id = str(kms.create_custom_key_store(**store_parameters(proxy, name))["CustomKeyStoreId"])
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    (entry,) = kms.describe_custom_key_stores(CustomKeyStoreId=store_id)["CustomKeyStores"]
    assert entry["ConnectionState"] == "CONNECTED", entry
    return store_id


def xks_key(kms: Any, proxy: RunningXksProxy, store_id: str, label: str) -> tuple[str, str, str]:
    external = proxy.create_key(label)
    metadata = kms.create_key(
        Origin="EXTERNAL_KEY_STORE", CustomKeyStoreId=store_id, XksKeyId=external
    )["KeyMetadata"]
    return metadata["KeyId"], metadata["Arn"], external


def refused(call: Any, **kwargs: Any) -> ClientError:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    assert caught.value.response["ResponseMetadata"]["RequestId"]
    return caught.value


def code(error: ClientError) -> str:
    return str(error.response["Error"]["Code"])


def test_round_trip_with_every_use_in_the_proxys_log(
    kms: Any, proxy: RunningXksProxy, xks_server: ServerProcess, tmp_path: Path, store_id: str
) -> None:
    key_id, arn, external = xks_key(kms, proxy, store_id, "orders")
    described = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert (described["Origin"], described["CustomKeyStoreId"]) == ("EXTERNAL_KEY_STORE", store_id)
    assert described["XksKeyConfiguration"] == {"Id": external}
    context = {"order": "2026-0042"}
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"card data", EncryptionContext=context)[
        "CiphertextBlob"
    ]
    assert blob[0] == 2
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)["Plaintext"] == b"card data"
    made = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")
    assert kms.decrypt(CiphertextBlob=made["CiphertextBlob"])["Plaintext"] == made["Plaintext"]
    records = proxy.audit_records()
    uses = [
        (r["operation"], r.get("kmsOperation"), r.get("kmsKeyArn"), r["outcome"])
        for r in records
        if r.get("externalKeyId") == external
    ]
    assert uses == [
        ("GetKeyMetadata", "CreateKey", None, "success"),  # no ARN yet, as the spec says
        ("Encrypt", "Encrypt", arn, "success"),
        ("Decrypt", "Decrypt", arn, "success"),
        ("Encrypt", "GenerateDataKey", arn, "success"),
        ("Decrypt", "Decrypt", arn, "success"),
    ]
    assert all(
        r.get("awsPrincipalArn", "").endswith(":root") and r["requestId"]
        for r in records
        if r.get("externalKeyId") == external
    )
    assert any(r.get("kmsOperation") == "ConnectCustomKeyStore" for r in records)
    # The aws CLI sees the store as boto3 does, and never its secret.
    cli = aws_cli(xks_server, tmp_path)
    shown = json.loads(
        cli("kms", "describe-custom-key-stores", "--custom-key-store-id", store_id).stdout
    )["CustomKeyStores"][0]
    assert shown["XksProxyConfiguration"]["UriEndpoint"] == proxy.endpoint
    assert proxy.secret_access_key not in json.dumps(shown)


def test_the_customers_hsm_decides(kms: Any, proxy: RunningXksProxy, store_id: str) -> None:
    key_id, _, external = xks_key(kms, proxy, store_id, "decides")
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"payroll")["CiphertextBlob"]
    proxy.disable_key(external)
    assert code(refused(kms.decrypt, CiphertextBlob=blob)) == "KMSInvalidStateException"
    assert code(refused(kms.encrypt, KeyId=key_id, Plaintext=b"x")) == "KMSInvalidStateException"
    proxy.enable_key(external)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"payroll"
    proxy.delete_key(external)  # crypto-shredded by the customer
    error = refused(kms.decrypt, CiphertextBlob=blob)
    assert code(error) == "KMSInvalidStateException"
    assert "not found" in error.response["Error"]["Message"]


def test_a_stopped_proxy_fails_fast_then_comes_back(
    kms: Any, proxy: RunningXksProxy, store_id: str
) -> None:
    key_id, _, _ = xks_key(kms, proxy, store_id, "outage")
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    proxy.stop()
    try:
        started = time.monotonic()
        assert code(refused(kms.decrypt, CiphertextBlob=blob)) == "KMSInvalidStateException"
        assert time.monotonic() - started < 5.0  # no hang: the connection is refused
    finally:
        proxy.start()
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"


def test_another_tenant_sees_and_uses_nothing(
    kms: Any, proxy: RunningXksProxy, xks_server: ServerProcess, store_id: str
) -> None:
    key_id, arn, _ = xks_key(kms, proxy, store_id, "private")
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"mine")["CiphertextBlob"]
    _, intruder = new_tenant(xks_server)
    assert intruder.describe_custom_key_stores()["CustomKeyStores"] == []
    for call, kwargs in (
        (intruder.describe_custom_key_stores, {"CustomKeyStoreId": store_id}),
        (intruder.disconnect_custom_key_store, {"CustomKeyStoreId": store_id}),
        (intruder.delete_custom_key_store, {"CustomKeyStoreId": store_id}),
    ):
        assert code(refused(call, **kwargs)) == "CustomKeyStoreNotFoundException"
    external = proxy.create_key("stolen")
    assert code(
        refused(
            intruder.create_key,
            Origin="EXTERNAL_KEY_STORE",
            CustomKeyStoreId=store_id,
            XksKeyId=external,
        )
    ) == ("CustomKeyStoreNotFoundException")
    assert code(refused(intruder.decrypt, CiphertextBlob=blob)) == "NotFoundException"
    assert code(refused(intruder.encrypt, KeyId=arn, Plaintext=b"x")) == "NotFoundException"
    (entry,) = kms.describe_custom_key_stores(CustomKeyStoreId=store_id)["CustomKeyStores"]
    assert entry["ConnectionState"] == "CONNECTED"


def test_deleting_the_kms_key_destroys_its_ring(tmp_path: Path, proxy: RunningXksProxy) -> None:
    """Upkeep destroys an XKS key's ring as any key's: a database copy restored afterwards
    brings its metadata back, not its ring, so nothing decrypts — the external key still
    exists in the customer's HSM."""
    data_dir = tmp_path / "data"
    process = ServerProcess(data_dir=data_dir, port=free_port(), extra_env=server_env(proxy))
    process.start()
    try:
        kms = kms_client(process, *process.credentials())
        store_id = connected_store(kms, proxy, "shred-hsm")
        key_id, _, _ = xks_key(kms, proxy, store_id, "shred")
        blob = kms.encrypt(KeyId=key_id, Plaintext=b"confidential")["CiphertextBlob"]
        database = data_dir / "metadata.sqlite3"
        backup = tmp_path / "backup.sqlite3"
        with sqlite3.connect(database) as live, sqlite3.connect(backup) as copy:
            live.backup(copy)
        kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
        with sqlite3.connect(database) as live:
            live.execute("UPDATE kms_keys SET deletion_date = 0 WHERE key_id = ?", (key_id,))
        deadline = time.monotonic() + 20
        while True:
            try:
                kms.describe_key(KeyId=key_id)
            except ClientError as error:
                assert code(error) == "NotFoundException"
                break
            assert time.monotonic() < deadline, "the key was not destroyed"
            time.sleep(0.2)  # polling upkeep's outcome, not synchronising on a guess
        # The store is empty now: it may be deleted once disconnected.
        kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    finally:
        process.stop()
    for suffix in ("-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(backup, database)
    process.start()
    try:
        kms = kms_client(process, *process.credentials())
        assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
        assert code(refused(kms.decrypt, CiphertextBlob=blob)) == "NotFoundException"
    finally:
        process.stop()
