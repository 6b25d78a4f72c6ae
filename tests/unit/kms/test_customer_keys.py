"""CustomerKeyService on the in-memory store with a real key-file provider and a manual clock:
the state machine, the deletion window and crypto-shredding, rotation, aliases, the ciphertext
blob and its encryption context, and key references."""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from andromede.kms.ciphertext import CiphertextBlob
from andromede.kms.customer_keys import MAX_PLAINTEXT_SIZE
from andromede.kms.errors import ProviderError
from andromede.kms.importing import generated_material_id
from andromede.kms.keys_errors import (
    AliasAlreadyExists,
    CmkDisabled,
    CmkInvalidState,
    CmkNotFound,
    IncorrectKey,
    InvalidCiphertext,
    InvalidKeyArn,
    InvalidKeyParameter,
    KeyLimitExceeded,
)
from andromede.kms.keys_model import (
    TRANSITIONS,
    CustomerKey,
    InvalidKeyTransition,
    KeyEvent,
    KeyState,
    MaterialState,
    ReferenceKind,
    RotationType,
    next_state,
    parse_key_reference,
)
from support.kmskit import ACCOUNT_A, ACCOUNT_B, REGION, Kit, root

A = root(ACCOUNT_A)
B = root(ACCOUNT_B)


# --- the state machine ---------------------------------------------------------------------


@pytest.mark.parametrize("state", list(KeyState))
@pytest.mark.parametrize("event", list(KeyEvent))
def test_every_transition_is_in_the_table_or_refused(state: KeyState, event: KeyEvent) -> None:
    expected = TRANSITIONS.get((state, event))
    if expected is None:
        with pytest.raises(InvalidKeyTransition):
            next_state(state, event)
    else:
        assert next_state(state, event) is expected


def test_cancelling_deletion_leaves_the_key_disabled_as_aws_does() -> None:
    assert next_state(KeyState.PENDING_DELETION, KeyEvent.CANCEL_DELETION) is KeyState.DISABLED
    assert (KeyState.PENDING_DELETION, KeyEvent.ENABLE) not in TRANSITIONS


async def test_disable_enable_round_trip(kit: Kit) -> None:
    key = await kit.service.create_key(A, description="d")
    assert key.state is KeyState.ENABLED
    assert (await kit.service.disable_key(A, key.key_id)).state is KeyState.DISABLED
    with pytest.raises(CmkDisabled):
        await kit.service.encrypt(A, key.key_id, b"x", {})
    assert (await kit.service.enable_key(A, key.key_id)).state is KeyState.ENABLED
    await kit.service.encrypt(A, key.key_id, b"x", {})


async def test_pending_deletion_refuses_use_and_enable(kit: Kit) -> None:
    key = await kit.service.create_key(A)
    blob, _ = await kit.service.encrypt(A, key.key_id, b"x", {})
    scheduled = await kit.service.schedule_key_deletion(A, key.key_id, 7)
    assert scheduled.state is KeyState.PENDING_DELETION
    assert scheduled.deletion_date is not None
    assert (scheduled.deletion_date - kit.clock.now).days == 7
    with pytest.raises(CmkInvalidState):
        await kit.service.decrypt(A, blob, {})
    with pytest.raises(CmkInvalidState):
        await kit.service.enable_key(A, key.key_id)
    cancelled = await kit.service.cancel_key_deletion(A, key.key_id)
    assert cancelled.state is KeyState.DISABLED and cancelled.deletion_date is None
    await kit.service.enable_key(A, key.key_id)
    assert (await kit.service.decrypt(A, blob, {}))[0] == b"x"


@pytest.mark.parametrize("window", [6, 31, 0])
async def test_pending_window_is_7_to_30_days(kit: Kit, window: int) -> None:
    key = await kit.service.create_key(A)
    with pytest.raises(InvalidKeyParameter):
        await kit.service.schedule_key_deletion(A, key.key_id, window)


async def test_default_window_is_30_days(kit: Kit) -> None:
    key = await kit.service.create_key(A)
    scheduled = await kit.service.schedule_key_deletion(A, key.key_id, None)
    assert scheduled.deletion_date is not None
    assert (scheduled.deletion_date - kit.clock.now).days == 30


# --- deletion and crypto-shredding ---------------------------------------------------------


