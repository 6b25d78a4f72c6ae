"""Kinesis' record size and account settings actions (decision 0260): UpdateMaxRecordSize
(authorised ``kinesis:UpdateMaxRecordSize`` on the stream's ARN), DescribeAccountSettings and
UpdateAccountSettings (``kinesis:<Action>`` on ``*``, as AWS's IAM lists them without a
resource), answered in the API model's shape: the minimum throughput billing commitment's
``Status`` and its times as epoch seconds, each present once set."""

from __future__ import annotations

from typing import Any, Final

from andromede.kinesis.accounts import BillingCommitment
from andromede.kinesis.model import MAX_RECORD_KIB, MIN_RECORD_KIB
from andromede.kinesisapi.params import Handler, KinesisCall, invalid
from andromede.kinesisapi.streams import named_stream

__all__ = ["ACCOUNT_ACTIONS"]

_STATUSES: Final = ("ENABLED", "DISABLED")


async def update_max_record_size(call: KinesisCall) -> dict[str, Any]:
    arn = call.required("StreamARN", max_length=2048)
    kib = call.integer("MaxRecordSizeInKiB", minimum=MIN_RECORD_KIB, maximum=MAX_RECORD_KIB)
    if kib is None:
        raise invalid("MaxRecordSizeInKiB", "Member must not be null")
    stream = await named_stream(call, "UpdateMaxRecordSize", None, call.arn_name(arn))
    await call.kinesis.set_max_record_size(call.tenant_id, stream.name, kib)
    return {}


def _commitment(commitment: BillingCommitment) -> dict[str, Any]:
    answer: dict[str, Any] = {"Status": commitment.status.value}
    for field, ms in (("StartedAt", commitment.started_at), ("EndedAt", commitment.ended_at),
                      ("EarliestAllowedEndAt", commitment.earliest_end)):  # fmt: skip
        if ms is not None:
            answer[field] = round(ms / 1000, 3)
    return {"MinimumThroughputBillingCommitment": answer}


async def describe_account_settings(call: KinesisCall) -> dict[str, Any]:
    await call.authorise("kinesis:DescribeAccountSettings", "*", {})
    return _commitment(await call.kinesis.commitment(call.tenant_id))


async def update_account_settings(call: KinesisCall) -> dict[str, Any]:
    asked = call.mapping("MinimumThroughputBillingCommitment")
    if asked is None:
        raise invalid("MinimumThroughputBillingCommitment", "Member must not be null")
    status = call.string("Status", required=True, source=asked)
    if status not in _STATUSES:
        raise invalid("MinimumThroughputBillingCommitment.Status",
                      "Member must satisfy enum value set: [ENABLED, DISABLED]")  # fmt: skip
    await call.authorise("kinesis:UpdateAccountSettings", "*", {})
    changed = await call.kinesis.set_commitment(call.tenant_id, enable=status == "ENABLED")
    return _commitment(changed)


ACCOUNT_ACTIONS: Final[dict[str, Handler]] = {
    "DescribeAccountSettings": describe_account_settings,
    "UpdateAccountSettings": update_account_settings,
    "UpdateMaxRecordSize": update_max_record_size,
}
