"""Signing in and out, and the language switch: the console session's pages.

Login goes through the identity service's ``console_login`` (its back-off, its MFA check) and is
audited as the management API's is (``andromede:ConsoleLogin``, ``details.via = console``);
every failure shows one message. A SAML identity provider's users sign in through STS's
AssumeRoleWithSAML (``details.via = saml``), as a role session; a custom identity broker's
through AWS's federation endpoint (``details.via = federation``); an OpenID Connect
provider's through the authorization code flow (``pages_oidc.py``, ``details.via = oidc``).
Logout revokes the session on the server, and sends the browser on to end its session at the
OIDC issuer that opened it, when the issuer has an ``end_session_endpoint`` (``oidc_logout.py``).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from andromede.audit.model import Outcome
from andromede.console.handlers import Form, posted
from andromede.console.i18n import LOCALES
from andromede.console.oidc_logout import issuer_logout
from andromede.console.session import (
    CONSOLE_PATH,
    LOGIN_CSRF_COOKIE,
    OIDC_LOGOUT_COOKIE,
    SESSION_COOKIE,
    cookie_header,
    expired_cookie_header,
    language_cookie_header,
    new_login_token,
    tokens_match,
)
from andromede.console.wire import WireError
from andromede.errors import AndromedeError
from andromede.iam.errors import InvalidInput, LoginLocked
from andromede.iam.saml import offered_roles

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES", "login_form", "signed_in"]


async def login_page(console: Console, request: Request) -> Response:
    if await console.session(request) is not None:
        return RedirectResponse(f"{CONSOLE_PATH}/buckets", status_code=303)
    return login_form(console, request, status=200, error=None)


def login_form(console: Console, request: Request, *, status: int, error: str | None) -> Response:
    token = new_login_token()
    response = console.render(
        request,
        "login.html",
        session=None,
        status=status,
        title=console.catalogue(request).gettext("Sign in"),
        login_csrf=token,
        error=error,
        account=request.query_params.get("account", ""),
        provider=request.query_params.get("provider", ""),
        role=request.query_params.get("role", ""),
        oidc=console.sts is not None,
    )
    response.headers.append(
        "set-cookie",
        cookie_header(LOGIN_CSRF_COOKIE, token, secure=console.secure(request), max_age=3600),
    )
    return response


async def login(console: Console, request: Request) -> Response:
    _ = console.catalogue(request).gettext
    form = await request.form(max_files=0, max_fields=8)
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    if not tokens_match(request.cookies.get(LOGIN_CSRF_COOKIE), fields.get("csrf")):
        return login_form(
            console, request, status=403, error=_("This form has expired: sign in again.")
        )
    request_id = console.request_id(request)
    try:
        logged_in = await console.identity.console_login(
            fields.get("account", "").strip(),
            fields.get("user", "").strip(),
            fields.get("password", ""),
            fields.get("mfa", "").strip() or None,
        )
    except AndromedeError as exc:
        console.audit.record(
            request_id=request_id,
            tenant_id=None,
            principal=None,
            action="andromede:ConsoleLogin",
            resource="*",
            outcome=Outcome.FAILURE,
            details={"error": type(exc).__name__, "via": "console"},
        )
        # One message whatever was wrong (account, user, password, code, or a back-off).
        status = 429 if isinstance(exc, LoginLocked) else 401
        return login_form(
            console,
            request,
            status=status,
            error=_("Sign-in failed: check the account, user, password and MFA code."),
        )
    principal = logged_in.principal
    console.audit.record(
        request_id=request_id,
        tenant_id=principal.tenant_id,
        principal=principal.arn,
        action="andromede:ConsoleLogin",
        resource=principal.arn,
        outcome=Outcome.SUCCESS,
        details={"mfa": str(principal.mfa_present).lower(), "via": "console"},
    )
    secure = console.secure(request)
    response = RedirectResponse(f"{CONSOLE_PATH}/buckets", status_code=303)
    response.headers.append(
        "set-cookie", cookie_header(SESSION_COOKIE, logged_in.token, secure=secure)
    )
    response.headers.append("set-cookie", expired_cookie_header(LOGIN_CSRF_COOKIE, secure=secure))
    return response


async def saml_sign_in(console: Console, request: Request) -> Response:
    """The console's SAML endpoint (what AWS's is, ``https://signin.aws.amazon.com/saml``): the
    IdP's browser posts ``SAMLResponse`` here. The Response's ``Role`` attribute is read,
    unverified, only to ask which role when it offers several; STS's AssumeRoleWithSAML, called
    unsigned in process as any client's, then verifies the assertion for the role chosen,
    decides the role's trust policy, takes the assertion once and audits it. Its credentials
    open a console session acting as that role session.

    No CSRF token: the first post comes from the IdP's page, another site, and the assertion
    is the proof (as on AWS). The session cookie is ``SameSite=Strict``, so it would not go
    with a redirect that follows another site's post: the answer is a page of this site that
    moves on to the console."""
    _ = console.catalogue(request).gettext
    form = await request.form(max_files=0, max_fields=4)
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    assertion = fields.get("SAMLResponse", "")
    if console.sts is None:
        return login_form(
            console, request, status=404, error=_("This server offers no SAML sign-in.")
        )
    try:
        offered = offered_roles(assertion)
    except AndromedeError:
        return _saml_refused(console, request, "InvalidIdentityToken", 400)
    chosen = fields.get("role", "")
    if chosen:
        pair = next((p for p in offered if ",".join(p) == chosen), None)
    else:
        pair = offered[0] if len(offered) == 1 else None
    if pair is None and len(offered) > 1 and not chosen:
        return console.render(
            request, "saml_roles.html", session=None, title=_("Choose a role"),
            roles=[",".join(p) for p in offered], assertion=assertion,
        )  # fmt: skip
    if pair is None:
        return _saml_refused(console, request, "AccessDenied", 403)
    try:
        issued = await console.sts.assume_role_with_saml(request.scope, pair[0], pair[1], assertion)
        logged_in = await console.identity.federated_console_login(
            issued.access_key_id, issued.session_token
        )
    except WireError as exc:
        return _saml_refused(console, request, exc.code, exc.status)
    except AndromedeError as exc:
        return _saml_refused(console, request, type(exc).__name__, 403)
    principal = logged_in.principal
    console.audit.record(
        request_id=console.request_id(request),
        tenant_id=principal.tenant_id,
        principal=principal.arn,
        action="andromede:ConsoleLogin",
        resource=principal.arn,
        outcome=Outcome.SUCCESS,
        details={"mfa": "false", "via": "saml", **principal.audit_details},
    )
    return signed_in(console, request, logged_in.token, f"{CONSOLE_PATH}/buckets")


async def federation(console: Console, request: Request) -> Response:
    """AWS's federation endpoint (``https://signin.aws.amazon.com/federation``), for custom
    identity brokers: ``Action=getSigninToken`` turns temporary credentials — a role session's
    or a federated user's, given whole as ``Session`` JSON (``sessionId``, ``sessionKey``,
    ``sessionToken``) — into a sign-in token, answered as JSON; ``Action=login`` turns that
    token, once, into a console session and goes on to ``Destination`` (a page of this
    console). GET as AWS's, or POST, which keeps the credentials out of URLs and logs."""
    params: dict[str, str] = dict(request.query_params)
    if request.method == "POST":
        form = await request.form(max_files=0, max_fields=8)
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    action = params.get("Action", "")
    if action == "getSigninToken":
        return await _signin_token(console, params)
    if action == "login":
        return await _federated_login(console, request, params)
    return _federation_error("InvalidAction", "Action must be getSigninToken or login", 400)


