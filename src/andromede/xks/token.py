"""The XKS proxy's keys: AES-256 secret keys of one PKCS#11 token (python-pkcs11).

Owns every call to the token, for the server and for the key commands alike:

- **Keys.** An external key is a secret-key object of type ``CKK_AES`` whose ``CKA_LABEL`` is
  its externalKeyId. :meth:`Token.create_key` makes one with ``C_GenerateKey`` inside the
  token: 256 bits, ``CKA_TOKEN``, ``CKA_PRIVATE``, ``CKA_SENSITIVE``, not
  ``CKA_EXTRACTABLE``, ``CKA_ENCRYPT`` and ``CKA_DECRYPT`` and no other use. Its bytes never
  leave the token; encryption and decryption are ``C_Encrypt``/``C_Decrypt`` with
  ``CKM_AES_GCM`` inside it (12-byte IV drawn here from ``os.urandom``, 128-bit tag; the
  16-byte IVs the spec allows are accepted on decryption). Deleting a key is
  ``C_DestroyObject``: every ciphertext under it is then unreadable, by anyone, for good.
- **Usage and status**, read from the token on every request (nothing is cached, so a key
  disabled or deleted by ``andromede xks-proxy disable-key``/``delete-key`` in another process
  stops working at the next request):
  ``keyUsage`` lists ``ENCRYPT`` and ``DECRYPT`` as the key's ``CKA_ENCRYPT``/``CKA_DECRYPT``
  say (and ``WRAP``, ``UNWRAP``, ``SIGN``, ``VERIFY``, ``DERIVE`` where a key made by another
  tool has them). A key is ``DISABLED`` when a marker exists for it — a data object labelled
  ``andromede-xks-disabled:<externalKeyId>`` holding the usages it had — whose creation
  also clears ``CKA_ENCRYPT`` and ``CKA_DECRYPT``, so that the token itself refuses the key
  whatever a proxy asks; enabling restores them, then removes the marker (a crash between
  the two leaves the key disabled, the safe side). A key that is extractable or not sensitive
  (made by another tool) is reported ``DISABLED`` too, and never used: this proxy serves
  only keys that cannot leave the token.
- **Health.** :meth:`Token.health_check` encrypts and decrypts with a session key generated
  in the token for that purpose (``CKA_TOKEN`` false, label ``xks-proxy:health``, a label no
  externalKeyId can name), as the spec advises: a deep check that never touches a customer key.

One logged-in session is used by one thread at a time (python-pkcs11 initialises the library
without locking, see ``kms.hsm``); the server calls a :class:`Token` from a single executor
thread. A session that the library reports lost (device removed, session closed) is opened
again at the next call.

Errors are the spec's: ``KeyNotFoundException``, ``InvalidStateException`` (disabled,
unprotected, or two objects with one label), ``InvalidKeyUsageException``,
``InvalidCiphertextException`` (a tag that does not authenticate), ``InternalException`` for
a failure of the token, which names its PKCS#11 error class and nothing else.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11.exceptions import (
    DeviceError,
    DeviceRemoved,
    EncryptedDataInvalid,
    EncryptedDataLenRange,
    GeneralError,
    KeyHandleInvalid,
    NoSuchToken,
    ObjectHandleInvalid,
    PinIncorrect,
    PKCS11Error,
    SessionClosed,
    SessionHandleInvalid,
    TokenNotPresent,
    TokenNotRecognised,
    UserAlreadyLoggedIn,
    UserNotLoggedIn,
)
from pkcs11.mechanisms import GCMParams

from andromede.errors import ConfigurationError
from andromede.xks.errors import (
    InternalException,
    InvalidCiphertextException,
    InvalidKeyUsageException,
    InvalidStateException,
    KeyNotFoundException,
    ValidationException,
)
from andromede.xks.model import NONCE_SIZE, TAG_SIZE, check_key_id

__all__ = ["KEY_SPEC", "KeyInfo", "Token", "TokenDescription"]

KEY_SPEC = "AES_256"
_DISABLED_PREFIX = "andromede-xks-disabled:"
_HEALTH_LABEL = "xks-proxy:health"
_USAGES = (
    (Attribute.ENCRYPT, "ENCRYPT"),
    (Attribute.DECRYPT, "DECRYPT"),
    (Attribute.WRAP, "WRAP"),
    (Attribute.UNWRAP, "UNWRAP"),
    (Attribute.SIGN, "SIGN"),
    (Attribute.VERIFY, "VERIFY"),
    (Attribute.DERIVE, "DERIVE"),
)
# The library lost the session or the device: open a new session at the next call.
_SESSION_LOST = (
    SessionHandleInvalid, SessionClosed, DeviceRemoved, DeviceError, TokenNotPresent,
    TokenNotRecognised, UserNotLoggedIn,
)  # fmt: skip
# The key object went away under a handle found a moment ago (deleted by another process).
_STALE = (ObjectHandleInvalid, KeyHandleInvalid)


@dataclass(frozen=True, slots=True)
class KeyInfo:
    key_id: str
    key_spec: str  # AES_256, or AES_128/AES_192 for a key another tool made
    key_usage: tuple[str, ...]
    disabled: bool  # a disabled marker exists
    protected: bool  # sensitive and not extractable

    @property
    def key_status(self) -> str:
        return "ENABLED" if self.protected and not self.disabled else "DISABLED"


@dataclass(frozen=True, slots=True)
class TokenDescription:
    """What GetHealthStatus and the logs say of the token (nothing secret)."""

    manufacturer: str
    model: str
    serial: str
    label: str
    hardware_version: str
    firmware_version: str
    library: str


class Token:
    """One logged-in session on the token labelled ``token_label`` of a PKCS#11 module."""

    def __init__(self, module_path: str, token_label: str, pin: str) -> None:
        self._module_path = module_path
        self._token_label = token_label
        self._pin = pin
        self._lock = threading.Lock()
        self._session: Any = None
        self._token: Any = None
        self._health_key: Any | None = None
        with self._lock:
            self._open()

    # --- session ---------------------------------------------------------------------------

    def _open(self) -> None:
        try:
            library = pkcs11.lib(self._module_path)
            token = library.get_token(token_label=self._token_label)
            try:
                session = token.open(rw=True, user_pin=self._pin)
            except UserAlreadyLoggedIn:  # login is per process: another session holds it
                session = token.open(rw=True)
        except NoSuchToken:
            raise ConfigurationError(f"no PKCS#11 token labelled {self._token_label!r}") from None
        except PinIncorrect:
            raise ConfigurationError(
                f"the PIN of PKCS#11 token {self._token_label!r} is wrong"
            ) from None
        except (PKCS11Error, RuntimeError, OSError) as exc:
            raise ConfigurationError(
                f"cannot open PKCS#11 token {self._token_label!r}: {type(exc).__name__}"
            ) from None
        self._token, self._session, self._health_key = token, session, None

    @contextlib.contextmanager
    def _session_errors(self) -> Iterator[Any]:
        """The session, reopened first if the last call lost it; a library failure becomes
        InternalException (and marks the session lost when it is)."""
        with self._lock:
            if self._session is None:
                try:
                    self._open()
                except ConfigurationError as exc:
                    raise InternalException(f"The token is unavailable: {exc}") from None
            try:
                yield self._session
            except _SESSION_LOST as exc:
                self._drop_session()
                raise InternalException(
                    f"The token session was lost: {type(exc).__name__}."
                ) from None
            except PKCS11Error as exc:
                raise InternalException(f"The token failed: {type(exc).__name__}.") from None

    def _drop_session(self) -> None:
        session, self._session, self._health_key = self._session, None, None
        with contextlib.suppress(PKCS11Error, RuntimeError):
            session.close()

    def close(self) -> None:
        with self._lock:
            if self._session is not None:
                self._drop_session()

    # --- reading -----------------------------------------------------------------------------

    def describe(self) -> TokenDescription:
        with self._session_errors():
            token = self._token
            library = pkcs11.lib(self._module_path)
            return TokenDescription(
                manufacturer=str(token.manufacturer_id).strip(),
                model=str(token.model).strip(),
                serial=_text(token.serial),
                label=str(token.label).strip(),
                hardware_version=_version(token.hardware_version),
                firmware_version=_version(token.firmware_version),
                library=f"{str(library.library_description).strip()} "
                f"{_version(library.library_version)}",
            )

    def key_info(self, key_id: str) -> KeyInfo:
        with self._session_errors() as session:
            key = self._find(session, key_id)
            return self._info(session, key_id, key)

    def list_keys(self) -> list[KeyInfo]:
        """Every AES secret key of the token whose label is a valid externalKeyId."""
        with self._session_errors() as session:
            labels: list[str] = []
            for found in session.get_objects(
                {Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType.AES,
                 Attribute.TOKEN: True}
            ):  # fmt: skip
                label = found[Attribute.LABEL]
                with contextlib.suppress(ValidationException):
                    labels.append(check_key_id(label))
            infos = []
            for label in sorted(set(labels)):
                with contextlib.suppress(InvalidStateException, KeyNotFoundException):
                    infos.append(self._info(session, label, self._find(session, label)))
            return infos

    def _find(self, session: Any, key_id: str) -> Any:
        found = list(
            session.get_objects(
                {Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.LABEL: key_id,
                 Attribute.TOKEN: True}
            )
        )  # fmt: skip
        if not found:
            raise KeyNotFoundException()
        if len(found) > 1:
            # The spec requires an externalKeyId to name one key unambiguously.
            raise InvalidStateException(
                "More than one object of the token has this label; the key is blocked."
            )
        key: Any = found[0]
        return key

    def _info(self, session: Any, key_id: str, key: Any) -> KeyInfo:
        try:
            key_type = key[Attribute.KEY_TYPE]
            length = key[Attribute.VALUE_LEN] if key_type == KeyType.AES else 0
            usage = tuple(name for attribute, name in _USAGES if _flag(key, attribute))
            protected = bool(key[Attribute.SENSITIVE]) and not bool(key[Attribute.EXTRACTABLE])
        except _STALE:
            raise KeyNotFoundException() from None
        if key_type != KeyType.AES:
            # A secret key of another type (HMAC, DES…) is no AES key: this proxy cannot use it.
            key_spec = f"PKCS11_KEY_TYPE_{int(key_type):#x}"
        else:
            key_spec = f"AES_{int(length) * 8}"
        marker = self._disabled_marker(session, key_id)
        if marker is not None:
            # A disabled key shows the usages it will have again once enabled.
            saved = _saved_usages(marker)
            kept = tuple(name for name in usage if name not in ("ENCRYPT", "DECRYPT"))
            usage = tuple(name for name in ("ENCRYPT", "DECRYPT") if saved.get(name)) + kept
        return KeyInfo(key_id, key_spec, usage, marker is not None, protected)

    def _disabled_marker(self, session: Any, key_id: str) -> Any:
        found = list(
            session.get_objects(
                {Attribute.CLASS: ObjectClass.DATA, Attribute.LABEL: _DISABLED_PREFIX + key_id}
            )
        )
        return found[0] if found else None

    # --- cryptography ------------------------------------------------------------------------

    def encrypt(self, key_id: str, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes, bytes]:
        """``(iv, ciphertext, tag)`` of AES-GCM inside the token."""
        iv = os.urandom(NONCE_SIZE)
        with self._session_errors() as session:
            key = self._usable(session, key_id, "ENCRYPT")
            try:
                sealed = key.encrypt(plaintext, mechanism=Mechanism.AES_GCM,
                                     mechanism_param=_gcm(iv, aad))  # fmt: skip
            except _STALE:
                raise KeyNotFoundException() from None
        if not isinstance(sealed, bytes) or len(sealed) != len(plaintext) + TAG_SIZE:
            raise InternalException("The token returned a ciphertext of an unexpected length.")
        return iv, sealed[:-TAG_SIZE], sealed[-TAG_SIZE:]

    def decrypt(self, key_id: str, iv: bytes, ciphertext: bytes, tag: bytes, aad: bytes) -> bytes:
        with self._session_errors() as session:
            key = self._usable(session, key_id, "DECRYPT")
            try:
                plaintext = key.decrypt(ciphertext + tag, mechanism=Mechanism.AES_GCM,
                                        mechanism_param=_gcm(iv, aad))  # fmt: skip
            except _STALE:
                raise KeyNotFoundException() from None
            except (GeneralError, EncryptedDataInvalid, EncryptedDataLenRange):
                # SoftHSM2 reports a tag that fails as CKR_GENERAL_ERROR, other tokens as
                # CKR_ENCRYPTED_DATA_INVALID: either way nothing authenticated.
                raise InvalidCiphertextException() from None
        if not isinstance(plaintext, bytes) or len(plaintext) != len(ciphertext):
            raise InternalException("The token returned a plaintext of an unexpected length.")
        return plaintext

    def _usable(self, session: Any, key_id: str, usage: str) -> Any:
        key = self._find(session, key_id)
        info = self._info(session, key_id, key)
        if info.disabled:
            raise InvalidStateException("The external key is disabled.")
        if not info.protected:
            raise InvalidStateException(
                "The external key is extractable or not sensitive; this proxy uses only keys "
                "that cannot leave the token."
            )
        if info.key_spec != KEY_SPEC or usage not in info.key_usage:
            raise InvalidKeyUsageException(
                f"The external key ({info.key_spec}) does not allow {usage}."
            )
        return key

    def health_check(self) -> None:
        """An AES-GCM round trip in the token with the session's own test key."""
        probe, aad = os.urandom(32), b"xks-proxy health check"
        iv = os.urandom(NONCE_SIZE)
        with self._session_errors() as session:
            key = self._health_key
            if key is None:
                key = self._health_key = session.generate_key(
                    KeyType.AES, 256, store=False, label=_HEALTH_LABEL,
                    capabilities=MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT,
                    template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False},
                )  # fmt: skip
            sealed = key.encrypt(probe, mechanism=Mechanism.AES_GCM, mechanism_param=_gcm(iv, aad))
            opened = key.decrypt(sealed, mechanism=Mechanism.AES_GCM, mechanism_param=_gcm(iv, aad))
        if opened != probe:
            raise InternalException("The token's health check did not decrypt what it encrypted.")

    # --- administration ------------------------------------------------------------------------

    def create_key(self, key_id: str) -> KeyInfo:
        check_key_id(key_id)
        with self._session_errors() as session:
            if list(session.get_objects({Attribute.LABEL: key_id})):
                raise InvalidStateException(f"The token already has an object labelled {key_id}.")
            session.generate_key(
                KeyType.AES, 256, store=True, label=key_id,
                capabilities=MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT,
                template=_key_template(),
            )  # fmt: skip
            return self._info(session, key_id, self._find(session, key_id))

    def set_enabled(self, key_id: str, enabled: bool) -> KeyInfo:
        with self._session_errors() as session:
            key = self._find(session, key_id)
            marker = self._disabled_marker(session, key_id)
            if enabled and marker is not None:
                saved = _saved_usages(marker)
                key[Attribute.ENCRYPT] = bool(saved.get("ENCRYPT", False))
                key[Attribute.DECRYPT] = bool(saved.get("DECRYPT", False))
                marker.destroy()  # last: a crash before this leaves the key disabled
            elif not enabled and marker is None:
                saved = {"ENCRYPT": _flag(key, Attribute.ENCRYPT),
                         "DECRYPT": _flag(key, Attribute.DECRYPT)}  # fmt: skip
                session.create_object(
                    {Attribute.CLASS: ObjectClass.DATA, Attribute.TOKEN: True,
                     Attribute.PRIVATE: True, Attribute.LABEL: _DISABLED_PREFIX + key_id,
                     Attribute.APPLICATION: "andromede-xks-proxy",
                     Attribute.VALUE: json.dumps(saved).encode()}
                )  # fmt: skip
                key[Attribute.ENCRYPT] = False
                key[Attribute.DECRYPT] = False
            return self._info(session, key_id, key)

    def delete_key(self, key_id: str) -> None:
        """Destroy the key in the token (crypto-shredding), and its disabled marker."""
        with self._session_errors() as session:
            key = self._find(session, key_id)
            key.destroy()
            marker = self._disabled_marker(session, key_id)
            if marker is not None:
                marker.destroy()


