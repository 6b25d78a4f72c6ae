"""The compute store on SQLAlchemy Core (SQLite embedded, PostgreSQL distributed).

Each kind of record has its table (``compute_*`` in :mod:`andromede.db.tables`); a record is
kept as JSON (pydantic's dataclass codec: enums by value, datetimes in ISO 8601 with their
offset, bytes in base64) beside its format version, so a later release can read what this one
wrote. Replacement is a conditional UPDATE on the revision read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from pydantic import ConfigDict, TypeAdapter
from sqlalchemy.engine import Connection

from andromede.compute.dhcp_options import DhcpOptions
from andromede.compute.elastic_ip import ElasticAddress
from andromede.compute.errors import Duplicate
from andromede.compute.flow_log import FlowLog
from andromede.compute.ipv6 import Ipv6Address, Ipv6Block
from andromede.compute.launch_template import LaunchTemplate, LaunchTemplateVersion
from andromede.compute.metadata_defaults import MetadataDefaults
from andromede.compute.model import (
    Image,
    ImportTask,
    Instance,
    InstanceState,
    KeyPair,
    SecurityGroup,
    Snapshot,
    Volume,
)
from andromede.compute.nat_gateway import NatGateway
from andromede.compute.network import (
    DefaultVpcState,
    NetworkInterface,
    PrivateAddress,
    Subnet,
    Vpc,
)
from andromede.compute.network_acl import NetworkAcl
from andromede.compute.prefix_list import ManagedPrefixList
from andromede.compute.routing import InternetGateway, RouteTable
from andromede.compute.spot import SpotInstanceRequest, SpotPrice
from andromede.compute.store import Record, RecordT
from andromede.compute.vpc_endpoint import VpcEndpoint
from andromede.compute.vpc_peering import VpcPeeringConnection
from andromede.db import tables
from andromede.db.database import Database

__all__ = ["SqlComputeStore"]

_CODEC_CONFIG = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")

_TABLES: dict[type[Any], sa.Table] = {
    Instance: tables.compute_instances,
    Volume: tables.compute_volumes,
    Snapshot: tables.compute_snapshots,
    Image: tables.compute_images,
    KeyPair: tables.compute_key_pairs,
    SecurityGroup: tables.compute_security_groups,
    ImportTask: tables.compute_import_tasks,
    Vpc: tables.compute_vpcs,
    Subnet: tables.compute_subnets,
    NetworkInterface: tables.compute_network_interfaces,
    LaunchTemplate: tables.compute_launch_templates,
    LaunchTemplateVersion: tables.compute_launch_template_versions,
    InternetGateway: tables.compute_internet_gateways,
    RouteTable: tables.compute_route_tables,
    ElasticAddress: tables.compute_elastic_addresses,
    NetworkAcl: tables.compute_network_acls,
    NatGateway: tables.compute_nat_gateways,
    VpcPeeringConnection: tables.compute_vpc_peering_connections,
    DhcpOptions: tables.compute_dhcp_options,
    ManagedPrefixList: tables.compute_prefix_lists,
    DefaultVpcState: tables.compute_default_vpcs,
    MetadataDefaults: tables.compute_metadata_defaults,
    FlowLog: tables.compute_flow_logs,
    VpcEndpoint: tables.compute_vpc_endpoints,
    PrivateAddress: tables.compute_private_addresses,
    Ipv6Block: tables.compute_ipv6_blocks,
    Ipv6Address: tables.compute_ipv6_addresses,
    SpotInstanceRequest: tables.compute_spot_requests,
    SpotPrice: tables.compute_spot_prices,
}


def _codec(kind: type[Any]) -> TypeAdapter[Any]:
    # pydantic reads a stdlib dataclass's JSON options from this attribute (documented); set
    # here so the model stays free of persistence concerns. Bytes (wrapped keys, user data)
    # are not UTF-8: base64.
    kind.__pydantic_config__ = _CODEC_CONFIG
    return TypeAdapter(kind)


_CODECS: dict[type[Any], TypeAdapter[Any]] = {kind: _codec(kind) for kind in _TABLES}


def _row(record: Record, revision: int) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": record.resource_id,
        "tenant_id": record.tenant_id,
        "document": _CODECS[type(record)].dump_json(record).decode(),
        "format_version": record.format_version,
        "revision": revision,
    }
    if isinstance(record, NetworkInterface):
        # Columns of their own, for the database's uniqueness constraints.
        row.update(subnet_id=record.subnet_id, private_ip=record.private_ip, mac=record.mac)
    elif isinstance(record, Instance):
        # Indexed copies for the metadata service's lookup (running_at_address).
        # The host-facing address: the public one, or the one kept for the metadata service
        # alone by an instance without a public address.
        row.update(host=record.host, public_ip=record.host_facing_ip or record.public_ip)
    elif isinstance(record, KeyPair):
        row.update(name=record.name)
    elif isinstance(record, Subnet):
        row.update(vni=record.vni)
    elif isinstance(record, LaunchTemplate):
        row.update(name=record.name)
    elif isinstance(record, LaunchTemplateVersion):
        row.update(template_id=record.template_id, number=record.number)
    elif isinstance(record, ElasticAddress):
        row.update(public_ip=record.public_ip)  # unique: one tenant holds an address
    return row


def _record(kind: type[RecordT], row: Any) -> RecordT:
    record: RecordT = _CODECS[kind].validate_json(row.document)
    # The revision column is the truth (the document keeps the one it was written from).
    if record.revision != row.revision:
        record = dataclasses.replace(record, revision=int(row.revision))
    # So is a subnet's VXLAN id (backfilled by migration 0013 into documents without one).
    if isinstance(record, Subnet) and record.vni != row.vni:
        record = dataclasses.replace(record, vni=int(row.vni))
    return record


def _insert_rows(conn: Connection, rows: Sequence[tuple[sa.Table, dict[str, Any]]]) -> None:
    for table, row in rows:
        taken = conn.execute(sa.select(table.c.id).where(table.c.id == row["id"])).first()
        if taken is not None:
            # Raised inside the transaction: nothing of this write is committed.
            raise Duplicate(row["id"].split("-")[0], row["id"])
        conn.execute(table.insert().values(**row))


class _Moved(Exception):
    """A record to replace in a change moved on since it was read: the change is undone."""


def _conditional_update(record: Record) -> sa.Update:
    table = _TABLES[type(record)]
    return (
        table.update()
        .where(table.c.id == record.resource_id, table.c.revision == record.revision)
        .values(**_row(record, record.revision + 1))
    )


class SqlComputeStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def insert(self, *records: Record) -> None:
        rows = [(_TABLES[type(r)], _row(r, r.revision)) for r in records]
        ids = [(table.name, row["id"]) for table, row in rows]
        if len(set(ids)) != len(ids):
            raise Duplicate("id", ids[0][1])

        def work(conn: Connection) -> None:
            _insert_rows(conn, rows)

        try:
            await self._db.write(work)
        except sa.exc.IntegrityError:
            # Another gateway took a template's name, an address, a MAC or a VXLAN id (or an
            # id) first: nothing was written.
            named = next((r for r in records if isinstance(r, LaunchTemplate)), None)
            if named is not None:
                raise Duplicate("lt-name", named.name) from None
            held = next((r for r in records if isinstance(r, ElasticAddress)), None)
            raise Duplicate(
                "address", held.public_ip if held is not None else "a network address"
            ) from None

    async def change(
        self,
        record: Record,
        *,
        insert: Sequence[Record] = (),
        delete: Sequence[tuple[type[Record], str]] = (),
        replace: Sequence[Record] = (),
    ) -> bool:
        updates = [_conditional_update(r) for r in (record, *replace)]
        rows = [(_TABLES[type(r)], _row(r, r.revision)) for r in insert]

        def work(conn: Connection) -> bool:
            if not conn.execute(updates[0]).rowcount:
                return False
            for update in updates[1:]:
                if not conn.execute(update).rowcount:
                    # Raised inside the transaction: the first update is rolled back too.
                    raise _Moved
            _insert_rows(conn, rows)
            for kind, resource_id in delete:
                gone = _TABLES[kind]
                conn.execute(gone.delete().where(gone.c.id == resource_id))
            return True

        try:
            return bool(await self._db.write(work))
        except _Moved:
            return False
        except sa.exc.IntegrityError:
            # An address, a MAC or a VXLAN id taken by another gateway (a launch, a new
            # subnet), or a version number, between its read and this write.
            if any(isinstance(r, NetworkInterface | Subnet) for r in insert):
                raise Duplicate("address", "a network address") from None
            raise Duplicate("id", rows[0][1]["id"] if rows else record.resource_id) from None

    async def launch_templates_named(self, tenant_id: str, name: str) -> Sequence[LaunchTemplate]:
        table = tables.compute_launch_templates
        query = sa.select(table).where(table.c.tenant_id == tenant_id, table.c.name == name)
        rows = await self._db.read(lambda conn: list(conn.execute(query).all()))
        return [_record(LaunchTemplate, row) for row in rows]

    async def launch_template_versions(self, template_id: str) -> list[LaunchTemplateVersion]:
        table = tables.compute_launch_template_versions
        query = sa.select(table).where(table.c.template_id == template_id).order_by(table.c.number)
        rows = await self._db.read(lambda conn: list(conn.execute(query).all()))
        return [_record(LaunchTemplateVersion, row) for row in rows]

    async def get(self, kind: type[RecordT], resource_id: str) -> RecordT | None:
        table = _TABLES[kind]
        query = sa.select(table).where(table.c.id == resource_id)
        row = await self._db.read(lambda conn: conn.execute(query).first())
        return None if row is None else _record(kind, row)

    async def list(self, kind: type[RecordT], tenant_id: str | None) -> list[RecordT]:
        table = _TABLES[kind]
        query = sa.select(table).order_by(table.c.id)
        if tenant_id is not None:
            mine = table.c.tenant_id == tenant_id
            query = query.where(
                sa.or_(mine, table.c.tenant_id.is_(None)) if kind is Image else mine
            )
        rows = await self._db.read(lambda conn: list(conn.execute(query).all()))
        return [_record(kind, row) for row in rows]

    async def running_at_address(self, host: str, public_ip: str) -> Sequence[Instance]:
        table = tables.compute_instances
        query = (
            sa.select(table)
            .where(table.c.public_ip == public_ip, table.c.host == host)
            .order_by(table.c.id)
        )
        rows = await self._db.read(lambda conn: list(conn.execute(query).all()))
        # The state is in the document only: the index leaves a handful of rows (normally
        # one) at one address of one host.
        found = [_record(Instance, row) for row in rows]
        return [instance for instance in found if instance.state is InstanceState.RUNNING]

    async def key_pairs_named(self, tenant_id: str, name: str) -> Sequence[KeyPair]:
        table = tables.compute_key_pairs
        query = (
            sa.select(table)
            .where(table.c.tenant_id == tenant_id, table.c.name == name)
            .order_by(table.c.id)
        )
        rows = await self._db.read(lambda conn: list(conn.execute(query).all()))
        return [_record(KeyPair, row) for row in rows]

    async def replace(self, record: Record) -> bool:
        table = _TABLES[type(record)]
        row = _row(record, record.revision + 1)
        statement = (
            table.update()
            .where(table.c.id == record.resource_id, table.c.revision == record.revision)
            .values(**row)
        )
        return bool(await self._db.write(lambda conn: conn.execute(statement).rowcount))

    async def delete(self, kind: type[Record], resource_id: str) -> None:
        table = _TABLES[kind]
        statement = table.delete().where(table.c.id == resource_id)
        await self._db.write(lambda conn: conn.execute(statement))
