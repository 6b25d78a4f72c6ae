"""The region's audit log signing key, where the settings put it (decision 0134), and its
rotation (decision 0140).

The audit context signs with a :class:`~andromede.audit.signing.LogSigningKey`; the key
management context holds key pairs in the PKCS#11 token. This adapter, at the composition
root, is where they meet. It owns four choices:

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
- **The region's key never changes silently.** Verifiers pin the registered key: with the
  token chosen while the registered key is still a key file of ``keys/``, the gateway refuses
  to start and says to keep the file (``audit_signing_key = "file"``) or to rotate into the
  token, rather than sign with a key nobody vouched for. A token without Ed25519
  (``CKM_EDDSA``) or that cannot be used is a :class:`ConfigurationError` at start, its
  message naming the token, never the PIN.
- **Rotation, and the registry deciding.** :func:`rotate_log_signing_key` makes the new key (a
  key file ``keys/audit-log.<key ID>.key`` or a pair in the token) and records the transition
  both keys sign (``audit.key_registry``); once a key is registered, a gateway signs with it
  wherever it holds it (a key file of ``keys/``, else the token), whatever the setting, and
  :class:`RegisteredKeys` follows a rotation under a running gateway.
- **Sharing a rotated key file, and rotating on schedule** (decision 0140's addendum). A
  rotation to a key file (but one for a compromise) records the new seed sealed under the
  region's ``secrets.key`` (AES-256-GCM, the key name and public key as associated data) with
  the new current key; a gateway that does not hold the registered key opens that copy with
  its own ``secrets.key``, which every gateway of a region shares already, and installs the
  file in its ``keys/``. So no one copies key files, and the database alone never signs.
  :class:`ScheduledRotation` rotates the key once it is ``audit_key_rotation_days`` old, to the
  same kind of key, the gateway that claims it first (:func:`claim_rotation`) alone.
- **Retired key files go** (decision 0140's second addendum). :class:`RetiredKeyFiles` removes
  each gateway's own key file of a key a rotation replaced, once ``audit_old_key_retention``
  has passed since, never the registered key's; the public half stays in the registry.
"""

from __future__ import annotations

import asyncio
import base64
import fcntl
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final, Literal, Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag

from andromede.audit.errors import SigningKeyMismatch
from andromede.audit.key_registry import (
    RotationConflict,
    claim_rotation,
    key_transitions,
    record_rotation,
    registered_key,
    retired_keys,
)
from andromede.audit.note import format_verifier_key
from andromede.audit.signing import (
    KEY_FILE_GLOB,
    KEY_FILE_NAME,
    PUBLIC_KEY_FILE_NAME,
    FileLogSigningKey,
    LogSigningKey,
    TokenLogSigningKey,
    publish_verifier_key,
)
from andromede.audit.store_sql import (
    claim_signing_key,
    register_signing_key,
    registered_signing_key,
)
from andromede.audit.transition import KeyTransition, sign_with_both
from andromede.db.database import Database
from andromede.errors import ConfigurationError
from andromede.iam.secrets import SecretSealer
from andromede.kms.errors import ProviderError
from andromede.kms.providers import RootKeyProvider
from andromede.settings import Settings

__all__ = [
    "AUDIT_KEY_LABEL_PREFIX",
    "ROTATION_CLAIM",
    "Ed25519KeyPair",
    "Ed25519KeyPairs",
    "RegisteredKeys",
    "RetiredKeyFiles",
    "Rotation",
    "ScheduledRotation",
    "open_log_signing_key",
    "registered_log_signing_key",
    "rotate_log_signing_key",
    "seal_key",
]

log = logging.getLogger(__name__)

