"""Where Route 53's health checks are kept (decision 0285): the ``HealthCheckStore``
interface (its in-memory twin in ``health_memory``, SQL in ``health_store_sql``).

A check's definition (configuration, tags, ``HealthCheckVersion``) is written by
compare-and-set on its ``revision``; its status apart, by the gateway that claimed its round.
A deleted check leaves its caller reference behind, so that the reference cannot make a new
check (AWS's ``HealthCheckAlreadyExists``). The checkers' rounds: :meth:`due` lists the
checks whose next check has come, :meth:`claim` moves one's next check on if no other
gateway did first — the one that wins runs it."""

from __future__ import annotations

from typing import Protocol

from andromede.route53.health_model import HealthCheck, HealthStatus

__all__ = ["DueCheck", "HealthCheckStore"]

DueCheck = tuple[HealthCheck, int]  # the check, its claim token


class HealthCheckStore(Protocol):
    async def create(self, check: HealthCheck) -> None:
        """Add a new check; ``HealthCheckChanged`` if its caller reference was used (a
        deleted check's included)."""

    async def get(self, tenant_id: str, health_check_id: str) -> HealthCheck | None: ...

    async def by_reference(
        self, tenant_id: str, caller_reference: str
    ) -> tuple[HealthCheck, bool] | None:
        """The check this reference made, and whether it was deleted since."""

    async def checks(self, tenant_id: str) -> list[HealthCheck]:
        """The account's checks (not deleted), by id."""

    async def replace(self, check: HealthCheck) -> None:
        """Write the definition over the stored one at ``check.revision - 1`` (its status
        kept); ``HealthCheckChanged`` if another write came first."""

    async def delete(self, tenant_id: str, health_check_id: str, revision: int) -> None:
        """Delete the check if still at ``revision``; ``HealthCheckChanged`` otherwise."""

    async def due(self, now: int, limit: int) -> list[DueCheck]:
        """Checks of every account whose next check is ``now`` (ms) or before, the longest
        due first."""

    async def claim(self, health_check_id: str, token: int, next_check: int) -> bool:
        """Move the check's next check to ``next_check`` if its claim is still ``token``:
        True for the one gateway that runs this round."""

    async def set_status(self, health_check_id: str, status: HealthStatus) -> None: ...

    async def find(self, health_check_id: str) -> HealthCheck | None:
        """A check of any account by id (the DNS answers' lookup)."""

    async def forget_tenant(self, tenant_id: str) -> int: ...
