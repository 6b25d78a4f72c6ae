"""The offline verifier on trails made by the memory twin: a whole trail verifies, and each
tampering fails with its own reason; a trusted checkpoint must be a prefix of the trail."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from andromede.audit.merkle import leaf_hash, root_hash
from andromede.audit.model import AuditEvent, Outcome
from andromede.audit.note import Checkpoint
from andromede.audit.signing import FileLogSigningKey
from andromede.audit.store import MemoryAuditStore
from andromede.audit.trail import AuditTrail
from andromede.audit.verify import TRAIL_FORMAT, TrailInvalid, verify_trail

KEY = FileLogSigningKey("s3.test/eu-test-1/audit", Ed25519PrivateKey.generate())
TENANT = "123456789012"


def event(n: int, tenant: str | None = TENANT) -> AuditEvent:
    return AuditEvent(
        occurred_at=datetime(2026, 12, 4, tzinfo=UTC),
        request_id=f"R{n}",
        tenant_id=tenant,
        principal=None,
        action="iam:CreateUser",
        resource="arn:aws:iam::123456789012:user/u",
        outcome=Outcome.SUCCESS,
    )


async def trail_of(store: MemoryAuditStore, log: str = TENANT) -> dict[str, Any]:
    trail = AuditTrail(store, KEY, max_entries=1000)
    signed = await trail.checkpoint(log)
    return {
        "format": TRAIL_FORMAT,
        "log": log,
        "checkpoint": signed.note,
        "entries": await trail.entries(log, 0, signed.size) if signed.size else [],
    }


async def test_a_whole_trail_verifies_and_each_tampering_is_named() -> None:
    store = MemoryAuditStore()
    await store.append([event(n) for n in range(9)])
    good = await trail_of(store)
    assert verify_trail(good, KEY.verifier_key).size == 9

    def changed(edit: Any) -> dict[str, Any]:
        bad = copy.deepcopy(good)
        edit(bad)
        return bad

    cases = [
        (lambda t: t["entries"].__setitem__(4, t["entries"][4].replace("R4", "R5")), "root"),
        (lambda t: t["entries"].pop(), "dropped or added"),
        (lambda t: t["entries"].reverse(), "root"),
        (
            lambda t: t.__setitem__("checkpoint", t["checkpoint"].replace("\n9\n", "\n8\n")),
            "verify",
        ),
        (lambda t: t.__setitem__("log", "999999999999"), "verify"),
        (lambda t: t.__setitem__("format", "x"), "format"),
    ]
    for edit, reason in cases:
        with pytest.raises(TrailInvalid, match=reason):
            verify_trail(changed(edit), KEY.verifier_key)
    other = FileLogSigningKey(KEY.name, Ed25519PrivateKey.generate())
    with pytest.raises(TrailInvalid, match="no signature"):
        verify_trail(good, other.verifier_key)


async def test_entries_of_another_tenant_are_refused_even_if_signed() -> None:
    store = MemoryAuditStore()
    await store.append([event(1), event(2, "210987654321")])
    entries = [
        *(await trail_of(store))["entries"],
        *(await trail_of(store, "210987654321"))["entries"],
    ]
    origin = f"{KEY.name}/{TENANT}"
    root = root_hash([leaf_hash(e.encode()) for e in entries])
    forged = {
        "format": TRAIL_FORMAT,
        "log": TENANT,
        "checkpoint": KEY.sign(Checkpoint(origin, 2, root).text(), origin),
        "entries": entries,
    }
    with pytest.raises(TrailInvalid, match="belongs to another log"):
        verify_trail(forged, KEY.verifier_key)


async def test_a_trusted_checkpoint_must_be_a_prefix_of_the_trail() -> None:
    store = MemoryAuditStore()
    await store.append([event(n) for n in range(5)])
    old = await trail_of(store)
    await store.append([event(n) for n in range(5, 12)])
    new = await trail_of(store)
    assert verify_trail(new, KEY.verifier_key, trusted=old["checkpoint"]).trusted_size == 5
    with pytest.raises(TrailInvalid, match="lost entries"):
        verify_trail(old, KEY.verifier_key, trusted=new["checkpoint"])
    # The same key signs a rewritten history: alone it verifies, against the kept one not.
    entries = list(new["entries"])
    entries[0] = entries[0].replace("R0", "RX")
    origin = f"{KEY.name}/{TENANT}"
    root = root_hash([leaf_hash(e.encode()) for e in entries])
    rewritten = {**new, "entries": entries,
                 "checkpoint": KEY.sign(Checkpoint(origin, 12, root).text(), origin)}  # fmt: skip
    assert verify_trail(rewritten, KEY.verifier_key).size == 12
    with pytest.raises(TrailInvalid, match="rewritten"):
        verify_trail(rewritten, KEY.verifier_key, trusted=old["checkpoint"])


async def pruned_trail_of(store: MemoryAuditStore, log: str = TENANT) -> dict[str, Any]:
    """A trail as ``audit download`` writes it once retention pruned the log's first entries."""
    import base64

    trail = AuditTrail(store, KEY, max_entries=1000)
    signed = await trail.checkpoint(log)
    size, hashes = await trail.pruned(log)
    return {
        "format": TRAIL_FORMAT,
        "log": log,
        "checkpoint": signed.note,
        "entries": await trail.entries(log, size, signed.size),
        "pruned": {"size": size, "hashes": [base64.b64encode(h).decode() for h in hashes]},
    }


