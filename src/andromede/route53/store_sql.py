"""Route 53's zones over the metadata database (SQLite or PostgreSQL), the tables of migration
0132 (decision 0280).

A zone's comment, tags, VPCs, record sets, delegation set and VPC association authorisations
(decision 0346) are one JSON ``definition``; its name, caller
reference and ``version`` are columns. A change batch is one guarded ``UPDATE … WHERE
version = <read>``: two gateways applying batches at once cannot both win, the loser reads
again. The caller reference is unique per account in the database, so two creations racing
with one reference make one zone. A private zone's VPCs are also rows of
``route53_zone_vpcs``, written in the same transaction, so that a VPC's resolver finds its
zones by index."""

from __future__ import annotations

import json
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from andromede.db import tables
from andromede.db.database import Database
from andromede.route53.errors import ZoneChanged
from andromede.route53.geoproximity import GeoProximity
from andromede.route53.model import AliasTarget, HostedZone, RecordSet

__all__ = ["SqlZoneStore"]

_Z = tables.route53_zones
_V = tables.route53_zone_vpcs
_C = tables.route53_changes
FORMAT_VERSION: Final = 1


def _definition(zone: HostedZone) -> str:
    fields: dict[str, Any] = {
        "comment": zone.comment,
        "vpcs": [list(v) for v in zone.vpcs],
        "tags": [list(t) for t in zone.tags],
        "records": [record_json(r) for r in zone.records],
    }
    # Decision 0346: written only when the zone has them, so that other zones read as before.
    if zone.delegation_set_id is not None:
        fields["delegation_set"] = zone.delegation_set_id
    if zone.authorised_vpcs:
        fields["authorised"] = [list(v) for v in zone.authorised_vpcs]
    return json.dumps(fields, sort_keys=True)


def record_json(record: RecordSet) -> list[Any]:
    """A record set as the definition keeps it: (name, type, TTL, values), then its routing
    policy and alias target (decision 0284) only when it has any, so that a simple set is
    written as before."""
    head: list[Any] = [record.name, record.type, record.ttl, list(record.values)]
    routing = {
        "set": record.set_identifier,
        "weight": record.weight,
        "region": record.region,
        "geo": [list(g) for g in record.geo_location] or None,
        "failover": record.failover,
        "multivalue": record.multivalue,
        "health": record.health_check_id,
        "cidr": None if record.cidr_routing is None else list(record.cidr_routing),
        "alias": None
        if record.alias is None
        else [
            record.alias.hosted_zone_id,
            record.alias.dns_name,
            record.alias.evaluate_target_health,
        ],
        "tpi": record.traffic_policy_instance_id,  # decision 0330
        "gp": None if record.geoproximity is None else _geoproximity_json(record.geoproximity),
    }
    kept = {k: v for k, v in routing.items() if v is not None}
    return [*head, kept] if kept else head


def _geoproximity_json(location: GeoProximity) -> dict[str, Any]:
    # Decision 0339: the fields given, and only them (AWS gives back what it was told).
    fields = {
        "region": location.aws_region,
        "lzg": location.local_zone_group,
        "lat": location.latitude,
        "lon": location.longitude,
        "bias": location.bias,
    }
    return {k: v for k, v in fields.items() if v is not None}


def record_from_json(fields: list[Any]) -> RecordSet:
    name, record_type, ttl, values = fields[:4]
    routing: dict[str, Any] = fields[4] if len(fields) > 4 else {}
    alias = routing.get("alias")
    cidr = routing.get("cidr")
    return RecordSet(
        str(name),
        str(record_type),
        int(ttl),
        tuple(str(v) for v in values),
        set_identifier=routing.get("set"),
        weight=routing.get("weight"),
        region=routing.get("region"),
        geo_location=tuple((str(f), str(c)) for f, c in routing.get("geo") or ()),
        failover=routing.get("failover"),
        multivalue=routing.get("multivalue"),
        health_check_id=routing.get("health"),
        cidr_routing=None if cidr is None else (str(cidr[0]), str(cidr[1])),
        alias=None if alias is None else AliasTarget(str(alias[0]), str(alias[1]), bool(alias[2])),
        traffic_policy_instance_id=routing.get("tpi"),
        geoproximity=None
        if (gp := routing.get("gp")) is None
        else GeoProximity(
            gp.get("region"), gp.get("lzg"), gp.get("lat"), gp.get("lon"), gp.get("bias")
        ),
    )


def _zone(row: Any) -> HostedZone:
    fields = json.loads(row["definition"])
    return HostedZone(
        tenant_id=row["tenant_id"],
        zone_id=row["zone_id"],
        name=row["name"],
        caller_reference=row["caller_reference"],
        comment=str(fields["comment"]),
        private=bool(row["private"]),
        created=int(row["created"]),
        vpcs=tuple((str(r), str(v)) for r, v in fields["vpcs"]),
        tags=tuple((str(k), str(v)) for k, v in fields["tags"]),
        records=tuple(record_from_json(r) for r in fields["records"]),
        version=int(row["version"]),
        delegation_set_id=fields.get("delegation_set"),
        authorised_vpcs=tuple((str(r), str(v)) for r, v in fields.get("authorised", ())),
    )


