"""The KMS API through boto3 and the aws CLI against a real ``andromede serve``: every action,
AWS's error types, tenant isolation, key policies with IAM, and crypto-shredding that survives
restoring a database copy."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from andromede.app import open_identity
from andromede.settings import load_settings
from e2e.clients import aws_cli
from support.audit_events import recorded_events
from support.server import REGION, ServerProcess, free_port

pytestmark = pytest.mark.e2e


def kms_client(
    server: ServerProcess, access_key: str, secret_key: str, *, validate: bool = True
) -> Any:
    session = boto3.session.Session(
        aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=REGION
    )
    return session.client(
        "kms",
        endpoint_url=server.endpoint,
        config=Config(retries={"max_attempts": 1}, parameter_validation=validate),
    )


@pytest.fixture
def kms(server: ServerProcess) -> Any:
    return kms_client(server, *server.credentials())


@pytest.fixture
def raw_kms(server: ServerProcess) -> Any:
    """A client that skips botocore's own parameter checks, to reach the server's."""
    return kms_client(server, *server.credentials(), validate=False)


def error_of(caught: pytest.ExceptionInfo[ClientError]) -> str:
    return str(caught.value.response["Error"]["Code"])


def expect(code: str, call: Any, **kwargs: Any) -> ClientError:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    assert error_of(caught) == code, caught.value.response
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert caught.value.response["ResponseMetadata"]["RequestId"]
    return caught.value


def run_identity(server: ServerProcess, work: Any) -> Any:
    """Run ``work(identity)`` on the server's identity database (beside the running server)."""

    async def main() -> Any:
        settings = load_settings(data_dir=server.data_dir, region=REGION)
        async with open_identity(settings) as identity:
            return await work(identity)

    return asyncio.run(main())


def new_tenant(server: ServerProcess) -> tuple[str, Any]:
    """A fresh tenant: its account id and a KMS client for its root user."""

    async def work(identity: Any) -> Any:
        return await identity.create_tenant(f"kms-{uuid.uuid4().hex[:10]}")

    created = run_identity(server, work)
    client = kms_client(server, created.access_key_id, created.secret_access_key)
    return created.tenant.id, client


def new_user(server: ServerProcess, account: str, policy: dict[str, Any] | None) -> tuple[str, Any]:
    """An IAM user of ``account`` with ``policy`` inline: its ARN and a KMS client."""
    name = f"u{uuid.uuid4().hex[:10]}"

    async def work(identity: Any) -> Any:
        user = await identity.create_user(account, name)
        if policy is not None:
            await identity.put_user_policy(account, name, "kms", json.dumps(policy))
        return user.arn, await identity.create_access_key(account, name)

    arn, created = run_identity(server, work)
    return arn, kms_client(server, created.key.access_key_id, created.secret_access_key)


@pytest.fixture
def key(kms: Any) -> Iterator[dict[str, Any]]:
    metadata = kms.create_key(Description="e2e key")["KeyMetadata"]
    yield metadata
    try:
        kms.schedule_key_deletion(KeyId=metadata["KeyId"], PendingWindowInDays=7)
    except ClientError:
        pass  # already pending deletion


# --- life cycle --------------------------------------------------------------------------


def test_create_and_describe_a_key(kms: Any) -> None:
    metadata = kms.create_key(
        Description="a key",
        KeyUsage="ENCRYPT_DECRYPT",
        KeySpec="SYMMETRIC_DEFAULT",
        Tags=[{"TagKey": "team", "TagValue": "blue"}],
    )["KeyMetadata"]
    key_id = metadata["KeyId"]
    assert str(uuid.UUID(key_id)) == key_id
    account = metadata["AWSAccountId"]
    assert metadata["Arn"] == f"arn:aws:kms:{REGION}:{account}:key/{key_id}"
    assert metadata["KeyState"] == "Enabled" and metadata["Enabled"] is True
    assert metadata["KeyUsage"] == "ENCRYPT_DECRYPT" and metadata["Origin"] == "AWS_KMS"
    assert metadata["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert metadata["KeyManager"] == "CUSTOMER"
    for reference in (key_id, metadata["Arn"]):
        described = kms.describe_key(KeyId=reference)["KeyMetadata"]
        assert described["KeyId"] == key_id and described["Description"] == "a key"
    policy = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    assert policy["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{account}:root"}
    assert kms.list_key_policies(KeyId=key_id)["PolicyNames"] == ["default"]


def test_list_keys_pages(server: ServerProcess) -> None:
    tenant_kms = new_tenant(server)[1]
    made = sorted(tenant_kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(3))
    first = tenant_kms.list_keys(Limit=2)
    assert first["Truncated"] is True and len(first["Keys"]) == 2
    rest = tenant_kms.list_keys(Limit=2, Marker=first["NextMarker"])
    assert rest["Truncated"] is False
    listed = [k["KeyId"] for k in first["Keys"] + rest["Keys"]]
    assert listed == made
    assert all(k["KeyArn"].endswith(k["KeyId"]) for k in first["Keys"])


def test_enable_disable_and_deletion_states(kms: Any, key: dict[str, Any]) -> None:
    key_id = key["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"state")["CiphertextBlob"]
    kms.disable_key(KeyId=key_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled"
    expect("DisabledException", kms.encrypt, KeyId=key_id, Plaintext=b"x")
    expect("DisabledException", kms.decrypt, CiphertextBlob=blob)
    kms.enable_key(KeyId=key_id)
    scheduled = kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert scheduled["KeyState"] == "PendingDeletion" and scheduled["PendingWindowInDays"] == 7
    assert scheduled["KeyId"] == key["Arn"]
    described = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert described["KeyState"] == "PendingDeletion" and "DeletionDate" in described
    expect("KMSInvalidStateException", kms.encrypt, KeyId=key_id, Plaintext=b"x")
    expect("KMSInvalidStateException", kms.decrypt, CiphertextBlob=blob)
    expect("KMSInvalidStateException", kms.enable_key, KeyId=key_id)
    expect("KMSInvalidStateException", kms.schedule_key_deletion, KeyId=key_id)
    kms.cancel_key_deletion(KeyId=key_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled"
    kms.enable_key(KeyId=key_id)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"state"


@pytest.mark.parametrize("window", [6, 31])
def test_pending_window_out_of_range(raw_kms: Any, key: dict[str, Any], window: int) -> None:
    expect(
        "ValidationException",
        raw_kms.schedule_key_deletion,
        KeyId=key["KeyId"],
        PendingWindowInDays=window,
    )


def test_description_and_tags(kms: Any, key: dict[str, Any]) -> None:
    key_id = key["KeyId"]
    kms.update_key_description(KeyId=key_id, Description="renamed")
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["Description"] == "renamed"
    kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "team", "TagValue": "blue"}])
    kms.tag_resource(KeyId=key["Arn"], Tags=[{"TagKey": "env", "TagValue": "prod"}])
    tags = kms.list_resource_tags(KeyId=key_id)["Tags"]
    assert tags == [{"TagKey": "env", "TagValue": "prod"}, {"TagKey": "team", "TagValue": "blue"}]
    kms.untag_resource(KeyId=key_id, TagKeys=["env"])
    assert [t["TagKey"] for t in kms.list_resource_tags(KeyId=key_id)["Tags"]] == ["team"]
    expect(
        "ValidationException",
        kms.tag_resource,
        KeyId=key_id,
        Tags=[{"TagKey": "aws:reserved", "TagValue": "x"}],
    )


# --- rotation ----------------------------------------------------------------------------


def test_rotation(kms: Any, raw_kms: Any, key: dict[str, Any]) -> None:
    key_id = key["KeyId"]
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=180)
    status = kms.get_key_rotation_status(KeyId=key_id)
    assert status["KeyRotationEnabled"] is True and status["RotationPeriodInDays"] == 180
    assert "NextRotationDate" in status
    expect(
        "ValidationException", raw_kms.enable_key_rotation, KeyId=key_id, RotationPeriodInDays=89
    )
    old = kms.encrypt(KeyId=key_id, Plaintext=b"before")["CiphertextBlob"]
    assert kms.rotate_key_on_demand(KeyId=key_id)["KeyId"] == key_id
    new = kms.encrypt(KeyId=key_id, Plaintext=b"after")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=old)["Plaintext"] == b"before"
    assert kms.decrypt(CiphertextBlob=new)["Plaintext"] == b"after"
    kms.disable_key_rotation(KeyId=key_id)
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False
    (rotation,) = kms.list_key_rotations(KeyId=key_id)["Rotations"]
    assert (rotation["KeyId"], rotation["RotationType"]) == (key_id, "ON_DEMAND")
    # The rotation's material is the key's current one, as DescribeKey names it.
    current = kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]
    assert (rotation["KeyMaterialId"], rotation["KeyMaterialState"]) == (current, "CURRENT")


