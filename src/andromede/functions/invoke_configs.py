"""Lambda's asynchronous invocation configurations (decision 0300), no I/O but the memory
twin: a function's or a qualifier's ``FunctionEventInvokeConfig`` (``MaximumRetryAttempts``,
``MaximumEventAgeInSeconds``, the ``OnSuccess`` and ``OnFailure`` destinations) as a value,
the checks AWS makes on them (the bounds, a destination an SQS queue, SNS topic, EventBridge
bus or Lambda function of the account and Region, never the function itself, or an S3
bucket for ``OnFailure`` only — decision 0311), a
``DeadLetterConfig``'s target (a queue or a topic), the ``InvokeConfigStore`` interface and
its in-memory twin (SQL in ``invoke_configs_sql``).

A configuration is kept per function and qualifier (``$LATEST`` when the call names none),
as AWS keeps one per version or alias."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Final, Protocol

from andromede.functions.errors import InvalidParameterValue
from andromede.functions.qualifier_rows import MemoryQualifierRows

__all__ = [
    "DEFAULT_MAX_AGE",
    "DEFAULT_RETRIES",
    "DestinationCheck",
    "EventInvokeConfig",
    "InvokeConfigStore",
    "MemoryInvokeConfigStore",
    "checked_config",
    "checked_dead_letter",
    "destination_service",
]

DEFAULT_RETRIES: Final = 2  # AWS: two retries after a function error
DEFAULT_MAX_AGE: Final = 21_600  # AWS: six hours
MIN_MAX_AGE: Final = 60
_ARN: Final = re.compile(
    r"arn:aws[a-zA-Z-]*:(?P<service>sqs|sns|events|lambda):(?P<region>[a-z0-9-]+):"
    r"(?P<account>\d{12}):(?P<resource>.+)"
)
_RESOURCE: Final = {
    "sqs": re.compile(r"[a-zA-Z0-9_-]{1,80}(\.fifo)?"),
    "sns": re.compile(r"[a-zA-Z0-9_-]{1,256}(\.fifo)?"),
    "events": re.compile(r"event-bus/[a-zA-Z0-9/._-]{1,256}"),
    "lambda": re.compile(r"function:[a-zA-Z0-9_-]{1,64}(:(\$LATEST|[a-zA-Z0-9_-]{1,128}))?"),
}
# An S3 bucket's ARN names no Region nor account: the bucket's own are checked when the role
# is (function_buckets).
BUCKET_ARN: Final = re.compile(r"arn:aws[a-zA-Z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


@dataclass(frozen=True, slots=True)
class EventInvokeConfig:
    tenant_id: str
    name: str
    qualifier: str  # "$LATEST", a version number or an alias
    maximum_retry_attempts: int | None = None
    maximum_event_age: int | None = None  # seconds
    on_success: str = ""  # a destination's ARN
    on_failure: str = ""
    last_modified: int = 0  # ms

    def replaced(self, **fields: object) -> EventInvokeConfig:
        return replace(self, **fields)  # type: ignore[arg-type]

    @property
    def retries(self) -> int:
        return (
            DEFAULT_RETRIES if self.maximum_retry_attempts is None else self.maximum_retry_attempts
        )

    @property
    def max_age_ms(self) -> int:
        age = DEFAULT_MAX_AGE if self.maximum_event_age is None else self.maximum_event_age
        return age * 1000


def destination_service(arn: str) -> str:
    """``sqs``, ``sns``, ``events``, ``lambda`` or ``s3``: the service a checked destination
    is of."""
    return arn.split(":", 3)[2]


def _destination(
    value: object, tenant_id: str, region: str, function_name: str, member: str
) -> str:
    if isinstance(value, dict):
        value = value.get("Destination")
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or len(value) > 350:
        raise InvalidParameterValue(f"{member} Destination must be an ARN")
    if BUCKET_ARN.fullmatch(value) is not None:
        if member != "OnFailure":
            raise InvalidParameterValue(
                f"The destination ARN {value} is invalid. An S3 bucket can only be an "
                "OnFailure destination."
            )
        return value
    found = _ARN.fullmatch(value)
    if found is None or _RESOURCE[found["service"]].fullmatch(found["resource"]) is None:
        raise InvalidParameterValue(f"The destination ARN {value} is invalid.")
    if found["account"] != tenant_id or found["region"] != region:
        raise InvalidParameterValue(
            f"The destination ARN {value} is invalid: it must be of this account and Region."
        )
    if found["service"] == "lambda" and found["resource"].split(":")[1] == function_name:
        raise InvalidParameterValue("You can't specify the function as a destination for itself.")
    return value


def _bounded(value: object, low: int, high: int, member: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        bound = (
            f"greater than or equal to {low}" if isinstance(value, int) and value < low
            else f"less than or equal to {high}"
        )  # fmt: skip
        raise InvalidParameterValue(
            f"1 validation error detected: Value '{str(value)[:32]}' at '{member}' failed to "
            f"satisfy constraint: Member must have value {bound}"
        )
    return value


def checked_config(
    params: dict[str, Any], current: EventInvokeConfig, region: str, *, merge: bool
) -> EventInvokeConfig:
    """``current`` with the call's members: PutFunctionEventInvokeConfig replaces every
    member (``merge`` False: one not given is reset), UpdateFunctionEventInvokeConfig only
    the ones given, as AWS does."""
    retries = params.get("MaximumRetryAttempts")
    age = params.get("MaximumEventAgeInSeconds")
    destinations = params.get("DestinationConfig")
    if destinations is not None and not isinstance(destinations, dict):
        raise InvalidParameterValue("DestinationConfig must have OnSuccess and OnFailure")
    given = destinations or {}
    if not merge:
        current = current.replaced(
            maximum_retry_attempts=None, maximum_event_age=None, on_success="", on_failure=""
        )
    changes: dict[str, object] = {}
    if retries is not None:
        changes["maximum_retry_attempts"] = _bounded(
            retries, 0, DEFAULT_RETRIES, "maximumRetryAttempts"
        )
    if age is not None:
        changes["maximum_event_age"] = _bounded(
            age, MIN_MAX_AGE, DEFAULT_MAX_AGE, "maximumEventAgeInSeconds"
        )
    for member, field_name in (("OnSuccess", "on_success"), ("OnFailure", "on_failure")):
        if member in given:
            changes[field_name] = _destination(
                given[member], current.tenant_id, region, current.name, member
            )
    return current.replaced(**changes)


def checked_dead_letter(value: object, tenant_id: str, region: str) -> str:
    """A ``DeadLetterConfig``'s ``TargetArn``: an SQS queue or SNS topic of the account
    ("" when the config is empty, which removes it, as AWS reads it)."""
    if value is None:
        return ""
    if not isinstance(value, dict):
        raise InvalidParameterValue("DeadLetterConfig must give a TargetArn")
    target = value.get("TargetArn")
    if target is None or target == "":
        return ""
    found = _ARN.fullmatch(target) if isinstance(target, str) else None
    if (
        found is None
        or found["service"] not in ("sqs", "sns")
        or _RESOURCE[found["service"]].fullmatch(found["resource"]) is None
        or found["account"] != tenant_id
        or found["region"] != region
    ):
        raise InvalidParameterValue(
            f"The target ARN {str(target)[:350]} is invalid: a dead-letter queue is an SQS "
            "queue or SNS topic of this account and Region."
        )
    return str(target)


class DestinationCheck(Protocol):
    async def __call__(self, tenant_id: str, role_arn: str, destination: str) -> None:
        """InvalidParameterValue, in AWS's words, when the function's execution role may not
        send to ``destination`` (a destination's or a dead-letter queue's ARN)."""
        ...


class InvokeConfigStore(Protocol):
    async def put(self, config: EventInvokeConfig) -> None:
        """Keep ``config``, replacing the function's and qualifier's."""

    async def get(self, tenant_id: str, name: str, qualifier: str) -> EventInvokeConfig | None: ...

    async def configs(self, tenant_id: str, name: str) -> list[EventInvokeConfig]:
        """The function's configurations, by qualifier."""

    async def delete(self, tenant_id: str, name: str, qualifier: str | None) -> int:
        """Remove one qualifier's configuration, or every one of the function (None)."""

    async def forget_tenant(self, tenant_id: str) -> int: ...


class MemoryInvokeConfigStore(MemoryQualifierRows[EventInvokeConfig]):
    async def put(self, config: EventInvokeConfig) -> None:
        self._keep(config)

    async def configs(self, tenant_id: str, name: str) -> list[EventInvokeConfig]:
        return self._function_items(tenant_id, name)
