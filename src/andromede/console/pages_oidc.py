"""Signing in to the console through a tenant's OpenID Connect provider (decision 0141): the
authorization code flow with PKCE (S256), ``state`` and ``nonce``.

The user names the account, the provider (its issuer URL, as IAM keeps it) and the role, on
the sign-in page or in a link the tenant's administrator hands out
(``/console/login?account=…&provider=…&role=…``). The console reads the issuer's discovery
document and sends the browser to its ``authorization_endpoint``, for the provider's first
client id; what it must meet again — state, nonce, PKCE verifier, token endpoint — travels
sealed in a short-lived cookie and is taken once (``iam/oidc_signin.py``). At the callback the
code is exchanged at the ``token_endpoint``; the ID token is verified as
AssumeRoleWithWebIdentity verifies one (``IdentityService.verify_web_identity``: issuer of the
account, audience, signature with the issuer's JWKS, expiry), then its ``nonce``; STS's
AssumeRoleWithWebIdentity, called unsigned in process as any client's, decides the role's trust
policy, issues the role session and audits the call; that session opens the console
(``details.via = oidc``). A sign-in that names no role offers, after the callback, the roles of
the account whose trust policy lets the ID token in as STS would decide it
(``iam/federated_trust.py``): one is taken at once, none is refused, several are a choice
posted back once, within ``console_oidc_role_choice_lifetime``, from the browser it was
offered to, the ID token sealed in the form. Every failure shows the sign-in page with one
message naming what went wrong, and is audited; no code, token or verifier reaches a log line
or a URL the console keeps.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from andromede.audit.model import Outcome
from andromede.console.oidc_client import TokenRefused, pkce_pair
from andromede.console.oidc_logout import logout_cookie
from andromede.console.pages_session import login_form, signed_in
from andromede.console.session import (
    CONSOLE_PATH,
    LOGIN_CSRF_COOKIE,
    OIDC_COOKIE,
    oidc_cookie_header,
    tokens_match,
)
from andromede.console.wire import WireError
from andromede.errors import AndromedeError
from andromede.iam.errors import (
    AccessDenied,
    IdpCommunicationError,
    InvalidConsoleSession,
    InvalidIdentityToken,
    NoSuchEntity,
)
from andromede.iam.oidc_signin import OIDC_SIGN_IN_LIFETIME
from andromede.iam.web_identity import VerifiedWebIdentity

if TYPE_CHECKING:
    from andromede.console.app import Console

__all__ = ["ROUTES", "session_name"]

CALLBACK: Final = f"{CONSOLE_PATH}/oidc/callback"
_ROLE_NAME: Final = re.compile(r"[\w+=,.@-]{1,64}")
_SESSION_NAME_CHARACTERS: Final = re.compile(r"[^\w+=,.@-]")
_STS_DURATION_MIN: Final = 900  # STS's shortest role session, seconds


async def start(console: Console, request: Request) -> Response:
    """The sign-in page's OIDC form: to the issuer's authorization endpoint."""
    _ = console.catalogue(request).gettext
    form = await request.form(max_files=0, max_fields=8)
    fields = {k: v.strip() for k, v in form.items() if isinstance(v, str)}
    if not tokens_match(request.cookies.get(LOGIN_CSRF_COOKIE), fields.get("csrf")):
        return login_form(
            console, request, status=403, error=_("This form has expired: sign in again.")
        )
    if console.sts is None:
        return login_form(
            console, request, status=404, error=_("This server offers no OIDC sign-in.")
        )
    account, role = fields.get("account", ""), fields.get("role", "")
    try:
        if role and not _ROLE_NAME.fullmatch(role):
            raise NoSuchEntity("no such role name")
        provider = await console.identity.oidc_sign_in_provider(account, fields.get("provider", ""))
        if not provider.client_ids:
            raise InvalidIdentityToken("the provider has no client id")
        endpoints = await console.oidc.endpoints(provider.issuer)
    except AndromedeError as exc:
        return _refused(console, request, exc, None)
    verifier, challenge = pkce_pair()
    nonce = secrets.token_urlsafe(24)
    redirect_uri = str(request.url.replace(path=CALLBACK, query="", fragment=""))
    client_id = provider.client_ids[0]
    sealed, state = console.identity.seal_oidc_sign_in(
        {
            "account": account,
            "provider": provider.url,
            "role": role,
            "client_id": client_id,
            "nonce": nonce,
            "verifier": verifier,
            "token_endpoint": endpoints.token,
            "end_session": endpoints.end_session,
            "redirect_uri": redirect_uri,
        }
    )
    asked = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": "openid",
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    joiner = "&" if "?" in endpoints.authorization else "?"
    # Not a redirect: the console's CSP says ``form-action 'self'``, which browsers apply to
    # the redirects a form's answer makes (Chromium stops a 303 to the issuer); a page of the
    # console that moves on is a navigation of its own, which it does not govern.
    response = console.render(
        request,
        "oidc_redirect.html",
        session=None,
        title=_("Continue to your identity provider"),
        next_url=f"{endpoints.authorization}{joiner}{asked}",
    )
    response.headers.append(
        "set-cookie",
        oidc_cookie_header(sealed, secure=console.secure(request), max_age=OIDC_SIGN_IN_LIFETIME),
    )
    return response


async def callback(console: Console, request: Request) -> Response:
    """The redirect URI: the issuer's answer, met with what the sign-in kept, taken once."""
    params = request.query_params
    if console.sts is None:
        return _refused(console, request, InvalidConsoleSession("no STS"), None)
    try:
        kept = await console.identity.open_oidc_sign_in(
            request.cookies.get(OIDC_COOKIE, ""), params.get("state", "")[:256]
        )
    except AndromedeError as exc:
        return _refused(console, request, exc, None)
    account = str(kept["account"])
    if "error" in params:
        return _refused(console, request, TokenRefused(params["error"]), account, at_issuer=True)
    try:
        id_token = await console.oidc.exchange(
            str(kept["provider"]),
            str(kept["token_endpoint"]),
            {
                "grant_type": "authorization_code",
                "code": params.get("code", "")[:2048],
                "redirect_uri": str(kept["redirect_uri"]),
                "client_id": str(kept["client_id"]),
                "code_verifier": str(kept["verifier"]),
            },
        )
        # Verified as AssumeRoleWithWebIdentity verifies it (STS does so again), then what
        # only the console knows: the client it asked for, and the nonce it sent.
        identity, claims = await _verified(console, kept, id_token)
        nonce = claims.get("nonce")
        if not isinstance(nonce, str) or not secrets.compare_digest(
            nonce.encode(), str(kept["nonce"]).encode()
        ):
            raise InvalidIdentityToken("The ID token's nonce is not the sign-in's")
        role = str(kept["role"])
        if not role:
            # No role named: those whose trust policy lets this token in, as STS decides.
            client = request.scope.get("client")
            roles = await console.identity.roles_for_web_identity(
                identity,
                source_ip=client[0] if client else None,
                secure=console.secure(request),
                region=console.settings.region,
            )
            if not roles:
                return _refused(console, request, AccessDenied("no role"), account, no_role=True)
            if len(roles) > 1:
                return _role_choice(console, request, kept, id_token, [r.name for r in roles])
            role = roles[0].name
    except AndromedeError as exc:
        return _refused(console, request, exc, account)
    return await _finish(console, request, kept, id_token, identity, claims, role)


