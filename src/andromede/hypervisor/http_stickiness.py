"""Application Load Balancers' sticky sessions on the hosts' HTTP proxies (decision 0231): the
cookies a proxy issues and reads to send a client back to the target — or, for a weighted
forward's ``TargetGroupStickinessConfig``, the target group — it was sent to before.

- **Cookies**, AWS's names: ``AWSALB`` and ``AWSALBCORS`` (the same value, the second with
  ``SameSite=None`` for cross-origin requests) for a group's duration-based stickiness,
  reissued with each answer so the duration runs from the last one; ``AWSALBAPP-0`` for
  application-based stickiness, issued only when the target's answer sets the group's
  application cookie (its ``Expires`` seven days on, AWS's; the stickiness itself stale after
  the group's duration); ``AWSALBTG`` and ``AWSALBTGCORS`` for a weighted forward's group.
- **Opaque and sealed**: a cookie's value is AES-256-GCM under the group's own secret (the
  group's ``sticky_key``, made by the service and handed with the view), of the moment it
  goes stale and the target (or group) it names, the cookie's kind as associated data. A
  client can neither read it nor make one: a value that does not open under the group the
  rules chose — forged, or another group's — is no cookie, and the request is balanced as a
  new one. One that opens is followed only while it is not stale and its target is still one
  the group serves (healthy and registered, or the fail-open set): otherwise the request is
  balanced anew and, for ``AWSALB``, the cookie reissued for the new target.
"""

from __future__ import annotations

import base64
import binascii
import os
import struct
from collections.abc import Iterable, Sequence
from email.utils import formatdate
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from andromede.loadbalancing.application import GroupPolicy

__all__ = [
    "APP_COOKIE",
    "APP_COOKIE_LIFETIME",
    "GROUP_COOKIE",
    "LB_COOKIE",
    "open_cookie",
    "request_cookies",
    "seal_cookie",
    "set_cookie",
    "sticky_cookies",
    "sticky_target",
    "target_cookies",
]

LB_COOKIE: Final = "AWSALB"
APP_COOKIE: Final = "AWSALBAPP-0"
GROUP_COOKIE: Final = "AWSALBTG"
# AWS's AWSALBAPP cookie lives seven days whatever the group's duration (that one is in it).
APP_COOKIE_LIFETIME: Final = 604800
_NONCE: Final = 12
_STALE: Final = struct.Struct(">Q")


def request_cookies(headers: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """A request's cookies by name (RFC 6265's ``Cookie`` header, every one of them; the
    first of a name wins)."""
    found: dict[str, str] = {}
    for name, value in headers:
        if name != b"cookie":
            continue
        for pair in value.decode("latin-1").split(";"):
            key, sep, content = pair.strip().partition("=")
            if sep and key and key not in found:
                found[key] = content.strip().strip('"')
    return found


def seal_cookie(key: str, kind: str, stale_at: float, subject: str) -> str:
    """A cookie's value: ``subject`` (a target ``address:port`` or a group id) until
    ``stale_at`` (epoch seconds), sealed under the group's ``key`` (hex)."""
    nonce = os.urandom(_NONCE)
    plain = _STALE.pack(int(stale_at)) + subject.encode()
    sealed = AESGCM(bytes.fromhex(key)).encrypt(nonce, plain, kind.encode())
    return base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def open_cookie(key: str, kind: str, value: str, now: float) -> str | None:
    """The subject of a cookie sealed under ``key``, None when it is not one (forged,
    another group's, another kind's) or is stale."""
    if not key or not value or len(value) > 512:
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        plain = AESGCM(bytes.fromhex(key)).decrypt(raw[:_NONCE], raw[_NONCE:], kind.encode())
    except (InvalidTag, ValueError, binascii.Error):
        return None
    if len(plain) < _STALE.size or _STALE.unpack(plain[: _STALE.size])[0] <= now:
        return None
    return plain[_STALE.size :].decode(errors="replace")


def set_cookie(name: str, value: str, expires: float, *, cors: bool, secure: bool) -> bytes:
    """A ``Set-Cookie`` value as AWS's: ``Expires`` and ``Path=/``, ``SameSite=None`` for the
    CORS twin, ``Secure`` behind an HTTPS listener."""
    parts = [f"{name}={value}", f"Expires={formatdate(expires, usegmt=True)}", "Path=/"]
    if cors:
        parts.append("SameSite=None")
    if secure:
        parts.append("Secure")
    return "; ".join(parts).encode()


def sticky_cookies(
    name: str, key: str, stale_at: float, subject: str, *, secure: bool
) -> list[tuple[bytes, bytes]]:
    """``AWSALB``/``AWSALBTG`` and their CORS twins, one value for both."""
    value = seal_cookie(key, name, stale_at, subject)
    return [
        (b"set-cookie", set_cookie(name, value, stale_at, cors=False, secure=secure)),
        (b"set-cookie", set_cookie(f"{name}CORS", value, stale_at, cors=True, secure=secure)),
    ]


def sticky_target(
    policy: GroupPolicy,
    cookies: dict[str, str],
    targets: Sequence[tuple[str, int]],
    now: float,
) -> tuple[str, int] | None:
    """The target a request's cookie names, while the group serves it; None otherwise."""
    if policy.stickiness == "lb_cookie":
        value = cookies.get(LB_COOKIE) or cookies.get(f"{LB_COOKIE}CORS", "")
        subject = open_cookie(policy.key, LB_COOKIE, value, now)
    elif policy.stickiness == "app_cookie":
        subject = open_cookie(policy.key, APP_COOKIE, cookies.get(APP_COOKIE, ""), now)
    else:
        return None
    if subject is None:
        return None
    address, _, port = subject.rpartition(":")
    target = (address, int(port)) if port.isdigit() else None
    return target if target in targets else None


def target_cookies(
    policy: GroupPolicy,
    target: tuple[str, int],
    answer_headers: Sequence[tuple[bytes, bytes]],
    now: float,
    *,
    secure: bool,
) -> list[tuple[bytes, bytes]]:
    """The ``Set-Cookie`` headers an answer from ``target`` gets for its group's stickiness."""
    subject = f"{target[0]}:{target[1]}"
    if policy.stickiness == "lb_cookie" and policy.key:
        return sticky_cookies(LB_COOKIE, policy.key, now + policy.duration, subject, secure=secure)
    if policy.stickiness == "app_cookie" and policy.key and _sets(answer_headers, policy):
        value = seal_cookie(policy.key, APP_COOKIE, now + policy.duration, subject)
        expires = now + APP_COOKIE_LIFETIME
        made = set_cookie(APP_COOKIE, value, expires, cors=False, secure=secure)
        return [(b"set-cookie", made)]
    return []


def _sets(headers: Sequence[tuple[bytes, bytes]], policy: GroupPolicy) -> bool:
    """Whether the target's answer sets the group's application cookie."""
    wanted = policy.cookie_name.encode()
    for name, value in headers:
        if name == b"set-cookie" and value.split(b"=", 1)[0].strip() == wanted:
            return True
    return False
