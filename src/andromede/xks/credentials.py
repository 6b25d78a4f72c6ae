"""SigV4 credentials of the XKS proxy: their formats, their file, and request verification.

Owns:

- the spec's formats (Appendix A and "XKS proxy configuration in AWS KMS console"): an access
  key id of 20 to 30 characters ``A-Z2-7``, a secret of 43 to 64 characters ``A-Za-z0-9+/=``;
  :func:`new_credential` draws a fresh pair from the CSPRNG (26 characters of Base32 over
  128 bits; Base64 of 256 bits);
- the credentials file (TOML or JSON, ``{"credentials": [{"access_key_id": …,
  "secret_access_key": …}, …]}``): one to ten pairs, ids unique, so that two can be valid at
  once while KMS moves from the old to the new (the spec's "SigV4 credentials rotation").
  the server reads it again when it changes on disk (``watched.WatchedFile``): a rotation
  needs no restart;
- :func:`verify_request`: the spec's Appendix A with Andromède's own SigV4 module — the
  Authorization header only (no presigned query), ``host`` and ``x-amz-date`` signed, service
  ``kms-xks-proxy``, the configured region, at most five minutes between the request's time
  and the proxy's, the body's SHA-256 computed here. Every failure is the same
  ``AuthenticationFailedException`` to the caller; why it failed goes to the audit log.

Secrets never leave :class:`Credential` but through :meth:`Credential.secret` (its repr hides
it), and the key id is matched against every configured id with ``hmac.compare_digest``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from andromede.errors import ConfigurationError
from andromede.http import sigv4
from andromede.xks.errors import AuthenticationFailedException

__all__ = [
    "CLOCK_SKEW_SECONDS",
    "SERVICE",
    "Credential",
    "VerifiedRequest",
    "check_private_file",
    "load_credentials",
    "new_credential",
    "verify_request",
]

#: The SigV4 service name of the spec's Appendix A (and of its curl examples).
SERVICE = "kms-xks-proxy"
#: "Any requests more than 5 minutes in the past (or future) SHOULD fail authentication."
CLOCK_SKEW_SECONDS = 300
MAX_CREDENTIALS = 10

_ACCESS_KEY_ID_RE = re.compile(r"[A-Z2-7]{20,30}")
_SECRET_RE = re.compile(r"[A-Za-z0-9+/=]{43,64}")


@dataclass(frozen=True)
class Credential:
    access_key_id: str
    _secret: str = field(repr=False)

    def __post_init__(self) -> None:
        if not _ACCESS_KEY_ID_RE.fullmatch(self.access_key_id):
            raise ValueError("an access key id is 20 to 30 characters of A-Z and 2-7")
        if not _SECRET_RE.fullmatch(self._secret):
            raise ValueError(
                "a secret access key is 43 to 64 characters of A-Z, a-z, 0-9, '+', '/' and '='"
            )

    def secret(self) -> str:
        return self._secret


def new_credential() -> Credential:
    """A fresh pair: 128 random bits as Base32 (26 characters, no padding) for the id, 256
    random bits as Base64 (44 characters) for the secret, as Appendix A suggests."""
    access_key_id = base64.b32encode(secrets.token_bytes(16)).decode("ascii").rstrip("=")
    secret = base64.b64encode(secrets.token_bytes(32)).decode("ascii")
    return Credential(access_key_id, secret)


def check_private_file(path: Path, what: str) -> None:
    """Refuse a secret file that every user of the machine may read or write."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigurationError(f"cannot read the {what} {path}: {exc.strerror}") from None
    if mode & (stat.S_IROTH | stat.S_IWOTH):
        raise ConfigurationError(
            f"the {what} {path} is readable or writable by every user: chmod o-rw it"
        )


