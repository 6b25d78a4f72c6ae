"""Route 53's hosted zones and record sets for the API (decision 0280): a zone made with its
SOA and NS records, idempotent by caller reference as AWS's CreateHostedZone is, private zones
associated with the account's VPCs, change batches applied all or nothing (a batch that
loses a race with another is read again and retried), pages in AWS's orders. Changes are
``INSYNC`` at once: the zone's one copy is the one every resolver reads."""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from andromede.route53.client_places import ClientGeography
from andromede.route53.errors import (
    ConflictingDomainExists,
    DelegationSetAlreadyReusable,
    HostedZoneAlreadyExists,
    HostedZoneNotEmpty,
    InvalidChangeBatch,
    InvalidInput,
    InvalidVPCId,
    LastVPCAssociation,
    NoSuchChange,
    NoSuchCidrCollectionException,
    NoSuchHostedZone,
    NotAuthorizedException,
    PublicZoneVPCAssociation,
    TooManyHostedZones,
    TooManyVPCAssociationAuthorizations,
    VPCAssociationAuthorizationNotFound,
    VPCAssociationNotFound,
    ZoneChanged,
)
from andromede.route53.geoproximity import AWS_REGIONS, ClientLocations, Point
from andromede.route53.model import (
    AliasTarget,
    Change,
    HostedZone,
    RecordSet,
    apply_changes,
    change_words,
    check_record,
    display_name,
    made_records,
    normalise_name,
    record_order,
    within,
)
from andromede.route53.record_health import EveryCheckHealthy, HealthLookup
from andromede.route53.responder_data import responder_document
from andromede.route53.routing import alias_problem
from andromede.route53.store import ZoneStore

__all__ = [
    "AliasTargets",
    "DelegationServers",
    "Route53Limits",
    "Route53Service",
    "VpcExists",
    "VpcOwner",
    "VpcsChanged",
]

VpcExists = Callable[[str, str, str], Awaitable[bool]]  # tenant, region, VPC id
# The addresses an alias target outside the zone stands for (a load balancer of the account,
# decision 0284), None when there is no such target: tenant, target, record type.
AliasTargets = Callable[[str, AliasTarget, str], Awaitable[tuple[str, ...] | None]]
# Told the VPCs whose private zones changed, so that their resolvers are told again.
VpcsChanged = Callable[[Sequence[str]], Awaitable[None]]
# The account owning a VPC (region, VPC id), None when no account does (decision 0346).
VpcOwner = Callable[[str, str], Awaitable[str | None]]
# A reusable delegation set's name servers for a new zone of that name (decision 0346):
# tenant, set id, zone name (None: the set only looked up); the set's refusals raised.
DelegationServers = Callable[[str, str, str | None], Awaitable[tuple[str, ...]]]
# Decision 0353: a CIDR collection's locations (None: the account has no such collection),
# and the blocks of collections by location (tenant, collection ids).
CidrLocations = Callable[[str, str], Awaitable[frozenset[str] | None]]
CidrBlocks = Callable[
    [str, Collection[str]], Awaitable[Mapping[str, Mapping[str, tuple[str, ...]]]]
]
_ID_ALPHABET: Final = string.ascii_uppercase + string.digits
_RETRIES: Final = 8


def new_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(20))


@dataclass(frozen=True)
class Route53Limits:
    name_servers: tuple[str, ...]
    max_hosted_zones: int = 500
    max_changes: int = 1000
    max_records: int = 10000
    max_vpc_authorisations: int = 100  # a zone's (decision 0346)
    region: str = ""  # the gateway's: the latency sets the VPC responders answer
    # Where the places geoproximity sets name are, and the gateway's region (decision 0339).
    places: Mapping[str, Point] = field(default_factory=lambda: dict(AWS_REGIONS))
    # Where the public name servers' clients are, by network (decision 0339).
    clients: ClientLocations = field(default_factory=lambda: ClientLocations({}, {}))
    # Where they are for geolocation and latency sets, None: as in a VPC (decision 0395).
    geography: ClientGeography | None = None