async def test_a_service_use_needs_the_key_usable_and_named_by_its_arn(kit: Kit) -> None:
    """The platform's uses on a resource's behalf (an EBS-style volume key opened at each boot)
    check no policy, only what the customer controls: the key exists and is usable."""
    key = await kit.service.create_key(A)
    found = await kit.service.key_for_service_use(key.arn)
    assert (found.arn, found.key_ring_id) == (key.arn, key.key_id)
    for reference in (key.key_id, "alias/any", key.arn.replace(REGION, "elsewhere-1")):
        with pytest.raises(CmkNotFound):
            await kit.service.key_for_service_use(reference)
    # An alias ARN only where the use takes one (S3 replication's ReplicaKmsKeyID), resolved
    # in the ARN's account.
    await kit.service.create_alias(A, "alias/volumes", key.key_id)
    alias = key.arn.replace(f"key/{key.key_id}", "alias/volumes")
    with pytest.raises(CmkNotFound):
        await kit.service.key_for_service_use(alias)
    assert (await kit.service.key_for_service_use(alias, alias_arn=True)).arn == key.arn
    for reference in (
        alias.replace("alias/volumes", "alias/none"),
        alias.replace(f":{A.account_id}:", ":111122223333:"),
    ):
        with pytest.raises(CmkNotFound):
            await kit.service.key_for_service_use(reference, alias_arn=True)
    await kit.service.disable_key(A, key.key_id)
    with pytest.raises(CmkDisabled):
        await kit.service.key_for_service_use(key.arn)
    await kit.service.enable_key(A, key.key_id)
    await kit.service.schedule_key_deletion(A, key.key_id, 7)
    with pytest.raises(CmkInvalidState):
        await kit.service.key_for_service_use(key.arn)
    kit.clock.now += timedelta(days=8)
    await kit.service.upkeep()
    with pytest.raises(CmkNotFound):  # deleted: the volumes under it are shredded
        await kit.service.key_for_service_use(key.arn)


async def test_key_is_destroyed_only_once_its_deletion_date_passes(kit: Kit) -> None:
    key = await kit.service.create_key(A)
    blob, _ = await kit.service.encrypt(A, key.key_id, b"secret", {})
    await kit.service.schedule_key_deletion(A, key.key_id, 7)
    kit.clock.advance(days=6, hours=23)
    assert (await kit.service.upkeep()).destroyed == ()
    assert key.key_id in kit.keys.list_tenants()
    kit.clock.advance(hours=1)
    assert (await kit.service.upkeep()).destroyed == (key.key_id,)
    assert key.key_id not in kit.keys.list_tenants()
    with pytest.raises(CmkNotFound):
        await kit.service.describe_key(A, key.key_id)
    with pytest.raises(CmkNotFound):
        await kit.service.decrypt(A, blob, {})


async def test_restored_metadata_cannot_decrypt_a_destroyed_key(kit: Kit) -> None:
    """The metadata row comes back (as from a backup) but the material is gone for good."""
    key = await kit.service.create_key(A)
    blob, _ = await kit.service.encrypt(A, key.key_id, b"secret", {})
    backup = await kit.store.get_key(key.key_id)
    assert backup is not None
    await kit.service.schedule_key_deletion(A, key.key_id, 7)
    kit.clock.advance(days=8)
    await kit.service.upkeep()
    await kit.store.insert_key(backup)  # the "restored" Enabled key
    with pytest.raises(CmkNotFound, match="destroyed"):
        await kit.service.decrypt(A, blob, {})
    with pytest.raises(CmkNotFound):
        await kit.service.encrypt(A, key.key_id, b"again", {})


async def test_deleting_a_key_removes_its_aliases(kit: Kit) -> None:
    key = await kit.service.create_key(A)
    await kit.service.create_alias(A, "alias/gone", key.key_id)
    await kit.service.schedule_key_deletion(A, key.key_id, 7)
    kit.clock.advance(days=7)
    await kit.service.upkeep()
    aliases, _ = await kit.service.list_aliases(A, key_ref=None, limit=10, marker=None)
    assert aliases == []


# --- rotation ------------------------------------------------------------------------------


