"""The KMS JSON protocol in process: KmsApp over the in-memory identity and key stores, a real
key-file provider, requests signed with botocore's SigV4 for service ``kms``."""

from __future__ import annotations

import base64
import os
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from botocore.credentials import Credentials
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from andromede.audit.model import Outcome
from andromede.kms.keys_model import CustomerKey
from andromede.kms.keys_store import MemoryCustomerKeyStore
from andromede.kmsapi.app import CONTENT_TYPE
from support.kmsapp import Harness, kms_harness


class BrokenStore(MemoryCustomerKeyStore):
    async def get_key(self, key_id: str) -> CustomerKey | None:
        raise RuntimeError("secret detail: /var/lib/andromede/keys")


@pytest.fixture
async def kms(tmp_path: Path) -> AsyncIterator[Harness]:
    async for harness in kms_harness(tmp_path, MemoryCustomerKeyStore()):
        yield harness


async def test_round_trip_and_answer_shapes(kms: Harness) -> None:
    created = await kms.call("CreateKey", {"Description": "in process"})
    assert created.status == 200
    metadata = created.json()["KeyMetadata"]
    assert isinstance(metadata["CreationDate"], float)
    assert metadata["AWSAccountId"] == kms.tenant_id
    encrypted = await kms.call(
        "Encrypt",
        {
            "KeyId": metadata["KeyId"],
            "Plaintext": base64.b64encode(b"hi").decode(),
            "EncryptionContext": {"k": "v"},
        },
    )
    answer = encrypted.json()
    assert answer["KeyId"] == metadata["Arn"]
    decrypted = await kms.call(
        "Decrypt", {"CiphertextBlob": answer["CiphertextBlob"], "EncryptionContext": {"k": "v"}}
    )
    assert base64.b64decode(decrypted.json()["Plaintext"]) == b"hi"
    disabled = await kms.call("DisableKey", {"KeyId": metadata["KeyId"]})
    assert (disabled.status, disabled.body) == (200, b"")


