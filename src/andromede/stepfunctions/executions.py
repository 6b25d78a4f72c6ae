"""Step Functions' executions as values (decision 0271): an execution of a state machine,
its status, where it stands (its interpreter's cursor), and the history events it left.

An execution keeps the definition and role its machine had when it started (AWS runs an
execution on that revision whatever the machine becomes). ``wake_at`` is when its runner
should next step it (now while it runs; a Wait's end while it waits); ``revision`` counts its
writes (compare-and-set) and the lease says which gateway drives it."""

from __future__ import annotations

import dataclasses
import re
from contextvars import ContextVar
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from andromede.stepfunctions.errors import InvalidArn, InvalidName, ValidationException

__all__ = [
    "EXECUTION_TRACE",
    "Execution",
    "ExecutionStatus",
    "HistoryEvent",
    "check_execution_name",
    "check_trace_header",
    "execution_arn",
    "split_execution_arn",
]

_NAME: Final = re.compile(r"[^\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]{1,80}")
_MAX_TRACE: Final = 256  # StartExecution's traceHeader: 0 to 256 ASCII characters

# The trace header of the execution whose step runs (decision 0351): set by the runners
# around an execution's steps, read by the task integrations, which call Lambda, SQS, SNS,
# EventBridge and Step Functions with it so that a recursive loop through a state machine
# is counted. A context variable rather than a ``$$`` member: the context object is the
# customer's to read, and AWS's holds no trace.
EXECUTION_TRACE: ContextVar[str | None] = ContextVar("execution_trace", default=None)


class ExecutionStatus(Enum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    ABORTED = "ABORTED"


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """One event of an execution's history as GetExecutionHistory gives it (``details`` under
    ``details_name``; ``timestamp`` in ms)."""

    id: int
    previous: int
    timestamp: int
    type: str
    details_name: str | None = None
    details: dict[str, Any] = dataclasses.field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "previous": self.previous,
            "timestamp": self.timestamp,
            "type": self.type,
            "details_name": self.details_name,
            "details": self.details,
        }

    @classmethod
    def of_json(cls, value: dict[str, Any]) -> HistoryEvent:
        return cls(
            int(value["id"]),
            int(value["previous"]),
            int(value["timestamp"]),
            str(value["type"]),
            value.get("details_name"),
            dict(value.get("details") or {}),
        )


@dataclass(frozen=True, slots=True)
class Execution:
    tenant_id: str
    region: str
    machine_name: str
    name: str
    definition: str
    role_arn: str
    input: str
    started: int  # ms
    status: ExecutionStatus = ExecutionStatus.RUNNING
    stopped: int | None = None
    output: str | None = None
    error: str | None = None
    cause: str | None = None
    cursor: dict[str, Any] | None = None
    wake_at: int = 0
    transitions: int = 0
    events: int = 0
    revision_id: str = ""
    token_key: str = ""  # hex: the MAC key of its task tokens
    parent: dict[str, Any] | None = None  # a .sync parent's task: its token and pattern
    waiting_activity: str | None = None  # the activity (name) whose task it is parked on
    activity_taken: bool = False  # that task given to a worker already
    version: int | None = None  # the version it was started by (decision 0283)
    alias: str | None = None  # the alias it was started through
    redrive_count: int = 0
    redriven: int | None = None  # ms: its last redrive
    resume: dict[str, Any] | None = None  # where a redrive resumes: the cursor it ended at
    redrive_token: str | None = None  # the clientToken of its last redrive
    revision: int = 1
    trace: str | None = None  # its caller's X-Amzn-Trace-Id (decision 0351)

    @property
    def arn(self) -> str:
        return execution_arn(self.region, self.tenant_id, self.machine_name, self.name)

    @property
    def machine_arn(self) -> str:
        return f"arn:aws:states:{self.region}:{self.tenant_id}:stateMachine:{self.machine_name}"

    @property
    def version_arn(self) -> str | None:
        return None if self.version is None else f"{self.machine_arn}:{self.version}"

    @property
    def alias_arn(self) -> str | None:
        return None if self.alias is None else f"{self.machine_arn}:{self.alias}"

    def changed(self, **fields: Any) -> Execution:
        return dataclasses.replace(self, revision=self.revision + 1, **fields)

    def document(self) -> dict[str, Any]:
        """What is sealed at rest: the customer's data of the execution."""
        return {
            "definition": self.definition,
            "input": self.input,
            "output": self.output,
            "error": self.error,
            "cause": self.cause,
            "cursor": self.cursor,
            "token_key": self.token_key,
            "parent": self.parent,
            "resume": self.resume,
            "redrive_token": self.redrive_token,
            "trace": self.trace,
        }


def execution_arn(region: str, tenant_id: str, machine: str, name: str) -> str:
    return f"arn:aws:states:{region}:{tenant_id}:execution:{machine}:{name}"


def split_execution_arn(arn: Any, region: str) -> tuple[str, str, str]:
    """(account, machine name, execution name) of an execution's ARN in ``region``."""
    parts = arn.split(":") if isinstance(arn, str) and len(arn) <= 256 else []
    if len(parts) < 6 or parts[:3] != ["arn", "aws", "states"]:
        raise InvalidArn(f"Invalid Arn: 'Invalid ARN prefix: {str(arn)[:256]}'")
    if parts[5] != "execution" or len(parts) != 8:
        raise InvalidArn(f"Invalid Arn: 'Resource type not valid in this context: {arn}'")
    if parts[3] != region or not re.fullmatch(r"\d{12}", parts[4]):
        raise InvalidArn(f"Invalid Arn: 'Invalid ARN: {arn}'")
    return parts[4], parts[6], parts[7]


def check_trace_header(value: Any) -> str | None:
    """StartExecution's ``traceHeader`` (the caller's ``X-Amzn-Trace-Id`` when the body names
    none): at most 256 ASCII characters, as AWS's model bounds it; empty is none."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > _MAX_TRACE or not value.isascii():
        raise ValidationException(
            "1 validation error detected: Value at 'traceHeader' failed to satisfy "
            f"constraint: Member must have length less than or equal to {_MAX_TRACE}"
        )
    return value


def check_execution_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidName(f"Invalid Name: '{str(name)[:80]}'")
    return name