AUDIT_KEY_LABEL_PREFIX = "andromede-audit-log:"
_HOST_LOCK_NAME = ".audit-log-key.lock"
_SECRETS_KEY_NAME = "secrets.key"
# How long a gateway's claim of a due rotation keeps the others off: far longer than a rotation
# takes (two signatures per log), short enough that one that died is replaced the same hour.
ROTATION_CLAIM: Final = timedelta(minutes=15)


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
    """The region's key ``name``, made on first start, checked against the one registered;
    ``provider`` is the root key provider, which with a token also holds Ed25519 pairs. Once
    a key is registered the registry decides which key signs, wherever this gateway holds it:
    a key file of ``keys/`` or, after a rotation into the token (decision 0140), a pair there."""
    keys = settings.data_dir / "keys"
    registered = await registered_signing_key(db, name)
    if registered is not None:
        filed = await asyncio.to_thread(_key_file_of, keys, name, registered)
        if filed is not None and settings.audit_signing_key_in_token:
            raise ConfigurationError(
                f"the audit log key {name} is the one in {filed[0]}, registered in the database"
                " and pinned by its verifiers, so it does not silently move into the HSM: set"
                ' audit_signing_key = "file" to keep signing with it, or move it with'
                " 'andromede admin audit-key rotate --to hsm' (decisions 0134, 0140)"
            )
        if filed is not None:
            return filed[1]
        if not settings.audit_signing_key_in_token and isinstance(provider, Ed25519KeyPairs):
            pair = await _token_pair(provider, name, registered)
            if pair is not None:  # rotated into the token while this setting kept the file
                return TokenLogSigningKey(name, pair)
        if not settings.audit_signing_key_in_token:
            unsealed = await _unsealed_key(settings, db, name, registered)
            if unsealed is not None:  # a rotation's key file, not copied here yet
                return unsealed
    if not settings.audit_signing_key_in_token:
        key_file = keys / KEY_FILE_NAME
        key = await asyncio.to_thread(FileLogSigningKey.load_or_create, key_file, name)
        await register_signing_key(db, key.name, key.public_key)
        return key
    if not isinstance(provider, Ed25519KeyPairs):  # the settings' validator refuses this
        raise ConfigurationError("audit_signing_key = hsm needs key_provider = pkcs11")
    try:
        return await _token_key(settings, db, name, provider)
    except ProviderError as exc:
        raise ConfigurationError(f"audit_signing_key = hsm: {exc}") from exc


def _key_file_of(keys: Path, name: str, public_key: bytes) -> tuple[Path, LogSigningKey] | None:
    """The key file of ``keys/`` (``audit-log.key``, or one a rotation wrote) holding the
    private half of ``public_key``; None if none does. A file that is not a key is skipped."""
    for path in sorted(keys.glob(KEY_FILE_GLOB)):
        try:
            key = FileLogSigningKey.load(path, name)
        except (ConfigurationError, OSError):
            continue
        if key.public_key == public_key:
            return path, key
    return None


async def _token_pair(
    token: Ed25519KeyPairs, name: str, public_key: bytes
) -> Ed25519KeyPair | None:
    try:
        pairs = await asyncio.to_thread(token.ed25519_keys, AUDIT_KEY_LABEL_PREFIX + name)
    except ProviderError as exc:
        raise ConfigurationError(f"the audit log key in the HSM: {exc}") from exc
    return next((pair for pair in pairs if pair.public_key == public_key), None)


async def registered_log_signing_key(
    settings: Settings,
    name: str,
    provider: RootKeyProvider | Ed25519KeyPairs,
    public_key: bytes,
    db: Database | None = None,
) -> LogSigningKey:
    """The registered key ``public_key`` wherever this gateway holds it: a key file of
    ``keys/``, else a pair of the token, else (with ``db``) the registry's sealed copy,
    installed in ``keys/``. SigningKeyMismatch when none holds it."""
    keys = settings.data_dir / "keys"
    filed = await asyncio.to_thread(_key_file_of, keys, name, public_key)
    if filed is not None:
        return filed[1]
    if isinstance(provider, Ed25519KeyPairs):
        pair = await _token_pair(provider, name, public_key)
        if pair is not None:
            return TokenLogSigningKey(name, pair)
    if db is not None:
        unsealed = await _unsealed_key(settings, db, name, public_key)
        if unsealed is not None:
            return unsealed
    verifier_key = format_verifier_key(name, public_key)
    raise SigningKeyMismatch(
        f"the audit log key {name} registered in the database ({verifier_key})"
        f" is in no key file of {keys} and in no key pair of this gateway's PKCS#11 token, and"
        " this gateway's secrets.key opens no sealed copy of it: copy the key file a rotation"
        " wrote to every gateway, or the region's secrets.key (decision 0140)"
    )