@pytest.mark.parametrize(
    ("action", "payload", "content_type", "error_type"),
    [
        ("Nope", {}, CONTENT_TYPE, "UnknownOperationException"),
        ("ListKeys", b"{", CONTENT_TYPE, "SerializationException"),
        ("ListKeys", b'"text"', CONTENT_TYPE, "SerializationException"),
        ("ListKeys", b"\xff\xfe", CONTENT_TYPE, "SerializationException"),
        ("ListKeys", {}, "application/json", "SerializationException"),
        ("ListKeys", {"Limit": 0}, CONTENT_TYPE, "ValidationException"),
        ("ListKeys", {"Limit": "10"}, CONTENT_TYPE, "SerializationException"),
        ("ListKeys", {"Marker": "not-a-marker"}, CONTENT_TYPE, "InvalidMarkerException"),
        ("ListKeyRotations", {"KeyId": "a", "Marker": "x1"}, CONTENT_TYPE,
         "InvalidMarkerException"),
        ("ListKeyRotations", {"KeyId": "a", "Marker": "9" * 19}, CONTENT_TYPE,
         "InvalidMarkerException"),
        ("ListKeyRotations", {"KeyId": "a", "Limit": 1001}, CONTENT_TYPE,
         "ValidationException"),
        ("ListKeyRotations", {}, CONTENT_TYPE, "ValidationException"),
        ("Sign", {"KeyId": "a", "Message": "aGk=", "SigningAlgorithm": "MD5"}, CONTENT_TYPE,
         "ValidationException"),
        ("Sign", {"KeyId": "a", "Message": "aGk=", "SigningAlgorithm": "ECDSA_SHA_256",
                  "MessageType": "EXTERNAL_MU"}, CONTENT_TYPE, "ValidationException"),
        ("Verify", {"KeyId": "a", "Message": "aGk=", "SigningAlgorithm": "ECDSA_SHA_256"},
         CONTENT_TYPE, "ValidationException"),
        ("CreateKey", {"KeySpec": "HMAC_256", "KeyUsage": "SIGN_VERIFY"}, CONTENT_TYPE,
         "ValidationException"),
        ("GenerateMac", {"KeyId": "a", "Message": "aGk=", "MacAlgorithm": "HMAC_MD5"},
         CONTENT_TYPE, "ValidationException"),
        ("DescribeKey", {}, CONTENT_TYPE, "ValidationException"),
        ("DescribeKey", {"KeyId": "bogus"}, CONTENT_TYPE, "NotFoundException"),
        ("DescribeKey", {"KeyId": "arn:aws:kms:x"}, CONTENT_TYPE, "InvalidArnException"),
        ("Encrypt", {"KeyId": "alias/x", "Plaintext": "!!"}, CONTENT_TYPE,
         "SerializationException"),
        ("Decrypt", {"CiphertextBlob": "AAAA"}, CONTENT_TYPE, "InvalidCiphertextException"),
        ("Decrypt", {"CiphertextBlob": "", "KeyId": "x"}, CONTENT_TYPE, "ValidationException"),
        ("Encrypt", {"KeyId": "a", "Plaintext": "AA==", "EncryptionContext": {"a": 1}},
         CONTENT_TYPE, "SerializationException"),
        ("GenerateDataKey", {"KeyId": "a", "KeySpec": "AES_512"}, CONTENT_TYPE,
         "ValidationException"),
        ("GenerateDataKey", {"KeyId": "a", "KeySpec": "AES_256", "NumberOfBytes": 32},
         CONTENT_TYPE, "ValidationException"),
        ("GenerateRandom", {}, CONTENT_TYPE, "ValidationException"),
        ("CreateKey", {"Origin": "AWS_CLOUDHSM"}, CONTENT_TYPE, "UnsupportedOperationException"),
        ("CreateKey", {"Origin": "ELSEWHERE"}, CONTENT_TYPE, "ValidationException"),
        ("GetParametersForImport", {"KeyId": "a", "WrappingAlgorithm": "ROT13",
                                    "WrappingKeySpec": "RSA_2048"}, CONTENT_TYPE,
         "ValidationException"),
        ("ImportKeyMaterial", {"KeyId": "a", "ImportToken": "aGk=",
                               "EncryptedKeyMaterial": "aGk=", "KeyMaterialId": "ABC"},
         CONTENT_TYPE, "ValidationException"),
        ("ImportKeyMaterial", {"KeyId": "a", "ImportToken": "aGk=",
                               "EncryptedKeyMaterial": "aGk=", "ValidTo": "tomorrow"},
         CONTENT_TYPE, "SerializationException"),
        ("ImportKeyMaterial", {"KeyId": "a", "ImportToken": "aGk=",
                               "EncryptedKeyMaterial": "aGk=", "ImportType": "ROTATE"},
         CONTENT_TYPE, "ValidationException"),
        ("ImportKeyMaterial", {"KeyId": "a", "ImportToken": "aGk=",
                               "EncryptedKeyMaterial": "aGk=", "KeyMaterialDescription": "a;b"},
         CONTENT_TYPE, "ValidationException"),
        ("ImportKeyMaterial", {"KeyId": "a", "ImportToken": "aGk=",
                               "EncryptedKeyMaterial": "aGk=", "KeyMaterialDescription": "x" * 257},
         CONTENT_TYPE, "ValidationException"),
        ("CreateKey", {"Tags": [{"TagKey": 1}]}, CONTENT_TYPE, "SerializationException"),
        ("ScheduleKeyDeletion", {"KeyId": "a", "PendingWindowInDays": True}, CONTENT_TYPE,
         "SerializationException"),
    ],
)  # fmt: skip
async def test_bad_requests_get_kms_errors(
    kms: Harness, action: str, payload: Any, content_type: str, error_type: str
) -> None:
    reply = await kms.call(action, payload, content_type=content_type)
    assert (reply.status, reply.error_type) == (400, error_type)


