"""One suite over both audit log signing keys (decision 0134): the key file and an Ed25519
pair in a real SoftHSM2 token. Each signs checkpoints that the offline verifier and
``andromede audit verify`` accept, the same note every time, and is the same key after a
restart. The token's key is sensitive and never extractable, no key file is written beside
it, worker processes starting together end with one key, a token or PIN that does not work
stops the start with a message naming no PIN, and a whole gateway started on the token
serves checkpoints that verify against its published key."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pkcs11
import pytest
from pkcs11 import Attribute, ObjectClass
from pkcs11.exceptions import AttributeSensitive, UserAlreadyLoggedIn
from typer.testing import CliRunner

from andromede.app import Application, audit_key_name
from andromede.audit.model import PLATFORM_LOG, AuditEvent, Outcome
from andromede.audit.note import Checkpoint, key_id, open_note
from andromede.audit.signing import KEY_FILE_NAME, PUBLIC_KEY_FILE_NAME, LogSigningKey
from andromede.audit.store import MemoryAuditStore
from andromede.audit.store_sql import registered_signing_key
from andromede.audit.trail import AuditTrail
from andromede.audit.verify import TrailInvalid, verify_trail
from andromede.audit_keys import AUDIT_KEY_LABEL_PREFIX, open_log_signing_key
from andromede.cli.main import app as cli
from andromede.db.database import Database, open_database
from andromede.errors import ConfigurationError
from andromede.kms.providers import RootKeyProvider
from andromede.object_keys import root_key_provider
from andromede.settings import Settings, load_settings
from support.schema import migrated_sqlite
from support.softhsm import SoftHsm, SoftHsmToken


@dataclass
class Gateway:
    """What a gateway opens its signing key from: settings, database, root key provider."""

    settings: Settings
    db: Database
    provider: RootKeyProvider

    async def key(self) -> LogSigningKey:
        name = audit_key_name(self.settings)
        return await open_log_signing_key(self.settings, self.db, name, self.provider)


def token_settings(data_dir: Path, token: SoftHsmToken, **overrides: object) -> Settings:
    pin_file = data_dir.parent / f"{token.label}.pin"
    pin_file.write_text(token.pin + "\n")
    return load_settings(
        data_dir=data_dir,
        key_provider="pkcs11",
        pkcs11_library=Path(token.library),
        pkcs11_token_label=token.label,
        pkcs11_pin_file=pin_file,
        **overrides,
    )


@pytest.fixture(params=["file", "hsm"])
async def gateway(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Gateway]:
    data_dir = tmp_path / "data"
    if request.param == "file":
        settings = load_settings(data_dir=data_dir)
    else:
        settings = token_settings(data_dir, request.getfixturevalue("softhsm").new_token())
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    provider = root_key_provider(settings)
    try:
        yield Gateway(settings, db, provider)
    finally:
        provider.close()
        await db.close()


@pytest.fixture
def token(softhsm: SoftHsm) -> SoftHsmToken:
    return softhsm.new_token()


def event(n: int) -> AuditEvent:
    return AuditEvent(
        occurred_at=datetime(2026, 12, 5, tzinfo=UTC),
        request_id=f"R{n}",
        tenant_id=None,
        principal=None,
        action="andromede:CreateTenant",
        resource=f"tenant/{n}",
        outcome=Outcome.SUCCESS,
    )


async def test_checkpoints_verify_offline_and_with_the_cli(
    gateway: Gateway, tmp_path: Path
) -> None:
    key = await gateway.key()
    store = MemoryAuditStore()
    await store.append([event(n) for n in range(5)])
    trail = AuditTrail(store, key, max_entries=100)
    signed, chunks = await trail.trail_document(PLATFORM_LOG)
    document = b"".join([chunk async for chunk in chunks])
    assert verify_trail(json.loads(document), key.verifier_key).size == 5
    trail_file, key_file = tmp_path / "trail.json", tmp_path / PUBLIC_KEY_FILE_NAME
    trail_file.write_bytes(document)
    key_file.write_text(key.verifier_key + "\n")
    verify = ["audit", "verify", str(trail_file), "--public-key", str(key_file)]
    assert CliRunner().invoke(cli, verify).exit_code == 0
    # A note of another size under the same signature must not pass.
    forged = signed.note.replace("\n5\n", "\n4\n", 1)
    with pytest.raises(TrailInvalid):
        verify_trail({**json.loads(document), "checkpoint": forged}, key.verifier_key)


async def test_a_note_is_the_signed_note_format_and_the_same_every_time(
    gateway: Gateway,
) -> None:
    key = await gateway.key()
    origin = f"{key.name}/{PLATFORM_LOG}"
    text = Checkpoint(origin, 3, bytes(range(32))).text()
    note = key.sign(text, origin)
    assert note == key.sign(text, origin)  # Ed25519 is deterministic, in the token too
    assert open_note(note, origin, key.public_key) == text
    signature_line = note[len(text) + 1 :]
    assert signature_line.startswith(f"\u2014 {origin} ")
    raw = base64.b64decode(signature_line.split(" ")[2])
    assert len(raw) == 4 + 64 and raw[:4] == key_id(origin, key.public_key)


async def test_a_restart_signs_with_the_same_registered_key(gateway: Gateway) -> None:
    first = await gateway.key()
    again = await gateway.key()
    assert again.public_key == first.public_key
    assert await registered_signing_key(gateway.db, first.name) == first.public_key


def token_session(token: SoftHsmToken) -> pkcs11.Session:
    """A session of its own on ``token`` (this thread only, one call at a time)."""
    found = pkcs11.lib(token.library).get_token(token_label=token.label)
    try:
        return found.open(user_pin=token.pin)
    except UserAlreadyLoggedIn:
        return found.open()


async def test_the_token_key_is_sensitive_never_extractable_and_no_file_is_written(
    token: SoftHsmToken, tmp_path: Path
) -> None:
    settings = token_settings(tmp_path / "data", token)
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    provider = root_key_provider(settings)
    try:
        key = await Gateway(settings, db, provider).key()
    finally:
        await db.close()
    label = AUDIT_KEY_LABEL_PREFIX + key.name
    with token_session(token) as session:
        [private] = session.get_objects(
            {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: label}
        )
        assert private[Attribute.SENSITIVE] is True
        assert private[Attribute.EXTRACTABLE] is False
        assert private[Attribute.ALWAYS_SENSITIVE] is True
        assert private[Attribute.NEVER_EXTRACTABLE] is True
        assert private[Attribute.TOKEN] is True and private[Attribute.PRIVATE] is True
        with pytest.raises(AttributeSensitive):
            private[Attribute.VALUE]
        [public] = session.get_objects(
            {Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.LABEL: label}
        )
        assert bytes(public[Attribute.EC_POINT])[-32:] == key.public_key
    provider.close()
    assert not (tmp_path / "data" / "keys" / KEY_FILE_NAME).exists()
    assert list((tmp_path / "data").rglob(KEY_FILE_NAME)) == []


async def test_gateways_that_found_two_pairs_all_sign_with_the_first(
    token: SoftHsmToken, tmp_path: Path
) -> None:
    # Two pairs under the label: what two gateways racing leave until the loser cleans up.
    settings = token_settings(tmp_path / "data", token)
    label = AUDIT_KEY_LABEL_PREFIX + audit_key_name(settings)
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    providers = [root_key_provider(settings), root_key_provider(settings)]
    try:
        made = [providers[0].create_ed25519_key(label), providers[1].create_ed25519_key(label)]  # type: ignore[attr-defined]
        first = min(made, key=lambda pair: pair.key_id)
        keys = [await Gateway(settings, db, p).key() for p in providers]
        assert [k.public_key for k in keys] == [first.public_key, first.public_key]
    finally:
        for provider in providers:
            provider.close()
        await db.close()


# A worker of ``andromede serve``, as far as the signing key goes: it opens the token, waits
# for the go file (so that the workers race), opens the key and prints its public key. It
# imports what opening the key needs, not ``andromede.app`` (the whole platform: 3.6 s of CPU
# a process on a quiet core, against 1 s for these; three processes a run).
_WORKER = """
import asyncio, sys, time
from pathlib import Path
from andromede.wiring.audit import audit_key_name
from andromede.audit_keys import open_log_signing_key
from andromede.db.database import open_database
from andromede.object_keys import root_key_provider
from andromede.settings import load_settings