def test_on_demand_rotations_are_listed_and_stop_at_the_quota(
    kms: Any, key: dict[str, Any], tmp_path: Path, server: ServerProcess
) -> None:
    """The server's default quota, AWS's: 25 on-demand rotations per key."""
    key_id = key["KeyId"]
    for _ in range(25):
        kms.rotate_key_on_demand(KeyId=key_id)
    expect("LimitExceededException", kms.rotate_key_on_demand, KeyId=key_id)
    pages = kms.get_paginator("list_key_rotations").paginate(
        KeyId=key["Arn"], PaginationConfig={"PageSize": 10}
    )
    listed = [rotation for page in pages for rotation in page["Rotations"]]
    assert len(listed) == 25
    assert {r["RotationType"] for r in listed} == {"ON_DEMAND"}
    dates = [r["RotationDate"] for r in listed]
    assert dates == sorted(dates)
    # Every rotation kept its ciphertexts readable: the 26th version encrypts now.
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"v26")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"v26"
    aws = aws_cli(server, tmp_path)
    cli = json.loads(
        aws("kms", "list-key-rotations", "--key-id", key_id, "--max-items", "3").stdout
    )
    assert len(cli["Rotations"]) == 3 and cli["NextToken"]


# --- aliases -----------------------------------------------------------------------------


def test_aliases(kms: Any, key: dict[str, Any]) -> None:
    name = f"alias/e2e-{uuid.uuid4().hex[:8]}"
    other = kms.create_key()["KeyMetadata"]
    try:
        kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])
        expect("AlreadyExistsException", kms.create_alias, AliasName=name, TargetKeyId=key["KeyId"])
        assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == key["KeyId"]
        alias_arn = key["Arn"].split(":key/")[0] + ":" + name
        assert kms.describe_key(KeyId=alias_arn)["KeyMetadata"]["KeyId"] == key["KeyId"]
        blob = kms.encrypt(KeyId=name, Plaintext=b"via alias")["CiphertextBlob"]
        assert kms.decrypt(CiphertextBlob=blob, KeyId=name)["Plaintext"] == b"via alias"
        listed = kms.list_aliases(KeyId=key["KeyId"])["Aliases"]
        assert [(a["AliasName"], a["TargetKeyId"], a["AliasArn"]) for a in listed] == [
            (name, key["KeyId"], alias_arn)
        ]
        kms.update_alias(AliasName=name, TargetKeyId=other["KeyId"])
        assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == other["KeyId"]
        kms.delete_alias(AliasName=name)
        expect("NotFoundException", kms.describe_key, KeyId=name)
        expect("NotFoundException", kms.delete_alias, AliasName=name)
        expect(
            "ValidationException",
            kms.create_alias,
            AliasName="alias/aws/s3",
            TargetKeyId=key["KeyId"],
        )
    finally:
        kms.schedule_key_deletion(KeyId=other["KeyId"], PendingWindowInDays=7)


# --- cryptographic operations --------------------------------------------------------------


def test_encrypt_decrypt_with_encryption_context(kms: Any, key: dict[str, Any]) -> None:
    context = {"bucket": "photos", "purpose": "e2e"}
    answer = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"hello kms", EncryptionContext=context)
    assert answer["KeyId"] == key["Arn"] and answer["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    blob = answer["CiphertextBlob"]
    decrypted = kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)
    assert decrypted["Plaintext"] == b"hello kms" and decrypted["KeyId"] == key["Arn"]
    expect("InvalidCiphertextException", kms.decrypt, CiphertextBlob=blob)
    expect(
        "InvalidCiphertextException",
        kms.decrypt,
        CiphertextBlob=blob,
        EncryptionContext={**context, "purpose": "other"},
    )


