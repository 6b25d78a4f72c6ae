"""The key-file provider's files and state: the root key file (created once, refused when its
mode is loose), the keystore file read again when it changed (at most every
``recheck_seconds``), and its changes made under ``flock`` and written atomically (temporary
file, fsync, rename, fsync of the directory).

:class:`KeyFileCore` is the base of :class:`~andromede.kms.keyfile.LocalKeyFileProvider` and of
its private-key part; split off ``keyfile.py`` for size (its docstring has the whole design).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import os
import secrets
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from andromede.kms.errors import ProviderError
from andromede.kms.keyfile_keystore import _Keystore

__all__ = ["DEFAULT_KEK_CACHE_SECONDS", "KEYSTORE_FILE", "ROOT_KEY_FILE", "KeyFileCore"]

ROOT_KEY_FILE = "root.key"
KEYSTORE_FILE = "keystore.json"
LOCK_FILE = "keystore.lock"
_ROOT_KEY_PREFIX = b"andromede-root-key-v1:"
_ROOT_KEY_SIZE = 32
DEFAULT_KEK_CACHE_SECONDS = 300.0


class KeyFileCore:
    """The root key, the keystore as last read, the opened KEKs, and the keystore file."""

    def __init__(
        self,
        keys_dir: Path,
        *,
        kek_cache_seconds: float = DEFAULT_KEK_CACHE_SECONDS,
        recheck_seconds: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if kek_cache_seconds < 0 or recheck_seconds < 0:
            raise ValueError("the KEK cache lifetime and the recheck interval must be >= 0")
        self._dir = keys_dir
        self._dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._keystore_path = keys_dir / KEYSTORE_FILE
        # os.stat on a str: Path.stat costs a third more, on every provider call.
        self._keystore_file = str(self._keystore_path)
        self._lock = threading.Lock()
        with self._file_lock():
            self._root = AESGCM(self._load_or_create_root_key())
        self._keystore = _Keystore.empty()
        self._signature: tuple[int, int, int] | None = None
        self._kek_cache_seconds = kek_cache_seconds
        self._recheck_seconds = recheck_seconds
        self._next_check = float("-inf")
        self._clock = clock
        # (tenant, version) -> (expiry, the sealed keystore entry it was opened from, the KEK).
        self._keks: dict[tuple[str, int], tuple[float, bytes, AESGCM]] = {}

    # --- root key file -----------------------------------------------------------------------

    def _load_or_create_root_key(self) -> bytes:
        path = self._dir / ROOT_KEY_FILE
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            if self._keystore_path.exists():
                # A new root key would silently orphan every KEK in the keystore.
                raise ProviderError(f"{path} is missing but {self._keystore_path} exists") from None
            return self._create_root_key(path)
        except OSError as exc:
            raise ProviderError(f"cannot open the root key file {path}: {exc.strerror}") from exc
        with os.fdopen(fd, "rb") as file:
            mode = os.fstat(file.fileno()).st_mode
            if not stat.S_ISREG(mode) or mode & 0o077:
                raise ProviderError(
                    f"{path} must be a regular file readable by its owner only (0600)"
                )
            content = file.read()
        if not content.startswith(_ROOT_KEY_PREFIX):
            raise ProviderError(f"{path} is not an Andromède root key file")
        try:
            key = base64.b64decode(content[len(_ROOT_KEY_PREFIX) :].strip(), validate=True)
        except binascii.Error:
            key = b""
        if len(key) != _ROOT_KEY_SIZE:
            raise ProviderError(f"{path} does not hold a 256-bit key")
        return key

    def _create_root_key(self, path: Path) -> bytes:
        key = secrets.token_bytes(_ROOT_KEY_SIZE)
        self._write_atomically(path, _ROOT_KEY_PREFIX + base64.b64encode(key) + b"\n")
        return key

    # --- keystore file -----------------------------------------------------------------------

    def _current(self, *, force: bool = False) -> _Keystore:
        """The keystore as on disk (at most ``recheck_seconds`` ago, or now with ``force``)."""
        with self._lock:
            self._reload_if_changed(force=force)
            return self._keystore

    def _change(self, change: Callable[[_Keystore], None]) -> _Keystore:
        with self._lock, self._file_lock():
            self._reload_if_changed(force=True)
            keystore = _Keystore(
                {tenant: dict(versions) for tenant, versions in self._keystore.tenants.items()},
                dict(self._keystore.destroyed),
                dict(self._keystore.private),
                {tenant: dict(versions) for tenant, versions in self._keystore.pending.items()},
            )
            change(keystore)
            self._write_atomically(self._keystore_path, keystore.serialise())
            self._keystore, self._signature = keystore, self._stat_signature()
            self._keks.clear()
            return keystore

    def _reload_if_changed(self, *, force: bool = False) -> None:
        now = self._clock()
        if not force and now < self._next_check:
            return
        self._next_check = now + self._recheck_seconds
        signature = self._stat_signature()
        if signature == self._signature:
            return
        if signature is None:
            self._keystore = _Keystore.empty()
        else:
            self._keystore = _Keystore.parse(self._keystore_path.read_bytes())
        self._signature = signature
        # Entries are checked against the new keystore's sealed bytes anyway; dropping them
        # here also frees the KEKs of tenants another worker destroyed.
        self._keks.clear()

    def _stat_signature(self) -> tuple[int, int, int] | None:
        try:
            info = os.stat(self._keystore_file)
        except FileNotFoundError:
            return None
        return (info.st_ino, info.st_size, info.st_mtime_ns)

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        fd = os.open(self._dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _write_atomically(self, path: Path, content: bytes) -> None:
        temporary = self._dir / f".{path.name}.{secrets.token_hex(8)}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            try:
                view = memoryview(content)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        dir_fd = os.open(self._dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
