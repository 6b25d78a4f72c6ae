"""AuditTrail: the read side of the transparency logs — signed checkpoints, entries, proofs.

What the management API serves and ``andromede audit download`` fetches: a log's latest tree
head signed as a C2SP checkpoint (origin ``<key name>/<log>``, key name the log's origin), its
entries by index range, the inclusion proof of a leaf in the tree of a given size and the
consistency proof between two sizes, each assembled from the stored perfect subtrees
(:mod:`andromede.audit.merkle`). Ed25519 signatures are deterministic, so the checkpoint of a
given tree is the same note whenever it is asked for; none is stored.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from andromede.audit.cosigned import CosignatureStore
from andromede.audit.errors import EntriesPruned, InvalidTreeRange, NotCosigned
from andromede.audit.merkle import (
    consistency_ranges,
    fold,
    inclusion_ranges,
    perfect_subtrees,
)
from andromede.audit.note import Checkpoint
from andromede.audit.signing import LogSigningKey
from andromede.audit.store import AuditStore
from andromede.audit.transition import KeyTransition
from andromede.audit.verify import TRAIL_FORMAT

__all__ = ["AuditTrail", "SignedCheckpoint", "SigningKeys"]


class SigningKeys(Protocol):
    """The region's keys as the registry knows them (decision 0140): the one that signs now,
    which a rotation changes under running gateways, and the transitions a trail carries."""

    async def current(self) -> LogSigningKey: ...

    async def transitions(self, log: str) -> Sequence[KeyTransition]: ...


class _OneKey:
    """A key that is never rotated (the tests' memory stores, a trail without a registry)."""

    def __init__(self, key: LogSigningKey) -> None:
        self._key = key

    async def current(self) -> LogSigningKey:
        return self._key

    async def transitions(self, log: str) -> Sequence[KeyTransition]:
        return ()


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    origin: str
    size: int
    root_hash: bytes
    note: str


class AuditTrail:
    def __init__(
        self,
        store: AuditStore,
        key: LogSigningKey,
        *,
        max_entries: int,
        cosigned: CosignatureStore | None = None,
        keys: SigningKeys | None = None,
    ) -> None:
        """``key`` signs until ``keys`` (the registry) names another: a rotation."""
        self._store = store
        self._key = key
        self._keys: SigningKeys = keys or _OneKey(key)
        self._max_entries = max_entries
        self._cosigned = cosigned

    @property
    def key_name(self) -> str:
        return self._key.name

    @property
    def verifier_key(self) -> str:
        return self._key.verifier_key

    @property
    def public_key(self) -> bytes:
        return self._key.public_key

    @property
    def max_entries(self) -> int:
        return self._max_entries

    async def signing_key(self) -> LogSigningKey:
        """The key that signs now: the registry's current one (a rotation changes it under
        a running gateway, which picks the new key up here)."""
        self._key = await self._keys.current()
        return self._key

    async def transitions(self, log: str) -> Sequence[KeyTransition]:
        """The rotations of the region's key, oldest first, with ``log``'s transition
        checkpoints (decision 0140)."""
        return await self._keys.transitions(log)

    async def key_transitions(self, log: str) -> list[dict[str, str | None]]:
        """The rotations of the region's key as a trail carries them (decision 0140)."""
        return [t.document() for t in await self._keys.transitions(log)]

    def origin(self, log: str) -> str:
        return f"{self._key.name}/{log}"

    async def trail_document(
        self, log: str, *, trusted_size: int | None = None, cosigned: bool = False
    ) -> tuple[SignedCheckpoint, AsyncIterator[bytes]]:
        """The log as one JSON trail, the document ``andromede audit download`` writes and
        ``andromede audit verify`` checks offline: the latest signed checkpoint, the hashes
        standing for pruned entries, and every entry the checkpoint covers, read
        ``max_entries`` at a time and sent as they are read (a long log is never held whole).

        With ``trusted_size`` (the size of a trail verified before, at most this one's), the
        consistency proof from that tree to this one comes too, as ``download --trusted`` adds
        it: ``verify --trusted`` then shows the log extends what was verified, even past
        pruned entries (InvalidTreeRange for a size larger than the log).

        With ``cosigned``, the trail ends at the checkpoint the witnesses last cosigned, their
        cosignatures on it (decision 0122), which ``verify --witness-key`` checks; NotCosigned
        before any witness has.

        Returns the checkpoint (for the caller to name the file) and the document's bytes. A
        retention pass that prunes the next page meanwhile ends the stream with
        :class:`EntriesPruned`, as the API's pages would answer 410: the caller starts again."""
        if cosigned:
            found = await self.cosigned_checkpoint(log)
            if found is None:
                raise NotCosigned(f"no witness has cosigned the log {log} yet")
            signed = found[0]
        else:
            signed = await self.checkpoint(log)
        first, hashes = await self.pruned(log)
        if first > signed.size:
            raise EntriesPruned("the entries the witnesses cosigned were pruned since")
        head: dict[str, object] = {"format": TRAIL_FORMAT, "log": log, "checkpoint": signed.note}
        transitions = await self.key_transitions(log)
        if transitions:  # the chain from any earlier key to the one that signed (0140)
            head["key_transitions"] = transitions
        if first:
            head["pruned"] = {
                "size": first,
                "hashes": [base64.b64encode(h).decode() for h in hashes],
            }
        if trusted_size is not None:
            proof = await self.consistency_proof(log, trusted_size, signed.size)
            head["consistency"] = {
                "first": trusted_size,
                "hashes": [base64.b64encode(h).decode() for h in proof],
            }

        async def document() -> AsyncIterator[bytes]:
            yield json.dumps(head)[:-1].encode() + b', "entries": ['
            for start in range(first, signed.size, self._max_entries):
                page = await self.entries(log, start, min(signed.size, start + self._max_entries))
                separator = b"" if start == first else b","
                yield separator + b",".join(json.dumps(entry).encode() for entry in page)
            yield b"]}\n"

        return signed, document()

    async def checkpoint(self, log: str) -> SignedCheckpoint:
        # The key read before and after the head: a rotation committed in between (it moves
        # the current key and fixes every log's last size for the old key in one transaction)
        # is seen, and the head is read again, so the old key never signs past its last size.
        key = await self.signing_key()
        while True:
            head = await self._store.tree_head(log)
            again = await self.signing_key()
            if again.public_key == key.public_key:
                break
            key = again
        origin = self.origin(log)
        text = Checkpoint(origin, head.size, head.root_hash).text()
        # Off the loop: a key in the HSM signs under the token's lock, which data keys share.
        note = await asyncio.to_thread(key.sign, text, origin)
        return SignedCheckpoint(origin, head.size, head.root_hash, note)

    async def cosigned_checkpoint(self, log: str) -> tuple[SignedCheckpoint, list[str]] | None:
        """The log's checkpoint at the size its witnesses last cosigned, with their
        cosignatures (decision 0122), and the names of those witnesses; None when no witness
        has cosigned it. Where witnesses stand at different sizes, the size most of them
        cosigned, the largest of those: what a verifier requiring a quorum can use."""
        if self._cosigned is None:
            return None
        # Only sizes the current key may sign: from the last rotation's size for this log on
        # (the witnesses cosign the transition's successors in the next round).
        transitions = await self._keys.transitions(log)
        since = next((t.size for t in reversed(transitions) if t.size is not None), 0)
        records = [r for r in await self._cosigned.latest(log) if r.size >= since]
        if not records:
            return None
        counts: dict[int, int] = {}
        for record in records:
            counts[record.size] = counts.get(record.size, 0) + 1
        size = max(counts, key=lambda s: (counts[s], s))
        await self._within(log, size)
        [root] = await self._heads(log, [(0, size)])
        chosen = [r for r in records if r.size == size and r.root_hash == root]
        origin = self.origin(log)
        key = await self.signing_key()
        note = await asyncio.to_thread(key.sign, Checkpoint(origin, size, root).text(), origin)
        note += "".join(f"{r.cosignature}\n" for r in chosen)
        return SignedCheckpoint(origin, size, root, note), [r.witness for r in chosen]

    async def entries(self, log: str, start: int, end: int) -> list[str]:
        if not 0 <= start < end:
            raise InvalidTreeRange("the range of entries is empty or inverted")
        if end - start > self._max_entries:
            raise InvalidTreeRange(
                f"at most {self._max_entries} entries are read at once (audit_max_entries)"
            )
        await self._within(log, end)
        pruned = await self._store.pruned_size(log)
        if start < pruned:
            raise EntriesPruned(
                f"the log's first {pruned} entries are past the retention (audit_retention_days):"
                " their hashes are served under /pruned"
            )
        return await self._store.entries(log, start, end)

    async def pruned(self, log: str) -> tuple[int, list[bytes]]:
        """How many first entries retention pruned, and the heads of the perfect subtrees
        that cover them, left to right: what a trail carries instead of those entries."""
        size = await self._store.pruned_size(log)
        keys = perfect_subtrees(0, size)
        stored = await self._store.node_hashes(log, keys)
        if len(stored) != len(keys):
            raise RuntimeError(f"audit log {log}: stored nodes are missing")
        return size, [stored[key] for key in keys]

    async def inclusion_proof(self, log: str, index: int, size: int) -> list[bytes]:
        if not 0 <= index < size:
            raise InvalidTreeRange("the leaf index is not below the tree size")
        await self._within(log, size)
        return await self._heads(log, inclusion_ranges(index, size))

    async def consistency_proof(self, log: str, first: int, second: int) -> list[bytes]:
        if not 0 <= first <= second:
            raise InvalidTreeRange("the first tree size is above the second")
        await self._within(log, second)
        return await self._heads(log, consistency_ranges(first, second))

    async def _within(self, log: str, size: int) -> None:
        head = await self._store.tree_head(log)
        if size > head.size:
            raise InvalidTreeRange(f"the log has {head.size} entries, fewer than {size}")

    async def _heads(self, log: str, ranges: list[tuple[int, int]]) -> list[bytes]:
        parts = [perfect_subtrees(start, end) for start, end in ranges]
        stored = await self._store.node_hashes(log, {key for part in parts for key in part})
        missing = {key for part in parts for key in part} - stored.keys()
        if missing:
            raise RuntimeError(f"audit log {log}: stored nodes are missing")
        return [fold([stored[key] for key in part]) for part in parts]