def test_tampered_ciphertext_is_invalid(kms: Any, key: dict[str, Any]) -> None:
    blob = bytearray(kms.encrypt(KeyId=key["KeyId"], Plaintext=b"do not touch")["CiphertextBlob"])
    for index in (0, 30, len(blob) // 2, len(blob) - 1):
        tampered = bytearray(blob)
        tampered[index] ^= 0x80
        with pytest.raises(ClientError) as caught:
            kms.decrypt(CiphertextBlob=bytes(tampered))
        assert error_of(caught) in ("InvalidCiphertextException", "NotFoundException")
    expect("InvalidCiphertextException", kms.decrypt, CiphertextBlob=bytes(blob[:-1]))
    expect("InvalidCiphertextException", kms.decrypt, CiphertextBlob=b"garbage")


def test_decrypt_naming_another_key_is_incorrect_key(kms: Any, key: dict[str, Any]) -> None:
    other = kms.create_key()["KeyMetadata"]
    try:
        blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
        expect("IncorrectKeyException", kms.decrypt, CiphertextBlob=blob, KeyId=other["KeyId"])
    finally:
        kms.schedule_key_deletion(KeyId=other["KeyId"], PendingWindowInDays=7)


def test_re_encrypt(kms: Any, key: dict[str, Any]) -> None:
    target = kms.create_key()["KeyMetadata"]
    try:
        blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"move", EncryptionContext={"a": "1"})[
            "CiphertextBlob"
        ]
        moved = kms.re_encrypt(
            CiphertextBlob=blob,
            SourceEncryptionContext={"a": "1"},
            DestinationKeyId=target["KeyId"],
            DestinationEncryptionContext={"b": "2"},
        )
        assert moved["SourceKeyId"] == key["Arn"] and moved["KeyId"] == target["Arn"]
        plain = kms.decrypt(CiphertextBlob=moved["CiphertextBlob"], EncryptionContext={"b": "2"})
        assert plain["Plaintext"] == b"move" and plain["KeyId"] == target["Arn"]
    finally:
        kms.schedule_key_deletion(KeyId=target["KeyId"], PendingWindowInDays=7)


def test_generate_data_keys_and_random(kms: Any, raw_kms: Any, key: dict[str, Any]) -> None:
    for spec, size in (("AES_256", 32), ("AES_128", 16)):
        made = kms.generate_data_key(KeyId=key["KeyId"], KeySpec=spec, EncryptionContext={"k": "v"})
        assert len(made["Plaintext"]) == size and made["KeyId"] == key["Arn"]
        again = kms.decrypt(CiphertextBlob=made["CiphertextBlob"], EncryptionContext={"k": "v"})
        assert again["Plaintext"] == made["Plaintext"]
    made = kms.generate_data_key(KeyId=key["KeyId"], NumberOfBytes=64)
    assert len(made["Plaintext"]) == 64
    bare = kms.generate_data_key_without_plaintext(KeyId=key["KeyId"], KeySpec="AES_256")
    assert "Plaintext" not in bare
    assert len(kms.decrypt(CiphertextBlob=bare["CiphertextBlob"])["Plaintext"]) == 32
    expect("ValidationException", raw_kms.generate_data_key, KeyId=key["KeyId"])
    expect("ValidationException", raw_kms.generate_data_key, KeyId=key["KeyId"], NumberOfBytes=2000)
    first = kms.generate_random(NumberOfBytes=32)["Plaintext"]
    assert len(first) == 32 and first != kms.generate_random(NumberOfBytes=32)["Plaintext"]
    expect("ValidationException", raw_kms.generate_random, NumberOfBytes=1025)


def test_bad_input_gets_kms_errors_never_500(kms: Any, raw_kms: Any, key: dict[str, Any]) -> None:
    expect("NotFoundException", kms.describe_key, KeyId="not-a-key-id")
    expect("NotFoundException", kms.describe_key, KeyId=str(uuid.uuid4()))
    expect("NotFoundException", kms.encrypt, KeyId="alias/none-such", Plaintext=b"x")
    expect("InvalidArnException", kms.describe_key, KeyId="arn:aws:kms:broken")
    expect("ValidationException", raw_kms.encrypt, KeyId=key["KeyId"], Plaintext=b"x" * 4097)
    expect("ValidationException", raw_kms.create_key, KeySpec="ECC_NIST_P256")
    expect(
        "InvalidKeyUsageException",
        raw_kms.encrypt,
        KeyId=key["KeyId"],
        Plaintext=b"x",
        EncryptionAlgorithm="RSAES_OAEP_SHA_256",
    )
    expect("MalformedPolicyDocumentException", kms.create_key, Policy="{not json")
    lockout = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
    expect(
        "MalformedPolicyDocumentException",
        kms.put_key_policy,
        KeyId=key["KeyId"],
        PolicyName="default",
        Policy=json.dumps(lockout),
    )
    expect("NotFoundException", kms.get_key_policy, KeyId=key["KeyId"], PolicyName="other")


def signed_post(
    server: ServerProcess, target: str, body: bytes, content_type: str
) -> tuple[int, dict[str, str], bytes]:
    access_key, secret_key = server.credentials()
    request = AWSRequest(
        method="POST",
        url=server.endpoint + "/",
        data=body,
        headers={"Content-Type": content_type, "X-Amz-Target": target},
    )
    SigV4Auth(Credentials(access_key, secret_key), "kms", REGION).add_auth(request)
    prepared = urllib.request.Request(
        request.url, data=body, headers=dict(request.headers.items()), method="POST"
    )
    try:
        with urllib.request.urlopen(prepared, timeout=10) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()


@pytest.mark.parametrize(
    ("target", "body", "content_type", "error_type"),
    [
        (
            "TrentService.MineBitcoin",
            b"{}",
            "application/x-amz-json-1.1",
            "UnknownOperationException",
        ),
        (
            "TrentService.ListKeys",
            b"{not json",
            "application/x-amz-json-1.1",
            "SerializationException",
        ),
        ("TrentService.ListKeys", b"[1]", "application/x-amz-json-1.1", "SerializationException"),
        ("TrentService.ListKeys", b"{}", "text/plain", "SerializationException"),
        (
            "TrentService.Encrypt",
            b'{"KeyId": 5}',
            "application/x-amz-json-1.1",
            "SerializationException",
        ),
        (
            "TrentService.Decrypt",
            b'{"CiphertextBlob": "***"}',
            "application/x-amz-json-1.1",
            "SerializationException",
        ),
    ],
)
def test_protocol_errors_have_the_json_shape(
    server: ServerProcess, target: str, body: bytes, content_type: str, error_type: str
) -> None:
    status, headers, answer = signed_post(server, target, body, content_type)
    assert status == 400
    lowered = {k.lower(): v for k, v in headers.items()}
    assert lowered["content-type"] == "application/x-amz-json-1.1"
    assert lowered["x-amzn-requestid"]
    parsed = json.loads(answer)
    assert parsed["__type"] == error_type and parsed["message"]


