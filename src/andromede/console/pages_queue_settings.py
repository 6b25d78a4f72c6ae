"""One queue's settings page (decision 0111, session 47): its attributes as GetQueueAttributes
answers them, changed with one SetQueueAttributes — visibility timeout, retention, delay, max
size, receive wait, the redrive policy (a dead-letter queue chosen among the account's, its
maxReceiveCount), the redrive allow policy, the encryption (SSE-SQS, or a KMS key chosen among
those KMS lists to the user, with the data-key reuse period) and, for a FIFO queue,
content-based deduplication, deduplication scope and throughput limit — a purge and a deletion,
each after a ticked box.

Every read and change is SQS's own call, made as the signed-in principal
(``wire_queues.SqsWire``), so SQS checks what the form sends: a value out of range, a dead-letter
queue of the other type, ``perMessageGroupId`` throughput without the ``messageGroup`` scope —
each shown as SQS's own error with the form as typed, never a 500. The form sends every
setting it shows, so what the page shows is what the queue holds after a save.

Decision 0419: the queue of the Region the address names (``?region=``, ``console.regions``),
every read and change made in it, its forms and redirects keeping the Region.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from andromede.console.handlers import Form, FormFault, first_refusal, posted, signed_in
from andromede.console.pages_queues import key_choices
from andromede.console.regions import RegionChoice, region_choice
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_queues import QueueRow

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["NO_ENCRYPTION", "ROUTES", "settings_attributes", "shown_fields"]

# The numeric attributes the form edits, in the order it shows them.
NUMBERS: Final = (
    "VisibilityTimeout",
    "MessageRetentionPeriod",
    "DelaySeconds",
    "MaximumMessageSize",
    "ReceiveMessageWaitTimeSeconds",
)
# The form's encryption choice for "no encryption" (SqsManagedSseEnabled=false); "" is SSE-SQS,
# any other value a KMS key reference.
NO_ENCRYPTION: Final = "-"
# The fixed fields of the settings form, besides the repeated source queues.
_FIELDS: Final = 20


def _queue_url(name: str, region: RegionChoice) -> str:
    return f"{CONSOLE_PATH}/queues/{quote(name, safe='')}{region.query}"


def settings_attributes(
    fields: Mapping[str, str], sources: Sequence[str], *, fifo: bool
) -> dict[str, str]:
    """SetQueueAttributes' attributes from the form as typed (SQS checks them): the numbers,
    the redrive policy (``""`` removes it), the redrive allow policy (``""`` removes it), the
    encryption and, for a FIFO queue, its three attributes."""
    attributes = {name: fields.get(name, "").strip() for name in NUMBERS}
    dead_letter = fields.get("dead_letter_arn", "").strip()
    if dead_letter:
        typed = fields.get("max_receive_count", "").strip()
        count: int | str = int(typed) if typed.isdigit() else typed
        attributes["RedrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": dead_letter, "maxReceiveCount": count}
        )
    else:
        attributes["RedrivePolicy"] = ""
    permission = fields.get("redrive_permission", "").strip()
    if permission:
        allow: dict[str, Any] = {"redrivePermission": permission}
        if permission == "byQueue":
            allow["sourceQueueArns"] = list(sources)
        attributes["RedriveAllowPolicy"] = json.dumps(allow)
    else:
        attributes["RedriveAllowPolicy"] = ""
    key = fields.get("kms_key", "").strip()
    if key == NO_ENCRYPTION:
        attributes["SqsManagedSseEnabled"] = "false"
    elif key:
        attributes["KmsMasterKeyId"] = key
        attributes["KmsDataKeyReusePeriodSeconds"] = fields.get("reuse_period", "").strip()
    else:
        attributes["SqsManagedSseEnabled"] = "true"
    if fifo:
        deduplication = fields.get("content_based_deduplication") == "yes"
        attributes["ContentBasedDeduplication"] = "true" if deduplication else "false"
        attributes["DeduplicationScope"] = fields.get("deduplication_scope", "").strip()
        attributes["FifoThroughputLimit"] = fields.get("throughput_limit", "").strip()
    return attributes


def _document(text: str) -> dict[str, Any]:
    """A policy attribute's JSON object; empty for none or anything else (SQS checked it when
    it was set, but a page must not fail on what it reads)."""
    try:
        found = json.loads(text or "{}")
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def shown_fields(attributes: Mapping[str, str]) -> dict[str, str]:
    """The form's fields as the queue's attributes set them (what a GET shows)."""
    shown = {name: attributes.get(name, "") for name in NUMBERS}
    redrive = _document(attributes.get("RedrivePolicy", ""))
    allow = _document(attributes.get("RedriveAllowPolicy", ""))
    shown["dead_letter_arn"] = str(redrive.get("deadLetterTargetArn", ""))
    shown["max_receive_count"] = str(redrive.get("maxReceiveCount", "10"))
    shown["redrive_permission"] = str(allow.get("redrivePermission", ""))
    sources = allow.get("sourceQueueArns", [])
    shown["source_queue_arns"] = " ".join(str(a) for a in sources if isinstance(sources, list))
    key = attributes.get("KmsMasterKeyId", "")
    if key and attributes.get("SqsManagedSseEnabled") != "true":
        shown["kms_key"] = key
    elif attributes.get("SqsManagedSseEnabled") == "false":
        shown["kms_key"] = NO_ENCRYPTION
    else:
        shown["kms_key"] = ""
    shown["reuse_period"] = attributes.get("KmsDataKeyReusePeriodSeconds", "300")
    shown["content_based_deduplication"] = (
        "yes" if attributes.get("ContentBasedDeduplication") == "true" else ""
    )
    shown["deduplication_scope"] = attributes.get("DeduplicationScope", "")
    shown["throughput_limit"] = attributes.get("FifoThroughputLimit", "")
    return shown


async def _page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Mapping[str, str] | None = None,
    sources: Sequence[str] = (),
    error: str | None = None,
    status: int = 200,
) -> Response:
    """The queue's page: its attributes, the settings form (as typed after a refusal), the
    account's other queues as dead-letter and source choices, the KMS keys offered."""
    _ = console.catalogue(request).gettext
    name = request.path_params["name"]
    attributes: dict[str, str] = {}
    url = ""
    others: list[QueueRow] = []
    keys: list[tuple[str, str]] = []
    region = region_choice(console, request)
    asked: Request | None = None
    try:
        asked = region.request(request)
    except FormFault as fault:  # a Region not served: nothing asked
        error, status = (error, status) if error else (fault.message, fault.status)
    if console.sqs is None:
        error, status = _("This server serves no queues."), 404
    elif asked is not None:
        origin, principal = asked.scope, session.principal
        try:
            url = await console.sqs.queue_url(origin, principal, name)
            attributes = await console.sqs.attributes(origin, principal, url)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        if url:
            # Only the form's choices: SetQueueAttributes decides (a dead-letter queue of the
            # other type, or one the caller may not use, is SQS's refusal).
            try:
                listed = await console.sqs.list_queues(origin, principal)
            except WireError:
                listed = []
            others = [q for q in listed if q.name != name and q.arn]
            keys = await key_choices(console, asked, session)
    shown = shown_fields(attributes)
    if typed is not None:
        shown.update({k: v for k, v in typed.items() if k != "csrf"})
        shown["source_queue_arns"] = " ".join(sources)
    if typed is not None and "content_based_deduplication" not in typed:
        shown["content_based_deduplication"] = ""
    return console.render(
        request,
        "queue.html",
        session=session,
        status=status,
        title=f"{_('Queue')} {name}",
        name=name,
        url=url,
        attributes=attributes,
        fifo=attributes.get("FifoQueue") == "true",
        numbers=NUMBERS,
        shown=shown,
        chosen_sources=shown.get("source_queue_arns", "").split(),
        others=others,
        kms_keys=keys,
        no_encryption=NO_ENCRYPTION,
        region=region,
        error=error,
    )


