"""One suite over every CustomerKeyStore: the in-memory twin, SQLite and PostgreSQL (both
migrated with Alembic)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from andromede.kms.keys_errors import AliasAlreadyExists, CmkNotFound
from andromede.kms.keys_model import (
    Alias,
    CustomerKey,
    Grant,
    GrantConstraints,
    KeyMaterial,
    KeyState,
    MaterialState,
    MultiRegionKeyType,
    RotationType,
    default_key_policy,
)
from andromede.kms.keys_store import CustomerKeyStore, MemoryCustomerKeyStore
from andromede.kms.keys_store_sql import SqlCustomerKeyStore
from support.store_backends import BACKENDS, backend_database

T0 = datetime(2027, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
TENANT = "111111111111"
FR = "eu-fr-1"
DE = "eu-de-1"


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[CustomerKeyStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryCustomerKeyStore() if db is None else SqlCustomerKeyStore(db)


def key(key_id: str, tenant: str = TENANT, **changes: object) -> CustomerKey:
    made = CustomerKey(
        key_id=key_id,
        tenant_id=tenant,
        region="eu-fr-1",
        description="é description",
        state=KeyState.ENABLED,
        created_at=T0,
        policy=default_key_policy(tenant),
        tags=(("team", "blue"),),
    )
    return replace(made, **changes)  # type: ignore[arg-type]


def kid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


async def test_keys_round_trip(store: CustomerKeyStore) -> None:
    stored = key(kid(1), deletion_date=None, next_rotation_date=T0 + timedelta(days=365))
    await store.insert_key(stored)
    assert await store.get_key(kid(1)) == stored
    assert await store.get_key(kid(2)) is None


async def test_replace_and_delete(store: CustomerKeyStore) -> None:
    await store.insert_key(key(kid(1)))
    changed = key(kid(1), state=KeyState.PENDING_DELETION, deletion_date=T0 + timedelta(days=7))
    assert await store.replace_key(changed)
    assert await store.get_key(kid(1)) == replace(changed, revision=1)
    with pytest.raises(CmkNotFound):
        await store.replace_key(key(kid(9)))
    await store.insert_alias(Alias(TENANT, "alias/a", kid(1), T0, T0, FR))
    await store.delete_key(kid(1))
    await store.delete_key(kid(1))  # idempotent
    assert await store.get_key(kid(1)) is None
    assert await store.get_alias(TENANT, FR, "alias/a") is None


async def test_a_write_based_on_a_stale_read_is_refused(store: CustomerKeyStore) -> None:
    await store.insert_key(key(kid(1)))
    first = await store.get_key(kid(1))
    second = await store.get_key(kid(1))
    assert first is not None and second is not None
    assert await store.replace_key(replace(first, state=KeyState.DISABLED))
    assert not await store.replace_key(replace(second, description="stale"))
    stored = await store.get_key(kid(1))
    assert stored is not None
    assert (stored.state, stored.description, stored.revision) == (
        KeyState.DISABLED,
        first.description,
        1,
    )


async def test_deletion_is_claimed_only_while_due(store: CustomerKeyStore) -> None:
    due_at = T0 + timedelta(days=7)
    await store.insert_key(key(kid(1), state=KeyState.PENDING_DELETION, deletion_date=due_at))
    await store.insert_alias(Alias(TENANT, "alias/x", kid(1), T0, T0, FR))
    assert not await store.claim_deletion(kid(1), due_at - timedelta(seconds=1))
    cancelled = await store.get_key(kid(1))
    assert cancelled is not None
    await store.replace_key(replace(cancelled, state=KeyState.DISABLED, deletion_date=None))
    assert not await store.claim_deletion(kid(1), due_at)  # the deletion was cancelled
    assert await store.get_alias(TENANT, FR, "alias/x") is not None
    again = await store.get_key(kid(1))
    assert again is not None
    await store.replace_key(replace(again, state=KeyState.PENDING_DELETION, deletion_date=due_at))
    assert await store.claim_deletion(kid(1), due_at)
    assert await store.get_key(kid(1)) is None
    assert await store.get_alias(TENANT, FR, "alias/x") is None
    assert not await store.claim_deletion(kid(1), due_at)


async def test_list_keys_pages_in_id_order_per_tenant(store: CustomerKeyStore) -> None:
    for n in (3, 1, 2, 5, 4):
        await store.insert_key(key(kid(n)))
    await store.insert_key(key(kid(6), tenant="222222222222"))
    first = await store.list_keys(TENANT, after=None, limit=2)
    assert [k.key_id for k in first] == [kid(1), kid(2)]
    rest = await store.list_keys(TENANT, after=kid(2), limit=10)
    assert [k.key_id for k in rest] == [kid(3), kid(4), kid(5)]


async def test_due_keys(store: CustomerKeyStore) -> None:
    await store.insert_key(
        key(kid(1), state=KeyState.PENDING_DELETION, deletion_date=T0 + timedelta(days=7))
    )
    await store.insert_key(
        key(kid(2), rotation_enabled=True, next_rotation_date=T0 + timedelta(days=90))
    )
    await store.insert_key(
        key(
            kid(3),
            state=KeyState.DISABLED,
            rotation_enabled=True,
            next_rotation_date=T0 + timedelta(days=1),
        )
    )
    assert await store.keys_due_for_deletion(T0 + timedelta(days=6), 10) == []
    due = await store.keys_due_for_deletion(T0 + timedelta(days=7), 10)
    assert [k.key_id for k in due] == [kid(1)]
    assert await store.keys_due_for_rotation(T0 + timedelta(days=89), 10) == []
    rotating = await store.keys_due_for_rotation(T0 + timedelta(days=90), 10)
    assert [k.key_id for k in rotating] == [kid(2)]  # a disabled key does not rotate


async def test_imported_material_round_trips_and_expires(store: CustomerKeyStore) -> None:
    material_id = "ab" * 32
    expiring = key(
        kid(1),
        origin="EXTERNAL",
        key_material_id=material_id,
        expiration_model="KEY_MATERIAL_EXPIRES",
        valid_to=T0 + timedelta(days=30),
    )
    waiting = key(kid(2), origin="EXTERNAL", state=KeyState.PENDING_IMPORT, has_material=False)
    lasting = key(
        kid(3),
        origin="EXTERNAL",
        key_material_id=material_id,
        expiration_model="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )
    for stored in (expiring, waiting, lasting):
        await store.insert_key(stored)
        assert await store.get_key(stored.key_id) == stored
    assert await store.keys_with_expired_material(T0 + timedelta(days=29), 10) == []
    expired = await store.keys_with_expired_material(T0 + timedelta(days=30), 10)
    assert [k.key_id for k in expired] == [kid(1)]
    assert await store.replace_key(expired[0].without_material())
    assert await store.keys_with_expired_material(T0 + timedelta(days=31), 10) == []
    after = await store.get_key(kid(1))
    assert after is not None
    assert (after.state, after.has_material, after.valid_to, after.key_material_id) == (
        KeyState.PENDING_IMPORT,
        False,
        None,
        material_id,
    )


async def test_several_materials_round_trip_and_each_expires(store: CustomerKeyStore) -> None:
    """Decision 0085: a symmetric EXTERNAL key's materials by version; upkeep finds a key by
    the first expiry of any material its ring holds, pending material included."""
    current = KeyMaterial("01" * 32, 1, MaterialState.NON_CURRENT, imported=True)
    rotated = KeyMaterial(
        "02" * 32,
        2,
        MaterialState.CURRENT,
        imported=True,
        expiration_model="KEY_MATERIAL_EXPIRES",
        valid_to=T0 + timedelta(days=40),
        description="the 2027 material: é",
        rotated_at=T0,
    )
    pending = KeyMaterial(
        "03" * 32,
        3,
        MaterialState.PENDING_ROTATION,
        imported=True,
        expiration_model="KEY_MATERIAL_EXPIRES",
        valid_to=T0 + timedelta(days=10),
    )
    base = key(kid(1), origin="EXTERNAL", state=KeyState.PENDING_IMPORT, has_material=False)
    stored = base.with_materials([pending, rotated, current])
    assert (stored.state, stored.key_material_id, stored.valid_to) == (
        KeyState.ENABLED,
        "02" * 32,
        T0 + timedelta(days=40),
    )
    await store.insert_key(stored)
    assert await store.get_key(kid(1)) == stored
    assert await store.keys_with_expired_material(T0 + timedelta(days=9), 10) == []
    (due,) = await store.keys_with_expired_material(T0 + timedelta(days=10), 10)
    lapsed = due.with_materials(
        [replace(m, imported=False, valid_to=None) if m.version == 3 else m for m in due.materials]
    )
    assert lapsed.state is KeyState.ENABLED  # pending material: the key goes on
    assert await store.replace_key(lapsed)
    assert await store.keys_with_expired_material(T0 + timedelta(days=39), 10) == []
    (due,) = await store.keys_with_expired_material(T0 + timedelta(days=40), 10)
    assert due.material_expired(T0 + timedelta(days=40))


async def test_aliases(store: CustomerKeyStore) -> None:
    await store.insert_key(key(kid(1)))
    await store.insert_key(key(kid(2)))
    await store.insert_key(key(kid(3), tenant="222222222222"))
    for name, target in (("alias/b", kid(1)), ("alias/a", kid(2)), ("alias/c-d_e/f", kid(1))):
        await store.insert_alias(Alias(TENANT, name, target, T0, T0, FR))
    await store.insert_alias(Alias("222222222222", "alias/a", kid(3), T0, T0, FR))
    with pytest.raises(AliasAlreadyExists):
        await store.insert_alias(Alias(TENANT, "alias/a", kid(1), T0, T0, FR))
    everything = await store.list_aliases(TENANT, FR, key_id=None, after=None, limit=10)
    assert [a.name for a in everything] == ["alias/a", "alias/b", "alias/c-d_e/f"]
    of_one = await store.list_aliases(TENANT, FR, key_id=kid(1), after=None, limit=10)
    assert [a.name for a in of_one] == ["alias/b", "alias/c-d_e/f"]
    paged = await store.list_aliases(TENANT, FR, key_id=None, after="alias/a", limit=1)
    assert [a.name for a in paged] == ["alias/b"]
    later = T0 + timedelta(hours=1)
    await store.point_alias(TENANT, FR, "alias/a", kid(1), later)
    moved = await store.get_alias(TENANT, FR, "alias/a")
    assert moved == Alias(TENANT, "alias/a", kid(1), T0, later, FR)
    with pytest.raises(CmkNotFound):
        await store.point_alias(TENANT, FR, "alias/none", kid(1), later)
    assert await store.delete_alias(TENANT, FR, "alias/a")
    assert not await store.delete_alias(TENANT, FR, "alias/a")
    other = await store.get_alias("222222222222", FR, "alias/a")
    assert other is not None and other.key_id == kid(3)


async def test_rotations_are_kept_in_order_and_go_with_their_key(store: CustomerKeyStore) -> None:
    await store.insert_key(key(kid(1)))
    await store.insert_key(key(kid(2)))
    made = [
        await store.add_rotation(kid(1), T0 + timedelta(days=n), kind)
        for n, kind in enumerate(
            [RotationType.AUTOMATIC, RotationType.ON_DEMAND, RotationType.ON_DEMAND]
        )
    ]
    other = await store.add_rotation(kid(2), T0, RotationType.ON_DEMAND)
    assert all(rotation is not None for rotation in made) and other is not None
    listed = await store.list_rotations(kid(1), after=None, limit=10)
    assert listed == made
    assert [r.rotation_type for r in listed] == [
        RotationType.AUTOMATIC,
        RotationType.ON_DEMAND,
        RotationType.ON_DEMAND,
    ]
    assert listed[1].rotated_at == T0 + timedelta(days=1)
    first_page = await store.list_rotations(kid(1), after=None, limit=2)
    assert first_page == made[:2]
    rest = await store.list_rotations(kid(1), after=first_page[-1].rotation_id, limit=2)
    assert rest == made[2:]
    with pytest.raises(CmkNotFound):
        await store.add_rotation(kid(9), T0, RotationType.ON_DEMAND)
    await store.delete_key(kid(1))
    assert await store.list_rotations(kid(1), after=None, limit=10) == []
    assert await store.list_rotations(kid(2), after=None, limit=10) == [other]


async def test_a_rotation_under_a_limit_is_counted_per_type(store: CustomerKeyStore) -> None:
    await store.insert_key(key(kid(1)))
    for _ in range(2):
        assert await store.add_rotation(kid(1), T0, RotationType.ON_DEMAND, limit=2) is not None
    assert await store.add_rotation(kid(1), T0, RotationType.ON_DEMAND, limit=2) is None
    # Automatic rotations are not on-demand ones.
    assert await store.add_rotation(kid(1), T0, RotationType.AUTOMATIC, limit=2) is not None
    # A rotation forgotten (its provider call failed) frees its place.
    listed = await store.list_rotations(kid(1), after=None, limit=10)
    await store.delete_rotation(listed[0].rotation_id)
    assert await store.add_rotation(kid(1), T0, RotationType.ON_DEMAND, limit=2) is not None
    assert len(await store.list_rotations(kid(1), after=None, limit=10)) == 3


async def test_a_claimed_deletion_takes_the_rotations(store: CustomerKeyStore) -> None:
    due = key(kid(1), state=KeyState.PENDING_DELETION, deletion_date=T0)
    await store.insert_key(due)
    await store.add_rotation(kid(1), T0, RotationType.ON_DEMAND)
    assert await store.claim_deletion(kid(1), T0 + timedelta(seconds=1))
    assert await store.list_rotations(kid(1), after=None, limit=10) == []


async def test_concurrent_rotations_never_pass_the_limit(store: CustomerKeyStore) -> None:
    await store.insert_key(key(kid(1)))
    results = await asyncio.gather(
        *(store.add_rotation(kid(1), T0, RotationType.ON_DEMAND, limit=3) for _ in range(12))
    )
    assert sum(result is not None for result in results) == 3
    assert len(await store.list_rotations(kid(1), after=None, limit=100)) == 3


def a_grant(number: int, key_id: str, **changes: object) -> Grant:
    made = Grant(
        grant_id=f"{number:064x}",
        key_id=key_id,
        key_tenant=TENANT,
        grantee=f"arn:aws:iam::{TENANT}:user/grantee",
        operations=("Decrypt", "Encrypt"),
        constraints=GrantConstraints(subset=(("app", "é"),)),
        issuer=f"arn:aws:iam::{TENANT}:root",
        created_at=T0,
        name="g",
        retiring=f"arn:aws:iam::{TENANT}:user/retirer",
    )
    return replace(made, **changes)  # type: ignore[arg-type]


async def test_grants_round_trip_list_and_go_with_their_key(store: CustomerKeyStore) -> None:
    await store.insert_key(key(kid(1)))
    await store.insert_key(key(kid(2)))
    first = a_grant(1, kid(1))
    equals = a_grant(
        2,
        kid(1),
        constraints=GrantConstraints(equals=(("a", "1"), ("b", "2"))),
        name=None,
        retiring=None,
        grantee="arn:aws:iam::222222222222:root",
    )
    other = a_grant(3, kid(2))
    for grant in (first, equals, other):
        assert await store.insert_grant(grant, limit=10)
    assert await store.get_grant(first.grant_id) == first
    assert await store.get_grant(equals.grant_id) == equals
    assert await store.get_grant("f" * 64) is None
    assert await store.list_grants(kid(1), after=None, limit=10) == [first, equals]
    assert await store.list_grants(kid(1), after=first.grant_id, limit=10) == [equals]
    assert await store.list_grants(kid(1), after=None, limit=1) == [first]
    assert await store.list_grants(kid(1), after=None, limit=10, grant_id=equals.grant_id) == [
        equals
    ]
    assert await store.list_grants(
        kid(1), after=None, limit=10, grantee="arn:aws:iam::222222222222:root"
    ) == [equals]
    assert await store.grants_for(kid(1), (first.grantee, "arn:aws:iam::9:root")) == [first]
    retiring = f"arn:aws:iam::{TENANT}:user/retirer"
    assert await store.list_retirable_grants(retiring, after=None, limit=10) == [first, other]
    assert await store.list_retirable_grants(retiring, after=first.grant_id, limit=10) == [other]
    assert await store.delete_grant(first.grant_id)
    assert not await store.delete_grant(first.grant_id)
    await store.delete_key(kid(1))
    assert await store.get_grant(equals.grant_id) is None
    assert await store.get_grant(other.grant_id) == other
    with pytest.raises(CmkNotFound):
        await store.insert_grant(a_grant(4, kid(9)), limit=10)


async def test_concurrent_grants_never_pass_the_limit(store: CustomerKeyStore) -> None:
    await store.insert_key(key(kid(1)))
    results = await asyncio.gather(
        *(store.insert_grant(a_grant(n, kid(1)), limit=3) for n in range(12))
    )
    assert sum(results) == 3
    assert len(await store.list_grants(kid(1), after=None, limit=100)) == 3


async def test_a_claimed_deletion_takes_the_grants(store: CustomerKeyStore) -> None:
    await store.insert_key(key(kid(1), state=KeyState.PENDING_DELETION, deletion_date=T0))
    await store.insert_grant(a_grant(1, kid(1)), limit=10)
    assert await store.claim_deletion(kid(1), T0 + timedelta(seconds=1))
    assert await store.get_grant(a_grant(1, kid(1)).grant_id) is None


async def test_a_multi_region_key_has_one_record_per_region(store: CustomerKeyStore) -> None:
    """Decision 0138: one key id, a record in each region (the record id names both), each
    with its role; a primary's waiting period round-trips; deleting one record leaves the
    other, with its grants and aliases."""
    mrk = "mrk-" + "0123456789abcdef" * 2
    primary = key(mrk, multi_region_type=MultiRegionKeyType.PRIMARY)
    replica = key(mrk, region="eu-fr-2", multi_region_type=MultiRegionKeyType.REPLICA)
    assert (primary.record_id, replica.record_id) == (f"{mrk}@eu-fr-1", f"{mrk}@eu-fr-2")
    await store.insert_key(primary)
    await store.insert_key(replica)
    assert await store.get_key(mrk) is None
    assert await store.get_key(primary.record_id) == primary
    assert await store.get_key(replica.record_id) == replica
    waiting = replace(primary, state=KeyState.PENDING_REPLICA_DELETION, pending_window_days=12)
    assert await store.replace_key(waiting)
    assert await store.get_key(primary.record_id) == replace(waiting, revision=1)
    assert [k.record_id for k in await store.list_keys(TENANT, after=None, limit=10)] == [
        primary.record_id,
        replica.record_id,
    ]
    assert [
        k.record_id for k in await store.list_keys(TENANT, after=primary.record_id, limit=10)
    ] == [replica.record_id]
    await store.insert_alias(Alias(TENANT, "alias/there", replica.record_id, T0, T0, "eu-fr-2"))
    await store.delete_key(primary.record_id)
    assert await store.get_key(primary.record_id) is None
    assert await store.get_key(replica.record_id) == replica
    alias = await store.get_alias(TENANT, "eu-fr-2", "alias/there")
    assert alias is not None
    assert alias.key_id == replica.record_id


async def test_an_alias_name_is_one_alias_per_region(store: CustomerKeyStore) -> None:
    """Decision 0138: an alias is a regional resource. One name is an alias in each region,
    each pointing at its own region's record; each region lists, moves and deletes its own;
    deleting one record takes its region's aliases only."""
    mrk = "mrk-" + "fedcba9876543210" * 2
    here = key(mrk, multi_region_type=MultiRegionKeyType.PRIMARY)
    there = key(mrk, region=DE, multi_region_type=MultiRegionKeyType.REPLICA)
    await store.insert_key(here)
    await store.insert_key(there)
    await store.insert_key(key(kid(1)))
    await store.insert_alias(Alias(TENANT, "alias/app", here.record_id, T0, T0, FR))
    await store.insert_alias(Alias(TENANT, "alias/app", there.record_id, T0, T0, DE))
    await store.insert_alias(Alias(TENANT, "alias/only-fr", kid(1), T0, T0, FR))
    with pytest.raises(AliasAlreadyExists):
        await store.insert_alias(Alias(TENANT, "alias/app", kid(1), T0, T0, DE))
    assert await store.get_alias(TENANT, FR, "alias/app") == Alias(
        TENANT, "alias/app", here.record_id, T0, T0, FR
    )
    assert await store.get_alias(TENANT, DE, "alias/app") == Alias(
        TENANT, "alias/app", there.record_id, T0, T0, DE
    )
    assert await store.get_alias(TENANT, DE, "alias/only-fr") is None
    assert await store.get_alias(TENANT, "eu-es-1", "alias/app") is None
    in_fr = await store.list_aliases(TENANT, FR, key_id=None, after=None, limit=10)
    assert [(a.name, a.region) for a in in_fr] == [("alias/app", FR), ("alias/only-fr", FR)]
    in_de = await store.list_aliases(TENANT, DE, key_id=None, after=None, limit=10)
    assert [(a.name, a.key_id) for a in in_de] == [("alias/app", there.record_id)]
    assert await store.list_aliases(TENANT, DE, key_id=kid(1), after=None, limit=10) == []
    later = T0 + timedelta(hours=1)
    await store.point_alias(TENANT, FR, "alias/app", kid(1), later)
    moved = await store.get_alias(TENANT, FR, "alias/app")
    assert moved is not None and (moved.key_id, moved.updated_at) == (kid(1), later)
    kept = await store.get_alias(TENANT, DE, "alias/app")
    assert kept is not None and (kept.key_id, kept.updated_at) == (there.record_id, T0)
    with pytest.raises(CmkNotFound):
        await store.point_alias(TENANT, DE, "alias/only-fr", there.record_id, later)
    assert not await store.delete_alias(TENANT, DE, "alias/only-fr")
    assert await store.get_alias(TENANT, FR, "alias/only-fr") is not None
    await store.point_alias(TENANT, FR, "alias/app", here.record_id, later)
    await store.delete_key(there.record_id)  # its region's alias goes with it, not the other's
    assert await store.get_alias(TENANT, DE, "alias/app") is None
    left = await store.get_alias(TENANT, FR, "alias/app")
    assert left is not None and left.key_id == here.record_id
    assert await store.delete_alias(TENANT, FR, "alias/app")
    assert await store.get_alias(TENANT, FR, "alias/app") is None