async def test_rotation_on_demand_keeps_old_ciphertexts_readable(kit: Kit) -> None:
    key = await kit.service.create_key(A)
    old, _ = await kit.service.encrypt(A, key.key_id, b"v1", {})
    await kit.service.rotate_key_on_demand(A, key.key_id)
    new, _ = await kit.service.encrypt(A, key.key_id, b"v2", {})
    assert CiphertextBlob.decode(old).kek_version == 1
    assert CiphertextBlob.decode(new).kek_version == 2
    assert (await kit.service.decrypt(A, old, {}))[0] == b"v1"
    assert (await kit.service.decrypt(A, new, {}))[0] == b"v2"


async def test_automatic_rotation_runs_when_due(kit: Kit) -> None:
    key = await kit.service.create_key(A)
    enabled = await kit.service.enable_key_rotation(A, key.key_id, 90)
    assert enabled.rotation_enabled and enabled.rotation_period_days == 90
    kit.clock.advance(days=89)
    assert (await kit.service.upkeep()).rotated == ()
    kit.clock.advance(days=1)
    assert (await kit.service.upkeep()).rotated == (key.key_id,)
    assert kit.keys.tenant_key_ring(key.key_id).current == 2
    status = await kit.service.get_key_rotation_status(A, key.key_id)
    assert status.next_rotation_date is not None
    assert (status.next_rotation_date - kit.clock.now).days == 90
    disabled = await kit.service.disable_key_rotation(A, key.key_id)
    assert not disabled.rotation_enabled and disabled.next_rotation_date is None


@pytest.mark.parametrize("period", [89, 2561])
async def test_rotation_period_is_90_to_2560_days(kit: Kit, period: int) -> None:
    key = await kit.service.create_key(A)
    with pytest.raises(InvalidKeyParameter):
        await kit.service.enable_key_rotation(A, key.key_id, period)


async def test_default_rotation_period_is_365_days(kit: Kit) -> None:
    key = await kit.service.create_key(A)
    assert (await kit.service.enable_key_rotation(A, key.key_id, None)).rotation_period_days == 365


async def test_rotations_are_listed_oldest_first_with_their_kind(kit: Kit) -> None:
    key = await kit.service.create_key(A)
    assert await kit.service.list_key_rotations(A, key.key_id, limit=10, after=None) == ([], None)
    await kit.service.rotate_key_on_demand(A, key.key_id)
    first_on_demand = kit.clock.now
    await kit.service.enable_key_rotation(A, key.key_id, 90)
    kit.clock.advance(days=90)
    await kit.service.upkeep()
    kit.clock.advance(days=1)
    await kit.service.rotate_key_on_demand(A, key.key_id)
    rotations, last = await kit.service.list_key_rotations(A, key.key_id, limit=10, after=None)
    assert last is None
    assert [(r.rotation_type, r.rotated_at) for r in rotations] == [
        (RotationType.ON_DEMAND, first_on_demand),
        (RotationType.AUTOMATIC, first_on_demand + timedelta(days=90)),
        (RotationType.ON_DEMAND, kit.clock.now),
    ]
    assert kit.keys.tenant_key_ring(key.key_id).current == 4
    described = await kit.service.describe_key(A, key.key_id)
    assert await kit.service.generated_material_id(described) == generated_material_id(
        key.key_id, 4
    )
    # Each names the material it made current: the last one is current.
    assert [(r.material_id, r.material_state) for r in rotations] == [
        (generated_material_id(key.key_id, 2), MaterialState.NON_CURRENT),
        (generated_material_id(key.key_id, 3), MaterialState.NON_CURRENT),
        (generated_material_id(key.key_id, 4), MaterialState.CURRENT),
    ]
    page, last = await kit.service.list_key_rotations(A, key.key_id, limit=2, after=None)
    assert page == rotations[:2] and last == rotations[1].marker
    rest, end = await kit.service.list_key_rotations(A, key.key_id, limit=2, after=last)
    assert rest == rotations[2:] and end is None
    # Every material: the first one too, without a rotation.
    everything, _ = await kit.service.list_key_rotations(
        A, key.key_id, limit=10, after=None, all_material=True
    )
    assert everything[1:] == rotations
    first = everything[0]
    assert (first.material_id, first.material_state, first.rotated_at, first.rotation_type) == (
        generated_material_id(key.key_id, 1),
        MaterialState.NON_CURRENT,
        None,
        None,
    )
    page, last = await kit.service.list_key_rotations(
        A, key.key_id, limit=2, after=None, all_material=True
    )
    assert page == everything[:2] and last == everything[1].marker
    rest, end = await kit.service.list_key_rotations(
        A, key.key_id, limit=2, after=last, all_material=True
    )
    assert rest == everything[2:] and end is None
    # Another account cannot list them: ListKeyRotations has no cross-account use.
    with pytest.raises(CmkNotFound):
        await kit.service.list_key_rotations(B, key.arn, limit=10, after=None)


