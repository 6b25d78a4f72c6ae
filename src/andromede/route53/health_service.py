"""Route 53 health checks for the API (decision 0285): CreateHealthCheck idempotent by caller
reference as AWS's (the same settings give the check back; other settings, or the reference
of a deleted check, ``HealthCheckAlreadyExists``), read, listed in pages, updated under
``HealthCheckVersion`` (``HealthCheckVersionMismatch``) with ``ResetElements``, deleted
(``HealthCheckInUse`` while a CALCULATED check names it as a child; a record set naming it
does not stop it, as on AWS), counted, tagged; at most ``max_health_checks`` an account.

:meth:`HealthCheckService.healthy` is the lookup DNS answers use (decision 0284's
health protocol): a check's status as answered (``Disabled`` healthy, ``Inverted``
reversed), healthy when unknown."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from andromede.route53.health_checker import Flipped
from andromede.route53.health_errors import (
    HealthCheckAlreadyExists,
    HealthCheckChanged,
    HealthCheckInUse,
    HealthCheckVersionMismatch,
    InvalidInput,
    NoSuchHealthCheck,
    TooManyHealthChecks,
)
from andromede.route53.health_model import (
    CALCULATED,
    HealthCheck,
    HealthCheckConfig,
    Network,
    check_config,
    completed,
    updated,
)
from andromede.route53.health_store import HealthCheckStore

__all__ = ["HealthCheckService", "HealthLimits"]

_RETRIES = 8
MAX_TAGS = 10  # AWS: ten tags a health check


@dataclass(frozen=True)
class HealthLimits:
    max_health_checks: int = 200
    # Networks beside public unicast addresses a check may target (the operator's setting).
    allowed: tuple[Network, ...] = ()


class HealthCheckService:
    def __init__(
        self,
        store: HealthCheckStore,
        limits: HealthLimits | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.limits = limits or HealthLimits()
        self._clock = clock
        # Told when an update or a deletion changes what DNS answers (decision 0284).
        self.flipped: Flipped | None = None

    async def _tell(self, before: HealthCheck, after: HealthCheck | None) -> None:
        healthy = True if after is None else after.answered_healthy()
        if self.flipped is not None and before.answered_healthy() != healthy:
            await self.flipped(before.tenant_id, [before.health_check_id])

    def _now(self) -> int:
        return int(self._clock() * 1000)

    async def get(self, tenant_id: str, health_check_id: str) -> HealthCheck:
        check = await self.store.get(tenant_id, health_check_id)
        if check is None:
            raise NoSuchHealthCheck(
                f"No health check exists with the specified ID {health_check_id[:64]}"
            )
        return check

    async def create(
        self, tenant_id: str, caller_reference: str, config: HealthCheckConfig
    ) -> HealthCheck:
        if not 1 <= len(caller_reference) <= 64:
            raise InvalidInput("Invalid parameter : CallerReference must be 1 to 64 characters.")
        check_config(config, self.limits.allowed)
        full = completed(config)
        await self._check_children(tenant_id, full, None)
        before = await self.store.by_reference(tenant_id, caller_reference)
        if before is not None:
            check, deleted = before
            if not deleted and check.config == full:
                return check
            raise HealthCheckAlreadyExists(
                "A health check with the specified CallerReference already exists, or was "
                "deleted, and has different settings."
            )
        if len(await self.store.checks(tenant_id)) >= self.limits.max_health_checks:
            raise TooManyHealthChecks(
                f"Limits Exceeded: MAX_HEALTH_CHECKS_BY_OWNER - Cannot create more than "
                f"{self.limits.max_health_checks} health checks."
            )
        check = HealthCheck(
            tenant_id=tenant_id,
            health_check_id=str(uuid.uuid4()),
            caller_reference=caller_reference,
            config=full,
            created=self._now(),
        )
        try:
            await self.store.create(check)
        except HealthCheckChanged:  # the same reference raced in: AWS's answer to the loser
            return await self.create(tenant_id, caller_reference, config)
        return check

    async def _check_children(
        self, tenant_id: str, config: HealthCheckConfig, own_id: str | None
    ) -> None:
        if config.type != CALCULATED:
            return
        for child in config.children or ():
            if child == own_id:
                raise InvalidInput("Invalid parameter : A health check cannot be its own child.")
            if await self.store.get(tenant_id, child) is None:
                raise NoSuchHealthCheck(
                    f"No health check exists with the specified ID {child[:64]}"
                )

    async def page(
        self, tenant_id: str, marker: str | None, max_items: int
    ) -> tuple[list[HealthCheck], str | None]:
        checks = await self.store.checks(tenant_id)
        if marker:
            checks = [c for c in checks if c.health_check_id >= marker]
        page = checks[:max_items]
        return page, checks[max_items].health_check_id if len(checks) > max_items else None

    async def count(self, tenant_id: str) -> int:
        return len(await self.store.checks(tenant_id))

    async def _write(
        self,
        tenant_id: str,
        health_check_id: str,
        change: Callable[[HealthCheck], HealthCheck],
    ) -> HealthCheck:
        for _ in range(_RETRIES):
            check = await self.get(tenant_id, health_check_id)
            new = change(check).replaced(revision=check.revision + 1)
            try:
                await self.store.replace(new)
            except HealthCheckChanged:
                continue
            return new
        raise HealthCheckChanged(health_check_id)

    async def update(
        self,
        tenant_id: str,
        health_check_id: str,
        version: int | None,
        changes: Mapping[str, object],
        reset: Sequence[str],
    ) -> HealthCheck:
        current = await self.get(tenant_id, health_check_id)
        new_config = updated(current.config, changes, reset)
        check_config(new_config, self.limits.allowed)
        await self._check_children(tenant_id, new_config, health_check_id)

        def change(check: HealthCheck) -> HealthCheck:
            if version is not None and version != check.version:
                raise HealthCheckVersionMismatch(
                    "The value of HealthCheckVersion in the request doesn't match the value of "
                    "HealthCheckVersion in the health check."
                )
            return check.replaced(
                config=completed(updated(check.config, changes, reset)),
                version=check.version + 1,
            )

        written = await self._write(tenant_id, health_check_id, change)
        await self._tell(current, written)
        return written

    async def delete(self, tenant_id: str, health_check_id: str) -> None:
        check = await self.get(tenant_id, health_check_id)
        for other in await self.store.checks(tenant_id):
            if other.config.type == CALCULATED and health_check_id in (other.config.children or ()):
                raise HealthCheckInUse(
                    f"Health check {health_check_id} is still referenced from parent health "
                    f"check {other.health_check_id}."
                )
        try:
            await self.store.delete(tenant_id, health_check_id, check.revision)
        except HealthCheckChanged:
            await self.delete(tenant_id, health_check_id)
            return
        await self._tell(check, None)

    async def change_tags(
        self,
        tenant_id: str,
        health_check_id: str,
        add: Sequence[tuple[str, str]],
        remove: Sequence[str],
    ) -> None:
        def tagged(check: HealthCheck) -> HealthCheck:
            tags = dict(check.tags)
            for key in remove:
                tags.pop(key, None)
            tags.update(add)
            if len(tags) > MAX_TAGS:
                raise InvalidInput(f"The number of tags exceeds the limit of {MAX_TAGS}")
            return check.replaced(tags=tuple(sorted(tags.items())))

        await self._write(tenant_id, health_check_id, tagged)

    async def healthy(self, health_check_id: str) -> bool:
        """Whether DNS answers may use a record naming this check: its status as answered,
        True for a check unknown or deleted (AWS: a record whose check is gone is answered
        as healthy) or never checked yet."""
        check = await self.store.find(health_check_id)
        return True if check is None else check.answered_healthy()
