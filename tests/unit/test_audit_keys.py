"""Where the audit log signing key lives (decision 0134): the setting follows the root key
provider; a token key is made once, never written to the data folder, converged on when two
gateways race to make it, and refused when it would silently replace the registered key file."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from andromede.audit.errors import SigningKeyMismatch
from andromede.audit.signing import KEY_FILE_NAME, FileLogSigningKey, TokenLogSigningKey
from andromede.audit.store_sql import claim_signing_key, registered_signing_key
from andromede.audit_keys import AUDIT_KEY_LABEL_PREFIX, open_log_signing_key
from andromede.db.database import Database, open_database
from andromede.errors import ConfigurationError
from andromede.settings import Settings
from support.schema import migrated_sqlite
from support.token_keys import MemoryToken, MemoryTokenKeys

NAME = "s3.test/eu-test-1/audit"
LABEL = AUDIT_KEY_LABEL_PREFIX + NAME


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = open_database(migrated_sqlite(tmp_path / "meta.db"))
    yield database
    await database.close()


def settings(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(data_dir=tmp_path, **overrides)  # type: ignore[arg-type]


def test_the_key_follows_the_root_key_provider_unless_the_setting_says(tmp_path: Path) -> None:
    assert not settings(tmp_path).audit_signing_key_in_token
    assert settings(tmp_path, key_provider="pkcs11").audit_signing_key_in_token
    kept = settings(tmp_path, key_provider="pkcs11", audit_signing_key="file")
    assert not kept.audit_signing_key_in_token
    assert settings(
        tmp_path, key_provider="pkcs11", audit_signing_key="hsm"
    ).audit_signing_key_in_token
    with pytest.raises(ValidationError, match="needs key_provider = pkcs11"):
        settings(tmp_path, audit_signing_key="hsm")


async def test_the_file_key_is_made_in_the_data_folder_and_registered(
    tmp_path: Path, db: Database
) -> None:
    token = MemoryToken()
    key = await open_log_signing_key(settings(tmp_path), db, NAME, MemoryTokenKeys(token))
    assert isinstance(key, FileLogSigningKey)
    assert (tmp_path / "keys" / KEY_FILE_NAME).is_file()
    assert await registered_signing_key(db, NAME) == key.public_key
    assert token.pairs == []


async def test_the_token_key_is_made_once_and_no_key_file_is_written(
    tmp_path: Path, db: Database
) -> None:
    token = MemoryToken()
    hsm = settings(tmp_path, key_provider="pkcs11")
    first = await open_log_signing_key(hsm, db, NAME, MemoryTokenKeys(token))
    again = await open_log_signing_key(hsm, db, NAME, MemoryTokenKeys(token))
    assert isinstance(first, TokenLogSigningKey)
    assert again.public_key == first.public_key
    assert [pair.label for pair in token.pairs] == [LABEL]
    assert await registered_signing_key(db, NAME) == first.public_key
    assert not (tmp_path / "keys" / KEY_FILE_NAME).exists()


async def test_two_hosts_making_the_key_at_once_end_with_the_registered_one(
    tmp_path: Path, db: Database
) -> None:
    # Each gateway (its own host, its own data folder) looks, finds nothing and makes a pair
    # while the other makes its own; the database's registration decides.
    token = MemoryToken(create_delay=0.2)
    hosts = [settings(tmp_path / h, key_provider="pkcs11") for h in ("a", "b")]
    gateways = [MemoryTokenKeys(token), MemoryTokenKeys(token)]
    keys = await asyncio.gather(
        *(open_log_signing_key(h, db, NAME, g) for h, g in zip(hosts, gateways, strict=True))
    )
    assert [len(g.created) for g in gateways] == [1, 1]  # the race did happen
    assert keys[0].public_key == keys[1].public_key
    assert await registered_signing_key(db, NAME) == keys[0].public_key
    assert [pair.public_key for pair in token.pairs] == [keys[0].public_key]  # loser's gone


async def test_the_workers_of_one_host_take_turns_and_make_one_pair(
    tmp_path: Path, db: Database
) -> None:
    token = MemoryToken(create_delay=0.2)
    hsm = settings(tmp_path, key_provider="pkcs11")
    workers = [MemoryTokenKeys(token), MemoryTokenKeys(token)]
    keys = await asyncio.gather(*(open_log_signing_key(hsm, db, NAME, w) for w in workers))
    assert sorted(len(w.created) for w in workers) == [0, 1]
    assert keys[0].public_key == keys[1].public_key
    assert len(token.pairs) == 1


async def test_a_registered_key_file_is_not_replaced_by_a_token_key(
    tmp_path: Path, db: Database
) -> None:
    token = MemoryToken()
    filed = await open_log_signing_key(settings(tmp_path), db, NAME, MemoryTokenKeys(token))
    hsm = settings(tmp_path, key_provider="pkcs11")
    with pytest.raises(ConfigurationError, match='set audit_signing_key = "file"'):
        await open_log_signing_key(hsm, db, NAME, MemoryTokenKeys(token))
    assert token.pairs == []
    assert await registered_signing_key(db, NAME) == filed.public_key
    kept = settings(tmp_path, key_provider="pkcs11", audit_signing_key="file")
    key = await open_log_signing_key(kept, db, NAME, MemoryTokenKeys(token))
    assert key.public_key == filed.public_key


async def test_a_stray_key_file_that_is_not_the_region_key_does_not_stop_the_token(
    tmp_path: Path, db: Database
) -> None:
    hsm = settings(tmp_path, key_provider="pkcs11")
    token = MemoryToken()
    key = await open_log_signing_key(hsm, db, NAME, MemoryTokenKeys(token))
    FileLogSigningKey.load_or_create(tmp_path / "keys" / KEY_FILE_NAME, NAME)
    again = await open_log_signing_key(hsm, db, NAME, MemoryTokenKeys(token))
    assert again.public_key == key.public_key


async def test_a_token_without_the_registered_key_is_refused(tmp_path: Path, db: Database) -> None:
    await claim_signing_key(db, NAME, bytes(32))  # another token's key
    hsm = settings(tmp_path, key_provider="pkcs11", pkcs11_token_label="other")
    with pytest.raises(SigningKeyMismatch, match="PKCS#11 token 'other'"):
        await open_log_signing_key(hsm, db, NAME, MemoryTokenKeys(MemoryToken()))


async def test_a_token_without_ed25519_is_a_configuration_error(
    tmp_path: Path, db: Database
) -> None:
    hsm = settings(tmp_path, key_provider="pkcs11")
    token = MemoryTokenKeys(MemoryToken(offers_ed25519=False))
    with pytest.raises(ConfigurationError, match=r"audit_signing_key = hsm: .*no Ed25519"):
        await open_log_signing_key(hsm, db, NAME, token)
    assert await registered_signing_key(db, NAME) is None
