"""Route 53 traffic policies (decision 0330) in the console (decision 0340): one page,
``/console/traffic-policies``, as AWS's console's "Traffic policies" and "Policy records"
pages together. The account's policies (in pages of ``console_page_size``) with their versions
(each version's comment, edited in place, and document, folded); a policy created from a
pasted document; a version added to a policy from another pasted document; a version deleted
after a ticked box.
The account's policy records (instances): the zone, name, TTL, policy version and state; one
created for a zone of the account's (zone, a name relative to it as the record form takes it,
TTL, a policy version among those listed); its TTL and version updated; deleted after a
ticked box. Every call is Route 53's own as the signed-in principal
(``wire_route53_traffic``): it judges the document (``InvalidTrafficPolicyDocument`` and
why), the name, the TTL and the caller's IAM (``AccessDenied``), and the page shows its
refusal with the form as typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from andromede.console.handlers import (
    Form,
    FormFault,
    action,
    first_refusal,
    refusal,
    signed_in,
    words,
)
from andromede.console.pages_ec2 import field
from andromede.console.pages_route53 import record_name
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_route53 import ZoneRow
from andromede.console.wire_route53_traffic import (
    InstanceRow,
    PolicyRow,
    TrafficCalls,
    pretty_document,
)

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES"]

_URL: Final = f"{CONSOLE_PATH}/traffic-policies"
_MARKER_LENGTH: Final = 64
_ZONE_CHOICES: Final = 100  # the zones offered for a policy record


def _calls(console: Console) -> TrafficCalls | None:
    return None if console.route53 is None else TrafficCalls(console.route53)


def _instance_marker(query: Mapping[str, str]) -> tuple[str, str, str] | None:
    """The policy records' page asked for (ListTrafficPolicyInstances' three markers)."""
    name = query.get("instance_name", "")[: _MARKER_LENGTH * 4]
    if not name:
        return None
    zone = query.get("instance_zone", "")[:_MARKER_LENGTH]
    return zone, name, query.get("instance_type", "")[:16]


def _version_choices(policies: list[PolicyRow]) -> list[tuple[str, str]]:
    """Each listed version as a choice: ``<policy id>/<version>`` and what the reader sees."""
    return [
        (f"{p.policy_id}/{v.version}", f"{p.name} ({p.type}) v{v.version}")
        for p in policies
        for v in p.versions
    ]


async def _page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Mapping[str, Mapping[str, str]] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    calls = _calls(console)
    policies: list[PolicyRow] = []
    instances: list[InstanceRow] = []
    zones: list[ZoneRow] = []
    next_href, instances_next_href, instances_error = "", "", ""
    if calls is None or console.route53 is None:
        error, status = _("This server serves no Amazon Route 53."), 404
    else:
        origin, principal = request.scope, session.principal
        marker = request.query_params.get("marker", "")[:_MARKER_LENGTH]
        limit = console.settings.console_page_size
        try:
            page = await calls.policies(origin, principal, marker=marker, limit=limit)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        else:
            policies = page.policies
            if page.next_marker:
                next_href = f"{_URL}?{urlencode({'marker': page.next_marker})}"
            try:
                listed = await calls.instances(
                    origin, principal, marker=_instance_marker(request.query_params), limit=limit
                )
            except WireError as exc:
                instances_error = refusal(console, request, exc)[0]
            else:
                instances = listed.instances
                if listed.next_marker is not None:
                    zone, name, kind = listed.next_marker
                    instances_next_href = f"{_URL}?" + urlencode(
                        {"instance_zone": zone, "instance_name": name, "instance_type": kind}
                    )
        with suppress(WireError):  # the record form's choices only
            zones = (
                await console.route53.zones(origin, principal, marker="", limit=_ZONE_CHOICES)
            )[0]
    return console.render(
        request,
        "route53_traffic_policies.html",
        session=session,
        status=status,
        title=_("Route 53 traffic policies"),
        policies=policies,
        pretty=pretty_document,
        next_href=next_href,
        instances=instances,
        instances_error=instances_error,
        instances_next_href=instances_next_href,
        zones=zones,
        choices=_version_choices(policies),
        policy_names={p.policy_id: p.name for p in policies},
        typed=typed or {},
        error=error,
    )


def _chosen_version(request: Request, fields: Mapping[str, str]) -> tuple[str, str]:
    """The policy id and version of the form's ``policy`` choice (``<id>/<version>``)."""
    _ = words(request)
    policy_id, _slash, version = field(fields, "policy").partition("/")
    if not policy_id or not version:
        raise FormFault(_("Choose a policy version."))
    return policy_id, version