async def choose_role(console: Console, request: Request) -> Response:
    """The role choice's form: the role picked among those offered, once, within
    ``console_oidc_role_choice_lifetime``, by the browser the choice was offered to."""
    form = await request.form(max_files=0, max_fields=4)
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    if console.sts is None:
        return _refused(console, request, InvalidConsoleSession("no STS"), None)
    try:
        kept = await console.identity.open_oidc_role_choice(
            fields.get("choice", ""), request.cookies.get(OIDC_COOKIE, "")
        )
    except AndromedeError as exc:
        return _refused(console, request, exc, None)
    account, role = str(kept["account"]), fields.get("role", "")
    offered = kept.get("roles")
    id_token = str(kept["id_token"])
    try:
        if not isinstance(offered, list) or role not in offered:
            raise AccessDenied("not a role offered")
        identity, claims = await _verified(console, kept, id_token)
    except AndromedeError as exc:
        return _refused(console, request, exc, account)
    return await _finish(console, request, kept, id_token, identity, claims, role)


async def _verified(
    console: Console, kept: dict[str, Any], id_token: str
) -> tuple[VerifiedWebIdentity, dict[str, Any]]:
    """The ID token verified as AssumeRoleWithWebIdentity verifies it, for the provider and
    the client the sign-in asked, and its claims."""
    identity = await console.identity.verify_web_identity(str(kept["account"]), id_token)
    if identity.provider.url != kept["provider"] or identity.audience != kept["client_id"]:
        raise InvalidIdentityToken("The ID token is not for the client the sign-in asked")
    return identity, _claims(id_token)  # its signature was just verified