@dataclass(frozen=True)
class Submitted:
    change_id: str
    submitted: int  # ms


class Route53Service:
    def __init__(
        self,
        store: ZoneStore,
        limits: Route53Limits,
        vpc_exists: VpcExists,
        clock: Callable[[], float] = time.time,
        vpcs_changed: VpcsChanged | None = None,
        alias_targets: AliasTargets | None = None,
    ) -> None:
        self.store = store
        self.vpcs_changed = vpcs_changed
        self.alias_targets = alias_targets
        # The health checks' status (decision 0285 plugs its own in).
        self.health: HealthLookup = EveryCheckHealthy()
        # Told that a public zone (or a health check one may name) changed: the public name
        # servers read the zones again at their next query (decision 0289).
        self.public_changed: Callable[[], None] | None = None
        # Told (tenant, zone id) when a zone is deleted: its query logging goes (decision 0305).
        self.zone_deleted: Callable[[str, str], Awaitable[None]] | None = None
        # Decision 0346: a reusable delegation set's servers (the sets' service plugs it in),
        # and which account owns a VPC (an authorisation names another account's VPC).
        self.delegation_servers: DelegationServers | None = None
        self.vpc_owner: VpcOwner | None = None
        # Decision 0353: the CIDR collections' service plugs its lookups in.
        self.cidr_locations: CidrLocations | None = None
        self.cidr_blocks: CidrBlocks | None = None
        self._limits = limits
        self._vpc_exists = vpc_exists
        self._clock = clock

    async def _changed(self, *zones: HostedZone) -> None:
        if self.public_changed is not None and any(not z.private for z in zones):
            self.public_changed()
        vpcs = sorted({vpc_id for z in zones if z.private for _, vpc_id in z.vpcs})
        if vpcs and self.vpcs_changed is not None:
            await self.vpcs_changed(vpcs)

    async def vpc_zones(self, vpc_id: str) -> tuple[tuple[str, ...], str]:
        """The private zones of the VPC (names without the final dot) and the document its
        zone responder answers (``responder_data``), with the health checks' status and the
        load balancers' addresses of now."""
        zones = await self.store.with_vpc(vpc_id)
        if not zones:
            return (), ""
        names = tuple(sorted(z.name.rstrip(".") for z in zones))
        return names, await self.document(zones)

    async def document(self, zones: Sequence[HostedZone]) -> str:
        """The document answering ``zones`` (``responder_data``): the health checks' status
        and the load balancers' addresses of now."""
        healthy: dict[str, bool] = {}
        foreign: dict[tuple[str, str, str], tuple[str, ...]] = {}
        for zone in zones:
            checks = {r.health_check_id for r in zone.records if r.health_check_id}
            if checks:
                healthy.update(await self.health.healthy(zone.tenant_id, checks))
            for record in zone.records:
                alias = record.alias
                if alias is None or alias.hosted_zone_id == zone.zone_id:
                    continue
                found = None
                if self.alias_targets is not None:
                    found = await self.alias_targets(zone.tenant_id, alias, record.type)
                foreign[(alias.hosted_zone_id, alias.dns_name, record.type)] = found or ()
        collections = await self._collections_of(zones)
        return responder_document(
            zones, healthy, foreign, self._limits.region, self._limits.places, collections
        )

    async def _collections_of(
        self, zones: Sequence[HostedZone]
    ) -> dict[str, Mapping[str, tuple[str, ...]]]:
        """The blocks of the CIDR collections the zones' IP-based sets name (decision 0353)."""
        wanted: dict[str, set[str]] = {}
        for zone in zones:
            for record in zone.records:
                if record.cidr_routing is not None:
                    wanted.setdefault(zone.tenant_id, set()).add(record.cidr_routing[0])
        found: dict[str, Mapping[str, tuple[str, ...]]] = {}
        if self.cidr_blocks is not None:
            for tenant_id, ids in wanted.items():
                found.update(await self.cidr_blocks(tenant_id, ids))
        return found

    async def cidr_collection_changed(self, tenant_id: str, collection_id: str) -> None:
        """A CIDR collection's blocks changed (decision 0353): the zones naming it are
        answered again."""
        zones = [
            z
            for z in await self.store.zones(tenant_id)
            if any(r.cidr_routing and r.cidr_routing[0] == collection_id for r in z.records)
        ]
        await self._changed(*zones)

    async def _check_cidr(self, tenant_id: str, changes: Sequence[Change]) -> None:
        """Decision 0353: an IP-based set names a collection of the account
        (``NoSuchCidrCollectionException``) and one of its locations or ``*``
        (``InvalidChangeBatch``), as AWS refuses them."""
        if self.cidr_locations is None:
            return
        problems: list[str] = []
        for change in changes:
            routing = change.record.cidr_routing
            if change.action == "DELETE" or routing is None:
                continue
            locations = await self.cidr_locations(tenant_id, routing[0])
            if locations is None:
                raise NoSuchCidrCollectionException(
                    f"The CIDR collection with ID {routing[0][:64]} doesn't exist."
                )
            if routing[1] != "*" and routing[1] not in locations:
                problems.append(
                    f"The CIDR location {routing[1][:16]} doesn't exist in collection "
                    f"{routing[0][:64]} for {change.record.label()}"
                )
        if problems:
            raise InvalidChangeBatch(problems)

    @property
    def geography(self) -> ClientGeography | None:
        """Where the operator places the public name servers' clients (decision 0395)."""
        return self._limits.geography

    def client_location(self, address: str | None) -> Point | None:
        """Where a DNS client at ``address`` is (its declared network's place), None when
        unknown: its answers are then the gateway's region's (decision 0339)."""
        return self._limits.clients.locate(address)

    def _check_places(self, records: Sequence[RecordSet], action: str = "CREATE") -> None:
        """Decision 0339: a geoproximity set names a place whose coordinates are known."""
        for record in records:
            location = record.geoproximity
            place = None if location is None else location.place()
            if location is None or place is None or place in self._limits.places:
                continue
            kind = "AWSRegion" if location.aws_region is not None else "LocalZoneGroup"
            raise InvalidInput(
                f"Invalid request: {kind} '{place[:64]}' is not a known location in "
                f"{change_words(action, record)}"
            )

    async def health_changed(self, tenant_id: str, health_check_ids: Collection[str]) -> None:
        """Health checks of the account changed status (decision 0285 calls it): the VPCs of
        the private zones whose sets name them are told their zones again, the public name
        servers read theirs again (decision 0289)."""
        wanted = set(health_check_ids)
        zones = [
            z
            for z in await self.store.zones(tenant_id)
            if any(r.health_check_id in wanted for r in z.records)
        ]
        await self._changed(*zones)

    def _now(self) -> int:
        return int(self._clock() * 1000)

    async def _submit(self, tenant_id: str) -> Submitted:
        submitted = Submitted(new_id("C"), self._now())
        await self.store.add_change(tenant_id, submitted.change_id, submitted.submitted)
        return submitted

    async def submit(self, tenant_id: str) -> Submitted:
        """A change GetChange answers, for the zone changes other services make (DNSSEC)."""
        return await self._submit(tenant_id)

    async def zone(self, tenant_id: str, zone_id: str) -> HostedZone:
        zone = await self.store.get(tenant_id, zone_id)
        if zone is None:
            raise NoSuchHostedZone(f"No hosted zone found with ID: {zone_id[:64]}")
        return zone

    async def create_zone(
        self,
        tenant_id: str,
        name: str,
        caller_reference: str,
        comment: str,
        private: bool,
        vpc: tuple[str, str] | None,
        delegation_set_id: str | None = None,
    ) -> tuple[HostedZone, Submitted]:
        """A new zone, or the one this caller reference made with the same parameters; on a
        reusable delegation set's name servers when ``delegation_set_id`` names one."""
        zone_name = normalise_name(name)
        if private and vpc is None:
            raise InvalidInput(
                "When you're creating a private hosted zone, you must specify a VPC."
            )
        if vpc is not None:
            private = True
        if private and delegation_set_id is not None:
            raise InvalidInput(
                "The input is not valid: a reusable delegation set can't be associated with a "
                "private hosted zone"
            )
        before = await self.store.by_reference(tenant_id, caller_reference)
        if before is not None:
            if (before.name, before.private, before.vpcs[:1], before.delegation_set_id) == (
                zone_name,
                private,
                () if vpc is None else (vpc,),
                delegation_set_id,
            ):
                return before, await self._submit(tenant_id)
            raise HostedZoneAlreadyExists(
                "A hosted zone has already been created with the specified caller reference."
            )
        if vpc is not None:
            await self._check_vpc(tenant_id, zone_name, vpc, None)
        zones = await self.store.zones(tenant_id)
        if len(zones) >= self._limits.max_hosted_zones:
            raise TooManyHostedZones(
                f"Limits Exceeded: MAX_HOSTED_ZONES_BY_OWNER - Cannot create more than "
                f"{self._limits.max_hosted_zones} hosted zones."
            )
        servers = self._limits.name_servers if not private else _private_servers()
        if delegation_set_id is not None:
            if self.delegation_servers is None:
                raise InvalidInput("Reusable delegation sets are not served here")
            servers = await self.delegation_servers(tenant_id, delegation_set_id, zone_name)
        zone_id = new_id("Z")
        zone = HostedZone(
            tenant_id=tenant_id,
            zone_id=zone_id,
            name=zone_name,
            caller_reference=caller_reference,
            comment=comment,
            private=private,
            created=self._now(),
            vpcs=() if vpc is None else (vpc,),
            records=made_records(zone_name, servers),
            delegation_set_id=delegation_set_id,
        )
        await self.store.create(zone)
        await self._changed(zone)
        return zone, await self._submit(tenant_id)

    async def _check_vpc(
        self, tenant_id: str, zone_name: str, vpc: tuple[str, str], zone_id: str | None
    ) -> None:
        region, vpc_id = vpc
        if not await self._vpc_exists(tenant_id, region, vpc_id):
            raise InvalidVPCId(f"The VPC ID '{vpc_id[:64]}' is not valid for region {region[:32]}")
        for other in await self.store.with_vpc(vpc_id):
            if other.name == zone_name and other.zone_id != zone_id:
                raise ConflictingDomainExists(
                    f"The VPC {vpc_id} in {region} region has already been associated with "
                    f"the hosted zone {other.zone_id} with the same domain name."
                )

    async def list_zones(
        self,
        tenant_id: str,
        marker: str | None,
        max_items: int,
        delegation_set_id: str | None = None,
    ) -> tuple[list[HostedZone], str | None]:
        zones = sorted(await self.store.zones(tenant_id), key=lambda z: z.zone_id)
        if delegation_set_id is not None:
            zones = [z for z in zones if z.delegation_set_id == delegation_set_id]
        if marker:
            zones = [z for z in zones if z.zone_id >= marker]
        page = zones[:max_items]
        return page, zones[max_items].zone_id if len(zones) > max_items else None

    async def list_by_name(
        self, tenant_id: str, dns_name: str | None, zone_id: str | None, max_items: int
    ) -> tuple[list[HostedZone], tuple[str, str] | None]:
        """Zones in AWS's order (the name's labels reversed, then the id), from ``dns_name``
        (and ``zone_id`` among zones of that name); the next name and id, if more."""

        def key(zone: HostedZone) -> tuple[tuple[str, ...], str]:
            return record_order(zone.name, "")[0], zone.zone_id

        zones = sorted(await self.store.zones(tenant_id), key=key)
        if dns_name:
            start = (record_order(normalise_name(dns_name), "")[0], zone_id or "")
            zones = [z for z in zones if key(z) >= start]
        elif zone_id:
            raise InvalidInput("The input is not valid: HostedZoneId requires DNSName")
        page = zones[:max_items]
        more = zones[max_items] if len(zones) > max_items else None
        return page, None if more is None else (more.name, more.zone_id)

    async def delete_zone(self, tenant_id: str, zone_id: str) -> Submitted:
        zone = await self.zone(tenant_id, zone_id)
        if any(r.type not in {"SOA", "NS"} or r.name != zone.name for r in zone.records):
            raise HostedZoneNotEmpty(
                "The specified hosted zone contains non-required resource record sets and so "
                "cannot be deleted."
            )
        await self.store.delete(tenant_id, zone_id, zone.version)
        if self.zone_deleted is not None:
            await self.zone_deleted(tenant_id, zone_id)
        await self._changed(zone)
        return await self._submit(tenant_id)

    async def use_delegation_set(self, tenant_id: str, zone_id: str, set_id: str) -> None:
        """Decision 0346: the zone's name servers became reusable set ``set_id``."""

        def using(zone: HostedZone) -> HostedZone:
            if zone.delegation_set_id is not None:
                raise DelegationSetAlreadyReusable(
                    f"The delegation set of hosted zone {zone_id[:64]} is already reusable."
                )
            return zone.replaced(delegation_set_id=set_id)

        await self._update(tenant_id, zone_id, using)

    async def update_comment(self, tenant_id: str, zone_id: str, comment: str) -> HostedZone:
        return await self._update(tenant_id, zone_id, lambda z: z.replaced(comment=comment))

    async def _update(
        self, tenant_id: str, zone_id: str, change: Callable[[HostedZone], HostedZone]
    ) -> HostedZone:
        for _ in range(_RETRIES):
            zone = await self.zone(tenant_id, zone_id)
            updated = change(zone)
            if updated is zone:
                return zone
            try:
                await self.store.replace(updated)
            except ZoneChanged:
                continue
            return updated
        raise ZoneChanged("PriorRequestNotComplete")

    async def change_records(
        self, tenant_id: str, zone_id: str, changes: Sequence[Change]
    ) -> Submitted:
        for change in changes:
            check_record(change.record, change.action)
            if change.action != "DELETE":
                self._check_places([change.record], change.action)
        await self._check_cidr(tenant_id, changes)
        limit = self._limits.max_changes
        elsewhere = await self._foreign_alias_problems(tenant_id, zone_id, changes)

        def apply(zone: HostedZone) -> HostedZone:
            records = apply_changes(zone, changes, limit, elsewhere)
            if len(records) > self._limits.max_records:
                raise InvalidInput(
                    f"Limits Exceeded: MAX_RRSETS_BY_ZONE - Cannot create more than "
                    f"{self._limits.max_records} record sets in a hosted zone."
                )
            return zone.replaced(records=records)

        await self._changed(await self._update(tenant_id, zone_id, apply))
        return await self._submit(tenant_id)

    async def place_instance(
        self, tenant_id: str, zone_id: str, instance_id: str, records: Sequence[RecordSet]
    ) -> HostedZone:
        """Decision 0330: the zone's sets of traffic policy instance ``instance_id`` replaced
        by ``records`` (none: taken away), all at once; refused (``InvalidInput``) when a set
        the instance does not own holds one of their names and types (or a CNAME beside
        them), or an alias of theirs targets no load balancer of the account."""
        self._check_places(records)
        alias_problems = await self._foreign_alias_problems(
            tenant_id, zone_id, [Change("CREATE", r) for r in records]
        )
        if alias_problems:
            raise InvalidInput(alias_problems[-1])

        def place(zone: HostedZone) -> HostedZone:
            kept = tuple(r for r in zone.records if r.traffic_policy_instance_id != instance_id)
            types = {(r.name, r.type) for r in records}
            for record in records:
                if not within(record.name, zone.name):
                    raise InvalidInput(
                        f"RRSet with DNS name {display_name(record.name)} is not permitted in "
                        f"zone {zone.name}"
                    )
            for other in kept:
                if any(other.name == n and (other.type == t or "CNAME" in {other.type, t})
                       for n, t in types):  # fmt: skip
                    raise InvalidInput(
                        f"Tried to create resource record set {other.label()} for a "
                        "traffic policy instance but a resource record set with that name "
                        "already exists"
                    )
            placed = kept + tuple(records)
            if len(placed) > self._limits.max_records:
                raise InvalidInput(
                    f"Limits Exceeded: MAX_RRSETS_BY_ZONE - Cannot create more than "
                    f"{self._limits.max_records} record sets in a hosted zone."
                )
            return zone if placed == zone.records else zone.replaced(records=placed)

        zone = await self._update(tenant_id, zone_id, place)
        await self._changed(zone)
        return zone

    async def _foreign_alias_problems(
        self, tenant_id: str, zone_id: str, changes: Sequence[Change]
    ) -> list[str]:
        """AWS's refusals of the aliases written by ``changes`` whose target is outside the
        zone and is no load balancer of the account (both of AWS's messages, as it gives
        them for a load balancer it does not find)."""
        problems: list[str] = []
        for change in changes:
            record, alias = change.record, change.record.alias
            if change.action == "DELETE" or alias is None or alias.hosted_zone_id == zone_id:
                continue
            found = None
            if self.alias_targets is not None:
                found = await self.alias_targets(tenant_id, alias, record.type)
            if found is None:
                problems += [
                    alias_problem(alias.dns_name, record.type, alias.hosted_zone_id, why)
                    for why in (
                        "the alias target name does not lie within the target zone",
                        "that target was not found",
                    )
                ]
        return problems

    async def list_records(
        self,
        tenant_id: str,
        zone_id: str,
        start_name: str | None,
        start_type: str | None,
        max_items: int,
        start_identifier: str | None = None,
    ) -> tuple[list[RecordSet], RecordSet | None]:
        zone = await self.zone(tenant_id, zone_id)
        records = zone.sorted_records()
        if start_type and not start_name:
            raise InvalidInput("The input is not valid: StartRecordType requires StartRecordName")
        if start_identifier and not start_type:
            raise InvalidInput(
                "The input is not valid: StartRecordIdentifier requires StartRecordType"
            )
        if start_name:
            start = (*record_order(normalise_name(start_name), start_type or ""),
                     start_identifier or "")  # fmt: skip
            records = [r for r in records if (*record_order(r.name, r.type), r.key()[2]) >= start]
        more = records[max_items] if len(records) > max_items else None
        return records[:max_items], more

    async def change_submitted(self, tenant_id: str, change_id: str) -> int:
        submitted = await self.store.change(tenant_id, change_id)
        if submitted is None:
            raise NoSuchChange(f"Could not find resource with ID: {change_id[:64]}")
        return submitted

    async def change_tags(
        self, tenant_id: str, zone_id: str, add: Sequence[tuple[str, str]], remove: Sequence[str]
    ) -> None:
        def tagged(zone: HostedZone) -> HostedZone:
            tags = dict(zone.tags)
            for key in remove:
                tags.pop(key, None)
            tags.update(add)
            if len(tags) > 50:
                raise InvalidInput("The number of tags exceeds the limit of 50")
            return zone.replaced(tags=tuple(sorted(tags.items())))

        await self._update(tenant_id, zone_id, tagged)

    async def owns_vpc(self, tenant_id: str, vpc: tuple[str, str]) -> bool:
        region, vpc_id = vpc
        return await self._vpc_exists(tenant_id, region, vpc_id)

    async def _zone_for_vpc_owner(
        self, tenant_id: str, zone_id: str, vpc: tuple[str, str]
    ) -> HostedZone | None:
        """Another account's zone when the caller owns ``vpc`` (decision 0346), else None."""
        other = await self.store.by_id(zone_id)
        if other is None or not await self.owns_vpc(tenant_id, vpc):
            return None
        return other

    async def associate(self, tenant_id: str, zone_id: str, vpc: tuple[str, str]) -> Submitted:
        """The account's VPC associated with its zone, or with another account's zone that
        authorised it (decision 0346: the VPC's owner associates)."""
        zone = await self.store.get(tenant_id, zone_id)
        if zone is None:
            zone = await self.store.by_id(zone_id)
            if zone is None:
                raise NoSuchHostedZone(f"No hosted zone found with ID: {zone_id[:64]}")
            if vpc not in zone.authorised_vpcs:
                raise NotAuthorizedException(
                    "Associating the specified VPC with the specified hosted zone has not been "
                    "authorized."
                )
        if not zone.private:
            raise PublicZoneVPCAssociation("Public hosted zone cannot be associated with a VPC.")
        await self._check_vpc(tenant_id, zone.name, vpc, zone_id)
        updated = await self._update(
            zone.tenant_id,
            zone_id,
            lambda z: z if vpc in z.vpcs else z.replaced(vpcs=(*z.vpcs, vpc)),
        )
        await self._changed(updated)
        return await self._submit(tenant_id)

    async def disassociate(self, tenant_id: str, zone_id: str, vpc: tuple[str, str]) -> Submitted:
        """By the zone's account, or by the VPC's (decision 0346), as AWS lets either."""
        owner = tenant_id
        if await self.store.get(tenant_id, zone_id) is None:
            other = await self._zone_for_vpc_owner(tenant_id, zone_id, vpc)
            if other is None:
                raise NoSuchHostedZone(f"No hosted zone found with ID: {zone_id[:64]}")
            owner = other.tenant_id

        def without(zone: HostedZone) -> HostedZone:
            if vpc not in zone.vpcs:
                raise VPCAssociationNotFound(
                    f"The specified VPC {vpc[1][:64]} is not associated with the specified "
                    f"hosted zone {zone_id[:64]}."
                )
            if len(zone.vpcs) == 1:
                raise LastVPCAssociation(
                    "The VPC that you're trying to disassociate from the private hosted zone "
                    "is the last VPC that is associated with the hosted zone."
                )
            return zone.replaced(vpcs=tuple(v for v in zone.vpcs if v != vpc))

        await self._update(owner, zone_id, without)
        if self.vpcs_changed is not None:
            await self.vpcs_changed([vpc[1]])
        return await self._submit(tenant_id)

    async def authorise_vpc(self, tenant_id: str, zone_id: str, vpc: tuple[str, str]) -> None:
        """Decision 0346: the owner of ``vpc`` (another account) may associate it with the
        account's private zone; again for one already authorised changes nothing."""
        zone = await self.zone(tenant_id, zone_id)
        if not zone.private:
            raise InvalidInput(
                "The input is not valid: a public hosted zone can't be associated with a VPC"
            )
        region, vpc_id = vpc
        if self.vpc_owner is not None and await self.vpc_owner(region, vpc_id) is None:
            raise InvalidVPCId(f"The VPC ID '{vpc_id[:64]}' is not valid for region {region[:32]}")
        limit = self._limits.max_vpc_authorisations

        def authorised(z: HostedZone) -> HostedZone:
            if vpc in z.authorised_vpcs:
                return z
            if len(z.authorised_vpcs) >= limit:
                raise TooManyVPCAssociationAuthorizations(
                    "You've created the maximum number of authorizations that can be created "
                    f"for the specified hosted zone ({limit})."
                )
            return z.replaced(authorised_vpcs=(*z.authorised_vpcs, vpc))

        await self._update(tenant_id, zone_id, authorised)

    async def deauthorise_vpc(self, tenant_id: str, zone_id: str, vpc: tuple[str, str]) -> None:
        """The authorisation withdrawn; an association made with it stays, as on AWS."""

        def withdrawn(z: HostedZone) -> HostedZone:
            if vpc not in z.authorised_vpcs:
                raise VPCAssociationAuthorizationNotFound(
                    f"The VPC {vpc[1][:64]} in {vpc[0][:32]} has not been authorized to be "
                    f"associated with the hosted zone {zone_id[:64]}."
                )
            return z.replaced(authorised_vpcs=tuple(v for v in z.authorised_vpcs if v != vpc))

        await self._update(tenant_id, zone_id, withdrawn)


def _private_servers() -> tuple[str, ...]:
    # AWS's private zones carry its generic servers (no delegation set is given back).
    return (
        "ns-0.awsdns-00.com.",
        "ns-512.awsdns-00.net.",
        "ns-1024.awsdns-00.org.",
        "ns-1536.awsdns-00.co.uk.",
    )
