"""Key transitions of the log signing key (decision 0140), verified offline: a verifier
pinning the old key follows a transition signed by both keys (and two in a row), and refuses
a forged transition, one signed by the new key only, a transition checkpoint signed by one
key or off the trail's history, a checkpoint after the transition signed by the old key, and
a checkpoint of the new key with no transition to it."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from andromede.audit.merkle import leaf_hash, root_hash
from andromede.audit.model import AuditEvent, Outcome, entry_text
from andromede.audit.note import Checkpoint
from andromede.audit.signing import FileLogSigningKey
from andromede.audit.transition import sign_with_both, statement_text
from andromede.audit.verify import TRAIL_FORMAT, TrailInvalid, verify_trail

NAME = "s3.test/eu-test-1/audit"
LOG = "123456789012"
ORIGIN = f"{NAME}/{LOG}"
K0, K1, K2, EVIL = (FileLogSigningKey(NAME, Ed25519PrivateKey.generate()) for _ in range(4))

ENTRIES = [
    entry_text(
        AuditEvent(
            occurred_at=datetime(2026, 12, 5, tzinfo=UTC),
            request_id=f"R{n}",
            tenant_id=LOG,
            principal=None,
            action="iam:CreateUser",
            resource="arn:aws:iam::123456789012:user/u",
            outcome=Outcome.SUCCESS,
        )
    )
    for n in range(9)
]


def checkpoint_text(size: int, entries: Sequence[str] = ENTRIES) -> str:
    root = root_hash([leaf_hash(e.encode()) for e in entries[:size]])
    return Checkpoint(ORIGIN, size, root).text()


def signed(size: int, *keys: FileLogSigningKey, entries: Sequence[str] = ENTRIES) -> str:
    return sign_with_both(checkpoint_text(size, entries), ORIGIN, [k.sign for k in keys])


def transition(
    generation: int,
    old: FileLogSigningKey,
    new: FileLogSigningKey,
    size: int | None,
    signers: Sequence[FileLogSigningKey] | None = None,
    checkpoint_signers: Sequence[FileLogSigningKey] | None = None,
) -> dict[str, Any]:
    signers = signers if signers is not None else (old, new)
    statement = statement_text(NAME, generation, old.public_key, new.public_key, "scheduled")
    return {
        "statement": sign_with_both(statement, NAME, [k.sign for k in signers]),
        "checkpoint": None
        if size is None
        else signed(size, *(checkpoint_signers if checkpoint_signers is not None else signers)),
    }


def trail(key: FileLogSigningKey, size: int, transitions: list[dict[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {
        "format": TRAIL_FORMAT,
        "log": LOG,
        "checkpoint": signed(size, key),
        "entries": ENTRIES[:size],
    }
    if transitions:
        document["key_transitions"] = transitions
    return document


def test_a_verifier_pinning_the_old_key_follows_a_transition_signed_by_both() -> None:
    rotated = trail(K1, 9, [transition(1, K0, K1, 5)])
    verified = verify_trail(rotated, K0.verifier_key)
    assert (verified.size, verified.key_transitions) == (9, 1)
    assert verify_trail(rotated, K1.verifier_key).size == 9  # pinned after the rotation
    # A checkpoint kept from before the rotation still counts as trusted, and one of the new
    # key from after it too.
    assert verify_trail(rotated, K0.verifier_key, trusted=signed(4, K0)).trusted_size == 4
    assert verify_trail(rotated, K0.verifier_key, trusted=signed(7, K1)).trusted_size == 7


def test_a_verifier_pinning_the_new_key_accepts_what_the_old_key_signed_before() -> None:
    """The new key vouched for its predecessor (it signed the transition): a checkpoint kept
    from before the rotation is trusted within the old key's range, not past it."""
    chain = [transition(1, K0, K1, 3), transition(2, K1, K2, 6)]
    rotated = trail(K2, 9, chain)
    assert verify_trail(rotated, K2.verifier_key, trusted=signed(2, K0)).trusted_size == 2
    assert verify_trail(rotated, K1.verifier_key, trusted=signed(5, K1)).trusted_size == 5
    with pytest.raises(TrailInvalid, match="retired at size 3"):
        verify_trail(rotated, K2.verifier_key, trusted=signed(4, K0))
    # A history whose first transition is not to the key the next one starts from breaks.
    broken = [transition(1, K0, EVIL, 3), transition(2, K1, K2, 6)]
    with pytest.raises(TrailInvalid, match="to another key than the one after it"):
        verify_trail(trail(K2, 9, broken), K2.verifier_key)


