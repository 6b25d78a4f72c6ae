"""Amazon Data Firehose (decision 0223) in the console (decisions 0111, 0227 and 0251): the
delivery streams' list (status, destination bucket and prefix, buffering hints; pages of
``console_page_size``), a Direct PUT stream's creation into a bucket of the account as one of
the account's roles (prefix, error prefix, buffering size and interval, GZIP or not, a KMS key
of the account for the objects, tags), a stream's page (its destination, encryption, tags),
its destination changed (UpdateDestination: prefixes, buffering hints, compression, the
objects' KMS key), tags added and removed, its own encryption started (Firehose's key or a
customer key) and stopped, a test record put, and its deletion after a ticked box; a stream
into an HTTP endpoint (URL, name, an access key or a Secrets Manager secret of the account,
GZIP or not, retry duration, backup mode, the bucket as its S3 backup) made, listed and shown
(decision 0252; its access key never shown, Firehose never describes it); decision 0276: a
stream's CloudWatch error logging shown and changed (on with one of the account's log groups
and a stream name, or off), its dynamic partitioning shown (on or off, the JQ query, the keys
its prefix uses, the error prefix), and a Direct PUT stream into S3 made with dynamic
partitioning (a JQ query, a prefix with ``!{partitionKeyFromQuery:k}``) and error logging;
decision 0359: a destination's processors shown, chosen at creation and changed, an S3
destination's role, bucket and partitioning retry duration changed, an HTTP endpoint's
destination changed (``firehose_forms``); decision 0367: the Lambda processor's own role,
an S3 destination's source record backup and an HTTP endpoint's backup mode and prefixes,
records sent a line each or as demo data (``firehose_records``); decision 0388: the S3
backup's own buffering hints (size, interval) asked apart from the destination's —
Firehose's own calls as the signed-in principal (``wire_firehose.FirehoseWire``), so its IAM
decisions, checks and words answer them. The bucket, role and key lists are the forms'
choices only, read as the user (S3's ListBuckets, IAM's ListRoles, KMS's ListAliases and
ListKeys): Firehose decides.

A stream's name is ``[a-zA-Z0-9_.-]{1,64}``: it travels as a path segment, which Firehose
checks as it checks boto3's.
"""

from __future__ import annotations

import dataclasses
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import Response

from andromede.console import firehose_forms, firehose_records, handlers
from andromede.console.handlers import (
    Form,
    FormFault,
    Typed,
    first_refusal,
    refusal,
    signed_in,
    words,
)
from andromede.console.list_pages import Described, describe_listed
from andromede.console.pages_alarms import parse_tags
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_firehose import (
    BACKUP_MODES,
    SOURCE_BACKUP_MODES,
    DestinationUpdate,
    FirehoseWire,
    LoggingRow,
    NewBackup,
    NewHttpEndpoint,
    NewPartitioning,
    NewStream,
    StreamRow,
)
from andromede.console.wire_firehose_processing import DEAGGREGATIONS
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
COMPRESSIONS: Final = ("UNCOMPRESSED", "GZIP")  # the destination form's choices
_SAVED: Final = frozenset(
    {"destination", "tags", "encryption", "logging", "processors", "delivery", "endpoint"}
)
DEFAULT_LOG_STREAM: Final = "DestinationDelivery"  # the AWS console's name for S3 delivery
HTTP_ENDPOINT: Final = "http"  # the creation form's destination kind for an HTTP endpoint
DEFAULT_RETRY_SECONDS: Final = 300  # RetryOptions' default (AWS's)
_SECRETS_OFFERED: Final = 100  # one ListSecrets page: the form's choices
_UNSHOWN: Final = frozenset({"access_key"})  # a secret typed: never put back into a form


def _wire(console: Console) -> FirehoseWire | None:
    return console.firehose


def stream_url(name: str) -> str:
    return f"{_STREAMS_URL}/{quote(name, safe='')}"


async def _key_choices(
    console: Console, request: Request, session: Session, *, current: str = ""
) -> list[tuple[str, str]]:
    """The account's KMS keys and aliases by ARN, as KMS lists them to the signed-in principal
    (none where KMS is not served or refuses), and the key in use when they leave it out (a
    form sent unchanged keeps it): choices only, Firehose and KMS decide."""
    choices: list[tuple[str, str]] = []
    if console.kms is not None:
        choices = await console.kms.key_arn_choices(
            request.scope, session.principal, limit=console.settings.console_page_size
        )
    if current and all(arn != current for arn, _ in choices):
        choices.insert(0, (current, current))
    return choices


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