async def _signin_token(console: Console, params: dict[str, str]) -> Response:
    try:
        session = json.loads(params.get("Session", ""))
        key_id, secret, token = (
            str(session["sessionId"]),
            str(session["sessionKey"]),
            str(session["sessionToken"]),
        )
    except (ValueError, KeyError, TypeError):
        return _federation_error(
            "InvalidParameterValue",
            "Session must be JSON with sessionId, sessionKey and sessionToken",
            400,
        )
    duration_text = params.get("SessionDuration", "")
    if duration_text and not (duration_text.isdigit() and len(duration_text) <= 6):
        return _federation_error("InvalidParameterValue", "SessionDuration is seconds", 400)
    try:
        signin_token = await console.identity.console_signin_token(
            key_id, secret, token, int(duration_text) if duration_text else None
        )
    except AndromedeError as exc:
        status = 400 if isinstance(exc, InvalidInput) else 403
        return _federation_error(type(exc).__name__, str(exc), status)
    return JSONResponse({"SigninToken": signin_token})


async def _federated_login(console: Console, request: Request, params: dict[str, str]) -> Response:
    _ = console.catalogue(request).gettext
    try:
        logged_in = await console.identity.console_login_with_signin_token(
            params.get("SigninToken", "")[:4096]
        )
    except AndromedeError:
        return login_form(
            console,
            request,
            status=403,
            error=_("This sign-in link is not valid, or was used or expired: ask for another."),
        )
    principal = logged_in.principal
    console.audit.record(
        request_id=console.request_id(request),
        tenant_id=principal.tenant_id,
        principal=principal.arn,
        action="andromede:ConsoleLogin",
        resource=principal.arn,
        outcome=Outcome.SUCCESS,
        details={
            "mfa": str(principal.mfa_present).lower(),
            "via": "federation",
            **principal.audit_details,
        },
    )
    return signed_in(console, request, logged_in.token, _destination(params.get("Destination")))