def seal_key(settings: Settings, key: FileLogSigningKey) -> str:
    """``key``'s seed sealed under the data folder's ``secrets.key`` for the registry."""
    sealer = SecretSealer.from_key_file(settings.data_dir / "keys" / _SECRETS_KEY_NAME)
    return sealer.seal(_seal_id(key.name, key.public_key), base64.b64encode(key.seed()).decode())


def _seal_id(name: str, public_key: bytes) -> str:
    # The associated data: a sealed seed opens only as the key it was sealed for.
    return f"andromede-audit-log-key:{name}:{public_key.hex()}"


async def _unsealed_key(
    settings: Settings, db: Database, name: str, public_key: bytes
) -> LogSigningKey | None:
    """The registered key from its sealed copy, installed as a key file of ``keys/``; None
    without a copy, or when this gateway's ``secrets.key`` does not open it."""
    record = await registered_key(db, name)
    if record is None or record.public_key != public_key or record.sealed is None:
        return None
    sealed = record.sealed
    keys = settings.data_dir / "keys"

    def install() -> LogSigningKey | None:
        try:
            sealer = SecretSealer((keys / _SECRETS_KEY_NAME).read_bytes())
            seed = base64.b64decode(sealer.unseal(_seal_id(name, public_key), sealed))
        except (OSError, ValueError, InvalidTag):
            log.error("the audit log key's sealed copy does not open with %s", keys / "secrets.key")
            return None
        path, key = FileLogSigningKey.create_new(keys, name, seed)
        log.warning("audit log key %s installed from the registry in %s", key.verifier_key, path)
        return key

    return await asyncio.to_thread(install)