async def test_unsigned_requests_need_authentication(kms: Harness) -> None:
    reply = await kms.call("ListKeys", {}, sign=False)
    assert (reply.status, reply.error_type) == (400, "MissingAuthenticationTokenException")


async def test_a_wrong_secret_is_an_invalid_signature(kms: Harness) -> None:
    assert kms.credentials is not None
    kms.credentials = Credentials(kms.credentials.access_key, "x" * 40)
    reply = await kms.call("ListKeys", {})
    assert reply.error_type == "InvalidSignatureException"


async def test_an_unknown_key_id_is_unrecognised(kms: Harness) -> None:
    kms.credentials = Credentials("AKIAAAAAAAAAAAAAAAAA", "x" * 40)
    reply = await kms.call("ListKeys", {})
    assert reply.error_type == "UnrecognizedClientException"


async def test_a_body_over_the_limit_is_refused(kms: Harness) -> None:
    reply = await kms.call("ListKeys", b"{" + b" " * 70_000 + b"}")
    assert (reply.status, reply.error_type) == (413, "RequestEntityTooLarge")
    assert reply.headers["connection"] == "close"


async def test_an_unexpected_error_is_an_internal_error_without_detail(tmp_path: Path) -> None:
    async for harness in kms_harness(tmp_path, BrokenStore()):
        reply = await harness.call("DescribeKey", {"KeyId": str(uuid.uuid4())})
        assert (reply.status, reply.error_type) == (500, "KMSInternalException")
        assert b"secret" not in reply.body and b"/var/lib" not in reply.body


async def test_every_call_is_audited_with_the_key_arn(kms: Harness) -> None:
    created = (await kms.call("CreateKey", {})).json()["KeyMetadata"]
    await kms.call("Encrypt", {"KeyId": created["KeyId"], "Plaintext": "aGk="})
    await kms.call("DisableKey", {"KeyId": created["KeyId"]})
    await kms.call("Encrypt", {"KeyId": created["KeyId"], "Plaintext": "aGk="})
    await kms.call("DescribeKey", {"KeyId": "alias/missing"})
    await kms.audit.flush()
    events = [
        (e.action, e.resource, e.outcome, e.details.get("error"))
        for _, e in await kms.audit_store.list_events(None, after_id=0, limit=100)
    ]
    arn = created["Arn"]
    assert events == [
        ("kms:CreateKey", arn, Outcome.SUCCESS, None),
        ("kms:Encrypt", arn, Outcome.SUCCESS, None),
        ("kms:DisableKey", arn, Outcome.SUCCESS, None),
        ("kms:Encrypt", arn, Outcome.FAILURE, "DisabledException"),
        ("kms:DescribeKey", "*", Outcome.FAILURE, "NotFoundException"),
    ]


async def test_signing_macs_and_grants_are_audited_with_the_key_arn(kms: Harness) -> None:
    signing = await kms.call("CreateKey", {"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"})
    signing_arn = signing.json()["KeyMetadata"]["Arn"]
    hmac_key = await kms.call(
        "CreateKey", {"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"}
    )
    hmac_arn = hmac_key.json()["KeyMetadata"]["Arn"]
    root = f"arn:aws:iam::{kms.tenant_id}:root"
    calls: list[tuple[str, dict[str, Any]]] = [
        ("Sign", {"KeyId": signing_arn, "Message": "aGk=", "SigningAlgorithm": "ECDSA_SHA_256"}),
        ("GetPublicKey", {"KeyId": signing_arn}),
        ("GenerateMac", {"KeyId": hmac_arn, "Message": "aGk=", "MacAlgorithm": "HMAC_SHA_256"}),
        ("CreateGrant", {"KeyId": signing_arn, "GranteePrincipal": root, "Operations": ["Sign"]}),
    ]
    for action, params in calls:
        reply = await kms.call(action, params)
        assert reply.status == 200, (action, reply.body)
    token = reply.json()["GrantToken"]
    assert (await kms.call("RetireGrant", {"GrantToken": token})).status == 200
    await kms.audit.flush()
    events = {
        (e.action, e.resource, e.outcome)
        for _, e in await kms.audit_store.list_events(None, after_id=0, limit=100)
    }
    for action, arn in (
        ("kms:Sign", signing_arn),
        ("kms:GetPublicKey", signing_arn),
        ("kms:GenerateMac", hmac_arn),
        ("kms:CreateGrant", signing_arn),
        ("kms:RetireGrant", signing_arn),
    ):
        assert (action, arn, Outcome.SUCCESS) in events, action