async def _log_groups(console: Console, request: Request, session: Session) -> list[str]:
    """The account's log groups, the error logging form's choices (Firehose decides)."""
    if console.logs is None:
        return []
    with suppress(WireError):
        return await console.logs.group_names(request.scope, session.principal)
    return []


def _logging(fields: Form) -> LoggingRow:
    """The error logging typed: on with a group and a stream, or off."""
    enabled = fields.get("log_enabled") == "yes"
    return LoggingRow(
        enabled=enabled,
        group=fields.get("log_group", "").strip() if enabled else "",
        stream=fields.get("log_stream", "").strip() if enabled else "",
    )


async def _secret_choices(
    console: Console, request: Request, session: Session
) -> list[tuple[str, str]]:
    """The account's secrets as (ARN, name), as Secrets Manager lists them to the signed-in
    principal (none where it is not served or refuses): the endpoint form's choices, Firehose
    decides (the secret must be the account's and hold ``{"api_key": …}``)."""
    if console.secrets is None:
        return []
    with suppress(WireError):
        listed = await console.secrets.list_secrets(
            request.scope, session.principal, name="", page_size=_SECRETS_OFFERED,
            next_token=None,
        )  # fmt: skip
        return [(s.arn, s.name) for s in listed.secrets if not s.deleted]
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
    described: Described[StreamRow, bool] = Described(error, status)
    buckets: list[str] = []
    roles: list[RoleRow] = []
    kms_keys: list[tuple[str, str]] = []
    secrets: list[tuple[str, str]] = []
    log_groups: list[str] = []
    functions: list[tuple[str, str]] = []
    if wire is None:
        described.error = _("This server serves no Amazon Data Firehose.")
        described.status = 404
    else:
        origin, principal = request.scope, session.principal
        secrets = await _secret_choices(console, request, session)
        listing = wire.names(
            origin, principal,
            after=request.query_params.get("after", "")[:64] or None,
            limit=console.settings.console_page_size,
        )  # fmt: skip
        described = await describe_listed(
            console, request, listing, lambda name: wire.describe(origin, principal, name),
            error=error, status=status,
        )  # fmt: skip
        with suppress(WireError):  # the form's choices only: Firehose decides
            buckets = [b.name for b in await console.s3.list_buckets(origin, principal)]
        roles = await role_choices(console, request, session)
        kms_keys = await _key_choices(console, request, session)
        log_groups = await _log_groups(console, request, session)
        functions = await firehose_forms.function_choices(console, request, session)
    names = described.names
    next_href = (
        f"{_STREAMS_URL}?{urlencode({'after': names[-1]})}" if described.cursor and names else None
    )
    return console.render(
        request,
        "firehose_streams.html",
        session=session,
        status=described.status,
        title=_("Firehose streams"),
        streams=described.rows,
        refused=described.refused,
        next_href=next_href,
        buckets=buckets,
        roles=roles,
        kms_keys=kms_keys,
        secrets=secrets,
        log_groups=log_groups,
        backup_modes=BACKUP_MODES,
        http_endpoint=HTTP_ENDPOINT,
        functions=functions,
        deaggregations=DEAGGREGATIONS,
        form={
            "log_stream": DEFAULT_LOG_STREAM,
            "size_mb": str(DEFAULT_SIZE_MB),
            "interval_seconds": str(DEFAULT_INTERVAL_SECONDS),
            "retry_seconds": str(DEFAULT_RETRY_SECONDS),
            **{k: v for k, v in (typed or {}).get(_CREATE, {}).items() if k not in _UNSHOWN},
        },
        error=described.error,
    )


streams = signed_in(_list_page)


def _endpoint(fields: Form) -> NewHttpEndpoint | None:
    """The form's HTTP endpoint when that is the destination chosen (None: an S3 one)."""
    if fields.get("destination") != HTTP_ENDPOINT:
        return None
    return NewHttpEndpoint(
        url=fields.get("url", "").strip(),
        name=fields.get("endpoint_name", "").strip(),
        access_key=fields.get("access_key", ""),
        secret_arn=fields.get("secret_arn", "") if fields.get("key_source") == "secret" else "",
        gzip=fields.get("gzip") == "yes",
        retry_seconds=fields.get("retry_seconds", ""),
        backup_mode=fields.get("backup_mode", ""),
    )


