"""The in-memory twin of the compute store, for tests (same contract as the SQL store)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from andromede.compute.elastic_ip import ElasticAddress
from andromede.compute.errors import Duplicate
from andromede.compute.launch_template import LaunchTemplate, LaunchTemplateVersion
from andromede.compute.model import Image, Instance, InstanceState, KeyPair
from andromede.compute.network import NetworkInterface, Subnet
from andromede.compute.store import Record, RecordT

__all__ = ["MemoryComputeStore"]


class MemoryComputeStore:
    def __init__(self) -> None:
        self._records: dict[tuple[type[Any], str], Record] = {}

    async def insert(self, *records: Record) -> None:
        ids = [(type(r), r.resource_id) for r in records]
        if len(set(ids)) != len(ids) or any(key in self._records for key in ids):
            taken = next(key for key in ids if key in self._records or ids.count(key) > 1)
            raise Duplicate(taken[1].split("-")[0], taken[1])
        self._check_unique_addresses(records)
        self._check_unique_names(records)
        for key, record in zip(ids, records, strict=True):
            self._records[key] = record

    def _check_unique_names(self, records: Sequence[Record]) -> None:
        """What the SQL store's unique constraint checks: a launch template's name in its
        tenant."""
        held = {
            (r.tenant_id, r.name) for r in self._records.values() if isinstance(r, LaunchTemplate)
        }
        for record in records:
            if isinstance(record, LaunchTemplate):
                if (record.tenant_id, record.name) in held:
                    raise Duplicate("lt-name", record.name)
                held.add((record.tenant_id, record.name))

    async def change(
        self,
        record: Record,
        *,
        insert: Sequence[Record] = (),
        delete: Sequence[tuple[type[Record], str]] = (),
        replace: Sequence[Record] = (),
    ) -> bool:
        for changed in (record, *replace):
            current = self._records.get((type(changed), changed.resource_id))
            if current is None or current.revision != changed.revision:
                return False
        key = (type(record), record.resource_id)
        keys = [(type(r), r.resource_id) for r in insert]
        if len(set(keys)) != len(keys) or any(k in self._records for k in keys):
            taken = next(k for k in keys if k in self._records or keys.count(k) > 1)
            raise Duplicate(taken[1].split("-")[0], taken[1])
        self._check_unique_addresses(insert)
        self._check_unique_names(insert)
        self._records[key] = dataclasses.replace(record, revision=record.revision + 1)
        for changed in replace:
            self._records[(type(changed), changed.resource_id)] = dataclasses.replace(
                changed, revision=changed.revision + 1
            )
        for inserted_key, inserted in zip(keys, insert, strict=True):
            self._records[inserted_key] = inserted
        for kind, resource_id in delete:
            self._records.pop((kind, resource_id), None)
        return True

    async def launch_templates_named(self, tenant_id: str, name: str) -> Sequence[LaunchTemplate]:
        return [t for t in await self.list(LaunchTemplate, tenant_id) if t.name == name]

    async def launch_template_versions(self, template_id: str) -> list[LaunchTemplateVersion]:
        found = [
            r
            for r in self._records.values()
            if isinstance(r, LaunchTemplateVersion) and r.template_id == template_id
        ]
        return sorted(found, key=lambda version: version.number)

    def _check_unique_addresses(self, records: Sequence[Record]) -> None:
        """What the SQL store's unique constraints check: (subnet, address), MAC, a subnet's
        VXLAN id, and an Elastic IP's address."""
        public = [r.public_ip for r in self._records.values() if isinstance(r, ElasticAddress)]
        for record in records:
            if isinstance(record, ElasticAddress):
                if record.public_ip in public:
                    raise Duplicate("address", record.public_ip)
                public.append(record.public_ip)
        vnis = [r.vni for r in self._records.values() if isinstance(r, Subnet)]
        for record in records:
            if isinstance(record, Subnet):
                if record.vni in vnis:
                    raise Duplicate("address", "a VXLAN id")
                vnis.append(record.vni)
        held = [r for r in self._records.values() if isinstance(r, NetworkInterface)]
        for record in records:
            if not isinstance(record, NetworkInterface):
                continue
            for other in held:
                if (other.subnet_id, other.private_ip) == (
                    record.subnet_id,
                    record.private_ip,
                ) or other.mac == record.mac:
                    raise Duplicate("address", "a network address")
            held.append(record)

    async def get(self, kind: type[RecordT], resource_id: str) -> RecordT | None:
        record = self._records.get((kind, resource_id))
        return record if isinstance(record, kind) else None

    async def list(self, kind: type[RecordT], tenant_id: str | None) -> list[RecordT]:
        found = [
            record
            for (record_kind, _), record in self._records.items()
            if record_kind is kind
            and isinstance(record, kind)
            and (
                tenant_id is None
                or record.tenant_id == tenant_id
                or (isinstance(record, Image) and record.owner_id is None)
            )
        ]
        return sorted(found, key=lambda record: record.resource_id)

    async def running_at_address(self, host: str, public_ip: str) -> Sequence[Instance]:
        return [
            instance
            for instance in await self.list(Instance, None)
            if (instance.host, instance.host_facing_ip or instance.public_ip) == (host, public_ip)
            and instance.state is InstanceState.RUNNING
        ]

    async def key_pairs_named(self, tenant_id: str, name: str) -> Sequence[KeyPair]:
        return [k for k in await self.list(KeyPair, tenant_id) if k.name == name]

    async def replace(self, record: Record) -> bool:
        key = (type(record), record.resource_id)
        current = self._records.get(key)
        if current is None or current.revision != record.revision:
            return False
        self._records[key] = dataclasses.replace(record, revision=record.revision + 1)
        return True

    async def delete(self, kind: type[Record], resource_id: str) -> None:
        self._records.pop((kind, resource_id), None)
