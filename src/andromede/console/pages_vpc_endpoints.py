"""VPC endpoints (decisions 0160, 0166): the account's endpoints — id, Name, type, service,
VPC, state, and a Gateway endpoint's route tables or an Interface endpoint's subnets, security
groups, network interfaces and private DNS — with a form that creates one (Gateway: a VPC and
its route tables; Interface: a VPC, subnets, security groups and private DNS; a policy, a Name
and a ClientToken, so that the form sent twice makes one endpoint), and a page per endpoint
that changes it (route tables, subnets, groups, private DNS, the policy document) and deletes
it after a ticked box.

The services offered are those DescribeVpcEndpointServices answers, with the types each takes;
the VPCs, route tables, subnets and groups those EC2 lists to the user. Every read and change
is EC2's own call, made as the signed-in principal (``wire_vpc_endpoints``), so EC2's
policies, checks and errors decide — a route table of another VPC, a type's parameters on the
other type, a policy that is not JSON — and EC2 audits the changes as it audits boto3's. A
refused change shows the page again with EC2's error and the form as sent.

A change is sent as ModifyVpcEndpoint's differences: the form lists the endpoint's route
tables, subnets and groups selected, and what the user unselects or selects is removed or
added (the endpoint as EC2 holds it when the form is sent is what is compared). An emptied
policy is ``ResetPolicy`` (full access, EC2's default), an unchanged one is not sent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from andromede.console import wire_routing as routing
from andromede.console import wire_vpc_endpoints as endpoints
from andromede.console.handlers import first_refusal, signed_in
from andromede.console.pages_ec2 import action, client_token, field, no_ec2
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_ec2 import Ec2Wire, SecurityGroupRow, SubnetRow, VpcRow
from andromede.console.wire_routing import RouteTableRow
from andromede.console.wire_vpc_endpoints import (
    EndpointChange,
    NewEndpoint,
    ServiceRow,
    VpcEndpointRow,
)
from andromede.iam.model import Principal

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES"]

_ENDPOINTS_URL: Final = f"{CONSOLE_PATH}/vpc-endpoints"
# A form repeats its route tables, subnets and groups: room for a few hundred choices.
_MAX_FIELDS: Final = 400


def _endpoint_url(endpoint_id: str) -> str:
    return f"{_ENDPOINTS_URL}/{quote(endpoint_id, safe='')}"


async def _chosen(request: Request, name: str) -> tuple[str, ...]:
    """A repeated field of the form (already read by ``console.form``; Starlette keeps it)."""
    form = await request.form()
    return tuple(dict.fromkeys(v for v in form.getlist(name) if isinstance(v, str) and v))


async def _choices(ec2: Ec2Wire, request: Request, session: Session) -> dict[str, Any]:
    """What the forms offer, as EC2 lists it to the user; a list EC2 refuses is offered empty
    (the call itself decides: EC2 refuses what is not the caller's)."""
    origin, principal = request.scope, session.principal
    services: list[ServiceRow] = []
    vpcs: list[VpcRow] = []
    tables: list[RouteTableRow] = []
    subnets: list[SubnetRow] = []
    groups: list[SecurityGroupRow] = []
    with suppress(WireError):
        services = await endpoints.describe_vpc_endpoint_services(ec2, origin, principal)
    with suppress(WireError):
        vpcs = await ec2.describe_vpcs(origin, principal)
    with suppress(WireError):
        tables = await routing.describe_route_tables(ec2, origin, principal)
    with suppress(WireError):
        subnets = await ec2.describe_subnets(origin, principal)
    with suppress(WireError):
        groups = await ec2.describe_security_groups(origin, principal)
    return {
        "services": services,
        "vpcs": vpcs,
        "route_tables": tables,
        "subnets": subnets,
        "security_groups": groups,
    }


async def _endpoints_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Mapping[str, Mapping[str, str]] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    """The account's endpoints and the create form (as sent, after a refusal)."""
    _ = console.catalogue(request).gettext
    rows: list[VpcEndpointRow] = []
    choices: dict[str, Any] = {}
    chosen: dict[str, tuple[str, ...]] = {}
    if console.ec2 is None:
        error, status = no_ec2(console, request)
    else:
        try:
            rows = await endpoints.describe_vpc_endpoints(
                console.ec2, request.scope, session.principal
            )
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        choices = await _choices(console.ec2, request, session)
        if typed and "create" in typed:
            names = ("route_table_id", "subnet_id", "security_group_id")
            chosen = {name: await _chosen(request, name) for name in names}
    return console.render(
        request,
        "ec2_vpc_endpoints.html",
        session=session,
        status=status,
        title=_("VPC endpoints"),
        vpc_endpoints=rows,
        client_token=client_token(),
        typed=(typed or {}).get("create", {}),
        chosen=chosen,
        error=error,
        **choices,
    )


async def _endpoint_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Mapping[str, Mapping[str, str]] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    """One endpoint, and the form that changes it (as sent, after a refusal)."""
    _ = console.catalogue(request).gettext
    endpoint_id = request.path_params["endpoint_id"]
    endpoint: VpcEndpointRow | None = None
    choices: dict[str, Any] = {}
    chosen: dict[str, tuple[str, ...]] = {}
    if console.ec2 is None:
        error, status = no_ec2(console, request)
    else:
        try:
            endpoint = await endpoints.describe_vpc_endpoint(
                console.ec2, request.scope, session.principal, endpoint_id
            )
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        if endpoint is None and error is None:
            error, status = _("No such VPC endpoint."), 404
        if endpoint is not None:
            choices = await _choices(console.ec2, request, session)
        if typed and "modify" in typed:
            names = ("route_table_id", "subnet_id", "security_group_id")
            chosen = {name: await _chosen(request, name) for name in names}
        elif endpoint is not None:
            chosen = {
                "route_table_id": endpoint.route_table_ids,
                "subnet_id": endpoint.subnet_ids,
                "security_group_id": endpoint.group_ids,
            }
    return console.render(
        request,
        "ec2_vpc_endpoint.html",
        session=session,
        status=status,
        title=f"{_('VPC endpoint')} {endpoint_id}",
        endpoint=endpoint,
        policy_pretty=_pretty(endpoint.policy_document) if endpoint is not None else "",
        typed=(typed or {}).get("modify", {}),
        chosen=chosen,
        error=error,
        **choices,
    )


def _pretty(document: str) -> str:
    try:
        return json.dumps(json.loads(document), indent=2)
    except ValueError:
        return document


def _same_policy(typed: str, held: str) -> bool:
    try:
        return bool(json.loads(typed) == json.loads(held))
    except ValueError:
        return typed.strip() == held.strip()


async def _create(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
    new = NewEndpoint(
        endpoint_type=field(f, "endpoint_type"),
        vpc_id=field(f, "vpc_id"),
        service_name=field(f, "service_name"),
        route_table_ids=await _chosen(request, "route_table_id"),
        subnet_ids=await _chosen(request, "subnet_id"),
        group_ids=await _chosen(request, "security_group_id"),
        private_dns_enabled=f.get("private_dns") == "yes",
        policy_document=field(f, "policy"),
        name=field(f, "name"),
        client_token=field(f, "client_token"),
    )
    await endpoints.create_vpc_endpoint(ec2, request.scope, who, new)
    return _ENDPOINTS_URL


def _difference(
    held: tuple[str, ...], chosen: tuple[str, ...]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(added, removed): what is chosen and not held, what is held and not chosen."""
    return (
        tuple(i for i in chosen if i not in held),
        tuple(i for i in held if i not in chosen),
    )


async def _modify(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
    endpoint_id = request.path_params["endpoint_id"]
    held = await endpoints.describe_vpc_endpoint(ec2, request.scope, who, endpoint_id)
    if held is None:
        raise WireError("InvalidVpcEndpointId.NotFound", endpoint_id, 400)
    policy = f.get("policy", "")
    interface = held.endpoint_type == "Interface"
    tables = _difference(held.route_table_ids, await _chosen(request, "route_table_id"))
    subnets = _difference(held.subnet_ids, await _chosen(request, "subnet_id"))
    groups = _difference(held.group_ids, await _chosen(request, "security_group_id"))
    change = EndpointChange(
        add_route_table_ids=() if interface else tables[0],
        remove_route_table_ids=() if interface else tables[1],
        add_subnet_ids=subnets[0] if interface else (),
        remove_subnet_ids=subnets[1] if interface else (),
        add_group_ids=groups[0] if interface else (),
        remove_group_ids=groups[1] if interface else (),
        policy_document=None if _same_policy(policy, held.policy_document) else policy.strip(),
        reset_policy=not policy.strip(),
        private_dns_enabled=(f.get("private_dns") == "yes") if interface else None,
    )
    await endpoints.modify_vpc_endpoint(ec2, request.scope, who, endpoint_id, change)
    return _endpoint_url(endpoint_id)


async def _delete(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
    await endpoints.delete_vpc_endpoint(ec2, request.scope, who, request.path_params["endpoint_id"])
    return _ENDPOINTS_URL


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/vpc-endpoints", signed_in(_endpoints_page), ["GET"]),
    ("/vpc-endpoints",
     action(_endpoints_page, _create, form="create", max_fields=_MAX_FIELDS), ["POST"]),
    ("/vpc-endpoints/{endpoint_id}", signed_in(_endpoint_page), ["GET"]),
    ("/vpc-endpoints/{endpoint_id}/modify",
     action(_endpoint_page, _modify, form="modify", max_fields=_MAX_FIELDS), ["POST"]),
    ("/vpc-endpoints/{endpoint_id}/delete",
     action(_endpoints_page, _delete, confirmed=True), ["POST"]),
]  # fmt: skip