async def _create(wire: FirehoseWire, request: Request, session: Session, fields: Form) -> str:
    name = fields.get("name", "").strip()
    http = _endpoint(fields)
    if http is not None and fields.get("key_source") == "secret" and not http.secret_arn:
        _ = words(request)
        raise FormFault(_("Choose the secret holding the endpoint's access key."))
    stream = NewStream(
        name=name,
        bucket=fields.get("bucket", "").strip(),
        role_arn=fields.get("role_arn", "").strip(),
        prefix=fields.get("prefix", ""),
        error_prefix=fields.get("error_prefix", ""),
        size_mb=fields.get("size_mb", ""),
        interval_seconds=fields.get("interval_seconds", ""),
        gzip=fields.get("gzip") == "yes",
        kms_key_arn=fields.get("kms_key", ""),
        http=http,
        logging=_logging(fields) if fields.get("log_enabled") == "yes" else None,
        partitioning=NewPartitioning(
            query=fields.get("partition_query", "").strip(),
            append_newline=fields.get("append_newline") == "yes",
        )
        if fields.get("partition") == "yes"
        else None,
        backup=NewBackup(
            bucket=fields.get("backup_bucket", "").strip(),
            prefix=fields.get("backup_prefix", ""),
            error_prefix=fields.get("backup_error_prefix", ""),
        )
        if fields.get("source_backup") == "yes"
        else None,
        backup_size_mb=fields.get("backup_size_mb", ""),
        backup_interval_seconds=fields.get("backup_interval_seconds", ""),
    )
    if firehose_forms.processors_form(fields).wanted:  # else the partitioning's own, or none
        partitioning = stream.partitioning if http is None else None
        processors = firehose_forms.processors_form(
            fields,
            query=partitioning.query if partitioning else "",
            newline=partitioning is not None and partitioning.append_newline,
        )
        stream = dataclasses.replace(stream, processors=processors)
    tags = parse_tags(fields.get("tags", ""))
    await wire.create(request.scope, session.principal, stream, tags)
    return stream_url(name)


create = handlers.action(_list_page, _create, wire=_wire, form=_CREATE, max_fields=48)


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
    kms_keys: list[tuple[str, str]] = []
    log_groups: list[str] = []
    choices: dict[str, Any] = {"roles": [], "buckets": [], "secrets": [], "functions": []}
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
            kms_keys = await _key_choices(console, request, session, current=stream.kms_key_arn)
            log_groups = await _log_groups(console, request, session)
            choices = await _edit_choices(console, request, session)
    query = request.query_params
    saved = query.get("saved", "")
    record = (query.get("record", "")[:512], query.get("encrypted") == "yes")
    batch = firehose_records.batch_shown(query)
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
        kms_keys=kms_keys,
        log_groups=log_groups,
        default_log_stream=DEFAULT_LOG_STREAM,
        deaggregations=DEAGGREGATIONS,
        key_sources=firehose_forms.KEY_SOURCES,
        **choices,
        compressions=COMPRESSIONS,
        forms=typed or {},
        saved=saved if saved in _SAVED else "",
        record=record if record[0] else None,
        batch=batch,
        source_backup_modes=SOURCE_BACKUP_MODES,
        backup_modes=BACKUP_MODES,
        demo_records=firehose_records.DEFAULT_DEMO_RECORDS,
        action_url=stream_url(name),
        error=error,
    )


stream_page = signed_in(_stream_page)


async def _edit_choices(console: Console, request: Request, session: Session) -> dict[str, Any]:
    """The stream page's choices for decision 0359's forms: roles, buckets, secrets and
    functions as each service lists them to the user (Firehose decides)."""
    buckets: list[str] = []
    with suppress(WireError):
        buckets = [b.name for b in await console.s3.list_buckets(request.scope, session.principal)]
    return {
        "roles": await role_choices(console, request, session),
        "buckets": buckets,
        "secrets": await _secret_choices(console, request, session),
        "functions": await firehose_forms.function_choices(console, request, session),
    }


def _name(request: Request) -> str:
    return str(request.path_params.get("name", ""))