async def test_importing_and_deleting_key_material_is_audited_with_the_key_arn(
    kms: Harness,
) -> None:
    created = (await kms.call("CreateKey", {"Origin": "EXTERNAL"})).json()["KeyMetadata"]
    assert (created["Origin"], created["KeyState"]) == ("EXTERNAL", "PendingImport")
    arn = created["Arn"]
    answer = await kms.call(
        "GetParametersForImport",
        {"KeyId": arn, "WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"},
    )
    params = answer.json()
    assert params["KeyId"] == arn and params["ParametersValidTo"] > 0
    public = serialization.load_der_public_key(base64.b64decode(params["PublicKey"]))
    assert isinstance(public, rsa.RSAPublicKey)
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    encrypted = public.encrypt(os.urandom(32), oaep)
    imported = await kms.call(
        "ImportKeyMaterial",
        {
            "KeyId": arn,
            "ImportToken": params["ImportToken"],
            "EncryptedKeyMaterial": base64.b64encode(encrypted).decode(),
            "ExpirationModel": "KEY_MATERIAL_EXPIRES",
            "ValidTo": time.time() + 86_400,
        },
    )
    assert imported.status == 200, imported.body
    material_id = imported.json()["KeyMaterialId"]
    described = (await kms.call("DescribeKey", {"KeyId": arn})).json()["KeyMetadata"]
    assert described["KeyState"] == "Enabled"
    assert described["ExpirationModel"] == "KEY_MATERIAL_EXPIRES" and described["ValidTo"] > 0
    assert described["CurrentKeyMaterialId"] == material_id
    deleted = await kms.call("DeleteImportedKeyMaterial", {"KeyId": arn})
    assert deleted.json() == {"KeyId": arn, "KeyMaterialId": material_id}
    await kms.audit.flush()
    events = {
        (e.action, e.resource, e.outcome)
        for _, e in await kms.audit_store.list_events(None, after_id=0, limit=100)
    }
    for action in ("GetParametersForImport", "ImportKeyMaterial", "DeleteImportedKeyMaterial"):
        assert (f"kms:{action}", arn, Outcome.SUCCESS) in events, action


