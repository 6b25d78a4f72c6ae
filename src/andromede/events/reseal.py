"""The re-seal of a bus's data after a change of its key (decision 0218): AWS documents that
"when you update an event bus to use a different AWS KMS key, EventBridge decrypts any data
stored on the event bus and then encrypts it using the new key". Here that data is the bus's
rules (pattern, description), its targets' input settings and its waiting deliveries.

The change of key and the bus's ``resealing`` mark are one transaction; then
:meth:`BusResealer.reseal` opens whatever is not under the new key and seals it under it (or
leaves it in clear for EventBridge's own key), each row replaced only if it is unchanged
meanwhile, pass after pass until a pass finds nothing left; then the mark is cleared, unless
the key changed again meanwhile. Writes that race it are sealed for the key the bus names
when they commit (:class:`~andromede.events.store.KeyGuard`). A gateway that dies mid-way
leaves the mark: every gateway's :meth:`BusResealer.run_forever` resumes marked buses, as
does the next UpdateEventBus of the bus.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Final

from andromede.events.dispatcher import Deliveries
from andromede.events.errors import EventsError
from andromede.events.event_keys import KeyUnusable
from andromede.events.model import EventBus, rule_arn
from andromede.events.rule_seals import RuleSeals
from andromede.events.store import EventsStore

__all__ = ["BusResealer"]

log = logging.getLogger(__name__)

_PAGE: Final = 100
# Passes one re-seal makes before it leaves the rest to the sweeper (each pass after the
# first only meets rows changed while the previous one ran).
_PASSES: Final = 5


class BusResealer:
    def __init__(
        self,
        store: EventsStore,
        seals: RuleSeals,
        deliveries: Deliveries | None,
        *,
        interval: float = 30.0,
    ) -> None:
        self._store = store
        self._seals = seals
        self._deliveries = deliveries
        self.interval = interval

    async def reseal(self, bus: EventBus) -> bool:
        """Everything of ``bus`` as its key keeps it, then its mark cleared; whether it is
        done (False: rows kept changing, left to the sweeper). ``KeyUnusable`` when a key
        (the new one, or one the data was under) refuses: the mark stays."""
        key_arn = None
        if bus.kms_key is not None:
            if self._seals.keys is None:
                raise KeyUnusable("Customer KMS keys are not served by this deployment.")
            key_arn = await self._seals.keys.key_arn(self._seals.scope(bus))
        for _ in range(_PASSES):
            touched = await self._rules(bus, key_arn)
            if self._deliveries is not None:
                touched += await self._deliveries.reseal(bus, key_arn)
            if not touched:
                await self._store.change_bus(
                    bus.tenant_id,
                    bus.name,
                    lambda held: (
                        replace(held, resealing=False) if held.kms_key == bus.kms_key else held
                    ),
                )
                return True
        return False

    async def holds_sealed(self, bus: EventBus) -> bool:
        """Whether anything of the bus is sealed under a customer key (what a change of key
        must open first)."""
        after = ""
        while True:
            page = await self._store.list_rules(bus.tenant_id, bus.name, "", after, _PAGE)
            if any(rule.sealed is not None for rule in page):
                return True
            if len(page) < _PAGE:
                break
            after = page[-1].name
        by_rule = await self._store.targets_by_rule(bus.tenant_id, bus.name)
        if any(t.sealed is not None for targets in by_rule.values() for t in targets):
            return True
        return self._deliveries is not None and await self._deliveries.holds_sealed(bus)

    async def _rules(self, bus: EventBus, key_arn: str | None) -> int:
        touched, after = 0, ""
        while True:
            page = await self._store.list_rules(bus.tenant_id, bus.name, "", after, _PAGE)
            for rule in page:
                if self._seals.rule_needs_reseal(rule, key_arn):
                    resealed = await self._seals.seal_rule(bus, rule)
                    await self._store.replace_rule(rule, resealed)
                    touched += 1
            if len(page) < _PAGE:
                break
            after = page[-1].name
        for name, targets in (await self._store.targets_by_rule(bus.tenant_id, bus.name)).items():
            arn = rule_arn(bus.region, bus.tenant_id, bus.name, name)
            stale = [t for t in targets if self._seals.target_needs_reseal(t, key_arn)]
            if not stale:
                continue
            for before, after_target in zip(
                stale, await self._seals.seal_targets(bus, arn, stale), strict=True
            ):
                await self._store.replace_target(
                    bus.tenant_id, bus.name, name, before, after_target
                )
                touched += 1
        return touched

    async def resume(self) -> int:
        """Every marked bus re-sealed (this gateway's sweep); how many finished."""
        done = 0
        for bus in await self._store.resealing_buses(20):
            try:
                done += await self.reseal(bus)
            except EventsError as exc:  # a key refusing (KeyUnusable) among them
                log.warning("re-seal of %s left for later: %s", bus.arn, type(exc).__name__)
        return done

    async def run_forever(self) -> None:
        while True:
            try:
                await self.resume()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("event buses' re-seal pass failed")
            await asyncio.sleep(self.interval)
