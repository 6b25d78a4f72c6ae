"""The health checks' side of decision 0284's ``HealthLookup`` (decision 0285): each health
check's status as DNS answers use it — ``Disabled`` healthy, ``Inverted`` reversed — read from
the status the checkers keep; a check unknown to the account, deleted or not checked yet is
left out of the answer (healthy, as Route 53 treats it). The wiring sets it as the record
sets' service's ``health`` (decision 0284), whose ``health_changed`` the checkers call on a
flip."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from andromede.route53.health_store import HealthCheckStore

__all__ = ["HealthStatuses"]


class HealthStatuses:
    def __init__(self, store: HealthCheckStore) -> None:
        self._store = store

    async def healthy(
        self, tenant_id: str, health_check_ids: Collection[str]
    ) -> Mapping[str, bool]:
        answer = {}
        for health_check_id in sorted(set(health_check_ids)):
            check = await self._store.get(tenant_id, health_check_id)
            if check is not None and (check.status.checked or check.config.disabled):
                answer[health_check_id] = check.answered_healthy()
        return answer
