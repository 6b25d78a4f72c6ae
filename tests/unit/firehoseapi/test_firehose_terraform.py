"""What Terraform's AWS provider sends and reads back of ``aws_kinesis_firehose_delivery_stream``
(destination ``extended_s3``, ``server_side_encryption { enabled, key_type, key_arn }``), over
the wire with botocore's Firehose model (decision 0223's addendum): CreateDeliveryStream with
every field the provider fills (the disabled processing, format conversion and logging, an
empty ``FileExtension``, ``CustomTimeZone`` UTC, ``S3BackupMode`` Disabled), its wait for
ACTIVE, then StartDeliveryStreamEncryption and its wait from ENABLING to ENABLED, the read
(``server_side_encryption.enabled`` is ``Status == ENABLED``), an ENABLING_FAILED's
``FailureDescription`` (the provider's error text), StopDeliveryStreamEncryption's wait to
DISABLED, and the deletion."""

from __future__ import annotations

from typing import Any

from support.firehoseapp import World
from unit.firehoseapi.test_firehose_keys import new_key, root


def provider_destination(world: World) -> dict[str, Any]:
    """``expandExtendedS3DestinationConfiguration`` of a minimal ``extended_s3_configuration``."""
    return {
        "BucketARN": "arn:aws:s3:::tf-landing",
        "RoleARN": f"arn:aws:iam::{world.tenant_id}:role/tf-firehose",
        "BufferingHints": {"IntervalInSeconds": 300, "SizeInMBs": 5},
        "CompressionFormat": "UNCOMPRESSED",
        "CustomTimeZone": "UTC",
        "DataFormatConversionConfiguration": {"Enabled": False},
        "EncryptionConfiguration": {"NoEncryptionConfig": "NoEncryption"},
        "FileExtension": "",
        "Prefix": "",
        "CloudWatchLoggingOptions": {"Enabled": False, "LogGroupName": "", "LogStreamName": ""},
        "ProcessingConfiguration": {"Enabled": False, "Processors": []},
        "S3BackupMode": "Disabled",
    }


async def described(world: World) -> dict[str, Any]:
    found = await world.client("DescribeDeliveryStream", DeliveryStreamName="tf")
    description: dict[str, Any] = found["DeliveryStreamDescription"]
    return description


def server_side_encryption(description: dict[str, Any]) -> dict[str, Any]:
    """The provider's flatten: enabled only when Status is ENABLED."""
    config = description.get("DeliveryStreamEncryptionConfiguration") or {}
    if config.get("Status") != "ENABLED":
        return {"enabled": False, "key_type": "AWS_OWNED_CMK"}
    shown = {"enabled": True, "key_type": config.get("KeyType")}
    if "KeyARN" in config:
        shown["key_arn"] = config["KeyARN"]
    return shown


async def wait(world: World, pending: str, target: str) -> dict[str, Any]:
    """``waitDeliveryStreamEncryptionEnabled`` / ``…Disabled``: polls while ``pending``."""
    for _ in range(3):
        config = (await described(world))["DeliveryStreamEncryptionConfiguration"]
        if config["Status"] != pending:
            assert config["Status"] == target, config
            return dict(config)
        await world.deliverer.run_pass()
    raise AssertionError(f"still {pending}")