def _write_vpcs(conn: Connection, zone: HostedZone) -> None:
    conn.execute(sa.delete(_V).where(_V.c.zone_id == zone.zone_id))
    for region, vpc_id in zone.vpcs:
        conn.execute(sa.insert(_V).values(zone_id=zone.zone_id, vpc_id=vpc_id, region=region))


class SqlZoneStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, zone: HostedZone) -> None:
        def work(conn: Connection) -> None:
            conn.execute(
                sa.insert(_Z).values(
                    zone_id=zone.zone_id,
                    tenant_id=zone.tenant_id,
                    name=zone.name,
                    caller_reference=zone.caller_reference,
                    private=zone.private,
                    definition=_definition(zone),
                    created=zone.created,
                    version=zone.version,
                    billed_month=0,
                    format_version=FORMAT_VERSION,
                )
            )
            _write_vpcs(conn, zone)

        try:
            await self._db.write(work)
        except IntegrityError as exc:
            raise ZoneChanged(zone.zone_id) from exc

    async def _select(self, where: Any) -> list[HostedZone]:
        query = sa.select(_Z).where(where)

        def work(conn: Connection) -> list[HostedZone]:
            return [_zone(row) for row in conn.execute(query).mappings()]

        return await self._db.read(work)

    async def get(self, tenant_id: str, zone_id: str) -> HostedZone | None:
        found = await self._select(sa.and_(_Z.c.tenant_id == tenant_id, _Z.c.zone_id == zone_id))
        return found[0] if found else None

    async def by_id(self, zone_id: str) -> HostedZone | None:
        found = await self._select(_Z.c.zone_id == zone_id)
        return found[0] if found else None

    async def by_reference(self, tenant_id: str, caller_reference: str) -> HostedZone | None:
        found = await self._select(
            sa.and_(_Z.c.tenant_id == tenant_id, _Z.c.caller_reference == caller_reference)
        )
        return found[0] if found else None

    async def zones(self, tenant_id: str) -> list[HostedZone]:
        return await self._select(_Z.c.tenant_id == tenant_id)

    async def with_vpc(self, vpc_id: str) -> list[HostedZone]:
        return await self._select(
            _Z.c.zone_id.in_(sa.select(_V.c.zone_id).where(_V.c.vpc_id == vpc_id))
        )

    async def public_zones(self) -> list[HostedZone]:
        return await self._select(_Z.c.private == sa.false())

    async def replace(self, zone: HostedZone) -> None:
        update = (
            sa.update(_Z)
            .where(
                _Z.c.tenant_id == zone.tenant_id,
                _Z.c.zone_id == zone.zone_id,
                _Z.c.version == zone.version - 1,
            )
            .values(definition=_definition(zone), version=zone.version)
        )

        def work(conn: Connection) -> None:
            if conn.execute(update).rowcount != 1:
                raise ZoneChanged(zone.zone_id)
            _write_vpcs(conn, zone)

        await self._db.write(work)

    async def delete(self, tenant_id: str, zone_id: str, version: int) -> None:
        delete = sa.delete(_Z).where(
            _Z.c.tenant_id == tenant_id, _Z.c.zone_id == zone_id, _Z.c.version == version
        )

        def work(conn: Connection) -> None:
            if conn.execute(delete).rowcount != 1:
                raise ZoneChanged(zone_id)
            conn.execute(sa.delete(_V).where(_V.c.zone_id == zone_id))

        await self._db.write(work)

    async def add_change(self, tenant_id: str, change_id: str, submitted: int) -> None:
        insert = sa.insert(_C).values(tenant_id=tenant_id, change_id=change_id, submitted=submitted)
        await self._db.write_statement(lambda conn: conn.execute(insert))

    async def change(self, tenant_id: str, change_id: str) -> int | None:
        query = sa.select(_C.c.submitted).where(
            _C.c.tenant_id == tenant_id, _C.c.change_id == change_id
        )

        def work(conn: Connection) -> int | None:
            found = conn.execute(query).scalar_one_or_none()
            return None if found is None else int(found)

        return await self._db.read(work)

    async def claim_billing(self, month: int) -> list[tuple[str, str]]:
        due = sa.select(_Z.c.tenant_id, _Z.c.zone_id, _Z.c.billed_month).where(
            _Z.c.billed_month < month
        )

        def work(conn: Connection) -> list[tuple[str, str]]:
            claimed = []
            for tenant_id, zone_id, billed in conn.execute(due).all():
                update = (
                    sa.update(_Z)
                    .where(_Z.c.zone_id == zone_id, _Z.c.billed_month == billed)
                    .values(billed_month=month)
                )
                if conn.execute(update).rowcount == 1:
                    claimed.append((str(tenant_id), str(zone_id)))
            return sorted(claimed)

        return await self._db.write(work)

    async def forget_tenant(self, tenant_id: str) -> int:
        zone_ids = sa.select(_Z.c.zone_id).where(_Z.c.tenant_id == tenant_id)

        def work(conn: Connection) -> int:
            conn.execute(sa.delete(_V).where(_V.c.zone_id.in_(zone_ids)))
            conn.execute(sa.delete(_C).where(_C.c.tenant_id == tenant_id))
            return int(conn.execute(sa.delete(_Z).where(_Z.c.tenant_id == tenant_id)).rowcount)

        return await self._db.write(work)
