"""Amazon Data Firehose (decision 0223) in the console (decisions 0111 and 0227): the delivery
streams' list (status, destination bucket and prefix, buffering hints; pages of
``console_page_size``), a Direct PUT stream's creation into a bucket of the account as one of
the account's roles (prefix, error prefix, buffering size and interval, GZIP or not, tags), a
stream's page (its destination, encryption, tags) and its deletion after a ticked box —
Firehose's own calls as the signed-in principal (``wire_firehose.FirehoseWire``), so its IAM
decisions, checks and words answer them. The bucket and role lists are the form's choices
only, read as the user (S3's ListBuckets, IAM's ListRoles): Firehose decides.

A stream's name is ``[a-zA-Z0-9_.-]{1,64}``: it travels as a path segment, which Firehose
checks as it checks boto3's.
"""

from __future__ import annotations

from contextlib import suppress
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import Response

from andromede.console import handlers
from andromede.console.handlers import Form, Typed, first_refusal, refusal, signed_in
from andromede.console.pages_alarms import parse_tags
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_firehose import FirehoseWire, NewStream, StreamRow
from andromede.console.wire_iam import RoleRow

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES", "role_choices", "stream_choices"]

_STREAMS_URL: Final = f"{CONSOLE_PATH}/firehose"
_CREATE: Final = "create"  # the list page's form, shown again as typed when refused
_ROLES_OFFERED: Final = 100  # one ListRoles page: the form's choices
_STREAMS_OFFERED: Final = 100  # one ListDeliveryStreams page: another form's choices
# Firehose's defaults (AWS's), the form's first values.
DEFAULT_SIZE_MB: Final = 5
DEFAULT_INTERVAL_SECONDS: Final = 300


def _wire(console: Console) -> FirehoseWire | None:
    return console.firehose


def stream_url(name: str) -> str:
    return f"{_STREAMS_URL}/{quote(name, safe='')}"


async def role_choices(console: Console, request: Request, session: Session) -> list[RoleRow]:
    """The account's roles as IAM lists them to the signed-in principal (none where IAM is
    not served or refuses): a form's choices, the service that is given one decides."""
    if console.iam is None:
        return []
    with suppress(WireError):
        listed = await console.iam.list_roles(
            request.scope, session.principal, marker=None, page_size=_ROLES_OFFERED
        )
        return listed.rows
    return []


async def stream_choices(
    console: Console, request: Request, session: Session
) -> list[tuple[str, str]]:
    """The account's delivery streams as (ARN, name), as Firehose lists them to the
    signed-in principal (none where it is not served or refuses): a subscription form's
    choices, the subscribing service decides. The ARN is Firehose's own form
    (``arn:aws:firehose:<region>:<account>:deliverystream/<name>``), so no stream is
    described for a choice."""
    wire, account = console.firehose, session.principal.tenant_id
    if wire is None or account is None:
        return []
    with suppress(WireError):
        names, _ = await wire.names(
            request.scope, session.principal, after=None, limit=_STREAMS_OFFERED
        )
        region = console.settings.region
        return [(f"arn:aws:firehose:{region}:{account}:deliverystream/{n}", n) for n in names]
    return []


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
    rows: list[StreamRow] = []
    refused: list[tuple[str, str]] = []  # a stream whose description is refused: its words
    next_href = None
    buckets: list[str] = []
    roles: list[RoleRow] = []
    if wire is None:
        error, status = _("This server serves no Amazon Data Firehose."), 404
    else:
        origin, principal = request.scope, session.principal
        try:
            names, more = await wire.names(
                origin, principal,
                after=request.query_params.get("after", "")[:64] or None,
                limit=console.settings.console_page_size,
            )  # fmt: skip
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        else:
            for name in names:
                try:
                    rows.append(await wire.describe(origin, principal, name))
                except WireError as exc:  # a policy may list streams, not describe this one
                    refused.append((name, console.error_text(request, exc)))
            if more and names:
                next_href = f"{_STREAMS_URL}?{urlencode({'after': names[-1]})}"
        with suppress(WireError):  # the form's choices only: Firehose decides
            buckets = [b.name for b in await console.s3.list_buckets(origin, principal)]
        roles = await role_choices(console, request, session)
    return console.render(
        request,
        "firehose_streams.html",
        session=session,
        status=status,
        title=_("Firehose streams"),
        streams=rows,
        refused=refused,
        next_href=next_href,
        buckets=buckets,
        roles=roles,
        form={
            "size_mb": str(DEFAULT_SIZE_MB),
            "interval_seconds": str(DEFAULT_INTERVAL_SECONDS),
            **(typed or {}).get(_CREATE, {}),
        },
        error=error,
    )


streams = signed_in(_list_page)


async def _create(wire: FirehoseWire, request: Request, session: Session, fields: Form) -> str:
    name = fields.get("name", "").strip()
    stream = NewStream(
        name=name,
        bucket=fields.get("bucket", "").strip(),
        role_arn=fields.get("role_arn", "").strip(),
        prefix=fields.get("prefix", ""),
        error_prefix=fields.get("error_prefix", ""),
        size_mb=fields.get("size_mb", ""),
        interval_seconds=fields.get("interval_seconds", ""),
        gzip=fields.get("gzip") == "yes",
    )
    tags = parse_tags(fields.get("tags", ""))
    await wire.create(request.scope, session.principal, stream, tags)
    return stream_url(name)


create = handlers.action(_list_page, _create, wire=_wire, form=_CREATE)


async def _stream_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Typed | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    name = request.path_params.get("name", "")
    wire = _wire(console)
    stream: StreamRow | None = None
    tags: list[tuple[str, str]] = []
    tags_error = ""
    if wire is None:
        error, status = _("This server serves no Amazon Data Firehose."), 404
    else:
        try:
            stream = await wire.describe(request.scope, session.principal, name)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        else:
            try:
                tags = await wire.tags(request.scope, session.principal, name)
            except WireError as exc:  # the tags' section says so; the rest is shown
                tags_error = refusal(console, request, exc)[0]
    return console.render(
        request,
        "firehose_stream.html",
        session=session,
        status=status,
        title=f"{_('Firehose stream')} {name}",
        name=name,
        stream=stream,
        tags=tags,
        tags_error=tags_error,
        error=error,
    )


stream_page = signed_in(_stream_page)


async def _delete(wire: FirehoseWire, request: Request, session: Session, fields: Form) -> str:
    await wire.delete(request.scope, session.principal, request.path_params.get("name", ""))
    return _STREAMS_URL


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/firehose", streams, ["GET"]),
    ("/firehose", create, ["POST"]),
    ("/firehose/{name}", stream_page, ["GET"]),
    (
        "/firehose/{name}/delete",
        handlers.action(_stream_page, _delete, wire=_wire, confirmed=True),
        ["POST"],
    ),
]
