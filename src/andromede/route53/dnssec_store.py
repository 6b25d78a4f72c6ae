"""Where Route 53's DNSSEC state is kept (decision 0317): the key-signing keys of each zone and
each zone's signing state with its zone-signing keys. :class:`DnssecStore` is the port;
:class:`MemoryDnssecStore` its in-memory twin (the SQL one is ``dnssec_store_sql``).

A KSK is unique in its zone by name and by KMS key ARN (``KeySigningKeyAlreadyExists``); at
most ``limit`` are added to one zone (``TooManyKeySigningKeys``), counted in the write that
adds it. A zone's signing state is written by compare-and-set on its ``version``."""

from __future__ import annotations

import dataclasses
from typing import Protocol

from andromede.route53.dnssec_model import KeySigningKey, KskStatus, ZoneSigning
from andromede.route53.errors import KeySigningKeyAlreadyExists, TooManyKeySigningKeys

__all__ = ["DnssecStore", "MemoryDnssecStore", "already_exists", "too_many"]


def already_exists(ksk: KeySigningKey) -> KeySigningKeyAlreadyExists:
    return KeySigningKeyAlreadyExists(
        f"A key-signing key named {ksk.name} or with the key {ksk.kms_arn[:256]} already exists"
        f" for the hosted zone {ksk.zone_id}."
    )


def too_many(limit: int) -> TooManyKeySigningKeys:
    return TooManyKeySigningKeys(
        f"A hosted zone can have at most {limit} key-signing keys; delete one and try again."
    )


class DnssecStore(Protocol):
    async def add_key(self, ksk: KeySigningKey, limit: int) -> None:
        """Add it; ``KeySigningKeyAlreadyExists``, ``TooManyKeySigningKeys``."""

    async def keys(self, tenant_id: str, zone_id: str) -> list[KeySigningKey]:
        """The zone's KSKs, oldest first."""

    async def set_key_status(
        self, tenant_id: str, zone_id: str, name: str, status: KskStatus, now: int, message: str
    ) -> bool: ...

    async def delete_key(self, tenant_id: str, zone_id: str, name: str) -> bool: ...

    async def signing(self, tenant_id: str, zone_id: str) -> ZoneSigning | None: ...

    async def put_signing(self, signing: ZoneSigning, expected_version: int | None) -> bool:
        """Write it when the stored one has ``expected_version`` (None: none is stored);
        False when another write came first."""

    async def signed_zones(self) -> list[tuple[ZoneSigning, list[KeySigningKey]]]:
        """Every account's zones that are signed, with their KSKs (the name servers')."""

    async def delete_zone(self, tenant_id: str, zone_id: str) -> None: ...

    async def forget_tenant(self, tenant_id: str) -> int: ...


class MemoryDnssecStore:
    def __init__(self) -> None:
        self._keys: dict[tuple[str, str], KeySigningKey] = {}  # (zone, name)
        self._signing: dict[str, ZoneSigning] = {}

    async def add_key(self, ksk: KeySigningKey, limit: int) -> None:
        held = [k for k in self._keys.values() if k.zone_id == ksk.zone_id]
        if any(k.name == ksk.name or k.kms_arn == ksk.kms_arn for k in held):
            raise already_exists(ksk)
        if len(held) >= limit:
            raise too_many(limit)
        self._keys[(ksk.zone_id, ksk.name)] = ksk

    async def keys(self, tenant_id: str, zone_id: str) -> list[KeySigningKey]:
        return sorted(
            (k for k in self._keys.values() if (k.tenant_id, k.zone_id) == (tenant_id, zone_id)),
            key=lambda k: (k.created, k.name),
        )

    async def set_key_status(
        self, tenant_id: str, zone_id: str, name: str, status: KskStatus, now: int, message: str
    ) -> bool:
        found = self._keys.get((zone_id, name))
        if found is None or found.tenant_id != tenant_id:
            return False
        self._keys[(zone_id, name)] = found.with_status(status, now, message)
        return True

    async def delete_key(self, tenant_id: str, zone_id: str, name: str) -> bool:
        found = self._keys.get((zone_id, name))
        if found is None or found.tenant_id != tenant_id:
            return False
        del self._keys[(zone_id, name)]
        return True

    async def signing(self, tenant_id: str, zone_id: str) -> ZoneSigning | None:
        found = self._signing.get(zone_id)
        return found if found is not None and found.tenant_id == tenant_id else None

    async def put_signing(self, signing: ZoneSigning, expected_version: int | None) -> bool:
        held = self._signing.get(signing.zone_id)
        if (None if held is None else held.version) != expected_version:
            return False
        version = 1 if expected_version is None else expected_version + 1
        self._signing[signing.zone_id] = dataclasses.replace(signing, version=version)
        return True

    async def signed_zones(self) -> list[tuple[ZoneSigning, list[KeySigningKey]]]:
        return [
            (s, await self.keys(s.tenant_id, s.zone_id))
            for s in sorted(self._signing.values(), key=lambda s: s.zone_id)
            if s.signing
        ]

    async def delete_zone(self, tenant_id: str, zone_id: str) -> None:
        mine = [k for k, v in self._keys.items() if (v.tenant_id, k[0]) == (tenant_id, zone_id)]
        for key in mine:
            del self._keys[key]
        if (held := self._signing.get(zone_id)) is not None and held.tenant_id == tenant_id:
            del self._signing[zone_id]

    async def forget_tenant(self, tenant_id: str) -> int:
        gone = [k for k, v in self._keys.items() if v.tenant_id == tenant_id]
        for key in gone:
            del self._keys[key]
        zones = [z for z, s in self._signing.items() if s.tenant_id == tenant_id]
        for zone in zones:
            del self._signing[zone]
        return len(gone) + len(zones)
