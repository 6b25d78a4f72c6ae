"""What the public name servers answer (decision 0289): every account's public hosted zones,
read from the store through a short cache, as one :class:`~andromede.route53.answers.
ZoneAnswers` with referrals.

Which zones are reachable, with one set of name servers for every zone:

- of the public zones of one name (AWS lets several accounts, or one, hold them; only the
  one the registrar's NS records point at is reachable), the one created first answers
  (ties by zone id), the others never;
- a zone inside another reachable one (``shop.example.com`` under ``example.com``) answers
  only when the enclosing zone delegates its name to these name servers (an NS set at its
  apex naming one of ``route53_name_servers``), as resolvers would reach it on the internet;
  otherwise the enclosing zone answers its names (a referral if it delegates elsewhere). An
  account cannot take another's names by creating a zone below them.

The cache: the zones are read again once ``max_age`` seconds have passed, or at the next
query after ``invalidate`` (the service calls it when a public zone or a health check
changes on this gateway, or a zone's DNSSEC signing). With ``signing``, the signed zones'
keys are read with them, for the view's :class:`ResponseSigner` (decision 0317)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from andromede.route53.answers import ZoneAnswers
from andromede.route53.dnssec_material import SigningMaterial
from andromede.route53.dnssec_signer import ResponseSigner
from andromede.route53.model import HostedZone, within
from andromede.route53.service import Route53Service

__all__ = ["PublicView", "PublicZones", "reachable_zones"]


def _server(name: str) -> str:
    name = name.strip().lower()
    return name if name.endswith(".") else name + "."


def reachable_zones(zones: Sequence[HostedZone], name_servers: Collection[str]) -> list[HostedZone]:
    """The public zones the name servers answer, by the rules above."""
    first: dict[str, HostedZone] = {}
    for zone in sorted(zones, key=lambda z: (z.created, z.zone_id)):
        first.setdefault(zone.name.lower(), zone)
    ours = {_server(s) for s in name_servers}
    kept: dict[str, HostedZone] = {}
    for name in sorted(first, key=len):  # an enclosing zone before the zones inside it
        parent = max((p for p in kept if p != name and within(name, p)), key=len, default=None)
        if parent is None or _delegated(kept[parent], name, ours):
            kept[name] = first[name]
    return list(kept.values())


def _delegated(parent: HostedZone, name: str, ours: set[str]) -> bool:
    return any(
        r.type == "NS" and r.name.lower() == name and ours & {_server(v) for v in r.values}
        for r in parent.records
    )


@dataclass(frozen=True)
class PublicView:
    answers: ZoneAnswers
    owners: Mapping[str, tuple[str, str]]  # zone name -> (account, zone id)
    signer: ResponseSigner | None = None  # the signed zones' (decision 0317)


class PublicZones:
    def __init__(
        self,
        service: Route53Service,
        name_servers: Collection[str],
        max_age: float,
        clock: Callable[[], float] = time.monotonic,
        signing: SigningMaterial | None = None,
    ) -> None:
        self._service = service
        self._signing = signing
        self._name_servers = tuple(name_servers)
        self._max_age = max_age
        self._clock = clock
        self._view: PublicView | None = None
        self._read_at = 0.0
        self._generation = 0
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        self._generation += 1
        self._view = None

    async def view(self) -> PublicView:
        """The zones answered now: the cached ones while fresh, else read again (one read
        for the queries arriving meanwhile)."""
        view = self._fresh()
        if view is not None:
            return view
        async with self._lock:
            view = self._fresh()
            if view is not None:
                return view
            generation, started = self._generation, self._clock()
            zones = reachable_zones(await self._service.store.public_zones(), self._name_servers)
            document = await self._service.document(zones)
            answers = ZoneAnswers(document, referrals=True)
            owners = {z.name.lower(): (z.tenant_id, z.zone_id) for z in zones}
            signer = None
            if self._signing is not None:
                keys = await self._signing.zone_keys(owners)
                if keys:
                    signer = ResponseSigner(
                        answers, keys, self._signing.validity, self._signing.clock
                    )
            view = PublicView(answers, owners, signer)
            if generation == self._generation:  # not changed while it was read
                self._view, self._read_at = view, started
            return view

    def _fresh(self) -> PublicView | None:
        if self._view is None or self._clock() - self._read_at >= self._max_age:
            return None
        return self._view