async def test_dry_run_checks_everything_and_does_nothing(kms: Harness) -> None:
    key = (await kms.call("CreateKey", {})).json()["KeyMetadata"]["Arn"]
    signing = await kms.call("CreateKey", {"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"})
    signing_arn = signing.json()["KeyMetadata"]["Arn"]
    hmac_key = await kms.call(
        "CreateKey", {"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"}
    )
    hmac_arn = hmac_key.json()["KeyMetadata"]["Arn"]
    blob = (await kms.call("Encrypt", {"KeyId": key, "Plaintext": "aGk="})).json()
    signature = (
        await kms.call(
            "Sign", {"KeyId": signing_arn, "Message": "aGk=", "SigningAlgorithm": "ECDSA_SHA_256"}
        )
    ).json()["Signature"]
    mac = (
        await kms.call(
            "GenerateMac", {"KeyId": hmac_arn, "Message": "aGk=", "MacAlgorithm": "HMAC_SHA_256"}
        )
    ).json()["Mac"]
    root = f"arn:aws:iam::{kms.tenant_id}:root"
    grant = await kms.call(
        "CreateGrant", {"KeyId": key, "GranteePrincipal": root, "Operations": ["Decrypt"]}
    )
    grant_id = grant.json()["GrantId"]
    calls: list[tuple[str, dict[str, Any]]] = [
        ("Encrypt", {"KeyId": key, "Plaintext": "aGk="}),
        ("Decrypt", {"CiphertextBlob": blob["CiphertextBlob"]}),
        ("ReEncrypt", {"CiphertextBlob": blob["CiphertextBlob"], "DestinationKeyId": key}),
        ("GenerateDataKey", {"KeyId": key, "KeySpec": "AES_256"}),
        ("GenerateDataKeyWithoutPlaintext", {"KeyId": key, "KeySpec": "AES_256"}),
        ("GenerateDataKeyPair", {"KeyId": key, "KeyPairSpec": "ECC_NIST_P256"}),
        ("GenerateDataKeyPairWithoutPlaintext", {"KeyId": key, "KeyPairSpec": "ECC_NIST_P256"}),
        ("Sign", {"KeyId": signing_arn, "Message": "aGk=", "SigningAlgorithm": "ECDSA_SHA_256"}),
        ("Verify", {"KeyId": signing_arn, "Message": "aGk=", "Signature": signature,
                    "SigningAlgorithm": "ECDSA_SHA_256"}),
        ("GenerateMac", {"KeyId": hmac_arn, "Message": "aGk=", "MacAlgorithm": "HMAC_SHA_256"}),
        ("VerifyMac", {"KeyId": hmac_arn, "Message": "aGk=", "Mac": mac,
                       "MacAlgorithm": "HMAC_SHA_256"}),
        ("CreateGrant", {"KeyId": key, "GranteePrincipal": root, "Operations": ["Encrypt"]}),
        ("RetireGrant", {"GrantToken": grant_id}),
        ("RevokeGrant", {"KeyId": key, "GrantId": grant_id}),
    ]  # fmt: skip
    for action, params in calls:
        reply = await kms.call(action, {**params, "DryRun": True})
        assert (reply.status, reply.error_type) == (400, "DryRunOperationException"), action
        assert "Plaintext" not in reply.body.decode()
    grants = (await kms.call("ListGrants", {"KeyId": key})).json()["Grants"]
    assert [g["GrantId"] for g in grants] == [grant_id]  # none made, none retired or revoked
    # A dry run that would fail fails as the call would.
    await kms.call("DisableKey", {"KeyId": key})
    reply = await kms.call("Encrypt", {"KeyId": key, "Plaintext": "aGk=", "DryRun": True})
    assert reply.error_type == "DisabledException"
    reply = await kms.call("RevokeGrant", {"KeyId": key, "GrantId": "0" * 64, "DryRun": True})
    assert reply.error_type == "NotFoundException"  # no such grant


