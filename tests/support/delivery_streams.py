"""A Firehose delivery stream as the end-to-end tests wait on it through boto3's ``firehose``
client: its description once CreateDeliveryStream's stream has left ``CREATING``, asserted
``ACTIVE`` (the deadline is generous: a loaded CI machine is slow); and the bodies it has
delivered into a bucket, to poll until what a test sent has landed."""

from __future__ import annotations

from typing import Any

from support.waiting import eventually

__all__ = ["active_stream", "delivered_bodies"]


def active_stream(firehose: Any, name: str, within: float = 30.0) -> dict[str, Any]:
    """DescribeDeliveryStream's ``DeliveryStreamDescription`` of ``name`` once it is no longer
    ``CREATING``; an AssertionError if it is then anything but ``ACTIVE``."""

    def described() -> dict[str, Any]:
        answer = firehose.describe_delivery_stream(DeliveryStreamName=name)
        return dict(answer["DeliveryStreamDescription"])

    description = eventually(
        described, lambda d: d["DeliveryStreamStatus"] != "CREATING", within=within
    )
    assert description["DeliveryStreamStatus"] == "ACTIVE", description
    return description


def delivered_bodies(s3: Any, bucket: str, prefix: str = "") -> list[bytes]:
    """The bodies of the objects under ``prefix`` in ``bucket`` (a stream's destination), in
    their keys' order — a stream's keys begin with their time, so the order they came."""
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return [s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed]
