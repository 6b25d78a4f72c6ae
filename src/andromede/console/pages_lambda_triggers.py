"""A Lambda function's triggers, destinations and layers page in the console (decision 0306),
beside its main page (decision 0296) as AWS's console shows them in the function's
Configuration tabs: its **asynchronous invocation** settings (retries 0 to 2, maximum event
age, the OnSuccess and OnFailure destinations among the account's queues, topics, event buses
and functions, the dead-letter queue or topic) shown and saved (Put/Delete
FunctionEventInvokeConfig, UpdateFunctionConfiguration ``DeadLetterConfig``); its **event
source mappings** listed (source, state, batch size, starting position, last result), one
created from an SQS queue, a Kinesis stream or a DynamoDB table's stream of the account,
its settings (decision 0320: the batching window, and a stream's bisect, retries, maximum
record age, parallelization, tumbling window and OnFailure destination among the account's
queues, topics and buckets) given at its creation and edited (UpdateEventSourceMapping),
enabled, disabled, and deleted after a ticked box; its **layers** chosen among the account's
layer versions (UpdateFunctionConfiguration ``Layers``, in the order ticked).

Its own page so that the function's page stays the one GetFunction it was: the choices
offered here are listed from five services at every view. Each change is Lambda's own call
as the signed-in principal (``wire_lambda_triggers``); a refusal is shown in Lambda's words
with the form as typed.
"""

from __future__ import annotations

from contextlib import suppress
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response

from andromede.console.handlers import (
    FormFault,
    signed_in,
    words,
)
from andromede.console.lambda_function_pages import (
    function_shown,
    page_on_get,
    posted_change,
    render_function_page,
    section_read,
)
from andromede.console.pages_lambda import function_url, whole_number
from andromede.console.pipe_forms import (
    STARTING_POSITIONS,
    kinesis_choices,
    queue_choices,
    table_stream_choices,
)
from andromede.console.wire import WireError
from andromede.console.wire_lambda import LambdaWire
from andromede.console.wire_lambda_triggers import (
    AsyncConfig,
    LayerVersionRow,
    MappingRow,
    create_mapping,
    delete_async_config,
    delete_mapping,
    get_async_config,
    layer_versions,
    list_mappings,
    put_async_config,
    set_mapping_enabled,
    update_mapping,
)

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES", "triggers_url"]

_ACTIONS: Final = frozenset(
    {
        "async-config", "delete-async-config", "dead-letter", "mapping", "mapping-state",
        "mapping-settings", "delete-mapping", "layers",
    }
)  # fmt: skip
_FIELDS: Final = 80  # the layers form's boxes, one a layer version offered
_OFFERED: Final = 100  # the functions, topics and buses a destination list offers


def triggers_url(name: str) -> str:
    return f"{function_url(name)}/triggers"


