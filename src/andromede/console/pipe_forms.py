"""What the console's pipe forms offer and send (decisions 0263, 0276): the choices — sources
(the account's SQS queues, Kinesis streams and DynamoDB tables' enabled streams), targets (its
queues, SNS topics, Kinesis and Firehose streams, event buses, state machines — decision
0316: a STANDARD one started, ``FIRE_AND_FORGET``, an EXPRESS one run —), roles, dead-letter
queues, enrichments (its EventBridge API destinations and EXPRESS state machines), log
destinations (its log groups, buckets and Firehose streams) — as each service lists them to
the signed-in principal, none where one refuses; and the forms read into Pipes' members: the
log configuration, and an UpdatePipe whose source and target parameters are the pipe's as
described with the form's changes (an UpdatePipe's stream parameters replace the pipe's
whole, so what the form does not show is sent back as it was). Values are sent as typed:
Pipes checks them and refuses them in its words.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request

from andromede.console.handlers import Form
from andromede.console.pages_ec2 import field as typed
from andromede.console.pages_firehose import stream_choices
from andromede.console.regions import region_choice
from andromede.console.wire import WireError
from andromede.console.wire_pipes import PipeLog, PipeRow, PipeUpdate

if TYPE_CHECKING:
    from andromede.console.app import Console, Session
    from andromede.console.wire_states import StatesWire

__all__ = [
    "LEVELS",
    "LOG_FORMATS",
    "STARTING_POSITIONS",
    "PipeChoices",
    "edit_values",
    "kinesis_choices",
    "log_of",
    "machine_invocation",
    "pattern_lines",
    "pipe_choices",
    "queue_choices",
    "table_stream_choices",
    "update_of",
]

_OFFERED: Final = 100  # the choices a form offers of each kind
LEVELS: Final = ("OFF", "ERROR", "INFO", "TRACE")
LOG_FORMATS: Final = ("json", "plain", "w3c")
STARTING_POSITIONS: Final = ("TRIM_HORIZON", "LATEST")  # a stream source's, at creation only
_SQS: Final = "SqsQueueParameters"
_STARTS: Final = ("StartingPosition", "StartingPositionTimestamp")  # UpdatePipe keeps them


@dataclass(frozen=True, slots=True)
class PipeChoices:
    """A pipe form's choices: (ARN, shown) pairs, and role ARNs."""

    sources: list[tuple[str, str]] = field(default_factory=list)
    targets: list[tuple[str, str]] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    queues: list[tuple[str, str]] = field(default_factory=list)
    enrichments: list[tuple[str, str]] = field(default_factory=list)
    log_groups: list[tuple[str, str]] = field(default_factory=list)
    buckets: list[str] = field(default_factory=list)
    firehose: list[tuple[str, str]] = field(default_factory=list)


async def kinesis_choices(
    console: Console, request: Request, session: Session
) -> list[tuple[str, str]]:
    account = session.principal.tenant_id
    if console.kinesis is None or account is None:
        return []
    with suppress(WireError):
        names, _more = await console.kinesis.names(
            request.scope, session.principal, after=None, limit=_OFFERED
        )
        region = console.settings.region
        return [(f"arn:aws:kinesis:{region}:{account}:stream/{n}", f"Kinesis: {n}") for n in names]
    return []


async def queue_choices(
    console: Console, request: Request, session: Session
) -> list[tuple[str, str]]:
    if console.sqs is None:
        return []
    with suppress(WireError):
        queues = await console.sqs.list_queues(request.scope, session.principal)
        return [(q.arn, f"SQS: {q.name}") for q in queues if q.arn]
    return []


async def table_stream_choices(
    console: Console, request: Request, session: Session
) -> list[tuple[str, str]]:
    """The enabled streams of the account's first tables (as DynamoDB describes them)."""
    wire = console.dynamodb
    if wire is None:
        return []
    choices: list[tuple[str, str]] = []
    with suppress(WireError):
        names, _last = await wire.names(
            request.scope, session.principal, after=None, limit=console.settings.console_page_size
        )
        for name in names:
            with suppress(WireError):  # a table the user may list, not describe
                table = await wire.describe(request.scope, session.principal, name)
                if table.stream_view and table.stream_arn:
                    choices.append((table.stream_arn, f"DynamoDB: {name}"))
    return choices


async def _roles(console: Console, request: Request, session: Session) -> list[str]:
    if console.iam is None:
        return []
    with suppress(WireError):
        listed = await console.iam.list_roles(
            request.scope, session.principal, marker=None, page_size=_OFFERED
        )
        return [role.arn for role in listed.rows]
    return []


