"""Logging out at the tenant's OpenID Connect issuer too (OpenID Connect RP-Initiated Logout
1.0; decision 0141's addendum).

A console session opened by an OIDC sign-in whose issuer's discovery document names an
``end_session_endpoint`` gets a second cookie: that endpoint, the client id and the ID token
(for ``id_token_hint``), sealed with the secrets key (``iam/oidc_signin.py``: neither readable
nor forgeable by the browser, at most 3,800 characters — without the ID token when it would be
longer) and bound to that session (a digest of its token, not the token). Signing out of that
session then ends it and sends the browser on to the issuer; any other session signs out as
before.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from andromede.console.session import (
    CONSOLE_PATH,
    OIDC_LOGOUT_COOKIE,
    cookie_header,
)
from andromede.iam.oidc_signin import session_digest

if TYPE_CHECKING:
    from andromede.console.app import Console

__all__ = ["issuer_logout", "login_uri", "logout_cookie"]


def logout_cookie(
    console: Console,
    request: Request,
    end_session: str,
    client_id: str,
    id_token: str,
    session_token: str,
) -> str:
    """The cookie that keeps what logout at the issuer needs, for as long as the session."""
    sealed = console.identity.seal_oidc_logout(
        {
            "end_session": end_session,
            "client_id": client_id,
            "id_token": id_token,
            "session": session_digest(session_token),
        }
    )
    lifetime = int(console.settings.console_session_lifetime)
    return cookie_header(
        OIDC_LOGOUT_COOKIE, sealed, secure=console.secure(request), max_age=lifetime
    )


def issuer_logout(console: Console, request: Request, session_token: str) -> Response | None:
    """After the console session of an OIDC sign-in ended: the page that sends the browser on
    to the issuer's ``end_session_endpoint`` (OpenID Connect RP-Initiated Logout 1.0) with
    ``id_token_hint`` (when it fitted the cookie), ``client_id`` and the sign-in page as
    ``post_logout_redirect_uri``, built as the redirect URI is. None when that session did not
    come from an issuer that has one. A page that moves on, not a 303: the logout is a form's
    answer, whose redirects the console's CSP (``form-action 'self'``) keeps to the console."""
    kept = console.identity.open_oidc_logout(request.cookies.get(OIDC_LOGOUT_COOKIE, ""))
    if kept is None or not secrets.compare_digest(
        str(kept.get("session", "")).encode(), session_digest(session_token).encode()
    ):
        return None
    end_session = str(kept.get("end_session", ""))
    asked = {
        "id_token_hint": kept.get("id_token"),
        "post_logout_redirect_uri": login_uri(request),
        "client_id": kept.get("client_id"),
    }
    query = urlencode({k: str(v) for k, v in asked.items() if v})
    joiner = "&" if "?" in end_session else "?"
    _ = console.catalogue(request).gettext
    response = console.render(
        request,
        "oidc_redirect.html",
        session=None,
        title=_("Signing out at your identity provider"),
        next_url=f"{end_session}{joiner}{query}",
        link_text=_("Sign out at your identity provider"),
    )
    return response


def login_uri(request: Request) -> str:
    """The console's sign-in page as an absolute URI, built from the request as the redirect
    URI is (decision 0141: behind a proxy, the proxy passes scheme and host on)."""
    return str(request.url.replace(path=f"{CONSOLE_PATH}/login", query="", fragment=""))