async def _destinations(
    console: Console, request: Request, session: Session, queues: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    """The destinations an asynchronous invocation may go to, as each service lists them to
    the signed-in principal (none where one refuses): queues, topics, buses, functions."""
    origin, principal = request.scope, session.principal
    choices = list(queues)
    if console.sns is not None:
        with suppress(WireError):
            topics = await console.sns.topic_arns(origin, principal)
            choices += [(arn, f"SNS: {arn.rsplit(':', 1)[-1]}") for arn in topics if arn]
    if console.events is not None:
        with suppress(WireError):
            buses = await console.events.buses(origin, principal, limit=_OFFERED)
            choices += [(bus.arn, f"EventBridge: {bus.name}") for bus in buses if bus.arn]
    if console.functions is not None:
        with suppress(WireError):
            listed = await console.functions.functions(origin, principal, marker="", limit=_OFFERED)
            choices += [(row.arn, f"Lambda: {row.name}") for row in listed.rows if row.arn]
    return choices


async def _failure_destinations(
    console: Console, request: Request, session: Session, queues: list[tuple[str, str]]
) -> list[tuple[str, str]]:
    """Where a stream mapping may send a failed batch's record (decision 0301, 0311): the
    account's queues, topics and buckets as each service lists them (none where one
    refuses)."""
    origin, principal = request.scope, session.principal
    choices = list(queues)
    if console.sns is not None:
        with suppress(WireError):
            topics = await console.sns.topic_arns(origin, principal)
            choices += [(arn, f"SNS: {arn.rsplit(':', 1)[-1]}") for arn in topics if arn]
    with suppress(WireError):
        buckets = await console.s3.list_buckets(origin, principal)
        choices += [(f"arn:aws:s3:::{b.name}", f"S3: {b.name}") for b in buckets[:_OFFERED]]
    return choices


def _signed(text: str) -> int | str:
    """A number that may be -1 (Lambda's "no limit" for retries and record age)."""
    stripped = text.strip()
    return int(stripped) if stripped.lstrip("-").isdigit() else stripped


_STREAM_NUMBERS: Final = (
    ("retries", "MaximumRetryAttempts"),
    ("max_record_age", "MaximumRecordAgeInSeconds"),
    ("parallelization", "ParallelizationFactor"),
    ("tumbling_window", "TumblingWindowInSeconds"),
)


def mapping_settings(fields: dict[str, str], *, stream: bool, update: bool) -> dict[str, Any]:
    """A mapping's settings as typed, as Lambda names them: a number left empty is Lambda's
    default (or, on an edit, kept); a stream's bisect box and failure destination are sent
    as they stand on an edit (unticked, none: turned off, removed)."""
    settings: dict[str, Any] = {}
    numbers = [("batch_size", "BatchSize")] if update else []
    numbers.append(("batching_window", "MaximumBatchingWindowInSeconds"))
    if stream:
        numbers += _STREAM_NUMBERS
    for field, key in numbers:
        if fields.get(field, "").strip():
            settings[key] = _signed(fields[field])
    if not stream:
        return settings
    bisect = fields.get("bisect") == "yes"
    if bisect or update:
        settings["BisectBatchOnFunctionError"] = bisect
    on_failure = fields.get("on_failure", "")
    if on_failure or update:
        settings["DestinationConfig"] = {
            "OnFailure": {"Destination": on_failure} if on_failure else {}
        }
    return settings


def _is_stream(source_arn: str) -> bool:
    return source_arn.startswith("arn:aws:kinesis:") or "/stream/" in source_arn


async def _triggers_page(
    console: Console,
    request: Request,
    session: Session,
    name: str,
    *,
    typed: dict[str, str] | None = None,
    typed_form: str = "",
    error: str | None = None,
    status: int = 200,
) -> Response:
    wire = console.functions
    config: AsyncConfig | None = None
    mappings: list[MappingRow] = []
    layers: list[LayerVersionRow] = []
    async_error = mappings_error = layers_error = ""
    queues: list[tuple[str, str]] = []
    destinations: list[tuple[str, str]] = []
    failure_destinations: list[tuple[str, str]] = []
    sources: list[tuple[str, str]] = []
    function, error, status = await function_shown(console, request, session, name, error, status)
    if wire is not None and function is not None:
        origin, principal = request.scope, session.principal
        config, async_error = await section_read(
            console, request, get_async_config(wire, origin, principal, name), None
        )
        mappings, mappings_error = await section_read(
            console, request, list_mappings(wire, origin, principal, name), []
        )
        layers, layers_error = await section_read(
            console, request, layer_versions(wire, origin, principal), []
        )
        queues = await queue_choices(console, request, session)
        destinations = await _destinations(console, request, session, queues)
        failure_destinations = await _failure_destinations(console, request, session, queues)
        sources = [
            *queues,
            *await kinesis_choices(console, request, session),
            *await table_stream_choices(console, request, session),
        ]
    attached = list(function.layers) if function else []
    offered = [row.arn for row in layers]
    return render_function_page(
        console, request, session, "lambda_triggers.html", name, function,
        action_url=triggers_url(name), typed=typed, typed_form=typed_form, error=error,
        status=status,
        config=config or AsyncConfig(),
        has_config=config is not None,
        async_error=async_error,
        mappings=mappings,
        mappings_error=mappings_error,
        layer_rows=layers,
        layers_error=layers_error,
        # A version attached from elsewhere (another account's, one deleted) stays offered.
        other_layers=[arn for arn in attached if arn not in offered],
        attached=attached,
        queues=queues,
        destinations=destinations,
        failure_destinations=failure_destinations,
        sources=sources,
        starting_positions=STARTING_POSITIONS,
    )  # fmt: skip


triggers = page_on_get(_triggers_page)


def _number_or_none(text: str) -> int | str | None:
    return whole_number(text) if text.strip() else None


async def _change(
    wire: LambdaWire,
    request: Request,
    session: Session,
    name: str,
    action: str,
    fields: dict[str, str],
) -> str:
    """The change ``action`` makes with the form's ``fields``; the page's section to show."""
    origin, principal = request.scope, session.principal
    if action == "async-config":
        await put_async_config(
            wire, origin, principal, name,
            retries=whole_number(fields.get("retries", "2")),
            max_age=_number_or_none(fields.get("max_age", "")),
            on_success=fields.get("on_success", ""), on_failure=fields.get("on_failure", ""),
        )  # fmt: skip
        return "asynchronous"
    if action == "delete-async-config":
        await delete_async_config(wire, origin, principal, name)
        return "asynchronous"
    if action == "dead-letter":
        settings = {"DeadLetterConfig": {"TargetArn": fields.get("target", "")}}
        await wire.update_configuration(origin, principal, name, settings)
        return "asynchronous"
    if action == "mapping":
        source = fields.get("source", "")
        await create_mapping(
            wire, origin, principal, name, source_arn=source,
            batch_size=_number_or_none(fields.get("batch_size", "")),
            starting_position=fields.get("starting_position", ""),
            enabled=fields.get("enabled") == "yes",
            settings=mapping_settings(fields, stream=_is_stream(source), update=False),
        )  # fmt: skip
        return "mappings"
    if action == "mapping-settings":
        settings = mapping_settings(fields, stream=fields.get("stream") == "yes", update=True)
        await update_mapping(wire, origin, principal, fields.get("uuid", ""), settings)
        return "mappings"
    if action == "mapping-state":
        enabled = fields.get("enabled") == "yes"
        await set_mapping_enabled(wire, origin, principal, fields.get("uuid", ""), enabled)
        return "mappings"
    if action == "delete-mapping":
        if fields.get("confirm") != "yes":
            raise FormFault(words(request)("Tick the box to confirm the deletion."))
        await delete_mapping(wire, origin, principal, fields.get("uuid", ""))
        return "mappings"
    # "layers": the boxes ticked, in the form's order (Lambda applies them in that order)
    chosen = [value for key, value in fields.items() if key.startswith("layer_") and value]
    await wire.update_configuration(origin, principal, name, {"Layers": chosen})
    return "layers"


@signed_in
async def change(console: Console, request: Request, session: Session) -> Response:
    return await posted_change(
        console, request, session, page=_triggers_page, page_url=triggers_url,
        actions=_ACTIONS, max_fields=_FIELDS, change=_change,
    )  # fmt: skip


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/functions/{name}/triggers", triggers, ["GET"]),
    ("/functions/{name}/triggers/{action}", change, ["POST"]),
]
