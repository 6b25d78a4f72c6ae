"""Decision 0223's addendum through botocore's model: a stream under a customer-managed KMS
key — the caller's ``kms:CreateGrant``/``kms:DescribeKey`` and the key checked at
CreateDeliveryStream and StartDeliveryStreamEncryption (``InvalidKMSResourceException`` and
its ``code``), the encryption's Status ENABLING → ENABLED / ENABLING_FAILED (its
FailureDescription) / DISABLING → DISABLED, its records sealed under one data key of the key
a put (no plaintext in the buffer), a disabled key refusing puts and holding the buffered
records (retried, then given up with an audit record, never written in clear), and records
buffered across a change of key still delivered."""

from __future__ import annotations

import json
import time
from typing import Any

from andromede.iam.model import Principal, PrincipalKind
from andromede.kms.customer_keys import Caller
from andromede.kms.keys_model import KEY_USAGE_SIGN_VERIFY
from support.batch_world import read
from support.firehoseapp import World

POLICY_FIREHOSE_ONLY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "firehose:*", "Resource": "*"}],
    }
)
POLICY_KMS_GRANT = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["kms:CreateGrant", "kms:DescribeKey"],
             "Resource": "*"}
        ],
    }
)  # fmt: skip


def root(world: World) -> Caller:
    account = world.tenant_id
    principal = Principal(account, None, None, PrincipalKind.ROOT, f"arn:aws:iam::{account}:root")
    return Caller(account, principal.arn, principal)


async def new_key(world: World, **kwargs: Any) -> str:
    return (await world.customer_keys.create_key(root(world), **kwargs)).arn


def later(seconds: float) -> int:
    return int((time.time() + seconds) * 1000)


async def encrypted_stream(world: World, key_arn: str, name: str = "clicks") -> None:
    await world.client(
        "CreateDeliveryStream",
        DeliveryStreamName=name,
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": await world.role(name),
            "BucketARN": await world.bucket(f"{name}-landing"),
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60},
        },
        DeliveryStreamEncryptionConfigurationInput={
            "KeyType": "CUSTOMER_MANAGED_CMK", "KeyARN": key_arn,
        },
    )  # fmt: skip


async def encryption(world: World, name: str = "clicks") -> dict[str, Any]:
    described = await world.client("DescribeDeliveryStream", DeliveryStreamName=name)
    config: dict[str, Any] = described["DeliveryStreamDescription"][
        "DeliveryStreamEncryptionConfiguration"
    ]
    return config


async def delivered(world: World, bucket: str) -> bytes:
    listing = await world.objects.list_objects(bucket, prefix="", max_keys=100)
    return b"".join([await read(world.objects, bucket, o.key) for o in listing.objects])


async def test_records_are_sealed_under_the_streams_key(world: World) -> None:
    key = await new_key(world)
    await encrypted_stream(world, key)
    assert await encryption(world) == {
        "Status": "ENABLING", "KeyType": "CUSTOMER_MANAGED_CMK", "KeyARN": key,
    }  # fmt: skip
    await world.deliverer.run_pass()
    assert (await encryption(world))["Status"] == "ENABLED"
    put = await world.client("PutRecord", DeliveryStreamName="clicks", Record={"Data": b"one-"})
    assert put["Encrypted"] is True
    batch = await world.client("PutRecordBatch", DeliveryStreamName="clicks",
                               Records=[{"Data": b"two-"}, {"Data": b"three"}])  # fmt: skip
    assert batch["Encrypted"] is True and batch["FailedPutCount"] == 0
    buffered = await world.firehose.store.batch(world.tenant_id, "clicks", 1 << 20)
    # Sealed under the key (KMS form, naming it), one data key a put, nothing in clear.
    assert all(r.sealed[:1] == b"\x02" and key.encode() in r.sealed for r in buffered)
    assert not any(b"two-" in r.sealed or b"three" in r.sealed for r in buffered)
    wrapped = {r.sealed[: r.sealed.index(b"}") + 60] for r in buffered}
    assert len(wrapped) == 2  # the PutRecord's data key, and the batch's
    assert await world.deliverer.run_pass(later(61)) == 1
    assert await delivered(world, "clicks-landing") == b"one-two-three"
    await world.audit.flush()
    events = [e for _, e in await world.audit_store.list_events(None, after_id=0, limit=500)]
    uses = [e for e in events if e.action == "kms:GenerateDataKey" and e.resource == key]
    assert len(uses) == 2 and uses[0].details["invoked_by"] == "firehose.amazonaws.com"
    assert uses[0].details["aws:firehose:arn"].endswith(":deliverystream/clicks")