def test_a_wrong_secret_is_an_invalid_signature(server: ServerProcess) -> None:
    access_key, _ = server.credentials()
    client = kms_client(server, access_key, "x" * 40)
    expect("InvalidSignatureException", client.list_keys)


# --- tenants and policies ------------------------------------------------------------------


def test_other_tenants_keys_are_not_found(
    server: ServerProcess, kms: Any, key: dict[str, Any]
) -> None:
    _, other = new_tenant(server)
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"mine")["CiphertextBlob"]
    for reference in (key["KeyId"], key["Arn"]):
        expect("NotFoundException", other.describe_key, KeyId=reference)
        expect("NotFoundException", other.encrypt, KeyId=reference, Plaintext=b"x")
        expect("NotFoundException", other.disable_key, KeyId=reference)
    expect("NotFoundException", other.decrypt, CiphertextBlob=blob)
    assert key["KeyId"] not in [k["KeyId"] for k in other.list_keys()["Keys"]]


def test_a_key_policy_shares_a_key_with_another_tenant(
    server: ServerProcess, kms: Any, key: dict[str, Any]
) -> None:
    other_account, other = new_tenant(server)
    account = key["AWSAccountId"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "Partner",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{other_account}:root"},
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"],
                "Resource": "*",
            },
        ],
    }
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=json.dumps(policy))
    expect("NotFoundException", other.describe_key, KeyId=key["KeyId"])  # ids are per account
    assert other.describe_key(KeyId=key["Arn"])["KeyMetadata"]["KeyId"] == key["KeyId"]
    blob = other.encrypt(KeyId=key["Arn"], Plaintext=b"shared")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"shared"
    assert other.decrypt(CiphertextBlob=blob)["Plaintext"] == b"shared"
    expect("NotFoundException", other.disable_key, KeyId=key["Arn"])


def test_grants_through_boto3_and_the_aws_cli(
    server: ServerProcess, kms: Any, key: dict[str, Any], tmp_path: Path
) -> None:
    account = key["AWSAccountId"]
    other_account, other = new_tenant(server)
    other_root = f"arn:aws:iam::{other_account}:root"
    user_arn, user = new_user(server, account, None)
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"granted", EncryptionContext={"a": "1"})[
        "CiphertextBlob"
    ]
    expect("AccessDeniedException", user.decrypt, CiphertextBlob=blob, EncryptionContext={"a": "1"})
    made = kms.create_grant(
        KeyId=key["KeyId"],
        GranteePrincipal=user_arn,
        RetiringPrincipal=user_arn,
        Operations=["Decrypt"],
        Constraints={"EncryptionContextSubset": {"a": "1"}},
        Name="reader",
    )
    decrypted = user.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "1"})
    assert decrypted["Plaintext"] == b"granted"
    expect("AccessDeniedException", user.encrypt, KeyId=key["KeyId"], Plaintext=b"x")
    # Another tenant's root, granted by ARN, uses the key without any key policy change.
    expect("NotFoundException", other.encrypt, KeyId=key["Arn"], Plaintext=b"x")
    cross = kms.create_grant(KeyId=key["Arn"], GranteePrincipal=other_root, Operations=["Encrypt"])
    theirs = other.encrypt(KeyId=key["Arn"], Plaintext=b"from the partner")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=theirs)["Plaintext"] == b"from the partner"
    listed = kms.list_grants(KeyId=key["KeyId"])["Grants"]
    by_id = {grant["GrantId"]: grant for grant in listed}
    assert set(by_id) == {made["GrantId"], cross["GrantId"]}
    entry = by_id[made["GrantId"]]
    assert entry["KeyId"] == key["Arn"] and entry["Name"] == "reader"
    assert entry["Operations"] == ["Decrypt"] and entry["RetiringPrincipal"] == user_arn
    assert entry["Constraints"] == {"EncryptionContextSubset": {"a": "1"}}
    assert entry["IssuingAccount"] == f"arn:aws:iam::{account}:root"
    retirable = kms.list_retirable_grants(RetiringPrincipal=user_arn)["Grants"]
    assert [grant["GrantId"] for grant in retirable] == [made["GrantId"]]
    # The aws CLI makes and revokes one too.
    aws = aws_cli(server, tmp_path)
    cli = json.loads(
        aws(
            "kms", "create-grant", "--key-id", key["KeyId"], "--grantee-principal", user_arn,
            "--operations", "Encrypt", "DescribeKey",
        ).stdout
    )  # fmt: skip
    user.encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    aws("kms", "revoke-grant", "--key-id", key["KeyId"], "--grant-id", cli["GrantId"])
    expect("AccessDeniedException", user.encrypt, KeyId=key["KeyId"], Plaintext=b"x")
    # The retiring principal retires by token; the key's account revokes.
    user.retire_grant(GrantToken=made["GrantToken"])
    expect("AccessDeniedException", user.decrypt, CiphertextBlob=blob, EncryptionContext={"a": "1"})
    kms.revoke_grant(KeyId=key["KeyId"], GrantId=cross["GrantId"])
    expect("NotFoundException", other.encrypt, KeyId=key["Arn"], Plaintext=b"x")
    assert kms.list_grants(KeyId=key["KeyId"])["Grants"] == []
    expect("InvalidGrantTokenException", kms.retire_grant, GrantToken="not-a-token")
    expect("NotFoundException", kms.revoke_grant, KeyId=key["KeyId"], GrantId="0" * 64)


