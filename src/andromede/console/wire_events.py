"""The EventBridge calls (decision 0192) the console's event bus and rule pages make, in
process as the signed-in principal through EventBridge's JSON protocol (``eventsapi.app``):
its authorisation (``events:<Action>``), checks, audit and errors answer them. Each answer is
read into the small rows the pages show; nothing here decides what EventBridge allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from andromede.console.wire import JsonWire
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = ["DEFAULT_BUS", "BusRow", "EventsWire", "RuleRow", "TargetRow"]

DEFAULT_BUS: Final = "default"


@dataclass(frozen=True, slots=True)
class BusRow:
    name: str
    arn: str
    description: str


@dataclass(frozen=True, slots=True)
class RuleRow:
    name: str
    arn: str
    bus: str
    state: str
    pattern: str
    schedule: str
    description: str


@dataclass(frozen=True, slots=True)
class TargetRow:
    id: str
    arn: str
    input: str  # the constant JSON sent instead of the event, "" for the event as is


def _rule(item: dict[str, Any]) -> RuleRow:
    return RuleRow(
        name=str(item.get("Name", "")),
        arn=str(item.get("Arn", "")),
        bus=str(item.get("EventBusName") or DEFAULT_BUS),
        state=str(item.get("State", "")),
        pattern=str(item.get("EventPattern") or ""),
        schedule=str(item.get("ScheduleExpression") or ""),
        description=str(item.get("Description") or ""),
    )


class EventsWire(JsonWire):
    """The bus and rule calls the console makes (``AWSEvents`` JSON 1.1), as ``principal``."""

    target_prefix = "AWSEvents."
    content_type = "application/x-amz-json-1.1"
    internal_error = "InternalException"

    async def buses(self, origin: Scope, principal: Principal, *, limit: int) -> list[BusRow]:
        """The account's buses (ListEventBuses, its first ``limit``), the default one first."""
        answer = await self._json(origin, principal, "ListEventBuses", {"Limit": limit})
        rows = [
            BusRow(str(b.get("Name", "")), str(b.get("Arn", "")), str(b.get("Description") or ""))
            for b in answer.get("EventBuses", [])
            if isinstance(b, dict)
        ]
        return sorted(rows, key=lambda row: (row.name != DEFAULT_BUS, row.name))

    async def create_bus(
        self, origin: Scope, principal: Principal, name: str, description: str
    ) -> None:
        payload = {"Name": name, **({"Description": description} if description else {})}
        await self._json(origin, principal, "CreateEventBus", payload)

    async def delete_bus(self, origin: Scope, principal: Principal, name: str) -> None:
        await self._json(origin, principal, "DeleteEventBus", {"Name": name})

    async def rules(
        self, origin: Scope, principal: Principal, bus: str, *, limit: int, token: str | None
    ) -> tuple[list[RuleRow], str | None]:
        """One page of the bus's rules (ListRules)."""
        payload: dict[str, Any] = {"EventBusName": bus, "Limit": limit}
        if token:
            payload["NextToken"] = token
        answer = await self._json(origin, principal, "ListRules", payload)
        rows = [_rule(r) for r in answer.get("Rules", []) if isinstance(r, dict)]
        following = answer.get("NextToken")
        return rows, str(following) if following else None

    async def rule(self, origin: Scope, principal: Principal, bus: str, name: str) -> RuleRow:
        payload = {"EventBusName": bus, "Name": name}
        return _rule(await self._json(origin, principal, "DescribeRule", payload))

    async def put_rule(
        self,
        origin: Scope,
        principal: Principal,
        bus: str,
        name: str,
        *,
        pattern: str,
        schedule: str,
        description: str,
        enabled: bool,
    ) -> None:
        """PutRule; an empty pattern, schedule or description is not sent (EventBridge then
        refuses a rule with neither pattern nor schedule in its words)."""
        payload: dict[str, Any] = {
            "EventBusName": bus,
            "Name": name,
            "State": "ENABLED" if enabled else "DISABLED",
        }
        for member, value in (
            ("EventPattern", pattern),
            ("ScheduleExpression", schedule),
            ("Description", description),
        ):
            if value:
                payload[member] = value
        await self._json(origin, principal, "PutRule", payload)

    async def set_enabled(
        self, origin: Scope, principal: Principal, bus: str, name: str, enabled: bool
    ) -> None:
        action = "EnableRule" if enabled else "DisableRule"
        await self._json(origin, principal, action, {"EventBusName": bus, "Name": name})

    async def delete_rule(self, origin: Scope, principal: Principal, bus: str, name: str) -> None:
        await self._json(origin, principal, "DeleteRule", {"EventBusName": bus, "Name": name})

    async def targets(
        self, origin: Scope, principal: Principal, bus: str, rule: str
    ) -> list[TargetRow]:
        """The rule's targets (ListTargetsByRule, its first 100)."""
        payload = {"EventBusName": bus, "Rule": rule, "Limit": 100}
        answer = await self._json(origin, principal, "ListTargetsByRule", payload)
        return [
            TargetRow(str(t.get("Id", "")), str(t.get("Arn", "")), str(t.get("Input") or ""))
            for t in answer.get("Targets", [])
            if isinstance(t, dict)
        ]

    async def put_target(
        self,
        origin: Scope,
        principal: Principal,
        bus: str,
        rule: str,
        target: TargetRow,
    ) -> None:
        """PutTargets of one target: the event as is, or ``target.input`` when given."""
        spec: dict[str, Any] = {"Id": target.id, "Arn": target.arn}
        if target.input:
            spec["Input"] = target.input
        payload = {"EventBusName": bus, "Rule": rule, "Targets": [spec]}
        await self._json(origin, principal, "PutTargets", payload)

    async def remove_target(
        self, origin: Scope, principal: Principal, bus: str, rule: str, target_id: str
    ) -> None:
        payload = {"EventBusName": bus, "Rule": rule, "Ids": [target_id]}
        await self._json(origin, principal, "RemoveTargets", payload)

    async def test_pattern(
        self, origin: Scope, principal: Principal, pattern: str, event: str
    ) -> bool:
        """TestEventPattern: whether ``event`` (JSON) matches ``pattern``."""
        payload = {"EventPattern": pattern, "Event": event}
        answer = await self._json(origin, principal, "TestEventPattern", payload)
        return answer.get("Result") is True
