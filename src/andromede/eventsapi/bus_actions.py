"""EventBridge's bus-level actions of decision 0192's session 48 addendum: a bus's resource
policy (PutPermission, RemovePermission; DescribeEventBus shows it), and UpdateEventBus (the
custom buses' tags are served with the rules' by :mod:`.actions`): its description, and its
customer KMS key and dead-letter queue (decision 0213), which it replaces as AWS documents —
none given is EventBridge's own key and no queue —, the default bus's as well (its first
configuration makes its row, session 51 addendum). A bus policy is an IAM
resource policy, judged by the platform's engine when another account's PutEvents names the
bus by ARN.

PutPermission either adds one statement (``Action`` ``events:PutEvents``, ``Principal`` a
12-digit account or ``*``, ``StatementId``) to the bus's policy, written as AWS writes it, or
replaces the whole policy with ``Policy``. ``Condition`` (``aws:PrincipalOrgID``) is refused:
the platform has no Organizations.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any, Final

from andromede.events.model import EventBus
from andromede.eventsapi.actions import EventsCall, allow_key, bus_config, bus_config_shape
from andromede.eventsapi.errors import EventsWireError
from andromede.iam.policy import MalformedPolicy, PolicyKind, parse_policy

__all__ = ["BUS_ACTIONS"]

_STATEMENT_ID: Final = re.compile(r"[a-zA-Z0-9\-_]{1,64}")
_ACCOUNT: Final = re.compile(r"\d{12}")


async def _policy_bus(call: EventsCall, action: str) -> tuple[str, str]:
    """(bus name, its ARN) of EventBusName, authorised for ``action`` and existing."""
    bus = call.bus()
    arn = call.bus_arn(bus)
    await call.allow(action, arn)
    await call.events.describe_bus(call.tenant_id, bus)  # ResourceNotFound for a missing bus
    return bus, arn


def _statement(call: EventsCall, arn: str) -> dict[str, Any]:
    action = call.text("Action", required=True, limit=64)
    if action != "events:PutEvents":
        raise EventsWireError(
            "ValidationException", "Provided value in parameter 'action' is not supported."
        )
    principal = call.text("Principal", required=True, limit=12) or ""
    if principal != "*" and not _ACCOUNT.fullmatch(principal):
        raise EventsWireError(
            "ValidationException",
            f"1 validation error detected: Value '{principal}' at 'principal' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: (\\d{12}|\\*)",
        )
    sid = call.text("StatementId", required=True, limit=64) or ""
    if not _STATEMENT_ID.fullmatch(sid):
        raise EventsWireError(
            "ValidationException",
            f"1 validation error detected: Value '{sid}' at 'statementId' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+",
        )
    if call.params.get("Condition") is not None:
        raise EventsWireError(
            "ValidationException",
            "Condition (aws:PrincipalOrgID) is not supported: the platform has no "
            "Organizations (decision 0192).",
        )
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": "*" if principal == "*" else {"AWS": f"arn:aws:iam::{principal}:root"},
        "Action": "events:PutEvents",
        "Resource": arn,
    }


def _checked(call: EventsCall, text: str) -> str:
    try:
        parse_policy(text, kind=PolicyKind.RESOURCE, max_size=call.max_policy_size)
    except MalformedPolicy as exc:
        raise EventsWireError("ValidationException", f"Invalid policy: {exc}") from exc
    return text


def _statements(held: str) -> tuple[dict[str, Any], list[Any]]:
    document: dict[str, Any] = json.loads(held)
    statements = document.get("Statement")
    if not isinstance(statements, list):  # a whole Policy with one statement as an object
        statements = [] if statements is None else [statements]
    return document, statements


async def put_permission(call: EventsCall) -> dict[str, Any]:
    bus, arn = await _policy_bus(call, "PutPermission")
    whole = call.text("Policy", limit=call.max_policy_size)
    if whole is not None:
        if any(call.params.get(m) is not None for m in ("Action", "Principal", "StatementId")):
            raise EventsWireError(
                "ValidationException",
                "Policy cannot be given with Action, Principal or StatementId.",
            )
        text = _checked(call, whole)
        await call.events.change_bus_policy(call.tenant_id, bus, lambda _held: text)
        return {}
    statement = _statement(call, arn)

    def added(held: str | None) -> str:
        if held is None:
            document: dict[str, Any] = {"Version": "2012-10-17"}
            statements: list[Any] = []
        else:
            document, statements = _statements(held)
        if any(isinstance(s, dict) and s.get("Sid") == statement["Sid"] for s in statements):
            raise EventsWireError(
                "ResourceAlreadyExistsException", "Statement with the provided id already exists."
            )
        document["Statement"] = [*statements, statement]
        return _checked(call, json.dumps(document, separators=(",", ":")))

    await call.events.change_bus_policy(call.tenant_id, bus, added)
    return {}


async def remove_permission(call: EventsCall) -> dict[str, Any]:
    bus, _ = await _policy_bus(call, "RemovePermission")
    remove_all = call.params.get("RemoveAllPermissions")
    if remove_all is not None and not isinstance(remove_all, bool):
        raise EventsWireError("ValidationException", "RemoveAllPermissions must be a boolean.")
    sid = call.text("StatementId", limit=64)
    if remove_all:
        await call.events.change_bus_policy(call.tenant_id, bus, lambda _held: None)
        return {}
    if sid is None:
        raise EventsWireError(
            "ValidationException", "Parameter StatementId is required unless RemoveAllPermissions."
        )

    def removed(held: str | None) -> str | None:
        if held is None:
            raise EventsWireError("ResourceNotFoundException", "EventBus does not have a policy.")
        document, statements = _statements(held)
        kept = [s for s in statements if not (isinstance(s, dict) and s.get("Sid") == sid)]
        if len(kept) == len(statements):
            raise EventsWireError(
                "ResourceNotFoundException", "Statement with the provided id does not exist."
            )
        document["Statement"] = kept
        return json.dumps(document, separators=(",", ":")) if kept else None

    await call.events.change_bus_policy(call.tenant_id, bus, removed)
    return {}


async def update_event_bus(call: EventsCall) -> dict[str, Any]:
    bus = call.bus("Name")
    await call.allow("UpdateEventBus", call.bus_arn(bus))
    kms_key, dead_letter = bus_config(call)
    if kms_key is not None:
        wanted = EventBus(call.tenant_id, call.events.region, bus, kms_key=kms_key)
        await allow_key(call, wanted)
    found = await call.events.configure_bus(
        call.tenant_id,
        bus,
        description=call.text("Description", limit=512),
        kms_key=kms_key,
        dead_letter_arn=dead_letter,
    )
    answer: dict[str, Any] = {"Arn": found.arn, "Name": found.name, **bus_config_shape(found)}
    if found.description is not None:
        answer["Description"] = found.description
    return answer


BUS_ACTIONS: Final[dict[str, Callable[[EventsCall], Awaitable[dict[str, Any]]]]] = {
    "PutPermission": put_permission,
    "RemovePermission": remove_permission,
    "UpdateEventBus": update_event_bus,
}
