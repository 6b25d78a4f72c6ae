"""IAM's server certificates in the console (decision 0205 served, 0111 shown): the account's
certificates (name, path, id, expiration — expired, or expiring within 30 days, marked), one
uploaded (its body, chain and private key as files or pasted text), a certificate's page with
its body and chain, renamed or moved, tagged and untagged, deleted after a ticked box.

Every read and change is IAM's own call as the signed-in principal
(``wire_server_certificates``): IAM's policies decide, IAM checks the certificate and the key
and audits, and a refusal is IAM's error in the reader's language. The private key goes to IAM
and never comes back: IAM does not answer it, and a refused upload is shown again without it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, urlencode

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from andromede.console.handlers import Form, FormFault, action, first_refusal, signed_in, words
from andromede.console.session import CONSOLE_PATH, tokens_match
from andromede.console.wire import QueryWire, WireError
from andromede.console.wire_server_certificates import (
    CertificateDetail,
    CertificateRow,
    delete_certificate,
    describe_certificate,
    list_certificates,
    tag_certificate,
    untag_certificate,
    update_certificate,
    upload_certificate,
)

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES"]

_URL: Final = f"{CONSOLE_PATH}/iam/server-certificates"
# The list marks a certificate expiring within this many days, as the brief of decision
# 0111's session-50 section asks; a display choice, no limit of IAM's.
EXPIRING_DAYS: Final = 30
# IAM's bounds: a body and a private key of 16,384 characters, a chain of 2,097,152 (the
# console's whole form is bounded by max_api_body_size, 256 KiB by default, before this).
_PEM_LIMITS: Final = {"body": 16384, "private_key": 16384, "chain": 2097152}
# Never shown back: a refused upload's key is typed (or chosen) again.
_SECRET_FIELDS: Final = frozenset({"private_key", "csrf"})


def _iam(console: Console) -> QueryWire | None:
    return console.iam


def _certificate_url(name: str) -> str:
    return f"{_URL}/{quote(name, safe='')}"


def _no_iam(console: Console, request: Request) -> tuple[str, int]:
    _ = console.catalogue(request).gettext
    return _("This server serves no IAM."), 404


async def _list_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Mapping[str, Mapping[str, str]] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    rows: list[CertificateRow] = []
    next_marker = None
    iam = console.iam
    if iam is None:
        error, status = _no_iam(console, request)
    else:
        try:
            page = await list_certificates(
                iam, request.scope, session.principal,
                marker=request.query_params.get("marker"),
                page_size=console.settings.console_page_size,
            )  # fmt: skip
            rows, next_marker = page.rows, page.next_marker
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
    now = datetime.now(UTC)
    upload = {k: v for k, v in (typed or {}).get("upload", {}).items() if k not in _SECRET_FIELDS}
    return console.render(
        request,
        "iam_server_certificates.html",
        session=session,
        status=status,
        title=_("Server certificates"),
        section="server-certificates",
        rows=[(row, row.expiry(now, EXPIRING_DAYS)) for row in rows],
        next_url=f"{_URL}?{urlencode({'marker': next_marker})}" if next_marker else None,
        expiring_days=EXPIRING_DAYS,
        typed=upload,
        error=error,
    )


async def _pem(request: Request, value: object, name: str) -> str:
    """A PEM field: the file chosen (UTF-8), else the text pasted, bounded by IAM's limit."""
    _ = words(request)
    if isinstance(value, UploadFile):
        raw = await value.read(_PEM_LIMITS[name] + 1)
        if len(raw) > _PEM_LIMITS[name]:
            raise FormFault(_("A PEM file is larger than IAM accepts."))
        try:
            return raw.decode()
        except UnicodeDecodeError:
            raise FormFault(_("A PEM file is not text.")) from None
    return str(value or "")


@signed_in
async def upload(console: Console, request: Request, session: Session) -> Response:
    """UploadServerCertificate from the list's form, a multipart one (its three PEM fields
    files or text) or a plain one; the CSRF token checked before anything is sent. The whole
    body is bounded by ``max_api_body_size``, under Starlette's spooling size: the files are
    held in memory only, never written to the server's disk."""
    form = await request.form(max_files=3, max_fields=12)
    try:
        return await _upload(console, request, session, form)
    finally:
        await form.close()


