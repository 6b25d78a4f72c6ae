"""Amazon Kinesis Data Streams (decision 0228) in the console (decisions 0111 and 0236): the
streams' list (status, capacity mode, open shards, retention, encryption; pages of
``console_page_size``), a stream's creation (provisioned with a shard count, or on demand,
tags), its page (its shards with their hash key ranges, open or closed; retention changed;
encryption started under a KMS key of the account or stopped; tags added and removed; its
resource policy shown, put from JSON and deleted after a ticked box, decision 0252), a
record put (partition key, data as typed), a shard's records read back (GetShardIterator at
the trim horizon or the latest point, then GetRecords of at most ``console_page_size``
records, read on with the next iterator) and the stream's deletion after a ticked box —
Kinesis' own calls as the signed-in principal (``wire_kinesis.KinesisWire``), so its IAM
decisions, checks, audit, metering and words answer them.

A stream's name is ``[a-zA-Z0-9_.-]{1,128}``: it travels as a path segment, which Kinesis
checks as it checks boto3's. A record's data is shown as text when it is UTF-8, else as
base64; the iterator to read on travels in a form's hidden field, never in a URL.
"""

from __future__ import annotations

import json
from contextlib import suppress
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
from andromede.console.list_pages import Described, describe_listed
from andromede.console.pages_alarms import parse_tags
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_kinesis import (
    KinesisWire,
    RecordsRead,
    ShardRow,
    StreamSummary,
)

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["POSITIONS", "ROUTES", "policy_text"]

_STREAMS_URL: Final = f"{CONSOLE_PATH}/kinesis"
_CREATE: Final = "create"  # the list page's form, shown again as typed when refused
_SHARDS_SHOWN: Final = 1000  # one ListShards page (AWS's default): the page's shard table
# Where a read starts (GetShardIterator's types the page offers), as the form names them.
POSITIONS: Final = ("TRIM_HORIZON", "LATEST")
_ACTIONS: Final = frozenset(
    {"retention", "encrypt", "stop-encryption", "tag", "untag", "put", "read", "delete",
     "put-policy", "delete-policy"}
)  # fmt: skip
DEFAULT_SHARDS: Final = 1  # the form's first shard count


def _wire(console: Console) -> KinesisWire | None:
    return console.kinesis


def stream_url(name: str) -> str:
    return f"{_STREAMS_URL}/{quote(name, safe='')}"


async def _key_choices(
    console: Console, request: Request, session: Session
) -> list[tuple[str, str]]:
    """The KMS keys the encryption form offers, as KMS lists them to the signed-in principal
    (none where KMS is not served or refuses): a choice only, Kinesis and KMS decide."""
    if console.kms is None:
        return []
    return await console.kms.key_choices(
        request.scope, session.principal, limit=console.settings.console_page_size
    )


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
    described: Described[StreamSummary, bool] = Described(error, status)
    if wire is None:
        described.error = _("This server serves no Amazon Kinesis Data Streams.")
        described.status = 404
    else:
        origin, principal = request.scope, session.principal
        listing = wire.names(
            origin, principal,
            after=request.query_params.get("after", "")[:128] or None,
            limit=console.settings.console_page_size,
        )  # fmt: skip
        described = await describe_listed(
            console, request, listing, lambda name: wire.summary(origin, principal, name),
            error=error, status=status,
        )  # fmt: skip
    names = described.names
    next_href = (
        f"{_STREAMS_URL}?{urlencode({'after': names[-1]})}" if described.cursor and names else None
    )
    return console.render(
        request,
        "kinesis_streams.html",
        session=session,
        status=described.status,
        title=_("Kinesis data streams"),
        streams=described.rows,
        refused=described.refused,
        next_href=next_href,
        form={"shard_count": str(DEFAULT_SHARDS), **(typed or {}).get(_CREATE, {})},
        error=described.error,
    )


streams = signed_in(_list_page)


async def _create(wire: KinesisWire, request: Request, session: Session, fields: Form) -> str:
    name = fields.get("name", "").strip()
    await wire.create(
        request.scope,
        session.principal,
        name,
        on_demand=fields.get("mode") == "ON_DEMAND",
        shard_count=fields.get("shard_count", ""),
        tags=parse_tags(fields.get("tags", "")),
    )
    return stream_url(name)


create = handlers.action(_list_page, _create, wire=_wire, form=_CREATE)