async def test_dry_run_ignoring_the_ciphertext_checks_permissions_and_keys_only(
    kms: Harness,
) -> None:
    key = (await kms.call("CreateKey", {})).json()["KeyMetadata"]["Arn"]
    other = (await kms.call("CreateKey", {})).json()["KeyMetadata"]["Arn"]
    garbage = base64.b64encode(b"not a ciphertext at all").decode()
    ignoring = {"DryRun": True, "DryRunModifiers": ["IGNORE_CIPHERTEXT"]}
    reply = await kms.call("Decrypt", {"CiphertextBlob": garbage, "KeyId": key, **ignoring})
    assert reply.error_type == "DryRunOperationException"
    reply = await kms.call(
        "ReEncrypt",
        {"CiphertextBlob": garbage, "SourceKeyId": key, "DestinationKeyId": other, **ignoring},
    )
    assert reply.error_type == "DryRunOperationException"
    # The key must be named; the modifier does nothing without DryRun.
    reply = await kms.call("Decrypt", {"CiphertextBlob": garbage, **ignoring})
    assert reply.error_type == "ValidationException"
    reply = await kms.call(
        "ReEncrypt", {"CiphertextBlob": garbage, "DestinationKeyId": other, **ignoring}
    )
    assert reply.error_type == "ValidationException"
    reply = await kms.call(
        "Decrypt",
        {"CiphertextBlob": garbage, "KeyId": key, "DryRunModifiers": ["IGNORE_CIPHERTEXT"]},
    )
    assert reply.error_type == "InvalidCiphertextException"
    for modifiers in (["IGNORE_EVERYTHING"], [], ["IGNORE_CIPHERTEXT", "IGNORE_CIPHERTEXT"]):
        reply = await kms.call(
            "Decrypt",
            {"CiphertextBlob": garbage, "KeyId": key, "DryRun": True, "DryRunModifiers": modifiers},
        )
        assert reply.error_type == "ValidationException", modifiers
    # What the real call would refuse, the dry run refuses: a disabled key, another tenant.
    intruder = await kms.other_tenant("intruder")
    reply = await intruder.call("Decrypt", {"CiphertextBlob": garbage, "KeyId": key, **ignoring})
    assert reply.error_type in ("NotFoundException", "AccessDeniedException")
    await kms.call("DisableKey", {"KeyId": other})
    reply = await kms.call(
        "ReEncrypt",
        {"CiphertextBlob": garbage, "SourceKeyId": key, "DestinationKeyId": other, **ignoring},
    )
    assert reply.error_type == "DisabledException"


async def test_parameters_for_what_is_not_here_get_a_clear_answer(kms: Harness) -> None:
    key = (await kms.call("CreateKey", {})).json()["KeyMetadata"]
    root = f"arn:aws:iam::{kms.tenant_id}:root"
    # ListKeys: there is no RAM, so nothing is shared through it.
    own = [k["KeyId"] for k in (await kms.call("ListKeys", {})).json()["Keys"]]
    assert own == [key["KeyId"]]
    for owners, listed in (
        (["SELF"], own),
        (["OTHER_ACCOUNTS_VIA_RAM", "SELF"], own),
        (["OTHER_ACCOUNTS_VIA_RAM"], []),
    ):
        reply = await kms.call("ListKeys", {"ResourceOwners": owners})
        assert [k["KeyId"] for k in reply.json()["Keys"]] == listed, owners
    for owners in ([], ["EVERYONE"], ["SELF", "SELF"], "SELF"):
        reply = await kms.call("ListKeys", {"ResourceOwners": owners})
        assert reply.status == 400 and reply.error_type, owners
    # Grants for AWS service principals: refused, never taken for another principal.
    for action, params in (
        ("CreateGrant", {"KeyId": key["Arn"], "GranteePrincipal": root, "Operations": ["Decrypt"],
                         "GranteeServicePrincipal": "s3.amazonaws.com"}),
        ("CreateGrant", {"KeyId": key["Arn"], "GranteePrincipal": root, "Operations": ["Decrypt"],
                         "RetiringServicePrincipal": "s3.amazonaws.com"}),
        ("ListGrants", {"KeyId": key["Arn"], "GranteeServicePrincipal": "s3.amazonaws.com"}),
        ("ListRetirableGrants", {"RetiringPrincipal": root,
                                 "RetiringServicePrincipal": "s3.amazonaws.com"}),
    ):  # fmt: skip
        reply = await kms.call(action, params)
        assert reply.error_type == "UnsupportedOperationException", action
    assert (await kms.call("ListGrants", {"KeyId": key["Arn"]})).json()["Grants"] == []
    # ListKeyRotations: the rotations by default; every material, the first one too.
    await kms.call("RotateKeyOnDemand", {"KeyId": key["Arn"]})
    reply = await kms.call(
        "ListKeyRotations", {"KeyId": key["Arn"], "IncludeKeyMaterial": "ROTATIONS_ONLY"}
    )
    assert len(reply.json()["Rotations"]) == 1
    reply = await kms.call(
        "ListKeyRotations", {"KeyId": key["Arn"], "IncludeKeyMaterial": "ALL_KEY_MATERIAL"}
    )
    first, rotated = reply.json()["Rotations"]
    assert "RotationDate" not in first and first["KeyMaterialState"] == "NON_CURRENT"
    assert (rotated["KeyMaterialState"], rotated["RotationType"]) == ("CURRENT", "ON_DEMAND")
    reply = await kms.call("ListKeyRotations", {"KeyId": key["Arn"], "IncludeKeyMaterial": "SOME"})
    assert reply.error_type == "ValidationException"