async def test_on_demand_rotations_stop_at_the_quota(kit: Kit) -> None:
    limited = kit.limited(on_demand_rotations=2)
    key = await limited.create_key(A)
    await limited.enable_key_rotation(A, key.key_id, 90)
    for _ in range(2):
        await limited.rotate_key_on_demand(A, key.key_id)
    with pytest.raises(KeyLimitExceeded):
        await limited.rotate_key_on_demand(A, key.key_id)
    assert kit.keys.tenant_key_ring(key.key_id).current == 3  # the refused one made nothing
    # Automatic rotations do not count against it, and still run.
    kit.clock.advance(days=90)
    assert (await limited.upkeep()).rotated == (key.key_id,)
    assert kit.keys.tenant_key_ring(key.key_id).current == 4


async def test_an_on_demand_rotation_the_provider_refuses_is_not_recorded(
    kit: Kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = await kit.service.create_key(A)

    def broken(ring: str) -> None:
        raise ProviderError("the token is not there")

    monkeypatch.setattr(kit.keys, "rotate_tenant_key", broken)
    with pytest.raises(ProviderError):
        await kit.service.rotate_key_on_demand(A, key.key_id)
    assert await kit.service.list_key_rotations(A, key.key_id, limit=10, after=None) == ([], None)


async def test_a_disabled_key_cannot_rotate(kit: Kit) -> None:
    key = await kit.service.create_key(A)
    await kit.service.disable_key(A, key.key_id)
    with pytest.raises(CmkDisabled):
        await kit.service.rotate_key_on_demand(A, key.key_id)


# --- aliases -------------------------------------------------------------------------------


async def test_alias_life_cycle(kit: Kit) -> None:
    first = await kit.service.create_key(A)
    second = await kit.service.create_key(A)
    await kit.service.create_alias(A, "alias/app", first.key_id)
    assert (await kit.service.describe_key(A, "alias/app")).key_id == first.key_id
    alias_arn = f"arn:aws:kms:{REGION}:{ACCOUNT_A}:alias/app"
    assert (await kit.service.describe_key(A, alias_arn)).key_id == first.key_id
    with pytest.raises(AliasAlreadyExists):
        await kit.service.create_alias(A, "alias/app", second.key_id)
    await kit.service.update_alias(A, "alias/app", second.key_id)
    assert (await kit.service.describe_key(A, "alias/app")).key_id == second.key_id
    listed, _ = await kit.service.list_aliases(A, key_ref=second.key_id, limit=10, marker=None)
    assert [a.name for a in listed] == ["alias/app"]
    await kit.service.delete_alias(A, "alias/app")
    with pytest.raises(CmkNotFound):
        await kit.service.describe_key(A, "alias/app")
    with pytest.raises(CmkNotFound):
        await kit.service.delete_alias(A, "alias/app")


@pytest.mark.parametrize(
    "name", ["alias/aws/s3", "app", "alias/", "alias/sp ace", "alias/" + "a" * 251]
)
async def test_reserved_and_malformed_alias_names_are_refused(kit: Kit, name: str) -> None:
    key = await kit.service.create_key(A)
    with pytest.raises(InvalidKeyParameter):
        await kit.service.create_alias(A, name, key.key_id)


async def test_aliases_are_per_tenant(kit: Kit) -> None:
    key_a = await kit.service.create_key(A)
    key_b = await kit.service.create_key(B)
    await kit.service.create_alias(A, "alias/same", key_a.key_id)
    await kit.service.create_alias(B, "alias/same", key_b.key_id)
    assert (await kit.service.describe_key(A, "alias/same")).key_id == key_a.key_id
    assert (await kit.service.describe_key(B, "alias/same")).key_id == key_b.key_id
    with pytest.raises(CmkNotFound):  # an alias cannot point at another tenant's key
        await kit.service.create_alias(A, "alias/theirs", key_b.arn)


async def test_listings_page_with_markers(kit: Kit) -> None:
    created = sorted([(await kit.service.create_key(A)).key_id for _ in range(5)])
    await kit.service.create_key(B)
    seen: list[str] = []
    marker = None
    while True:
        page, marker = await kit.service.list_keys(A, limit=2, marker=marker)
        seen += [k.key_id for k in page]
        if marker is None:
            break
    assert seen == created


# --- encryption ------------------------------------------------------------------------------


async def test_encrypt_decrypt_with_context(kit: Kit) -> None:
    key = await kit.service.create_key(A)
    context = {"bucket": "b", "purpose": "test"}
    blob, used = await kit.service.encrypt(A, key.key_id, b"hello", context)
    assert used.key_id == key.key_id
    plaintext, decrypted_by = await kit.service.decrypt(A, blob, {"purpose": "test", "bucket": "b"})
    assert plaintext == b"hello" and decrypted_by.key_id == key.key_id
    for wrong in ({}, {"bucket": "b"}, {**context, "extra": "x"}, {**context, "bucket": "c"}):
        with pytest.raises(InvalidCiphertext):
            await kit.service.decrypt(A, blob, wrong)


async def test_every_flipped_bit_of_the_blob_is_refused(kit: Kit) -> None:
    key = await kit.service.create_key(A)
    blob, _ = await kit.service.encrypt(A, key.key_id, b"hello", {})
    for index in range(len(blob)):
        tampered = bytearray(blob)
        tampered[index] ^= 0x01
        with pytest.raises((InvalidCiphertext, CmkNotFound)):
            await kit.service.decrypt(A, bytes(tampered), {})
    for truncated in (blob[:-1], blob[:10], b"", blob + b"\0"):
        with pytest.raises(InvalidCiphertext):
            await kit.service.decrypt(A, truncated, {})


async def test_decrypt_with_the_wrong_key_id_is_incorrect_key(kit: Kit) -> None:
    key = await kit.service.create_key(A)
    other = await kit.service.create_key(A)
    blob, _ = await kit.service.encrypt(A, key.key_id, b"x", {})
    with pytest.raises(IncorrectKey):
        await kit.service.decrypt(A, blob, {}, other.key_id)
    assert (await kit.service.decrypt(A, blob, {}, key.arn))[0] == b"x"


async def test_re_encrypt_moves_a_ciphertext_between_keys_and_contexts(kit: Kit) -> None:
    source = await kit.service.create_key(A)
    target = await kit.service.create_key(A)
    blob, _ = await kit.service.encrypt(A, source.key_id, b"move me", {"a": "1"})
    moved, from_key, to_key = await kit.service.re_encrypt(
        A, blob, {"a": "1"}, target.key_id, {"b": "2"}
    )
    assert (from_key.key_id, to_key.key_id) == (source.key_id, target.key_id)
    assert CiphertextBlob.decode(moved).key_id == target.key_id
    assert (await kit.service.decrypt(A, moved, {"b": "2"}))[0] == b"move me"
    with pytest.raises(InvalidCiphertext):
        await kit.service.re_encrypt(A, blob, {}, target.key_id, {})


async def test_plaintext_size_limits(kit: Kit) -> None:
    key = await kit.service.create_key(A)
    await kit.service.encrypt(A, key.key_id, b"x" * MAX_PLAINTEXT_SIZE, {})
    for bad in (b"", b"x" * (MAX_PLAINTEXT_SIZE + 1)):
        with pytest.raises(InvalidKeyParameter):
            await kit.service.encrypt(A, key.key_id, bad, {})


async def test_generate_data_key_and_random(kit: Kit) -> None:
    key = await kit.service.create_key(A)
    made = await kit.service.generate_data_key(A, key.key_id, 32, {"k": "v"})
    assert made.plaintext is not None and len(made.plaintext) == 32
    assert (await kit.service.decrypt(A, made.ciphertext, {"k": "v"}))[0] == made.plaintext
    bare = await kit.service.generate_data_key(A, key.key_id, 16, {}, with_plaintext=False)
    assert bare.plaintext is None
    assert len((await kit.service.decrypt(A, bare.ciphertext, {}))[0]) == 16
    for size in (0, 1025):
        with pytest.raises(InvalidKeyParameter):
            await kit.service.generate_data_key(A, key.key_id, size, {})
        with pytest.raises(InvalidKeyParameter):
            await kit.service.generate_random(A, size)
    assert len(await kit.service.generate_random(A, 1024)) == 1024


@pytest.mark.parametrize(
    ("usage", "spec"),
    [
        ("SIGN_VERIFY", "SYMMETRIC_DEFAULT"),
        ("ENCRYPT_DECRYPT", "ECC_NIST_P256"),
        ("ENCRYPT_DECRYPT", "HMAC_256"),
        ("GENERATE_VERIFY_MAC", "RSA_2048"),
        ("ENCRYPT_DECRYPT", "SM2"),
        ("KEY_AGREEMENT", "ECC_SECG_P256K1"),  # NIST curves only, as AWS
        ("KEY_AGREEMENT", "RSA_2048"),
        ("KEY_AGREEMENT", "SYMMETRIC_DEFAULT"),
    ],
)
async def test_a_key_spec_takes_only_its_usages(kit: Kit, usage: str, spec: str) -> None:
    with pytest.raises(InvalidKeyParameter):
        await kit.service.create_key(A, key_usage=usage, key_spec=spec)


# --- key references ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("1234abcd-12ab-34cd-56ef-1234567890ab", ReferenceKind.KEY_ID),
        (
            "arn:aws:kms:eu-fr-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            ReferenceKind.KEY_ARN,
        ),
        ("alias/my-key", ReferenceKind.ALIAS_NAME),
        ("arn:aws:kms:eu-fr-1:111122223333:alias/my-key", ReferenceKind.ALIAS_ARN),
    ],
)
def test_key_references_parse(text: str, kind: ReferenceKind) -> None:
    parsed = parse_key_reference(text)
    assert parsed is not None and parsed.kind is kind