def test_two_rotations_in_a_row_are_followed_from_the_first_key() -> None:
    chain = [transition(1, K0, K1, 3), transition(2, K1, K2, 6)]
    assert verify_trail(trail(K2, 9, chain), K0.verifier_key).size == 9
    assert verify_trail(trail(K2, 9, chain), K1.verifier_key).size == 9
    with pytest.raises(TrailInvalid, match="retired at size 6"):
        verify_trail(trail(K1, 9, chain), K0.verifier_key)
    with pytest.raises(TrailInvalid, match="not in generation order"):
        verify_trail(trail(K2, 9, chain[::-1]), K0.verifier_key)


def test_a_log_without_entries_at_the_rotation_has_a_transition_without_checkpoint() -> None:
    assert verify_trail(trail(K1, 9, [transition(1, K0, K1, None)]), K0.verifier_key).size == 9
    with pytest.raises(TrailInvalid, match="retired at size 0"):
        verify_trail(trail(K0, 9, [transition(1, K0, K1, None)]), K0.verifier_key)


def test_a_forged_transition_is_refused() -> None:
    # A statement naming the pinned key as the outgoing one, signed by someone else.
    forged = transition(1, K0, EVIL, 5, signers=(EVIL, EVIL))
    with pytest.raises(TrailInvalid, match="not signed by the outgoing key"):
        verify_trail(trail(EVIL, 9, [forged]), K0.verifier_key)
    # A transition from a key the verifier never pinned leads nowhere.
    elsewhere = transition(1, EVIL, K2, 5)
    with pytest.raises(TrailInvalid, match="does not verify"):
        verify_trail(trail(K2, 9, [elsewhere]), K0.verifier_key)
    # A statement edited after signing (the new key swapped) fails both signatures.
    good = transition(1, K0, K1, 5)
    swapped = dict(good)
    swapped["statement"] = good["statement"].replace(K1.verifier_key, EVIL.verifier_key)
    with pytest.raises(TrailInvalid, match="not signed by the outgoing key"):
        verify_trail(trail(EVIL, 9, [swapped]), K0.verifier_key)


def test_a_transition_signed_only_by_the_new_key_is_refused() -> None:
    only_new = transition(1, K0, K1, 5, signers=(K1,))
    with pytest.raises(TrailInvalid, match="not signed by the outgoing key"):
        verify_trail(trail(K1, 9, [only_new]), K0.verifier_key)
    only_old = transition(1, K0, K1, 5, signers=(K0,))
    with pytest.raises(TrailInvalid, match="not signed by the incoming key"):
        verify_trail(trail(K1, 9, [only_old]), K0.verifier_key)
    # The statement signed by both but the log's transition checkpoint by the new key alone.
    half = transition(1, K0, K1, 5, checkpoint_signers=(K1,))
    with pytest.raises(TrailInvalid, match=r"transition checkpoint .* outgoing key"):
        verify_trail(trail(K1, 9, [half]), K0.verifier_key)


def test_a_checkpoint_after_the_transition_signed_by_the_old_key_is_refused() -> None:
    with pytest.raises(TrailInvalid, match="retired at size 5"):
        verify_trail(trail(K0, 9, [transition(1, K0, K1, 5)]), K0.verifier_key)
    # Nor is it accepted as a trusted checkpoint.
    rotated = trail(K1, 9, [transition(1, K0, K1, 5)])
    with pytest.raises(TrailInvalid, match="retired at size 5"):
        verify_trail(rotated, K0.verifier_key, trusted=signed(7, K0))
    # The new key does not sign the log's past either.
    with pytest.raises(TrailInvalid, match="only signs this log from size 5"):
        verify_trail(rotated, K0.verifier_key, trusted=signed(4, K1))


def test_a_new_key_with_no_transition_to_it_is_refused() -> None:
    with pytest.raises(TrailInvalid, match="does not verify"):
        verify_trail(trail(K1, 9, []), K0.verifier_key)


def test_a_transition_checkpoint_off_the_trails_history_is_refused() -> None:
    other = [e.replace("R2", "X2") for e in ENTRIES]
    rotated = trail(K1, 9, [transition(1, K0, K1, 5)])
    rotated["key_transitions"][0]["checkpoint"] = signed(5, K0, K1, entries=other)
    with pytest.raises(TrailInvalid, match="not a point of this log's history"):
        verify_trail(rotated, K0.verifier_key)
    beyond = trail(K1, 4, [transition(1, K0, K1, 5)])
    with pytest.raises(TrailInvalid, match="only signs this log from size 5"):
        verify_trail(beyond, K0.verifier_key)
    malformed = copy.deepcopy(rotated)
    malformed["key_transitions"] = {"statement": "x"}
    with pytest.raises(TrailInvalid, match="not a list"):
        verify_trail(malformed, K0.verifier_key)
