"""CloudWatch Logs (decision 0186) in the console (decision 0111, session 48): the log groups'
list (a name prefix, pages, retention, stored bytes, KMS key), a group's creation (retention,
a key among the account's, tags, its class, deletion protection — decision 0222), a group's
page (its retention and deletion protection changed, its metric filters
listed, made and deleted, its subscription filters — ``pages_log_subscriptions`` —, its streams
newest first), a stream's events (GetLogEvents' pages,
newer and older), a search across the group (FilterLogEvents with a typed pattern) and a
group's deletion — Logs' own calls as the signed-in principal (``wire_logs.LogsWire``), so
its IAM decisions and its words answer them.

A group's name may hold "/" (``/aws/lambda/x``): it travels in the query or the form, never
as a path segment, so no name can be read as another page. Events' messages are customer
data, shown as text (the templates autoescape), never as markup.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from andromede.console import handlers
from andromede.console import pages_log_protection as protection
from andromede.console import pages_log_subscriptions as subscriptions
from andromede.console.handlers import (
    Form,
    FormFault,
    Typed,
    fault_or_refusal,
    first_refusal,
    signed_in,
    words,
)
from andromede.console.pages_alarms import parse_tags
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_logs import FilterRow, GroupRow, LogsWire

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["LOG_CLASSES", "RETENTION_DAYS", "ROUTES"]

_GROUPS_URL: Final = f"{CONSOLE_PATH}/log-groups"
_CREATE: Final = "create"  # the list page's form, shown again as typed when refused
# PutRetentionPolicy's allowed values (AWS's list); the empty choice keeps events forever.
RETENTION_DAYS: Final = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
_MAX_GROUPS: Final = 50  # DescribeLogGroups' limit bound (AWS's)
_ACTIONS: Final = frozenset(
    {"retention", "deletion-protection", "put-filter", "delete-filter", "delete"}
)
# CreateLogGroup's classes the console offers (DELIVERY serves Lambda only: none here).
LOG_CLASSES: Final = ("STANDARD", "INFREQUENT_ACCESS")
# A group's data protection policy (decision 0211), put or deleted (``pages_log_protection``),
# and its subscription filters (decision 0225, ``pages_log_subscriptions``).
_PROTECTION: Final = {
    "put-protection": protection.put,
    "delete-protection": protection.delete,
    **subscriptions.ACTIONS,
}


def group_url(name: str) -> str:
    return f"{_GROUPS_URL}/group?{urlencode({'name': name})}"


def _retention(typed: str, _: Any) -> int | None:
    typed = typed.strip()
    if not typed:
        return None
    if not typed.isdigit() or int(typed) not in RETENTION_DAYS:
        raise FormFault(_("Choose a retention among the offered ones."))
    return int(typed)


def _page_size(console: Console) -> int:
    return max(1, min(console.settings.console_page_size, _MAX_GROUPS))


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
    wire = console.logs
    rows: list[GroupRow] = []
    next_href = None
    prefix = request.query_params.get("prefix", "")[:512]
    if wire is None:
        error, status = _("This server serves no CloudWatch Logs."), 404
    else:
        try:
            rows, token = await wire.list_groups(
                request.scope,
                session.principal,
                prefix=prefix,
                limit=_page_size(console),
                token=request.query_params.get("token") or None,
            )
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        else:
            if token:
                query = {"token": token, **({"prefix": prefix} if prefix else {})}
                next_href = f"{_GROUPS_URL}?{urlencode(query)}"
    keys: list[tuple[str, str]] = []
    if wire is not None and console.kms is not None:
        keys = await console.kms.key_arn_choices(
            request.scope, session.principal, limit=console.settings.console_page_size
        )
    return console.render(
        request,
        "log_groups.html",
        session=session,
        status=status,
        title=_("Log groups"),
        groups=rows,
        prefix=prefix,
        next_href=next_href,
        kms_keys=keys,
        retention_days=RETENTION_DAYS,
        log_classes=LOG_CLASSES,
        form=(typed or {}).get(_CREATE, {}),
        error=error,
    )


log_groups = signed_in(_list_page)


async def _create(wire: LogsWire, request: Request, session: Session, fields: Form) -> str:
    name = fields.get("name", "").strip()
    origin, principal = request.scope, session.principal
    _ = words(request)
    days = _retention(fields.get("retention", ""), _)
    log_class = fields.get("log_class", "") or "STANDARD"
    if log_class not in LOG_CLASSES:
        raise FormFault(_("Choose a log class among the offered ones."))
    await wire.create_group(
        origin, principal, name,
        kms_key_id=fields.get("kms_key", "").strip(),
        tags=parse_tags(fields.get("tags", "")),
        log_class=log_class,
        deletion_protection=fields.get("deletion_protection") == "yes",
    )  # fmt: skip
    if days is not None:
        await wire.set_retention(origin, principal, name, days)
    return group_url(name)


def _wire(console: Console) -> LogsWire | None:
    return console.logs


create = handlers.action(_list_page, _create, wire=_wire, form=_CREATE)


async def _group_page(
    console: Console,
    request: Request,
    session: Session,
    name: str,
    *,
    error: str | None = None,
    status: int = 200,
    protection_typed: Mapping[str, str] | None = None,
    subscription_typed: Mapping[str, str] | None = None,
) -> Response:
    _ = console.catalogue(request).gettext
    wire = console.logs
    group: GroupRow | None = None
    filters: list[FilterRow] = []
    streams: list[Any] = []
    next_href = None
    policy: protection.PolicyView | None = None
    policy_error = ""
    group_names: list[str] = []
    subscribed: dict[str, Any] = {}
    origin, principal = request.scope, session.principal
    if wire is None:
        error, status = _("This server serves no CloudWatch Logs."), 404
    else:
        try:
            group = await wire.group(origin, principal, name)
            if group is None:
                error, status = _("No such log group in your account."), 404
            else:
                filters = await wire.metric_filters(origin, principal, name)
                streams, token = await wire.streams(
                    origin, principal, name,
                    limit=_page_size(console),
                    token=request.query_params.get("token") or None,
                )  # fmt: skip
                if token:
                    next_href = f"{group_url(name)}&{urlencode({'token': token})}"
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        if group is not None:
            # A policy that may list groups without reading their policy: its refusal shown in
            # the policy's section, the rest of the page as it is.
            try:
                document = await wire.data_protection_policy(origin, principal, name)
            except WireError as exc:
                policy_error = console.error_text(request, exc)
            else:
                policy = None if document is None else protection.policy_view(document)
            with suppress(WireError):  # the destination's choices only: Logs decides
                group_names = await wire.group_names(origin, principal)
            subscribed = await subscriptions.section(
                console, request, session, name, group.log_class, subscription_typed
            )
    return console.render(
        request,
        "log_group.html",
        session=session,
        status=status,
        title=name,
        name=name,
        group=group,
        filters=filters,
        streams=streams,
        next_href=next_href,
        retention_days=RETENTION_DAYS,
        policy=policy,
        policy_error=policy_error,
        policy_form=protection_typed or protection.form_of(policy),
        managed_identifiers=protection.MANAGED,
        custom_rows=range(1, protection.CUSTOM_ROWS + 1),
        group_names=[g for g in group_names if g != name],
        error=error,
        **subscribed,
    )


@signed_in
async def log_group(console: Console, request: Request, session: Session) -> Response:
    name = request.query_params.get("name", "")[:512]
    if not name:
        return RedirectResponse(_GROUPS_URL, status_code=303)
    return await _group_page(console, request, session, name)


@signed_in
async def change(console: Console, request: Request, session: Session) -> Response:
    """One POST of a group's page (its name a form field): the change, then back to the
    group's page (303), or the list after a deletion; a refusal shown on the group's page."""
    action = request.path_params.get("action", "")
    fields = await console.form(request, session, max_fields=protection.MAX_FIELDS)
    if fields is None:
        return console.refused_form(request, session)
    name = fields.get("name", "")[:512]
    wire = console.logs
    if wire is None or (action not in _ACTIONS and action not in _PROTECTION) or not name:
        return await _list_page(console, request, session)
    _ = console.catalogue(request).gettext
    origin, principal = request.scope, session.principal
    try:
        if action in _PROTECTION:
            await _PROTECTION[action](wire, request, session, name, fields)
        elif action == "retention":
            await wire.set_retention(origin, principal, name, _retention(fields.get("days", ""), _))
        elif action == "deletion-protection":
            enabled = fields.get("enabled") == "yes"
            await wire.set_deletion_protection(origin, principal, name, enabled)
        elif action == "put-filter":
            row = FilterRow(
                fields.get("filter_name", "").strip(),
                fields.get("pattern", ""),
                fields.get("metric_namespace", "").strip(),
                fields.get("metric_name", "").strip(),
                fields.get("metric_value", "").strip() or "1",
            )
            await wire.put_metric_filter(origin, principal, name, row)
        elif action == "delete-filter":
            await wire.delete_metric_filter(origin, principal, name, fields.get("filter_name", ""))
        else:
            if fields.get("confirm") != "yes":
                raise FormFault(_("Tick the box to confirm the deletion."))
            await wire.delete_group(origin, principal, name)
            return RedirectResponse(_GROUPS_URL, status_code=303)
    except (FormFault, WireError) as exc:
        error, status = fault_or_refusal(console, request, exc)
        return await _group_page(
            console, request, session, name, error=error, status=status,
            protection_typed=fields if action == "put-protection" else None,
            subscription_typed=fields if action == subscriptions.PUT else None,
        )  # fmt: skip
    return RedirectResponse(group_url(name), status_code=303)


def _unmasking(request: Request) -> bool:
    """The "Unmask" toggle (decision 0211): the reading asks Logs for the masked terms, which
    it shows only to a caller allowed ``logs:Unmask`` (its AccessDeniedException otherwise)."""
    return request.query_params.get("unmask") == "yes"


def _with_unmask(query: dict[str, str], unmask: bool) -> dict[str, str]:
    return {**query, "unmask": "yes"} if unmask else query


@signed_in
async def log_stream(console: Console, request: Request, session: Session) -> Response:
    """A stream's events, a page of GetLogEvents: the newest without a token; "Newer" and
    "Older" follow its forward and backward tokens."""
    _ = console.catalogue(request).gettext
    group = request.query_params.get("group", "")[:512]
    stream = request.query_params.get("stream", "")[:512]
    unmask = _unmasking(request)
    wire, error, status = console.logs, None, 200
    events: list[Any] = []
    newer = older = None
    query = {"group": group, "stream": stream}
    if wire is None:
        error, status = _("This server serves no CloudWatch Logs."), 404
    else:
        token = request.query_params.get("token") or None
        try:
            events, forward, backward = await wire.events(
                request.scope, session.principal, group, stream,
                limit=console.settings.console_page_size, token=token, unmask=unmask,
            )  # fmt: skip
        except WireError as exc:
            error, status = console.error_text(request, exc), exc.status
        else:
            base = f"{_GROUPS_URL}/stream?{urlencode(_with_unmask(query, unmask))}"
            # An empty page at either end still answers a token: offered when it moves.
            if forward and forward != token:
                newer = f"{base}&{urlencode({'token': forward})}"
            if backward and backward != token:
                older = f"{base}&{urlencode({'token': backward})}"
    return console.render(
        request,
        "log_stream.html",
        session=session,
        status=status,
        title=stream,
        group=group,
        group_href=group_url(group),
        stream=stream,
        events=events,
        newer_href=newer,
        older_href=older,
        unmask=unmask,
        toggle_href=f"{_GROUPS_URL}/stream?{urlencode(_with_unmask(query, not unmask))}",
        error=error,
    )


@signed_in
async def search(console: Console, request: Request, session: Session) -> Response:
    """FilterLogEvents across the group's streams with the typed pattern, paged."""
    _ = console.catalogue(request).gettext
    group = request.query_params.get("group", "")[:512]
    pattern = request.query_params.get("pattern", "")[:1024]
    unmask = _unmasking(request)
    wire, error, status = console.logs, None, 200
    events: list[Any] = []
    next_href = None
    query = {"group": group, "pattern": pattern}
    if wire is None:
        error, status = _("This server serves no CloudWatch Logs."), 404
    else:
        try:
            events, token = await wire.search(
                request.scope, session.principal, group, pattern=pattern,
                limit=console.settings.console_page_size,
                token=request.query_params.get("token") or None, unmask=unmask,
            )  # fmt: skip
        except WireError as exc:
            error, status = console.error_text(request, exc), exc.status
        else:
            if token:
                following = _with_unmask({**query, "token": token}, unmask)
                next_href = f"{_GROUPS_URL}/search?{urlencode(following)}"
    return console.render(
        request,
        "log_search.html",
        session=session,
        status=status,
        title=_("Search {group}").format(group=group),
        group=group,
        group_href=group_url(group),
        pattern=pattern,
        events=events,
        next_href=next_href,
        unmask=unmask,
        toggle_href=f"{_GROUPS_URL}/search?{urlencode(_with_unmask(query, not unmask))}",
        error=error,
    )


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/log-groups", log_groups, ["GET"]),
    ("/log-groups", create, ["POST"]),
    ("/log-groups/group", log_group, ["GET"]),
    ("/log-groups/stream", log_stream, ["GET"]),
    ("/log-groups/search", search, ["GET"]),
    ("/log-groups/group/{action}", change, ["POST"]),
]