async def test_the_caller_and_the_key_are_checked(world: World) -> None:
    key = await new_key(world)
    user = await world.iam_user("dev")
    await world.identity.put_user_policy(world.tenant_id, "dev", "fh", POLICY_FIREHOSE_ONLY)
    await world.role("clicks")
    await world.bucket("clicks-landing")
    params: dict[str, Any] = {
        "DeliveryStreamName": "clicks",
        "ExtendedS3DestinationConfiguration": {
            "RoleARN": f"arn:aws:iam::{world.tenant_id}:role/clicks",
            "BucketARN": "arn:aws:s3:::clicks-landing",
        },
        "DeliveryStreamEncryptionConfigurationInput": {
            "KeyType": "CUSTOMER_MANAGED_CMK", "KeyARN": key,
        },
    }  # fmt: skip
    reply = await user.raw("CreateDeliveryStream", params)
    assert reply.status == 400
    fields = reply.json()
    assert fields["__type"] == "InvalidKMSResourceException"
    assert fields["code"] == "KMS.AccessDeniedException"
    assert "kms:DescribeKey" in fields["message"]
    assert await world.firehose.store.get(world.tenant_id, "clicks") is None
    await world.identity.put_user_policy(world.tenant_id, "dev", "kms", POLICY_KMS_GRANT)
    await user.client("CreateDeliveryStream", **params)
    # A disabled key, a missing one, an asymmetric one: refused in AWS's words.
    await world.customer_keys.disable_key(root(world), key)
    await world.deliverer.run_pass()
    # The pass found the key disabled: ENABLING_FAILED, with its FailureDescription.
    config = await encryption(world)
    assert config["Status"] == "ENABLING_FAILED"
    assert config["FailureDescription"]["Type"] == "DISABLED_KMS_KEY"
    message = await world.fails("StartDeliveryStreamEncryption", "InvalidKMSResourceException",
                                DeliveryStreamName="clicks",
                                DeliveryStreamEncryptionConfigurationInput={
                                    "KeyType": "CUSTOMER_MANAGED_CMK", "KeyARN": key})  # fmt: skip
    assert "disabled" in message.lower()
    put = await world.client("PutRecord", DeliveryStreamName="clicks", Record={"Data": b"x"})
    assert put["Encrypted"] is False  # under the account's key ring meanwhile, never in clear
    missing = key.rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000"
    signing = await new_key(world, key_usage=KEY_USAGE_SIGN_VERIFY, key_spec="RSA_2048")
    other_region = key.replace(":eu-fr-1:", ":eu-de-1:")
    for arn, code in ((missing, "KMS.NotFoundException"),
                      (signing, "KMS.InvalidKeyUsageException"),
                      (other_region, "KMS.NotFoundException")):  # fmt: skip
        reply = await world.raw("StartDeliveryStreamEncryption", {
            "DeliveryStreamName": "clicks",
            "DeliveryStreamEncryptionConfigurationInput": {
                "KeyType": "CUSTOMER_MANAGED_CMK", "KeyARN": arn}})  # fmt: skip
        assert reply.json()["code"] == code, arn
    await world.fails("StartDeliveryStreamEncryption", "InvalidArgumentException",
                      DeliveryStreamName="clicks",
                      DeliveryStreamEncryptionConfigurationInput={
                          "KeyType": "CUSTOMER_MANAGED_CMK"})  # fmt: skip


