"""The answers of Route 53's hosted zones, from the document :mod:`~andromede.route53.
responder_data` builds, answered with AWS's semantics: a VPC's zone responder answers its
private zones with them (decision 0284), the public name servers every public zone (decision
0289, with ``referrals``). Pure but for the random choice it is given.

- The zone is the most specific one holding the name; a name of it that has no record is
  NXDOMAIN (no fallthrough), a name that exists without the type asked (or only below it)
  NOERROR with no answer, the zone's SOA in the authority section.
- A wildcard ``*.<parent>`` answers the names below ``<parent>`` that do not exist, at any
  depth, as Route 53 matches them (RFC 4592: from the closest existing ancestor).
- Each set answers with its own TTL; a CNAME is followed within the zones (eight at most).
- An alias to a set of the zone answers the target's current answer under the alias's name;
  with ``EvaluateTargetHealth`` it is healthy while the target has a healthy set.
- Weighted sets: one chosen per query by weight among the healthy ones (all of them when none
  is healthy; equally when every weight is 0); failover: the primary while healthy, else the
  secondary; multivalue: up to eight healthy sets chosen at random (up to eight of all when
  none is healthy). Latency sets answer the one of the responder's Region (else the first),
  geolocation sets the first healthy one in identifier order — as simple sets, the VPC having
  one location; on the public name servers with the operator's ``geography`` (decision 0395,
  ``client_places``), the client's own: the geolocation set of its subdivision, country,
  continent or the default, the latency set of its Region, else the healthy one nearest its
  Region's (or its declared, or its GeoIP coordinates': decision 0413) place.
  IP-based sets (decision 0353, ``cidr_match``): the healthy one whose location
  holds the querier's network by the longest block, else the ``*`` one. Geoproximity sets
  (decision 0339): the healthy one nearest the querier by AWS's biased distance, the querier
  being where its network is declared to be (``origin``, the public name servers') else at
  its GeoIP data's coordinates (decision 0413) else at the document's ``location`` (the
  gateway's region); the first healthy one when none is known.
- AXFR and IXFR are refused (no zone transfer); ANY is answered with one set of the name
  (RFC 8482).
- With ``referrals`` (public zones, decision 0289), an NS set below a zone's apex is a
  delegation (RFC 1034 §4.3.2): a name at or below it is answered with a referral — no AA,
  the NS set in the authority section, the addresses of the name servers within the cut in the
  additional section — except the DS of the cut, which the parent answers (decision 0324): a DS
  query of a child zone's apex served here too is answered by the enclosing zone, and a
  referral asked with DO carries the cut's DS set after its NS set (RFC 4035 §3.1.4). Route
  53's private zones do not delegate: there such NS sets are answered as any set."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from andromede.route53.cidr_match import (
    ClientNetwork,
    choose_by_client,
    collection_blocks,
    query_subnet,
    source_network,
)
from andromede.route53.client_places import ClientGeography, ClientPlace, choose_by_location
from andromede.route53.geoproximity import Point, nearest

__all__ = ["MAX_CHAIN", "MAX_MULTIVALUE", "ZoneAnswers", "ZoneSet"]

MAX_CHAIN: Final = 8  # CNAMEs and aliases followed for one answer
MAX_MULTIVALUE: Final = 8
_TRANSFERS: Final = frozenset({dns.rdatatype.AXFR, dns.rdatatype.IXFR})


@dataclass(frozen=True)
class ZoneSet:
    name: str
    type: str
    ttl: int
    values: tuple[str, ...]
    policy: str
    identifier: str | None
    weight: int | None
    failover: str | None
    region: str | None
    healthy: bool
    alias: tuple[str, bool] | None  # (target name, evaluate target health)
    point: Point | None = None  # geoproximity: where the resource is (decision 0339)
    bias: int = 0
    cidr: tuple[str, str] | None = None  # (collection id, location): decision 0353
    geo: tuple[str, str, str] | None = None  # (continent, country, subdivision): 0395


@dataclass(frozen=True)
class _Querier:
    point: Point | None  # where it is (geoproximity)
    network: ClientNetwork | None  # its address or client subnet (IP-based sets)
    place: ClientPlace | None = None  # geolocation and latency sets (decision 0395)


def _zone_set(raw: dict[str, Any]) -> ZoneSet:
    alias = raw.get("alias")
    point = raw.get("point")
    cidr = raw.get("cidr")
    geo = raw.get("geo")
    return ZoneSet(
        name=str(raw["name"]).lower(),
        type=str(raw["type"]),
        ttl=int(raw["ttl"]),
        values=tuple(str(v) for v in raw["values"]),
        policy=str(raw["policy"]),
        identifier=raw.get("id"),
        weight=raw.get("weight"),
        failover=raw.get("failover"),
        region=raw.get("region"),
        healthy=bool(raw.get("healthy", True)),
        alias=None if alias is None else (str(alias["name"]).lower(), bool(alias["evaluate"])),
        point=None if point is None else (float(point[0]), float(point[1])),
        bias=int(raw.get("bias") or 0),
        cidr=None if cidr is None else (str(cidr[0]), str(cidr[1])),
        geo=None if geo is None else (str(geo[0]), str(geo[1]), str(geo[2])),
    )


@dataclass
class _Answer:
    rcode: dns.rcode.Rcode
    answer: list[dns.rrset.RRset]
    zone: str | None
    referral: dns.rrset.RRset | None = None
    glue: tuple[dns.rrset.RRset, ...] = ()
    signer: dns.rrset.RRset | None = None  # the cut's DS set (decision 0324)


class ZoneAnswers:
    """The answers of one document's zones."""

    def __init__(
        self,
        document: str,
        choose: Callable[[], float] = random.random,
        referrals: bool = False,
    ) -> None:
        parsed = json.loads(document) if document else {"zones": [], "sets": []}
        self.zones: tuple[str, ...] = tuple(
            sorted((str(z).lower() for z in parsed["zones"]), key=len, reverse=True)
        )
        self._sets: dict[tuple[str, str], list[ZoneSet]] = {}
        self._names: set[str] = set()
        self._types: dict[str, set[str]] = {}
        for raw in parsed["sets"]:
            zone_set = _zone_set(raw)
            self._sets.setdefault((zone_set.name, zone_set.type), []).append(zone_set)
            self._types.setdefault(zone_set.name, set()).add(zone_set.type)
            self._names.add(zone_set.name)
        for sets in self._sets.values():
            sets.sort(key=lambda s: s.identifier or "")
        # Empty non-terminals exist (RFC 4592): every ancestor of a name, within its zone.
        for name in list(self._names):
            zone = self.zone_of(name)
            labels = name.split(".")
            for start in range(1, len(labels)):
                parent = ".".join(labels[start:])
                if zone is None or len(parent) < len(zone):
                    break
                self._names.add(parent)
        self._region = str(parsed.get("region", ""))
        location = parsed.get("location")
        self._location: Point | None = (
            None if location is None else (float(location[0]), float(location[1]))
        )
        self._random = choose
        self._referrals = referrals
        self._collections = collection_blocks(parsed.get("collections") or {})
        # Whether the answer being made depended on the querier (the ECS scope it carries):
        # set while one response is made, which is synchronous.
        self._tailored = False

    def zone_of(self, name: str) -> str | None:
        return next((z for z in self.zones if name == z or name.endswith("." + z)), None)

    def zone_answering(self, name: str, record_type: str) -> str | None:
        """The zone answering ``record_type`` at ``name``: its own, but for the DS set of a
        zone's apex, which the enclosing zone holds when it is served here too (RFC 4035
        §3.1.4.1: the DS set is authoritative in the parent)."""
        zone = self.zone_of(name)
        if record_type == "DS" and self._referrals and zone == name:
            parent = next((z for z in self.zones if name.endswith("." + z)), None)
            return parent or zone
        return zone

    # -- the protocol ---------------------------------------------------------------------

    def respond(
        self,
        query: dns.message.Message,
        origin: Point | None = None,
        source: str | None = None,
        geography: ClientGeography | None = None,
    ) -> dns.message.Message:
        """The response to ``query``: authoritative for the zones, REFUSED outside them;
        ``origin`` where the querier is, when known (else the document's location);
        ``source`` its address, the IP-based sets answering its EDNS client subnet when the
        query carries one, else it (decision 0353), the response carrying the subnet back
        with AWS's scope; ``geography`` where the operator places that network for the
        geolocation and latency sets (decision 0395), None: answered as in a VPC."""
        self._tailored = False
        subnet = query_subnet(query)
        client = subnet.network if subnet is not None else source_network(source)
        response = dns.message.make_response(query)
        response.flags &= ~dns.flags.RA
        if query.opcode() != 0 or len(query.question) != 1:
            response.set_rcode(dns.rcode.NOTIMP if query.opcode() != 0 else dns.rcode.FORMERR)
            return response
        question = query.question[0]
        name = question.name.to_text().lower()
        if (
            question.rdclass != dns.rdataclass.IN
            or question.rdtype in _TRANSFERS
            or self.zone_of(name) is None
        ):
            response.set_rcode(dns.rcode.REFUSED)
            return response
        record_type = dns.rdatatype.to_text(question.rdtype)
        if question.rdtype == dns.rdatatype.ANY:
            record_type = self._any_type(name) or record_type
        place = None if geography is None else geography.place(client)
        found = self.answer(name, record_type, origin, client, place)
        if subnet is not None:
            response.use_edns(
                0, response.ednsflags, response.payload, options=[subnet.answer(self._tailored)]
            )
        response.set_rcode(found.rcode)
        response.answer.extend(found.answer)
        if found.referral is not None and not found.answer:
            response.authority.append(found.referral)
            if found.signer is not None and query.ednsflags & dns.flags.DO:
                response.authority.append(found.signer)
            response.additional.extend(found.glue)
            return response  # not authoritative: the child zone's servers are
        response.flags |= dns.flags.AA
        wanted = dns.rdatatype.from_text(record_type)
        if not any(r.rdtype == wanted for r in found.answer) and found.zone:
            soa = self._soa(found.zone)
            if soa is not None:
                response.authority.append(soa)
        return response

    def _any_type(self, name: str) -> str | None:
        """The one type an ANY query of ``name`` is answered with (RFC 8482): its first set
        in type order, None when the name has none."""
        zone = self.zone_of(name)
        owner = None if zone is None else self._owner(name, zone)
        if owner is None:
            return None
        return min((t for n, t in self._sets if n == owner), default=None)

    def types_of(self, name: str, zone: str | None = None) -> tuple[str, ...]:
        """The types of the sets answering ``name`` (its own, else its wildcard's) in ``zone``
        (by default the zone of ``name``): what a signed zone's NSEC lists (decision 0317).
        At a zone's apex seen from its parent (a cut), only the parent's types: NS and DS."""
        if zone is None:
            zone = self.zone_of(name)
        elif zone != self.zone_of(name):
            held = self._types.get(name, set())
            return tuple(sorted(held & {"NS", "DS"}))
        owner = None if zone is None else self._owner(name, zone)
        return () if owner is None else tuple(sorted(self._types.get(owner, ())))

    def negative_soa(self, zone: str) -> dns.rrset.RRset | None:
        """The SOA a negative answer of ``zone`` carries (its TTL the negative TTL)."""
        return self._soa(zone)

    def _soa(self, zone: str) -> dns.rrset.RRset | None:
        sets = self._sets.get((zone, "SOA"))
        if not sets:
            return None
        soa = sets[0]
        minimum = int(soa.values[0].split()[-1]) if soa.values else soa.ttl
        return _rrset(zone, "SOA", min(soa.ttl, minimum), soa.values)

    # -- the answer -----------------------------------------------------------------------

    def answer(
        self,
        name: str,
        record_type: str,
        origin: Point | None = None,
        client: ClientNetwork | None = None,
        place: ClientPlace | None = None,
    ) -> _Answer:
        """The answer section for ``name`` and ``record_type``, and the rcode; ``client``
        the querier's network (its address, or its EDNS client subnet: decision 0353),
        ``place`` where it is (decision 0395)."""
        # Where the querier is: its network's declared place (0339), else the GeoIP data's
        # coordinates of it (0413), else the gateway's region.
        own = None if place is None else place.point
        querier = _Querier(origin or own or self._location, client, place)
        answer: list[dns.rrset.RRset] = []
        rcode: dns.rcode.Rcode = dns.rcode.NOERROR
        current = name
        for _ in range(MAX_CHAIN):
            zone = self.zone_answering(current, record_type)
            if zone is None:
                break  # a CNAME out of the zones: the client's resolver follows it
            cut = self._cut(current, zone, record_type)
            if cut is not None:  # delegated: the client's resolver asks the child's servers
                if answer:
                    break
                ns = self._sets[(cut, "NS")][0]
                referral = _rrset(cut, "NS", ns.ttl, ns.values)
                ds = self._sets.get((cut, "DS"))
                signer = _rrset(cut, "DS", ds[0].ttl, ds[0].values) if ds else None
                glue = self._glue(cut, ns.values)
                return _Answer(rcode, answer, zone, referral, glue, signer)
            owner = self._owner(current, zone)
            if owner is None:
                if not answer:
                    rcode = dns.rcode.NXDOMAIN
                break
            values = self._values(owner, record_type, 0, querier)
            if values is not None:
                if values[1]:  # an alias whose target has nothing now answers nothing
                    answer.append(_rrset(current, record_type, *values))
                break
            cname = self._values(owner, "CNAME", 0, querier)
            if cname is None or record_type == "CNAME":
                break
            answer.append(_rrset(current, "CNAME", *cname))
            current = cname[1][0].lower()
            if not current.endswith("."):
                current += "."
        return _Answer(rcode, answer, self.zone_answering(name, record_type))

    def _cut(self, name: str, zone: str, record_type: str) -> str | None:
        """The delegation point at or above ``name`` below its zone's apex, the highest one
        (RFC 1034 §4.3.2), None when none or without ``referrals``."""
        if not self._referrals:
            return None
        labels = name.split(".")
        for start in range(len(labels) - 1, -1, -1):
            candidate = ".".join(labels[start:])
            if len(candidate) <= len(zone):
                continue
            if (candidate, "NS") in self._sets:
                # The DS set of a cut is the parent's (RFC 4035 §3.1.4.1).
                return None if candidate == name and record_type == "DS" else candidate
        return None

    def _glue(self, cut: str, servers: Sequence[str]) -> tuple[dns.rrset.RRset, ...]:
        """The addresses of the name servers of the cut that are below it: without them the
        child's servers could not be reached."""
        glue: list[dns.rrset.RRset] = []
        for server in servers:
            host = server.lower() if server.endswith(".") else server.lower() + "."
            if host != cut and not host.endswith("." + cut):
                continue
            for record_type in ("A", "AAAA"):
                sets = self._sets.get((host, record_type))
                if sets:
                    glue.append(_rrset(host, record_type, sets[0].ttl, sets[0].values))
        return tuple(glue)

    def _owner(self, name: str, zone: str) -> str | None:
        """The name whose sets answer ``name``: itself when it exists, else the wildcard of
        its closest existing ancestor; None when neither (NXDOMAIN)."""
        if name in self._names:
            return name
        labels = name.split(".")
        for start in range(1, len(labels)):
            parent = ".".join(labels[start:])
            if len(parent) < len(zone):
                return None
            if parent in self._names:
                wildcard = "*." + parent
                return wildcard if wildcard in self._names else None
        return None

    def _values(
        self, owner: str, record_type: str, depth: int, querier: _Querier
    ) -> tuple[int, tuple[str, ...]] | None:
        """The TTL and values the sets of ``owner`` and ``record_type`` answer now, after
        their routing policy; None when there is no such set."""
        sets = self._sets.get((owner, record_type))
        if not sets:
            return None
        chosen = self._route(sets, depth, querier)
        values: list[str] = []
        ttl: int | None = None
        for zone_set in chosen:
            got = self._set_values(zone_set, depth, querier)
            if got is None:
                continue
            ttl = got[0] if ttl is None else min(ttl, got[0])
            values += [v for v in got[1] if v not in values]
        if ttl is None:
            return (chosen[0].ttl if chosen else 0), ()
        return ttl, tuple(values)

    def _set_values(
        self, zone_set: ZoneSet, depth: int, querier: _Querier
    ) -> tuple[int, tuple[str, ...]] | None:
        if zone_set.alias is None:
            return zone_set.ttl, zone_set.values
        if depth >= MAX_CHAIN:
            return None
        target = zone_set.alias[0]
        zone = self.zone_of(target)
        owner = None if zone is None else self._owner(target, zone)
        return None if owner is None else self._values(owner, zone_set.type, depth + 1, querier)

    def _healthy(self, zone_set: ZoneSet, depth: int) -> bool:
        if not zone_set.healthy:
            return False
        if zone_set.alias is None or not zone_set.alias[1] or depth >= MAX_CHAIN:
            return True
        target = zone_set.alias[0]
        targets = self._sets.get((target, zone_set.type), [])
        return any(self._healthy(t, depth + 1) for t in targets)

    def _route(self, sets: Sequence[ZoneSet], depth: int, querier: _Querier) -> list[ZoneSet]:
        """The sets answering now, by their (shared) routing policy."""
        policy = sets[0].policy
        healthy = [s for s in sets if self._healthy(s, depth)]
        if policy == "simple":
            return list(sets[:1])
        if policy == "weighted":
            pool = healthy or list(sets)
            weighted = [s for s in pool if (s.weight or 0) > 0]
            if not weighted:
                return [pool[int(self._random() * len(pool)) % len(pool)]]
            point = self._random() * sum(s.weight or 0 for s in weighted)
            for zone_set in weighted:
                point -= zone_set.weight or 0
                if point < 0:
                    return [zone_set]
            return [weighted[-1]]
        if policy == "failover":
            primary = [s for s in sets if s.failover == "PRIMARY"]
            secondary = [s for s in sets if s.failover == "SECONDARY"]
            if primary and primary[0] in healthy:
                return primary
            if secondary and secondary[0] in healthy:
                return secondary
            return primary or secondary
        if policy == "multivalue":
            pool = list(healthy or sets)
            picked: list[ZoneSet] = []
            while pool and len(picked) < MAX_MULTIVALUE:
                picked.append(pool.pop(int(self._random() * len(pool)) % len(pool)))
            return picked
        if policy == "latency":
            place = querier.place
            if place is not None and (place.by_region or place.by_geo):
                self._tailored = True
                return self._nearest_region(list(healthy or sets), querier)
            local = [s for s in healthy or sets if s.region == self._region]
            return local[:1] or list((healthy or sets)[:1])
        if policy == "geo" and querier.place is not None and querier.place.by_geo:
            self._tailored = True
            return choose_by_location(sets, healthy, querier.place.geo)
        if policy == "geoproximity":
            pool = healthy or list(sets)
            self._tailored = True
            return [pool[nearest(querier.point, [(s.point, s.bias) for s in pool])]]
        if policy == "cidr":
            self._tailored = True
            return choose_by_client(sets, healthy, self._collections, querier.network)
        return list((healthy or sets)[:1])

    def _nearest_region(self, pool: list[ZoneSet], querier: _Querier) -> list[ZoneSet]:
        """Decision 0395: the set of the client's Region (``route53_client_regions``: a
        measured latency beats a distance), else (none there, or unhealthy) the one nearest
        its Region's place, else its own point (declared, else the GeoIP data's: 0413; the
        gateway's region's when none): the lowest latency a Region's distance stands for."""
        place = querier.place
        own = [s for s in pool if place is not None and s.region == place.region]
        if own:
            return own[:1]
        origin = (place.region_point if place is not None else None) or querier.point
        if origin is None or not any(s.point is not None for s in pool):
            local = [s for s in pool if s.region == self._region]
            return local[:1] or pool[:1]
        return [pool[nearest(origin, [(s.point, 0) for s in pool])]]


def _rrset(name: str, record_type: str, ttl: int, values: Sequence[str]) -> dns.rrset.RRset:
    rdtype = dns.rdatatype.from_text(record_type)
    rdatas = [
        # Route 53 reads the names in a value as absolute: the root is their origin.
        dns.rdata.from_text(dns.rdataclass.IN, rdtype, value, dns.name.root, relativize=False)
        for value in values
    ]
    return dns.rrset.from_rdata_list(dns.name.from_text(name), ttl, rdatas)
