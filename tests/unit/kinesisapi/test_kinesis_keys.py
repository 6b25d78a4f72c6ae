"""Decision 0228's encryption at rest through botocore's own model: records always sealed (the
account's key ring while ``EncryptionType`` is ``NONE``: no plaintext in the store);
StartStreamEncryption with a key id, ARN, alias or ``alias/aws/kinesis`` (the account's
AWS-managed key, made on first use), ``EncryptionType``/``KeyId`` reported; records put
under the key unreadable while it is disabled (``KMSDisabledException`` on put and get,
readable again once enabled); records of before the key and after StopStreamEncryption kept
readable; the caller's KMS rights deciding; a key that names nothing refused."""

from __future__ import annotations

import json

from support.kinesisapp import World


async def put(world: World, data: bytes) -> dict[str, object]:
    return await world.client("PutRecord", StreamName="s", Data=data, PartitionKey="k")


async def read(world: World) -> list[bytes]:
    token = (await world.client("GetShardIterator", StreamName="s",
                                ShardId="shardId-000000000000",
                                ShardIteratorType="TRIM_HORIZON"))["ShardIterator"]  # fmt: skip
    got = await world.client("GetRecords", ShardIterator=token)
    return [r["Data"] for r in got["Records"]]


def stored(world: World) -> list[bytes]:
    held = world.kinesis.store._records[(world.tenant_id, "s")]  # type: ignore[attr-defined]
    return [r.sealed for r in held]


async def test_records_are_sealed_and_a_customer_key_decides(world: World) -> None:
    await world.client("CreateStream", StreamName="s", ShardCount=1)
    await put(world, b"plain-secret")
    assert all(b"plain-secret" not in s for s in stored(world))
    key = await world.customer_keys.create_key(world.root())
    await world.client("StartStreamEncryption", StreamName="s", EncryptionType="KMS",
                       KeyId=key.key_id)  # fmt: skip
    summary = (await world.client("DescribeStreamSummary", StreamName="s"))[
        "StreamDescriptionSummary"
    ]
    assert (summary["EncryptionType"], summary["KeyId"]) == ("KMS", key.key_id)
    answer = await put(world, b"under-key")
    assert answer["EncryptionType"] == "KMS"
    assert all(b"under-key" not in s for s in stored(world))
    assert key.arn.encode() in stored(world)[-1]  # the sealed form names its key
    assert await read(world) == [b"plain-secret", b"under-key"]
    await world.customer_keys.disable_key(world.root(), key.arn)
    await world.fails("PutRecord", "KMSDisabledException", StreamName="s", Data=b"x",
                      PartitionKey="k")  # fmt: skip
    token = (await world.client("GetShardIterator", StreamName="s",
                                ShardId="shardId-000000000000",
                                ShardIteratorType="TRIM_HORIZON"))["ShardIterator"]  # fmt: skip
    await world.fails("GetRecords", "KMSDisabledException", ShardIterator=token)
    await world.client("StopStreamEncryption", StreamName="s", EncryptionType="KMS",
                       KeyId=key.key_id)  # fmt: skip
    await put(world, b"after-stop")  # the key ring again
    await world.fails("GetRecords", "KMSDisabledException", ShardIterator=token)
    await world.customer_keys.enable_key(world.root(), key.arn)
    assert await read(world) == [b"plain-secret", b"under-key", b"after-stop"]
    summary = (await world.client("DescribeStream", StreamName="s"))["StreamDescription"]
    assert summary["EncryptionType"] == "NONE" and "KeyId" not in summary


async def test_aliases_and_the_aws_managed_key(world: World) -> None:
    await world.client("CreateStream", StreamName="s", ShardCount=1)
    await world.client("StartStreamEncryption", StreamName="s", EncryptionType="KMS",
                       KeyId="alias/aws/kinesis")  # fmt: skip
    await put(world, b"managed")
    assert await read(world) == [b"managed"]
    key = await world.customer_keys.create_key(world.root())
    await world.customer_keys.create_alias(world.root(), "alias/stream", key.key_id)
    alias_arn = f"arn:aws:kms:eu-fr-1:{world.tenant_id}:alias/stream"
    for ref in ("alias/stream", alias_arn, key.arn):
        await world.client("StartStreamEncryption", StreamName="s", EncryptionType="KMS",
                           KeyId=ref)  # fmt: skip
        await put(world, ref.encode())
    assert len(await read(world)) == 4
    await world.fails("StartStreamEncryption", "KMSNotFoundException", StreamName="s",
                      EncryptionType="KMS", KeyId="alias/nothing")  # fmt: skip
    await world.fails("StartStreamEncryption", "KMSNotFoundException", StreamName="s",
                      EncryptionType="KMS",
                      KeyId="00000000-0000-0000-0000-000000000000")  # fmt: skip


async def test_the_callers_kms_rights_decide(world: World) -> None:
    key = await world.customer_keys.create_key(world.root())
    await world.client("CreateStream", StreamName="s", ShardCount=1)
    await world.client("StartStreamEncryption", StreamName="s", EncryptionType="KMS",
                       KeyId=key.arn)  # fmt: skip
    user = await world.iam_user("producer")
    kinesis_only = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "kinesis:*", "Resource": "*"}],
    }
    await world.identity.put_user_policy(world.tenant_id, "producer", "k",
                                         json.dumps(kinesis_only))  # fmt: skip
    await user.fails("PutRecord", "KMSAccessDeniedException", StreamName="s", Data=b"x",
                     PartitionKey="k")  # fmt: skip
    with_key = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "kinesis:*", "Resource": "*"},
            {"Effect": "Allow", "Action": "kms:GenerateDataKey", "Resource": key.arn},
        ],
    }
    await world.identity.put_user_policy(world.tenant_id, "producer", "k",
                                         json.dumps(with_key))  # fmt: skip
    await user.client("PutRecord", StreamName="s", Data=b"x", PartitionKey="k")
    token = (await user.client("GetShardIterator", StreamName="s",
                               ShardId="shardId-000000000000",
                               ShardIteratorType="TRIM_HORIZON"))["ShardIterator"]  # fmt: skip
    await user.fails("GetRecords", "KMSAccessDeniedException", ShardIterator=token)
    assert ("kms:GenerateDataKey", "success") in await world.audited()
