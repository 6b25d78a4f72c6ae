"""Multi-Region keys with imported key material (decision 0138, 2026-12-05 addendum), on
CustomerKeyService over the in-memory store, a real key-file provider and a manual clock, for a
deployment of two declared regions: a primary of origin EXTERNAL and its replica made without
material, the same material wrapped for each with its own import parameters, other material
refused in a related key, deletion and expiry per key with the shared ring kept while a related
key holds the material; and ListKeyRotations on a replica listing its primary's rotations."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from andromede.kms.ciphertext import CiphertextBlob
from andromede.kms.customer_keys import CustomerKeyService
from andromede.kms.errors import KeyWithdrawn
from andromede.kms.keys_errors import (
    CmkInvalidState,
    IncorrectKeyMaterial,
    InvalidImportToken,
    UnsupportedKeyOperation,
)
from andromede.kms.keys_model import CustomerKey, KeyState, MultiRegionKeyType
from andromede.kms.model import WrappedDataKey
from support.kmskit import ACCOUNT_A, REGION, Kit, ManualClock, kit_over, root

A = root(ACCOUNT_A)
OTHER = "eu-fr-2"
DOES_NOT_EXPIRE = "KEY_MATERIAL_DOES_NOT_EXPIRE"


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    yield from kit_over(tmp_path, regions=(REGION, OTHER))


def wrap(public_der: bytes, material: bytes) -> bytes:
    """What a customer does with GetParametersForImport's public key (RSAES_OAEP_SHA_256)."""
    public = serialization.load_der_public_key(public_der)
    assert isinstance(public, rsa.RSAPublicKey)
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    return public.encrypt(material, oaep)


def there(kit: Kit) -> CustomerKeyService:
    return kit.service.in_region(OTHER)


async def import_into(
    service: CustomerKeyService,
    key: CustomerKey,
    material: bytes,
    *,
    clock: ManualClock | None = None,
    import_type: str | None = None,
) -> CustomerKey:
    """Import ``material`` into ``key`` with parameters asked of ``service`` (its region);
    with ``clock``, the material expires a day after its now."""
    algorithm = "RSAES_OAEP_SHA_256"
    params = await service.get_parameters_for_import(A, key.key_id, algorithm, "RSA_2048")
    imported = await service.import_key_material(
        A,
        key.key_id,
        params.import_token,
        wrap(params.public_key, material),
        expiration_model=DOES_NOT_EXPIRE if clock is None else "KEY_MATERIAL_EXPIRES",
        valid_to=None if clock is None else clock() + timedelta(days=1),
        import_type=import_type,
    )
    return imported.key


async def external_pair(kit: Kit) -> tuple[CustomerKey, CustomerKey]:
    primary = await kit.service.create_key(A, origin="EXTERNAL", multi_region=True)
    replica, _ = await kit.service.multi_region.replicate_key(A, primary.key_id, OTHER)
    return primary, replica


async def test_an_external_primary_and_its_replica_are_made_without_material(kit: Kit) -> None:
    primary, replica = await external_pair(kit)
    assert primary.key_id.startswith("mrk-") and primary.origin == "EXTERNAL"
    for key in (primary, replica):
        assert (key.state, key.has_material, key.key_material_id) == (
            KeyState.PENDING_IMPORT,
            False,
            None,
        )
    assert replica.multi_region_type is MultiRegionKeyType.REPLICA
    assert replica.origin == "EXTERNAL"
    assert primary.key_id not in kit.keys.list_tenants()  # the first import makes the ring
    with pytest.raises(CmkInvalidState, match="pending import"):
        await there(kit).encrypt(A, replica.key_id, b"x", {})
    # A key of an external key store is still never multi-Region (AWS's rule too).
    with pytest.raises(UnsupportedKeyOperation, match="EXTERNAL_KEY_STORE"):
        await kit.service.create_key(A, origin="EXTERNAL_KEY_STORE", multi_region=True)


async def test_the_same_material_imported_into_each_decrypts_across_regions(kit: Kit) -> None:
    primary, replica = await external_pair(kit)
    material = os.urandom(32)
    imported = await import_into(kit.service, primary, material)
    assert imported.state is KeyState.ENABLED
    # The primary works at once; the replica waits for its own import.
    blob, _ = await kit.service.encrypt(A, primary.key_id, b"made in the primary's", {"k": "v"})
    with pytest.raises(CmkInvalidState, match="pending import"):
        await there(kit).decrypt(A, blob, {"k": "v"})
    imported_there = await import_into(there(kit), replica, material)
    assert imported_there.state is KeyState.ENABLED
    # One material id (a keyed digest over the shared key id), one ring.
    assert imported_there.key_material_id == imported.key_material_id
    assert kit.keys.list_tenants().count(primary.key_id) == 1
    plain, used = await there(kit).decrypt(A, blob, {"k": "v"})
    assert (plain, used.arn) == (b"made in the primary's", replica.arn)
    back, _ = await there(kit).encrypt(A, replica.key_id, b"made in the replica's", {})
    assert (await kit.service.decrypt(A, back, {}))[0] == b"made in the replica's"