async def _enrichments(
    console: Console, request: Request, session: Session
) -> list[tuple[str, str]]:
    if console.events is None:
        return []
    with suppress(WireError):
        listed = await console.events.api_destinations(
            request.scope, session.principal, limit=_OFFERED
        )
        return [(d.arn, f"API destination: {d.name}") for d in listed if d.arn]
    return []


async def _state_machines(
    console: Console, request: Request, session: Session
) -> list[tuple[str, str, str]]:
    """The account's first state machines: (ARN, name, type)."""
    if console.states is None:
        return []
    with suppress(WireError):
        page = await console.states.machines(
            request.scope, session.principal, token="", limit=_OFFERED
        )
        return [(m.arn, m.name, m.machine_type) for m in page.rows if m.arn]
    return []


async def machine_invocation(
    states: StatesWire | None, request: Request, session: Session, target: str
) -> str:
    """``FIRE_AND_FORGET`` for a STANDARD state machine as the target (StartSyncExecution,
    Pipes' default, runs EXPRESS ones only); "" (the default) for any other."""
    if states is None or not target.startswith("arn:aws:states:"):
        return ""
    with suppress(WireError):
        machine = await states.machine(request.scope, session.principal, target)
        return "FIRE_AND_FORGET" if machine.machine_type == "STANDARD" else ""
    return ""


async def _log_groups(
    console: Console, request: Request, session: Session
) -> list[tuple[str, str]]:
    account = session.principal.tenant_id
    if console.logs is None or account is None:
        return []
    with suppress(WireError):
        names = await console.logs.group_names(request.scope, session.principal)
        region = console.settings.region
        return [(f"arn:aws:logs:{region}:{account}:log-group:{n}", n) for n in names]
    return []


async def _buckets(console: Console, request: Request, session: Session) -> list[str]:
    with suppress(WireError):
        return [b.name for b in await console.s3.list_buckets(request.scope, session.principal)]
    return []


async def pipe_choices(
    console: Console, request: Request, session: Session, *, creating: bool
) -> PipeChoices:
    """The choices of the create form (``creating``: sources and targets too) or of a
    pipe's edit form. ``request`` is made in the page's Region (decision 0419): its queues,
    event buses and API destinations; the streams, tables, topics, state machines and log
    groups are offered in the console's own Region only, the one those services' pages serve
    (the roles and buckets are global)."""
    home = region_choice(console, request).region == console.settings.region
    queues = await queue_choices(console, request, session)
    machines = await _state_machines(console, request, session) if home else []
    firehose = [(arn, f"Firehose: {name}") for arn, name in
                await stream_choices(console, request, session)] if home else []  # fmt: skip
    sources: list[tuple[str, str]] = []
    targets: list[tuple[str, str]] = []
    if creating:
        kinesis = await kinesis_choices(console, request, session) if home else []
        tables = await table_stream_choices(console, request, session) if home else []
        sources = [*queues, *kinesis, *tables]
        targets = [*queues]
        if console.sns is not None and home:
            with suppress(WireError):
                topics = await console.sns.topic_arns(request.scope, session.principal)
                targets += [(arn, f"SNS: {arn.rsplit(':', 1)[-1]}") for arn in topics if arn]
        targets += [*kinesis, *firehose]
        if console.events is not None:
            with suppress(WireError):
                buses = await console.events.buses(request.scope, session.principal, limit=_OFFERED)
                targets += [(bus.arn, f"EventBridge: {bus.name}") for bus in buses if bus.arn]
        targets += [(arn, f"Step Functions ({kind}): {name}") for arn, name, kind in machines]
    return PipeChoices(
        sources=sources,
        targets=targets,
        roles=await _roles(console, request, session),
        queues=queues,
        enrichments=await _enrichments(console, request, session)
        + [(arn, f"Step Functions: {name}") for arn, name, kind in machines if kind == "EXPRESS"],
        log_groups=await _log_groups(console, request, session) if home else [],
        buckets=await _buckets(console, request, session),
        firehose=firehose,
    )


def log_of(fields: Form, account: str) -> PipeLog:
    """The form's log configuration (no level: none); the bucket is the account's own."""
    bucket = typed(fields, "log_bucket")
    return PipeLog(
        level=typed(fields, "log_level"),
        log_group_arn=typed(fields, "log_group_arn"),
        bucket=bucket,
        bucket_owner=account if bucket else "",
        prefix=typed(fields, "log_prefix"),
        output_format=typed(fields, "log_format") or "json",
        firehose_arn=typed(fields, "log_firehose_arn"),
        include_execution_data=fields.get("include_execution_data") == "yes",
    )


