"""The region's audit log signing key, where the settings put it (decision 0134).

The audit context signs with a :class:`~andromede.audit.signing.LogSigningKey`; the key
management context holds key pairs in the PKCS#11 token. This adapter, at the composition
root, is where they meet. It owns three choices:

- **Where the key lives.** ``audit_signing_key``: ``file`` (``keys/audit-log.key``, made at
  the first start, the embedded default), ``hsm`` (an Ed25519 pair made in the root key
  provider's token, sensitive and not extractable); unset, it follows ``key_provider``. The
  token key signs on the provider's own session: PKCS#11 allows this process one.
- **One key for every gateway.** The token key is found by its label,
  ``andromede-audit-log:<key name>`` (so regions sharing a token keep their keys apart), and
  made when absent, the processes of one host taking turns (a lock file in ``keys/``, for
  SoftHSM2's sake: see :func:`_find_or_create`). Gateways on two hosts starting together may
  each make one; the database decides:
  the first to claim the key name (``audit_signing_keys``) registers the pair it saw first (in
  ``CKA_ID`` order), every gateway then signs with the registered pair, and a gateway whose
  own new pair lost destroys it. A token without the registered key (another token, another
  region's copy of the database) is :class:`SigningKeyMismatch`, as a key file is.
- **The region's key never changes silently.** Verifiers pin the registered key, and the log
  has no key rotation: with the token chosen while the registered key is still the key
  file's, the gateway refuses to start and says to keep the file (``audit_signing_key =
  "file"``) rather than sign with a key nobody trusts. A token without Ed25519
  (``CKM_EDDSA``) or that cannot be used is a :class:`ConfigurationError` at start, its
  message naming the token, never the PIN.
"""

from __future__ import annotations

import asyncio
import fcntl
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from andromede.audit.errors import SigningKeyMismatch
from andromede.audit.signing import (
    KEY_FILE_NAME,
    FileLogSigningKey,
    LogSigningKey,
    TokenLogSigningKey,
)
from andromede.audit.store_sql import (
    claim_signing_key,
    register_signing_key,
    registered_signing_key,
)
from andromede.db.database import Database
from andromede.errors import ConfigurationError
from andromede.kms.errors import ProviderError
from andromede.kms.providers import RootKeyProvider
from andromede.settings import Settings

__all__ = ["AUDIT_KEY_LABEL_PREFIX", "Ed25519KeyPair", "Ed25519KeyPairs", "open_log_signing_key"]

AUDIT_KEY_LABEL_PREFIX = "andromede-audit-log:"
_HOST_LOCK_NAME = ".audit-log-key.lock"


class Ed25519KeyPair(Protocol):
    """A key pair of the token (``kms.hsm_ed25519.TokenEd25519Key``)."""

    @property
    def key_id(self) -> bytes: ...

    @property
    def public_key(self) -> bytes: ...

    def sign(self, message: bytes) -> bytes: ...

    def destroy(self) -> None: ...


@runtime_checkable
class Ed25519KeyPairs(Protocol):
    """What a root key provider with a token offers (``kms.hsm.Pkcs11Provider``)."""

    def ed25519_keys(self, label: str) -> Sequence[Ed25519KeyPair]: ...

    def create_ed25519_key(self, label: str) -> Ed25519KeyPair: ...


async def open_log_signing_key(
    settings: Settings, db: Database, name: str, provider: RootKeyProvider | Ed25519KeyPairs
) -> LogSigningKey:
    """The region's key ``name``, made on first start, checked against the registered one;
    ``provider`` is the root key provider, which with a token also holds Ed25519 pairs."""
    key_file = settings.data_dir / "keys" / KEY_FILE_NAME
    if not settings.audit_signing_key_in_token:
        key = await asyncio.to_thread(FileLogSigningKey.load_or_create, key_file, name)
        await register_signing_key(db, key.name, key.public_key)
        return key
    await _refuse_moving_the_file_key(db, key_file, name)
    if not isinstance(provider, Ed25519KeyPairs):  # the settings' validator refuses this
        raise ConfigurationError("audit_signing_key = hsm needs key_provider = pkcs11")
    try:
        return await _token_key(settings, db, name, provider)
    except ProviderError as exc:
        raise ConfigurationError(f"audit_signing_key = hsm: {exc}") from exc


async def _refuse_moving_the_file_key(db: Database, key_file: Path, name: str) -> None:
    if not await asyncio.to_thread(key_file.exists):
        return
    try:
        file_key = await asyncio.to_thread(FileLogSigningKey.load, key_file, name)
    except ConfigurationError:
        return  # not a key, so not the registered one
    if await registered_signing_key(db, name) == file_key.public_key:
        raise ConfigurationError(
            f"the audit log key {name} is the one in {key_file}, registered in the database"
            " and pinned by its verifiers; the log has no key rotation, so it cannot move into"
            ' the HSM: set audit_signing_key = "file" to keep signing with it (decision 0134)'
        )


async def _token_key(
    settings: Settings, db: Database, name: str, token: Ed25519KeyPairs
) -> TokenLogSigningKey:
    label = AUDIT_KEY_LABEL_PREFIX + name
    lock = settings.data_dir / "keys" / _HOST_LOCK_NAME
    pairs, created = await asyncio.to_thread(_find_or_create, token, label, lock)
    registered = await claim_signing_key(db, name, pairs[0].public_key)
    # Read again after the claim: the registered pair may be one that another gateway made
    # after this one looked, and claimed first.
    pairs = await asyncio.to_thread(token.ed25519_keys, label)
    chosen = next((pair for pair in pairs if pair.public_key == registered), None)
    if chosen is None:
        raise SigningKeyMismatch(
            f"the audit log key {name} registered in the database is in no key pair labelled"
            f" {label!r} of PKCS#11 token {settings.pkcs11_token_label!r}: every gateway of a"
            " region signs with the same token (decision 0134)"
        )
    if created is not None and created.key_id != chosen.key_id:
        await asyncio.to_thread(created.destroy)  # made in a race another gateway won
    return TokenLogSigningKey(name, chosen)


def _find_or_create(
    token: Ed25519KeyPairs, label: str, lock: Path
) -> tuple[Sequence[Ed25519KeyPair], Ed25519KeyPair | None]:
    """The pairs under ``label``, and the one made here if there was none. The processes of
    one host take turns: SoftHSM2 keeps an index of the token per process, refreshed when
    another process wrote, except that a process's own write marks it fresh, so of two pairs
    made at the same moment one process may never see the other's. Gateways on other hosts
    use a network HSM, whose objects every session sees, and the database orders them."""
    lock.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with lock.open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # released when the file is closed
        pairs = token.ed25519_keys(label)
        if pairs:
            return pairs, None
        created = token.create_ed25519_key(label)
        return [created], created
