"""Amazon Route 53 hosted zones (decision 0280) in the console (decision 0288): the zones'
list (name, public or private, record count, comment; pages of ``console_page_size``), a
zone's creation (name, comment, public or private with a VPC of the account), and a zone's
page: its record sets as a table (name, type, TTL, values; in pages), a record set created or
upserted from a form (its name relative to the zone, type, TTL, values one a line; a row's
"Edit" fills the form with that record set, to be upserted), one
deleted after a ticked box (a DELETE with the exact TTL and values shown, which Route 53
requires), a private zone's VPCs associated and disassociated, its comment and tags changed,
and the zone deleted after a ticked box — Route 53's own calls as the signed-in principal
(``wire_route53.Route53Wire``), so its IAM decisions, checks, audit and words answer them
(``InvalidChangeBatch``, ``HostedZoneNotEmpty``, ``LastVPCAssociation``…).

A record's name is typed relative to the zone (empty or ``@``: the apex); a name ending in a
dot is taken as typed, and Route 53 refuses one outside the zone.

Decision 0290: the table shows each set's routing policy, set identifier, health check and
alias target; the form sends a routing policy and an alias (``route53_record_forms``), a
row's "Edit" names the set by its identifier too, and a deletion carries the whole set.

Decision 0354 (over decision 0346): a public zone is created on a reusable delegation set of
the account's if one is chosen; a private zone's page lists, adds and withdraws the VPC
association authorisations it gives other accounts' VPCs; the zones list shows the other
accounts' zones associated with the caller's VPCs, associates one (by its id, the zone's
account having authorised the VPC) and disassociates them (``route53_sharing``).

Decision 0361 (over decision 0353): the record form's IP-based policy names a CIDR collection
of the account's (offered from ListCidrCollections) and a location of it, or ``*``; the table
shows the collection by its name and the location.
"""

from __future__ import annotations

import json
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from andromede.console.handlers import (
    Form,
    FormFault,
    fault_or_refusal,
    first_refusal,
    posted,
    refusal,
    signed_in,
)
from andromede.console.pages_alarms import parse_tags
from andromede.console.route53_record_forms import (
    PLACES,
    POLICIES,
    alias_choices,
    alias_of,
    cidr_collection_choices,
    health_check_choices,
    record_form,
    routing_of,
    set_json,
    shown_set,
)
from andromede.console.route53_sharing import in_words, set_choices, shared_zones
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_route53 import RecordPage, Route53Wire, ZoneDetail, ZoneRow
from andromede.console.wire_route53_sets import SetCalls, SharedZoneRow

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["RECORD_TYPES", "ROUTES", "record_name", "relative_name", "zone_url"]

ZONES_URL: Final = f"{CONSOLE_PATH}/hosted-zones"
# The record types Route 53 serves here (decisions 0280 and 0324), the form's choice.
RECORD_TYPES: Final = (
    "A", "AAAA", "CNAME", "MX", "TXT", "SRV", "PTR", "NS", "CAA", "SOA",
    "DS", "NAPTR", "SPF", "HTTPS", "SVCB", "TLSA", "SSHFP",
)  # fmt: skip
_ACTIONS: Final = frozenset(
    {"record", "delete-record", "associate", "disassociate", "comment", "tag", "untag", "delete",
     "authorise", "deauthorise"}
)  # fmt: skip
_MARKER_LENGTH: Final = 64
_NAME_LENGTH: Final = 1024
_IDENTIFIER_LENGTH: Final = 128
_MAX_FIELDS: Final = 32  # the record form's, its routing policy and alias included


def _wire(console: Console) -> Route53Wire | None:
    return console.route53


def _not_served(console: Console, request: Request) -> str:
    return console.catalogue(request).gettext("This server serves no Amazon Route 53.")


def zone_url(zone_id: str) -> str:
    return f"{ZONES_URL}/{quote(zone_id, safe='')}"


def record_name(typed: str, zone: str) -> str:
    """A record's full name from the name typed relative to ``zone`` (its final dot kept):
    empty or ``@`` the apex, a name ending in a dot as typed, any other under the zone."""
    typed = typed.strip()
    if typed in ("", "@"):
        return zone
    if typed.endswith("."):
        return typed
    return f"{typed}.{zone}"


def relative_name(name: str, zone: str) -> str:
    """A record's name as the form takes it: relative to ``zone`` ("" the apex), or whole
    (with its final dot) when it is not under the zone."""
    if name == zone:
        return ""
    return name.removesuffix(f".{zone}") if name.endswith(f".{zone}") else name


