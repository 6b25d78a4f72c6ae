"""Amazon DynamoDB (decision 0237) in the console (decisions 0111 and 0244): the tables' list
(status, key schema, item count, size, billing mode; pages of ``console_page_size``), a
table's creation (name, partition key and its type, an optional sort key, on demand or
provisioned with capacities, tags), its page (DescribeTable's fields, its secondary indexes
named, time to live shown and set, tags added and removed), its items explored — Scan in pages
of ``console_page_size`` items, or Query by partition key value with an optional sort key
condition —, an item created or replaced from DynamoDB JSON (PutItem), an item deleted after
a ticked box, and the table deleted after a ticked box. DynamoDB's own calls as the signed-in
principal (``wire_dynamodb.DynamoWire``), so its IAM decisions, checks, audit, metering and
words answer them.

A table's name is ``[a-zA-Z0-9_.-]{3,255}``: it travels as a path segment, which DynamoDB
checks. Items are shown as DynamoDB JSON, escaped; the key a read goes on from
(``LastEvaluatedKey``) travels in a form's hidden field, never in a URL, and so does the key
of an item to delete.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from andromede.console import handlers
from andromede.console.handlers import (
    Form,
    FormFault,
    Typed,
    fault_or_refusal,
    first_refusal,
    refusal,
    signed_in,
)
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

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["KEY_TYPES", "ROUTES", "SORT_CONDITIONS"]

_TABLES_URL: Final = f"{CONSOLE_PATH}/dynamodb"
_CREATE: Final = "create"
KEY_TYPES: Final = ("S", "N", "B")  # a key attribute's types: string, number, binary
# The sort key conditions Query takes, as the form names them.
SORT_CONDITIONS: Final = ("=", "<", "<=", ">", ">=", "begins_with", "between")
_ACTIONS: Final = frozenset(
    {"ttl", "tag", "untag", "scan", "query", "put-item", "delete-item", "delete"}
)
_SAVED: Final = {"item": "put-item", "ttl": "time-to-live", "tags": "tags"}


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
    rows: list[TableSummary] = []
    refused: list[tuple[str, str]] = []  # a table whose description is refused: its words
    next_href = None
    if wire is None:
        error, status = _("This server serves no Amazon DynamoDB."), 404
    else:
        origin, principal = request.scope, session.principal
        try:
            names, last = await wire.names(
                origin, principal,
                after=request.query_params.get("after", "")[:255] or None,
                limit=console.settings.console_page_size,
            )  # fmt: skip
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        else:
            for name in names:
                try:
                    rows.append(await wire.describe(origin, principal, name))
                except WireError as exc:  # a policy may list tables, not describe this one
                    refused.append((name, console.error_text(request, exc)))
            if last:
                next_href = f"{_TABLES_URL}?{urlencode({'after': last})}"
    return console.render(
        request,
        "dynamodb_tables.html",
        session=session,
        status=status,
        title=_("DynamoDB tables"),
        tables=rows,
        refused=refused,
        next_href=next_href,
        key_types=KEY_TYPES,
        form={"read_capacity": "5", "write_capacity": "5", **(typed or {}).get(_CREATE, {})},
        error=error,
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
    """Each item read as the page shows it, with its primary key (JSON, for its deletion)."""
    if read is None:
        return []
    names = [k.name for k in table.key] if table else []
    return [
        (item_text(item), json.dumps({n: item[n] for n in names if n in item}, sort_keys=True))
        for item in read.items
    ]


async def _table_page(
    console: Console,
    request: Request,
    session: Session,
    name: str,
    *,
    read: ItemsRead | None = None,
    read_kind: str = "",  # scan or query: the form a "Read on" posts again
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
        saved=saved if saved in _SAVED else "",
        form=typed or {},
        action_url=table_url(name),
        error=error,
    )


@signed_in
async def table_page(console: Console, request: Request, session: Session) -> Response:
    return await _table_page(console, request, session, request.path_params.get("name", ""))


def _json_object(typed: str, what: str) -> Item:
    """A JSON object typed in a form (DynamoDB checks what is inside)."""
    try:
        parsed = json.loads(typed) if typed.strip() else None
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise FormFault(what)
    return parsed


def _key_value(kind: str, typed: str) -> dict[str, str]:
    """A key value as DynamoDB JSON: the key's type (S, N or B — base64) and the text typed."""
    return {kind or "S": typed}