def _role_choice(
    console: Console,
    request: Request,
    kept: dict[str, Any],
    id_token: str,
    roles: list[str],
) -> Response:
    """The page that offers ``roles``: the ID token travels sealed in the form (a cookie could
    not hold every issuer's), the choice bound to this browser by a random value in the
    sign-in's cookie, and taken once (``IdentityService.open_oidc_role_choice``)."""
    _ = console.catalogue(request).gettext
    lifetime = console.settings.console_oidc_role_choice_lifetime
    sealed, binding = console.identity.seal_oidc_role_choice(
        {
            "account": kept["account"],
            "provider": kept["provider"],
            "client_id": kept["client_id"],
            "end_session": kept.get("end_session"),
            "roles": roles,
            "id_token": id_token,
        },
        lifetime,
    )
    response = console.render(
        request, "oidc_roles.html", session=None, title=_("Choose a role"),
        roles=roles, choice=sealed,
    )  # fmt: skip
    response.headers.append(
        "set-cookie",
        oidc_cookie_header(binding, secure=console.secure(request), max_age=lifetime),
    )
    return response


async def _finish(
    console: Console,
    request: Request,
    kept: dict[str, Any],
    id_token: str,
    identity: VerifiedWebIdentity,
    claims: dict[str, Any],
    role: str,
) -> Response:
    """STS's AssumeRoleWithWebIdentity for ``role`` (STS verifies the token again and decides
    the trust policy), then the console session of its credentials."""
    account = str(kept["account"])
    sts = console.sts
    try:
        if sts is None:
            raise InvalidConsoleSession("no STS")
        role_arn, duration = await _target(console, account, role)
        issued = await sts.assume_role_with_web_identity(
            request.scope, role_arn, session_name(claims, identity.subject), id_token, duration
        )
        logged_in = await console.identity.federated_console_login(
            issued.access_key_id, issued.session_token
        )
    except WireError as exc:
        return _refused(console, request, exc, account)
    except AndromedeError as exc:
        return _refused(console, request, exc, account)
    principal = logged_in.principal
    console.audit.record(
        request_id=console.request_id(request),
        tenant_id=principal.tenant_id,
        principal=principal.arn,
        action="andromede:ConsoleLogin",
        resource=principal.arn,
        outcome=Outcome.SUCCESS,
        details={
            "mfa": "false",
            "via": "oidc",
            "issuer": identity.provider.issuer,
            "subject": identity.subject,
            **principal.audit_details,
        },
    )
    response = signed_in(console, request, logged_in.token, f"{CONSOLE_PATH}/buckets")
    response.headers.append("set-cookie", _forget(console, request))
    if kept.get("end_session"):
        response.headers.append(
            "set-cookie",
            logout_cookie(
                console,
                request,
                str(kept["end_session"]),
                str(kept["client_id"]),
                id_token,
                logged_in.token,
            ),
        )
    return response