def _number(text: str) -> int | str:
    return int(text) if text.isdigit() else text


def _patterns(text: str) -> list[dict[str, str]]:
    """The filter patterns typed, one a line."""
    return [{"Pattern": line.strip()} for line in text.splitlines() if line.strip()]


def pattern_lines(pipe: PipeRow) -> str:
    """The pipe's patterns as the edit form shows them, one a line (JSON compacted)."""
    lines = []
    for pattern in pipe.filter_patterns:
        try:
            lines.append(json.dumps(json.loads(pattern), ensure_ascii=False))
        except ValueError:
            lines.append(" ".join(pattern.split()))
    return "\n".join(lines)


def _source_parameters(fields: Form, pipe: PipeRow) -> dict[str, Any]:
    sent: dict[str, Any] = {"FilterCriteria": {"Filters": _patterns(fields.get("filters", ""))}}
    member = pipe.source_member
    if not member:
        return sent
    own = {k: v for k, v in pipe.stream_parameters.items() if k not in _STARTS}
    own["BatchSize"] = _number(typed(fields, "batch_size"))
    own["MaximumBatchingWindowInSeconds"] = _number(typed(fields, "batching_window"))
    if member != _SQS:
        own.pop("DeadLetterConfig", None)
        if dead_letter := typed(fields, "dead_letter_arn"):
            own["DeadLetterConfig"] = {"Arn": dead_letter}
    sent[member] = own
    return sent


def update_of(fields: Form, pipe: PipeRow, account: str) -> PipeUpdate:
    """UpdatePipe's members from the edit form, over the pipe as described."""
    template = fields.get("input_template", "")
    target: dict[str, Any] | None = None
    if template != pipe.input_template:
        target = {k: v for k, v in pipe.target_raw.items() if k != "InputTemplate"}
        if template:
            target["InputTemplate"] = template
    enrichment = typed(fields, "enrichment")
    enrichment_parameters: dict[str, Any] = {}
    if enrichment:
        if enrichment == pipe.enrichment:  # its HTTP parameters kept
            enrichment_parameters = {
                k: v for k, v in pipe.enrichment_raw.items() if k != "InputTemplate"
            }
        if enrichment_template := fields.get("enrichment_template", ""):
            enrichment_parameters["InputTemplate"] = enrichment_template
    return PipeUpdate(
        role_arn=typed(fields, "role_arn"),
        description=fields.get("description", "").strip(),
        desired_state="STOPPED" if fields.get("state") == "STOPPED" else "RUNNING",
        source_parameters=_source_parameters(fields, pipe),
        target_parameters=target,
        enrichment=enrichment,
        enrichment_parameters=enrichment_parameters,
        log=log_of(fields, account),
    )


def edit_values(pipe: PipeRow, typed_fields: Mapping[str, str] | None) -> dict[str, Any]:
    """The edit form's values: the fields as typed when it was refused, else the pipe's."""
    own = pipe.stream_parameters
    values: dict[str, Any] = {
        "description": pipe.description,
        "state": pipe.desired_state,
        "role_arn": pipe.role_arn,
        "filters": pattern_lines(pipe),
        "input_template": pipe.input_template,
        "batch_size": str(own.get("BatchSize", "")),
        "batching_window": str(own.get("MaximumBatchingWindowInSeconds", "")),
        "dead_letter_arn": str(_dead_letter(own)),
        "enrichment": pipe.enrichment,
        "enrichment_template": pipe.enrichment_template,
        "log_level": pipe.log.level,
        "log_group_arn": pipe.log.log_group_arn,
        "log_bucket": pipe.log.bucket,
        "log_prefix": pipe.log.prefix,
        "log_format": pipe.log.output_format,
        "log_firehose_arn": pipe.log.firehose_arn,
        "include_execution_data": pipe.log.include_execution_data,
    }
    if typed_fields:
        values.update({k: v for k, v in typed_fields.items() if k in values})
        values["include_execution_data"] = typed_fields.get("include_execution_data") == "yes"
    return values


def _dead_letter(own: Mapping[str, Any]) -> str:
    dead = own.get("DeadLetterConfig")
    return str(dead.get("Arn", "")) if isinstance(dead, Mapping) else ""