def _key_template() -> dict[Attribute, Any]:
    return {
        Attribute.TOKEN: True,
        Attribute.PRIVATE: True,
        Attribute.SENSITIVE: True,
        Attribute.EXTRACTABLE: False,
        Attribute.ENCRYPT: True,
        Attribute.DECRYPT: True,
        Attribute.WRAP: False,
        Attribute.UNWRAP: False,
        Attribute.SIGN: False,
        Attribute.VERIFY: False,
        Attribute.DERIVE: False,
    }


def _gcm(iv: bytes, aad: bytes) -> GCMParams:
    """AES-GCM parameters with a 128-bit tag. python-pkcs11 0.10's constructor refuses IVs
    longer than 12 bytes, which PKCS#11's ``CK_GCM_PARAMS`` (and the spec's 16-byte IVs) allow:
    the value is then built without it, with the same three fields it sets."""
    if len(iv) <= NONCE_SIZE:
        return GCMParams(iv, aad, TAG_SIZE * 8)
    params = GCMParams.__new__(GCMParams)
    params.nonce, params.aad, params.tag_bits = iv, aad, TAG_SIZE * 8
    return params


def _saved_usages(marker: Any) -> dict[str, bool]:
    try:
        saved = json.loads(bytes(marker[Attribute.VALUE]))
    except (ValueError, PKCS11Error):
        return {}
    return {name: saved.get(name) is True for name in ("ENCRYPT", "DECRYPT")}


def _flag(key: Any, attribute: Attribute) -> bool:
    try:
        return bool(key[attribute])
    except _STALE:
        raise
    except PKCS11Error:  # an attribute this object type does not have
        return False


def _version(value: Any) -> str:
    if isinstance(value, tuple):
        return ".".join(str(part) for part in value)
    return str(value)


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("ascii", "replace").strip()
    return str(value).strip()