def session_name(claims: dict[str, Any], subject: str) -> str:
    """The role session's name: the user's email, else preferred_username, else the subject,
    each kept to STS's 2 to 64 characters of ``[\\w+=,.@-]`` (others become ``-``)."""
    for candidate in (claims.get("email"), claims.get("preferred_username"), subject):
        if isinstance(candidate, str) and len(candidate) >= 2:
            return _SESSION_NAME_CHARACTERS.sub("-", candidate)[:64]
    return "oidc-user"


async def _target(console: Console, account: str, role: str) -> tuple[str, int | None]:
    """The role's ARN (its path too) and the role session's length:
    ``console_session_lifetime``, within the role's MaxSessionDuration (and STS's 15-minute
    floor). For a role that is not there, the ARN of its name and STS's default, for STS to
    refuse it as it refuses any (AccessDenied, the same as a trust policy's)."""
    try:
        found = await console.identity.get_role(account, role)
    except AndromedeError:
        return f"arn:aws:iam::{account}:role/{role}", None
    lifetime = int(console.settings.console_session_lifetime)
    return found.arn, max(_STS_DURATION_MIN, min(lifetime, found.max_session_duration))


def _claims(token: str) -> dict[str, Any]:
    """The payload of a JWT whose signature was verified already."""
    try:
        payload = token.split(".")[1]
        value = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError) as exc:
        raise InvalidIdentityToken("The ID token is not a well-formed JWT") from exc
    if not isinstance(value, dict):
        raise InvalidIdentityToken("The ID token's payload is not a JSON object")
    return value


def _forget(console: Console, request: Request) -> str:
    return oidc_cookie_header("", secure=console.secure(request), max_age=0)


def _refused(
    console: Console,
    request: Request,
    exc: Exception,
    account: str | None,
    *,
    at_issuer: bool = False,
    no_role: bool = False,
) -> Response:
    """The sign-in page with what went wrong, the sign-in's cookie forgotten, and the failure
    in the audit trail (of the account, once the sign-in is known to be one of ours)."""
    _ = console.catalogue(request).gettext
    code = exc.code if isinstance(exc, WireError) else type(exc).__name__
    status = exc.status if isinstance(exc, WireError) else 403
    if no_role:
        text = _(
            "No role of this account lets you in through your identity provider ({code}): "
            "ask your account's administrator."
        )
    elif at_issuer and isinstance(exc, TokenRefused):
        code, text = exc.error, _("Your identity provider did not sign you in ({code}).")
    elif isinstance(exc, InvalidConsoleSession):
        text = _("This sign-in was not begun here, or was used or expired: sign in again.")
    elif isinstance(exc, TokenRefused):
        code = exc.error
        text = _("Your identity provider refused the sign-in code ({code}): sign in again.")
    elif isinstance(exc, IdpCommunicationError):
        status, text = 502, _("Your identity provider could not be reached ({code}).")
    elif isinstance(exc, NoSuchEntity) or (account is None and code == "InvalidIdentityToken"):
        status = 400
        text = _("No such OpenID Connect provider or role in that account ({code}).")
    else:
        text = _("OIDC sign-in refused ({code}): ask your identity provider's administrator.")
    console.audit.record(
        request_id=console.request_id(request),
        tenant_id=account,
        principal=None,
        action="andromede:ConsoleLogin",
        resource="*",
        outcome=Outcome.FAILURE,
        details={"error": code, "via": "oidc"},
    )
    response = login_form(console, request, status=status, error=text.format(code=code))
    response.headers.append("set-cookie", _forget(console, request))
    return response


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/oidc", start, ["POST"]),
    ("/oidc/callback", callback, ["GET"]),
    ("/oidc/role", choose_role, ["POST"]),
]