async def _stream_page(
    console: Console,
    request: Request,
    session: Session,
    name: str,
    *,
    read: RecordsRead | None = None,
    read_from: tuple[str, str] = ("", ""),  # the shard read and where it started
    typed: Form | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    wire = _wire(console)
    stream: StreamSummary | None = None
    shards: list[ShardRow] = []
    more_shards = False
    tags: list[tuple[str, str]] = []
    tags_error = ""
    policy, policy_error = "", ""
    if wire is None:
        error, status = _("This server serves no Amazon Kinesis Data Streams."), 404
    else:
        origin, principal = request.scope, session.principal
        try:
            stream = await wire.summary(origin, principal, name)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        else:
            with suppress(WireError):  # a policy may describe a stream and not list its shards
                shards, more_shards = await wire.shards(origin, principal, name, _SHARDS_SHOWN)
            try:
                tags = await wire.tags(origin, principal, name)
            except WireError as exc:  # the tags' section says so; the rest is shown
                tags_error = refusal(console, request, exc)[0]
            try:
                policy = policy_text(await wire.policy(origin, principal, stream.arn))
            except WireError as exc:  # the policy's section says so
                policy_error = refusal(console, request, exc)[0]
    put = (
        request.query_params.get("shard", "")[:128],
        request.query_params.get("sequence", "")[:128],
    )
    return console.render(
        request,
        "kinesis_stream.html",
        session=session,
        status=status,
        title=f"{_('Kinesis data stream')} {name}",
        name=name,
        stream=stream,
        shards=shards,
        more_shards=more_shards,
        tags=tags,
        tags_error=tags_error,
        policy=policy,
        policy_error=policy_error,
        saved=request.query_params.get("saved", "") == "policy",
        kms_keys=await _key_choices(console, request, session) if stream else [],
        put=put if all(put) else None,
        read=read,
        read_from=read_from,
        positions=POSITIONS,
        form=typed or {},
        action_url=stream_url(name),
        error=error,
    )


@signed_in
async def stream_page(console: Console, request: Request, session: Session) -> Response:
    return await _stream_page(console, request, session, request.path_params.get("name", ""))


def policy_text(policy: str) -> str:
    """A policy as a page shows it: indented when it is JSON, else as the service gave it."""
    try:
        return json.dumps(json.loads(policy), indent=2) if policy else ""
    except ValueError:
        return policy


def _hours(fields: Form, _: Any) -> int:
    typed = fields.get("hours", "").strip()
    if not typed.isdigit():
        raise FormFault(_("Give the retention period as a whole number of hours."))
    return int(typed)


@signed_in
async def change(console: Console, request: Request, session: Session) -> Response:
    """One POST of a stream's page: ``read`` answers the page with the shard's records; the
    others change the stream and go back to its page (303), or show the refusal there."""
    name, action = request.path_params.get("name", ""), request.path_params.get("action", "")
    if action not in _ACTIONS:
        return await _stream_page(console, request, session, name)
    fields = await console.form(request, session)
    if fields is None:
        return console.refused_form(request, session)
    wire = _wire(console)
    if wire is None:
        return await _stream_page(console, request, session, name)
    _ = console.catalogue(request).gettext
    origin, principal = request.scope, session.principal
    target = stream_url(name)
    try:
        if action == "read":
            shard, position = fields.get("shard", ""), fields.get("position", "")
            iterator = fields.get("iterator", "")
            if not iterator:
                if position not in POSITIONS:
                    raise FormFault(_("Choose where the read starts."))
                iterator = await wire.iterator(origin, principal, name, shard, position)
            limit = console.settings.console_page_size
            read = await wire.records(origin, principal, iterator, limit)
            return await _stream_page(
                console, request, session, name, read=read, read_from=(shard, position)
            )
        if action == "retention":
            summary = await wire.summary(origin, principal, name)
            hours = _hours(fields, _)
            if hours != summary.retention_hours:
                await wire.set_retention(
                    origin, principal, name, hours, increase=hours > summary.retention_hours
                )
        elif action == "encrypt":
            await wire.start_encryption(origin, principal, name, fields.get("kms_key", "").strip())
        elif action == "stop-encryption":
            summary = await wire.summary(origin, principal, name)
            await wire.stop_encryption(origin, principal, name, summary.key_id)
        elif action == "tag":
            await wire.tag(origin, principal, name, parse_tags(fields.get("tags", "")))
        elif action == "untag":
            await wire.untag(origin, principal, name, fields.get("key", ""))
        elif action in ("put-policy", "delete-policy"):
            arn = (await wire.summary(origin, principal, name)).arn
            if action == "put-policy":
                await wire.put_policy(origin, principal, arn, fields.get("policy", ""))
            else:
                if fields.get("confirm") != "yes":
                    raise FormFault(_("Tick the box to confirm the deletion."))
                await wire.delete_policy(origin, principal, arn)
            target = f"{target}?saved=policy#resource-policy"
        elif action == "put":
            shard, sequence = await wire.put(
                origin, principal, name, fields.get("partition_key", ""),
                fields.get("data", "").encode(),
            )  # fmt: skip
            target = f"{target}?{urlencode({'shard': shard, 'sequence': sequence})}#put-record"
        else:
            if fields.get("confirm") != "yes":
                raise FormFault(_("Tick the box to confirm the deletion."))
            await wire.delete(origin, principal, name)
            target = _STREAMS_URL
    except (FormFault, WireError) as exc:
        error, status = fault_or_refusal(console, request, exc)
        return await _stream_page(
            console, request, session, name, typed=fields, error=error, status=status
        )
    return RedirectResponse(target, status_code=303)


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/kinesis", streams, ["GET"]),
    ("/kinesis", create, ["POST"]),
    ("/kinesis/{name}", stream_page, ["GET"]),
    ("/kinesis/{name}/{action}", change, ["POST"]),
]
