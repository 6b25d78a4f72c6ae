"""Witness cosignatures (C2SP tlog-cosignature, Ed25519) and the witness's add-checkpoint (C2SP
tlog-witness), decision 0122: the message and line formats against the specs' examples, every
answer the witness protocol orders, the state that never goes back — under concurrent
submissions and across processes through its file — and the HTTP interface."""

from __future__ import annotations

import base64
import hashlib
import threading
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from andromede.audit.cosignature import (
    cosign,
    cosignatures,
    cosigned_message,
    cosigner_key_id,
    format_cosigner_key,
    parse_cosigner_key,
)
from andromede.audit.merkle import consistency_proof, leaf_hash, node_hash, root_hash
from andromede.audit.note import Checkpoint, NoteError, public_key_bytes, sign_note
from andromede.audit.verify import TrailInvalid, verify_cosignatures
from andromede.audit.witness import (
    SIZE_CONTENT_TYPE,
    FileWitnessState,
    MemoryWitnessState,
    Witness,
)
from andromede.audit.witness_app import witness_app

REGION = "s3.example.org/eu-fr-1/audit"
ORIGIN = f"{REGION}/111122223333"
NOW = 1_800_000_000

# The example of c2sp.org/tlog-cosignature: the checkpoint and its witness's line.
SPEC_TEXT = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
SPEC_LINE = (
    "\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dl"
    "rDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA=="
)