@pytest.mark.parametrize(
    "text",
    ["nope", "1234", "alias/", "arn:aws:kms:eu:1:key/x", "1234ABCD-12AB-34CD-56EF-1234567890AB!"],
)
def test_malformed_key_references_parse_to_nothing(text: str) -> None:
    assert parse_key_reference(text) is None


async def test_malformed_ids_are_not_found_and_bad_arns_invalid(kit: Kit) -> None:
    with pytest.raises(CmkNotFound):
        await kit.service.describe_key(A, "not-a-key")
    with pytest.raises(InvalidKeyArn):
        await kit.service.describe_key(A, "arn:aws:kms:nowhere")


async def test_a_key_arn_must_name_the_keys_own_account_and_region(kit: Kit) -> None:
    key = await kit.service.create_key(A)
    assert (await kit.service.describe_key(A, key.arn)).key_id == key.key_id
    for wrong in (
        key.arn.replace(ACCOUNT_A, ACCOUNT_B),
        key.arn.replace(REGION, "eu-de-1"),
    ):
        with pytest.raises(CmkNotFound):
            await kit.service.describe_key(A, wrong)


async def test_blob_format_names_its_key(kit: Kit) -> None:
    key = await kit.service.create_key(A)
    blob, _ = await kit.service.encrypt(A, key.key_id, b"abc", {})
    parsed = CiphertextBlob.decode(blob)
    assert blob[0] == 1 and parsed.key_id == key.key_id
    assert b"abc" not in blob and base64.b64encode(b"abc") not in blob
    relabelled = replace(parsed, kek_version=2).encode()
    with pytest.raises(InvalidCiphertext):
        await kit.service.decrypt(A, relabelled, {})