async def test_aws_algorithms_and_specs_not_offered_here_say_so(kms: Harness) -> None:
    key = (await kms.call("CreateKey", {})).json()["KeyMetadata"]["Arn"]
    for action, params in (
        ("GenerateDataKeyPair", {"KeyId": key, "KeyPairSpec": "ML_KEM_512"}),
        ("GenerateDataKeyPair", {"KeyId": key, "KeyPairSpec": "SM2"}),
        ("Sign", {"KeyId": key, "Message": "aGk=", "SigningAlgorithm": "ED25519_PH_SHA_512"}),
        ("Sign", {"KeyId": key, "Message": "aGk=", "SigningAlgorithm": "SM2DSA"}),
    ):
        reply = await kms.call(action, params)
        assert reply.error_type == "UnsupportedOperationException", (action, params)
    for spec in ("ML_KEM_512", "SM2"):
        usage = "ENCAPSULATE_DECAPSULATE" if spec.startswith("ML_KEM") else "SIGN_VERIFY"
        reply = await kms.call("CreateKey", {"KeySpec": spec, "KeyUsage": usage})
        assert reply.error_type == "ValidationException"
        assert "not offered" in reply.json()["message"]


async def test_key_agreement_and_encapsulation_are_audited_with_the_key_arn(kms: Harness) -> None:
    agreeing = await kms.call(
        "CreateKey", {"KeySpec": "ECC_NIST_P256", "KeyUsage": "KEY_AGREEMENT"}
    )
    agreeing_arn = agreeing.json()["KeyMetadata"]["Arn"]
    kem = await kms.call(
        "CreateKey", {"KeySpec": "ML_KEM_768", "KeyUsage": "ENCAPSULATE_DECAPSULATE"}
    )
    kem_arn = kem.json()["KeyMetadata"]["Arn"]
    peer = base64.b64encode(
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    ).decode()
    derived = await kms.call(
        "DeriveSharedSecret",
        {"KeyId": agreeing_arn, "KeyAgreementAlgorithm": "ECDH", "PublicKey": peer},
    )
    assert derived.status == 200, derived.body
    made = await kms.call("Encapsulate", {"KeyId": kem_arn, "EncapsulationAlgorithm": "ML_KEM"})
    assert made.status == 200, made.body
    opened = await kms.call(
        "Decapsulate",
        {
            "KeyId": kem_arn,
            "EncapsulationAlgorithm": "ML_KEM",
            "SharedSecretCiphertextBlob": made.json()["SharedSecretCiphertextBlob"],
        },
    )
    assert opened.json()["SharedSecret"] == made.json()["SharedSecret"]
    await kms.audit.flush()
    events = {
        (e.action, e.resource, e.outcome)
        for _, e in await kms.audit_store.list_events(None, after_id=0, limit=100)
    }
    for action, arn in (
        ("kms:DeriveSharedSecret", agreeing_arn),
        ("kms:Encapsulate", kem_arn),
        ("kms:Decapsulate", kem_arn),
    ):
        assert (action, arn, Outcome.SUCCESS) in events, action
    # The secrets are answers, not audit data.
    texts = repr(await kms.audit_store.list_events(None, after_id=0, limit=100))
    assert made.json()["SharedSecret"] not in texts and derived.json()["SharedSecret"] not in texts
