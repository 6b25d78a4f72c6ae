"""The gateway's provisioned sandboxes (decision 0314): a background task in every ``serve``
that keeps, for each provisioned concurrency configuration of every account, that many
sandboxes of the version it names (an alias's current version) started and initialised on
this gateway, within ``max_sandboxes`` in all (the oldest configurations first), and writes
what it did back to the configuration: READY once all are initialised, FAILED with AWS's
reason when the function's initialisation fails (not tried again until the configuration or
its version changes) or when this gateway has no room left; the sandboxes of a configuration
deleted, or of a version an alias no longer names, are stopped. A configuration whose
function, version or alias is gone is deleted with it.

Each pass also meters the provisioned time (``lambda.provisioned-gb-seconds``: the memory
size times the milliseconds each sandbox was kept), as AWS bills provisioned concurrency, and
tells the invoker each account's provisioned executions outside a reserve, which its
``ClaimedAccountConcurrency`` counts (decision 0337)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from andromede.functions.errors import FunctionsError, ResourceNotFound
from andromede.functions.invoker import Invoker, Metering
from andromede.functions.model import FunctionVersion
from andromede.functions.provisioned import ProvisionedConfig, ProvisionedStatus, ProvisionedStore
from andromede.functions.service import FunctionsService

__all__ = ["PROVISIONED_GB_SECONDS", "Provisioning"]

log = logging.getLogger(__name__)

PROVISIONED_GB_SECONDS: Final = "lambda.provisioned-gb-seconds"
INIT_FAILURE: Final = "FUNCTION_ERROR_INIT_FAILURE"
NO_ROOM: Final = "INSUFFICIENT_CAPACITY"


@dataclass(frozen=True, slots=True)
class _Kept:
    tenant_id: str
    memory_mb: int


class Provisioning:
    def __init__(
        self,
        store: ProvisionedStore,
        functions: FunctionsService,
        invoker: Invoker,
        *,
        max_sandboxes: int,
        poll_interval: float = 5.0,
        metering: Metering | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._functions = functions
        self._invoker = invoker
        self._max = max_sandboxes
        self._interval = poll_interval
        self._metering = metering
        self._clock = clock
        self._woken = asyncio.Event()
        # The initialisations that failed: (configuration, its Put, the version's revision).
        self._failed: set[tuple[str, str, str, int, str]] = set()
        self._kept: dict[tuple[str, ...], _Kept] = {}
        self._metered_at = clock()

    def wake(self) -> None:
        """A configuration changed: pass again now rather than at the next interval."""
        self._woken.set()

    async def run_forever(self) -> None:
        while True:
            try:
                await self.reconcile()
            except Exception:  # a pass failing must not end the task: the next one retries
                log.exception("the provisioned concurrency pass failed")
            # asyncio.timeout, not wait_for: Python 3.11's wait_for swallows a cancellation
            # that arrives as the event is set, and the task then never stopped.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await self._woken.wait()
            self._woken.clear()

    async def reconcile(self) -> None:
        """One pass: every configuration's sandboxes started, stopped and reported."""
        self._meter()
        plans: list[tuple[ProvisionedConfig, FunctionVersion]] = []
        reserved: set[tuple[str, str]] = set()  # functions with a reserve
        for config in sorted(await self._store.every(), key=lambda c: c.last_modified):
            try:
                record, version = await self._functions.resolve(
                    config.tenant_id, config.name, config.qualifier
                )
            except ResourceNotFound:  # gone with its function, version or alias
                await self._store.delete(config.tenant_id, config.name, config.qualifier)
                continue
            plans.append((config, version))
            if record.reserved_concurrency is not None:
                reserved.add((config.tenant_id, config.name))
        wanted = {self._invoker.provisioned_key(v, c.qualifier): (c, v) for c, v in plans}
        await self._invoker.retain(set(wanted))
        self._kept = {k: v for k, v in self._kept.items() if k in wanted}
        room = self._max
        claims: Counter[str] = Counter()
        for key, (config, version) in wanted.items():
            failed = (config.tenant_id, config.name, config.qualifier, config.last_modified,
                      version.revision_id)  # fmt: skip
            if failed in self._failed:
                continue
            count = min(config.requested, room)
            try:
                _, error = await self._invoker.provision(version, config.qualifier, count)
            except FunctionsError as exc:  # no sandbox can be made on this host
                error = {"errorType": type(exc).__name__, "errorMessage": str(exc)}
            live = self._invoker.provisioned(key)[0]
            room -= live
            if (config.tenant_id, config.name) not in reserved:
                claims[config.tenant_id] += live
            self._kept[key] = _Kept(config.tenant_id, version.memory_size)
            if error is not None:
                self._failed.add(failed)
                reason = (
                    f"{INIT_FAILURE}: {error.get('errorType', '')}: "
                    f"{str(error.get('errorMessage', ''))[:512]}"
                )
                await self._report(config, ProvisionedStatus.FAILED, reason, live)
            elif live < config.requested:
                reason = (
                    f"{NO_ROOM}: {live} of {config.requested} executions could be allocated; "
                    "the gateway keeps no more provisioned sandboxes"
                )
                await self._report(config, ProvisionedStatus.FAILED, reason, live)
            else:
                await self._report(config, ProvisionedStatus.READY, "", live)
        self._invoker.claim_provisioned(claims)

    async def _report(
        self, config: ProvisionedConfig, status: ProvisionedStatus, reason: str, allocated: int
    ) -> None:
        if (config.status, config.status_reason, config.allocated) != (status, reason, allocated):
            await self._store.mark(config, status, reason, allocated)

    def _meter(self) -> None:
        now = self._clock()
        elapsed_ms = int((now - self._metered_at) * 1000)
        self._metered_at = now
        if self._metering is None or elapsed_ms <= 0:
            return
        for key, kept in self._kept.items():
            live = self._invoker.provisioned(key)[0]
            if live:
                self._metering.count(
                    kept.tenant_id, PROVISIONED_GB_SECONDS, kept.memory_mb * live * elapsed_ms
                )
