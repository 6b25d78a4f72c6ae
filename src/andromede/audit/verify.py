"""Offline verification of a downloaded audit trail: pure, trusting only the public key given.

A trail (``andromede audit download``) is JSON: ``format`` (``andromede-audit-trail/1``), the
``log``, its ``checkpoint`` (the signed note as served) and every ``entries`` of the log from
index 0 up to the checkpoint's size; optionally the ``consistency`` proof from a previously
trusted size. :func:`verify_trail` checks, in order, and stops at the first failure with a
message that says what is wrong:

1. the checkpoint is signed by the region's key under the log's origin (``<key name>/<log>``);
2. the trail holds exactly as many entries as the checkpoint's tree size (none dropped, none
   added) — counting, when retention pruned the log's first entries (decision 0107), the
   ``pruned`` range: its ``size`` and the ``hashes`` of the perfect subtrees covering it, from
   which the tree is continued with the entries that follow;
3. the entries' RFC 6962 tree head is the checkpoint's root (none changed, none reordered);
4. every entry is a well-formed audit entry of this log's tenant (or of none, for the platform);
5. with a trusted checkpoint (one kept from an earlier download): it is signed by a key of the
   chain (below) at a size that key was current for, for the same log, not larger, and the
   entries' tree head at its size is its root — the log was only appended to since; and a
   consistency proof, if the trail carries one, verifies.

After a rotation of the region's key (decision 0140) the trail carries its
``key_transitions``: the checkpoint must then be signed by the key the chain of transitions
reaches from the pinned key, each transition signed by the outgoing and the incoming key, each
transition checkpoint a point of the trail's history (:mod:`andromede.audit.transition`).

A tenant thus sees its whole log and can tell that nothing of its was dropped, without seeing
any other tenant's event (decision 0105).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from andromede.audit.cosignature import Cosignature, cosignatures, parse_cosigner_key
from andromede.audit.errors import AuditError
from andromede.audit.merkle import (
    Node,
    append_leaves,
    consistency_proof,
    fold,
    leaf_hash,
    perfect_subtrees,
    verify_consistency,
)
from andromede.audit.model import PLATFORM_LOG, parse_entry
from andromede.audit.note import Checkpoint, NoteError, open_note, parse_verifier_key
from andromede.audit.transition import KeySpan, TransitionInvalid, key_spans

__all__ = [
    "TRAIL_FORMAT",
    "TrailInvalid",
    "VerifiedTrail",
    "trail_consistency_proof",
    "verify_cosignatures",
    "verify_trail",
]

TRAIL_FORMAT = "andromede-audit-trail/1"


class TrailInvalid(AuditError):
    """The trail does not verify; the message says why."""


@dataclass(frozen=True, slots=True)
class VerifiedTrail:
    log: str
    origin: str
    size: int
    root_hash: bytes
    trusted_size: int | None
    key_transitions: int = 0  # followed from the pinned key (decision 0140)


def _checkpoint(note: object, origin: str, public_key: bytes, what: str) -> Checkpoint:
    if not isinstance(note, str):
        raise TrailInvalid(f"the {what} is not a signed note")
    try:
        checkpoint = Checkpoint.parse(open_note(note, origin, public_key))
    except NoteError as exc:
        raise TrailInvalid(f"the {what} does not verify with the public key: {exc}") from exc
    if checkpoint.origin != origin:
        raise TrailInvalid(f"the {what} is for {checkpoint.origin}, not {origin}")
    return checkpoint


def _signed(note: object, origin: str, spans: Sequence[KeySpan], what: str) -> Checkpoint:
    """The checkpoint ``note`` signed by one of the chain's keys at a size that key may sign
    (decision 0140): by whichever key was current at its size. A key past its last size is a
    retired key: what it signed after its transition is refused, whoever signed it."""
    failure: TrailInvalid | None = None
    for span in reversed(spans):
        try:
            checkpoint = _checkpoint(note, origin, span.public_key, what)
        except TrailInvalid as exc:
            failure = failure or exc
            continue
        if span.covers(checkpoint.size):
            return checkpoint
        if span.last is not None and checkpoint.size > span.last:
            raise TrailInvalid(
                f"the {what} (size {checkpoint.size}) is signed by a key retired at size"
                f" {span.last} of this log: a key transition replaced it (decision 0140)"
            )
        raise TrailInvalid(
            f"the {what} (size {checkpoint.size}) is signed by a key that only signs this log"
            f" from size {span.first}"
        )
    raise failure or TrailInvalid(f"the {what} is signed by no key of the chain")


def _spans(
    trail: Mapping[str, Any], name: str, origin: str, pinned: bytes
) -> tuple[list[KeySpan], list[Checkpoint]]:
    transitions = trail.get("key_transitions", [])
    if not isinstance(transitions, list) or not all(isinstance(t, Mapping) for t in transitions):
        raise TrailInvalid("the trail's key transitions are not a list")
    try:
        return key_spans(name, origin, pinned, transitions)
    except TransitionInvalid as exc:
        raise TrailInvalid(str(exc)) from exc


def verify_trail(
    trail: Mapping[str, Any], verifier_key: str, *, trusted: str | None = None
) -> VerifiedTrail:
    try:
        name, public_key = parse_verifier_key(verifier_key)
    except NoteError as exc:
        raise TrailInvalid(f"the public key is not usable: {exc}") from exc
    if trail.get("format") != TRAIL_FORMAT:
        raise TrailInvalid(f"not an audit trail of format {TRAIL_FORMAT}")
    log, entries = trail.get("log"), trail.get("entries")
    if not isinstance(log, str) or not log or "/" in log:
        raise TrailInvalid("the trail names no log")
    if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
        raise TrailInvalid("the trail's entries are not a list of texts")
    origin = f"{name}/{log}"
    spans, bounds = _spans(trail, name, origin, public_key)
    checkpoint = _signed(trail.get("checkpoint"), origin, spans, "checkpoint")
    pruned, frontier = _pruned(trail.get("pruned"))
    if pruned + len(entries) != checkpoint.size:
        raise TrailInvalid(
            f"the checkpoint covers {checkpoint.size} entries but the trail has"
            f" {pruned + len(entries)}: entries were dropped or added"
        )
    old = None if trusted is None else _signed(trusted, origin, spans, "trusted checkpoint")
    if old is not None and old.size > checkpoint.size:
        raise TrailInvalid(
            f"the trusted checkpoint has {old.size} entries, more than this trail's"
            f" {checkpoint.size}: the log lost entries"
        )
    if old is not None and old.size < pruned and trail.get("consistency") is None:
        raise TrailInvalid(
            f"the trusted checkpoint (size {old.size}) lies in the pruned entries: only a"
            " consistency proof can show that the log extends it (download with --trusted)"
        )
    root_at_old: bytes | None = None
    if old is not None and old.size == pruned:
        root_at_old = fold([n.hash for n in frontier])
    # The transition checkpoints must be points of this very history (decision 0140).
    wanted = {b.size for b in bounds if pruned <= b.size <= checkpoint.size}
    roots: dict[int, bytes] = {pruned: fold([n.hash for n in frontier])} if pruned in wanted else {}
    for offset, entry in enumerate(entries):
        index = pruned + offset
        if old is not None and index == old.size:
            root_at_old = fold([n.hash for n in frontier])
        if index in wanted:
            roots[index] = fold([n.hash for n in frontier])
        _, frontier = append_leaves(frontier, index, [leaf_hash(entry.encode("utf-8"))])
    root = fold([n.hash for n in frontier])
    roots[checkpoint.size] = root
    for bound in bounds:
        if bound.size in roots and roots[bound.size] != bound.root_hash:
            raise TrailInvalid(
                f"the key transition's checkpoint at size {bound.size} is not a point of this"
                " log's history: its entries were rewritten"
            )
    if old is not None and root_at_old is None and old.size >= pruned:
        root_at_old = root
    if root != checkpoint.root_hash:
        raise TrailInvalid(
            "the entries do not hash to the checkpoint's root: an entry was changed, reordered,"
            " dropped or added"
        )
    owner = None if log == PLATFORM_LOG else log
    for index, entry in enumerate(entries, start=pruned):
        try:
            event = parse_entry(entry)
        except ValueError as exc:
            raise TrailInvalid(f"entry {index} is not an audit entry: {exc}") from exc
        if event.tenant_id != owner:
            raise TrailInvalid(f"entry {index} belongs to another log than {log}")
    if old is not None:
        if root_at_old is not None and root_at_old != old.root_hash:
            raise TrailInvalid(
                f"the log is not an extension of the trusted checkpoint (size {old.size}): its"
                " first entries were rewritten since"
            )
        _check_proof(trail.get("consistency"), old, checkpoint)
    trusted_size = None if old is None else old.size
    return VerifiedTrail(log, origin, checkpoint.size, root, trusted_size, len(spans) - 1)


def _pruned(pruned: object) -> tuple[int, list[Node]]:
    """The pruned prefix's size and the perfect subtrees standing for it (a frontier)."""
    if pruned is None:
        return 0, []
    if not isinstance(pruned, Mapping) or not isinstance(pruned.get("size"), int):
        raise TrailInvalid("the trail's pruned range is malformed")
    size: int = pruned["size"]
    hashes = pruned.get("hashes")
    keys = perfect_subtrees(0, size) if size >= 0 else []
    if size < 0 or not isinstance(hashes, list) or len(hashes) != len(keys):
        raise TrailInvalid("the trail's pruned range does not carry one hash per subtree")
    try:
        decoded = [base64.b64decode(h, validate=True) for h in hashes]
    except (TypeError, ValueError, binascii.Error) as exc:
        raise TrailInvalid("the trail's pruned hashes are not base64") from exc
    if any(len(h) != 32 for h in decoded):
        raise TrailInvalid("the trail's pruned hashes are not SHA-256 hashes")
    return size, [Node(level, index, h) for (level, index), h in zip(keys, decoded, strict=True)]


