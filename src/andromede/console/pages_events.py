"""EventBridge (decision 0192) in the console (decision 0111, session 48): the account's
buses (the default one and the custom ones, made and deleted) and a bus's rules (listed,
made with an event pattern or a schedule, a description and a state, enabled, disabled,
deleted; session 50: edited — its pattern or schedule, description and state, PutRule with its
role kept); a rule's targets (an SQS queue — a FIFO one in a message group —, an SNS topic or,
session 50, an API destination with the role it is invoked as, all of the account chosen from
lists; the event as is or a constant JSON sent instead) added and removed; "Test pattern"
(TestEventPattern) with a sample event; session 52: a bus's KMS key and dead-letter queue
(decision 0213) shown, chosen at its creation and changed; session 53: the account's Firehose
delivery streams among the targets, with the role EventBridge writes as (decision 0238) —
EventBridge's calls as the
signed-in principal (``wire_events.EventsWire``), so its IAM decisions and its words answer
them.

A bus and a rule travel in the query or the form (a bus's name may be an ARN-like path).

Decision 0419: the buses, rules and targets of the Region the address names (``?region=``,
``console.regions``; decision 0397), every call made in it, every form and redirect keeping
it; a rule's target choices are that Region's queues and API destinations (its topics and
streams too in the console's own Region, where those pages list them).
"""

from __future__ import annotations

import re
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from andromede.console.handlers import Form, FormFault, first_refusal, posted, signed_in
from andromede.console.pages_firehose import stream_choices
from andromede.console.regions import RegionChoice, region_choice
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_events import DEFAULT_BUS, BusRow, BusSettings, RuleRow, TargetRow

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES", "SAMPLE_EVENT"]

_RULES_URL: Final = f"{CONSOLE_PATH}/event-rules"
_MAX_RESULTS: Final = 100  # ListRules' and ListEventBuses' Limit bound (AWS's)
_RULE_ACTIONS: Final = frozenset(
    {"edit", "enable", "disable", "delete", "put-target", "remove-target"}
)
_FIELDS: Final = 12
_STREAM_ARNS: Final = ("arn:aws:firehose:", "arn:aws:kinesis:")  # decision 0238
_ROLES_OFFERED: Final = 100  # an API destination target's role choices: ListRoles' first page
# The sample event "Test pattern" starts from: an event as EventBridge delivers one.
SAMPLE_EVENT: Final = """{
  "version": "0",
  "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
  "detail-type": "Object Created",
  "source": "aws.s3",
  "account": "000000000000",
  "time": "2026-12-05T12:00:00Z",
  "region": "eu-fr-1",
  "resources": [],
  "detail": {"bucket": {"name": "photos"}, "object": {"key": "cat.jpg", "size": 1024}}
}"""
_TARGET_ID: Final = re.compile(r"[^\w.-]+")


def rule_url(bus: str, name: str, region: RegionChoice | None = None) -> str:
    url = f"{_RULES_URL}/rule?{urlencode({'bus': bus, 'name': name})}"
    return url if region is None else region.href(url)


def _bus_url(bus: str, region: RegionChoice) -> str:
    url = _RULES_URL if bus == DEFAULT_BUS else f"{_RULES_URL}?{urlencode({'bus': bus})}"
    return region.href(url)


def _asked(
    region: RegionChoice, request: Request, error: str | None, status: int
) -> tuple[Request | None, str | None, int]:
    """``request`` made in the page's Region, or None and the page's refusal (404) for a
    Region not served (an action's own refusal shown first)."""
    try:
        return region.request(request), error, status
    except FormFault as fault:
        return None, (error if error else fault.message), (status if error else fault.status)


def _page_size(console: Console) -> int:
    return max(1, min(console.settings.console_page_size, _MAX_RESULTS))