def load_credentials(path: Path) -> tuple[Credential, ...]:
    """The credentials of a TOML or JSON file (by its suffix; JSON when ``.json``)."""
    check_private_file(path, "credentials file")
    try:
        text = path.read_text(encoding="utf-8")
        document: Any = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        # ValueError covers JSON and TOML syntax errors; their messages quote at most a line
        # number and a character, never the file's values.
        raise ConfigurationError(
            f"cannot parse the credentials file {path}: {type(exc).__name__}"
        ) from None
    entries = document.get("credentials") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not 1 <= len(entries) <= MAX_CREDENTIALS:
        raise ConfigurationError(
            f"the credentials file {path} must hold 'credentials': a list of 1 to "
            f"{MAX_CREDENTIALS} entries"
        )
    credentials: list[Credential] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or set(entry) != {"access_key_id", "secret_access_key"}:
            raise ConfigurationError(
                f"credentials[{index}] of {path} must have exactly access_key_id and "
                "secret_access_key"
            )
        key_id, secret = entry["access_key_id"], entry["secret_access_key"]
        if not isinstance(key_id, str) or not isinstance(secret, str):
            raise ConfigurationError(f"credentials[{index}] of {path}: values must be strings")
        try:
            credentials.append(Credential(key_id, secret))
        except ValueError as exc:
            raise ConfigurationError(f"credentials[{index}] of {path}: {exc}") from None
    ids = [c.access_key_id for c in credentials]
    if len(set(ids)) != len(ids):
        raise ConfigurationError(f"the credentials file {path} names an access key id twice")
    return tuple(credentials)


@dataclass(frozen=True, slots=True)
class VerifiedRequest:
    """A request whose signature verified: only this reaches the operations."""

    access_key_id: str


def verify_request(
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    body: bytes,
    credentials: tuple[Credential, ...],
    region: str,
    now: datetime,
) -> VerifiedRequest:
    """Appendix A's four tasks; ``AuthenticationFailedException`` (its ``detail`` says why)."""
    if "authorization" not in headers:
        raise _failed("no Authorization header")
    if raw_query:
        raise _failed("a query string: the XKS API takes none")  # no presigned URLs either
    body_hash = hashlib.sha256(body).hexdigest()
    claimed = headers.get("x-amz-content-sha256")
    if claimed is not None and claimed.strip() != body_hash:
        raise _failed("x-amz-content-sha256 is not the body's SHA-256")
    # The XKS API signs its body's hash without sending it (as KMS's own JSON API does).
    signed_headers = {**headers, "x-amz-content-sha256": body_hash}
    try:
        signed = sigv4.parse_authentication(method, raw_path, raw_query, signed_headers)
    except sigv4.SigV4Error as exc:
        raise _failed(f"malformed: {exc.code}") from None
    if signed is None or signed.presigned:
        raise _failed("not signed with the Authorization header")
    if "x-amz-date" not in signed.signed_headers:
        raise _failed("x-amz-date is not signed")
    if signed.service != SERVICE:
        raise _failed(f"the credential scope's service is not {SERVICE}", public=True)
    if signed.region != region:
        raise _failed(f"the credential scope's region is not {region}", public=True)
    secret = _secret_of(signed.access_key_id, credentials)
    if secret is None:
        raise _failed("unknown access key id")
    try:
        sigv4.verify(
            signed,
            secret,
            method=method,
            raw_path=raw_path,
            raw_query=raw_query,
            headers=signed_headers,
            region=region,
            now=now,
            clock_skew=CLOCK_SKEW_SECONDS,
            max_presign_expiry=0,
        )
    except sigv4.SigV4Error as exc:
        # The code alone: the details of a mismatch carry the string to sign, which is
        # harmless but long, and no business of the audit log.
        if exc.code == "RequestTimeTooSkewed":
            raise _failed("the request time is more than 5 minutes from the proxy's",
                          public=True) from None  # fmt: skip
        raise _failed("signature mismatch" if exc.code == "SignatureDoesNotMatch"
                      else f"rejected: {exc.code}") from None  # fmt: skip
    return VerifiedRequest(access_key_id=signed.access_key_id)


def _secret_of(access_key_id: str, credentials: tuple[Credential, ...]) -> str | None:
    # Every configured id is compared, in constant time, whichever matches.
    found: str | None = None
    claimed = access_key_id.encode("utf-8", "surrogateescape")
    for credential in credentials:
        if hmac.compare_digest(credential.access_key_id.encode("ascii"), claimed):
            found = credential.secret()
    return found


def _failed(detail: str, *, public: bool = False) -> AuthenticationFailedException:
    """The failure; its reason is told to the caller only where it helps to fix a
    configuration (clock, region, service) and tells nothing of the credentials."""
    if public:
        return AuthenticationFailedException(f"{detail}.", detail=detail)
    return AuthenticationFailedException(detail=detail)
