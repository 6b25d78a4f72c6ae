"""AWS Certificate Manager (decision 0230) in the console (decision 0239): the account's
certificates listed (domain, status, type, key algorithm, expiry, in use; pages of
``console_page_size``), one imported (certificate, private key and chain as files or pasted
PEM, tags), a certificate's page (DescribeCertificate's fields, the resources that use it,
its PEM and chain as GetCertificate answers them, tags added and removed, a re-import under
the same ARN, a private certificate renewed) and its deletion after a ticked box; where the
operator configured a private CA, a private certificate requested (domain, alternative
names, key algorithm).

Every read and change is ACM's own call as the signed-in principal (``wire_acm.AcmWire``):
its policies decide, it checks the PEM and audits, and a refusal (``ResourceInUseException``
for a certificate a listener presents) is ACM's words in the reader's language. The private
key goes to ACM and never comes back: ACM does not answer it, and a refused import is shown
again without it (never in a URL, a flash or a log line). A certificate travels in the URL as
its ARN's id, the ARN rebuilt from the account and the Region.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, urlencode

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from andromede.acm.private_ca import ISSUABLE
from andromede.console.handlers import (
    Form,
    FormFault,
    Typed,
    action,
    fault_or_refusal,
    first_refusal,
    signed_in,
    words,
)
from andromede.console.pages_alarms import parse_tags
from andromede.console.session import CONSOLE_PATH, tokens_match
from andromede.console.wire import WireError
from andromede.console.wire_acm import AcmWire, CertificateDetail, CertificateRow

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES", "certificate_url"]

_URL: Final = f"{CONSOLE_PATH}/certificates"
# ACM's bounds (ImportCertificate): a certificate of 32 KiB, a key of 8 KiB, a chain of 2 MiB
# (the console's whole form is bounded by max_api_body_size before this).
_PEM_LIMITS: Final = {"body": 32768, "private_key": 8192, "chain": 2097152}
# Never shown back: a refused import's key is typed (or chosen) again.
_SECRET_FIELDS: Final = frozenset({"private_key", "csrf"})
_IMPORT: Final = "import"
_REQUEST: Final = "request"


def _wire(console: Console) -> AcmWire | None:
    return console.acm


def _arn(wire: AcmWire, request: Request, session: Session) -> str:
    """The ARN of the certificate the path names (its id), in the caller's account."""
    certificate_id = request.path_params["certificate_id"]
    return wire.arn(session.principal.tenant_id or "", certificate_id)


def certificate_url(arn: str) -> str:
    return f"{_URL}/{quote(arn.rsplit('/', 1)[-1], safe='')}"


def _not_served(console: Console, request: Request) -> tuple[str, int]:
    _ = console.catalogue(request).gettext
    return _("This server serves no AWS Certificate Manager."), 404


def _shown(typed: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in typed.items() if k not in _SECRET_FIELDS}


async def _list_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Typed | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    wire = _wire(console)
    rows: list[CertificateRow] = []
    next_href = None
    if wire is None:
        error, status = _not_served(console, request)
    else:
        try:
            rows, token = await wire.certificates(
                request.scope, session.principal,
                token=request.query_params.get("token", "")[:10000] or None,
                limit=console.settings.console_page_size,
            )  # fmt: skip
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        else:
            if token:
                next_href = f"{_URL}?{urlencode({'token': token})}"
    return console.render(
        request,
        "acm_certificates.html",
        session=session,
        status=status,
        title=_("Certificates (ACM)"),
        rows=rows,
        next_href=next_href,
        authority_arn=wire.authority_arn if wire else None,
        key_algorithms=ISSUABLE,
        typed=_shown((typed or {}).get(_IMPORT, {})),
        request_form=dict((typed or {}).get(_REQUEST, {})),
        error=error,
    )


async def _pem(request: Request, value: object, name: str) -> str:
    """A PEM field: the file chosen (UTF-8), else the text pasted, bounded by ACM's limit."""
    _ = words(request)
    if isinstance(value, UploadFile):
        raw = await value.read(_PEM_LIMITS[name] + 1)
        if len(raw) > _PEM_LIMITS[name]:
            raise FormFault(_("A PEM file is larger than ACM accepts."))
        try:
            return raw.decode()
        except UnicodeDecodeError:
            raise FormFault(_("A PEM file is not text.")) from None
    return str(value or "")


async def _pems(request: Request, form: FormData) -> dict[str, str]:
    """The form's three PEM fields, each its file when one is chosen, else its text."""
    pem: dict[str, str] = {}
    for name in _PEM_LIMITS:
        chosen = form.get(f"{name}_file")
        has_file = isinstance(chosen, UploadFile) and bool(chosen.filename)
        pem[name] = (await _pem(request, chosen if has_file else form.get(name), name)).strip()
    if not pem["body"] or not pem["private_key"]:
        _ = words(request)
        raise FormFault(_("Give the certificate and its private key."))
    return pem