async def test_a_token_of_one_region_imports_into_that_regions_key_only(kit: Kit) -> None:
    primary, replica = await external_pair(kit)
    material = os.urandom(32)
    algorithm = "RSAES_OAEP_SHA_256"
    params = await kit.service.get_parameters_for_import(A, primary.key_id, algorithm, "RSA_2048")
    with pytest.raises(InvalidImportToken):
        await there(kit).import_key_material(
            A,
            replica.key_id,
            params.import_token,
            wrap(params.public_key, material),
            expiration_model=DOES_NOT_EXPIRE,
        )
    assert (await there(kit).describe_key(A, replica.key_id)).key_material_id is None


@pytest.mark.parametrize("first_in_replica", [False, True])
async def test_other_material_is_refused_in_a_related_key(kit: Kit, first_in_replica: bool) -> None:
    primary, replica = await external_pair(kit)
    material, other = os.urandom(32), os.urandom(32)
    first, second = (there(kit), kit.service) if first_in_replica else (kit.service, there(kit))
    first_key, second_key = (replica, primary) if first_in_replica else (primary, replica)
    await import_into(first, first_key, material)
    with pytest.raises(IncorrectKeyMaterial, match="every related multi-Region key"):
        await import_into(second, second_key, other)
    # Refused before any claim: the key is as it was, and takes the right material after.
    refused = await second.describe_key(A, second_key.key_id)
    assert (refused.state, refused.key_material_id) == (KeyState.PENDING_IMPORT, None)
    assert (await import_into(second, second_key, material)).state is KeyState.ENABLED
    blob, _ = await first.encrypt(A, first_key.key_id, b"both", {})
    assert (await second.decrypt(A, blob, {}))[0] == b"both"


async def test_two_first_imports_of_other_materials_at_once_never_both_get_in(kit: Kit) -> None:
    for _ in range(5):
        primary, replica = await external_pair(kit)
        results = await asyncio.gather(
            import_into(kit.service, primary, os.urandom(32)),
            import_into(there(kit), replica, os.urandom(32)),
            return_exceptions=True,
        )
        done = [r for r in results if isinstance(r, CustomerKey)]
        assert len(done) <= 1, "two materials in one multi-Region key"
        for result in results:
            if not isinstance(result, CustomerKey):
                assert isinstance(result, IncorrectKeyMaterial)
        for key in done:  # the one that got in is the ring's material
            service = kit.service if key.region == REGION else there(kit)
            blob, _ = await service.encrypt(A, key.key_id, b"ok", {})
            assert (await service.decrypt(A, blob, {}))[0] == b"ok"


async def test_deleting_material_in_one_region_leaves_the_others(kit: Kit) -> None:
    primary, replica = await external_pair(kit)
    material = os.urandom(32)
    await import_into(kit.service, primary, material)
    await import_into(there(kit), replica, material)
    blob, _ = await kit.service.encrypt(A, primary.key_id, b"kept", {})
    deleted = await there(kit).delete_imported_key_material(A, replica.key_id)
    assert (deleted.state, deleted.has_material) == (KeyState.PENDING_IMPORT, False)
    with pytest.raises(CmkInvalidState, match="pending import"):
        await there(kit).decrypt(A, blob, {})
    # The primary is unaffected (AWS): the shared ring keeps the material it still holds.
    assert (await kit.service.decrypt(A, blob, {}))[0] == b"kept"
    assert (await kit.service.describe_key(A, primary.key_id)).state is KeyState.ENABLED
    # The same material brings the replica back.
    await import_into(there(kit), replica, material)
    assert (await there(kit).decrypt(A, blob, {}))[0] == b"kept"
    # Deleted from every related key, the material leaves the ring.
    await there(kit).delete_imported_key_material(A, replica.key_id)
    await kit.service.delete_imported_key_material(A, primary.key_id)
    parsed = CiphertextBlob.decode(blob)
    wrapped = WrappedDataKey(primary.key_id, parsed.kek_version, parsed.sealed_key).encode()
    with pytest.raises(KeyWithdrawn):
        kit.keys.unwrap_data_key(primary.key_id, wrapped)
    await import_into(kit.service, primary, material)
    assert (await kit.service.decrypt(A, blob, {}))[0] == b"kept"