async def _update_destination(
    wire: FirehoseWire, request: Request, session: Session, fields: Form
) -> str:
    update = DestinationUpdate(
        prefix=fields.get("prefix", ""),
        error_prefix=fields.get("error_prefix", ""),
        size_mb=fields.get("size_mb", ""),
        interval_seconds=fields.get("interval_seconds", ""),
        compression=fields.get("compression", ""),
        kms_key_arn=fields.get("kms_key", ""),
    )
    await wire.update_destination(
        request.scope, session.principal, _name(request),
        version=fields.get("version", ""), destination_id=fields.get("destination_id", ""),
        update=update,
    )  # fmt: skip
    return f"{stream_url(_name(request))}?saved=destination#destination"


async def _set_logging(wire: FirehoseWire, request: Request, session: Session, fields: Form) -> str:
    """The destination's CloudWatch error logging (decision 0270), at the version shown."""
    await wire.set_logging(
        request.scope, session.principal, _name(request),
        version=fields.get("version", ""), destination_id=fields.get("destination_id", ""),
        logging=_logging(fields), http=fields.get("http") == "yes",
    )  # fmt: skip
    return f"{stream_url(_name(request))}?saved=logging#logging"


async def _tag(wire: FirehoseWire, request: Request, session: Session, fields: Form) -> str:
    tags = parse_tags(fields.get("tags", ""))
    await wire.tag(request.scope, session.principal, _name(request), tags)
    return f"{stream_url(_name(request))}?saved=tags#tags"


async def _untag(wire: FirehoseWire, request: Request, session: Session, fields: Form) -> str:
    await wire.untag(request.scope, session.principal, _name(request), fields.get("key", ""))
    return f"{stream_url(_name(request))}?saved=tags#tags"


async def _start_encryption(
    wire: FirehoseWire, request: Request, session: Session, fields: Form
) -> str:
    customer = fields.get("key_type") == "CUSTOMER_MANAGED_CMK"
    key = fields.get("sse_key", "") if customer else ""
    if customer and not key:
        _ = words(request)
        raise FormFault(_("Choose the customer key."))
    await wire.start_encryption(request.scope, session.principal, _name(request), key)
    return f"{stream_url(_name(request))}?saved=encryption#encryption"


async def _stop_encryption(
    wire: FirehoseWire, request: Request, session: Session, fields: Form
) -> str:
    await wire.stop_encryption(request.scope, session.principal, _name(request))
    return f"{stream_url(_name(request))}?saved=encryption#encryption"


async def _delete(wire: FirehoseWire, request: Request, session: Session, fields: Form) -> str:
    await wire.delete(request.scope, session.principal, _name(request))
    return _STREAMS_URL


def _edit(change: handlers.Change[FirehoseWire], form: str = "") -> handlers.Handler:
    return handlers.action(_stream_page, change, wire=_wire, form=form)


# Decision 0359's forms carry up to a dozen fields beside the version and the CSRF token.
_processors_edit = handlers.action(
    _stream_page, firehose_forms.update_processors, wire=_wire, form="processors", max_fields=24
)
_endpoint_edit = handlers.action(
    _stream_page, firehose_forms.update_endpoint, wire=_wire, form="endpoint", max_fields=24
)

ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/firehose", streams, ["GET"]),
    ("/firehose", create, ["POST"]),
    ("/firehose/{name}", stream_page, ["GET"]),
    ("/firehose/{name}/destination", _edit(_update_destination, "destination"), ["POST"]),
    ("/firehose/{name}/logging", _edit(_set_logging, "logging"), ["POST"]),
    ("/firehose/{name}/tag", _edit(_tag, "tags"), ["POST"]),
    ("/firehose/{name}/processors", _processors_edit, ["POST"]),
    ("/firehose/{name}/delivery", _edit(firehose_forms.update_delivery, "delivery"), ["POST"]),
    ("/firehose/{name}/endpoint", _endpoint_edit, ["POST"]),
    ("/firehose/{name}/untag", _edit(_untag), ["POST"]),
    ("/firehose/{name}/start-encryption", _edit(_start_encryption, "encryption"), ["POST"]),
    ("/firehose/{name}/stop-encryption", _edit(_stop_encryption), ["POST"]),
    ("/firehose/{name}/put-record", _edit(firehose_records.put_record, "record"), ["POST"]),
    ("/firehose/{name}/put-demo", _edit(firehose_records.put_demo, "demo"), ["POST"]),
    (
        "/firehose/{name}/delete",
        handlers.action(_stream_page, _delete, wire=_wire, confirmed=True),
        ["POST"],
    ),
]