async def test_the_providers_calls_and_reads(world: World) -> None:
    await world.role("tf-firehose")
    await world.bucket("tf-landing")
    key = await new_key(world)
    made = await world.client(
        "CreateDeliveryStream",
        DeliveryStreamName="tf",
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration=provider_destination(world),
        Tags=[{"Key": "Name", "Value": "tf"}],
    )
    assert made["DeliveryStreamARN"].endswith(":deliverystream/tf")
    assert (await described(world))["DeliveryStreamStatus"] == "CREATING"
    await world.deliverer.run_pass()
    assert (await described(world))["DeliveryStreamStatus"] == "ACTIVE"
    await world.client(
        "StartDeliveryStreamEncryption",
        DeliveryStreamName="tf",
        DeliveryStreamEncryptionConfigurationInput={
            "KeyType": "CUSTOMER_MANAGED_CMK", "KeyARN": key,
        },
    )  # fmt: skip
    await wait(world, "ENABLING", "ENABLED")
    description = await described(world)
    assert server_side_encryption(description) == {
        "enabled": True, "key_type": "CUSTOMER_MANAGED_CMK", "key_arn": key,
    }  # fmt: skip
    s3 = description["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert "FileExtension" not in s3 and s3["CustomTimeZone"] == "UTC"
    assert s3["EncryptionConfiguration"] == {"NoEncryptionConfig": "NoEncryption"}
    tags = await world.client("ListTagsForDeliveryStream", DeliveryStreamName="tf")
    assert tags["Tags"] == [{"Key": "Name", "Value": "tf"}]
    # A key change that fails at the pass: the provider's wait reports the description.
    other = await new_key(world)
    await world.client(
        "StartDeliveryStreamEncryption",
        DeliveryStreamName="tf",
        DeliveryStreamEncryptionConfigurationInput={
            "KeyType": "CUSTOMER_MANAGED_CMK", "KeyARN": other,
        },
    )  # fmt: skip
    await world.customer_keys.schedule_key_deletion(root(world), other, 7)
    config = await wait(world, "ENABLING", "ENABLING_FAILED")
    assert config["FailureDescription"]["Type"] == "INVALID_KMS_KEY"
    assert config["FailureDescription"]["Details"]
    put = await world.client("PutRecord", DeliveryStreamName="tf", Record={"Data": b"x"})
    assert put["Encrypted"] is True  # still under the key that was enabled
    # server_side_encryption { enabled = false }: Stop, then wait for DISABLED.
    await world.client("StopDeliveryStreamEncryption", DeliveryStreamName="tf")
    await wait(world, "DISABLING", "DISABLED")
    assert server_side_encryption(await described(world)) == {
        "enabled": False, "key_type": "AWS_OWNED_CMK",
    }  # fmt: skip
    await world.client("DeleteDeliveryStream", DeliveryStreamName="tf", AllowForceDelete=False)
    await world.fails("DescribeDeliveryStream", "ResourceNotFoundException",
                      DeliveryStreamName="tf")  # fmt: skip


async def test_cloudwatch_logging_options_enabled_are_taken_and_shown_back(
    world: World,
) -> None:
    """``cloudwatch_logging_options { enabled = true }``: refused by decision 0240 while no
    error went to a log group; taken since decision 0270, at creation and at
    UpdateDestination, and described back as given (the provider's plan converges); the
    provider's default (disabled, empty names) is described ``{"Enabled": false}``."""
    await world.role("tf-firehose")
    await world.bucket("tf-landing")
    await world.client(
        "CreateDeliveryStream",
        DeliveryStreamName="tf",
        ExtendedS3DestinationConfiguration=provider_destination(world),
    )
    await world.deliverer.run_pass()
    s3 = (await described(world))["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert s3["CloudWatchLoggingOptions"] == {"Enabled": False}
    logging = {"Enabled": True, "LogGroupName": "/tf/orders", "LogStreamName": "delivery"}
    await world.client(
        "UpdateDestination",
        DeliveryStreamName="tf",
        CurrentDeliveryStreamVersionId="1",
        DestinationId="destinationId-000000000001",
        ExtendedS3DestinationUpdate={"CloudWatchLoggingOptions": logging},
    )
    description = await described(world)
    assert description["VersionId"] == "2"
    s3 = description["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert s3["CloudWatchLoggingOptions"] == logging
    message = await world.fails(
        "UpdateDestination",
        "InvalidArgumentException",
        DeliveryStreamName="tf",
        CurrentDeliveryStreamVersionId="2",
        DestinationId="destinationId-000000000001",
        ExtendedS3DestinationUpdate={"CloudWatchLoggingOptions": {"Enabled": True}},
    )
    assert "LogGroupName is required" in message


async def test_the_providers_disabled_blocks_read_back_as_before(world: World) -> None:
    """Decision 0270: the disabled processing and logging the provider sends for absent
    blocks are described as they were before (none, and ``{"Enabled": false}``), so a plan
    without them converges; a dynamic_partitioning_configuration block reads back."""
    await world.role("tf-firehose")
    await world.bucket("tf-landing")
    await world.client(
        "CreateDeliveryStream",
        DeliveryStreamName="tf",
        ExtendedS3DestinationConfiguration=provider_destination(world)
        | {"DynamicPartitioningConfiguration": {"Enabled": False,
                                                "RetryOptions": {"DurationInSeconds": 600}}},
    )  # fmt: skip
    s3 = (await described(world))["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert "ProcessingConfiguration" not in s3
    assert s3["CloudWatchLoggingOptions"] == {"Enabled": False}
    assert s3["DynamicPartitioningConfiguration"] == {
        "Enabled": False, "RetryOptions": {"DurationInSeconds": 600},
    }  # fmt: skip