def test_signing_keys_verified_by_openssl(server: ServerProcess, kms: Any, tmp_path: Path) -> None:
    """Sign through boto3 and the aws CLI; verify with OpenSSL from GetPublicKey alone."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl not installed")
    message = tmp_path / "message.txt"
    message.write_bytes(b"artefact digest to attest")
    aws = aws_cli(server, tmp_path)
    cases = [
        ("ECC_NIST_P256", "ECDSA_SHA_256", ["-sha256"]),
        ("RSA_2048", "RSASSA_PSS_SHA_256",
         ["-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"]),
        ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_512", ["-sha512"]),
    ]  # fmt: skip
    for spec, algorithm, digest_options in cases:
        key = kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]
        try:
            assert key["SigningAlgorithms"] and "EncryptionAlgorithms" not in key
            public = kms.get_public_key(KeyId=key["KeyId"])
            assert public["KeyUsage"] == "SIGN_VERIFY" and public["KeySpec"] == spec
            public_der = tmp_path / f"{spec}.der"
            public_der.write_bytes(public["PublicKey"])
            signed = kms.sign(
                KeyId=key["Arn"],
                Message=message.read_bytes(),
                MessageType="RAW",
                SigningAlgorithm=algorithm,
            )
            via_cli = json.loads(
                aws(
                    "kms", "sign", "--key-id", key["KeyId"], "--message", f"fileb://{message}",
                    "--message-type", "RAW", "--signing-algorithm", algorithm,
                ).stdout
            )  # fmt: skip
            for number, signature in enumerate(
                (signed["Signature"], base64.b64decode(via_cli["Signature"]))
            ):
                path = tmp_path / f"{spec}-{algorithm}-{number}.sig"
                path.write_bytes(signature)
                checked = subprocess.run(
                    [openssl, "dgst", *digest_options, "-verify", str(public_der),
                     "-keyform", "DER", "-signature", str(path), str(message)],
                    capture_output=True, text=True, check=False,
                )  # fmt: skip
                assert checked.returncode == 0, (spec, algorithm, checked.stdout, checked.stderr)
                assert "Verified OK" in checked.stdout
            assert kms.verify(
                KeyId=key["KeyId"],
                Message=message.read_bytes(),
                Signature=signed["Signature"],
                SigningAlgorithm=algorithm,
            )["SignatureValid"]
            expect(
                "KMSInvalidSignatureException",
                kms.verify,
                KeyId=key["KeyId"],
                Message=b"something else",
                Signature=signed["Signature"],
                SigningAlgorithm=algorithm,
            )
            expect("InvalidKeyUsageException", kms.encrypt, KeyId=key["KeyId"], Plaintext=b"x")
        finally:
            kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)


def test_data_key_pairs(kms: Any, key: dict[str, Any]) -> None:
    made = kms.generate_data_key_pair(
        KeyId=key["KeyId"], KeyPairSpec="ECC_NIST_P384", EncryptionContext={"use": "jwt"}
    )
    assert made["KeyPairSpec"] == "ECC_NIST_P384" and made["KeyId"] == key["Arn"]
    opened = kms.decrypt(
        CiphertextBlob=made["PrivateKeyCiphertextBlob"], EncryptionContext={"use": "jwt"}
    )
    assert opened["Plaintext"] == made["PrivateKeyPlaintext"]
    private = serialization.load_der_private_key(made["PrivateKeyPlaintext"], password=None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert public == made["PublicKey"]
    bare = kms.generate_data_key_pair_without_plaintext(KeyId=key["KeyId"], KeyPairSpec="RSA_2048")
    assert "PrivateKeyPlaintext" not in bare and bare["PrivateKeyCiphertextBlob"]
    expect(
        "InvalidCiphertextException",
        kms.decrypt,
        CiphertextBlob=made["PrivateKeyCiphertextBlob"],
        EncryptionContext={"use": "other"},
    )


def test_rsa_encryption_keys_with_openssl(kms: Any, tmp_path: Path) -> None:
    """A client encrypts with OpenSSL from GetPublicKey alone; KMS decrypts; and back."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl not installed")
    key = kms.create_key(KeySpec="RSA_3072", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    try:
        assert key["EncryptionAlgorithms"] == ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]
        public = tmp_path / "public.der"
        public.write_bytes(kms.get_public_key(KeyId=key["KeyId"])["PublicKey"])
        secret = tmp_path / "secret.txt"
        secret.write_bytes(b"a database password")
        sealed = tmp_path / "sealed.bin"
        subprocess.run(
            [openssl, "pkeyutl", "-encrypt", "-pubin", "-keyform", "DER", "-inkey", str(public),
             "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256",
             "-pkeyopt", "rsa_mgf1_md:sha256", "-in", str(secret), "-out", str(sealed)],
            check=True, capture_output=True,
        )  # fmt: skip
        opened = kms.decrypt(
            CiphertextBlob=sealed.read_bytes(),
            KeyId=key["Arn"],
            EncryptionAlgorithm="RSAES_OAEP_SHA_256",
        )
        assert opened["Plaintext"] == b"a database password"
        assert opened["EncryptionAlgorithm"] == "RSAES_OAEP_SHA_256"
        by_kms = kms.encrypt(
            KeyId=key["KeyId"], Plaintext=b"round trip", EncryptionAlgorithm="RSAES_OAEP_SHA_1"
        )
        assert len(by_kms["CiphertextBlob"]) == 384
        back = kms.decrypt(
            CiphertextBlob=by_kms["CiphertextBlob"],
            KeyId=key["KeyId"],
            EncryptionAlgorithm="RSAES_OAEP_SHA_1",
        )
        assert back["Plaintext"] == b"round trip"
        expect(
            "ValidationException",
            kms.decrypt,
            CiphertextBlob=by_kms["CiphertextBlob"],
            EncryptionAlgorithm="RSAES_OAEP_SHA_1",
        )
        expect(
            "InvalidKeyUsageException", kms.generate_data_key, KeyId=key["KeyId"], KeySpec="AES_256"
        )
    finally:
        kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)