def key_condition(table: TableSummary, fields: Form, _: Any) -> tuple[str, dict[str, str], Item]:
    """Query's key condition, names and values from the form: the partition key equal to the
    value typed, and the sort key's condition when one is chosen and the table has a sort
    key. The values are typed as the key's attribute types; DynamoDB checks them."""
    partition, sort = table.partition_key, table.sort_key
    if partition is None:
        raise FormFault(_("The table's key schema could not be read."))
    condition = "#pk = :pk"
    names = {"#pk": partition.name}
    values: Item = {":pk": _key_value(partition.type, fields.get("partition_value", ""))}
    operator = fields.get("sort_condition", "")
    if sort is not None and operator:
        if operator not in SORT_CONDITIONS:
            raise FormFault(_("Choose a sort key condition."))
        names["#sk"] = sort.name
        values[":sk"] = _key_value(sort.type, fields.get("sort_value", ""))
        if operator == "begins_with":
            condition += " AND begins_with(#sk, :sk)"
        elif operator == "between":
            values[":sk2"] = _key_value(sort.type, fields.get("sort_value_2", ""))
            condition += " AND #sk BETWEEN :sk AND :sk2"
        else:
            condition += f" AND #sk {operator} :sk"
    return condition, names, values


def _start(fields: Form, _: Any) -> Item | None:
    """The key a read goes on from (the previous page's LastEvaluatedKey), if any."""
    typed = fields.get("start", "")
    return (
        _json_object(typed, _("The key to read on from is not a JSON object.")) if typed else None
    )


@signed_in
async def change(console: Console, request: Request, session: Session) -> Response:
    """One POST of a table's page: ``scan`` and ``query`` answer the page with the items read;
    the others change the table or its items and go back to its page (303), or show the
    refusal there with the form as typed."""
    name, action = request.path_params.get("name", ""), request.path_params.get("action", "")
    if action not in _ACTIONS:
        return await _table_page(console, request, session, name)
    fields = await console.form(request, session)
    if fields is None:
        return console.refused_form(request, session)
    wire = _wire(console)
    if wire is None:
        return await _table_page(console, request, session, name)
    _ = console.catalogue(request).gettext
    origin, principal = request.scope, session.principal
    target = table_url(name)
    limit = console.settings.console_page_size
    try:
        if action == "scan":
            read = await wire.scan(origin, principal, name, limit=limit, start=_start(fields, _))
            return await _table_page(
                console, request, session, name, read=read, read_kind="scan", typed=fields
            )
        if action == "query":
            table = await wire.describe(origin, principal, name)
            condition, names, values = key_condition(table, fields, _)
            read = await wire.query(
                origin, principal, name, condition=condition, names=names, values=values,
                limit=limit, start=_start(fields, _),
            )  # fmt: skip
            return await _table_page(
                console, request, session, name, read=read, read_kind="query", typed=fields
            )
        if action == "put-item":
            item = _json_object(
                fields.get("item", ""), _("Give the item as a JSON object in DynamoDB JSON.")
            )
            await wire.put_item(origin, principal, name, item)
            target = f"{target}?saved=item#items"
        elif action == "delete-item":
            if fields.get("confirm") != "yes":
                raise FormFault(_("Tick the box to confirm the deletion."))
            key = _json_object(fields.get("key", ""), _("The item's key is not a JSON object."))
            await wire.delete_item(origin, principal, name, key)
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
        return await _table_page(
            console, request, session, name, typed=fields, error=error, status=status
        )
    return RedirectResponse(target, status_code=303)


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/dynamodb", tables, ["GET"]),
    ("/dynamodb", create, ["POST"]),
    ("/dynamodb/{name}", table_page, ["GET"]),
    ("/dynamodb/{name}/{action}", change, ["POST"]),
]