def test_the_signed_message_and_line_are_the_specs() -> None:
    assert cosigned_message(SPEC_TEXT, 1679315147) == (
        b"cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n"
        b"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    )
    # The spec's line: a 4-byte key ID, the big-endian time of its example message, 64 bytes.
    raw = base64.b64decode(SPEC_LINE.split(" ")[2])
    assert len(raw) == 76 and int.from_bytes(raw[4:12], "big") == 1679315147
    key = Ed25519PrivateKey.generate()
    public = public_key_bytes(key.public_key())
    # The key ID of the spec's formula, with the cosignature type byte 0x04.
    wanted = hashlib.sha256(b"w.example/1\n\x04" + public).digest()[:4]
    assert cosigner_key_id("w.example/1", public) == wanted
    line = cosign(SPEC_TEXT, "w.example/1", key, 1679315147)
    assert line.startswith("\u2014 w.example/1 ") and line.endswith("\n")
    assert base64.b64decode(line.split(" ")[2])[:12] == wanted + (1679315147).to_bytes(8, "big")


def test_cosignatures_verify_and_tampering_is_caught() -> None:
    log_key, witness_key, other_key = (Ed25519PrivateKey.generate() for _ in range(3))
    note = sign_note(SPEC_TEXT, "example.com/behind-the-sofa", log_key)
    public = public_key_bytes(witness_key.public_key())
    cosigned = note + cosign(SPEC_TEXT, "w.example/1", witness_key, NOW)
    # Another witness's line, and the log's own, are ignored.
    cosigned += cosign(SPEC_TEXT, "w.example/2", other_key, NOW)
    [found] = cosignatures(cosigned, "w.example/1", public)
    assert (found.name, found.timestamp) == ("w.example/1", NOW)
    # The same name under another key: not this witness's cosignature.
    assert cosignatures(note + cosign(SPEC_TEXT, "w.example/1", other_key, NOW),
                        "w.example/1", public) == []  # fmt: skip
    # One byte of the checkpoint changed, or of the time: the signature fails.
    changed = cosigned.replace("20852163", "20852164")
    with pytest.raises(NoteError):
        cosignatures(changed, "w.example/1", public)
    line = cosign(SPEC_TEXT, "w.example/1", witness_key, NOW)
    raw = bytearray(base64.b64decode(line.split(" ")[2]))
    raw[11] ^= 1
    forged = note + f"\u2014 w.example/1 {base64.b64encode(bytes(raw)).decode()}\n"
    with pytest.raises(NoteError):
        cosignatures(forged, "w.example/1", public)
    # A cosigner key is the name, the ID and 0x04 with the key; another type is refused.
    text = format_cosigner_key("w.example/1", public)
    assert parse_cosigner_key(text) == ("w.example/1", public)
    note_key = text.split("+")[0] + "+" + text.split("+")[1] + "+"
    note_key += base64.b64encode(b"\x01" + public).decode()
    with pytest.raises(NoteError):
        parse_cosigner_key(note_key)


class Log:
    """A log of this region: its entries, and checkpoints signed as the platform signs them."""

    def __init__(self, key: Ed25519PrivateKey, origin: str = ORIGIN) -> None:
        self.key, self.origin, self.leaves = key, origin, list[bytes]()

    def grow(self, count: int) -> None:
        start = len(self.leaves)
        self.leaves += [leaf_hash(f"entry {n}".encode()) for n in range(start, start + count)]

    def note(self, size: int | None = None) -> str:
        size = len(self.leaves) if size is None else size
        text = Checkpoint(self.origin, size, root_hash(self.leaves[:size])).text()
        return sign_note(text, self.origin, self.key)

    def request(self, old: int, size: int | None = None, proof: list[bytes] | None = None) -> bytes:
        size = len(self.leaves) if size is None else size
        if proof is None:
            proof = consistency_proof(self.leaves, old, size) if 0 < old < size else []
        lines = [f"old {old}", *(base64.b64encode(p).decode() for p in proof)]
        return ("\n".join(lines) + "\n\n" + self.note(size)).encode()


def _witness(state: MemoryWitnessState | FileWitnessState) -> tuple[Witness, Log, bytes]:
    log_key, witness_key = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    witness = Witness(
        "witness.example.org/w1",
        witness_key,
        {REGION: public_key_bytes(log_key.public_key())},
        state,
        clock=lambda: NOW,
    )
    return witness, Log(log_key), public_key_bytes(witness_key.public_key())


def test_the_witness_cosigns_only_what_extends_what_it_cosigned() -> None:
    state = MemoryWitnessState()
    witness, log, public = _witness(state)
    log.grow(5)
    first = witness.add_checkpoint(log.request(0))
    assert first.status == 200, first.body
    [cosignature] = cosignatures(log.note() + first.body, witness.name, public)
    assert cosignature.timestamp == NOW
    head = state.head(ORIGIN)
    assert head is not None and head.size == 5
    # The log grew: from the size the witness holds, with the proof.
    log.grow(8)
    stale = witness.add_checkpoint(log.request(0))
    assert (stale.status, stale.body, stale.content_type) == (409, "5\n", SIZE_CONTENT_TYPE)
    assert witness.add_checkpoint(log.request(5)).status == 200
    # The same checkpoint again: cosigned again; the same size with another root: 409.
    assert witness.add_checkpoint(log.request(13)).status == 200
    other = Log(log.key)
    other.grow(13)
    other.leaves[3] = leaf_hash(b"rewritten")
    assert witness.add_checkpoint(other.request(13)).status == 409
    # A history rewritten below the size held: no proof from 13 verifies it.
    other.grow(2)
    assert witness.add_checkpoint(other.request(13)).status == 422
    # Nothing moved the witness back.
    head = state.head(ORIGIN)
    assert head is not None and (head.size, head.root_hash) == (13, root_hash(log.leaves))


def test_a_witness_given_both_keys_cosigns_across_a_rotation() -> None:
    """Decision 0140: the region's key rotated, the witness's operator adds the new key; the
    witness cosigns checkpoints of either key, still only what extends what it cosigned, and
    a key it was not given is 403."""
    old_key, new_key, witness_key = (Ed25519PrivateKey.generate() for _ in range(3))
    state = MemoryWitnessState()
    keys = [public_key_bytes(k.public_key()) for k in (old_key, new_key)]
    witness = Witness("witness.example.org/w1", witness_key, {REGION: keys}, state)
    log = Log(old_key)
    log.grow(5)
    assert witness.add_checkpoint(log.request(0)).status == 200
    log.key = new_key
    log.grow(3)
    assert witness.add_checkpoint(log.request(5)).status == 200
    rewritten = Log(new_key)
    rewritten.grow(9)
    rewritten.leaves[3] = leaf_hash(b"rewritten")
    assert witness.add_checkpoint(rewritten.request(8)).status == 422  # a fork, whichever key
    head = state.head(ORIGIN)
    assert head is not None and head.size == 8
    log.key = Ed25519PrivateKey.generate()
    log.grow(1)
    assert witness.add_checkpoint(log.request(8)).status == 403


def test_the_protocols_other_answers() -> None:
    witness, log, _ = _witness(MemoryWitnessState())
    log.grow(4)
    # Signed by another key, or for a log of a region the witness does not know.
    forged = Log(Ed25519PrivateKey.generate())
    forged.grow(4)
    assert witness.add_checkpoint(forged.request(0)).status == 403
    stranger = Log(log.key, "s3.other.example/eu-de-1/audit/111122223333")
    stranger.grow(4)
    assert witness.add_checkpoint(stranger.request(0)).status == 404
    # Malformed bodies: no old line, no blank line, a proof line not a hash, too many lines.
    note = log.note().encode()
    for body in (
        b"\n\n" + note,
        b"old 0\n" + note,
        b"old 00\n\n" + note,
        b"old 0\nnot-base64!\n\n" + note,
        b"old 0\n" + b"AAAA\n" + b"\n" + note,
        b"old 2\n" + b"".join([base64.b64encode(bytes(32)) + b"\n"] * 64) + b"\n" + note,
        b"old 0\n\n" + b"\xff\xfe",
        b"old 0\n\nnot a note\n",
    ):
        assert witness.add_checkpoint(body).status == 400, body[:40]
    # An old size above the checkpoint's; a proof given from zero.
    assert witness.add_checkpoint(log.request(9, proof=[])).status == 400
    assert witness.add_checkpoint(log.request(0, proof=[bytes(32)])).status == 400
    # A proof that does not verify (one hash changed).
    assert witness.add_checkpoint(log.request(0, size=3)).status == 200
    bad = consistency_proof(log.leaves, 3, 4)
    bad[0] = bytes(32)
    assert witness.add_checkpoint(log.request(3, proof=bad)).status == 422


def test_the_state_never_goes_back_under_concurrent_submissions(tmp_path: Path) -> None:
    """The spec's race: a slower request for a smaller size must not roll the witness back.
    Threads submit every size at once, from the size each read; whatever order they land in,
    the file holds the largest size any of them got cosigned."""
    witness, log, _ = _witness(FileWitnessState(tmp_path / "state.json"))
    log.grow(40)
    assert witness.add_checkpoint(log.request(0, size=1)).status == 200
    cosigned: list[int] = []

    def submit(size: int) -> None:
        for _ in range(50):
            answer = witness.add_checkpoint(log.request(1, size=size))
            held = 1
            if answer.status == 409 and answer.body.strip().isdigit():
                held = int(answer.body)
                if held > size:
                    return
                answer = witness.add_checkpoint(log.request(held, size=size))
            if answer.status == 200:
                cosigned.append(size)
                return

    threads = [threading.Thread(target=submit, args=(size,)) for size in range(2, 41, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Another process's view of the file: the largest cosigned, with its root.
    head = FileWitnessState(tmp_path / "state.json").head(ORIGIN)
    assert head is not None and cosigned and head.size == max(cosigned)
    assert head.root_hash == root_hash(log.leaves[: head.size])


def test_verify_counts_a_quorum_of_witnesses(tmp_path: Path) -> None:
    log_key = Ed25519PrivateKey.generate()
    log = Log(log_key)
    log.grow(3)
    keys = [Ed25519PrivateKey.generate() for _ in range(3)]
    names = [f"w.example/{n}" for n in range(3)]
    vkeys = [
        format_cosigner_key(n, public_key_bytes(k.public_key()))
        for n, k in zip(names, keys, strict=True)
    ]
    text = Checkpoint(ORIGIN, 3, root_hash(log.leaves)).text()
    note = log.note() + cosign(text, names[0], keys[0], NOW) + cosign(text, names[1], keys[1], NOW)
    assert [c.name for c in verify_cosignatures(note, vkeys, 2, now=NOW)] == names[:2]
    with pytest.raises(TrailInvalid, match="fewer than the quorum of 3"):
        verify_cosignatures(note, vkeys, 3, now=NOW)
    with pytest.raises(TrailInvalid, match="in the future"):
        verify_cosignatures(note, vkeys, 1, now=NOW - 3600)
    with pytest.raises(TrailInvalid, match="quorum"):
        verify_cosignatures(note, vkeys, 4, now=NOW)


async def test_the_http_interface() -> None:
    witness, log, _ = _witness(MemoryWitnessState())
    log.grow(2)
    app = witness_app(witness, prefix="/w1", max_body=4096)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://witness") as client:
        answer = await client.post("/w1/add-checkpoint", content=log.request(0))
        assert answer.status_code == 200 and answer.text.startswith(
            "\u2014 witness.example.org/w1 "
        )
        stale = await client.post("/w1/add-checkpoint", content=log.request(0))
        assert stale.status_code == 409
        assert stale.headers["content-type"].startswith(SIZE_CONTENT_TYPE)
        assert (await client.post("/w1/add-checkpoint", content=b"x" * 5000)).status_code == 413
        assert (await client.get("/w1/add-checkpoint")).status_code == 405
        assert (await client.post("/add-checkpoint", content=log.request(0))).status_code == 404


def test_cosign_takes_a_pruned_trails_proof_from_the_api() -> None:
    """``andromede audit cosign``: a trail whose first entries were pruned cannot prove from
    them, so the proof comes from the management API; an unpruned one proves by itself."""
    from andromede.cli import audit as cli

    log = Log(Ed25519PrivateKey.generate())
    log.grow(6)
    sent: list[bytes] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.content)
        return httpx.Response(200, text="\u2014 w 0\n")

    class Api:
        def __init__(self) -> None:
            self.asked: list[tuple[str, dict[str, int]]] = []

        def get(self, path: str, **params: int) -> dict[str, list[str]]:
            self.asked.append((path, params))
            return {"hashes": ["QUFB", "QkJC"]}

    client = httpx.Client(transport=httpx.MockTransport(answer))
    head = base64.b64encode(node_hash(log.leaves[0], log.leaves[1])).decode()
    pruned = {
        "log": "111122223333",
        "checkpoint": log.note(),
        "pruned": {"size": 2, "hashes": [head]},
        "entries": [f"entry {n}" for n in range(2, 6)],
    }
    api = Api()
    cli._submit(client, "http://w", pruned, 4, api)  # type: ignore[arg-type]
    assert api.asked == [("/logs/111122223333/proofs/consistency", {"first": 4, "second": 6})]
    assert sent[-1].startswith(b"old 4\nQUFB\nQkJC\n\n" + log.note().encode()[:10])
    with pytest.raises(TrailInvalid, match="pruned"):
        cli._submit(client, "http://w", pruned, 4, None)
    # From zero, nothing to prove, even for a pruned trail; an unpruned trail proves itself.
    cli._submit(client, "http://w", pruned, 0, None)
    assert sent[-1].startswith(b"old 0\n\n")
    entries = [f"entry {n}" for n in range(6)]
    whole = {"log": "111122223333", "checkpoint": log.note(), "entries": entries}
    cli._submit(client, "http://w", whole, 4, None)
    proof = consistency_proof(log.leaves, 4, 6)
    assert sent[-1].split(b"\n\n")[0].split(b"\n")[1:] == [base64.b64encode(p) for p in proof]