async def _edited(
    wire: Route53Wire, request: Request, session: Session, zone: ZoneDetail
) -> Form | None:
    """The record form filled with the record set a row's "Edit" names (``?edit=<name>&
    edit_type=<type>``, and ``edit_id=<set identifier>`` for a set with a routing policy), to
    be upserted; None when none is named or it is not there."""
    name = request.query_params.get("edit", "")[:_NAME_LENGTH]
    record_type = request.query_params.get("edit_type", "")[:8]
    identifier = request.query_params.get("edit_id", "")[:_IDENTIFIER_LENGTH]
    if not name or not record_type:
        return None
    with suppress(WireError):
        page = await wire.records(
            request.scope, session.principal, zone.zone.zone_id,
            start=(name, record_type, identifier), limit=1,
        )  # fmt: skip
        found = next(iter(page.records), None)
        if found is not None and (found.name, found.record_type) == (name, record_type):
            if found.routing.set_identifier == identifier:
                return record_form(found, relative_name(found.name, zone.zone.name))
    return None


async def _vpc_choices(
    console: Console, request: Request, session: Session
) -> list[tuple[str, str]]:
    """The account's VPCs as EC2 lists them to the signed-in principal ((id, label); none
    where EC2 refuses): a choice only, Route 53 checks the VPC."""
    if console.ec2 is None:
        return []
    with suppress(WireError):
        vpcs = await console.ec2.describe_vpcs(request.scope, session.principal)
        return [(v.vpc_id, " · ".join(p for p in (v.vpc_id, v.name, v.cidr) if p)) for v in vpcs]
    return []


def _chosen_vpc(console: Console, fields: Form) -> tuple[str, str]:
    return console.settings.region, fields.get("vpc_id", "").strip()


def _typed_vpc(console: Console, fields: Form) -> tuple[str, str]:
    """Another account's VPC as typed (its Region, the gateway's when none is typed)."""
    region = fields.get("region", "").strip() or console.settings.region
    return region, fields.get("vpc_id", "").strip()


async def _list_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Form | None = None,
    typed_form: str = "create",
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    wire = _wire(console)
    zones: list[ZoneRow] = []
    vpcs: list[tuple[str, str]] = []
    sets: list[tuple[str, str]] = []
    shared: list[SharedZoneRow] = []
    next_href = None
    if wire is None:
        error, status = _not_served(console, request), 404
    else:
        marker = request.query_params.get("marker", "")[:_MARKER_LENGTH]
        try:
            zones, next_marker = await wire.zones(
                request.scope, session.principal, marker=marker,
                limit=console.settings.console_page_size,
            )  # fmt: skip
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        else:
            if next_marker:
                next_href = f"{ZONES_URL}?{urlencode({'marker': next_marker})}"
        vpcs = await _vpc_choices(console, request, session)
        sets = await set_choices(wire, request, session)
        region = console.settings.region
        shared = await shared_zones(wire, request, session, [(region, v) for v, _l in vpcs])
    return console.render(
        request,
        "route53_zones.html",
        session=session,
        status=status,
        title=_("Route 53 hosted zones"),
        zones=zones,
        next_href=next_href,
        vpcs=vpcs,
        sets=sets,
        shared=shared,
        form=(typed or {}) if typed_form == "create" else {},
        shared_form=(typed or {}) if typed_form == "shared" else {},
        error=error,
    )


zones_page = signed_in(_list_page)


@posted()
async def create(console: Console, request: Request, session: Session, fields: Form) -> Response:
    wire = _wire(console)
    if wire is None:
        return await _list_page(console, request, session)
    private = fields.get("visibility") == "private"
    try:
        zone_id = await wire.create_zone(
            request.scope, session.principal, name=fields.get("name", "").strip(),
            comment=fields.get("comment", ""),
            vpc=_chosen_vpc(console, fields) if private else None,
            delegation_set_id="" if private else fields.get("delegation_set", "").strip(),
        )  # fmt: skip
    except WireError as exc:
        error, status = refusal(console, request, exc)
        return await _list_page(console, request, session, typed=fields, error=error, status=status)
    return RedirectResponse(zone_url(zone_id), status_code=303)