data_dir, url, library, label, pin_file, go = sys.argv[1:]

async def main() -> None:
    settings = load_settings(
        data_dir=Path(data_dir), key_provider="pkcs11", pkcs11_library=Path(library),
        pkcs11_token_label=label, pkcs11_pin_file=Path(pin_file),
    )
    db, provider = open_database(url), root_key_provider(settings)
    print("ready", flush=True)
    while not Path(go).exists():
        time.sleep(0.001)
    key = await open_log_signing_key(settings, db, audit_key_name(settings), provider)
    print(key.public_key.hex(), flush=True)
    provider.close()
    await db.close()

asyncio.run(main())
"""


async def test_worker_processes_starting_together_make_one_key(
    softhsm: SoftHsm, token: SoftHsmToken, tmp_path: Path
) -> None:
    settings = token_settings(tmp_path / "data", token)
    url = migrated_sqlite(tmp_path / "meta.db")
    go = tmp_path / "go"
    assert settings.pkcs11_pin_file is not None
    argv = [
        str(settings.data_dir), url, token.library, token.label, str(settings.pkcs11_pin_file),
        str(go),
    ]  # fmt: skip
    env = {**os.environ, "SOFTHSM2_CONF": str(softhsm.config)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(3)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None
            assert worker.stdout.readline() == "ready\n", worker.stderr
        go.touch()
        outputs = [worker.communicate(timeout=120) for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
    assert [worker.returncode for worker in workers] == [0, 0, 0], [e for _, e in outputs]
    public_keys = {out.strip() for out, _ in outputs}
    assert len(public_keys) == 1
    db = open_database(url)
    try:
        registered = await registered_signing_key(db, audit_key_name(settings))
    finally:
        await db.close()
    assert registered is not None and registered.hex() in public_keys
    label = AUDIT_KEY_LABEL_PREFIX + audit_key_name(settings)
    with token_session(token) as session:
        found = session.get_objects(
            {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: label}
        )
        assert len(list(found)) == 1


def test_a_wrong_pin_or_a_missing_token_stops_the_start_naming_no_pin(
    token: SoftHsmToken, tmp_path: Path
) -> None:
    wrong = "not-the-pin"  # the token's is hex
    bad_pin = tmp_path / "bad.pin"
    bad_pin.write_text(wrong)
    settings = token_settings(tmp_path / "data", token).model_copy(
        update={"pkcs11_pin_file": bad_pin}
    )
    with pytest.raises(ConfigurationError, match=r"PIN of PKCS#11 token .* is wrong") as raised:
        root_key_provider(settings)
    assert wrong not in str(raised.value) and token.pin not in str(raised.value)
    missing = settings.model_copy(update={"pkcs11_token_label": "no-such-token"})
    with pytest.raises(ConfigurationError, match="no PKCS#11 token labelled 'no-such-token'"):
        root_key_provider(missing)


async def test_a_gateway_started_on_the_token_serves_checkpoints_that_verify(
    token: SoftHsmToken, tmp_path: Path
) -> None:
    """The whole start path (Application.start) in process: the checkpoint the API serves
    verifies against the published key, with the CLI too, and no key file exists."""
    data_dir = tmp_path / "data"
    settings = token_settings(data_dir, token, s3_port=9000, api_port=9001, region="eu-fr-1")
    application = Application(settings)
    await application.start()
    try:
        running = application._running
        assert running is not None
        for n in range(3):
            running.audit.record(
                request_id=f"R{n}", tenant_id=None, principal=None,
                action="andromede:CreateTenant", resource=f"tenant/{n}", outcome=Outcome.SUCCESS,
            )  # fmt: skip
        await running.audit.flush()
        trail = running.console.console.trail
        assert trail is not None
        signed, chunks = await trail.trail_document(PLATFORM_LOG)
        document = b"".join([chunk async for chunk in chunks])
    finally:
        await application.stop()
    published = (data_dir / PUBLIC_KEY_FILE_NAME).read_text()
    assert verify_trail(json.loads(document), published).size == signed.size == 3
    trail_file = tmp_path / "trail.json"
    trail_file.write_bytes(document)
    verify = [
        "audit",
        "verify",
        str(trail_file),
        "--public-key",
        str(data_dir / PUBLIC_KEY_FILE_NAME),
    ]
    assert CliRunner().invoke(cli, verify).exit_code == 0
    assert list(data_dir.rglob(KEY_FILE_NAME)) == []
