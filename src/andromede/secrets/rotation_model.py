"""Rotation's values (decision 0303): a secret's ``RotationRules`` as AWS takes them —
``AutomaticallyAfterDays`` (1 to 1000) or a ``ScheduleExpression`` (``rate(N days)``, 1 to 1000,
``rate(N hours)``, 4 to 23, or the six-field ``cron(…)`` EventBridge also reads), and a window
``Duration`` (``Nh``, 1 to 24) —, when the next rotation is due and until when its window stays
open, and the durable state of a secret's rotation the workers share under a lease.

The window: a rotation runs from its due moment until the window closes — ``Duration`` after
it, else an hour for a schedule in hours and the end of the UTC day for one in days, as AWS
closes it. A gateway that finds a window already closed (every gateway down through it)
moves the rotation to the next window, as AWS never rotates outside one."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from andromede.events.errors import ValidationError
from andromede.events.schedule import Cron, parse_schedule
from andromede.secrets.errors import InvalidParameter

__all__ = ["STEPS", "TEST_STEP", "RotationRules", "RotationState", "parse_rules"]

# The four steps AWS invokes a rotation function with, in order.
STEPS: Final = ("createSecret", "setSecret", "testSecret", "finishSecret")
# The step AWS runs alone to test a configuration not rotated at once (decision 0308).
TEST_STEP: Final = "testSecret"
_RATE: Final = re.compile(r"rate\((\d+) (hours?|days?)\)")
_DURATION: Final = re.compile(r"(\d+)h")
# A cron's next moment is looked for this far ahead (AWS's years run to 2199; a schedule
# matching nothing within five years is refused as one that never rotates).
_HORIZON_DAYS: Final = 5 * 366


@dataclass(frozen=True, slots=True)
class RotationRules:
    """What AWS keeps of ``RotationRules``: exactly one of ``days`` and ``expression``."""

    days: int | None = None
    expression: str | None = None
    duration_hours: int | None = None

    def wire(self) -> dict[str, object]:
        answer: dict[str, object] = {}
        if self.days is not None:
            answer["AutomaticallyAfterDays"] = self.days
        if self.expression is not None:
            answer["ScheduleExpression"] = self.expression
        if self.duration_hours is not None:
            answer["Duration"] = f"{self.duration_hours}h"
        return answer

    def _period(self) -> timedelta | None:
        if self.days is not None:
            return timedelta(days=self.days)
        found = _RATE.fullmatch(self.expression or "")
        if found is None:
            return None
        unit = "hours" if found[2].startswith("hour") else "days"
        return timedelta(**{unit: int(found[1])})

    def _cron(self) -> Cron:
        schedule = parse_schedule(self.expression or "")
        if not isinstance(schedule, Cron):  # parse_rules keeps rates out of here
            raise InvalidParameter("The schedule expression is not a cron expression.")
        return schedule

    def next_after(self, moment: datetime) -> datetime:
        """When the next window opens after ``moment``: a period after it for a rate (the
        last rotation counts), the cron's next matching minute for a cron."""
        period = self._period()
        if period is not None:
            return moment + period
        cron = self._cron()
        start = moment.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.replace(hour=0, minute=0)
        for offset in range(_HORIZON_DAYS):
            base = day + timedelta(days=offset)
            if base.year not in cron.years or base.month not in cron.months:
                continue
            for hour in sorted(cron.hours):
                for minute in sorted(cron.minutes):
                    candidate = base.replace(hour=hour, minute=minute)
                    if candidate >= start and cron.matches(candidate):
                        return candidate
        raise InvalidParameter("The schedule expression never matches a moment to rotate.")

    def window_closes(self, opens: datetime) -> datetime:
        """When the window opened at ``opens`` closes."""
        if self.duration_hours is not None:
            return opens + timedelta(hours=self.duration_hours)
        period = self._period()
        if period is not None and period < timedelta(days=1):
            return opens + timedelta(hours=1)
        end_of_day = opens.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return end_of_day + timedelta(days=1)


def _invalid(message: str) -> InvalidParameter:
    return InvalidParameter(message)


def parse_rules(days: int | None, expression: str | None, duration: str | None) -> RotationRules:
    """``RotationRules`` checked as AWS checks them (``InvalidParameterException``)."""
    if days is not None and expression is not None:
        raise _invalid(
            "You can't specify both AutomaticallyAfterDays and ScheduleExpression in RotationRules."
        )
    if days is None and expression is None:
        raise _invalid("RotationRules must contain AutomaticallyAfterDays or ScheduleExpression.")
    if days is not None and not 1 <= days <= 1000:
        raise _invalid("AutomaticallyAfterDays must be between 1 and 1000.")
    if expression is not None:
        found = _RATE.fullmatch(expression)
        if found is not None:
            value, unit = int(found[1]), found[2]
            if unit.startswith("hour") and not 4 <= value <= 23:
                raise _invalid(
                    "A rate in hours must be between 4 and 23: a secret rotates at most every "
                    "four hours; use days beyond."
                )
            if unit.startswith("day") and not 1 <= value <= 1000:
                raise _invalid("A rate in days must be between 1 and 1000.")
            if (value == 1) != (not unit.endswith("s")):
                raise _invalid("The schedule expression is not valid.")
        elif expression.startswith("cron("):
            try:
                parse_schedule(expression)
            except ValidationError:
                raise _invalid("The schedule expression is not valid.") from None
        else:
            raise _invalid(
                "The schedule expression is not valid: use rate(N days), rate(N hours) or cron(…)."
            )
    hours = None
    if duration is not None:
        found = _DURATION.fullmatch(duration)
        if found is None or not 1 <= int(found[1]) <= 24:
            raise _invalid("Duration must be between 1h and 24h.")
        hours = int(found[1])
    rules = RotationRules(days, expression, hours)
    if expression is not None and expression.startswith("cron("):
        rules.next_after(datetime.now(UTC))  # a cron that never matches is refused now
    return rules


@dataclass(frozen=True, slots=True)
class RotationState:
    """A secret's rotation, shared by the gateways: its function and rules (None: rotation
    never configured), whether it is enabled, the last and the next rotation, the rotation
    in progress or failed (``token``: the ``AWSPENDING`` version's id, ``failure``: why its
    last attempt stopped), and the lease of the gateway running it (``lease_until`` in epoch
    milliseconds; 0: none)."""

    secret_arn: str
    tenant_id: str
    region: str
    function_arn: str | None = None
    rules: RotationRules | None = None
    enabled: bool = False
    last_rotated: datetime | None = None
    next_rotation: datetime | None = None
    token: str | None = None
    failure: str | None = None
    lease_owner: str = ""
    lease_until: int = 0
