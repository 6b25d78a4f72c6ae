"""A transparency-log witness: C2SP tlog-witness ``add-checkpoint`` (decision 0122).

A witness keeps, for each log it is configured with (an origin and the log's note verifier
key), the latest checkpoint it cosigned. Given a new checkpoint of that log and a consistency
proof from the size it holds, it verifies the log's signature and the proof, records the new
checkpoint, and answers its cosignature (``cosignature.py``). It never cosigns a checkpoint
that does not extend what it cosigned before, so two parties shown two histories of one log
cannot both get its cosignature: that is the split view the log's own signature cannot
exclude. A tenant, an auditor or a regulator runs one, independent of the operator
(``andromede witness serve``), and requires its cosignature when verifying a trail.

The protocol's answers, as the spec orders them: a body that is not the request's shape
(``old <size>`` line, at most 63 base64 proof lines, an empty line, a signed checkpoint),
an old size above the checkpoint's, or a proof given from size zero: 400; an origin the
witness does not know: 404; no signature of the log's key that verifies: 403; an old size
that is not the size the witness holds, or the same size with another root: 409 with that
size (``text/x.tlog.size``); a proof that does not verify: 422. The check of the old size and
the record of the new checkpoint are one step under the state's lock (:class:`WitnessState`),
so a slower request can never roll the witness back (the race the spec describes).

A region's key rotates (decision 0140); the witness follows it without its operator
(``add-key-transition``, this project's extension beside ``add-checkpoint``, decision 0140's
addendum): given a transition statement signed by the outgoing key and the incoming one, where
either is a key it trusts for that region, it records the handover in its state — the new key
trusted from then on, the old one **retired** (its signatures no longer count, whatever keys
the witness was started with). Answers: not a statement, 400; a region it does not know, 404;
not signed by both keys, or neither a key it trusts, 403; the outgoing key already handed over
to another key, 409; the same handover again, 200.

Pure but for the state: the time of each cosignature comes from ``clock``.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from andromede.audit.cosignature import cosign
from andromede.audit.merkle import EMPTY_ROOT, HASH_SIZE, verify_consistency
from andromede.audit.note import Checkpoint, NoteError, open_note, split_note
from andromede.audit.transition import (
    KeyHandover,
    TransitionInvalid,
    check_statement,
    read_statement,
)

__all__ = [
    "SIZE_CONTENT_TYPE",
    "FileWitnessState",
    "Handovers",
    "MemoryWitnessState",
    "Witness",
    "WitnessAnswer",
    "WitnessState",
    "WitnessedHead",
]

SIZE_CONTENT_TYPE: Final = "text/x.tlog.size"
MAX_PROOF_LINES: Final = 63
_OLD: Final = re.compile(r"old (0|[1-9][0-9]{0,19})")


@dataclass(frozen=True, slots=True)
class WitnessedHead:
    """The latest checkpoint a witness cosigned for one origin."""

    size: int
    root_hash: bytes


# The handovers of a region's key the witness followed, oldest first (decision 0140).
Handovers = tuple[KeyHandover, ...]


class WitnessState(Protocol):
    def update(
        self, origin: str, step: Callable[[WitnessedHead | None], WitnessedHead | None]
    ) -> None:
        """Call ``step`` with the origin's head (None: never cosigned) and record what it
        returns (None: nothing changes), as one step no other update interleaves with."""
        ...

    def handovers(self, region: str) -> Handovers:
        """The handovers of ``region``'s key recorded (every worker's)."""
        ...

    def update_handovers(self, region: str, step: Callable[[Handovers], Handovers | None]) -> None:
        """As :meth:`update`, for the region's handovers."""
        ...


class MemoryWitnessState:
    """The state in this process's memory (tests)."""

    def __init__(self) -> None:
        self._heads: dict[str, WitnessedHead] = {}
        self._handovers: dict[str, Handovers] = {}
        self._lock = threading.Lock()

    def update(
        self, origin: str, step: Callable[[WitnessedHead | None], WitnessedHead | None]
    ) -> None:
        with self._lock:
            new = step(self._heads.get(origin))
            if new is not None:
                self._heads[origin] = new

    def head(self, origin: str) -> WitnessedHead | None:
        return self._heads.get(origin)

    def handovers(self, region: str) -> Handovers:
        return self._handovers.get(region, ())

    def update_handovers(self, region: str, step: Callable[[Handovers], Handovers | None]) -> None:
        with self._lock:
            new = step(self._handovers.get(region, ()))
            if new is not None:
                self._handovers[region] = new


