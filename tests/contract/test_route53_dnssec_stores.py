"""Decision 0317's DNSSEC store over every implementation (memory, SQLite, PostgreSQL): a
key-signing key kept as written and found only by its account; unique in its zone by name and
by KMS key, two at most a zone; its status set, deleted; a zone's signing state written by
compare-and-set, its zone keys (sealed private keys) kept byte for byte; the signed zones
listed with their keys for the name servers; all gone with the zone and with the tenant."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.route53.dnssec_model import KeySigningKey, KskStatus, ZoneSigning, ZoneSigningKey
from andromede.route53.dnssec_store import DnssecStore, MemoryDnssecStore
from andromede.route53.dnssec_store_sql import SqlDnssecStore
from andromede.route53.errors import KeySigningKeyAlreadyExists, TooManyKeySigningKeys
from andromede.route53.memory import MemoryZoneStore
from andromede.route53.model import HostedZone, made_records
from andromede.route53.store_sql import SqlZoneStore
from support.store_backends import BACKENDS, backend_database

A1, A2 = "000000000001", "000000000002"
SERVERS = ("ns1.example.net",)


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[DnssecStore]:
    async with backend_database(request, tmp_path) as db:
        zones = MemoryZoneStore() if db is None else SqlZoneStore(db)
        for tenant, zone_id, name in ((A1, "Z1", "a.example."), (A1, "Z2", "b.example."),
                                      (A2, "Z3", "c.example.")):  # fmt: skip
            made = HostedZone(tenant, zone_id, name, f"ref-{zone_id}", "", False,
                              1_800_000_000_000, records=made_records(name, SERVERS))  # fmt: skip
            await zones.create(made)
        yield MemoryDnssecStore() if db is None else SqlDnssecStore(db)


def ksk(name: str, zone_id: str = "Z1", tenant: str = A1, arn: str = "") -> KeySigningKey:
    return KeySigningKey(
        tenant, zone_id, name, arn or f"arn:aws:kms:eu-fr-1:{tenant}:key/{name}",
        KskStatus.ACTIVE, b"\x30\x59public", f"ref-{name}", 1_800_000_000_000 + len(name),
        1_800_000_000_000,
    )  # fmt: skip


def signing(zone_id: str = "Z1", tenant: str = A1, *keys: ZoneSigningKey) -> ZoneSigning:
    return ZoneSigning(tenant, zone_id, True, keys, 1_800_000_000_000)


async def test_keys_kept_unique_and_bounded(store: DnssecStore) -> None:
    first = ksk("ksk_a")
    await store.add_key(first, 2)
    assert await store.keys(A1, "Z1") == [first]
    assert await store.keys(A2, "Z1") == []
    with pytest.raises(KeySigningKeyAlreadyExists):
        await store.add_key(ksk("ksk_a", arn="arn:aws:kms:eu-fr-1:000000000001:key/other"), 2)
    with pytest.raises(KeySigningKeyAlreadyExists):
        await store.add_key(ksk("ksk_b", arn=first.kms_arn), 2)
    await store.add_key(ksk("ksk_bb"), 2)
    with pytest.raises(TooManyKeySigningKeys):
        await store.add_key(ksk("ksk_ccc"), 2)
    await store.add_key(ksk("ksk_a", "Z2"), 2)  # another zone may use the same name and key
    assert [k.name for k in await store.keys(A1, "Z1")] == ["ksk_a", "ksk_bb"]
    assert not await store.set_key_status(A2, "Z1", "ksk_a", KskStatus.INACTIVE, 5, "")
    assert await store.set_key_status(A1, "Z1", "ksk_a", KskStatus.ACTION_NEEDED, 5, "why")
    changed = (await store.keys(A1, "Z1"))[0]
    assert (changed.status, changed.modified, changed.status_message) == (
        KskStatus.ACTION_NEEDED, 5, "why")  # fmt: skip
    assert not await store.delete_key(A2, "Z1", "ksk_a")
    assert await store.delete_key(A1, "Z1", "ksk_a")
    assert [k.name for k in await store.keys(A1, "Z1")] == ["ksk_bb"]


async def test_signing_written_by_compare_and_set(store: DnssecStore) -> None:
    sealed = bytes(range(256))
    zsk = ZoneSigningKey(1_800_000_000, b"\x30\x59zsk", sealed)
    assert await store.signing(A1, "Z1") is None
    assert await store.put_signing(signing("Z1", A1, zsk), None)
    assert not await store.put_signing(signing("Z1", A1, zsk), None)  # one is stored
    held = await store.signing(A1, "Z1")
    assert held is not None and held.version == 1 and held.zone_keys == (zsk,)
    assert await store.signing(A2, "Z1") is None
    rolled = dataclasses.replace(held, zone_keys=(zsk, ZoneSigningKey(1_800_000_100, b"n", b"s")))
    assert await store.put_signing(rolled, 1)
    assert not await store.put_signing(rolled, 1)  # another write came first
    again = await store.signing(A1, "Z1")
    assert again is not None and again.version == 2 and len(again.zone_keys) == 2


async def test_signed_zones_listed_and_forgotten(store: DnssecStore) -> None:
    await store.add_key(ksk("ksk_a"), 2)
    await store.add_key(ksk("ksk_z", "Z2"), 2)
    await store.add_key(ksk("ksk_c", "Z3", A2), 2)
    zsk = ZoneSigningKey(1, b"p", b"s")
    await store.put_signing(signing("Z1", A1, zsk), None)
    await store.put_signing(dataclasses.replace(signing("Z2", A1, zsk), signing=False), None)
    await store.put_signing(signing("Z3", A2, zsk), None)
    listed = await store.signed_zones()
    assert [(s.zone_id, [k.name for k in keys]) for s, keys in listed] == [
        ("Z1", ["ksk_a"]), ("Z3", ["ksk_c"])]  # fmt: skip
    await store.delete_zone(A1, "Z1")
    assert await store.keys(A1, "Z1") == [] and await store.signing(A1, "Z1") is None
    assert await store.forget_tenant(A2) == 2
    assert [s.zone_id for s, _ in await store.signed_zones()] == []
    assert [k.name for k in await store.keys(A1, "Z2")] == ["ksk_z"]
