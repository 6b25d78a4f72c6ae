"""The region's witnessing round across a rotation of its key (decisions 0122, 0140), in
process: a witness given the region's old and new keys cosigns before and after the
transition, so the cosigned trail verifies from the old pinned key with the witness's
cosignature; the cosigned checkpoint is never served below the new key's first size; a witness
given only the old key refuses the new key's checkpoints (403) and nothing of it is kept."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from andromede.audit.cosignature import format_cosigner_key
from andromede.audit.cosigned import MemoryCosignatureStore
from andromede.audit.model import AuditEvent, Outcome
from andromede.audit.note import Checkpoint, public_key_bytes
from andromede.audit.signing import FileLogSigningKey, LogSigningKey
from andromede.audit.store import MemoryAuditStore
from andromede.audit.trail import AuditTrail
from andromede.audit.transition import KeyTransition, sign_with_both, statement_text
from andromede.audit.verify import verify_cosignatures, verify_trail
from andromede.audit.witness import MemoryWitnessState, Witness
from andromede.audit.witness_app import witness_app
from andromede.audit.witnessing import WitnessEndpoint, Witnessing

NAME = "s3.test/eu-test-1/audit"
LOG = "123456789012"
ORIGIN = f"{NAME}/{LOG}"


class RotatingKeys:
    """The registry's part, in memory: the current key and the transitions of one log."""

    def __init__(self, key: LogSigningKey) -> None:
        self.key = key
        self.recorded: list[KeyTransition] = []

    async def current(self) -> LogSigningKey:
        return self.key

    async def transitions(self, log: str) -> Sequence[KeyTransition]:
        return self.recorded

    async def rotate(self, new: LogSigningKey, store: MemoryAuditStore) -> None:
        signers = [self.key.sign, new.sign]
        head = await store.tree_head(LOG)
        generation = len(self.recorded) + 1
        text = statement_text(NAME, generation, self.key.public_key, new.public_key, "scheduled")
        checkpoint = Checkpoint(ORIGIN, head.size, head.root_hash).text()
        self.recorded.append(
            KeyTransition(
                generation,
                sign_with_both(text, NAME, signers),
                sign_with_both(checkpoint, ORIGIN, signers),
                head.size,
            )
        )
        self.key = new


def event(n: int) -> AuditEvent:
    return AuditEvent(
        occurred_at=datetime(2026, 12, 5, tzinfo=UTC),
        request_id=f"R{n}",
        tenant_id=LOG,
        principal=None,
        action="iam:CreateUser",
        resource="arn:aws:iam::123456789012:user/u",
        outcome=Outcome.SUCCESS,
    )


def witness_of(
    name: str, keys: list[bytes]
) -> tuple[Witness, Ed25519PrivateKey, MemoryWitnessState]:
    private, state = Ed25519PrivateKey.generate(), MemoryWitnessState()
    return Witness(name, private, {NAME: keys}, state), private, state


async def test_witnesses_cosign_across_the_rotation_and_the_trail_verifies() -> None:
    old, new = (FileLogSigningKey(NAME, Ed25519PrivateKey.generate()) for _ in range(2))
    store, cosigned = MemoryAuditStore(), MemoryCosignatureStore()
    keys = RotatingKeys(old)
    trail = AuditTrail(store, old, max_entries=100, cosigned=cosigned, keys=keys)
    both, both_key, _ = witness_of("w.example/both", [old.public_key, new.public_key])
    stale, stale_key, stale_state = witness_of("w.example/stale", [old.public_key])
    apps = {"both": witness_app(both), "stale": witness_app(stale)}

    async def handle(request: httpx.Request) -> httpx.Response:
        transport = httpx.ASGITransport(app=apps[request.url.host])
        return await transport.handle_async_request(request)

    endpoints = [
        WitnessEndpoint("http://both", both.name, public_key_bytes(both_key.public_key())),
        WitnessEndpoint("http://stale", stale.name, public_key_bytes(stale_key.public_key())),
    ]
    witnessing = Witnessing(
        trail, store, cosigned, endpoints, interval=1, timeout=1,
        client=httpx.AsyncClient(transport=httpx.MockTransport(handle)),
    )  # fmt: skip
    await store.append([event(n) for n in range(5)])
    assert await witnessing.run_once() == 2
    await store.append([event(n) for n in range(5, 7)])
    await keys.rotate(new, store)  # at size 7, past what the witnesses cosigned
    await store.append([event(7)])

    # The witnesses stand at size 5, which only the retired key signs: nothing is served
    # until they cosign past the transition.
    assert await trail.cosigned_checkpoint(LOG) is None
    assert await witnessing.run_once() == 1  # the stale witness answers 403
    found = await trail.cosigned_checkpoint(LOG)
    assert found is not None and (found[0].size, found[1]) == (8, [both.name])

    _, chunks = await trail.trail_document(LOG, cosigned=True)
    document = json.loads(b"".join([c async for c in chunks]))
    assert verify_trail(document, old.verifier_key).size == 8
    vkey = format_cosigner_key(both.name, public_key_bytes(both_key.public_key()))
    [cosignature] = verify_cosignatures(document["checkpoint"], [vkey], 1, now=1e12)
    assert cosignature.name == both.name
    stale_head = stale_state.head(ORIGIN)
    assert stale_head is not None and stale_head.size == 5
    # The transition's checkpoint (size 7) is a point of the history the witness cosigned.
    assert document["key_transitions"][0]["checkpoint"].startswith(f"{ORIGIN}\n7\n")
