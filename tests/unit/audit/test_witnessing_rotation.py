"""The region's witnessing round across a rotation of its key (decisions 0122, 0140 and its
addendum), in process: a witness given the region's old and new keys, and one given only the
old key, both cosign the transition checkpoint and then the new key's — the second having
followed the transition statement the round sent it, with no step of its operator — so the
cosigned trail verifies from the old pinned key with their cosignatures; the cosigned
checkpoint is never served below the new key's first size; a witness that serves no
``add-key-transition`` (another C2SP implementation) still cosigns the transition checkpoint,
is asked for the statement once, and refuses the new key's checkpoints (403) until its
operator adds the key."""

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
    # Each: the transition checkpoint (size 7, both keys), then the latest (8, the new key).
    assert await witnessing.run_once() == 4
    found = await trail.cosigned_checkpoint(LOG)
    assert found is not None and (found[0].size, sorted(found[1])) == (8, [both.name, stale.name])
    # The witness that knew only the old key followed the statement, and retired the old key.
    [handover] = stale_state.handovers(NAME)
    assert (handover.generation, handover.old, handover.new) == (1, old.public_key, new.public_key)

    _, chunks = await trail.trail_document(LOG, cosigned=True)
    document = json.loads(b"".join([c async for c in chunks]))
    assert verify_trail(document, old.verifier_key).size == 8
    vkeys = [
        format_cosigner_key(w.name, public_key_bytes(k.public_key()))
        for w, k in ((both, both_key), (stale, stale_key))
    ]
    cosigners = verify_cosignatures(document["checkpoint"], vkeys, 2, now=1e12)
    assert sorted(c.name for c in cosigners) == [both.name, stale.name]
    stale_head = stale_state.head(ORIGIN)
    assert stale_head is not None and stale_head.size == 8
    # The transition's checkpoint (size 7) is a point of the history the witness cosigned.
    assert document["key_transitions"][0]["checkpoint"].startswith(f"{ORIGIN}\n7\n")
    kept = {r.witness: r.size for r in await cosigned.latest(LOG)}
    assert kept == {both.name: 8, stale.name: 8}

    # A second rotation with no entry since: the transition checkpoint is the latest one.
    newer = FileLogSigningKey(NAME, Ed25519PrivateKey.generate())
    await keys.rotate(newer, store)
    assert await witnessing.run_once() == 0  # size 8 is cosigned already
    await store.append([event(8)])
    assert await witnessing.run_once() == 2
    assert [h.generation for h in stale_state.handovers(NAME)] == [1, 2]
    _, chunks = await trail.trail_document(LOG, cosigned=True)
    document = json.loads(b"".join([c async for c in chunks]))
    assert verify_trail(document, old.verifier_key).size == 9
    assert len(verify_cosignatures(document["checkpoint"], vkeys, 2, now=1e12)) == 2


async def test_a_witness_that_takes_no_transition_cosigns_up_to_it() -> None:
    """Another C2SP witness (no ``add-key-transition``: 404) given only the old key: the
    transition checkpoint, signed by both keys, is cosigned; the new key's checkpoints are
    403 (logged) until its operator adds the key; the statement is asked for once."""
    old, new = (FileLogSigningKey(NAME, Ed25519PrivateKey.generate()) for _ in range(2))
    store, cosigned = MemoryAuditStore(), MemoryCosignatureStore()
    keys = RotatingKeys(old)
    trail = AuditTrail(store, old, max_entries=100, cosigned=cosigned, keys=keys)
    plain, plain_key, state = witness_of("w.example/plain", [old.public_key])
    app = witness_app(plain)
    asked: list[str] = []

    async def handle(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        if request.url.path.endswith("/add-key-transition"):
            return httpx.Response(404, text="404 page not found\n")
        transport = httpx.ASGITransport(app=app)
        return await transport.handle_async_request(request)

    endpoint = WitnessEndpoint("http://plain", plain.name, public_key_bytes(plain_key.public_key()))
    witnessing = Witnessing(
        trail, store, cosigned, [endpoint], interval=1, timeout=1,
        client=httpx.AsyncClient(transport=httpx.MockTransport(handle)),
    )  # fmt: skip
    await store.append([event(n) for n in range(3)])
    assert await witnessing.run_once() == 1
    await store.append([event(n) for n in range(3, 5)])
    await keys.rotate(new, store)
    await store.append([event(n) for n in range(5, 7)])
    assert await witnessing.run_once() == 1  # the transition checkpoint at 5; 7 is refused
    assert await witnessing.run_once() == 0
    assert asked.count("/add-key-transition") == 1
    head = state.head(ORIGIN)
    assert head is not None and head.size == 5
    assert state.handovers(NAME) == ()
    assert [r.size for r in await cosigned.latest(LOG)] == [5]


async def test_a_refused_statement_is_sent_once_and_a_failing_witness_again() -> None:
    """A witness that refuses the statement (403: it trusts neither key) is sent it once a
    process, not every round and log; one that fails (5xx) is sent it again next round."""
    old, new = (FileLogSigningKey(NAME, Ed25519PrivateKey.generate()) for _ in range(2))
    store, cosigned = MemoryAuditStore(), MemoryCosignatureStore()
    keys = RotatingKeys(old)
    trail = AuditTrail(store, old, max_entries=100, cosigned=cosigned, keys=keys)
    other = FileLogSigningKey(NAME, Ed25519PrivateKey.generate())
    stranger, stranger_key, _ = witness_of("w.example/stranger", [other.public_key])
    app = witness_app(stranger)
    answers = [503]
    asked: list[int] = []

    async def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/add-key-transition"):
            if answers:
                asked.append(answers[0])
                return httpx.Response(answers.pop(), text="busy\n")
            asked.append(stranger.add_key_transition(request.content).status)
            return httpx.Response(asked[-1])
        transport = httpx.ASGITransport(app=app)
        return await transport.handle_async_request(request)

    key = public_key_bytes(stranger_key.public_key())
    witnessing = Witnessing(
        trail, store, cosigned, [WitnessEndpoint("http://s", stranger.name, key)],
        interval=1, timeout=1, client=httpx.AsyncClient(transport=httpx.MockTransport(handle)),
    )  # fmt: skip
    await store.append([event(n) for n in range(2)])
    await keys.rotate(new, store)
    await store.append([event(2)])
    for _ in range(3):
        assert await witnessing.run_once() == 0  # 403 on every checkpoint: not its key
    assert asked == [503, 403]
