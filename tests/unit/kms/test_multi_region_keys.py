"""Multi-Region keys (decision 0138) on CustomerKeyService over the in-memory store, a real
key-file provider and a manual clock, for a deployment of two declared regions: one key id in
both, one shared material, each region's key with its own policy, state and deletion; the
primary's waiting for its replicas, and the material shredded with the last related key."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from andromede.kms import customer_keys_lifecycle
from andromede.kms.ciphertext import MULTI_REGION_CIPHERTEXT_FORMAT, CiphertextBlob
from andromede.kms.customer_keys import CustomerKeyService
from andromede.kms.keys_errors import (
    CmkAccessDenied,
    CmkDisabled,
    CmkInvalidState,
    CmkNotFound,
    InvalidCiphertext,
    InvalidKeyParameter,
    ReplicaAlreadyExists,
    UnsupportedKeyOperation,
)
from andromede.kms.keys_model import (
    KeyEvent,
    KeyState,
    MultiRegionKeyType,
    canonical_key_id,
    next_state,
    parse_key_reference,
)
from support.kmskit import (
    ACCOUNT_A,
    ACCOUNT_B,
    REGION,
    Kit,
    kit_over,
    root,
    user,
)

A = root(ACCOUNT_A)
B = root(ACCOUNT_B)
OTHER = "eu-fr-2"
UNDECLARED = "us-east-1"


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    yield from kit_over(tmp_path, regions=(REGION, OTHER))


def there(kit: Kit) -> CustomerKeyService:
    return kit.service.in_region(OTHER)


# --- the model ---------------------------------------------------------------------------------


def test_multi_region_key_ids_are_mrk_and_32_hex_digits() -> None:
    key_id = "mrk-" + "0123456789abcdef" * 2
    assert canonical_key_id(key_id) == key_id
    assert canonical_key_id(key_id.upper().replace("MRK-", "mrk-")) == key_id
    for bad in ("mrk-" + "0" * 31, "mrk-" + "g" * 32, "mrk-", "mrk-" + "0" * 33):
        assert canonical_key_id(bad) is None
    arn = f"arn:aws:kms:{OTHER}:{ACCOUNT_A}:key/{key_id}"
    reference = parse_key_reference(arn)
    assert reference is not None
    assert (reference.value, reference.region) == (key_id, OTHER)


def test_a_primary_waiting_for_its_replicas_cancels_to_disabled() -> None:
    assert (
        next_state(KeyState.PENDING_REPLICA_DELETION, KeyEvent.CANCEL_DELETION) is KeyState.DISABLED
    )


# --- regions: each served region its own endpoint ----------------------------------------------


async def test_a_region_sees_only_its_own_keys(kit: Kit) -> None:
    here = await kit.service.create_key(A)
    made_there = await there(kit).create_key(A)
    assert made_there.region == OTHER
    assert made_there.arn.startswith(f"arn:aws:kms:{OTHER}:{ACCOUNT_A}:key/")
    for reference in (here.key_id, here.arn):
        with pytest.raises(CmkNotFound):
            await there(kit).describe_key(A, reference)
    with pytest.raises(CmkNotFound):
        await kit.service.describe_key(A, made_there.key_id)
    listed_here, _ = await kit.service.list_keys(A, limit=100, marker=None)
    listed_there, _ = await there(kit).list_keys(A, limit=100, marker=None)
    assert [k.key_id for k in listed_here] == [here.key_id]
    assert [k.key_id for k in listed_there] == [made_there.key_id]


async def test_list_keys_pages_through_one_region_among_many(kit: Kit) -> None:
    mine = {(await kit.service.create_key(A)).key_id for _ in range(3)}
    mrk = await kit.service.create_key(A, multi_region=True)
    await kit.service.multi_region.replicate_key(A, mrk.key_id, OTHER)
    for _ in range(4):
        await there(kit).create_key(A)
    mine.add(mrk.key_id)
    seen: list[str] = []
    marker = None
    while True:
        page, marker = await kit.service.list_keys(A, limit=1, marker=marker)
        seen.extend(k.key_id for k in page)
        assert all(k.region == REGION for k in page)
        if marker is None:
            break
    assert sorted(seen) == sorted(mine)
    listed_there, _ = await there(kit).list_keys(A, limit=100, marker=None)
    assert len(listed_there) == 5
    assert mrk.key_id in {k.key_id for k in listed_there}


# --- creation and replication -------------------------------------------------------------------


async def test_create_a_multi_region_primary_key(kit: Kit) -> None:
    key = await kit.service.create_key(A, multi_region=True, description="mrk")
    assert re.fullmatch(r"mrk-[0-9a-f]{32}", key.key_id)
    assert key.multi_region_type is MultiRegionKeyType.PRIMARY
    configuration = await kit.service.multi_region.configuration(key)
    assert configuration is not None
    assert configuration.key_type is MultiRegionKeyType.PRIMARY
    assert configuration.primary == (key.arn, REGION)
    assert configuration.replicas == ()
    single = await kit.service.create_key(A)
    assert await kit.service.multi_region.configuration(single) is None


async def test_replica_shares_the_material_both_ways(kit: Kit) -> None:
    primary = await kit.service.create_key(A, multi_region=True, description="primary")
    replica, _ = await kit.service.multi_region.replicate_key(
        A, primary.key_id, OTHER, description="replica", tags=[("team", "x")]
    )
    assert (replica.key_id, replica.region) == (primary.key_id, OTHER)
    assert replica.arn == primary.arn.replace(REGION, OTHER)
    assert replica.multi_region_type is MultiRegionKeyType.REPLICA
    assert (replica.description, replica.tags) == ("replica", (("team", "x"),))
    # One ring for both: nothing new in the provider.
    assert kit.keys.list_tenants().count(primary.key_id) == 1
    blob, _ = await kit.service.encrypt(A, primary.key_id, b"made here", {"k": "v"})
    plain, used = await there(kit).decrypt(A, blob, {"k": "v"})
    assert (plain, used.arn) == (b"made here", replica.arn)
    blob_there, _ = await there(kit).encrypt(A, replica.arn, b"made there", {})
    assert (await kit.service.decrypt(A, blob_there, {}))[0] == b"made there"
    data_key = await there(kit).generate_data_key(A, replica.key_id, 32, {})
    assert (await kit.service.decrypt(A, data_key.ciphertext, {}))[0] == data_key.plaintext
    # DescribeKey's configuration, from either side.
    for service, key in ((kit.service, primary), (there(kit), replica)):
        described = await service.describe_key(A, key.key_id)
        configuration = await service.multi_region.configuration(described)
        assert configuration is not None
        assert configuration.key_type is described.multi_region_type
        assert configuration.primary == (primary.arn, REGION)
        assert configuration.replicas == ((replica.arn, OTHER),)


async def test_rotating_the_primary_rotates_the_replica(kit: Kit) -> None:
    primary = await kit.service.create_key(A, multi_region=True)
    await kit.service.multi_region.replicate_key(A, primary.key_id, OTHER)
    old, _ = await there(kit).encrypt(A, primary.key_id, b"before", {})
    await kit.service.rotate_key_on_demand(A, primary.key_id)
    new, _ = await there(kit).encrypt(A, primary.key_id, b"after", {})
    assert (await kit.service.decrypt(A, old, {}))[0] == b"before"
    assert (await kit.service.decrypt(A, new, {}))[0] == b"after"
    with pytest.raises(UnsupportedKeyOperation, match="replica"):
        await there(kit).rotate_key_on_demand(A, primary.key_id)
    with pytest.raises(UnsupportedKeyOperation, match="replica"):
        await there(kit).enable_key_rotation(A, primary.key_id, None)
    # A replica's rotation status is its primary's, whenever that changes.
    assert not (await there(kit).get_key_rotation_status(A, primary.key_id)).rotation_enabled
    enabled = await kit.service.enable_key_rotation(A, primary.key_id, 200)
    status = await there(kit).get_key_rotation_status(A, primary.key_id)
    assert (status.rotation_enabled, status.rotation_period_days) == (True, 200)
    assert status.next_rotation_date == enabled.next_rotation_date
    assert status.arn == primary.arn.replace(REGION, OTHER)


async def test_asymmetric_and_hmac_multi_region_keys(kit: Kit) -> None:
    signing = await kit.service.create_key(
        A, key_usage="SIGN_VERIFY", key_spec="ECC_NIST_P256", multi_region=True
    )
    await kit.service.multi_region.replicate_key(A, signing.key_id, OTHER)
    signature, _ = await kit.service.sign(
        A, signing.key_id, b"message", "ECDSA_SHA_256", digest=False
    )
    await there(kit).verify(A, signing.key_id, b"message", signature, "ECDSA_SHA_256", digest=False)
    assert (await there(kit).get_public_key(A, signing.key_id)).public_key == signing.public_key
    hmac_key = await kit.service.create_key(
        A, key_usage="GENERATE_VERIFY_MAC", key_spec="HMAC_256", multi_region=True
    )
    await kit.service.multi_region.replicate_key(A, hmac_key.key_id, OTHER)
    mac, _ = await kit.service.generate_mac(A, hmac_key.key_id, b"m", "HMAC_SHA_256")
    await there(kit).verify_mac(A, hmac_key.key_id, b"m", mac, "HMAC_SHA_256")


async def test_replicate_key_refusals(kit: Kit) -> None:
    single = await kit.service.create_key(A)
    with pytest.raises(UnsupportedKeyOperation, match="not a multi-Region primary"):
        await kit.service.multi_region.replicate_key(A, single.key_id, OTHER)
    primary = await kit.service.create_key(A, multi_region=True)
    with pytest.raises(UnsupportedKeyOperation, match="not a region of this deployment"):
        await kit.service.multi_region.replicate_key(A, primary.key_id, UNDECLARED)
    assert await kit.store.get_key(f"{primary.key_id}@{UNDECLARED}") is None
    with pytest.raises(InvalidKeyParameter):
        await kit.service.multi_region.replicate_key(A, primary.key_id, REGION)
    await kit.service.multi_region.replicate_key(A, primary.key_id, OTHER)
    with pytest.raises(ReplicaAlreadyExists):
        await kit.service.multi_region.replicate_key(A, primary.key_id, OTHER)
    with pytest.raises(UnsupportedKeyOperation):  # a replica does not replicate
        await there(kit).multi_region.replicate_key(A, primary.key_id, REGION)
    with pytest.raises(CmkNotFound):  # another account's key is not found
        await kit.service.multi_region.replicate_key(B, primary.arn, OTHER)
    with pytest.raises(UnsupportedKeyOperation):
        await kit.service.create_key(A, origin="EXTERNAL_KEY_STORE", multi_region=True)


async def test_a_grant_on_a_replica_is_that_replicas(kit: Kit) -> None:
    primary = await kit.service.create_key(A, multi_region=True)
    await kit.service.multi_region.replicate_key(A, primary.key_id, OTHER)
    alice = user(ACCOUNT_A, "alice")
    grant = await there(kit).create_grant(
        A, primary.key_id, grantee=alice.arn, operations=["Encrypt"], retiring=alice.arn
    )
    await there(kit).encrypt(alice, primary.key_id, b"x", {})
    with pytest.raises(CmkAccessDenied):  # the primary has no grant
        await kit.service.encrypt(alice, primary.key_id, b"x", {})
    replica_arn = primary.arn.replace(REGION, OTHER)
    for service in (kit.service, there(kit)):
        assert service.grant_key_arn(grant) == replica_arn
    _, listed, _ = await there(kit).list_grants(A, primary.key_id, limit=10, after=None)
    assert [g.grant_id for g in listed] == [grant.grant_id]
    _, listed, _ = await kit.service.list_grants(A, primary.key_id, limit=10, after=None)
    assert listed == []


async def test_a_disabled_replica_is_disabled_in_its_region_only(kit: Kit) -> None:
    primary = await kit.service.create_key(A, multi_region=True)
    await kit.service.multi_region.replicate_key(A, primary.key_id, OTHER)
    await there(kit).disable_key(A, primary.key_id)
    with pytest.raises(CmkDisabled):
        await there(kit).encrypt(A, primary.key_id, b"x", {})
    await kit.service.encrypt(A, primary.key_id, b"x", {})


# --- UpdatePrimaryRegion -------------------------------------------------------------------------


async def test_update_primary_region_swaps_the_roles(kit: Kit) -> None:
    primary = await kit.service.create_key(A, multi_region=True)
    await kit.service.enable_key_rotation(A, primary.key_id, 365)
    with pytest.raises(CmkNotFound, match="no replica"):
        await kit.service.multi_region.update_primary_region(A, primary.key_id, OTHER)
    await kit.service.multi_region.replicate_key(A, primary.key_id, OTHER)
    with pytest.raises(UnsupportedKeyOperation, match="replica"):
        await there(kit).multi_region.update_primary_region(A, primary.key_id, OTHER)
    with pytest.raises(UnsupportedKeyOperation, match="not a region of this deployment"):
        await kit.service.multi_region.update_primary_region(A, primary.key_id, UNDECLARED)
    await kit.service.multi_region.update_primary_region(A, primary.key_id, OTHER)
    old = await kit.service.describe_key(A, primary.key_id)
    new = await there(kit).describe_key(A, primary.key_id)
    assert old.multi_region_type is MultiRegionKeyType.REPLICA
    assert new.multi_region_type is MultiRegionKeyType.PRIMARY
    assert (new.rotation_enabled, new.rotation_period_days) == (True, 365)
    assert old.next_rotation_date is None and new.next_rotation_date is not None
    configuration = await kit.service.multi_region.configuration(old)
    assert configuration is not None
    assert configuration.primary == (new.arn, OTHER)
    assert configuration.replicas == ((old.arn, REGION),)
    # The new primary replicates; the old one no longer does.
    with pytest.raises(UnsupportedKeyOperation):
        await kit.service.multi_region.replicate_key(A, primary.key_id, OTHER)
    with pytest.raises(ReplicaAlreadyExists):
        await there(kit).multi_region.replicate_key(A, primary.key_id, REGION)
    single = await kit.service.create_key(A)
    with pytest.raises(UnsupportedKeyOperation, match="not a multi-Region key"):
        await kit.service.multi_region.update_primary_region(A, single.key_id, OTHER)


# --- deletion and crypto-shredding ----------------------------------------------------------


async def test_a_primary_with_replicas_waits_for_them_then_shreds_with_the_last(kit: Kit) -> None:
    primary = await kit.service.create_key(A, multi_region=True)
    await kit.service.multi_region.replicate_key(A, primary.key_id, OTHER)
    blob, _ = await kit.service.encrypt(A, primary.key_id, b"secret", {})
    waiting = await kit.service.schedule_key_deletion(A, primary.key_id, 10)
    assert waiting.state is KeyState.PENDING_REPLICA_DELETION
    assert (waiting.deletion_date, waiting.pending_window_days) == (None, 10)
    with pytest.raises(CmkInvalidState):
        await kit.service.encrypt(A, primary.key_id, b"x", {})
    with pytest.raises(CmkInvalidState):  # nor replicated any more
        await kit.service.multi_region.replicate_key(A, primary.key_id, OTHER)
    with pytest.raises(CmkInvalidState):  # scheduling again is refused, as on AWS
        await kit.service.schedule_key_deletion(A, primary.key_id, 7)
    # It waits indefinitely: upkeep long after its window deletes nothing.
    kit.clock.advance(days=60)
    assert (await kit.service.upkeep()).destroyed == ()
    # The replica's own deletion: its window, then its record goes, and the material stays.
    assert (await there(kit).schedule_key_deletion(A, primary.key_id, 7)).deletion_date
    kit.clock.advance(days=8)
    report = await kit.service.upkeep()
    assert report.destroyed == (primary.key_id,)
    assert primary.key_id in kit.keys.list_tenants()
    with pytest.raises(CmkNotFound):
        await there(kit).describe_key(A, primary.key_id)
    # The primary now starts its own waiting period of 10 days.
    started = await kit.service.describe_key(A, primary.key_id)
    assert started.state is KeyState.PENDING_DELETION
    assert started.deletion_date == kit.clock.now + timedelta(days=10)
    assert started.pending_window_days is None
    kit.clock.advance(days=9)
    assert (await kit.service.upkeep()).destroyed == ()
    # Still recoverable: cancel, enable, and the old ciphertext opens.
    await kit.service.cancel_key_deletion(A, primary.key_id)
    await kit.service.enable_key(A, primary.key_id)
    assert (await kit.service.decrypt(A, blob, {}))[0] == b"secret"
    # Deleting the last related key shreds the material.
    await kit.service.schedule_key_deletion(A, primary.key_id, 7)
    kit.clock.advance(days=8)
    assert (await kit.service.upkeep()).destroyed == (primary.key_id,)
    assert primary.key_id not in kit.keys.list_tenants()
    with pytest.raises(CmkNotFound):
        await kit.service.decrypt(A, blob, {})


async def test_the_waiting_period_starts_when_the_last_replica_goes(kit: Kit) -> None:
    primary = await kit.service.create_key(A, multi_region=True)
    await kit.service.multi_region.replicate_key(A, primary.key_id, OTHER)
    await kit.service.schedule_key_deletion(A, primary.key_id, 10)
    await there(kit).schedule_key_deletion(A, primary.key_id, 7)
    kit.clock.advance(days=7)
    await kit.service.upkeep()
    started = await kit.service.describe_key(A, primary.key_id)
    assert started.state is KeyState.PENDING_DELETION
    assert started.deletion_date == kit.clock.now + timedelta(days=10)
    kit.clock.advance(days=10)
    assert (await kit.service.upkeep()).destroyed == (primary.key_id,)
    assert primary.key_id not in kit.keys.list_tenants()


async def test_cancelling_a_primary_waiting_for_replicas_leaves_it_disabled(kit: Kit) -> None:
    primary = await kit.service.create_key(A, multi_region=True)
    await kit.service.multi_region.replicate_key(A, primary.key_id, OTHER)
    await kit.service.schedule_key_deletion(A, primary.key_id, 7)
    cancelled = await kit.service.cancel_key_deletion(A, primary.key_id)
    assert cancelled.state is KeyState.DISABLED
    assert cancelled.pending_window_days is None
    # A replica deleted alone leaves the primary and the material.
    await there(kit).schedule_key_deletion(A, primary.key_id, 7)
    kit.clock.advance(days=8)
    await kit.service.upkeep()
    assert primary.key_id in kit.keys.list_tenants()
    assert (await kit.service.describe_key(A, primary.key_id)).state is KeyState.DISABLED


async def test_closing_an_account_shreds_its_multi_region_keys(kit: Kit) -> None:
    primary = await kit.service.create_key(A, multi_region=True)
    await kit.service.multi_region.replicate_key(A, primary.key_id, OTHER)
    await kit.service.destroy_account_keys(ACCOUNT_A)
    assert primary.key_id not in kit.keys.list_tenants()
    for service in (kit.service, there(kit)):
        with pytest.raises(CmkNotFound):
            await service.describe_key(A, primary.key_id)


# --- the ciphertext blob ------------------------------------------------------------------------


async def test_a_multi_region_blob_is_format_3_and_relabelling_never_opens(kit: Kit) -> None:
    key = await kit.service.create_key(A, multi_region=True)
    blob, _ = await kit.service.encrypt(A, key.key_id, b"secret", {})
    assert blob[0] == MULTI_REGION_CIPHERTEXT_FORMAT
    assert blob[1:17] == bytes.fromhex(key.key_id.removeprefix("mrk-"))
    assert CiphertextBlob.decode(blob).key_id == key.key_id
    for index in range(len(blob)):
        tampered = bytearray(blob)
        tampered[index] ^= 0x01
        with pytest.raises((InvalidCiphertext, CmkNotFound)):
            await kit.service.decrypt(A, bytes(tampered), {})
    with pytest.raises((InvalidCiphertext, CmkNotFound)):  # as format 1, a uuid key id
        await kit.service.decrypt(A, b"\x01" + blob[1:], {})


# --- condition keys -----------------------------------------------------------------------------


def _allow(actions: list[str], **condition: object) -> str:
    statement: dict[str, object] = {"Effect": "Allow", "Action": actions, "Resource": "*"}
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


async def test_multi_region_condition_keys(kit: Kit) -> None:
    """kms:MultiRegion and kms:MultiRegionKeyType from the request on CreateKey and from the
    key on its uses; kms:ReplicaRegion on ReplicateKey."""
    alice = user(ACCOUNT_A, "alice")
    kit.policies.by_user["AIDAALICE"] = [
        _allow(["kms:CreateKey"], Bool={"kms:MultiRegion": "false"}),
        _allow(["kms:Encrypt"], StringEquals={"kms:MultiRegionKeyType": "REPLICA"}),
        _allow(["kms:ReplicateKey"], StringEquals={"kms:ReplicaRegion": "eu-fr-3"}),
    ]
    await kit.service.create_key(alice)
    with pytest.raises(CmkAccessDenied):
        await kit.service.create_key(alice, multi_region=True)
    primary = await kit.service.create_key(A, multi_region=True)
    await kit.service.multi_region.replicate_key(A, primary.key_id, OTHER)
    with pytest.raises(CmkAccessDenied):  # the primary in its region
        await kit.service.encrypt(alice, primary.key_id, b"x", {})
    await there(kit).encrypt(alice, primary.key_id, b"x", {})  # the replica in its own
    with pytest.raises(CmkAccessDenied):  # only to eu-fr-3
        await kit.service.multi_region.replicate_key(alice, primary.key_id, OTHER)
    kit.policies.by_user["AIDAALICE"].append(
        _allow(["kms:CreateKey"], StringEquals={"kms:MultiRegionKeyType": "PRIMARY"})
    )
    assert (await kit.service.create_key(alice, multi_region=True)).multi_region


async def test_replicate_key_needs_create_key_and_tag_resource_in_the_replica_region(
    kit: Kit,
) -> None:
    alice = user(ACCOUNT_A, "alice")
    primary = await kit.service.create_key(A, multi_region=True)
    kit.policies.by_user["AIDAALICE"] = [_allow(["kms:ReplicateKey"])]
    with pytest.raises(CmkAccessDenied, match="kms:CreateKey"):
        await kit.service.multi_region.replicate_key(alice, primary.key_id, OTHER)
    kit.policies.by_user["AIDAALICE"].append(
        _allow(
            ["kms:CreateKey"],
            StringEquals={"kms:MultiRegionKeyType": "REPLICA"},
            **{"ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}},
        )
    )
    with pytest.raises(CmkAccessDenied, match="kms:TagResource"):
        await kit.service.multi_region.replicate_key(
            alice, primary.key_id, OTHER, tags=[("team", "x")]
        )
    with pytest.raises(CmkAccessDenied, match="kms:CreateKey"):  # a tag key not allowed
        await kit.service.multi_region.replicate_key(
            alice, primary.key_id, OTHER, tags=[("cost", "1")]
        )
    assert await kit.store.get_key(f"{primary.key_id}@{OTHER}") is None
    kit.policies.by_user["AIDAALICE"].append(_allow(["kms:TagResource"]))
    replica, _ = await kit.service.multi_region.replicate_key(
        alice, primary.key_id, OTHER, tags=[("team", "x")]
    )
    assert replica.tags == (("team", "x"),)


async def test_each_related_key_is_billed_in_its_region(
    kit: Kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Metering (decision 0108) pages by record id: a page ending on one region's record of
    a multi-Region key goes on to the next record, never back to the same key."""
    monkeypatch.setattr(customer_keys_lifecycle, "_BILLING_PAGE", 2)
    for _ in range(3):
        primary = await kit.service.create_key(A, multi_region=True)
        await kit.service.multi_region.replicate_key(A, primary.key_id, OTHER)
    await kit.service.create_key(A)
    assert await kit.service.billable_keys(ACCOUNT_A) == {REGION: 4, OTHER: 3}