def test_key_agreement_with_openssl_and_the_aws_cli(
    server: ServerProcess, kms: Any, raw_kms: Any, tmp_path: Path
) -> None:
    """AWS's DeriveSharedSecret workflow: Alice's key pair is a KMS KEY_AGREEMENT key, Bob's an
    OpenSSL one; each derives from the other's public key, through the aws CLI and through
    ``openssl pkeyutl -derive``, and both get the same raw ECDH secret."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl not installed")
    alice = kms.create_key(KeySpec="ECC_NIST_P384", KeyUsage="KEY_AGREEMENT")["KeyMetadata"]
    signing = kms.create_key(KeySpec="ECC_NIST_P384", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    try:
        assert alice["KeyAgreementAlgorithms"] == ["ECDH"]
        assert "SigningAlgorithms" not in alice and "EncryptionAlgorithms" not in alice
        public = kms.get_public_key(KeyId=alice["KeyId"])
        assert (public["KeyUsage"], public["KeyAgreementAlgorithms"]) == ("KEY_AGREEMENT", ["ECDH"])
        alice_public = tmp_path / "alice.der"
        alice_public.write_bytes(public["PublicKey"])
        bob_private, bob_public = tmp_path / "bob.pem", tmp_path / "bob.der"
        subprocess.run(
            [openssl, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384",
             "-out", str(bob_private)],
            check=True, capture_output=True,
        )  # fmt: skip
        subprocess.run(
            [openssl, "pkey", "-in", str(bob_private), "-pubout", "-outform", "DER",
             "-out", str(bob_public)],
            check=True, capture_output=True,
        )  # fmt: skip
        bobs_secret = subprocess.run(
            [openssl, "pkeyutl", "-derive", "-inkey", str(bob_private),
             "-peerkey", str(alice_public), "-peerform", "DER"],
            check=True, capture_output=True,
        ).stdout  # fmt: skip
        aws = aws_cli(server, tmp_path)
        answer = json.loads(
            aws(
                "kms", "derive-shared-secret", "--key-id", alice["Arn"],
                "--key-agreement-algorithm", "ECDH", "--public-key", f"fileb://{bob_public}",
            ).stdout
        )  # fmt: skip
        assert len(bobs_secret) == 48
        assert base64.b64decode(answer["SharedSecret"]) == bobs_secret
        assert (answer["KeyId"], answer["KeyAgreementAlgorithm"]) == (alice["Arn"], "ECDH")
        assert answer["KeyOrigin"] == "AWS_KMS"
        derived = kms.derive_shared_secret(
            KeyId=alice["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=bob_public.read_bytes()
        )
        assert derived["SharedSecret"] == bobs_secret
        # Bad input: AWS's error types, never a 500.
        other_curve = ec.generate_private_key(ec.SECP256R1()).public_key()
        other_der = other_curve.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        expect(
            "ValidationException",
            kms.derive_shared_secret,
            KeyId=alice["KeyId"],
            KeyAgreementAlgorithm="ECDH",
            PublicKey=other_der,
        )
        expect(
            "ValidationException",
            raw_kms.derive_shared_secret,
            KeyId=alice["KeyId"],
            KeyAgreementAlgorithm="ECDH_PLUS",
            PublicKey=other_der,
        )
        expect(
            "InvalidKeyUsageException",
            kms.derive_shared_secret,
            KeyId=signing["KeyId"],
            KeyAgreementAlgorithm="ECDH",
            PublicKey=bob_public.read_bytes(),
        )
        expect(
            "InvalidKeyUsageException",
            kms.sign,
            KeyId=alice["KeyId"],
            Message=b"x",
            SigningAlgorithm="ECDSA_SHA_384",
        )
        expect(
            "DryRunOperationException",
            kms.derive_shared_secret,
            KeyId=alice["KeyId"],
            KeyAgreementAlgorithm="ECDH",
            PublicKey=bob_public.read_bytes(),
            DryRun=True,
        )
        expect(
            "ValidationException",
            kms.create_key,
            KeySpec="ECC_SECG_P256K1",
            KeyUsage="KEY_AGREEMENT",
        )
        kms.disable_key(KeyId=alice["KeyId"])
        expect(
            "DisabledException",
            kms.derive_shared_secret,
            KeyId=alice["KeyId"],
            KeyAgreementAlgorithm="ECDH",
            PublicKey=bob_public.read_bytes(),
        )
    finally:
        for made in (alice, signing):
            kms.schedule_key_deletion(KeyId=made["KeyId"], PendingWindowInDays=7)


def test_ml_dsa_signing_keys_through_boto3_and_the_aws_cli(
    server: ServerProcess, kms: Any, raw_kms: Any, tmp_path: Path
) -> None:
    """Post-quantum signatures (FIPS 204): a key signs a RAW message through the aws CLI and
    an EXTERNAL_MU one through boto3, and each verifies from GetPublicKey alone."""
    from cryptography.hazmat.primitives.asymmetric import mldsa

    key = kms.create_key(KeySpec="ML_DSA_65", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    try:
        assert key["SigningAlgorithms"] == ["ML_DSA_SHAKE_256"]
        public = serialization.load_der_public_key(
            kms.get_public_key(KeyId=key["KeyId"])["PublicKey"]
        )
        assert isinstance(public, mldsa.MLDSA65PublicKey)
        message = tmp_path / "release.txt"
        message.write_bytes(b"release 2.0, post-quantum signed")
        aws = aws_cli(server, tmp_path)
        signed = json.loads(
            aws(
                "kms", "sign", "--key-id", key["Arn"], "--message", f"fileb://{message}",
                "--message-type", "RAW", "--signing-algorithm", "ML_DSA_SHAKE_256",
            ).stdout
        )  # fmt: skip
        signature = base64.b64decode(signed["Signature"])
        assert len(signature) == 3309
        public.verify(signature, message.read_bytes())
        hasher = mldsa.MLDSAMuHasher(public)
        hasher.update(message.read_bytes())
        mu = hasher.finalize()
        by_mu = kms.sign(
            KeyId=key["KeyId"], Message=mu, MessageType="EXTERNAL_MU",
            SigningAlgorithm="ML_DSA_SHAKE_256",
        )["Signature"]  # fmt: skip
        public.verify(by_mu, message.read_bytes())
        checked = kms.verify(
            KeyId=key["KeyId"], Message=message.read_bytes(), Signature=by_mu,
            SigningAlgorithm="ML_DSA_SHAKE_256",
        )  # fmt: skip
        assert checked["SignatureValid"] is True
        expect(
            "KMSInvalidSignatureException",
            kms.verify,
            KeyId=key["KeyId"],
            Message=b"another release",
            Signature=by_mu,
            SigningAlgorithm="ML_DSA_SHAKE_256",
        )
        # MessageType and algorithm must go together; no ML-DSA data key pairs.
        expect(
            "ValidationException",
            kms.sign,
            KeyId=key["KeyId"],
            Message=mu,
            MessageType="DIGEST",
            SigningAlgorithm="ML_DSA_SHAKE_256",
        )
        expect(
            "ValidationException",
            raw_kms.generate_data_key_pair,
            KeyId=key["KeyId"],
            KeyPairSpec="ML_DSA_65",
        )
    finally:
        kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)


def test_ml_kem_keys_through_boto3_and_the_aws_cli(
    server: ServerProcess, kms: Any, raw_kms: Any, tmp_path: Path
) -> None:
    """Post-quantum key establishment (FIPS 203): Bob takes Alice's public key through the aws
    CLI and encapsulates a secret to it with ``cryptography`` alone, and Alice's KMS key
    decapsulates it through boto3; then KMS encapsulates and decapsulates. (The aws CLI here
    ships a botocore that predates Encapsulate and Decapsulate.)"""
    from cryptography.hazmat.primitives.asymmetric import mlkem

    key = kms.create_key(KeySpec="ML_KEM_768", KeyUsage="ENCAPSULATE_DECAPSULATE")["KeyMetadata"]
    try:
        assert key["EncapsulationAlgorithms"] == ["ML_KEM"]
        aws = aws_cli(server, tmp_path)
        answer = json.loads(aws("kms", "get-public-key", "--key-id", key["Arn"]).stdout)
        public = serialization.load_der_public_key(base64.b64decode(answer["PublicKey"]))
        assert isinstance(public, mlkem.MLKEM768PublicKey)
        assert kms.get_public_key(KeyId=key["KeyId"])["EncapsulationAlgorithms"] == ["ML_KEM"]
        bobs_secret, ciphertext = public.encapsulate()
        opened = kms.decapsulate(
            KeyId=key["Arn"], SharedSecretCiphertextBlob=ciphertext, EncapsulationAlgorithm="ML_KEM"
        )
        assert opened["SharedSecret"] == bobs_secret
        made = kms.encapsulate(KeyId=key["KeyId"], EncapsulationAlgorithm="ML_KEM")
        assert len(made["SharedSecretCiphertextBlob"]) == 1088
        back = kms.decapsulate(
            KeyId=key["KeyId"],
            SharedSecretCiphertextBlob=made["SharedSecretCiphertextBlob"],
            EncapsulationAlgorithm="ML_KEM",
        )
        assert back["SharedSecret"] == made["SharedSecret"]
        expect(
            "InvalidCiphertextException",
            kms.decapsulate,
            KeyId=key["KeyId"],
            SharedSecretCiphertextBlob=ciphertext[:-1],
            EncapsulationAlgorithm="ML_KEM",
        )
        expect(
            "ValidationException",
            raw_kms.encapsulate,
            KeyId=key["KeyId"],
            EncapsulationAlgorithm="RSA",
        )
        expect("InvalidKeyUsageException", kms.encrypt, KeyId=key["KeyId"], Plaintext=b"x")
    finally:
        kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)


def test_ed25519_signatures_verified_by_openssl(
    server: ServerProcess, kms: Any, tmp_path: Path
) -> None:
    """An Ed25519 key signs through the aws CLI; OpenSSL verifies with GetPublicKey's key."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl not installed")
    key = kms.create_key(KeySpec="ECC_NIST_EDWARDS25519", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    try:
        assert key["SigningAlgorithms"] == ["ED25519_SHA_512"]
        public = tmp_path / "public.der"
        public.write_bytes(kms.get_public_key(KeyId=key["KeyId"])["PublicKey"])
        message = tmp_path / "commit.txt"
        message.write_bytes(b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904")
        aws = aws_cli(server, tmp_path)
        signed = json.loads(
            aws(
                "kms", "sign", "--key-id", key["Arn"], "--message", f"fileb://{message}",
                "--message-type", "RAW", "--signing-algorithm", "ED25519_SHA_512",
            ).stdout
        )  # fmt: skip
        signature = tmp_path / "commit.sig"
        signature.write_bytes(base64.b64decode(signed["Signature"]))
        verify = [
            openssl, "pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", str(public),
            "-rawin", "-in", str(message), "-sigfile", str(signature),
        ]  # fmt: skip
        assert (
            b"Signature Verified Successfully"
            in subprocess.run(verify, check=True, capture_output=True).stdout
        )
        message.write_bytes(b"tree 0000000000000000000000000000000000000000")
        assert subprocess.run(verify, capture_output=True).returncode != 0
        expect(
            "ValidationException",
            kms.sign,
            KeyId=key["KeyId"],
            Message=b"\x00" * 64,
            MessageType="DIGEST",
            SigningAlgorithm="ED25519_SHA_512",
        )
        expect(
            "UnsupportedOperationException",
            kms.sign,
            KeyId=key["KeyId"],
            Message=b"\x00" * 64,
            MessageType="DIGEST",
            SigningAlgorithm="ED25519_PH_SHA_512",
        )
    finally:
        kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)


def test_hmac_keys_through_boto3_and_the_aws_cli(
    server: ServerProcess, kms: Any, tmp_path: Path
) -> None:
    key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    try:
        assert key["MacAlgorithms"] == ["HMAC_SHA_256"]
        made = kms.generate_mac(KeyId=key["KeyId"], Message=b"session", MacAlgorithm="HMAC_SHA_256")
        assert len(made["Mac"]) == 32
        checked = kms.verify_mac(
            KeyId=key["Arn"], Message=b"session", Mac=made["Mac"], MacAlgorithm="HMAC_SHA_256"
        )
        assert checked["MacValid"] is True
        expect(
            "KMSInvalidMacException",
            kms.verify_mac,
            KeyId=key["KeyId"],
            Message=b"forged",
            Mac=made["Mac"],
            MacAlgorithm="HMAC_SHA_256",
        )
        message = tmp_path / "message"
        message.write_bytes(b"session")
        aws = aws_cli(server, tmp_path)
        cli = json.loads(
            aws(
                "kms", "generate-mac", "--key-id", key["KeyId"], "--message",
                f"fileb://{message}", "--mac-algorithm", "HMAC_SHA_256",
            ).stdout
        )  # fmt: skip
        assert base64.b64decode(cli["Mac"]) == made["Mac"]  # HMAC is deterministic
        expect("InvalidKeyUsageException", kms.encrypt, KeyId=key["KeyId"], Plaintext=b"x")
    finally:
        kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)


