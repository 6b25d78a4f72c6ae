"""Step Functions' activities (decision 0271): named queues of work that a Task state
schedules (its resource the activity's ARN) and a worker takes with GetActivityTask and
answers by the task's token — the way work is done without Lambda. An activity is a value
here; its tasks are the executions parked on it (``Execution.waiting_activity``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from andromede.stepfunctions.errors import InvalidArn
from andromede.stepfunctions.model import check_name

__all__ = ["Activity", "activity_arn", "check_activity_name", "split_activity_arn"]


@dataclass(frozen=True, slots=True)
class Activity:
    tenant_id: str
    region: str
    name: str
    created: int  # ms
    tags: tuple[tuple[str, str], ...] = ()

    @property
    def arn(self) -> str:
        return activity_arn(self.region, self.tenant_id, self.name)


def activity_arn(region: str, tenant_id: str, name: str) -> str:
    return f"arn:aws:states:{region}:{tenant_id}:activity:{name}"


def check_activity_name(name: Any) -> str:
    return check_name(name)  # the same rule as a state machine's


def split_activity_arn(arn: Any, region: str) -> tuple[str, str]:
    """(account, name) of an activity's ARN in ``region``; InvalidArn otherwise."""
    parts = arn.split(":") if isinstance(arn, str) and len(arn) <= 256 else []
    if len(parts) != 7 or parts[:3] != ["arn", "aws", "states"] or parts[5] != "activity":
        raise InvalidArn(f"Invalid Arn: 'Resource type not valid in this context: {arn}'")
    if parts[3] != region or not parts[4].isdigit() or len(parts[4]) != 12:
        raise InvalidArn(f"Invalid Arn: 'Invalid ARN: {arn}'")
    return parts[4], parts[6]
