"""Amazon DynamoDB (decision 0237) in the console (decisions 0111, 0244, 0251, 0252 and 0276): the
tables' list (status, key schema, item count, size, billing mode; pages of
``console_page_size``; the account's limits, DescribeLimits), a table's creation (name,
partition key and its type, an optional sort key, on demand or provisioned with capacities,
tags), its page (DescribeTable's fields, its secondary indexes with their keys, projection,
status and item count, a global one created or deleted, the billing mode and capacities changed
— the table's and its global indexes' provisioned units or on-demand maximums, with the dates of
the last increase and decrease and the decreases of the day (decision 0276) —, deletion
protection turned on or off, its and its stream's resource policies shown, written and removed
(``dynamodb_policies``), its replicas in the deployment's other regions listed with their
status, one added or deleted (UpdateTable's ``ReplicaUpdates``, decision 0279), time to live
shown and set, its stream turned on with a view type or off and its records read
(``dynamodb_stream_view``), tags added and removed), its items explored — Scan in pages of
``console_page_size`` items, or Query by partition key value with an optional sort key
condition, either on the table or one of its indexes, with a filter and a projection —, an item
created or replaced from DynamoDB JSON (PutItem), an item edited (UpdateItem with an update
expression, or its DynamoDB JSON replaced), an item deleted after a ticked box, and the table
deleted after a ticked box; the PartiQL editor's routes are ``pages_dynamodb_partiql``'s.
DynamoDB's own calls as the signed-in principal (``wire_dynamodb.DynamoWire``), so its IAM
decisions, checks, audit, metering and words answer them; the forms are read in
``dynamodb_forms``, the table's edits made in ``dynamodb_edits``.

A table's name is ``[a-zA-Z0-9_.-]{3,255}``: it travels as a path segment, which DynamoDB
checks. Items are shown as DynamoDB JSON, escaped; the key a read goes on from
(``LastEvaluatedKey``) travels in a form's hidden field, never in a URL, and so does the key
of an item to edit or delete.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from andromede.console import handlers, pages_dynamodb_partiql
from andromede.console.dynamodb_edits import EDITS, ITEM_EDITS, item_key
from andromede.console.dynamodb_forms import (
    PROJECTIONS,
    SORT_CONDITIONS,
    json_object,
    key_condition,
    key_of,
    read_options,
)
from andromede.console.dynamodb_policies import POLICY_EDITS, PolicyView, policy_views
from andromede.console.dynamodb_recovery import RECOVERY_EDITS, RecoveryView, recovery_view
from andromede.console.dynamodb_stream_view import (
    STREAM_POSITIONS,
    STREAM_VIEWS,
    change_rows,
    read_changes,
    shards_of,
)
from andromede.console.handlers import (
    Form,
    FormFault,
    Typed,
    fault_or_refusal,
    first_refusal,
    refusal,
    signed_in,
)
from andromede.console.list_pages import Described, describe_listed
from andromede.console.pages_alarms import parse_tags
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_dynamodb import (
    DynamoWire,
    Item,
    ItemsRead,
    TableSummary,
    item_text,
)
from andromede.console.wire_dynamodb_capacity import AccountLimits
from andromede.console.wire_dynamodb_streams import ChangesRead, StreamShard

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["KEY_TYPES", "ROUTES", "SORT_CONDITIONS"]

_TABLES_URL: Final = f"{CONSOLE_PATH}/dynamodb"
_CREATE: Final = "create"
KEY_TYPES: Final = ("S", "N", "B")  # a key attribute's types: string, number, binary
_ACTIONS: Final = frozenset(
    {"ttl", "tag", "untag", "scan", "query", "edit-item", "put-item", "delete-item", "delete",
     "read-stream", *EDITS, *RECOVERY_EDITS, *POLICY_EDITS}
)  # fmt: skip
_TABLE_EDITS: Final = {**EDITS, **POLICY_EDITS}  # each answers the table page's anchor
_MAX_FIELDS: Final = 100  # the capacity form: four units for each of 20 global indexes
_READS: Final = frozenset({"scan", "query", "edit-item", "read-stream"})  # answer the page
_SAVED: Final = frozenset(
    {"item", "ttl", "tags", "indexes", "capacity", "stream", "recovery", "encryption", "backups",
     "policy-table", "policy-stream", "replicas"}
)  # fmt: skip


def _wire(console: Console) -> DynamoWire | None:
    return console.dynamodb


def table_url(name: str) -> str:
    return f"{_TABLES_URL}/{quote(name, safe='')}"


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
    described: Described[TableSummary, str | None] = Described(error, status)
    limits: AccountLimits | None = None
    limits_error = ""
    if wire is None:
        described.error, described.status = _("This server serves no Amazon DynamoDB."), 404
    else:
        origin, principal = request.scope, session.principal
        listing = wire.names(
            origin, principal,
            after=request.query_params.get("after", "")[:255] or None,
            limit=console.settings.console_page_size,
        )  # fmt: skip
        described = await describe_listed(
            console, request, listing, lambda name: wire.describe(origin, principal, name),
            error=error, status=status,
        )  # fmt: skip
        try:
            limits = await wire.capacity().limits(origin, principal)
        except WireError as exc:  # its section says so; the tables are shown
            limits_error = refusal(console, request, exc)[0]
    last = described.cursor
    next_href = f"{_TABLES_URL}?{urlencode({'after': last})}" if last else None
    return console.render(
        request,
        "dynamodb_tables.html",
        session=session,
        status=described.status,
        title=_("DynamoDB tables"),
        tables=described.rows,
        refused=described.refused,
        next_href=next_href,
        limits=limits,
        limits_error=limits_error,
        key_types=KEY_TYPES,
        form={"read_capacity": "5", "write_capacity": "5", **(typed or {}).get(_CREATE, {})},
        error=described.error,
    )


tables = signed_in(_list_page)


async def _create(wire: DynamoWire, request: Request, session: Session, fields: Form) -> str:
    name = fields.get("name", "").strip()
    sort_name = fields.get("sort_key", "").strip()
    await wire.create(
        request.scope,
        session.principal,
        name,
        partition_key=(fields.get("partition_key", "").strip(), fields.get("partition_type", "")),
        sort_key=(sort_name, fields.get("sort_type", "")) if sort_name else None,
        on_demand=fields.get("billing") != "PROVISIONED",
        read_capacity=fields.get("read_capacity", ""),
        write_capacity=fields.get("write_capacity", ""),
        tags=parse_tags(fields.get("tags", "")),
    )
    return table_url(name)


create = handlers.action(_list_page, _create, wire=_wire, form=_CREATE)


def _item_rows(table: TableSummary | None, read: ItemsRead | None) -> list[tuple[str, str]]:
    """Each item read as the page shows it, with its primary key (JSON, for its edit and
    deletion; "" when a projection left it out)."""
    if read is None:
        return []
    return [(item_text(item), key_of(table, item)) for item in read.items]


async def _table_page(
    console: Console,
    request: Request,
    session: Session,
    name: str,
    *,
    read: ItemsRead | None = None,
    read_kind: str = "",  # scan or query: the form a "Read on" posts again
    editing: tuple[str, str] | None = None,  # an item being edited: its key, its JSON
    changes: ChangesRead | None = None,  # the stream's records read
    typed: Form | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    wire = _wire(console)
    table: TableSummary | None = None
    ttl = ("", "")
    ttl_error = ""
    tags: list[tuple[str, str]] = []
    tags_error = ""
    shards: list[StreamShard] = []
    stream_error = ""
    recovery = RecoveryView()
    policies: list[PolicyView] = []
    if wire is None:
        error, status = _("This server serves no Amazon DynamoDB."), 404
    else:
        origin, principal = request.scope, session.principal
        try:
            table = await wire.describe(origin, principal, name)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        else:
            try:
                ttl = await wire.time_to_live(origin, principal, name)
            except WireError as exc:  # its section says so; the rest is shown
                ttl_error = refusal(console, request, exc)[0]
            try:
                tags = await wire.tags(origin, principal, table.arn)
            except WireError as exc:
                tags_error = refusal(console, request, exc)[0]
            shards, refused = await shards_of(wire, origin, principal, table)
            if refused is not None:  # the stream's section says so; the rest is shown
                stream_error = refusal(console, request, refused)[0]
            recovery = await recovery_view(console, request, session, wire, table)
            policies = await policy_views(console, request, session, wire, table)
    saved = request.query_params.get("saved", "")
    return console.render(
        request,
        "dynamodb_table.html",
        session=session,
        status=status,
        title=f"{_('DynamoDB table')} {name}",
        name=name,
        table=table,
        ttl=ttl,
        ttl_error=ttl_error,
        tags=tags,
        tags_error=tags_error,
        read=read,
        read_kind=read_kind,
        items=_item_rows(table, read),
        sort_conditions=SORT_CONDITIONS,
        key_types=KEY_TYPES,
        projections=PROJECTIONS,
        editing=editing,
        shards=shards,
        stream_error=stream_error,
        stream_views=STREAM_VIEWS,
        stream_positions=STREAM_POSITIONS,
        changes=changes,
        recovery=recovery,
        policies=policies,
        replica_regions=_replica_regions(console, table),
        change_rows=change_rows(changes),
        saved=saved if saved in _SAVED else "",
        form=typed or {},
        action_url=table_url(name),
        error=error,
    )


def _replica_regions(console: Console, table: TableSummary | None) -> list[str]:
    """The regions a replica may be added in: those the deployment serves but the table's
    own (the console's calls are the home region's) and those it has a replica in."""
    if table is None:
        return []
    held = {region for region, _status in table.replicas}
    served = console.settings.served_region_names - {console.settings.region} - held
    return sorted(served)


@signed_in
async def table_page(console: Console, request: Request, session: Session) -> Response:
    return await _table_page(console, request, session, request.path_params.get("name", ""))


def _start(fields: Form, _: Any) -> Item | None:
    """The key a read goes on from (the previous page's LastEvaluatedKey), if any."""
    typed = fields.get("start", "")
    return json_object(typed, _("The key to read on from is not a JSON object.")) if typed else None


async def _read(
    console: Console, request: Request, session: Session, wire: DynamoWire, name: str,
    action: str, fields: Form,
) -> Response:  # fmt: skip
    """``scan`` and ``query`` (on the table or an index, with the form's filter and
    projection), ``edit-item`` (the item read as an edit starts from) and ``read-stream`` (the
    stream's records): the page (200)."""
    _ = console.catalogue(request).gettext
    origin, principal = request.scope, session.principal
    limit = console.settings.console_page_size
    if action == "read-stream":
        table = await wire.describe(origin, principal, name)
        changes = await read_changes(wire, origin, principal, table, fields, limit=limit, _=_)
        return await _table_page(console, request, session, name, changes=changes, typed=fields)
    if action == "edit-item":
        key = item_key(fields, _)
        item = await wire.get_item(origin, principal, name, key)
        if item is None:
            raise FormFault(_("The item is no longer in the table."), 404)
        editing = (json.dumps(key, sort_keys=True), item_text(item))
        return await _table_page(console, request, session, name, editing=editing)
    table = await wire.describe(origin, principal, name)  # its indexes' keys
    options = read_options(table, fields, _)
    start = _start(fields, _)
    if action == "scan":
        read = await wire.scan(origin, principal, name, limit=limit, start=start, options=options)
    else:
        condition, names, values = key_condition(table, fields, _)
        read = await wire.query(
            origin, principal, name, condition=condition, names=names, values=values,
            limit=limit, start=start, options=options,
        )  # fmt: skip
    return await _table_page(
        console, request, session, name, read=read, read_kind=action, typed=fields
    )


async def _edited(
    wire: DynamoWire, request: Request, session: Session, name: str, fields: Form
) -> tuple[str, str]:
    """The item whose edit was refused, shown again: its key as posted, and its JSON as it is
    now ("" when it cannot be read)."""
    try:
        key = json.loads(fields.get("key", ""))
        item = await wire.get_item(request.scope, session.principal, name, key)
    except (ValueError, WireError):
        item = None
    return fields.get("key", ""), item_text(item) if item is not None else ""


@signed_in
async def change(console: Console, request: Request, session: Session) -> Response:
    """One POST of a table's page: ``scan``, ``query`` and ``edit-item`` answer the page
    with what they read; the others change the table or its items and go back to its page
    (303), or show the refusal there with the form as typed."""
    name, action = request.path_params.get("name", ""), request.path_params.get("action", "")
    if action not in _ACTIONS:
        return await _table_page(console, request, session, name)
    fields = await console.form(request, session, max_fields=_MAX_FIELDS)
    if fields is None:
        return console.refused_form(request, session)
    wire = _wire(console)
    if wire is None:
        return await _table_page(console, request, session, name)
    _ = console.catalogue(request).gettext
    origin, principal = request.scope, session.principal
    target = table_url(name)
    try:
        if action in _READS:
            return await _read(console, request, session, wire, name, action, fields)
        if action in _TABLE_EDITS:
            target += await _TABLE_EDITS[action](wire, origin, principal, name, fields, _)
        elif action in RECOVERY_EDITS:  # decision 0263: a restore answers the new table
            target = await RECOVERY_EDITS[action](wire, request, origin, principal, name,
                                                  fields, _)  # fmt: skip
        elif action == "put-item":
            item = json_object(
                fields.get("item", ""), _("Give the item as a JSON object in DynamoDB JSON.")
            )
            await wire.put_item(origin, principal, name, item)
            target = f"{target}?saved=item#items"
        elif action == "delete-item":
            if fields.get("confirm") != "yes":
                raise FormFault(_("Tick the box to confirm the deletion."))
            await wire.delete_item(origin, principal, name, item_key(fields, _))
            target = f"{target}?saved=item#items"
        elif action == "ttl":
            attribute = fields.get("attribute", "").strip()
            enabled = fields.get("enabled") == "yes"
            if not enabled and not attribute:  # turning it off names the attribute it had
                attribute = (await wire.time_to_live(origin, principal, name))[1]
            await wire.set_time_to_live(origin, principal, name, attribute, enabled=enabled)
            target = f"{target}?saved=ttl#time-to-live"
        elif action in ("tag", "untag"):
            arn = (await wire.describe(origin, principal, name)).arn
            if action == "tag":
                await wire.tag(origin, principal, arn, parse_tags(fields.get("tags", "")))
            else:
                await wire.untag(origin, principal, arn, fields.get("key", ""))
            target = f"{target}?saved=tags#tags"
        else:
            if fields.get("confirm") != "yes":
                raise FormFault(_("Tick the box to confirm the deletion."))
            await wire.delete(origin, principal, name)
            target = _TABLES_URL
    except (FormFault, WireError) as exc:
        error, status = fault_or_refusal(console, request, exc)
        editing = (
            await _edited(wire, request, session, name, fields) if action in ITEM_EDITS else None
        )
        return await _table_page(
            console, request, session, name, editing=editing, typed=fields, error=error,
            status=status,
        )  # fmt: skip
    return RedirectResponse(target, status_code=303)


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/dynamodb", tables, ["GET"]),
    ("/dynamodb", create, ["POST"]),
    ("/dynamodb/{name}", table_page, ["GET"]),
    ("/dynamodb/{name}/{action}", change, ["POST"]),
    *pages_dynamodb_partiql.ROUTES,
]
