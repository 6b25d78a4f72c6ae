"""A witness follows a rotation of a region's key (decision 0140's addendum): given the
transition statement both keys signed, where the old or the new key is one it trusts, it
trusts the new key and retires the old one, persisted in its state (another process on the
same file sees it); every other statement is refused with the answer the module names, and
nothing is recorded."""

from __future__ import annotations

from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from andromede.audit.note import public_key_bytes, sign_note
from andromede.audit.transition import sign_with_both, statement_text
from andromede.audit.witness import FileWitnessState, MemoryWitnessState, Witness
from andromede.audit.witness_app import witness_app
from unit.audit.test_witness import ORIGIN, REGION, Log


def public(key: Ed25519PrivateKey) -> bytes:
    return public_key_bytes(key.public_key())


def statement(
    old: Ed25519PrivateKey,
    new: Ed25519PrivateKey,
    generation: int = 1,
    signers: list[Ed25519PrivateKey] | None = None,
    name: str = REGION,
) -> bytes:
    text = statement_text(name, generation, public(old), public(new), "scheduled")
    signing = [(lambda t, n, k=k: sign_note(t, n, k)) for k in (signers or [old, new])]
    return sign_with_both(text, name, signing).encode()


def witness_trusting(
    keys: list[Ed25519PrivateKey], state: MemoryWitnessState | FileWitnessState
) -> Witness:
    region_keys = {REGION: [public(k) for k in keys]}
    return Witness("w.example/w1", Ed25519PrivateKey.generate(), region_keys, state)


def test_a_witness_trusting_the_old_key_follows_the_statement_and_retires_it() -> None:
    old, new, newer = (Ed25519PrivateKey.generate() for _ in range(3))
    state = MemoryWitnessState()
    witness = witness_trusting([old], state)
    log = Log(old)
    log.grow(4)
    assert witness.add_checkpoint(log.request(0)).status == 200
    log.key = new
    log.grow(2)
    assert witness.add_checkpoint(log.request(4)).status == 403  # not yet
    answer = witness.add_key_transition(statement(old, new))
    assert answer.status == 200, answer.body
    assert witness.add_checkpoint(log.request(4)).status == 200
    # The old key is retired: what it signs now counts for nothing here.
    log.key = old
    log.grow(1)
    assert witness.add_checkpoint(log.request(6)).status == 403
    # The same statement again (a region's restart resends it): 200, nothing changes.
    assert witness.add_key_transition(statement(old, new)).status == 200
    [handover] = state.handovers(REGION)
    assert (handover.generation, handover.old, handover.new) == (1, public(old), public(new))
    # The next rotation, from the key it followed.
    assert witness.add_key_transition(statement(new, newer, 2)).status == 200
    log.key = newer
    assert witness.add_checkpoint(log.request(6)).status == 200
    assert [h.generation for h in state.handovers(REGION)] == [1, 2]


def test_the_refused_statements() -> None:
    old, new, other, thief = (Ed25519PrivateKey.generate() for _ in range(4))
    state = MemoryWitnessState()
    witness = witness_trusting([old], state)
    # Not a statement: 400.
    assert witness.add_key_transition(b"hello\n").status == 400
    assert witness.add_key_transition(b"\xff\xfe").status == 400
    # Another region's: 404.
    foreign = statement(old, new, name="s3.other.example/eu-de-1/audit")
    assert witness.add_key_transition(foreign).status == 404
    # Signed by the old key only, or by the new key only, or by neither: 403.
    assert witness.add_key_transition(statement(old, new, signers=[old, thief])).status == 403
    assert witness.add_key_transition(statement(old, new, signers=[thief, new])).status == 403
    # Both signatures good, but neither key one the witness trusts: 403.
    assert witness.add_key_transition(statement(thief, other)).status == 403
    # A statement edited after signing: 403.
    edited = statement(old, new).replace(b"\nscheduled\n", b"\ncompromise\n")
    assert witness.add_key_transition(edited).status == 403
    assert state.handovers(REGION) == ()
    # Followed once; the old key handing over again, to another key: 409, the first stands.
    assert witness.add_key_transition(statement(old, new)).status == 200
    assert witness.add_key_transition(statement(old, other)).status == 409
    assert [h.new for h in state.handovers(REGION)] == [public(new)]


def test_a_witness_given_the_new_key_takes_the_history_behind_it() -> None:
    """A witness started after the rotation with the new key only: the old statement, which
    the new key signed, is taken and retires the old key, so the round's resending is no
    error, and the old key gains nothing."""
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    state = MemoryWitnessState()
    witness = witness_trusting([new], state)
    assert witness.add_key_transition(statement(old, new)).status == 200
    log = Log(old)
    log.grow(3)
    assert witness.add_checkpoint(log.request(0)).status == 403


def test_the_handovers_persist_in_the_state_file(tmp_path: Path) -> None:
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    path = tmp_path / "witness-state.json"
    first = witness_trusting([old], FileWitnessState(path))
    log = Log(old)
    log.grow(2)
    assert first.add_checkpoint(log.request(0)).status == 200
    assert first.add_key_transition(statement(old, new)).status == 200
    # Another process on the file, started with the old key only, as its operator left it.
    second = witness_trusting([old], FileWitnessState(path))
    log.key = new
    log.grow(2)
    assert second.add_checkpoint(log.request(2)).status == 200
    state = FileWitnessState(path)
    head = state.head(ORIGIN)
    assert head is not None and head.size == 4
    assert [h.new for h in state.handovers(REGION)] == [public(new)]
    assert '"format": 2' in path.read_text()
    # A state of the format before (no regions) still reads.
    path.write_text('{"format": 1, "logs": {}}\n')
    assert FileWitnessState(path).handovers(REGION) == ()


async def test_the_http_interface() -> None:
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    witness = witness_trusting([old], MemoryWitnessState())
    transport = httpx.ASGITransport(app=witness_app(witness, prefix="/w1", max_body=4096))
    async with httpx.AsyncClient(transport=transport, base_url="http://witness") as client:
        answer = await client.post("/w1/add-key-transition", content=statement(old, new))
        assert (answer.status_code, answer.text) == (200, "followed\n")
        forged = statement(old, new, signers=[new, new])
        assert (await client.post("/w1/add-key-transition", content=forged)).status_code == 403
        big = b"x" * 5000
        assert (await client.post("/w1/add-key-transition", content=big)).status_code == 413
        assert (await client.get("/w1/add-key-transition")).status_code == 405


def test_cosign_gives_the_witness_the_trails_transitions() -> None:
    """``andromede audit cosign`` of a trail signed by the new key, to a witness given only
    the old one: the witness follows the trail's transition first, then cosigns."""
    from andromede.cli import audit as cli

    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    witness = witness_trusting([old], MemoryWitnessState())

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/add-key-transition":
            found = witness.add_key_transition(request.content)
        else:
            found = witness.add_checkpoint(request.content)
        return httpx.Response(found.status, text=found.body)

    client = httpx.Client(transport=httpx.MockTransport(answer))
    log = Log(new)
    log.grow(3)
    trail = {
        "log": "111122223333",
        "checkpoint": log.note(),
        "entries": [],
        "key_transitions": [{"statement": statement(old, new).decode(), "checkpoint": None}],
    }
    assert cli._submit(client, "http://w", trail, 0, None).status_code == 403
    cli._teach(client, "http://w", trail)
    assert cli._submit(client, "http://w", trail, 0, None).status_code == 200