async def _create(calls: TrafficCalls, request: Request, session: Session, f: Form) -> str:
    document = f.get("document", "")
    policy_id = await calls.create(
        request.scope, session.principal, field(f, "name"), document, field(f, "comment")
    )
    return f"{_URL}#policy-{policy_id}"


async def _add_version(calls: TrafficCalls, request: Request, session: Session, f: Form) -> str:
    policy_id = field(f, "policy_id")
    await calls.create_version(
        request.scope, session.principal, policy_id, f.get("document", ""), field(f, "comment")
    )
    return f"{_URL}#policy-{policy_id}"


def _version(request: Request, fields: Form) -> int:
    """The form's ``version`` (a hidden field of the version's row)."""
    version = field(fields, "version")
    if not version.isdigit():
        _ = words(request)
        raise FormFault(_("Choose a policy version."))
    return int(version)


async def _comment(calls: TrafficCalls, request: Request, session: Session, f: Form) -> str:
    policy_id, version = field(f, "policy_id"), _version(request, f)
    await calls.update_comment(
        request.scope, session.principal, policy_id, version, f.get("comment", "")
    )
    return f"{_URL}#policy-{policy_id}"


async def _delete(calls: TrafficCalls, request: Request, session: Session, f: Form) -> str:
    version = _version(request, f)
    await calls.delete(request.scope, session.principal, field(f, "policy_id"), version)
    return _URL


async def _create_instance(calls: TrafficCalls, request: Request, session: Session, f: Form) -> str:
    policy_id, version = _chosen_version(request, f)
    zone_id, name = field(f, "zone"), field(f, "name")
    if not zone_id:
        _ = words(request)
        raise FormFault(_("Choose a hosted zone."))
    if not name.endswith("."):  # relative to the zone, as the record form takes it
        name = record_name(name, await calls.zone_name(request.scope, session.principal, zone_id))
    instance_id = await calls.create_instance(
        request.scope, session.principal, zone_id=zone_id, name=name, ttl=field(f, "ttl"),
        policy_id=policy_id, version=version,
    )  # fmt: skip
    return f"{_URL}#instance-{instance_id}"


async def _update_instance(calls: TrafficCalls, request: Request, session: Session, f: Form) -> str:
    policy_id, version = _chosen_version(request, f)
    instance_id = field(f, "instance_id")
    await calls.update_instance(
        request.scope, session.principal, instance_id, ttl=field(f, "ttl"),
        policy_id=policy_id, version=version,
    )  # fmt: skip
    return f"{_URL}#instance-{instance_id}"


async def _delete_instance(calls: TrafficCalls, request: Request, session: Session, f: Form) -> str:
    await calls.delete_instance(request.scope, session.principal, field(f, "instance_id"))
    return _URL


def _version_form(fields: Mapping[str, str]) -> str:
    return f"version-{fields.get('policy_id', '')}"


def _comment_form(fields: Mapping[str, str]) -> str:
    return f"comment-{fields.get('policy_id', '')}-{fields.get('version', '')}"


def _update_form(fields: Mapping[str, str]) -> str:
    return f"update-{fields.get('instance_id', '')}"


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/traffic-policies", signed_in(_page), ["GET"]),
    ("/traffic-policies", action(_page, _create, wire=_calls, form="create"), ["POST"]),
    (
        "/traffic-policies/version",
        action(_page, _add_version, wire=_calls, form=_version_form),
        ["POST"],
    ),
    (
        "/traffic-policies/comment",
        action(_page, _comment, wire=_calls, form=_comment_form),
        ["POST"],
    ),
    (
        "/traffic-policies/delete",
        action(_page, _delete, wire=_calls, confirmed=True),
        ["POST"],
    ),
    (
        "/traffic-policy-instances",
        action(_page, _create_instance, wire=_calls, form="instance"),
        ["POST"],
    ),
    (
        "/traffic-policy-instances/update",
        action(_page, _update_instance, wire=_calls, form=_update_form),
        ["POST"],
    ),
    (
        "/traffic-policy-instances/delete",
        action(_page, _delete_instance, wire=_calls, confirmed=True),
        ["POST"],
    ),
]
