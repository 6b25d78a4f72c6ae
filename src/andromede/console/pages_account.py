"""The tenant's own records: the audit trail (the latest signed checkpoint and the entries,
newest first, by page, and the whole trail to verify offline), the operators' access requests
(approve, refuse, revoke) and a month's usage and cost (on the page or as CSV).

Who may read and act on them is decided as on the management API (decision 0113): the same
``andromede:`` actions on the same ARNs, asked of the same decision (``iam/tenant_actions``),
the root allowed in its own account, others by their policies. A refusal is a 403 page naming
the action and an event of the tenant's log, as the API's; another tenant's access request
is 404 before any decision, as on the API, so that its existence does not leak."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response, StreamingResponse

from andromede.audit.access import Actor
from andromede.audit.errors import InvalidTreeRange, NoSuchAccessRequest, NotCosigned
from andromede.billing.errors import InvalidPeriod
from andromede.billing.export import usage_csv_text
from andromede.billing.model import parse_month
from andromede.console.handlers import Form, Handler, posted, signed_in
from andromede.console.session import CONSOLE_PATH
from andromede.errors import AndromedeError
from andromede.iam.tenant_actions import (
    Action,
    audit_log_arn,
    billing_profile_arn,
    invoice_arn,
    operator_access_arn,
    operator_access_keys,
    usage_arn,
)

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["PAGE_ACTIONS", "ROUTES", "page_resource"]

_ACCESS_URL: Final = f"{CONSOLE_PATH}/access-requests"


# What each tenant page reads, as the management API's routes for the same records decide:
# the page is shown (and offered in the menu) when every one of its actions is allowed.
PAGE_ACTIONS: Final[dict[str, tuple[Action, ...]]] = {
    "audit": (Action.GET_AUDIT_CHECKPOINT, Action.GET_AUDIT_ENTRIES),
    "access-requests": (Action.LIST_OPERATOR_ACCESS_REQUESTS,),
    "usage": (Action.GET_USAGE_REPORT,),
    "invoices": (Action.GET_INVOICE,),  # pages_invoices.py
    "billing-profile": (Action.GET_BILLING_PROFILE,),  # pages_billing_profile.py
}


def page_resource(page: str, account: str) -> str:
    """The ARN a page's actions are decided on, the API's for the same records."""
    if page == "audit":
        return audit_log_arn(account)
    if page == "access-requests":
        return operator_access_arn(account, "*")
    if page == "invoices":
        return invoice_arn(account, "*")
    if page == "billing-profile":
        return billing_profile_arn(account)
    return usage_arn(account)


async def _tenant_allowed(
    console: Console, request: Request, session: Session, page: str
) -> str | Response:
    """The caller's tenant when it may read ``page``; the refusal otherwise (403, logged)."""
    account = session.principal.tenant_id or "-"  # a console session is a tenant's principal's
    refused = await console.authorise(
        request, session, PAGE_ACTIONS[page], page_resource(page, account), account=account
    )
    if refused is not None or session.principal.tenant_id is None:
        return refused or _absent(console, request, session, page)
    return account


def _absent(console: Console, request: Request, session: Session, title: str) -> Response:
    _ = console.catalogue(request).gettext
    return console.render(
        request,
        "message.html",
        session=session,
        status=404,
        title=title,
        error=_("This server does not keep these records."),
    )


@signed_in
async def audit(console: Console, request: Request, session: Session) -> Response:
    _ = console.catalogue(request).gettext
    title = _("Audit trail")
    trail = console.trail
    if trail is None:
        return _absent(console, request, session, title)
    log = await _tenant_allowed(console, request, session, "audit")
    if isinstance(log, Response):
        return log
    signed = await trail.checkpoint(log)
    pruned, _hashes = await trail.pruned(log)
    page_size = min(console.settings.console_page_size, console.settings.audit_max_entries)
    asked = request.query_params.get("end", "")
    end = min(int(asked), signed.size) if asked.isdigit() and len(asked) < 19 else signed.size
    start = max(pruned, end - page_size)
    entries = await trail.entries(log, start, end) if start < end else []
    rows = [
        {"index": start + offset, **_entry(text)}
        for offset, text in reversed(list(enumerate(entries)))
    ]
    older = f"{CONSOLE_PATH}/audit?end={start}" if start > pruned else None
    # What the region's witnesses last cosigned (decision 0122), if they did.
    cosigned = await trail.cosigned_checkpoint(log)
    return console.render(
        request,
        "audit.html",
        session=session,
        title=title,
        checkpoint=signed.note,
        size=signed.size,
        trail_file=f"audit-trail-{log}-{signed.size}.json",
        rows=rows,
        older_url=older,
        cosigned_size=None if cosigned is None else cosigned[0].size,
        witnesses=[] if cosigned is None else cosigned[1],
    )


