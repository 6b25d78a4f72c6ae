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

Which name servers answer a zone (decision 0395): the servers of its reusable delegation set
(decision 0346, ``set_servers``; a set's servers never change, so they are remembered once
read), else every configured one (``route53_name_servers``). A view is asked for the names
one listening address serves (``served``, the operator's ``route53_name_server_addresses``):
it holds only the zones one of whose servers is among them, the rules above applied among
those (of two zones of one name on different sets, each set's servers answer their own), so
that a query for any other zone is REFUSED there, as an authoritative server answers a zone
it does not serve. ``served`` None: every server's names, every zone.

The cache: the zones are read again once ``max_age`` seconds have passed, or at the next
query after ``invalidate`` (the service calls it when a public zone or a health check
changes on this gateway, or a zone's DNSSEC signing); each set of served names' view is made
from that one read. With ``signing``, the signed zones' keys are read with them, for the
view's :class:`ResponseSigner` (decision 0317)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from andromede.route53.answers import ZoneAnswers
from andromede.route53.dnssec_material import SigningMaterial
from andromede.route53.dnssec_signer import ResponseSigner
from andromede.route53.model import HostedZone, within
from andromede.route53.service import Route53Service

__all__ = ["PublicView", "PublicZones", "SetServers", "reachable_zones", "server_name"]

# A reusable delegation set's name servers by (account, set id), None when it is gone.
SetServers = Callable[[str, str], Awaitable[tuple[str, ...] | None]]


def server_name(name: str) -> str:
    """A name server's host name as compared: lower case, absolute."""
    return _server(name)


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
        set_servers: SetServers | None = None,
    ) -> None:
        self._service = service
        self._signing = signing
        self._set_servers = set_servers
        self._name_servers = tuple(name_servers)
        self._max_age = max_age
        self._clock = clock
        self._zones: list[tuple[HostedZone, frozenset[str]]] | None = None
        self._views: dict[frozenset[str] | None, PublicView] = {}
        self._known_sets: dict[tuple[str, str], frozenset[str]] = {}
        self._read_at = 0.0
        self._generation = 0
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        self._generation += 1
        self._zones = None
        self._views = {}

    async def view(self, served: frozenset[str] | None = None) -> PublicView:
        """The zones the name servers ``served`` (absolute, lower case; None: all) answer
        now: the cached ones while fresh, else read again (one read for the queries
        arriving meanwhile)."""
        view = self._fresh(served)
        if view is not None:
            return view
        async with self._lock:
            view = self._fresh(served)
            if view is not None:
                return view
            generation = self._generation
            if self._zones is None or self._clock() - self._read_at >= self._max_age:
                started = self._clock()
                read = await self._read()
                if generation != self._generation:  # changed while it was read: not kept
                    return await self._make(read, served)
                self._zones, self._read_at, self._views = read, started, {}
            view = await self._make(self._zones, served)
            if generation == self._generation:
                self._views[served] = view
            return view

    async def _read(self) -> list[tuple[HostedZone, frozenset[str]]]:
        """Every public zone with the names of the servers answering it."""
        every = frozenset(_server(s) for s in self._name_servers)
        read = []
        for zone in await self._service.store.public_zones():
            servers = every
            if zone.delegation_set_id is not None and self._set_servers is not None:
                key = (zone.tenant_id, zone.delegation_set_id)
                known = self._known_sets.get(key)
                if known is None:
                    found = await self._set_servers(*key)
                    if found is not None:  # a set's servers never change: kept
                        known = self._known_sets[key] = frozenset(_server(s) for s in found)
                servers = every if known is None else known
            read.append((zone, servers))
        return read

    async def _make(
        self, read: Sequence[tuple[HostedZone, frozenset[str]]], served: frozenset[str] | None
    ) -> PublicView:
        if served is None:
            zones = reachable_zones([z for z, _ in read], self._name_servers)
        else:
            zones = reachable_zones([z for z, s in read if s & served], served)
        document = await self._service.document(zones)
        answers = ZoneAnswers(document, referrals=True)
        owners = {z.name.lower(): (z.tenant_id, z.zone_id) for z in zones}
        signer = None
        if self._signing is not None:
            keys = await self._signing.zone_keys(owners)
            if keys:
                signer = ResponseSigner(answers, keys, self._signing.validity, self._signing.clock)
        return PublicView(answers, owners, signer)

    def _fresh(self, served: frozenset[str] | None) -> PublicView | None:
        if self._zones is None or self._clock() - self._read_at >= self._max_age:
            return None
        return self._views.get(served)