async def test_a_change_racing_another_writer_is_redone_from_a_fresh_read(kit: Kit) -> None:
    """Disable reads the key, another gateway schedules its deletion, disable's write is
    refused (stale revision) and its retry finds a key that may not be disabled."""
    key = await kit.service.create_key(A)
    store = kit.store
    original = store.replace_key
    raced = False

    async def racing_replace(changed: CustomerKey) -> bool:
        nonlocal raced
        if not raced:
            raced = True
            current = await store.get_key(changed.key_id)
            assert current is not None
            await original(current.scheduled_for_deletion(kit.clock.now, 7))
        return await original(changed)

    store.replace_key = racing_replace  # type: ignore[method-assign]
    with pytest.raises(CmkInvalidState):
        await kit.service.disable_key(A, key.key_id)
    stored = await store.get_key(key.key_id)
    assert stored is not None and stored.state is KeyState.PENDING_DELETION


async def test_a_deletion_cancelled_before_the_claim_is_not_carried_out(kit: Kit) -> None:
    key = await kit.service.create_key(A)
    await kit.service.schedule_key_deletion(A, key.key_id, 7)
    kit.clock.advance(days=8)
    store = kit.store
    listed = store.keys_due_for_deletion

    async def cancel_right_after_listing(now: datetime, limit: int) -> list[CustomerKey]:
        due = await listed(now, limit)
        await kit.service.cancel_key_deletion(A, key.key_id)
        return due

    store.keys_due_for_deletion = cancel_right_after_listing  # type: ignore[method-assign]
    assert (await kit.service.upkeep()).destroyed == ()
    assert key.key_id in kit.keys.list_tenants()
    assert (await kit.service.describe_key(A, key.key_id)).state is KeyState.DISABLED