# A download is the whole log: the actions ``andromede audit download`` needs; the proofs
# only for a trail that extends one verified before (``since``).
_DOWNLOAD_ACTIONS: Final = (
    Action.GET_AUDIT_CHECKPOINT,
    Action.GET_AUDIT_ENTRIES,
    Action.GET_AUDIT_PRUNED_HASHES,
)


@signed_in
async def audit_download(console: Console, request: Request, session: Session) -> Response:
    """The tenant's log as the JSON trail ``andromede audit verify`` checks offline, streamed
    page by page as the trail reads it; with ``since`` (the size of a trail verified before),
    with the consistency proof ``verify --trusted`` checks against that trail."""
    trail = console.trail
    account = session.principal.tenant_id
    if trail is None or account is None:
        return _absent(console, request, session, console.catalogue(request).gettext("Audit trail"))
    since_text = request.query_params.get("since", "")
    if since_text and not (since_text.isdigit() and len(since_text) < 19):
        _ = console.catalogue(request).gettext
        return console.render(
            request, "message.html", session=session, status=400, title=_("Audit trail"),
            error=_("The size of the trail verified before is a whole number of entries."),
        )  # fmt: skip
    since = int(since_text) if since_text else None
    cosigned = request.query_params.get("cosigned") == "1"
    actions = _DOWNLOAD_ACTIONS if since is None else (*_DOWNLOAD_ACTIONS, Action.GET_AUDIT_PROOF)
    refused = await console.authorise(
        request, session, actions, audit_log_arn(account), account=account
    )
    if refused is not None:
        return refused
    try:
        signed, document = await trail.trail_document(
            account, trusted_size=since, cosigned=cosigned
        )
    except NotCosigned:
        _ = console.catalogue(request).gettext
        return console.render(
            request, "message.html", session=session, status=404, title=_("Audit trail"),
            error=_("No witness has cosigned the log yet."),
        )  # fmt: skip
    except InvalidTreeRange:
        _ = console.catalogue(request).gettext
        return console.render(
            request, "message.html", session=session, status=409, title=_("Audit trail"),
            error=_("The log has fewer entries than the trail verified before: it lost some."),
        )  # fmt: skip
    suffix = "-cosigned" if cosigned else ""
    name = f"audit-trail-{account}-{signed.size}{suffix}.json"
    return StreamingResponse(
        document,
        media_type="application/json",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


@signed_in
async def audit_public_key(console: Console, request: Request, session: Session) -> Response:
    """The region's verifier key, the file ``verify --public-key`` takes (``audit-log.pub``)."""
    if console.trail is None:
        return _absent(console, request, session, console.catalogue(request).gettext("Audit trail"))
    return PlainTextResponse(
        console.trail.verifier_key + "\n",
        headers={"content-disposition": 'attachment; filename="audit-log.pub"'},
    )


def _entry(text: str) -> dict[str, Any]:
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        return {"time": "", "action": text[:200], "principal": "", "outcome": "", "resource": ""}
    return {
        "time": str(parsed.get("occurred_at", ""))[:19],
        "action": str(parsed.get("action", "")),
        "principal": str(parsed.get("principal") or ""),
        "outcome": str(parsed.get("outcome", "")),
        "resource": str(parsed.get("resource", "")),
    }


@signed_in
async def access_requests(console: Console, request: Request, session: Session) -> Response:
    return await _access_page(console, request, session, error=None, status=200)


async def _access_page(
    console: Console, request: Request, session: Session, *, error: str | None, status: int
) -> Response:
    _ = console.catalogue(request).gettext
    title = _("Operator access")
    service = console.operator_access
    if service is None:
        return _absent(console, request, session, title)
    tenant = await _tenant_allowed(console, request, session, "access-requests")
    if isinstance(tenant, Response):
        return tenant
    now = service.now()
    found = await service.tenant_requests(tenant)
    rows = [
        {
            "id": r.id,
            "operator": r.operator_name,
            "buckets": ", ".join(r.buckets) if r.buckets is not None else "*",
            "mode": r.mode.value,
            "reason": r.reason,
            "duration": r.duration_seconds,
            "state": r.state(now).value,
            "expires": r.expires_at.isoformat(timespec="seconds") if r.expires_at else "",
        }
        for r in found
    ]
    return console.render(
        request, "access.html", session=session, status=status, title=title, rows=rows,
        error=error,
    )  # fmt: skip


_DECISIONS: Final = {
    "approve": Action.APPROVE_OPERATOR_ACCESS,
    "refuse": Action.REFUSE_OPERATOR_ACCESS,
    "revoke": Action.REVOKE_OPERATOR_ACCESS,
}


def _decide(decision: str) -> Handler:
    @posted()
    async def handler(
        console: Console, request: Request, session: Session, fields: Form
    ) -> Response:
        service = console.operator_access
        principal = session.principal
        if service is None or principal.tenant_id is None:
            return await _access_page(console, request, session, error=None, status=404)
        actor = Actor(principal.arn, tenant_id=principal.tenant_id)
        access_request = request.path_params["access_request"]
        request_id = console.request_id(request)
        try:
            # Another tenant's request is not found, as on the API, before anything is decided.
            found = await service.get(actor, access_request)
        except NoSuchAccessRequest:
            _ = console.catalogue(request).gettext
            return console.render(
                request, "message.html", session=session, status=404, title=_("Operator access"),
                error=_("No such access request."),
            )  # fmt: skip
        refused = await console.authorise(
            request,
            session,
            (_DECISIONS[decision],),
            operator_access_arn(found.tenant_id, found.id),
            account=found.tenant_id,
            keys=operator_access_keys(found),
        )
        if refused is not None:
            return refused
        acts = {"approve": service.approve, "refuse": service.refuse, "revoke": service.revoke}
        act = acts[decision]
        try:
            await act(actor, access_request, request_id=request_id)
        except AndromedeError as exc:
            text = f"{exc} ({type(exc).__name__})"
            return await _access_page(console, request, session, error=text, status=409)
        return RedirectResponse(_ACCESS_URL, status_code=303)

    return handler


approve = _decide("approve")
refuse = _decide("refuse")
revoke = _decide("revoke")


@signed_in
async def usage(console: Console, request: Request, session: Session) -> Response:
    _ = console.catalogue(request).gettext
    title = _("Usage and cost")
    billing = console.billing
    if billing is None:
        return _absent(console, request, session, title)
    tenant = await _tenant_allowed(console, request, session, "usage")
    if isinstance(tenant, Response):
        return tenant
    asked = request.query_params.get("month") or datetime.now(UTC).strftime("%Y-%m")
    try:
        period = parse_month(asked)
    except InvalidPeriod:
        return console.render(
            request, "message.html", session=session, status=400, title=title,
            error=_("A month is written YYYY-MM, such as 2026-11."),
        )  # fmt: skip
    report = await billing.usage_report(tenant, period)
    if request.url.path.endswith(".csv"):
        return Response(
            usage_csv_text(report),
            media_type="text/csv; charset=utf-8",
            headers={
                "content-disposition": (f'attachment; filename="usage-{tenant}-{period.label}.csv"')
            },
        )
    before = period.start - timedelta(days=1)
    return console.render(
        request, "usage.html", session=session, title=title, report=report,
        previous_month=before.strftime("%Y-%m") if before.year >= 1970 else None,
        next_month=period.end.strftime("%Y-%m") if period.end <= datetime.now(UTC) else None,
    )  # fmt: skip


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/audit", audit, ["GET"]),
    ("/audit/trail.json", audit_download, ["GET"]),
    ("/audit/audit-log.pub", audit_public_key, ["GET"]),
    ("/access-requests", access_requests, ["GET"]),
    ("/access-requests/{access_request}/approve", approve, ["POST"]),
    ("/access-requests/{access_request}/refuse", refuse, ["POST"]),
    ("/access-requests/{access_request}/revoke", revoke, ["POST"]),
    ("/usage", usage, ["GET"]),
    ("/usage.csv", usage, ["GET"]),
]