def test_attribute_based_access_by_key_tags(
    server: ServerProcess, kms: Any, key: dict[str, Any]
) -> None:
    """One IAM policy, conditioned on the keys' tags, lets a user use every key of its team."""
    account = key["AWSAccountId"]
    by_tag = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["kms:Encrypt", "kms:Decrypt"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:ResourceTag/team": "blue"}},
            }
        ],
    }
    _, member = new_user(server, account, by_tag)
    expect("AccessDeniedException", member.encrypt, KeyId=key["KeyId"], Plaintext=b"x")
    kms.tag_resource(KeyId=key["KeyId"], Tags=[{"TagKey": "team", "TagValue": "blue"}])
    blob = member.encrypt(KeyId=key["KeyId"], Plaintext=b"tagged")["CiphertextBlob"]
    assert member.decrypt(CiphertextBlob=blob)["Plaintext"] == b"tagged"
    kms.tag_resource(KeyId=key["KeyId"], Tags=[{"TagKey": "team", "TagValue": "red"}])
    expect("AccessDeniedException", member.decrypt, CiphertextBlob=blob)


def test_iam_users_need_a_policy_and_the_key_policy_decides(
    server: ServerProcess, kms: Any, key: dict[str, Any]
) -> None:
    account = key["AWSAccountId"]
    _, nobody = new_user(server, account, None)
    expect("AccessDeniedException", nobody.encrypt, KeyId=key["KeyId"], Plaintext=b"x")
    expect("AccessDeniedException", nobody.list_keys)
    allowed = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": key["Arn"]}
        ],
    }
    user_arn, user = new_user(server, account, allowed)
    blob = user.encrypt(KeyId=key["KeyId"], Plaintext=b"by iam")["CiphertextBlob"]
    assert user.decrypt(CiphertextBlob=blob)["Plaintext"] == b"by iam"
    expect("AccessDeniedException", user.disable_key, KeyId=key["KeyId"])
    # A key policy without the account statement: IAM alone no longer grants.
    locked = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": [
                    "kms:PutKeyPolicy",
                    "kms:GetKeyPolicy",
                    "kms:DescribeKey",
                    "kms:ScheduleKeyDeletion",
                ],
                "Resource": "*",
            }
        ],
    }
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=json.dumps(locked))
    expect("AccessDeniedException", user.encrypt, KeyId=key["KeyId"], Plaintext=b"x")
    expect("AccessDeniedException", kms.encrypt, KeyId=key["KeyId"], Plaintext=b"x")  # root too
    assert user_arn.startswith(f"arn:aws:iam::{account}:user/")


