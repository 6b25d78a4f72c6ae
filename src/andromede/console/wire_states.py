"""AWS Step Functions' calls (decision 0271) the console's state machine pages make (decision
0288), in process as the signed-in principal through Step Functions' JSON 1.0 protocol
(``stepfunctionsapi.app``, ``AWSStepFunctions.<Action>``): its authorisation (``states:<Action>``
on the machine's or execution's ARN, ``iam:PassRole`` on the role), its checks of a definition,
audit, metering and errors answer them. Each answer is read into the small rows the pages show;
nothing here decides what Step Functions allows. Decision 0296: versions (each described for
its description), aliases (each described for its routing) and RedriveExecution.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from andromede.console.wire import JsonWire
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = [
    "AliasRow",
    "Diagnostic",
    "ExecutionDetail",
    "ExecutionRow",
    "HistoryEvent",
    "MachineDetail",
    "MachineRow",
    "StatesWire",
    "VersionRow",
    "execution_arn",
]


_SHOWN: Final = 50  # versions and aliases a machine's page lists (AWS keeps 1,000 versions)


def _when(value: Any) -> str:
    """An epoch-seconds timestamp as the pages show it ("" when absent)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return ""
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _items(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _pretty(text: Any) -> str:
    """A JSON document indented as the pages show it; any other text as it came."""
    if not isinstance(text, str):
        return ""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def execution_arn(machine_arn: str, name: str) -> str:
    """An execution's ARN from its machine's and its name, as Step Functions makes it."""
    return f"{machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"


@dataclass(frozen=True, slots=True)
class MachineRow:
    """One of ListStateMachines' machines."""

    name: str
    arn: str
    machine_type: str
    created: str


@dataclass(frozen=True, slots=True)
class MachineDetail:
    """A machine as DescribeStateMachine tells it; its definition as stored and indented."""

    name: str
    arn: str
    machine_type: str
    role_arn: str
    definition: str
    created: str
    logging_level: str
    include_execution_data: bool
    log_groups: list[str]
    tracing: bool

    @property
    def pretty_definition(self) -> str:
        return _pretty(self.definition)


@dataclass(frozen=True, slots=True)
class ExecutionRow:
    """One of ListExecutions' executions."""

    name: str
    arn: str
    status: str
    started: str
    stopped: str


@dataclass(frozen=True, slots=True)
class ExecutionDetail:
    """An execution as DescribeExecution tells it; its input and output indented."""

    name: str
    arn: str
    machine_arn: str
    status: str
    started: str
    stopped: str
    input: str
    output: str | None
    error: str | None
    cause: str | None


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """One event of GetExecutionHistory: its id, type, time, the state it names (an entered or
    exited state's ``name``) and its details' other fields as JSON."""

    event_id: int
    event_type: str
    timestamp: str
    state_name: str
    details: str


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One of ValidateStateMachineDefinition's diagnostics."""

    severity: str
    code: str
    message: str
    location: str = ""


@dataclass(frozen=True, slots=True)
class VersionRow:
    """A published version: its number (the ARN's last part), ARN, description, date."""

    number: str
    arn: str
    description: str
    created: str


@dataclass(frozen=True, slots=True)
class AliasRow:
    """An alias: its name, ARN, and the versions it routes to with their weights (%)."""

    name: str
    arn: str
    routing: list[tuple[str, int]]
    description: str


@dataclass(frozen=True, slots=True)
class Page:
    """A page of rows and the token of the next ("" at the end)."""

    rows: list[Any] = field(default_factory=list)
    next_token: str = ""


def _machine(answer: dict[str, Any]) -> MachineDetail:
    logging = _mapping(answer.get("loggingConfiguration"))
    groups = [
        str(_mapping(d.get("cloudWatchLogsLogGroup")).get("logGroupArn", ""))
        for d in _items(logging.get("destinations"))
    ]
    return MachineDetail(
        name=str(answer.get("name", "")),
        arn=str(answer.get("stateMachineArn", "")),
        machine_type=str(answer.get("type", "")),
        role_arn=str(answer.get("roleArn", "")),
        definition=str(answer.get("definition", "")),
        created=_when(answer.get("creationDate")),
        logging_level=str(logging.get("level") or "OFF"),
        include_execution_data=logging.get("includeExecutionData") is True,
        log_groups=[g for g in groups if g],
        tracing=_mapping(answer.get("tracingConfiguration")).get("enabled") is True,
    )


def _execution(item: dict[str, Any]) -> ExecutionRow:
    return ExecutionRow(
        name=str(item.get("name", "")),
        arn=str(item.get("executionArn", "")),
        status=str(item.get("status", "")),
        started=_when(item.get("startDate")),
        stopped=_when(item.get("stopDate")),
    )


def _event(item: dict[str, Any]) -> HistoryEvent:
    """An event's details are under its one ``…EventDetails`` member, whichever it is."""
    details: dict[str, Any] = {}
    for key, value in item.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            details = value
            break
    name = details.get("name")
    shown = {k: v for k, v in details.items() if k != "name"}
    event_id = item.get("id")
    return HistoryEvent(
        event_id=event_id if isinstance(event_id, int) else 0,
        event_type=str(item.get("type", "")),
        timestamp=_when(item.get("timestamp")),
        state_name=name if isinstance(name, str) else "",
        details=json.dumps(shown, ensure_ascii=False, sort_keys=True) if shown else "",
    )


class StatesWire(JsonWire):
    """The state machine and execution calls the console makes, as ``principal``."""

    target_prefix = "AWSStepFunctions."
    content_type = "application/x-amz-json-1.0"
    internal_error = "InternalFailure"

    # -- state machines -------------------------------------------------------------------
    async def machines(
        self, origin: Scope, principal: Principal, *, token: str, limit: int
    ) -> Page:
        payload: dict[str, Any] = {"maxResults": limit}
        if token:
            payload["nextToken"] = token
        answer = await self._json(origin, principal, "ListStateMachines", payload)
        rows = [
            MachineRow(
                name=str(m.get("name", "")),
                arn=str(m.get("stateMachineArn", "")),
                machine_type=str(m.get("type", "")),
                created=_when(m.get("creationDate")),
            )
            for m in _items(answer.get("stateMachines"))
        ]
        return Page(rows, str(answer.get("nextToken") or ""))

    async def machine(self, origin: Scope, principal: Principal, arn: str) -> MachineDetail:
        answer = await self._json(
            origin, principal, "DescribeStateMachine", {"stateMachineArn": arn}
        )
        return _machine(answer)

    async def create(
        self,
        origin: Scope,
        principal: Principal,
        *,
        name: str,
        machine_type: str,
        definition: str,
        role_arn: str,
        tags: Sequence[tuple[str, str]],
    ) -> str:
        """The new machine's ARN."""
        payload: dict[str, Any] = {
            "name": name,
            "type": machine_type,
            "definition": definition,
            "roleArn": role_arn,
        }
        if tags:
            payload["tags"] = [{"key": k, "value": v} for k, v in tags]
        answer = await self._json(origin, principal, "CreateStateMachine", payload)
        return str(answer.get("stateMachineArn", ""))

    async def update(
        self, origin: Scope, principal: Principal, arn: str, *, definition: str, role_arn: str
    ) -> None:
        payload = {"stateMachineArn": arn, "definition": definition}
        if role_arn:
            payload["roleArn"] = role_arn
        await self._json(origin, principal, "UpdateStateMachine", payload)

    async def set_logging(
        self,
        origin: Scope,
        principal: Principal,
        arn: str,
        *,
        level: str,
        include_execution_data: bool,
        log_group_arn: str,
    ) -> None:
        """UpdateStateMachine of the logging configuration alone: a level, whether execution
        data is logged, the log group (``…:*``; none sent when empty)."""
        logging: dict[str, Any] = {
            "level": level,
            "includeExecutionData": include_execution_data,
        }
        if log_group_arn:
            logging["destinations"] = [{"cloudWatchLogsLogGroup": {"logGroupArn": log_group_arn}}]
        payload = {"stateMachineArn": arn, "loggingConfiguration": logging}
        await self._json(origin, principal, "UpdateStateMachine", payload)

    async def delete(self, origin: Scope, principal: Principal, arn: str) -> None:
        await self._json(origin, principal, "DeleteStateMachine", {"stateMachineArn": arn})

    async def validate(
        self, origin: Scope, principal: Principal, definition: str, machine_type: str
    ) -> list[Diagnostic]:
        """ValidateStateMachineDefinition's diagnostics of ``definition`` (none: valid)."""
        payload: dict[str, Any] = {"definition": definition}
        if machine_type in ("STANDARD", "EXPRESS"):
            payload["type"] = machine_type
        answer = await self._json(origin, principal, "ValidateStateMachineDefinition", payload)
        return [
            Diagnostic(
                severity=str(d.get("severity", "")),
                code=str(d.get("code", "")),
                message=str(d.get("message", "")),
                location=str(d.get("location", "")),
            )
            for d in _items(answer.get("diagnostics"))
        ]

    # -- executions -----------------------------------------------------------------------
    async def executions(
        self,
        origin: Scope,
        principal: Principal,
        machine_arn: str,
        *,
        status: str,
        token: str,
        limit: int,
    ) -> Page:
        payload: dict[str, Any] = {"stateMachineArn": machine_arn, "maxResults": limit}
        if status:
            payload["statusFilter"] = status
        if token:
            payload["nextToken"] = token
        answer = await self._json(origin, principal, "ListExecutions", payload)
        rows = [_execution(e) for e in _items(answer.get("executions"))]
        return Page(rows, str(answer.get("nextToken") or ""))

    async def start(
        self, origin: Scope, principal: Principal, machine_arn: str, *, name: str, input: str
    ) -> str:
        """The new execution's ARN."""
        payload: dict[str, Any] = {"stateMachineArn": machine_arn, "input": input or "{}"}
        if name:
            payload["name"] = name
        answer = await self._json(origin, principal, "StartExecution", payload)
        return str(answer.get("executionArn", ""))

    async def execution(self, origin: Scope, principal: Principal, arn: str) -> ExecutionDetail:
        answer = await self._json(origin, principal, "DescribeExecution", {"executionArn": arn})
        output, error, cause = answer.get("output"), answer.get("error"), answer.get("cause")
        return ExecutionDetail(
            name=str(answer.get("name", "")),
            arn=str(answer.get("executionArn", "")),
            machine_arn=str(answer.get("stateMachineArn", "")),
            status=str(answer.get("status", "")),
            started=_when(answer.get("startDate")),
            stopped=_when(answer.get("stopDate")),
            input=_pretty(answer.get("input")),
            output=_pretty(output) if isinstance(output, str) else None,
            error=error if isinstance(error, str) else None,
            cause=cause if isinstance(cause, str) else None,
        )

    async def stop(
        self, origin: Scope, principal: Principal, arn: str, *, error: str, cause: str
    ) -> None:
        payload = {"executionArn": arn}
        if error:
            payload["error"] = error
        if cause:
            payload["cause"] = cause
        await self._json(origin, principal, "StopExecution", payload)

    async def history(
        self, origin: Scope, principal: Principal, arn: str, *, token: str, limit: int
    ) -> Page:
        payload: dict[str, Any] = {"executionArn": arn, "maxResults": limit}
        if token:
            payload["nextToken"] = token
        answer = await self._json(origin, principal, "GetExecutionHistory", payload)
        rows = [_event(e) for e in _items(answer.get("events"))]
        return Page(rows, str(answer.get("nextToken") or ""))

    # -- tags -----------------------------------------------------------------------------
    async def tags(self, origin: Scope, principal: Principal, arn: str) -> list[tuple[str, str]]:
        answer = await self._json(origin, principal, "ListTagsForResource", {"resourceArn": arn})
        return [
            (str(t.get("key", "")), str(t.get("value", ""))) for t in _items(answer.get("tags"))
        ]

    async def tag(
        self, origin: Scope, principal: Principal, arn: str, tags: Sequence[tuple[str, str]]
    ) -> None:
        payload = {"resourceArn": arn, "tags": [{"key": k, "value": v} for k, v in tags]}
        await self._json(origin, principal, "TagResource", payload)

    async def untag(self, origin: Scope, principal: Principal, arn: str, key: str) -> None:
        payload = {"resourceArn": arn, "tagKeys": [key]}
        await self._json(origin, principal, "UntagResource", payload)

    # -- versions, aliases and redrive (decisions 0283, 0296) ------------------------------
    async def versions(
        self, origin: Scope, principal: Principal, machine_arn: str
    ) -> list[VersionRow]:
        """The machine's versions, newest first, each described for its description."""
        payload = {"stateMachineArn": machine_arn, "maxResults": _SHOWN}
        answer = await self._json(origin, principal, "ListStateMachineVersions", payload)
        rows = []
        for item in _items(answer.get("stateMachineVersions")):
            arn = str(item.get("stateMachineVersionArn", ""))
            described = await self._json(
                origin, principal, "DescribeStateMachine", {"stateMachineArn": arn}
            )
            rows.append(
                VersionRow(
                    number=arn.rsplit(":", 1)[-1],
                    arn=arn,
                    description=str(described.get("description", "")),
                    created=_when(item.get("creationDate")),
                )
            )
        return rows

    async def aliases(
        self, origin: Scope, principal: Principal, machine_arn: str
    ) -> list[AliasRow]:
        """The machine's aliases, each described for its routing."""
        payload = {"stateMachineArn": machine_arn, "maxResults": _SHOWN}
        answer = await self._json(origin, principal, "ListStateMachineAliases", payload)
        rows = []
        for item in _items(answer.get("stateMachineAliases")):
            arn = str(item.get("stateMachineAliasArn", ""))
            described = await self._json(
                origin, principal, "DescribeStateMachineAlias", {"stateMachineAliasArn": arn}
            )
            routing = [
                (
                    str(r.get("stateMachineVersionArn", "")).rsplit(":", 1)[-1],
                    int(r.get("weight", 0)),
                )
                for r in _items(described.get("routingConfiguration"))
            ]
            rows.append(
                AliasRow(
                    name=arn.rsplit(":", 1)[-1],
                    arn=arn,
                    routing=routing,
                    description=str(described.get("description", "")),
                )
            )
        return rows

    async def publish_version(
        self, origin: Scope, principal: Principal, machine_arn: str, description: str
    ) -> str:
        """The new version's ARN."""
        payload: dict[str, Any] = {"stateMachineArn": machine_arn}
        if description:
            payload["description"] = description
        answer = await self._json(origin, principal, "PublishStateMachineVersion", payload)
        return str(answer.get("stateMachineVersionArn", ""))

    async def delete_version(self, origin: Scope, principal: Principal, version_arn: str) -> None:
        payload = {"stateMachineVersionArn": version_arn}
        await self._json(origin, principal, "DeleteStateMachineVersion", payload)

    async def put_alias(
        self,
        origin: Scope,
        principal: Principal,
        alias_arn: str,
        *,
        routing: Sequence[tuple[str, Any]],
        description: str,
        create: bool,
    ) -> None:
        """CreateStateMachineAlias (``create``, its name the ARN's last part) or
        UpdateStateMachineAlias, routing to each (version ARN, weight) as typed."""
        configuration = [{"stateMachineVersionArn": v, "weight": w} for v, w in routing]
        payload: dict[str, Any] = {"routingConfiguration": configuration}
        if description or create:
            payload["description"] = description
        if create:
            payload["name"] = alias_arn.rsplit(":", 1)[-1]
            await self._json(origin, principal, "CreateStateMachineAlias", payload)
        else:
            payload["stateMachineAliasArn"] = alias_arn
            await self._json(origin, principal, "UpdateStateMachineAlias", payload)

    async def delete_alias(self, origin: Scope, principal: Principal, alias_arn: str) -> None:
        payload = {"stateMachineAliasArn": alias_arn}
        await self._json(origin, principal, "DeleteStateMachineAlias", payload)

    async def redrive(self, origin: Scope, principal: Principal, execution_arn: str) -> None:
        await self._json(origin, principal, "RedriveExecution", {"executionArn": execution_arn})