async def _zone_page(
    console: Console,
    request: Request,
    session: Session,
    zone_id: str,
    *,
    typed: Form | None = None,
    typed_form: str = "",
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    wire = _wire(console)
    zone: ZoneDetail | None = None
    records = RecordPage([])
    records_error, tags_error, authorisations_error = "", "", ""
    tags: list[tuple[str, str]] = []
    authorisations: list[tuple[str, str]] = []
    targets: list[tuple[str, str]] = []
    checks: list[tuple[str, str]] = []
    collections: list[tuple[str, str]] = []
    next_href = None
    if wire is None:
        error, status = _not_served(console, request), 404
    else:
        origin, principal = request.scope, session.principal
        try:
            zone = await wire.zone(origin, principal, zone_id)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        else:
            start = (
                request.query_params.get("name", "")[:_NAME_LENGTH],
                request.query_params.get("type", "")[:8],
                request.query_params.get("identifier", "")[:_IDENTIFIER_LENGTH],
            )
            try:
                records = await wire.records(
                    origin, principal, zone_id, start=start,
                    limit=console.settings.console_page_size,
                )  # fmt: skip
            except WireError as exc:  # the records' section says so; the rest is shown
                records_error = refusal(console, request, exc)[0]
            else:
                if records.next_start[0]:
                    name, record_type, identifier = records.next_start
                    query = urlencode(
                        {"name": name, "type": record_type}
                        | ({"identifier": identifier} if identifier else {})
                    )
                    next_href = f"{zone_url(zone_id)}?{query}#records"
            if not typed_form:
                edited = await _edited(wire, request, session, zone)
                if edited is not None:
                    typed, typed_form = edited, "record"
            try:
                tags = await wire.tags(origin, principal, zone_id)
            except WireError as exc:
                tags_error = refusal(console, request, exc)[0]
            if zone.zone.private:
                try:
                    authorisations = await SetCalls(wire).authorisations(origin, principal, zone_id)
                except WireError as exc:
                    authorisations_error = refusal(console, request, exc)[0]
            shown = (typed or {}) if typed_form == "record" else {}
            targets = await alias_choices(
                console, request, session, wire, zone_id, shown.get("alias_target", "")
            )
            checks = await health_check_choices(
                wire, request, session, shown.get("health_check", "")
            )
            collections = await cidr_collection_choices(
                wire, request, session, shown.get("cidr_collection", "")
            )
    return console.render(
        request,
        "route53_zone.html",
        session=session,
        status=status,
        title=f"{_('Hosted zone')} {zone.zone.name if zone else zone_id}",
        zone_id=zone_id,
        zone=zone,
        records=records.records,
        records_error=records_error,
        next_href=next_href,
        record_types=RECORD_TYPES,
        policies=POLICIES,
        alias_targets=targets,
        health_checks=checks,
        cidr_collections=collections,
        set_json=set_json,
        tags=tags,
        tags_error=tags_error,
        vpcs=await _vpc_choices(console, request, session) if zone and zone.zone.private else [],
        places=PLACES,
        authorisations=authorisations,
        authorisations_error=authorisations_error,
        region=console.settings.region,
        typed_form=typed_form,
        form=dict(typed or {}) if typed_form else {},
        action_url=zone_url(zone_id),
        error=error,
    )


@signed_in
async def zone_page(console: Console, request: Request, session: Session) -> Response:
    return await _zone_page(console, request, session, request.path_params.get("zone", ""))


def _shown_values(fields: Form, _: Any) -> list[str]:
    """A deletion's values as the page showed them (a JSON list in a hidden field)."""
    try:
        values = json.loads(fields.get("values", "[]"))
    except ValueError:
        values = None
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise FormFault(_("The record's values could not be read: reload the page."))
    return values


async def _record_change(
    console: Console, wire: Route53Wire, request: Request, session: Session, zone_id: str,
    fields: Form, action: str,
) -> None:  # fmt: skip
    _ = console.catalogue(request).gettext
    origin, principal = request.scope, session.principal
    if action == "record":
        change = fields.get("change", "")
        if change not in ("CREATE", "UPSERT"):
            raise FormFault(_("Choose whether to create or upsert the record."))
        zone = await wire.zone(origin, principal, zone_id)
        values = [v.strip() for v in fields.get("values", "").splitlines() if v.strip()]
        await wire.change(
            origin, principal, zone_id, action=change,
            name=record_name(fields.get("name", ""), zone.zone.name),
            record_type=fields.get("type", ""), ttl=fields.get("ttl", "").strip(), values=values,
            routing=routing_of(fields), alias=alias_of(fields),
        )  # fmt: skip
        return
    if fields.get("confirm") != "yes":
        raise FormFault(_("Tick the box to confirm the deletion."))
    values = _shown_values(fields, _)
    routing, alias = shown_set(
        fields.get("set", ""), _("The record's values could not be read: reload the page.")
    )
    await wire.change(
        origin, principal, zone_id, action="DELETE", name=fields.get("name", ""),
        record_type=fields.get("type", ""), ttl=fields.get("ttl", ""), values=values,
        routing=routing, alias=alias,
    )  # fmt: skip


async def _authorisation(
    console: Console, wire: Route53Wire, request: Request, session: Session, zone_id: str,
    fields: Form, action: str,
) -> None:  # fmt: skip
    """Another account's VPC authorised on the zone, or its authorisation withdrawn (after a
    ticked box)."""
    calls, vpc = SetCalls(wire), _typed_vpc(console, fields)
    try:
        if action == "authorise":
            await calls.authorise(request.scope, session.principal, zone_id, vpc)
            return
        if fields.get("confirm") != "yes":
            _ = console.catalogue(request).gettext
            raise FormFault(_("Tick the box to confirm the deletion."))
        await calls.deauthorise(request.scope, session.principal, zone_id, vpc)
    except WireError as exc:
        raise in_words(request, exc) from exc


@posted()
async def associate_shared(
    console: Console, request: Request, session: Session, fields: Form
) -> Response:
    """The caller's VPC associated with another account's zone (by its id) that authorised
    it; the zones list again with Route 53's refusal and the form as typed."""
    wire = _wire(console)
    if wire is None:
        return await _list_page(console, request, session)
    zone_id = fields.get("zone_id", "").strip().rsplit("/", 1)[-1]
    try:
        if not zone_id:
            raise FormFault(console.catalogue(request).gettext("Choose a hosted zone."))
        vpc = _chosen_vpc(console, fields)
        await wire.associate(request.scope, session.principal, zone_id, vpc)
    except (FormFault, WireError) as exc:
        shown = in_words(request, exc) if isinstance(exc, WireError) else exc
        error, status = fault_or_refusal(console, request, shown)
        return await _list_page(
            console, request, session, typed=fields, typed_form="shared", error=error,
            status=status,
        )  # fmt: skip
    return RedirectResponse(f"{ZONES_URL}#shared-zones", status_code=303)


@posted()
async def disassociate_shared(
    console: Console, request: Request, session: Session, fields: Form
) -> Response:
    """The caller's VPC taken off another account's zone (as the VPC's owner may)."""
    wire = _wire(console)
    if wire is None:
        return await _list_page(console, request, session)
    zone_id, vpc = fields.get("zone_id", "").strip(), _typed_vpc(console, fields)
    try:
        await wire.disassociate(request.scope, session.principal, zone_id, vpc)
    except WireError as exc:
        error, status = refusal(console, request, exc)
        return await _list_page(console, request, session, error=error, status=status)
    return RedirectResponse(f"{ZONES_URL}#shared-zones", status_code=303)


@signed_in
async def change(console: Console, request: Request, session: Session) -> Response:
    """One POST of a zone's page: the change made, then the page (the list after the zone's
    deletion) by a redirect (303); or the page again with Route 53's refusal and the form as
    typed."""
    zone_id, action = request.path_params.get("zone", ""), request.path_params.get("action", "")
    if action not in _ACTIONS:
        return await _zone_page(console, request, session, zone_id)
    fields = await console.form(request, session, max_fields=_MAX_FIELDS)
    if fields is None:
        return console.refused_form(request, session)
    wire = _wire(console)
    if wire is None:
        return await _zone_page(console, request, session, zone_id)
    _ = console.catalogue(request).gettext
    origin, principal = request.scope, session.principal
    target = zone_url(zone_id)
    try:
        if action in ("record", "delete-record"):
            await _record_change(console, wire, request, session, zone_id, fields, action)
            target = f"{target}#records"
        elif action == "associate":
            await wire.associate(origin, principal, zone_id, _chosen_vpc(console, fields))
        elif action == "disassociate":
            await wire.disassociate(origin, principal, zone_id, _chosen_vpc(console, fields))
        elif action == "comment":
            await wire.update_comment(origin, principal, zone_id, fields.get("comment", ""))
        elif action == "tag":
            add = parse_tags(fields.get("tags", ""))
            await wire.change_tags(origin, principal, zone_id, add=add)
        elif action == "untag":
            await wire.change_tags(origin, principal, zone_id, remove=[fields.get("key", "")])
        elif action in ("authorise", "deauthorise"):
            await _authorisation(console, wire, request, session, zone_id, fields, action)
            target = f"{target}#authorisations"
        else:
            if fields.get("confirm") != "yes":
                raise FormFault(_("Tick the box to confirm the deletion."))
            await wire.delete_zone(origin, principal, zone_id)
            target = ZONES_URL
    except (FormFault, WireError) as exc:
        error, status = fault_or_refusal(console, request, exc)
        return await _zone_page(
            console, request, session, zone_id, typed=fields, typed_form=action, error=error,
            status=status,
        )  # fmt: skip
    return RedirectResponse(target, status_code=303)


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/hosted-zones", zones_page, ["GET"]),
    ("/hosted-zones", create, ["POST"]),
    ("/shared-zones", associate_shared, ["POST"]),
    ("/shared-zones/disassociate", disassociate_shared, ["POST"]),
    ("/hosted-zones/{zone}", zone_page, ["GET"]),
    ("/hosted-zones/{zone}/{action}", change, ["POST"]),
]