# --- audit -------------------------------------------------------------------------------


def test_key_use_is_audited(server: ServerProcess, kms: Any, key: dict[str, Any]) -> None:
    kms.encrypt(KeyId=key["KeyId"], Plaintext=b"audited")
    expect("NotFoundException", kms.describe_key, KeyId=str(uuid.uuid4()))
    database = server.data_dir / "metadata.sqlite3"
    deadline = time.monotonic() + 15
    rows: list[tuple[str, str, str]] = []
    while time.monotonic() < deadline:
        rows = [
            (e.action, e.resource, e.outcome.value)
            for e in recorded_events(database)
            if e.action.startswith("kms:")
        ]
        if ("kms:Encrypt", key["Arn"], "success") in rows and any(
            a == "kms:DescribeKey" and o == "failure" for a, _, o in rows
        ):
            break
        time.sleep(0.2)
    assert ("kms:CreateKey", key["Arn"], "success") in rows
    assert ("kms:Encrypt", key["Arn"], "success") in rows
    assert any(a == "kms:DescribeKey" and o == "failure" for a, _, o in rows)


# --- the aws CLI ------------------------------------------------------------------------------


def test_aws_cli_encrypt_decrypt(
    server: ServerProcess, key: dict[str, Any], tmp_path: Path
) -> None:
    aws = aws_cli(server, tmp_path)
    plain = tmp_path / "plain.txt"
    plain.write_bytes(b"from the aws cli")
    encrypted = aws(
        "kms", "encrypt", "--key-id", key["KeyId"], "--plaintext", f"fileb://{plain}",
        "--encryption-context", "app=cli", "--output", "text", "--query", "CiphertextBlob",
    )  # fmt: skip
    blob = tmp_path / "blob.bin"
    blob.write_bytes(base64.b64decode(encrypted.stdout.strip()))
    decrypted = aws(
        "kms", "decrypt", "--ciphertext-blob", f"fileb://{blob}",
        "--encryption-context", "app=cli", "--output", "text", "--query", "Plaintext",
    )  # fmt: skip
    assert base64.b64decode(decrypted.stdout.strip()) == b"from the aws cli"
    described = json.loads(aws("kms", "describe-key", "--key-id", key["Arn"]).stdout)
    assert described["KeyMetadata"]["KeyId"] == key["KeyId"]
    failed = aws("kms", "decrypt", "--ciphertext-blob", f"fileb://{blob}", check=False)
    assert failed.returncode != 0 and "InvalidCiphertextException" in failed.stderr
    # --dry-run: the permission and the parameters are checked, nothing is decrypted.
    dry = aws(
        "kms", "decrypt", "--ciphertext-blob", f"fileb://{blob}", "--encryption-context",
        "app=cli", "--dry-run", check=False,
    )  # fmt: skip
    assert dry.returncode != 0 and "DryRunOperationException" in dry.stderr
    assert dry.stdout == ""


# --- crypto-shredding -------------------------------------------------------------------------


def test_deleted_key_stays_unreadable_after_restoring_the_database(tmp_path: Path) -> None:
    """Schedule deletion, let the window pass, restore a database copy taken before: the key's
    metadata is back, its material is not, so Decrypt fails."""
    data_dir = tmp_path / "data"
    process = ServerProcess(
        data_dir=data_dir, port=free_port(), extra_env={"ANDROMEDE_KMS_UPKEEP_INTERVAL": "0.2"}
    )
    process.start()
    try:
        kms = kms_client(process, *process.credentials())
        key_id = kms.create_key(Description="shred me")["KeyMetadata"]["KeyId"]
        blob = kms.encrypt(KeyId=key_id, Plaintext=b"confidential")["CiphertextBlob"]
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"confidential"
        database = data_dir / "metadata.sqlite3"
        backup = tmp_path / "backup.sqlite3"
        with sqlite3.connect(database) as live, sqlite3.connect(backup) as copy:
            live.backup(copy)  # a consistent copy, WAL included
        kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
        # Seven days pass: move the deletion date into the past.
        with sqlite3.connect(database) as live:
            live.execute("UPDATE kms_keys SET deletion_date = 0 WHERE key_id = ?", (key_id,))
        deadline = time.monotonic() + 20
        while True:
            try:
                kms.describe_key(KeyId=key_id)
            except ClientError as error:
                assert error.response["Error"]["Code"] == "NotFoundException"
                break
            assert time.monotonic() < deadline, "the key was not destroyed"
            time.sleep(0.2)
    finally:
        process.stop()
    for suffix in ("-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(backup, database)
    process.start()
    try:
        kms = kms_client(process, *process.credentials())
        restored = kms.describe_key(KeyId=key_id)["KeyMetadata"]
        assert restored["KeyState"] == "Enabled"  # the database believes the key exists
        expect("NotFoundException", kms.decrypt, CiphertextBlob=blob)
        expect("NotFoundException", kms.encrypt, KeyId=key_id, Plaintext=b"x")
    finally:
        process.stop()


def test_an_unsigned_kms_call_gets_kms_own_refusal(server: ServerProcess) -> None:
    """An unsigned request naming a KMS action is KMS's to refuse (JSON), not S3's (XML)."""
    request = urllib.request.Request(
        server.endpoint + "/",
        data=b"{}",
        headers={
            "X-Amz-Target": "TrentService.ListKeys",
            "Content-Type": "application/x-amz-json-1.1",
        },
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    body = json.loads(caught.value.read())
    assert body["__type"] == "MissingAuthenticationTokenException"
    assert caught.value.headers["x-amzn-RequestId"]
