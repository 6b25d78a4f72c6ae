"""PutRule's checks of its input, as EventBridge words them (decision 0192): a rule needs a
pattern or a schedule, a schedule belongs to the default bus, and the state and
description have AWS's bounds. The pattern itself is compiled by the service. And
TestEventPattern's event, which needs EventBridge's envelope members. Pure."""

from __future__ import annotations

import json
from typing import Any, Final

from andromede.events.errors import ValidationError
from andromede.events.model import DEFAULT_BUS, RuleState, check_rule_name
from andromede.events.schedule import parse_schedule

__all__ = ["check_rule_input", "checked_test_event"]

_EVENT_MEMBERS: Final = ("id", "account", "source", "time", "region", "detail-type")


def check_rule_input(
    name: str,
    bus: str,
    *,
    event_pattern: str | None,
    schedule: str | None,
    state: str | None,
    description: str | None,
) -> None:
    check_rule_name(name)
    if event_pattern is None and schedule is None:
        raise ValidationError("Parameter(s) EventPattern or ScheduleExpression must be specified.")
    if schedule is not None:
        if bus != DEFAULT_BUS:
            raise ValidationError("ScheduleExpression is supported only on the default event bus.")
        if len(schedule) > 256:
            raise ValidationError("ScheduleExpression must be at most 256 characters.")
        parse_schedule(schedule)
    if state is not None and state not in RuleState.ALL:
        raise ValidationError(
            f"1 validation error detected: Value '{state[:64]}' at 'state' failed to "
            "satisfy constraint: Member must satisfy enum value set: [DISABLED, ENABLED]"
        )
    if description is not None and len(description) > 512:
        raise ValidationError("Description must be at most 512 characters.")


def checked_test_event(text: str) -> dict[str, Any]:
    """TestEventPattern's ``Event``: a JSON object with the envelope's members as strings."""
    try:
        event = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ValidationError("Parameter Event is not valid.") from exc
    if not isinstance(event, dict) or any(
        not isinstance(event.get(member), str) for member in _EVENT_MEMBERS
    ):
        raise ValidationError(
            "Parameter Event is not valid: it needs id, account, source, time, region and "
            "detail-type."
        )
    return event