async def test_metadata_without_material_is_not_found(kit: Kit) -> None:
    key = await kit.service.create_key(A)
    orphan = replace(key, key_id="00000000-0000-4000-8000-000000000001")
    await kit.store.insert_key(orphan)
    with pytest.raises(CmkNotFound, match="missing"):
        await kit.service.encrypt(A, orphan.key_id, b"x", {})


async def test_description_and_tags(kit: Kit) -> None:
    key = await kit.service.create_key(A, tags=[("b", "2"), ("a", "1")])
    assert key.tags == (("a", "1"), ("b", "2"))
    await kit.service.tag_resource(A, key.key_id, [("b", "3"), ("c", "")])
    assert await kit.service.list_resource_tags(A, key.key_id) == (
        ("a", "1"),
        ("b", "3"),
        ("c", ""),
    )
    await kit.service.untag_resource(A, key.key_id, ["a", "nope"])
    assert [k for k, _ in await kit.service.list_resource_tags(A, key.key_id)] == ["b", "c"]
    for bad in ([("aws:x", "1")], [("", "1")], [("k", "1"), ("k", "2")]):
        with pytest.raises(InvalidKeyParameter):
            await kit.service.tag_resource(A, key.key_id, bad)
    with pytest.raises(InvalidKeyParameter):
        await kit.service.tag_resource(A, key.key_id, [(f"t{i}", "") for i in range(49)])
    described = await kit.service.update_key_description(A, key.key_id, "new words")
    assert described.description == "new words"
    assert (await kit.service.describe_key(A, key.key_id)).description == "new words"
    await kit.service.schedule_key_deletion(A, key.key_id, 7)
    with pytest.raises(CmkInvalidState):
        await kit.service.update_key_description(A, key.key_id, "late")
    with pytest.raises(CmkInvalidState):
        await kit.service.tag_resource(A, key.key_id, [("d", "4")])


async def test_closing_an_account_destroys_every_key_of_it_at_once(kit: Kit) -> None:
    keys = [await kit.service.create_key(A) for _ in range(3)]
    signing = await kit.service.create_key(A, key_usage="SIGN_VERIFY", key_spec="ECC_NIST_P256")
    managed, _ = await kit.service.aws_managed_key(ACCOUNT_A, "s3")
    pending = await kit.service.create_key(A)
    await kit.service.schedule_key_deletion(A, pending.key_id, 30)
    theirs = await kit.service.create_key(B)
    blob, _ = await kit.service.encrypt(A, keys[0].key_id, b"gone", {})
    records = [await kit.store.get_key(k.key_id) for k in keys]
    destroyed = await kit.service.destroy_account_keys(ACCOUNT_A)
    assert set(destroyed) == {k.key_id for k in [*keys, signing, managed, pending]}
    assert await kit.store.list_keys(ACCOUNT_A, after=None, limit=100) == []
    for record in records:  # a database copy taken before brings records, not rings, back
        assert record is not None
        await kit.store.insert_key(record)
    with pytest.raises(CmkNotFound, match="destroyed"):
        await kit.service.decrypt(A, blob, {})
    await kit.service.encrypt(B, theirs.key_id, b"kept", {})  # other accounts keep theirs
    # Restored records are forgotten again by a second pass (each destruction is idempotent).
    assert set(await kit.service.destroy_account_keys(ACCOUNT_A)) == {k.key_id for k in keys}