queue_page = signed_in(_page)


@signed_in
async def save_settings(console: Console, request: Request, session: Session) -> Response:
    """SetQueueAttributes from the settings form; the page again with SQS's refusal."""
    fields = await console.form(
        request, session, max_fields=_FIELDS + console.settings.console_page_size
    )
    if fields is None:
        return console.refused_form(request, session)
    form = await request.form()  # the same form, parsed once: the sources are a repeated field
    sources = [v for v in form.getlist("source_queue_arn") if isinstance(v, str) and v]
    if console.sqs is None:
        return await _page(console, request, session)
    name = request.path_params["name"]
    region = region_choice(console, request)
    principal = session.principal
    try:
        origin = region.origin(request)
        url = await console.sqs.queue_url(origin, principal, name)
        current = await console.sqs.attributes(origin, principal, url)
        attributes = settings_attributes(fields, sources, fifo=current.get("FifoQueue") == "true")
        await console.sqs.set_attributes(origin, principal, url, attributes)
    except FormFault as fault:
        return await _page(console, request, session, error=fault.message, status=fault.status)
    except WireError as exc:
        return await _page(
            console, request, session, typed=fields, sources=sources,
            error=console.error_text(request, exc), status=exc.status,
        )  # fmt: skip
    return RedirectResponse(_queue_url(name, region), status_code=303)


@posted()
async def purge(console: Console, request: Request, session: Session, fields: Form) -> Response:
    """PurgeQueue once the form's box is ticked (unticked: the page again, 400, nothing sent)."""
    _ = console.catalogue(request).gettext
    if fields.get("confirm") != "yes":
        return await _page(
            console, request, session, error=_("Tick the box to confirm the purge."), status=400
        )
    if console.sqs is None:
        return await _page(console, request, session)
    name = request.path_params["name"]
    region = region_choice(console, request)
    principal = session.principal
    try:
        origin = region.origin(request)
        url = await console.sqs.queue_url(origin, principal, name)
        await console.sqs.purge_queue(origin, principal, url)
    except FormFault as fault:
        return await _page(console, request, session, error=fault.message, status=fault.status)
    except WireError as exc:
        return await _page(
            console, request, session, error=console.error_text(request, exc), status=exc.status
        )
    return RedirectResponse(_queue_url(name, region), status_code=303)


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/queues/{name}", queue_page, ["GET"]),
    # Not a POST of /queues/{name}: /queues/delete is the list's deletion.
    ("/queues/{name}/settings", save_settings, ["POST"]),
    ("/queues/{name}/purge", purge, ["POST"]),
]