class _FileContent:
    def __init__(self, heads: dict[str, WitnessedHead], regions: dict[str, Handovers]) -> None:
        self.heads = heads
        self.regions = regions


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _handover(h: Mapping[str, object]) -> KeyHandover:
    return KeyHandover(
        int(str(h["generation"])), base64.b64decode(str(h["old"])), base64.b64decode(str(h["new"]))
    )


class FileWitnessState:
    """The state in one JSON file, rewritten whole (written aside, synced, renamed) under an
    exclusive ``flock`` of a lock file beside it: processes sharing the file take turns, and
    a crash leaves the old state or the new one, never half of either. The witness must
    persist a checkpoint before it answers its cosignature (the spec's MUST)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock_path = path.with_name(path.name + ".lock")
        self._threads = threading.Lock()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._threads:
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)

    def _read(self) -> _FileContent:
        try:
            data = json.loads(self._path.read_text())
        except FileNotFoundError:
            return _FileContent({}, {})
        heads = {
            origin: WitnessedHead(int(head["size"]), base64.b64decode(head["root"]))
            for origin, head in data.get("logs", {}).items()
        }
        regions = {  # format 2: the handovers followed (0140); format 1 has none
            region: tuple(_handover(h) for h in handovers)
            for region, handovers in data.get("regions", {}).items()
        }
        return _FileContent(heads, regions)

    def _write(self, content: _FileContent) -> None:
        data = {
            "format": 2,
            "logs": {
                origin: {"size": head.size, "root": _b64(head.root_hash)}
                for origin, head in sorted(content.heads.items())
            },
            "regions": {
                region: [
                    {"generation": h.generation, "old": _b64(h.old), "new": _b64(h.new)}
                    for h in handovers
                ]
                for region, handovers in sorted(content.regions.items())
            },
        }
        aside = self._path.with_name(f".{self._path.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
        with open(aside, "w") as out:
            out.write(json.dumps(data, indent=1) + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(aside, self._path)
        directory = os.open(self._path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def update(
        self, origin: str, step: Callable[[WitnessedHead | None], WitnessedHead | None]
    ) -> None:
        with self._locked():
            content = self._read()
            new = step(content.heads.get(origin))
            if new is not None:
                content.heads[origin] = new
                self._write(content)

    def head(self, origin: str) -> WitnessedHead | None:
        with self._locked():
            return self._read().heads.get(origin)

    def handovers(self, region: str) -> Handovers:
        with self._locked():
            return self._read().regions.get(region, ())

    def update_handovers(self, region: str, step: Callable[[Handovers], Handovers | None]) -> None:
        with self._locked():
            content = self._read()
            new = step(content.regions.get(region, ()))
            if new is not None:
                content.regions[region] = new
                self._write(content)


@dataclass(frozen=True, slots=True)
class WitnessAnswer:
    status: int
    body: str
    content_type: str = "text/plain; charset=utf-8"


class _Refused(Exception):
    def __init__(self, answer: WitnessAnswer) -> None:
        super().__init__(answer.body)
        self.answer = answer


def _refused(status: int, reason: str) -> _Refused:
    return _Refused(WitnessAnswer(status, reason + "\n"))


def _parse(body: bytes) -> tuple[int, list[bytes], str]:
    """(old size, proof hashes, checkpoint note) of an add-checkpoint body; 400 otherwise."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _refused(400, "the body is not UTF-8") from None
    head, separator, note = text.partition("\n\n")
    if not separator:
        raise _refused(400, "the body has no empty line before the checkpoint")
    lines = head.split("\n")
    old = _OLD.fullmatch(lines[0])
    if old is None:
        raise _refused(400, "the first line is not 'old <size>'")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise _refused(400, f"a consistency proof has at most {MAX_PROOF_LINES} hashes")
    proof: list[bytes] = []
    for line in lines[1:]:
        try:
            node = base64.b64decode(line, validate=True)
        except (ValueError, binascii.Error):
            raise _refused(400, "a proof line is not base64") from None
        if len(node) != HASH_SIZE:
            raise _refused(400, "a proof line is not a SHA-256 hash")
        proof.append(node)
    return int(old.group(1)), proof, note


def _opens(note: str, origin: str, public_key: bytes) -> bool:
    try:
        open_note(note, origin, public_key)
    except NoteError:
        return False
    return True