class RegisteredKeys:
    """The trail's :class:`~andromede.audit.trail.SigningKeys` over the registry: the key
    opened at start until the registry names another (a rotation by ``andromede admin
    audit-key rotate``, decision 0140), then that one, found in ``keys/`` or in the token, its
    verifier key published again. Every gateway learns the new key this way, at its next
    checkpoint, with no restart."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        key: LogSigningKey,
        provider: RootKeyProvider | Ed25519KeyPairs,
    ) -> None:
        self._settings = settings
        self._db = db
        self._key = key
        self._provider = provider
        self._switching = asyncio.Lock()

    async def current(self) -> LogSigningKey:
        registered = await registered_signing_key(self._db, self._key.name)
        if registered is None or registered == self._key.public_key:
            return self._key
        async with self._switching:
            if registered != self._key.public_key:
                key = await registered_log_signing_key(
                    self._settings, self._key.name, self._provider, registered, self._db
                )
                path = self._settings.data_dir / PUBLIC_KEY_FILE_NAME
                await asyncio.to_thread(publish_verifier_key, key, path)
                log.warning("audit log signing key rotated: now %s", key.verifier_key)
                self._key = key
        return self._key

    async def transitions(self, log_id: str) -> Sequence[KeyTransition]:
        return await key_transitions(self._db, self._key.name, log_id)


async def _undo_unless_registered(
    db: Database, name: str, public_key: bytes, undo: Callable[[], None]
) -> None:
    """Remove a failed rotation's new key, unless the rotation committed after all (a
    connection lost after the commit): a stray key harms nothing, a registered key gone would
    stop every gateway signing. When the registry cannot be read, the key stays."""
    try:
        registered = await registered_signing_key(db, name)
    except Exception:
        log.warning("audit log key rotation failed; its new key is kept (registry unreadable)")
        return
    if registered != public_key:
        await asyncio.to_thread(undo)


@dataclass(frozen=True, slots=True)
class Rotation:
    generation: int
    old: str  # verifier keys
    new: str
    where: str  # the new key's file, or the token's label


async def rotate_log_signing_key(
    settings: Settings,
    db: Database,
    name: str,
    provider: RootKeyProvider | Ed25519KeyPairs,
    *,
    to: Literal["file", "hsm"] | None,
    reason: str,
    from_key: bytes | None = None,
    now: datetime | None = None,
) -> Rotation:
    """Replace the region's key by a new one, in a new key file of ``keys/`` or made in the
    token (``to``; None: where the current key is): the transition statement and every log's
    checkpoint at its current size signed by both keys, recorded with the new current key in
    one transaction (decision 0140), and a new key file's seed sealed for the other gateways
    unless the reason is a compromise (the folder, ``secrets.key`` with it, may be what was
    stolen). The running gateways switch at their next checkpoint. A new key of a rotation
    that failed is removed again. ``from_key``: RotationConflict unless it is the current key;
    ``now``: when the new key starts (a scheduled rotation's clock)."""
    registered = await registered_signing_key(db, name)
    if registered is None:
        raise ConfigurationError(f"no audit log key {name} is registered yet: nothing to rotate")
    if from_key is not None and registered != from_key:
        raise RotationConflict(f"the audit log key {name} was rotated meanwhile")
    old = await registered_log_signing_key(settings, name, provider, registered, db)
    if to is None:
        to = "hsm" if isinstance(old, TokenLogSigningKey) else "file"
    new: LogSigningKey
    undo: Callable[[], None]
    sealed: str | None = None
    if to == "file":
        path, made = await asyncio.to_thread(
            FileLogSigningKey.create_new, settings.data_dir / "keys", name
        )
        new, where, undo = made, str(path), path.unlink
        if reason != "compromise":
            sealed = await asyncio.to_thread(seal_key, settings, made)
    else:
        if not isinstance(provider, Ed25519KeyPairs):
            raise ConfigurationError("a rotation into the HSM needs key_provider = pkcs11")
        label = AUDIT_KEY_LABEL_PREFIX + name
        try:
            pair = await asyncio.to_thread(provider.create_ed25519_key, label)
        except ProviderError as exc:
            raise ConfigurationError(f"the audit log key in the HSM: {exc}") from exc
        new, where, undo = TokenLogSigningKey(name, pair), f"PKCS#11 label {label}", pair.destroy

    def sign_both(text: str, note_name: str) -> str:
        return sign_with_both(text, note_name, [old.sign, new.sign])

    try:
        generation = await record_rotation(
            db, name, old.public_key, new.public_key, reason, sign_both, sealed=sealed, now=now
        )
    except BaseException:
        await _undo_unless_registered(db, name, new.public_key, undo)
        raise
    path = settings.data_dir / PUBLIC_KEY_FILE_NAME
    await asyncio.to_thread(publish_verifier_key, new, path)
    return Rotation(generation, old.verifier_key, new.verifier_key, where)


class ScheduledRotation:
    """Rotate the region's key once it is ``audit_key_rotation_days`` old (decision 0140's
    addendum), to the same kind of key, with the reason ``scheduled``. Every gateway runs it;
    the first to claim the due rotation (:func:`claim_rotation`, until :data:`ROTATION_CLAIM`
    from now) makes the new key, the others find the claim taken — or, past it, the key
    rotated. A claimant that failed leaves its claim to expire: the next pass after that
    tries again. ``clock``: the time of each pass (tests move it)."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        name: str,
        provider: RootKeyProvider | Ed25519KeyPairs,
        *,
        on_rotation: Callable[[Rotation], None] = lambda rotation: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._settings = settings
        self._db = db
        self._name = name
        self._provider = provider
        self._on_rotation = on_rotation
        self._clock = clock

    async def run_forever(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # a failed pass must not end the loop; the next one retries
                log.exception("scheduled rotation of the audit log key failed")
            await asyncio.sleep(self._settings.audit_key_rotation_check_interval)

    async def run_once(self) -> Rotation | None:
        """The rotation this pass made; None when none was due or another gateway has it."""
        days = self._settings.audit_key_rotation_days
        now = self._clock()
        current = await registered_key(self._db, self._name)
        if days <= 0 or current is None or now - current.created_at < timedelta(days=days):
            return None
        key = current.public_key
        if not await claim_rotation(self._db, self._name, key, now, now + ROTATION_CLAIM):
            return None  # another gateway's claim runs, or the key changed meanwhile
        try:
            rotation = await rotate_log_signing_key(
                self._settings, self._db, self._name, self._provider,
                to=None, reason="scheduled", from_key=key, now=now,
            )  # fmt: skip
        except RotationConflict:
            return None  # an operator's rotation won meanwhile
        log.warning(
            "audit log key rotated on schedule (%d days): generation %d, now %s",
            days, rotation.generation, rotation.new,
        )  # fmt: skip
        self._on_rotation(rotation)
        return rotation


class RetiredKeyFiles:
    """Remove this gateway's key files of retired keys (decision 0140's second addendum).

    A rotation away from a key file leaves the old key's private half in every gateway's
    ``keys/``, where it signs nothing more (a gateway reads the registry before each
    checkpoint and signs only with the registered key) and helps only a thief. Each gateway
    removes its own copy once the rotation is ``audit_old_key_retention`` old: a file is
    removed only when its key is the *old* key of a recorded transition, retired that long,
    and not the registered current key (read again just before). Files of keys the registry
    does not name as retired (a rotation's new key that lost, another region's) are left
    alone. The unlink is made durable by an ``fsync`` of the folder; the bytes are not
    overwritten first, which on journalled, copy-on-write or flash storage would not reach the
    old blocks anyway. The public half stays where verifiers find it: in the registry's
    transitions, and so in every trail. ``clock``: the time of each pass (tests move it)."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        name: str,
        *,
        on_removed: Callable[[Path, str], None] = lambda path, verifier_key: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._settings = settings
        self._db = db
        self._name = name
        self._on_removed = on_removed
        self._clock = clock

    async def run_forever(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # a failed pass must not end the loop; the next one retries
                log.exception("removing retired audit log key files failed")
            await asyncio.sleep(self._settings.audit_key_rotation_check_interval)

    async def run_once(self) -> list[Path]:
        """The key files this pass removed."""
        keys = self._settings.data_dir / "keys"
        if not await asyncio.to_thread(lambda: any(keys.glob(KEY_FILE_GLOB))):
            return []  # nothing to remove here (a token region): no read of the registry
        retention = timedelta(seconds=self._settings.audit_old_key_retention)
        now = self._clock()
        due = {
            retired.public_key
            for retired in await retired_keys(self._db, self._name)
            if now - retired.retired_at >= retention
        }
        current = await registered_signing_key(self._db, self._name)
        due.discard(current or b"")
        if current is None or not due:
            return []
        removed = await asyncio.to_thread(_remove_key_files, keys, self._name, due, current)
        for path, verifier_key in removed:
            log.warning("retired audit log key %s: its key file %s removed", verifier_key, path)
            self._on_removed(path, verifier_key)
        return [path for path, _ in removed]


def _remove_key_files(
    keys: Path, name: str, due: set[bytes], current: bytes
) -> list[tuple[Path, str]]:
    """Unlink the key files of ``keys/`` holding a key of ``due`` (never ``current``), then
    ``fsync`` the folder so that the removal survives a crash."""
    removed: list[tuple[Path, str]] = []
    for path in sorted(keys.glob(KEY_FILE_GLOB)):
        try:
            key = FileLogSigningKey.load(path, name)
        except (ConfigurationError, OSError):
            continue  # not a key file (or gone): never removed on a guess
        if key.public_key not in due or key.public_key == current:
            continue
        try:
            path.unlink()
        except FileNotFoundError:
            continue  # another worker of this data folder removed it first
        removed.append((path, key.verifier_key))
    if removed:
        fd = os.open(keys, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return removed


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