def _check_proof(proof: object, old: Checkpoint, new: Checkpoint) -> None:
    if proof is None:
        return
    if not isinstance(proof, Mapping) or proof.get("first") != old.size:
        raise TrailInvalid("the trail's consistency proof is not from the trusted size")
    try:
        hashes = [base64.b64decode(h, validate=True) for h in proof.get("hashes", [])]
    except (TypeError, ValueError, binascii.Error) as exc:
        raise TrailInvalid("the trail's consistency proof is not base64") from exc
    if not verify_consistency(old.size, new.size, hashes, old.root_hash, new.root_hash):
        raise TrailInvalid("the consistency proof from the trusted checkpoint does not verify")


def verify_cosignatures(
    note: object, witness_keys: Sequence[str], quorum: int, *, now: float, skew: float = 300.0
) -> list[Cosignature]:
    """The witnesses' cosignatures on a trail's checkpoint ``note`` (decision 0122): at least
    ``quorum`` of the witnesses whose cosigner keys are given must have cosigned it, each
    cosignature verified and none dated more than ``skew`` seconds after ``now``. A
    cosignature says the witness saw no other history of the log up to that checkpoint; a
    split view then needs those witnesses to be in on it."""
    if not isinstance(note, str):
        raise TrailInvalid("the checkpoint is not a signed note")
    if not 1 <= quorum <= len(witness_keys):
        raise TrailInvalid(f"a quorum of {quorum} out of {len(witness_keys)} witness keys")
    found: list[Cosignature] = []
    for text in witness_keys:
        try:
            name, public_key = parse_cosigner_key(text)
            signed = cosignatures(note, name, public_key)
        except NoteError as exc:
            raise TrailInvalid(f"a witness's cosignature is not usable: {exc}") from exc
        future = [c for c in signed if c.timestamp > now + skew]
        if future:
            raise TrailInvalid(f"the cosignature of {name} is dated in the future")
        found.extend(signed[:1])
    if len(found) < quorum:
        raise TrailInvalid(
            f"the checkpoint carries cosignatures of {len(found)} of the witnesses given,"
            f" fewer than the quorum of {quorum}"
        )
    return found


def trail_consistency_proof(trail: Mapping[str, Any], first: int) -> list[bytes]:
    """The RFC 6962 consistency proof from size ``first`` to the trail's size, computed from
    its entries (what a witness is given with the trail's checkpoint). A trail whose first
    entries were pruned does not hold them: TrailInvalid."""
    entries = trail.get("entries")
    if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
        raise TrailInvalid("the trail's entries are not a list of texts")
    pruned, _ = _pruned(trail.get("pruned"))
    size = pruned + len(entries)
    if not 0 <= first <= size:
        raise TrailInvalid(f"no proof from size {first} in a trail of {size} entries")
    if first in (0, size):
        return []  # from the empty tree, or to itself: nothing to prove
    if pruned:
        raise TrailInvalid("the trail's first entries were pruned: it cannot prove from them")
    leaves = [leaf_hash(entry.encode("utf-8")) for entry in entries]
    return consistency_proof(leaves, first, len(entries))