async def _upload(console: Console, request: Request, session: Session, form: FormData) -> Response:
    token = form.get("csrf")
    if not isinstance(token, str) or not tokens_match(session.csrf, token):
        return console.refused_form(request, session)
    typed = {k: v for k, v in form.items() if isinstance(v, str)}
    iam = console.iam
    if iam is None:
        return await _list_page(console, request, session)
    try:
        pem: dict[str, str] = {}
        for name in _PEM_LIMITS:
            chosen = form.get(f"{name}_file")
            has_file = isinstance(chosen, UploadFile) and bool(chosen.filename)
            pem[name] = (await _pem(request, chosen if has_file else form.get(name), name)).strip()
        if not pem["body"] or not pem["private_key"]:
            _ = words(request)
            raise FormFault(_("Give the certificate's body and its private key."))
        await upload_certificate(
            iam, request.scope, session.principal, typed.get("name", "").strip(),
            body=pem["body"], private_key=pem["private_key"], chain=pem["chain"],
            path=typed.get("path", "").strip(),
        )  # fmt: skip
    except (WireError, FormFault) as exc:
        error, status = (
            (exc.message, exc.status)
            if isinstance(exc, FormFault)
            else (console.error_text(request, exc), exc.status)
        )
        return await _list_page(
            console, request, session, typed={"upload": typed}, error=error, status=status
        )
    return RedirectResponse(_certificate_url(typed.get("name", "").strip()), status_code=303)


async def _certificate_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Mapping[str, Mapping[str, str]] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    name = request.path_params["name"]
    detail: CertificateDetail | None = None
    iam = console.iam
    if iam is None:
        error, status = _no_iam(console, request)
    else:
        try:
            detail = await describe_certificate(iam, request.scope, session.principal, name)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
    values: dict[str, Any] = {}
    if detail is not None:
        values["expiry"] = detail.row.expiry(datetime.now(UTC), EXPIRING_DAYS)
    return console.render(
        request,
        "iam_server_certificate.html",
        session=session,
        status=status,
        title=f"{_('Server certificate')} {name}",
        section="server-certificates",
        name=name,
        detail=detail,
        expiring_days=EXPIRING_DAYS,
        typed=typed or {},
        error=error,
        **values,
    )


async def _rename(iam: QueryWire, request: Request, session: Session, f: Form) -> str:
    name = request.path_params["name"]
    new_name, new_path = f.get("new_name", "").strip(), f.get("new_path", "").strip()
    if new_name == name:
        new_name = ""
    await update_certificate(
        iam, request.scope, session.principal, name, new_name=new_name, new_path=new_path
    )
    return _certificate_url(new_name or name)


async def _tag(iam: QueryWire, request: Request, session: Session, f: Form) -> str:
    name = request.path_params["name"]
    await tag_certificate(
        iam, request.scope, session.principal, name, f.get("key", "").strip(), f.get("value", "")
    )
    return _certificate_url(name)


async def _untag(iam: QueryWire, request: Request, session: Session, f: Form) -> str:
    name = request.path_params["name"]
    await untag_certificate(iam, request.scope, session.principal, name, f.get("key", ""))
    return _certificate_url(name)


async def _delete(iam: QueryWire, request: Request, session: Session, f: Form) -> str:
    await delete_certificate(iam, request.scope, session.principal, request.path_params["name"])
    return _URL


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/iam/server-certificates", signed_in(_list_page), ["GET"]),
    ("/iam/server-certificates", upload, ["POST"]),
    ("/iam/server-certificates/{name}", signed_in(_certificate_page), ["GET"]),
    ("/iam/server-certificates/{name}/update",
     action(_certificate_page, _rename, wire=_iam, form="update"), ["POST"]),
    ("/iam/server-certificates/{name}/tags",
     action(_certificate_page, _tag, wire=_iam, form="tag"), ["POST"]),
    ("/iam/server-certificates/{name}/untag",
     action(_certificate_page, _untag, wire=_iam), ["POST"]),
    ("/iam/server-certificates/{name}/delete",
     action(_certificate_page, _delete, wire=_iam, confirmed=True), ["POST"]),
]  # fmt: skip