async def test_a_key_that_refuses_later_holds_the_records(world: World) -> None:
    key = await new_key(world)
    await encrypted_stream(world, key)
    await world.deliverer.run_pass()
    await world.client("PutRecord", DeliveryStreamName="clicks", Record={"Data": b"held"})
    await world.customer_keys.disable_key(root(world), key)
    reply = await world.raw("PutRecord", {"DeliveryStreamName": "clicks",
                                          "Record": {"Data": "eA=="}})  # fmt: skip
    assert reply.json()["__type"] == "InvalidKMSResourceException"
    assert reply.json()["code"] == "KMS.DisabledException"
    assert (await world.firehose.store.totals(world.tenant_id, "clicks")).records == 1
    # Due, but the key refuses to open it: held and retried, nothing written.
    assert await world.deliverer.run_pass(later(61)) == 0
    assert await delivered(world, "clicks-landing") == b""
    assert (await world.firehose.store.totals(world.tenant_id, "clicks")).records == 1
    assert world.dropped == []
    await world.customer_keys.enable_key(root(world), key)
    assert await world.deliverer.run_pass(later(70)) == 1
    assert await delivered(world, "clicks-landing") == b"held"
    # Disabled past the retry window: given up loudly, never written in clear.
    await world.client("PutRecord", DeliveryStreamName="clicks", Record={"Data": b"lost"})
    await world.customer_keys.disable_key(root(world), key)
    assert await world.deliverer.run_pass(later(61)) == 0
    assert await world.deliverer.run_pass(later(2 * 86_400)) == 0
    assert world.dropped and world.dropped[0][:2] == ("clicks", 1)
    assert "KMS.DisabledException" in world.dropped[0][2]
    assert await delivered(world, "clicks-landing") == b"held"
    assert (await world.firehose.store.totals(world.tenant_id, "clicks")).records == 0


async def test_records_keep_the_key_that_sealed_them(world: World) -> None:
    first, second = await new_key(world), await new_key(world)
    await encrypted_stream(world, first)
    await world.deliverer.run_pass()
    await world.client("PutRecord", DeliveryStreamName="clicks", Record={"Data": b"a-"})
    await world.client("StartDeliveryStreamEncryption", DeliveryStreamName="clicks",
                       DeliveryStreamEncryptionConfigurationInput={
                           "KeyType": "CUSTOMER_MANAGED_CMK", "KeyARN": second})  # fmt: skip
    await world.fails("StopDeliveryStreamEncryption", "ResourceInUseException",
                      DeliveryStreamName="clicks")  # fmt: skip
    await world.client("PutRecord", DeliveryStreamName="clicks", Record={"Data": b"b-"})
    await world.deliverer.run_pass()
    assert await encryption(world) == {
        "Status": "ENABLED", "KeyType": "CUSTOMER_MANAGED_CMK", "KeyARN": second,
    }  # fmt: skip
    await world.client("PutRecord", DeliveryStreamName="clicks", Record={"Data": b"c-"})
    await world.client("StopDeliveryStreamEncryption", DeliveryStreamName="clicks")
    assert (await encryption(world))["Status"] == "DISABLING"
    await world.deliverer.run_pass()
    assert await encryption(world) == {"Status": "DISABLED"}
    put = await world.client("PutRecord", DeliveryStreamName="clicks", Record={"Data": b"d"})
    assert put["Encrypted"] is False
    sealed = [
        r.sealed for r in await world.firehose.store.batch(world.tenant_id, "clicks", 1 << 20)
    ]
    assert [first.encode() in s for s in sealed] == [True, True, False, False]
    assert [second.encode() in s for s in sealed] == [False, False, True, False]
    assert await world.deliverer.run_pass(later(61)) == 1
    assert await delivered(world, "clicks-landing") == b"a-b-c-d"