async def test_a_trail_whose_first_entries_were_pruned_verifies_and_tampering_fails() -> None:
    from dataclasses import replace
    from datetime import timedelta

    store = MemoryAuditStore()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    await store.append([replace(event(n), occurred_at=start + timedelta(days=n)) for n in range(4)])
    old = await trail_of(store)  # kept by the tenant before the prune, of 4 entries
    later = [replace(event(n), occurred_at=start + timedelta(days=n)) for n in range(4, 14)]
    await store.append(later)
    kept_whole = await trail_of(store)
    assert await store.prune(start + timedelta(days=6)) == 6
    good = await pruned_trail_of(store)
    assert len(good["entries"]) == 8
    assert verify_trail(good, KEY.verifier_key).size == 14

    def changed(edit: Any) -> dict[str, Any]:
        bad = copy.deepcopy(good)
        edit(bad)
        return bad

    flipped = "A" * 43 + "="
    cases = [
        (lambda t: t["pruned"]["hashes"].__setitem__(0, flipped), "root"),
        (lambda t: t["pruned"].__setitem__("size", 5), "dropped or added|one hash per subtree"),
        (lambda t: t["pruned"]["hashes"].pop(), "one hash per subtree"),
        (lambda t: t["pruned"]["hashes"].__setitem__(1, "!!"), "base64"),
        (lambda t: t.__setitem__("pruned", None), "dropped or added"),
        (lambda t: t["entries"].pop(0), "dropped or added"),
    ]
    for edit, reason in cases:
        with pytest.raises(TrailInvalid, match=reason):
            verify_trail(changed(edit), KEY.verifier_key)
    # A trusted checkpoint inside the pruned range: only a consistency proof can link it.
    with pytest.raises(TrailInvalid, match="consistency proof"):
        verify_trail(good, KEY.verifier_key, trusted=old["checkpoint"])
    import base64

    trail = AuditTrail(store, KEY, max_entries=1000)
    proof = await trail.consistency_proof(TENANT, 4, 14)
    linked = {
        **good,
        "consistency": {"first": 4, "hashes": [base64.b64encode(h).decode() for h in proof]},
    }
    assert verify_trail(linked, KEY.verifier_key, trusted=old["checkpoint"]).trusted_size == 4
    # A trusted checkpoint past the pruned range is checked against the kept entries.
    assert verify_trail(good, KEY.verifier_key, trusted=kept_whole["checkpoint"]).size == 14
    bad_proof = copy.deepcopy(linked)
    bad_proof["consistency"]["hashes"][0] = flipped
    with pytest.raises(TrailInvalid, match="consistency proof"):
        verify_trail(bad_proof, KEY.verifier_key, trusted=old["checkpoint"])