async def _imported(console: Console, request: Request, session: Session) -> Response:
    """ImportCertificate from a multipart (or plain) form, new or over the page's certificate
    (a re-import keeps its ARN); the CSRF token checked before anything is read further. The
    whole body is bounded by ``max_api_body_size``, under Starlette's spooling size: the files
    are held in memory only, never written to the server's disk."""
    form = await request.form(max_files=3, max_fields=12)
    try:
        token = form.get("csrf")
        if not isinstance(token, str) or not tokens_match(session.csrf, token):
            return console.refused_form(request, session)
        typed = {k: v for k, v in form.items() if isinstance(v, str)}
        certificate_id = request.path_params.get("certificate_id")
        page = _list_page if certificate_id is None else _certificate_page
        wire = _wire(console)
        if wire is None:
            return await page(console, request, session)
        arn = None if certificate_id is None else _arn(wire, request, session)
        try:
            pem = await _pems(request, form)
            made = await wire.import_certificate(
                request.scope, session.principal, body=pem["body"],
                private_key=pem["private_key"], chain=pem["chain"], arn=arn,
                tags=parse_tags(typed.get("tags", "")) if arn is None else (),
            )  # fmt: skip
        except (WireError, FormFault) as exc:
            error, status = fault_or_refusal(console, request, exc)
            return await page(
                console, request, session, typed={_IMPORT: typed}, error=error, status=status
            )
        return RedirectResponse(certificate_url(made or arn or ""), status_code=303)
    finally:
        await form.close()


imported = signed_in(_imported)


async def _request(wire: AcmWire, request: Request, session: Session, fields: Form) -> str:
    names = [n for n in fields.get("alternative_names", "").replace(",", "\n").split() if n]
    arn = await wire.request_private(
        request.scope, session.principal, fields.get("domain", "").strip(), names,
        fields.get("key_algorithm", "").strip(),
    )  # fmt: skip
    return certificate_url(arn)


async def _certificate_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Typed | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    certificate_id = request.path_params.get("certificate_id", "")
    wire = _wire(console)
    detail: CertificateDetail | None = None
    pem, chain = "", ""
    tags: list[tuple[str, str]] = []
    tags_error = ""
    if wire is None:
        error, status = _not_served(console, request)
    else:
        origin, principal = request.scope, session.principal
        arn = _arn(wire, request, session)
        try:
            detail = await wire.describe(origin, principal, arn)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        else:
            try:
                pem, chain = await wire.pem(origin, principal, arn)
            except WireError as exc:  # a policy may describe and not get: the PEM says so
                pem = console.error_text(request, exc)
            try:
                tags = await wire.tags(origin, principal, arn)
            except WireError as exc:
                tags_error = console.error_text(request, exc)
    return console.render(
        request,
        "acm_certificate.html",
        session=session,
        status=status,
        title=f"{_('Certificate')} {detail.domain if detail else certificate_id}",
        base=f"{_URL}/{quote(certificate_id, safe='')}",
        detail=detail,
        pem=pem,
        chain=chain,
        tags=tags,
        tags_error=tags_error,
        typed={k: _shown(v) for k, v in (typed or {}).items()},
        error=error,
    )


def _change(name: str) -> Any:
    """A certificate page's one-call form ``name`` (tags, untag, renew, delete)."""

    async def change(wire: AcmWire, request: Request, session: Session, fields: Form) -> str:
        arn = _arn(wire, request, session)
        origin, principal = request.scope, session.principal
        if name == "tags":
            tags = parse_tags(fields.get("tags", ""))
            if not tags:
                _ = words(request)
                raise FormFault(_("Give at least one tag, as Key=Value."))
            await wire.tag(origin, principal, arn, tags)
        elif name == "untag":
            await wire.untag(origin, principal, arn, fields.get("key", ""))
        elif name == "renew":
            await wire.renew(origin, principal, arn)
        else:
            await wire.delete(origin, principal, arn)
            return _URL
        return certificate_url(arn)

    return change


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/certificates", signed_in(_list_page), ["GET"]),
    ("/certificates", imported, ["POST"]),
    ("/certificates/request",
     action(_list_page, _request, wire=_wire, form=_REQUEST), ["POST"]),
    ("/certificates/{certificate_id}", signed_in(_certificate_page), ["GET"]),
    ("/certificates/{certificate_id}/reimport", imported, ["POST"]),
    ("/certificates/{certificate_id}/tags",
     action(_certificate_page, _change("tags"), wire=_wire, form="tags"), ["POST"]),
    ("/certificates/{certificate_id}/untag",
     action(_certificate_page, _change("untag"), wire=_wire), ["POST"]),
    ("/certificates/{certificate_id}/renew",
     action(_certificate_page, _change("renew"), wire=_wire), ["POST"]),
    ("/certificates/{certificate_id}/delete",
     action(_certificate_page, _change("delete"), wire=_wire, confirmed=True), ["POST"]),
]  # fmt: skip