def _destination(asked: str | None) -> str:
    """A page of this console (a path, or a URL whose path is one); its buckets otherwise,
    so that no sign-in link sends anyone elsewhere."""
    path = urlsplit(asked or "").path if asked else ""
    if asked and (asked.startswith("/") or urlsplit(asked).scheme in ("http", "https")):
        if path.startswith(f"{CONSOLE_PATH}/") and "//" not in path and "\\" not in path:
            return path
    return f"{CONSOLE_PATH}/buckets"


def _federation_error(code: str, message: str, status: int) -> Response:
    return JSONResponse({"Error": {"Code": code, "Message": message}}, status_code=status)


def signed_in(console: Console, request: Request, token: str, next_url: str) -> Response:
    """The answer that opens a session reached from another site (an IdP's post, a broker's
    link): the cookie set, then a page of this console that moves on, so that the cookie, which
    is ``SameSite=Strict``, goes with the next request — it would not with a redirect."""
    _ = console.catalogue(request).gettext
    response = console.render(
        request, "signed_in.html", session=None, title=_("Signed in"), next_url=next_url
    )
    response.headers.append(
        "set-cookie", cookie_header(SESSION_COOKIE, token, secure=console.secure(request))
    )
    return response


def _saml_refused(console: Console, request: Request, code: str, status: int) -> Response:
    """One message whatever STS refused, with its code (the audit trail has the rest)."""
    _ = console.catalogue(request).gettext
    text = _("SAML sign-in refused ({code}): ask your identity provider's administrator.")
    return login_form(console, request, status=status, error=text.format(code=code))


@posted()
async def logout(console: Console, request: Request, session: Session, fields: Form) -> Response:
    await console.identity.revoke_console_session(session.token)
    # A session an OIDC sign-in opened goes on to end at the issuer too, when it has an end.
    at_issuer = issuer_logout(console, request, session.token)
    console.audit.record(
        request_id=console.request_id(request),
        tenant_id=session.principal.tenant_id,
        principal=session.principal.arn,
        action="andromede:ConsoleLogout",
        resource=session.principal.arn,
        outcome=Outcome.SUCCESS,
        details={"via": "console", **({"issuer_logout": "true"} if at_issuer else {})},
    )
    secure = console.secure(request)
    response = at_issuer or console.to_login()
    response.headers.append("set-cookie", expired_cookie_header(SESSION_COOKIE, secure=secure))
    if OIDC_LOGOUT_COOKIE in request.cookies:
        response.headers.append(
            "set-cookie", expired_cookie_header(OIDC_LOGOUT_COOKIE, secure=secure)
        )
    return response


async def language(console: Console, request: Request) -> Response:
    locale = request.path_params["locale"]
    back = request.query_params.get("next", "")
    # Only back into the console: never a redirect to another site.
    if not back.startswith(f"{CONSOLE_PATH}/") or back.startswith("//") or "\\" in back:
        back = f"{CONSOLE_PATH}/"
    response = RedirectResponse(back, status_code=303)
    if locale in LOCALES:
        response.headers.append(
            "set-cookie", language_cookie_header(locale, secure=console.secure(request))
        )
    return response


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/login", login_page, ["GET"]),
    ("/login", login, ["POST"]),
    ("/logout", logout, ["POST"]),
    ("/saml", saml_sign_in, ["POST"]),
    ("/federation", federation, ["GET", "POST"]),
    ("/language/{locale}", language, ["GET"]),
]