async def _rules_page(
    console: Console,
    request: Request,
    session: Session,
    bus: str,
    *,
    form: dict[str, str] | None = None,
    tested: bool | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    wire = console.events
    buses: list[BusRow] = []
    rules: list[RuleRow] = []
    next_href = None
    settings: BusSettings | None = None
    settings_error = ""
    keys: list[tuple[str, str]] = []
    queues: list[str] = []
    region = region_choice(console, request)
    asked, error, status = _asked(region, request, error, status)
    if wire is None:
        error, status = _("This server serves no EventBridge."), 404
    elif asked is not None:
        origin, principal = asked.scope, session.principal
        try:
            buses = await wire.buses(origin, principal, limit=_page_size(console))
            rules, token = await wire.rules(
                origin, principal, bus,
                limit=_page_size(console), token=request.query_params.get("token") or None,
            )  # fmt: skip
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        else:
            if token:
                next_href = region.href(f"{_RULES_URL}?{urlencode({'bus': bus, 'token': token})}")
        try:
            settings = await wire.bus_settings(origin, principal, bus)
        except WireError as exc:  # the bus's section says so; its rules are shown
            settings_error = console.error_text(request, exc)
        keys, queues = await _bus_choices(console, asked, session)
    return console.render(
        request,
        "event_rules.html",
        session=session,
        status=status,
        title=_("EventBridge rules"),
        region=region,
        bus=bus,
        default_bus=DEFAULT_BUS,
        buses=buses,
        rules=rules,
        next_href=next_href,
        form=form or {},
        sample_event=(form or {}).get("event") or SAMPLE_EVENT,
        tested=tested,
        bus_settings=settings,
        bus_settings_error=settings_error,
        kms_keys=keys,
        queue_arns=queues,
        error=error,
    )


async def _bus_choices(
    console: Console, request: Request, session: Session
) -> tuple[list[tuple[str, str]], list[str]]:
    """A bus's forms' choices (decision 0213): the keys KMS lists to the user and the ARNs of
    the queues SQS lists — choices only: EventBridge checks the key is open to it and the
    queue the account's."""
    keys: list[tuple[str, str]] = []
    queues: list[str] = []
    origin, principal = request.scope, session.principal
    if console.kms is not None:
        keys = await console.kms.key_choices(
            origin, principal, limit=console.settings.console_page_size
        )
    if console.sqs is not None:
        with suppress(WireError):
            queues = [q.arn for q in await console.sqs.list_queues(origin, principal) if q.arn]
    return keys, queues


def _bus_of(request: Request, fields: dict[str, str] | None = None) -> str:
    typed = (fields or {}).get("bus") or request.query_params.get("bus") or DEFAULT_BUS
    return typed.strip()[:1600] or DEFAULT_BUS


@signed_in
async def event_rules(console: Console, request: Request, session: Session) -> Response:
    return await _rules_page(console, request, session, _bus_of(request))


@posted(max_fields=_FIELDS)
async def post(console: Console, request: Request, session: Session, fields: Form) -> Response:
    """A POST of the rules' page: a rule made (``/event-rules``), a pattern tested, a bus
    made or deleted (``/event-rules/{action}``), in the page's Region."""
    bus = _bus_of(request, fields)
    wire = console.events
    action = request.path_params.get("action", "create-rule")
    if wire is None or action not in (
        "create-rule",
        "test",
        "create-bus",
        "update-bus",
        "delete-bus",
    ):
        return await _rules_page(console, request, session, bus)
    _ = console.catalogue(request).gettext
    region = region_choice(console, request)
    principal = session.principal
    try:
        origin = region.origin(request)
        if action == "test":
            matched = await wire.test_pattern(
                origin, principal, fields.get("pattern", ""), fields.get("event", "")
            )
            return await _rules_page(console, request, session, bus, form=fields, tested=matched)
        key, dead_letter = fields.get("kms_key", "").strip(), fields.get("dead_letter", "").strip()
        if action == "create-bus":
            name = fields.get("bus_name", "").strip()
            await wire.create_bus(
                origin, principal, name, fields.get("description", ""),
                kms_key=key, dead_letter_arn=dead_letter,
            )  # fmt: skip
            return RedirectResponse(_bus_url(name, region), status_code=303)
        if action == "update-bus":
            await wire.update_bus(origin, principal, bus, key, dead_letter)
            return RedirectResponse(_bus_url(bus, region), status_code=303)
        if action == "delete-bus":
            if fields.get("confirm") != "yes":
                raise FormFault(_("Tick the box to confirm the deletion."))
            await wire.delete_bus(origin, principal, bus)
            return RedirectResponse(region.href(_RULES_URL), status_code=303)
        name = fields.get("name", "").strip()
        await wire.put_rule(
            origin, principal, bus, name,
            pattern=fields.get("pattern", "").strip(),
            schedule=fields.get("schedule", "").strip(),
            description=fields.get("description", ""),
            enabled=fields.get("state", "ENABLED") == "ENABLED",
        )  # fmt: skip
    except FormFault as exc:
        return await _rules_page(
            console, request, session, bus, form=fields, error=exc.message, status=exc.status
        )
    except WireError as exc:
        return await _rules_page(
            console, request, session, bus, form=fields,
            error=console.error_text(request, exc), status=exc.status,
        )  # fmt: skip
    return RedirectResponse(rule_url(bus, name, region), status_code=303)


async def _choices(console: Console, request: Request, session: Session) -> list[tuple[str, str]]:
    """The targets a rule's form offers — the kinds EventBridge serves: the account's queues,
    topics, API destinations, Firehose and Kinesis streams, as those services list them to the
    signed-in principal (none where one refuses). ``request`` is made in the page's Region
    (decision 0419): its queues and API destinations; topics and streams are offered in the
    console's own Region only, the one those services' pages serve."""
    choices: list[tuple[str, str]] = []
    origin, principal = request.scope, session.principal
    home = region_choice(console, request).region == console.settings.region
    if console.sqs is not None:
        try:
            queues = await console.sqs.list_queues(origin, principal)
        except WireError:
            queues = []
        choices.extend((q.arn, f"SQS: {q.name}") for q in queues if q.arn)
    if console.sns is not None and home:
        try:
            topics = await console.sns.topic_arns(origin, principal)
        except WireError:
            topics = []
        choices.extend((arn, f"SNS: {arn.rsplit(':', 1)[-1]}") for arn in topics if arn)
    if console.events is not None:
        with suppress(WireError):
            destinations = await console.events.api_destinations(
                origin, principal, limit=_MAX_RESULTS
            )
            choices.extend((d.arn, f"API destination: {d.name}") for d in destinations if d.arn)
    # Decision 0238: Firehose delivery streams and Kinesis data streams, as those services list
    # them to the principal.
    if not home:
        return choices
    streams = await stream_choices(console, request, session)
    choices.extend((arn, f"Firehose: {name}") for arn, name in streams)
    account = session.principal.tenant_id
    if console.kinesis is not None and account is not None:
        with suppress(WireError):
            names, _ = await console.kinesis.names(
                origin, principal, after=None, limit=_MAX_RESULTS
            )
            region = console.settings.region
            choices.extend(
                (f"arn:aws:kinesis:{region}:{account}:stream/{n}", f"Kinesis: {n}") for n in names
            )
    return choices


async def _roles(console: Console, request: Request, session: Session) -> list[str]:
    """The account's roles' ARNs, an API destination target's choices (none where IAM
    refuses: EventBridge then says the role is required)."""
    if console.iam is None:
        return []
    with suppress(WireError):
        listed = await console.iam.list_roles(
            request.scope, session.principal, marker=None, page_size=_ROLES_OFFERED
        )
        return [role.arn for role in listed.rows]
    return []


async def _rule_page(
    console: Console,
    request: Request,
    session: Session,
    bus: str,
    name: str,
    *,
    form: Form | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    wire = console.events
    rule: RuleRow | None = None
    targets: list[TargetRow] = []
    region = region_choice(console, request)
    asked, error, status = _asked(region, request, error, status)
    if wire is None:
        error, status = _("This server serves no EventBridge."), 404
    elif asked is not None:
        try:
            rule = await wire.rule(asked.scope, session.principal, bus, name)
            targets = await wire.targets(asked.scope, session.principal, bus, name)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
    return console.render(
        request,
        "event_rule.html",
        session=session,
        status=status,
        title=name,
        region=region,
        bus=bus,
        bus_href=_bus_url(bus, region),
        name=name,
        rule=rule,
        targets=targets,
        choices=await _choices(console, asked, session) if rule and asked else [],
        roles=await _roles(console, request, session) if rule else [],
        form=form or {},
        error=error,
    )


@signed_in
async def event_rule(console: Console, request: Request, session: Session) -> Response:
    name = request.query_params.get("name", "")[:64]
    if not name:
        return RedirectResponse(region_choice(console, request).href(_RULES_URL), status_code=303)
    return await _rule_page(console, request, session, _bus_of(request), name)


@posted(max_fields=_FIELDS)
async def change(console: Console, request: Request, session: Session, fields: Form) -> Response:
    """One POST of a rule's page (bus and rule as form fields): the change, then back to the
    rule's page (303), or to its bus's rules after a deletion."""
    bus, name = _bus_of(request, fields), fields.get("name", "")[:64]
    action = request.path_params.get("action", "")
    wire = console.events
    if wire is None or action not in _RULE_ACTIONS or not name:
        return await _rules_page(console, request, session, bus)
    _ = console.catalogue(request).gettext
    region = region_choice(console, request)
    principal = session.principal
    try:
        origin = region.origin(request)
        if action == "edit":
            held = await wire.rule(origin, principal, bus, name)
            await wire.put_rule(
                origin, principal, bus, name,
                pattern=fields.get("pattern", "").strip(),
                schedule=fields.get("schedule", "").strip(),
                description=fields.get("description", "").strip(),
                enabled=fields.get("state") == "ENABLED",
                role_arn=held.role_arn,
            )  # fmt: skip
        elif action in ("enable", "disable"):
            await wire.set_enabled(origin, principal, bus, name, action == "enable")
        elif action == "delete":
            await wire.delete_rule(origin, principal, bus, name)
            return RedirectResponse(_bus_url(bus, region), status_code=303)
        elif action == "remove-target":
            await wire.remove_target(origin, principal, bus, name, fields.get("target_id", ""))
        else:
            arn = fields.get("target_arn", "").strip()
            constant = fields.get("input", "").strip() if fields.get("mode") == "constant" else ""
            if fields.get("mode") == "constant" and not constant:
                raise FormFault(_("Type the constant JSON to send."))
            # The target's id, as AWS's console makes one: the target's name, made safe.
            target_id = (
                fields.get("target_id", "").strip()
                or _TARGET_ID.sub("-", arn.rsplit(":", 1)[-1])[:64]
            )
            # A role only for an API destination or a stream (EventBridge acts as it there), a
            # message group only for a FIFO queue (required there, refused elsewhere).
            acts_as_role = ":api-destination/" in arn or arn.startswith(_STREAM_ARNS)
            role = fields.get("role_arn", "").strip() if acts_as_role else ""
            group = fields.get("message_group", "").strip() if arn.endswith(".fifo") else ""
            target = TargetRow(target_id, arn, constant, role, group)
            await wire.put_target(origin, principal, bus, name, target)
    except FormFault as exc:
        return await _rule_page(
            console, request, session, bus, name, form=fields, error=exc.message, status=exc.status
        )
    except WireError as exc:
        return await _rule_page(
            console, request, session, bus, name, form=fields,
            error=console.error_text(request, exc), status=exc.status,
        )  # fmt: skip
    return RedirectResponse(rule_url(bus, name, region), status_code=303)


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/event-rules", event_rules, ["GET"]),
    ("/event-rules", post, ["POST"]),
    ("/event-rules/rule", event_rule, ["GET"]),
    ("/event-rules/rule/{action}", change, ["POST"]),
    ("/event-rules/{action}", post, ["POST"]),
]
