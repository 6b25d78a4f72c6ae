"""The status the console's pages show for a Route 53 health check (decision 0371): the
check's and, for a calculated check, its children's answers read through Route 53's own
calls as the signed-in principal (GetHealthCheck, GetHealthCheckStatus), then read by
``wire_route53_health.check_status`` — Route 53's failover rule, the one DNS answers use.
Each check is read once for a page however many calculated checks name it."""

from __future__ import annotations

from typing import Final

from andromede.console.wire import WireError
from andromede.console.wire_route53_health import (
    HealthCheckCalls,
    HealthCheckRow,
    Observation,
    check_status,
)
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = ["HealthReadings"]

# How deep calculated checks naming calculated checks are followed; a deeper one is shown
# Unknown rather than read without end (an update can make two checks each other's child).
_DEPTH: Final = 4


class HealthReadings:
    """The statuses of one page's checks, as ``principal`` may read them."""

    def __init__(self, calls: HealthCheckCalls, origin: Scope, principal: Principal) -> None:
        self._calls = calls
        self._origin = origin
        self._principal = principal
        self._shown: dict[str, str] = {}

    async def status(
        self, check: HealthCheckRow, observations: list[Observation] | None = None, *,
        depth: int = 0,
    ) -> str:  # fmt: skip
        """Healthy, Unhealthy or Unknown (a status Route 53 refuses to give: Unknown); the
        check's ``observations`` when the page has read them already."""
        known = self._shown.get(check.health_check_id)
        if known is not None:
            return known
        children: dict[str, bool] | None = None
        if check.type == "CALCULATED":
            observations = []
            children = await self._children(check, depth)
        elif observations is None:
            try:
                observations = await self._calls.status(
                    self._origin, self._principal, check.health_check_id
                )
            except WireError:
                observations = []
        shown = check_status(check, observations, children)
        if check.type != "CALCULATED" or children is not None:  # not a cut at _DEPTH
            self._shown[check.health_check_id] = shown
        return shown

    async def _children(self, check: HealthCheckRow, depth: int) -> dict[str, bool] | None:
        """Each child's status as DNS answers it (Unknown counts healthy, a child deleted
        unhealthy); None when one cannot be read (refused, or too deep)."""
        if depth >= _DEPTH:
            return None
        answered = {}
        for child_id in check.children:
            try:
                child = await self._calls.get(self._origin, self._principal, child_id)
            except WireError as exc:
                if exc.code != "NoSuchHealthCheck":
                    return None
                answered[child_id] = False
                continue
            shown = await self.status(child, depth=depth + 1)
            if child.type == "CALCULATED" and shown == "Unknown" and not child.disabled:
                return None  # its own children unread: this one cannot be summed up either
            answered[child_id] = shown != "Unhealthy"
        return answered
