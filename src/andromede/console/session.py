"""The console's cookies and its protection against cross-site requests.

The session cookie holds the identity service's console session token (``HttpOnly``,
``SameSite=Strict``, ``Path=/console``, ``Secure`` on a TLS listener). Every state-changing
form carries a CSRF token derived from that session token (an HMAC under a fixed label), and
is checked in constant time: a page of another site can neither read the cookie nor compute the
token, and a token is worth nothing once its session is logged out. The login form, before any
session, uses a double-submit token: a random value in a short-lived cookie and in the form.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Final

__all__ = [
    "CONSOLE_PATH",
    "LANGUAGE_COOKIE",
    "LOGIN_CSRF_COOKIE",
    "OIDC_COOKIE",
    "OIDC_LOGOUT_COOKIE",
    "SESSION_COOKIE",
    "cookie_header",
    "csrf_token",
    "expired_cookie_header",
    "language_cookie_header",
    "new_login_token",
    "oidc_cookie_header",
    "tokens_match",
]

CONSOLE_PATH: Final = "/console"
SESSION_COOKIE: Final = "andromede_console"
LOGIN_CSRF_COOKIE: Final = "andromede_console_login"
LANGUAGE_COOKIE: Final = "andromede_console_lang"
OIDC_COOKIE: Final = "andromede_console_oidc"
# What logout at the issuer needs, sealed (decision 0141's addendum): it goes with the
# console's own requests only (``Path=/console``, ``SameSite=Strict``), as the session does.
OIDC_LOGOUT_COOKIE: Final = "andromede_console_oidc_logout"
_CSRF_LABEL: Final = b"andromede console csrf v1"
_LANGUAGE_MAX_AGE: Final = 365 * 24 * 3600


def csrf_token(session_token: str) -> str:
    """The forms' token of one session."""
    return hmac.new(session_token.encode(), _CSRF_LABEL, hashlib.sha256).hexdigest()


def new_login_token() -> str:
    return secrets.token_urlsafe(24)


def tokens_match(expected: str | None, given: str | None) -> bool:
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def cookie_header(name: str, value: str, *, secure: bool, max_age: int | None = None) -> str:
    parts = [f"{name}={value}", f"Path={CONSOLE_PATH}", "HttpOnly", "SameSite=Strict"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def language_cookie_header(locale: str, *, secure: bool) -> str:
    return cookie_header(LANGUAGE_COOKIE, locale, secure=secure, max_age=_LANGUAGE_MAX_AGE)


def oidc_cookie_header(value: str, *, secure: bool, max_age: int) -> str:
    """The OIDC sign-in's sealed state (decision 0141), only for its callback. ``SameSite=Lax``,
    not ``Strict``: the issuer's redirect back is a navigation another site began, with which
    a ``Strict`` cookie would not go; ``Lax`` goes with that top-level GET and with nothing a
    page of another site posts or loads."""
    parts = [f"{OIDC_COOKIE}={value}", f"Path={CONSOLE_PATH}/oidc", "HttpOnly", "SameSite=Lax"]
    parts.append(f"Max-Age={max_age}")
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def expired_cookie_header(name: str, *, secure: bool) -> str:
    return cookie_header(name, "", secure=secure, max_age=0)