def _trusted(configured: Sequence[bytes], followed: Handovers) -> list[bytes]:
    """The keys whose signatures count: those the witness was started with and those it
    followed a handover to, less every key that handed over (retired: a thief holding it gets
    nothing more cosigned here)."""
    retired = {h.old for h in followed}
    keys = [*configured, *(h.new for h in followed)]
    return [key for i, key in enumerate(keys) if key not in retired and key not in keys[:i]]


class Witness:
    def __init__(
        self,
        name: str,
        key: Ed25519PrivateKey,
        region_keys: Mapping[str, bytes | Sequence[bytes]],
        state: WitnessState,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``region_keys``: the verifier keys of the regions whose logs this witness cosigns,
        name → Ed25519 public key. A region's logs sign under their origin,
        ``<key name>/<log>``, with the region's key (decision 0105), so one key stands for
        every log of the region, tenants' and platform's; after a rotation of that key
        (decision 0140) the witness follows the transition statement the region sends
        (:meth:`add_key_transition`), or its operator adds the new key (a checkpoint signed by
        either is then cosigned): what the witness holds per log (size, root) is the same
        across the rotation, so it still cosigns only what extends it. ``name`` and ``key``:
        the witness's own."""
        self.name = name
        self._key = key
        self._regions = {
            name: [keys] if isinstance(keys, bytes) else list(keys)
            for name, keys in region_keys.items()
        }
        self._state = state
        self._clock = clock

    def _log_keys(self, origin: str) -> list[bytes] | None:
        region, _, log = origin.rpartition("/")
        if region not in self._regions or not log:
            return None
        return _trusted(self._regions[region], self._state.handovers(region))

    def add_key_transition(self, body: bytes) -> WitnessAnswer:
        """Follow a rotation of a region's key: the statement both keys signed (decision
        0140), where the old or the new key is one this witness trusts for the region."""
        try:
            note = body.decode("utf-8")
            region, handover = read_statement(note)
        except (UnicodeDecodeError, TransitionInvalid) as exc:
            return WitnessAnswer(400, f"not a key transition statement: {exc}\n")
        configured = self._regions.get(region)
        if configured is None:
            return WitnessAnswer(404, "this witness does not know that region\n")
        try:
            check_statement(note, region, handover)
        except TransitionInvalid as exc:
            return WitnessAnswer(403, f"{exc}\n")
        answer = WitnessAnswer(200, "followed\n")

        def step(followed: Handovers) -> Handovers | None:
            nonlocal answer
            if handover in followed:
                return None  # again: the round resends what a restart forgot
            if any(h.old == handover.old for h in followed):
                answer = WitnessAnswer(409, "that key already handed over to another key\n")
                return None
            trusted = _trusted(configured, followed)
            if handover.old not in trusted and handover.new not in trusted:
                answer = WitnessAnswer(403, "neither key is one this witness trusts\n")
                return None
            return (*followed, handover)

        self._state.update_handovers(region, step)
        return answer

    def add_checkpoint(self, body: bytes) -> WitnessAnswer:
        try:
            return self._add(body)
        except _Refused as refused:
            return refused.answer

    def _add(self, body: bytes) -> WitnessAnswer:
        old, proof, note = _parse(body)
        try:
            text, _ = split_note(note)
            checkpoint = Checkpoint.parse(text)
        except NoteError as exc:
            raise _refused(400, f"not a signed checkpoint: {exc}") from None
        keys = self._log_keys(checkpoint.origin)
        if keys is None:
            raise _refused(404, "this witness does not know that log")
        if not any(_opens(note, checkpoint.origin, key) for key in keys):
            raise _refused(403, "no signature of the log's key verifies")
        if old > checkpoint.size:
            raise _refused(400, "the old size is larger than the checkpoint's")
        if old == 0 and proof:
            raise _refused(400, "a proof from size zero is empty")

        def step(head: WitnessedHead | None) -> WitnessedHead | None:
            held = head or WitnessedHead(0, EMPTY_ROOT)
            if old != held.size:
                raise _Refused(WitnessAnswer(409, f"{held.size}\n", SIZE_CONTENT_TYPE))
            if old == checkpoint.size and checkpoint.root_hash != held.root_hash:
                raise _refused(409, "the same size as the checkpoint cosigned, another root")
            if not verify_consistency(
                old, checkpoint.size, proof, held.root_hash, checkpoint.root_hash
            ):
                raise _refused(422, "the consistency proof does not verify")
            return WitnessedHead(checkpoint.size, checkpoint.root_hash)

        self._state.update(checkpoint.origin, step)
        return WitnessAnswer(200, cosign(text, self.name, self._key, int(self._clock())))
