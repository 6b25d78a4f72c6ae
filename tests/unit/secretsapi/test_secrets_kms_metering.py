"""Secrets Manager's KMS calls metered as ``kms.requests`` (decision 0190, session 49): over the
in-process app, its real envelope sealer and the memory billing store. One count per KMS call
that succeeded, for the caller's account (AWS charges the account that makes the request, under
another account's key too); none for a refused or failed call."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from andromede.billing.model import parse_month
from andromede.billing.service import BillingService
from andromede.billing.store import MemoryBillingStore
from andromede.db.database import open_database
from andromede.iam.model import Principal, PrincipalKind
from andromede.iam.secrets import SecretSealer as IamSecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.kms.customer_keys import CustomerKeyService
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.keys_store import MemoryCustomerKeyStore
from andromede.kms.service import KeyService
from andromede.kmsapi.authorise import KmsAuthoriser
from andromede.secrets.model import Secret
from andromede.secrets.service import Actor, SecretValue
from andromede.secretsapi.authorise import KeyUser
from andromede.settings import Settings
from andromede.wiring.secrets import secrets_service
from support.schema import migrated_sqlite
from support.secretsapp import REGION, Harness

KMS = "kms.requests"


async def test_each_put_is_one_generate_data_key_each_read_one_decrypt(sm: Harness) -> None:
    # Under the account's AWS-managed key (made on first use, which is not counted).
    await sm.ok("CreateSecret", {"Name": "n", "SecretString": "v0"})
    assert await sm.usage(KMS) == 1
    await sm.ok("PutSecretValue", {"SecretId": "n", "SecretString": "v1"})
    assert await sm.usage(KMS) == 2
    await sm.ok("UpdateSecret", {"SecretId": "n", "SecretString": "v2"})
    assert await sm.usage(KMS) == 3
    for _ in range(5):
        assert (await sm.ok("GetSecretValue", {"SecretId": "n"}))["SecretString"] == "v2"
    assert await sm.usage(KMS) == 8
    # A secret with no value, its metadata and listing call no KMS.
    await sm.ok("CreateSecret", {"Name": "empty"})
    await sm.ok("DescribeSecret", {"SecretId": "n"})
    await sm.ok("ListSecretVersionIds", {"SecretId": "n"})
    assert await sm.usage(KMS) == 8
    # BatchGetSecretValue: one Decrypt per value returned, none for an unknown secret.
    await sm.ok("CreateSecret", {"Name": "m", "SecretString": "w"})
    batch = await sm.ok("BatchGetSecretValue", {"SecretIdList": ["n", "m", "none"]})
    assert len(batch["SecretValues"]) == 2
    assert await sm.usage(KMS) == 11
    # The Secrets Manager requests are their own meter.
    assert await sm.usage("secretsmanager.requests") == 13


async def test_refused_and_failed_kms_calls_are_not_counted(sm: Harness) -> None:
    key = await sm.keys.create_key(sm.key_caller())
    await sm.ok("CreateSecret", {"Name": "k", "SecretString": "v", "KmsKeyId": key.key_id})
    assert await sm.usage(KMS) == 1
    await sm.keys.disable_key(sm.key_caller(), key.key_id)
    await sm.fails("GetSecretValue", {"SecretId": "k"}, "DecryptionFailure")
    await sm.fails("PutSecretValue", {"SecretId": "k", "SecretString": "w"}, "EncryptionFailure")
    await sm.fails(
        "CreateSecret",
        {"Name": "nokey", "SecretString": "v", "KmsKeyId": "alias/none"},
        "EncryptionFailure",
    )
    assert await sm.usage(KMS) == 1
    await sm.keys.enable_key(sm.key_caller(), key.key_id)
    # A user allowed the secret but not the key: KMS refuses it, nothing is counted.
    user = await sm.iam_user("nokms")
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "kms:*", "Resource": "*"},
    ]}  # fmt: skip
    await sm.identity.put_user_policy(sm.tenant_id, "nokms", "p", json.dumps(policy))
    message = await user.fails("GetSecretValue", {"SecretId": "k"}, "AccessDeniedException")
    assert message == "Access to KMS is not allowed"
    assert await sm.usage(KMS) == 1
    await sm.ok("GetSecretValue", {"SecretId": "k"})
    assert await sm.usage(KMS) == 2


async def test_a_key_change_counts_its_decrypts_and_generate_data_keys(sm: Harness) -> None:
    await sm.ok("CreateSecret", {"Name": "r", "SecretString": "a"})
    await sm.ok("PutSecretValue", {"SecretId": "r", "SecretString": "b"})  # AWSPREVIOUS: a
    assert await sm.usage(KMS) == 2
    key = await sm.keys.create_key(sm.key_caller())
    await sm.ok("UpdateSecret", {"SecretId": "r", "KmsKeyId": key.arn})
    # Two labelled versions: each one Decrypt under the old key, one GenerateDataKey under the new.
    assert await sm.usage(KMS) == 6
    # Unchanged key: nothing re-encrypted, nothing counted.
    await sm.ok("UpdateSecret", {"SecretId": "r", "KmsKeyId": key.arn, "Description": "d"})
    assert await sm.usage(KMS) == 6
    assert (await sm.ok("GetSecretValue", {"SecretId": "r"}))["SecretString"] == "b"
    assert await sm.usage(KMS) == 7
    # The new key disabled: its Decrypt fails (not counted), the kept previous envelope opens
    # under the old key (one counted).
    await sm.keys.disable_key(sm.key_caller(), key.key_id)
    assert (await sm.ok("GetSecretValue", {"SecretId": "r"}))["SecretString"] == "b"
    assert await sm.usage(KMS) == 8


async def test_another_accounts_read_counts_for_the_reader(sm: Harness) -> None:
    # AWS: "When you use a KMS key in a different AWS account, the AWS account that makes the
    # API request is charged for the key use" — the reader's, not the key's owner.
    other = await sm.other_tenant("reader")
    key = await sm.keys.create_key(sm.key_caller())
    key_policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{sm.tenant_id}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{other.tenant_id}:root"},
         "Action": "kms:Decrypt", "Resource": "*"},
    ]}  # fmt: skip
    await sm.keys.put_key_policy(sm.key_caller(), key.key_id, "default", json.dumps(key_policy))
    made = await sm.ok("CreateSecret", {"Name": "s", "SecretString": "v", "KmsKeyId": key.arn})
    arn = made["ARN"]
    grant = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{other.tenant_id}:root"},
         "Action": "secretsmanager:GetSecretValue", "Resource": arn},
    ]}  # fmt: skip
    await sm.ok("PutResourcePolicy", {"SecretId": arn, "ResourcePolicy": json.dumps(grant)})
    for _ in range(3):
        assert (await other.ok("GetSecretValue", {"SecretId": arn}))["SecretString"] == "v"
    assert await sm.usage(KMS) == 1  # its CreateSecret's GenerateDataKey
    assert await other.usage(KMS) == 3


async def test_serves_wiring_meters_the_sealers_calls(tmp_path: Path) -> None:
    """``secrets_service`` (what ``serve``'s ``secrets_api`` builds) hands its billing to the
    sealer: a value written and read over the SQL store are two counts of the account."""
    identity = IdentityService(MemoryIdentityStore(), IamSecretSealer(os.urandom(32)))
    keys = KeyService(LocalKeyFileProvider(tmp_path / "keys"))
    customer_keys = CustomerKeyService(
        MemoryCustomerKeyStore(), keys, KmsAuthoriser(identity.policies_for, REGION), region=REGION
    )
    billing = BillingService(MemoryBillingStore(), region=REGION, instance_types=[])
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    account = "111122223333"
    root = Principal(account, None, None, PrincipalKind.ROOT, f"arn:aws:iam::{account}:root")

    async def anyone(action: str, secret: Secret | None) -> None:
        return None

    actor = Actor(account, REGION, anyone, KeyUser(root, None, False, "r1"))
    settings = Settings(data_dir=tmp_path, region=REGION)
    try:
        service = secrets_service(settings, db, customer_keys, billing=billing)
        await service.create(actor, "w", SecretValue(b"v", binary=False))
        assert (await service.get_value(actor, "w"))[2] == b"v"
        await billing.flush()
        month = parse_month(datetime.now(UTC).strftime("%Y-%m"))
        report = await billing.usage_report(account, month)
        assert [(line.meter, line.quantity) for line in report.lines] == [(KMS, 2)]
    finally:
        await billing.close()
        keys.close()
        await db.close()
