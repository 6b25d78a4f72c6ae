"""External key stores through the KMS JSON protocol in process (decision 0090), against an
in-process XKS proxy (tests/support/xks_fake.py) that checks every signature with botocore:
the six actions' parameters, states and errors; keys of origin EXTERNAL_KEY_STORE; both
layers of their ciphertexts; each proxy failure as the KMS operation answers it; and SSE-KMS
refusing such keys."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from andromede.iam.model import Principal, PrincipalKind
from andromede.kms.customer_keys import Caller
from andromede.kms.errors import ExternalLayerNeeded, InvalidWrappedKey
from andromede.kms.keys_store import MemoryCustomerKeyStore
from andromede.kms.model import context_digest
from support.kmsapp import Harness, kms_harness
from support.xks_fake import ACCESS_KEY_ID, ENDPOINT, SECRET, URI_PATH

STORE = {
    "CustomKeyStoreName": "hsm-paris",
    "CustomKeyStoreType": "EXTERNAL_KEY_STORE",
    "XksProxyUriEndpoint": ENDPOINT,
    "XksProxyUriPath": URI_PATH,
    "XksProxyAuthenticationCredential": {
        "AccessKeyId": ACCESS_KEY_ID,
        "RawSecretAccessKey": SECRET,
    },
    "XksProxyConnectivity": "PUBLIC_ENDPOINT",
}


@pytest.fixture
async def kms(tmp_path: Path) -> AsyncIterator[Harness]:
    async for harness in kms_harness(tmp_path, MemoryCustomerKeyStore()):
        yield harness


async def ok(kms: Harness, action: str, params: dict[str, Any]) -> dict[str, Any]:
    reply = await kms.call(action, params)
    assert reply.status == 200, (action, reply.body)
    return reply.json() if reply.body else {}


async def error(kms: Harness, action: str, params: dict[str, Any]) -> str:
    reply = await kms.call(action, params)
    assert reply.status == 400, (action, reply.body)
    assert SECRET not in reply.body.decode()
    return reply.error_type


async def connected_store(kms: Harness) -> str:
    store_id = str((await ok(kms, "CreateCustomKeyStore", STORE))["CustomKeyStoreId"])
    await ok(kms, "ConnectCustomKeyStore", {"CustomKeyStoreId": store_id})
    return store_id


async def xks_key(kms: Harness, store_id: str, external: str = "key-1") -> dict[str, Any]:
    kms.xks.create_key(external)
    created = await ok(
        kms,
        "CreateKey",
        {"Origin": "EXTERNAL_KEY_STORE", "CustomKeyStoreId": store_id, "XksKeyId": external},
    )
    return dict(created["KeyMetadata"])


def describe(entry: dict[str, Any]) -> tuple[str, str | None]:
    return entry["ConnectionState"], entry.get("ConnectionErrorCode")


async def test_create_describe_and_the_health_check(kms: Harness) -> None:
    created = await ok(kms, "CreateCustomKeyStore", STORE)
    store_id = created["CustomKeyStoreId"]
    assert store_id.startswith("cks-") and len(store_id) == 21
    assert [c["kmsOperation"] for c in kms.xks.calls("GetHealthStatus")] == ["CreateCustomKeyStore"]
    listed = (await ok(kms, "DescribeCustomKeyStores", {}))["CustomKeyStores"]
    assert (
        listed
        == (await ok(kms, "DescribeCustomKeyStores", {"CustomKeyStoreName": "hsm-paris"}))[
            "CustomKeyStores"
        ]
    )
    (entry,) = listed
    assert entry["CustomKeyStoreType"] == "EXTERNAL_KEY_STORE"
    assert entry["ConnectionState"] == "DISCONNECTED"
    assert entry["XksProxyConfiguration"] == {
        "Connectivity": "PUBLIC_ENDPOINT",
        "AccessKeyId": ACCESS_KEY_ID,
        "UriEndpoint": ENDPOINT,
        "UriPath": URI_PATH,
    }
    assert SECRET not in str(listed)
    # Names and proxy URIs are unique in the account.
    assert await error(kms, "CreateCustomKeyStore", STORE) == "CustomKeyStoreNameInUseException"
    assert (
        await error(kms, "CreateCustomKeyStore", {**STORE, "CustomKeyStoreName": "other"})
        == "XksProxyUriInUseException"
    )
    for unknown in ({"CustomKeyStoreId": "cks-0123456789abcdef0"}, {"CustomKeyStoreName": "nope"}):
        assert await error(kms, "DescribeCustomKeyStores", unknown) == (
            "CustomKeyStoreNotFoundException"
        )


async def test_describe_pages_in_id_order(kms: Harness) -> None:
    made = []
    for n in range(3):
        params = {**STORE, "CustomKeyStoreName": f"s{n}", "XksProxyUriPath": f"/p{n}/kms/xks/v1"}
        kms.xks.uri_path = f"/p{n}/kms/xks/v1"
        made.append((await ok(kms, "CreateCustomKeyStore", params))["CustomKeyStoreId"])
    first = await ok(kms, "DescribeCustomKeyStores", {"Limit": 2})
    assert first["Truncated"] is True
    rest = await ok(kms, "DescribeCustomKeyStores", {"Limit": 2, "Marker": first["NextMarker"]})
    assert rest["Truncated"] is False and "NextMarker" not in rest
    seen = [s["CustomKeyStoreId"] for s in first["CustomKeyStores"] + rest["CustomKeyStores"]]
    assert seen == sorted(made)
    assert await error(kms, "DescribeCustomKeyStores", {"Marker": "junk"}) == (
        "InvalidMarkerException"
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"XksProxyUriEndpoint": "http://xks.example.com"}, "ValidationException"),
        ({"XksProxyUriEndpoint": "https://192.0.2.1"}, "ValidationException"),
        ({"XksProxyUriPath": "/kms/xks/v1/extra"}, "ValidationException"),
        ({"XksProxyConnectivity": "SOMETIMES"}, "ValidationException"),
        ({"XksProxyConnectivity": None}, "ValidationException"),
        ({"XksProxyAuthenticationCredential": {"AccessKeyId": "short"}}, "ValidationException"),
        (
            {
                "XksProxyAuthenticationCredential": {
                    "AccessKeyId": "A" * 20,
                    "RawSecretAccessKey": "x",
                }
            },
            "ValidationException",
        ),
        ({"CustomKeyStoreName": ""}, "ValidationException"),
        (
            {"CustomKeyStoreType": "AWS_CLOUDHSM", "CloudHsmClusterId": "cluster-234567abcdef"},
            "CloudHsmClusterNotFoundException",
        ),
        ({"CustomKeyStoreType": "AWS_CLOUDHSM"}, "ValidationException"),
        (
            {
                "XksProxyConnectivity": "VPC_ENDPOINT_SERVICE",
                "XksProxyVpcEndpointServiceName": "com.amazonaws.vpce.eu-west-1.vpce-svc-0abc",
            },
            "XksProxyVpcEndpointServiceNotFoundException",
        ),
        ({"XksProxyConnectivity": "VPC_ENDPOINT_SERVICE"}, "ValidationException"),
        ({"CloudHsmClusterId": "cluster-234567abcdef"}, "ValidationException"),
    ],
)
async def test_every_parameter_is_checked(
    kms: Harness, change: dict[str, Any], expected: str
) -> None:
    params = {k: v for k, v in {**STORE, **change}.items() if v is not None}
    assert await error(kms, "CreateCustomKeyStore", params) == expected
    assert (await ok(kms, "DescribeCustomKeyStores", {}))["CustomKeyStores"] == []


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        ("AuthenticationFailedException", "XksProxyIncorrectAuthenticationCredentialException"),
        ("InvalidUriPathException", "XksProxyInvalidConfigurationException"),
        ("ThrottlingException", "XksProxyUriUnreachableException"),
        ("InternalException", "XksProxyInvalidResponseException"),
        ("garbage", "XksProxyInvalidResponseException"),
        ("unavailable", "XksProxyUriUnreachableException"),
    ],
)
async def test_create_fails_with_awss_error_for_each_proxy_failure(
    kms: Harness, failure: str, expected: str
) -> None:
    if failure == "garbage":
        kms.xks.garbage = True
    elif failure == "unavailable":
        kms.xks.all_unavailable = True
    else:
        kms.xks.fail_with = failure
    assert await error(kms, "CreateCustomKeyStore", STORE) == expected
    assert (await ok(kms, "DescribeCustomKeyStores", {}))["CustomKeyStores"] == []


async def test_a_wrong_secret_is_refused_by_the_proxy(kms: Harness) -> None:
    wrong = {"AccessKeyId": ACCESS_KEY_ID, "RawSecretAccessKey": "b" * 44}
    assert (
        await error(
            kms, "CreateCustomKeyStore", {**STORE, "XksProxyAuthenticationCredential": wrong}
        )
        == "XksProxyIncorrectAuthenticationCredentialException"
    )


async def test_connect_disconnect_update_delete_follow_awss_states(kms: Harness) -> None:
    store_id = (await ok(kms, "CreateCustomKeyStore", STORE))["CustomKeyStoreId"]
    ref = {"CustomKeyStoreId": store_id}

    async def state() -> tuple[str, str | None]:
        return describe((await ok(kms, "DescribeCustomKeyStores", ref))["CustomKeyStores"][0])

    assert await error(kms, "DisconnectCustomKeyStore", ref) == (
        "CustomKeyStoreInvalidStateException"
    )
    kms.xks.fail_with = "AuthenticationFailedException"
    await ok(kms, "ConnectCustomKeyStore", ref)  # succeeds: the outcome is the state
    assert await state() == ("FAILED", "INVALID_CREDENTIALS")
    kms.xks.fail_with = None
    assert await error(kms, "ConnectCustomKeyStore", ref) == "CustomKeyStoreInvalidStateException"
    await ok(kms, "DisconnectCustomKeyStore", ref)
    await ok(kms, "ConnectCustomKeyStore", ref)
    assert await state() == ("CONNECTED", None)
    await ok(kms, "ConnectCustomKeyStore", ref)  # connected already: nothing to do
    assert [c["kmsOperation"] for c in kms.xks.calls("GetHealthStatus")][-2:] == [
        "ConnectCustomKeyStore",
        "ConnectCustomKeyStore",
    ]
    # Connected: the name, path and credential may change, not the endpoint.
    await ok(kms, "UpdateCustomKeyStore", {**ref, "NewCustomKeyStoreName": "renamed"})
    assert await error(
        kms, "UpdateCustomKeyStore", {**ref, "XksProxyUriEndpoint": "https://other.example.com"}
    ) == ("CustomKeyStoreInvalidStateException")
    assert await error(kms, "DeleteCustomKeyStore", ref) == "CustomKeyStoreInvalidStateException"
    await ok(kms, "DisconnectCustomKeyStore", ref)
    # Disconnected: an update that changes the proxy is checked against it first.
    kms.xks.fail_with = "InvalidUriPathException"
    assert await error(
        kms, "UpdateCustomKeyStore", {**ref, "XksProxyUriPath": "/elsewhere/kms/xks/v1"}
    ) == ("XksProxyInvalidConfigurationException")
    kms.xks.fail_with = None
    await ok(kms, "UpdateCustomKeyStore", {**ref, "XksProxyUriEndpoint": "https://b.example.com"})
    entry = (await ok(kms, "DescribeCustomKeyStores", ref))["CustomKeyStores"][0]
    assert (entry["CustomKeyStoreName"], entry["XksProxyConfiguration"]["UriEndpoint"]) == (
        "renamed",
        "https://b.example.com",
    )
    await ok(kms, "DeleteCustomKeyStore", ref)
    assert await error(kms, "DescribeCustomKeyStores", ref) == "CustomKeyStoreNotFoundException"


@pytest.mark.parametrize(
    ("failure", "code"),
    [
        ("AccessDeniedException", "XKS_PROXY_ACCESS_DENIED"),
        ("InvalidUriPathException", "XKS_PROXY_INVALID_CONFIGURATION"),
        ("ThrottlingException", "XKS_PROXY_NOT_REACHABLE"),
        ("InternalException", "XKS_PROXY_INVALID_RESPONSE"),
    ],
)
async def test_a_failed_connection_says_why(kms: Harness, failure: str, code: str) -> None:
    store_id = (await ok(kms, "CreateCustomKeyStore", STORE))["CustomKeyStoreId"]
    kms.xks.fail_with = failure
    await ok(kms, "ConnectCustomKeyStore", {"CustomKeyStoreId": store_id})
    entry = (await ok(kms, "DescribeCustomKeyStores", {}))["CustomKeyStores"][0]
    assert describe(entry) == ("FAILED", code)


async def test_an_xks_key_round_trips_through_both_layers(kms: Harness) -> None:
    store_id = await connected_store(kms)
    metadata = await xks_key(kms, store_id)
    assert metadata["Origin"] == "EXTERNAL_KEY_STORE"
    assert metadata["CustomKeyStoreId"] == store_id
    assert metadata["XksKeyConfiguration"] == {"Id": "key-1"}
    assert [c["kmsOperation"] for c in kms.xks.calls("GetKeyMetadata")] == ["CreateKey"]
    key_id, arn = metadata["KeyId"], metadata["Arn"]
    context = {"case": "42"}
    sealed = await ok(
        kms,
        "Encrypt",
        {
            "KeyId": key_id,
            "Plaintext": base64.b64encode(b"secret").decode(),
            "EncryptionContext": context,
        },
    )
    blob = base64.b64decode(sealed["CiphertextBlob"])
    assert blob[0] == 2
    opened = await ok(
        kms, "Decrypt", {"CiphertextBlob": sealed["CiphertextBlob"], "EncryptionContext": context}
    )
    assert base64.b64decode(opened["Plaintext"]) == b"secret"
    made = await ok(kms, "GenerateDataKey", {"KeyId": key_id, "KeySpec": "AES_256"})
    again = await ok(kms, "Decrypt", {"CiphertextBlob": made["CiphertextBlob"]})
    assert again["Plaintext"] == made["Plaintext"]
    await ok(kms, "GenerateDataKeyWithoutPlaintext", {"KeyId": key_id, "NumberOfBytes": 16})
    moved = await ok(
        kms,
        "ReEncrypt",
        {
            "CiphertextBlob": made["CiphertextBlob"],
            "DestinationKeyId": key_id,
        },
    )
    assert (await ok(kms, "Decrypt", {"CiphertextBlob": moved["CiphertextBlob"]}))["Plaintext"] == (
        made["Plaintext"]
    )
    operations = [(c["api"], c["kmsOperation"], c.get("kmsKeyArn")) for c in kms.xks.log[-8:]]
    assert operations == [
        ("Encrypt", "Encrypt", arn),
        ("Decrypt", "Decrypt", arn),
        ("Encrypt", "GenerateDataKey", arn),
        ("Decrypt", "Decrypt", arn),
        ("Encrypt", "GenerateDataKeyWithoutPlaintext", arn),
        ("Decrypt", "ReEncrypt", arn),
        ("Encrypt", "ReEncrypt", arn),
        ("Decrypt", "Decrypt", arn),
    ]
    assert all(c["awsPrincipalArn"].endswith(":root") and c["kmsRequestId"] for c in kms.xks.log)
    # Gateway side: every proxy call is reported for the audit trail.
    assert [c.operation for c in kms.xks_calls][-2:] == ["Encrypt", "Decrypt"]
    # A wrong context, or a tampered blob: InvalidCiphertextException, never other bytes.
    assert await error(
        kms, "Decrypt", {"CiphertextBlob": sealed["CiphertextBlob"], "EncryptionContext": {}}
    ) == ("InvalidCiphertextException")
    for index in (0, 5, 22, 40, 100, len(blob) - 1):
        tampered = bytearray(blob)
        tampered[index] ^= 1
        reply = await kms.call(
            "Decrypt",
            {"CiphertextBlob": base64.b64encode(tampered).decode(), "EncryptionContext": context},
        )
        assert reply.status == 400, index
        assert reply.error_type in ("InvalidCiphertextException", "NotFoundException"), index


async def test_xks_keys_refuse_what_aws_refuses(kms: Harness) -> None:
    store_id = await connected_store(kms)
    key_id = (await xks_key(kms, store_id))["KeyId"]
    for action, params in (
        ("EnableKeyRotation", {"KeyId": key_id}),
        ("RotateKeyOnDemand", {"KeyId": key_id}),
        (
            "GetParametersForImport",
            {
                "KeyId": key_id,
                "WrappingAlgorithm": "RSAES_OAEP_SHA_256",
                "WrappingKeySpec": "RSA_2048",
            },
        ),
    ):
        assert await error(kms, action, params) == "UnsupportedOperationException", action
    base = {"Origin": "EXTERNAL_KEY_STORE", "CustomKeyStoreId": store_id}
    assert await error(kms, "CreateKey", {**base, "XksKeyId": "key-1"}) == (
        "XksKeyAlreadyInUseException"
    )
    assert await error(kms, "CreateKey", {**base, "XksKeyId": "missing"}) == (
        "XksKeyNotFoundException"
    )
    kms.xks.create_key("off")
    kms.xks.disabled.add("off")
    assert await error(kms, "CreateKey", {**base, "XksKeyId": "off"}) == (
        "XksKeyInvalidConfigurationException"
    )
    assert await error(kms, "CreateKey", {**base, "XksKeyId": "k", "KeySpec": "RSA_2048"}) == (
        "UnsupportedOperationException"
    )
    assert await error(kms, "CreateKey", {**base, "XksKeyId": "k", "MultiRegion": True}) == (
        "UnsupportedOperationException"
    )
    assert await error(kms, "CreateKey", {"Origin": "EXTERNAL_KEY_STORE"}) == "ValidationException"
    assert await error(kms, "CreateKey", {"CustomKeyStoreId": store_id}) == "ValidationException"
    assert await error(
        kms, "CreateKey", {**base, "CustomKeyStoreId": "cks-0123456789abcdef0", "XksKeyId": "x"}
    ) == ("CustomKeyStoreNotFoundException")
    # A store that holds keys is not deleted.
    await ok(kms, "DisconnectCustomKeyStore", {"CustomKeyStoreId": store_id})
    assert await error(kms, "DeleteCustomKeyStore", {"CustomKeyStoreId": store_id}) == (
        "CustomKeyStoreHasCMKsException"
    )
    kms.xks.create_key("new")
    assert await error(kms, "CreateKey", {**base, "XksKeyId": "new"}) == (
        "CustomKeyStoreInvalidStateException"
    )


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        ("InvalidStateException", "KMSInvalidStateException"),
        ("KeyNotFoundException", "KMSInvalidStateException"),
        ("AccessDeniedException", "KMSInvalidStateException"),
        ("AuthenticationFailedException", "KMSInvalidStateException"),
        ("ThrottlingException", "KMSInvalidStateException"),
        ("InternalException", "KMSInvalidStateException"),
        ("InvalidCiphertextException", "InvalidCiphertextException"),
        ("garbage", "KMSInvalidStateException"),
        ("slow", "KMSInvalidStateException"),
    ],
)
async def test_each_proxy_failure_as_the_crypto_operations_answer_it(
    kms: Harness, failure: str, expected: str
) -> None:
    store_id = await connected_store(kms)
    key_id = (await xks_key(kms, store_id))["KeyId"]
    sealed = await ok(kms, "Encrypt", {"KeyId": key_id, "Plaintext": "aGk="})
    if failure == "garbage":
        kms.xks.garbage = True
    elif failure == "slow":
        kms.xks.delay = 1.5  # past the client's bound: twice its 0.5 s
    else:
        kms.xks.fail_with = failure
    assert await error(kms, "Decrypt", {"CiphertextBlob": sealed["CiphertextBlob"]}) == expected
    if failure != "InvalidCiphertextException":
        assert await error(kms, "Encrypt", {"KeyId": key_id, "Plaintext": "aGk="}) == expected


async def test_a_disconnected_store_makes_its_keys_unavailable(kms: Harness) -> None:
    store_id = await connected_store(kms)
    key_id = (await xks_key(kms, store_id))["KeyId"]
    sealed = await ok(kms, "Encrypt", {"KeyId": key_id, "Plaintext": "aGk="})
    await ok(kms, "DisconnectCustomKeyStore", {"CustomKeyStoreId": store_id})
    calls = len(kms.xks.log)
    reply = await kms.call("Decrypt", {"CiphertextBlob": sealed["CiphertextBlob"]})
    assert reply.error_type == "KMSInvalidStateException"
    assert "not connected" in reply.json()["message"]
    assert len(kms.xks.log) == calls  # nothing sent to a disconnected proxy
    described = (await ok(kms, "DescribeKey", {"KeyId": key_id}))["KeyMetadata"]
    assert (described["KeyState"], described["Enabled"]) == ("Unavailable", False)


async def test_deleting_the_external_key_shreds_and_so_does_deleting_the_kms_key(
    kms: Harness,
) -> None:
    store_id = await connected_store(kms)
    key_id = (await xks_key(kms, store_id))["KeyId"]
    sealed = await ok(kms, "Encrypt", {"KeyId": key_id, "Plaintext": "aGk="})
    held = kms.xks.keys.pop("key-1")
    assert await error(kms, "Decrypt", {"CiphertextBlob": sealed["CiphertextBlob"]}) == (
        "KMSInvalidStateException"
    )
    kms.xks.keys["key-1"] = held  # the customer restores the key: data comes back
    await ok(kms, "Decrypt", {"CiphertextBlob": sealed["CiphertextBlob"]})


async def test_sse_kms_and_ebs_take_a_key_of_an_external_key_store_in_two_layers(
    kms: Harness,
) -> None:
    """S3's and EC2's checks accept the key (decision 0094) and mark its ring in the key
    service, which from then on makes and opens its context-bound keys in two layers only
    (tests/unit/s3/test_sse_kms_xks.py covers the objects and volumes themselves)."""
    store_id = await connected_store(kms)
    metadata = await xks_key(kms, store_id)
    service = kms.app._keys  # the service the S3 and EC2 paths call
    arn = f"arn:aws:iam::{kms.tenant_id}:root"
    caller = Caller(
        kms.tenant_id, arn, Principal(kms.tenant_id, None, None, PrincipalKind.ROOT, arn)
    )
    bound = context_digest({"aws:s3:arn": "arn:aws:s3:::b/k"})
    fresh = service._keys.new_data_key(metadata["KeyId"], bound)  # not yet known as external
    assert fresh.wrapped[0] == 1
    found = await service.key_for_sse(caller, metadata["Arn"], {"aws:s3:arn": "arn:aws:s3:::b/k"})
    assert found.key_ring_id == metadata["KeyId"]
    assert (await service.key_for_service_use(metadata["Arn"])).arn == metadata["Arn"]
    with pytest.raises(ExternalLayerNeeded):
        service._keys.new_data_key(metadata["KeyId"], bound)
    service._keys._forget_ring(metadata["KeyId"])
    with pytest.raises(InvalidWrappedKey, match="two layers"):
        service._keys.unwrap_data_key(metadata["KeyId"], fresh.wrapped, bound)


async def test_a_one_layer_blob_naming_an_xks_key_is_refused(kms: Harness) -> None:
    """A format 1 blob for a key of an external key store would open with the ring alone."""
    store_id = await connected_store(kms)
    key_id = (await xks_key(kms, store_id))["KeyId"]
    sealed = base64.b64decode(
        (await ok(kms, "Encrypt", {"KeyId": key_id, "Plaintext": "aGk="}))["CiphertextBlob"]
    )
    one_layer = b"\x01" + sealed[1:]
    assert await error(
        kms, "Decrypt", {"CiphertextBlob": base64.b64encode(one_layer).decode()}
    ) in ("InvalidCiphertextException",)
