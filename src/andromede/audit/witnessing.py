"""The region asks its witnesses to cosign its logs (decision 0122, increment 2).

Every ``interval``, for each log with entries and each witness of ``audit_witnesses``, a
gateway submits the log's latest checkpoint (C2SP tlog-witness ``add-checkpoint``) with the
consistency proof from the size the witness last cosigned — as kept in the cosignature store,
or, when the witness answers 409 with another size (another gateway, or a store restored),
from that size — verifies the cosignature it answers with the witness's key, and keeps it
(:mod:`andromede.audit.cosigned`). The cosigned checkpoint is then served
(``AuditTrail.cosigned_checkpoint``) and downloaded with ``audit download --cosigned``.

Across a rotation of the region's key (decision 0140, addendum) the round first sends each
witness the transition statements (``add-key-transition``, oldest first, each once a process
until the witness took it), so a witness that trusts the old key follows the handover and
trusts the new one; then, per log, the transition checkpoints past the size the witness holds
(signed by both keys, so even a witness that knows only the old key, or speaks nothing but
C2SP, cosigns them), then the latest checkpoint. A witness that does not serve
``add-key-transition`` (404: another implementation) is told once and left to its operator.

A witness that refuses a checkpoint for its content (403: the signature; 422: the proof; 409
with the same size: another root) is told of a log that does not extend what it saw: that is
logged as an error, for the operator and whoever watches the witness. A witness away is a
warning; the next round tries again. Every gateway may run this: the witness serialises
submissions, and the store keeps the largest cosigned size.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from andromede.audit.cosignature import cosignatures
from andromede.audit.cosigned import CosignatureStore, Cosigned
from andromede.audit.note import Checkpoint, NoteError, split_note
from andromede.audit.store import AuditStore
from andromede.audit.trail import AuditTrail, SignedCheckpoint
from andromede.audit.transition import KeyTransition

__all__ = ["WitnessEndpoint", "Witnessing"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WitnessEndpoint:
    url: str  # the submission prefix; ``/add-checkpoint`` is appended
    name: str
    public_key: bytes


class Witnessing:
    def __init__(
        self,
        trail: AuditTrail,
        logs: AuditStore,
        store: CosignatureStore,
        witnesses: Sequence[WitnessEndpoint],
        *,
        interval: float,
        timeout: float,
        verify: ssl.SSLContext | bool = True,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._trail = trail
        self._logs = logs
        self._store = store
        self._witnesses = tuple(witnesses)
        self._interval = interval
        # ``verify``: a context trusting the witnesses' CA, or True for the system's CAs.
        self._client = client or httpx.AsyncClient(timeout=timeout, trust_env=False, verify=verify)
        self._clock = clock
        # Per witness, the last transition generation it took (or will never take: 404).
        self._taught: dict[str, int] = {}

    async def run_forever(self) -> None:
        try:
            while True:
                try:
                    await self.run_once()
                except Exception:  # a failed round must not end the loop; the next one retries
                    _log.exception("audit witnessing failed")
                await asyncio.sleep(self._interval)
        finally:
            await self.close()

    async def close(self) -> None:
        await self._client.aclose()

    async def run_once(self) -> int:
        """One round over every log and witness; how many cosignatures were kept."""
        kept = 0
        away: set[str] = set()  # witnesses that did not answer: not asked again this round
        for log in await self._logs.log_ids():
            transitions = await self._trail.transitions(log)
            checkpoint = await self._trail.checkpoint(log)
            held = {c.witness: c for c in await self._store.latest(log)}
            for witness in self._witnesses:
                last = held.get(witness.name)
                if witness.name in away or (last is not None and last.size == checkpoint.size):
                    continue  # away, or this checkpoint is cosigned already
                old = 0 if last is None else last.size
                try:
                    await self._teach(witness, transitions)
                    for bound in _bounds(transitions, old, checkpoint.size):
                        if await self._submit(log, bound, witness, old, transition=True):
                            kept, old = kept + 1, bound.size
                    if old < checkpoint.size and await self._submit(log, checkpoint, witness, old):
                        kept += 1
                except httpx.HTTPError as exc:
                    _log.warning("witness %s: %s; asked again next round", witness.name, exc)
                    away.add(witness.name)
        return kept

    async def _teach(self, witness: WitnessEndpoint, transitions: Sequence[KeyTransition]) -> None:
        """Send the witness the statements of the rotations it has not been sent yet. Each is
        sent once a process whatever the answer (an error is logged once, not every round),
        but for an answer 5xx: the witness is asked again next round."""
        taught = self._taught.get(witness.name, 0)
        url = f"{witness.url.rstrip('/')}/add-key-transition"
        for transition in transitions:
            if transition.generation <= taught:
                continue
            answer = await self._client.post(url, content=transition.statement.encode())
            if answer.status_code >= 500:
                _log.warning(
                    "witness %s: key transition %d: %d; sent again next round",
                    witness.name, transition.generation, answer.status_code,
                )  # fmt: skip
                return
            if answer.status_code == 404:  # another implementation, or not this region
                _log.warning(
                    "witness %s takes no key transition of this region (404): its operator"
                    " gives it the region's new key", witness.name,
                )  # fmt: skip
                break
            if answer.status_code != 200:
                # A later one may still join a key it trusts (its operator gave it).
                _log.error(
                    "witness %s refused key transition %d: %d %s", witness.name,
                    transition.generation, answer.status_code, answer.text.strip()[:200],
                )  # fmt: skip
        if transitions:
            self._taught[witness.name] = transitions[-1].generation

    async def _submit(
        self,
        log: str,
        checkpoint: SignedCheckpoint,
        witness: WitnessEndpoint,
        old: int,
        *,
        transition: bool = False,
    ) -> bool:
        """Whether a cosignature was kept; httpx.HTTPError when the witness did not answer.
        ``transition``: a transition checkpoint, which a witness already past it skips."""
        url = f"{witness.url.rstrip('/')}/add-checkpoint"
        answer = await self._post(url, log, checkpoint, old)
        if answer.status_code == 409 and answer.text.strip().isdigit():
            held = int(answer.text.strip())
            if held >= checkpoint.size and transition:
                return False  # the witness is past the transition already
            if held > checkpoint.size:
                _log.error(
                    "witness %s holds %s at size %d, larger than the log's %d",
                    witness.name, checkpoint.origin, held, checkpoint.size,
                )  # fmt: skip
                return False
            answer = await self._post(url, log, checkpoint, held)
        if answer.status_code != 200:
            level = logging.ERROR if answer.status_code in (403, 409, 422) else logging.WARNING
            _log.log(
                level, "witness %s refused %s at size %d: %d %s", witness.name,
                checkpoint.origin, checkpoint.size, answer.status_code, answer.text.strip()[:200],
            )  # fmt: skip
            return False
        line = self._verified_line(answer.text, checkpoint, witness)
        if line is None:
            return False
        return await self._store.record(
            Cosigned(log, witness.name, checkpoint.size, checkpoint.root_hash, line, self._clock())
        )

    @staticmethod
    def _verified_line(
        answer: str, checkpoint: SignedCheckpoint, witness: WitnessEndpoint
    ) -> str | None:
        """The answer's line that is a cosignature of the witness's key on ``checkpoint``."""
        for line in answer.splitlines():
            try:
                if cosignatures(f"{checkpoint.note}{line}\n", witness.name, witness.public_key):
                    return line
            except NoteError as exc:
                _log.error("witness %s answered a cosignature that fails: %s", witness.name, exc)
                return None
        _log.error("witness %s answered no cosignature of its key", witness.name)
        return None

    async def _post(
        self, url: str, log: str, checkpoint: SignedCheckpoint, old: int
    ) -> httpx.Response:
        proof = [] if old == 0 else await self._trail.consistency_proof(log, old, checkpoint.size)
        body = "\n".join([f"old {old}", *(base64.b64encode(h).decode() for h in proof)])
        return await self._client.post(url, content=(body + "\n\n" + checkpoint.note).encode())


def _bounds(transitions: Sequence[KeyTransition], held: int, size: int) -> list[SignedCheckpoint]:
    """The log's transition checkpoints past the size a witness holds, up to ``size``."""
    found: list[SignedCheckpoint] = []
    for transition in transitions:
        note, at = transition.checkpoint, transition.size
        if note is None or at is None or not held < at <= size:
            continue
        checkpoint = Checkpoint.parse(split_note(note)[0])
        found.append(SignedCheckpoint(checkpoint.origin, at, checkpoint.root_hash, note))
    return found