async def test_each_related_key_expires_on_its_own(kit: Kit) -> None:
    primary, replica = await external_pair(kit)
    material = os.urandom(32)
    await import_into(kit.service, primary, material)
    await import_into(there(kit), replica, material, clock=kit.clock)
    blob, _ = await kit.service.encrypt(A, primary.key_id, b"still", {})
    kit.clock.advance(days=2)
    report = await kit.service.upkeep()
    assert report.expired == (primary.key_id,)  # the replica's record (one key id)
    assert (await there(kit).describe_key(A, replica.key_id)).state is KeyState.PENDING_IMPORT
    assert (await kit.service.decrypt(A, blob, {}))[0] == b"still"
    # The primary's expiry, the last holder's, withdraws the material from the ring.
    await import_into(there(kit), replica, material)
    await import_into(kit.service, primary, material, clock=kit.clock)
    await there(kit).delete_imported_key_material(A, replica.key_id)
    kit.clock.advance(days=2)
    await kit.service.upkeep()
    assert (await kit.service.describe_key(A, primary.key_id)).state is KeyState.PENDING_IMPORT
    parsed = CiphertextBlob.decode(blob)
    wrapped = WrappedDataKey(primary.key_id, parsed.kek_version, parsed.sealed_key).encode()
    with pytest.raises(KeyWithdrawn):
        kit.keys.unwrap_data_key(primary.key_id, wrapped)


async def test_new_material_for_a_multi_region_key_is_not_offered(kit: Kit) -> None:
    primary, _ = await external_pair(kit)
    await import_into(kit.service, primary, os.urandom(32))
    with pytest.raises(UnsupportedKeyOperation, match="multi-Region"):
        await import_into(kit.service, primary, os.urandom(32), import_type="NEW_KEY_MATERIAL")
    with pytest.raises(CmkInvalidState):  # nothing staged to rotate to
        await kit.service.rotate_key_on_demand(A, primary.key_id)


async def test_an_hmac_multi_region_key_with_imported_material(kit: Kit) -> None:
    primary = await kit.service.create_key(
        A,
        origin="EXTERNAL",
        multi_region=True,
        key_usage="GENERATE_VERIFY_MAC",
        key_spec="HMAC_256",
    )
    replica, _ = await kit.service.multi_region.replicate_key(A, primary.key_id, OTHER)
    secret = os.urandom(32)
    await import_into(kit.service, primary, secret)
    with pytest.raises(IncorrectKeyMaterial):
        await import_into(there(kit), replica, os.urandom(32))
    await import_into(there(kit), replica, secret)
    mac, _ = await kit.service.generate_mac(A, primary.key_id, b"message", "HMAC_SHA_256")
    await there(kit).verify_mac(A, replica.key_id, b"message", mac, "HMAC_SHA_256")
    # Deleting the replica's leaves the primary's secret in the ring.
    await there(kit).delete_imported_key_material(A, replica.key_id)
    await kit.service.verify_mac(A, primary.key_id, b"message", mac, "HMAC_SHA_256")


async def test_list_key_rotations_on_a_replica_lists_its_primarys(kit: Kit) -> None:
    primary = await kit.service.create_key(A, multi_region=True)
    await kit.service.rotate_key_on_demand(A, primary.key_id)
    await kit.service.multi_region.replicate_key(A, primary.key_id, OTHER)
    await kit.service.rotate_key_on_demand(A, primary.key_id)
    here, _ = await kit.service.list_key_rotations(A, primary.key_id, limit=100, after=None)
    listed, _ = await there(kit).list_key_rotations(A, primary.key_id, limit=100, after=None)
    assert len(here) == 2
    assert [(e.material_id, e.rotated_at) for e in listed] == [
        (e.material_id, e.rotated_at) for e in here
    ]
    # After the primary region moves, each side lists every rotation, whoever recorded it.
    await kit.service.multi_region.update_primary_region(A, primary.key_id, OTHER)
    await there(kit).rotate_key_on_demand(A, primary.key_id)
    for service in (kit.service, there(kit)):
        entries, _ = await service.list_key_rotations(
            A, primary.key_id, limit=100, after=None, all_material=True
        )
        assert len(entries) == 4  # the first material and three rotations
        assert [e.material_state.value for e in entries][-1] == "CURRENT"
        paged, marker = await service.list_key_rotations(A, primary.key_id, limit=2, after=None)
        rest, _ = await service.list_key_rotations(A, primary.key_id, limit=2, after=marker)
        assert [e.marker for e in paged + rest] == [e.marker for e in entries[1:]]
