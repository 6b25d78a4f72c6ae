"""Key transitions of the region's log signing key (decision 0140): pure functions.

A rotation replaces the key that signs every log's checkpoints. So that a verifier pinning
the old key never has to trust a key nobody vouched for, the old key vouches for the new one,
and the new one accepts the role, in notes signed by **both** (C2SP signed notes, two
signature lines under the region's key name, told apart by their key IDs):

- the **statement** ``andromede-audit-key-transition/1``, the key name, the generation
  (1 for the first rotation), the old and the new verifier keys and the reason;
- per log that had entries, the **transition checkpoint**: the log's checkpoint at the size
  it had when the key changed, under its origin. The old key signed the log up to that size
  and never after; the new key signs from that size on.

:func:`key_spans` follows a trail's transitions through the pinned key: each statement must
be signed by the key it hands over from and the key it names, forward from the pinned key each
from the key current so far and back from it each to the key after it (a verifier that pinned
a later key accepts what its predecessors signed before it), each transition checkpoint by
both and at a size no smaller than the one before. It answers, per key, the range of tree sizes it
may sign for the log; a checkpoint signed by a key outside its range, or by a key no chain
from the pinned key reaches, is refused by the caller (``verify.py``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from andromede.audit.note import (
    Checkpoint,
    NoteError,
    format_verifier_key,
    open_note,
    parse_verifier_key,
    split_note,
)

__all__ = [
    "STATEMENT_FORMAT",
    "KeyHandover",
    "KeySpan",
    "KeyTransition",
    "TransitionInvalid",
    "check_statement",
    "key_spans",
    "read_statement",
    "sign_with_both",
    "statement_text",
]

STATEMENT_FORMAT = "andromede-audit-key-transition/1"
REASONS = ("scheduled", "compromise", "move")


class TransitionInvalid(ValueError):
    """A transition that does not verify from the pinned key; the message says why."""


@dataclass(frozen=True, slots=True)
class KeySpan:
    """A key of the chain and the tree sizes of the log it may sign: ``first`` to ``last``
    (None: the current key, no end)."""

    public_key: bytes
    first: int
    last: int | None

    def covers(self, size: int) -> bool:
        return self.first <= size and (self.last is None or size <= self.last)


def statement_text(name: str, generation: int, old: bytes, new: bytes, reason: str) -> str:
    if reason not in REASONS:
        raise ValueError(f"a transition's reason is one of {', '.join(REASONS)}")
    return (
        f"{STATEMENT_FORMAT}\n{name}\n{generation}\n{format_verifier_key(name, old)}\n"
        f"{format_verifier_key(name, new)}\n{reason}\n"
    )


def sign_with_both(text: str, name: str, signers: Sequence[Callable[[str, str], str]]) -> str:
    """``text`` signed under ``name`` by each of ``signers`` (a ``LogSigningKey.sign``): one
    note, one signature line per key."""
    lines: list[str] = []
    for sign in signers:
        signed_text, signature = split_note(sign(text, name))
        if signed_text != text:
            raise NoteError("a signer signed another text")
        lines.extend(signature)
    return text + "\n" + "".join(f"{line}\n" for line in lines)


@dataclass(frozen=True, slots=True)
class KeyTransition:
    """One rotation as a log's trail carries it: the statement, and the log's checkpoint at
    the size where the key changed (None: the log had no entry then)."""

    generation: int
    statement: str
    checkpoint: str | None
    size: int | None  # the checkpoint's: the last size the old key signed

    def document(self) -> dict[str, str | None]:
        return {"statement": self.statement, "checkpoint": self.checkpoint}


@dataclass(frozen=True, slots=True)
class KeyHandover:
    """What a statement says: at ``generation``, key ``old`` hands the role over to ``new``."""

    generation: int
    old: bytes
    new: bytes


def read_statement(note: str) -> tuple[str, KeyHandover]:
    """The key name and the handover a statement names, its shape checked but no signature
    (:func:`check_statement` does that): what a witness reads before it knows which region's
    keys to check it with (decision 0140, addendum)."""
    try:
        text, _ = split_note(note)
    except NoteError as exc:
        raise TransitionInvalid(f"a key transition is not a signed note: {exc}") from exc
    name = text.split("\n")[1] if text.count("\n") > 1 else ""
    return name, _statement(note, name)


def check_statement(note: str, name: str, handover: KeyHandover) -> None:
    """TransitionInvalid unless the statement is signed by both the keys it names."""
    what = f"key transition {handover.generation}"
    _both(note, name, handover.old, handover.new, what)


def _statement(note: str, name: str) -> KeyHandover:
    try:
        text, _ = split_note(note)
    except NoteError as exc:
        raise TransitionInvalid(f"a key transition is not a signed note: {exc}") from exc
    lines = text.split("\n")
    if len(lines) != 7 or lines[0] != STATEMENT_FORMAT or lines[6] != "":
        raise TransitionInvalid(f"a key transition is not a {STATEMENT_FORMAT} statement")
    if lines[1] != name:
        raise TransitionInvalid(f"a key transition of {lines[1]!r}, not of {name!r}")
    if not lines[2].isascii() or not lines[2].isdigit() or lines[2].startswith("0"):
        raise TransitionInvalid("a key transition's generation is not a positive number")
    try:
        old_name, old = parse_verifier_key(lines[3])
        new_name, new = parse_verifier_key(lines[4])
    except NoteError as exc:
        raise TransitionInvalid(f"a key transition names no usable key: {exc}") from exc
    if old_name != name or new_name != name or lines[5] not in REASONS:
        raise TransitionInvalid("a key transition names keys of another name or no reason")
    return KeyHandover(int(lines[2]), old, new)


def _both(note: str, name: str, old: bytes, new: bytes, what: str) -> str:
    """The text of ``note`` once signatures of both keys have verified."""
    try:
        text = open_note(note, name, old)
    except NoteError as exc:
        raise TransitionInvalid(f"the {what} is not signed by the outgoing key: {exc}") from exc
    try:
        open_note(note, name, new)
    except NoteError as exc:
        raise TransitionInvalid(f"the {what} is not signed by the incoming key: {exc}") from exc
    return text


def key_spans(
    name: str, origin: str, pinned: bytes, transitions: Sequence[Mapping[str, object]]
) -> tuple[list[KeySpan], list[Checkpoint]]:
    """The keys the chain through ``pinned`` reaches, each with the sizes of the log
    ``origin`` it may sign, oldest first (the last one is the current key); and the transition
    checkpoints, whose roots the caller checks against the entries. ``transitions``: the
    trail's ``key_transitions``, ``{"statement": note, "checkpoint": note or None}`` in
    generation order.

    Forward from the pinned key, each transition must be from the key current so far; back
    from it (a verifier that pinned a later key), each must be to the key after it — each key
    vouches for its predecessor's past as the predecessor vouched for it. Every statement and
    transition checkpoint is signed by both its keys. A chain that does not go through the
    pinned key leaves it the only key, so nothing another key signed verifies."""
    items = [_item(item, name) for item in transitions]
    for before, after in itertools.pairwise(items):
        if after[0].generation != before[0].generation + 1:
            raise TransitionInvalid("the key transitions are not in generation order")
    arrival = next((i for i, item in enumerate(items) if item[0].new == pinned), None)
    if arrival is None and (not items or items[0][0].old != pinned):
        return [KeySpan(pinned, 0, None)], []
    # Back from the pinned key's arrival: each statement to the key that follows it.
    trusted = pinned
    for statement, _, _ in reversed(items[: 0 if arrival is None else arrival + 1]):
        if statement.new != trusted:
            raise TransitionInvalid(
                f"key transition {statement.generation} is to another key than the one after it"
            )
        trusted = statement.old
    spans: list[KeySpan] = []
    bounds: list[Checkpoint] = []
    current, first = trusted, 0
    for statement, note, bound in items:
        if statement.old != current:
            raise TransitionInvalid(
                f"key transition {statement.generation} is from another key than the one it follows"
            )
        what = f"key transition {statement.generation}"
        _both(note, name, statement.old, statement.new, what)
        last = _bound(bound, name, origin, statement, first, bounds)
        spans.append(KeySpan(current, first, last))
        current, first = statement.new, last
    spans.append(KeySpan(current, first, None))
    return spans, bounds


def _item(item: Mapping[str, object], name: str) -> tuple[KeyHandover, str, str | None]:
    note, bound = item.get("statement"), item.get("checkpoint")
    if not isinstance(note, str) or not (bound is None or isinstance(bound, str)):
        raise TransitionInvalid("a key transition is not a statement and a checkpoint")
    return _statement(note, name), note, bound


def _bound(
    note: str | None,
    name: str,
    origin: str,
    statement: KeyHandover,
    first: int,
    bounds: list[Checkpoint],
) -> int:
    """The size at which the key changed for this log: its transition checkpoint's, signed
    by both keys; without one (the log had no entry then), where the previous key began."""
    if note is None:
        return first
    what = f"transition checkpoint of generation {statement.generation}"
    try:
        checkpoint = Checkpoint.parse(_both(note, origin, statement.old, statement.new, what))
    except NoteError as exc:
        raise TransitionInvalid(f"the {what} is not a checkpoint: {exc}") from exc
    if checkpoint.origin != origin:
        raise TransitionInvalid(f"the {what} is for {checkpoint.origin}, not {origin}")
    if checkpoint.size < first:
        raise TransitionInvalid(f"the {what} is smaller than the one before it")
    bounds.append(checkpoint)
    return checkpoint.size
