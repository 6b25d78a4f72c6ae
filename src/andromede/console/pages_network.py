"""Security groups (their inbound and outbound rules), images, and VPCs with their subnets:
list, create, change and delete each. Every read and change is EC2's own call, made as the
signed-in principal (``wire_ec2.Ec2Wire``), so EC2's policies, states and errors decide, and
EC2 audits the changes as it audits boto3's. A refused change shows the page again with EC2's
error and status, and what was typed in the form that was sent.

A button a row does not offer (deleting a ``default`` group, deregistering a public image) is
only an aid to the reader: EC2 refuses those calls whoever sends them. The default VPC and its
default subnet are deleted like any other (decision 0137: EC2 answers DependencyViolation while
they hold something), each deletion once its box is ticked; a tenant without a default VPC is
told so, and offered CreateDefaultVpc; one whose default VPC lacks a default subnet in a zone
is offered CreateDefaultSubnet there."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from andromede.console import wire_ec2_more as more
from andromede.console.handlers import first_refusal, signed_in
from andromede.console.pages_ec2 import Change, action, field, no_ec2
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_ec2 import (
    Choice,
    Ec2Wire,
    ImageRow,
    InstanceRow,
    RuleChange,
    RuleRow,
    SecurityGroupRow,
    SubnetRow,
    VpcRow,
)
from andromede.iam.model import Principal

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES"]

_GROUPS_URL: Final = f"{CONSOLE_PATH}/security-groups"
_IMAGES_URL: Final = f"{CONSOLE_PATH}/images"
_VPCS_URL: Final = f"{CONSOLE_PATH}/vpcs"
# A rule's direction in the page's paths → EC2's actions that add and remove one.
_DIRECTIONS: Final[dict[str, tuple[RuleChange, RuleChange]]] = {
    "inbound": ("AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress"),
    "outbound": ("AuthorizeSecurityGroupEgress", "RevokeSecurityGroupEgress"),
}


def _group_url(group_id: str) -> str:
    return f"{_GROUPS_URL}/{quote(group_id, safe='')}"


# -- security groups -------------------------------------------------------------------------


async def _groups_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Mapping[str, Mapping[str, str]] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    groups: list[SecurityGroupRow] = []
    vpcs: list[VpcRow] = []
    if console.ec2 is None:
        error, status = no_ec2(console, request)
    else:
        origin, principal = request.scope, session.principal
        try:
            groups = await console.ec2.describe_security_groups(origin, principal)
            vpcs = await console.ec2.describe_vpcs(origin, principal)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
    return console.render(
        request,
        "security_groups.html",
        session=session,
        status=status,
        title=_("Security groups"),
        groups=groups,
        vpcs=vpcs,
        typed=(typed or {}).get("create", {}),
        error=error,
    )


async def _group_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Mapping[str, Mapping[str, str]] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    """A group's rules, and the forms that add one; another account's group is EC2's
    InvalidGroup.NotFound, as a group that does not exist."""
    _ = console.catalogue(request).gettext
    group_id = request.path_params["group_id"]
    group: SecurityGroupRow | None = None
    peers: list[SecurityGroupRow] = []
    if console.ec2 is None:
        error, status = no_ec2(console, request)
    else:
        origin, principal = request.scope, session.principal
        try:
            group = await console.ec2.describe_security_group(origin, principal, group_id)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        if group is None and error is None:
            error, status = _("No such security group."), 404
        if group is not None:
            # The rules' ids, where the caller may read them (a policy may allow the groups
            # and not their rules): the page works without them.
            with suppress(WireError):
                group = await console.ec2.with_rule_ids(origin, principal, group)
            # Only suggestions for the peer field, which takes any id or CIDR typed: the
            # rule's own call decides.
            with suppress(WireError):
                peers = await console.ec2.describe_security_groups(
                    origin, principal, vpc_id=group.vpc_id
                )
    return console.render(
        request,
        "security_groups_detail.html",
        session=session,
        status=status,
        title=group.name if group is not None else group_id,
        group=group,
        peers=peers,
        # The rule form's protocols, as EC2 names them ("-1": all traffic, any port).
        protocols={"tcp": "TCP", "udp": "UDP", "icmp": "ICMP", "-1": _("All traffic")},
        typed=typed or {},
        error=error,
    )


async def _create_group(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
    group_id = await ec2.create_security_group(
        request.scope, who,
        name=field(f, "name"), description=field(f, "description"), vpc_id=field(f, "vpc_id"),
    )  # fmt: skip
    # To its page, where its rules are added (the list, should EC2 have named none).
    return _group_url(group_id) if group_id else _GROUPS_URL


async def _delete_group(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
    await ec2.delete_security_group(request.scope, who, request.path_params["group_id"])
    return _GROUPS_URL


def _rule_change(direction: str, *, add: bool) -> Change:
    """The form's rule added to, or removed from, the group's rules of ``direction``."""
    authorise, revoke = _DIRECTIONS[direction]

    async def change(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
        group_id = request.path_params["group_id"]
        rule = RuleRow(
            protocol=field(f, "protocol"),
            from_port=field(f, "from_port"),
            to_port=field(f, "to_port"),
            peer=field(f, "peer"),
            description=field(f, "description") if add else "",
        )
        await ec2.change_rule(request.scope, who, authorise if add else revoke, group_id, rule)
        return _group_url(group_id)

    return change


# -- images ----------------------------------------------------------------------------------


async def _images_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Mapping[str, Mapping[str, str]] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    images: list[ImageRow] = []
    snapshots: list[Choice] = []
    instances: list[InstanceRow] = []
    if console.ec2 is None:
        error, status = no_ec2(console, request)
    else:
        origin, principal = request.scope, session.principal
        try:
            images = await console.ec2.describe_images(origin, principal)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        # Only suggestions for the snapshot and instance fields: RegisterImage's and
        # CreateImage's own answers decide.
        with suppress(WireError):
            snapshots = await console.ec2.snapshots(origin, principal)
        with suppress(WireError):
            instances = await console.ec2.live_instances(origin, principal)
    return console.render(
        request,
        "images.html",
        session=session,
        status=status,
        title=_("Images"),
        images=images,
        snapshots=snapshots,
        instances=instances,
        account=session.principal.tenant_id,
        typed=(typed or {}).get("register", {}),
        typed_create=(typed or {}).get("create", {}),
        error=error,
    )


async def _register_image(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
    await ec2.register_image(
        request.scope, who,
        name=field(f, "name"), description=field(f, "description"),
        snapshot_id=field(f, "snapshot_id"), root_device=field(f, "root_device"),
    )  # fmt: skip
    return _IMAGES_URL


async def _create_image(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
    await more.create_image(
        ec2, request.scope, who,
        instance_id=field(f, "instance_id"), name=field(f, "name"),
        description=field(f, "description"), no_reboot=f.get("no_reboot") == "yes",
    )  # fmt: skip
    return _IMAGES_URL


async def _deregister_image(
    ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]
) -> str:
    await ec2.deregister_image(request.scope, who, request.path_params["image_id"])
    return _IMAGES_URL


# -- VPCs and subnets ------------------------------------------------------------------------


async def _vpcs_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Mapping[str, Mapping[str, str]] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    vpcs: list[VpcRow] = []
    subnets: list[SubnetRow] = []
    zones: list[str] = []
    # Whether DescribeVpcs answered: a refused listing says nothing of the default VPC.
    listed = False
    if console.ec2 is None:
        error, status = no_ec2(console, request)
    else:
        origin, principal = request.scope, session.principal
        try:
            vpcs = await console.ec2.describe_vpcs(origin, principal)
            listed = True
            subnets = await console.ec2.describe_subnets(origin, principal)
            zones = await console.ec2.availability_zones(origin, principal)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
    return console.render(
        request,
        "vpcs.html",
        session=session,
        status=status,
        title=_("VPCs and subnets"),
        vpcs=vpcs,
        subnets=subnets,
        zones=zones,
        no_default_vpc=listed and not any(vpc.is_default for vpc in vpcs),
        zones_without_default_subnet=_zones_without_default_subnet(vpcs, subnets, zones),
        typed=typed or {},
        error=error,
    )


def _zones_without_default_subnet(
    vpcs: list[VpcRow], subnets: list[SubnetRow], zones: list[str]
) -> list[str]:
    """The zones where CreateDefaultSubnet would make one: those of a default VPC holding no
    default subnet. None without a default VPC (CreateDefaultVpc is offered instead) or when
    a listing failed (``zones`` comes last: empty then), which says nothing of them."""
    default = next((vpc.vpc_id for vpc in vpcs if vpc.is_default), None)
    if default is None:
        return []
    held = {s.zone for s in subnets if s.is_default and s.vpc_id == default}
    return [zone for zone in zones if zone not in held]


async def _create_vpc(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
    await ec2.create_vpc(request.scope, who, field(f, "cidr"), field(f, "name"))
    return _VPCS_URL


async def _create_default_vpc(
    ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]
) -> str:
    await ec2.create_default_vpc(request.scope, who)
    return _VPCS_URL


async def _create_default_subnet(
    ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]
) -> str:
    await ec2.create_default_subnet(request.scope, who, field(f, "zone"))
    return _VPCS_URL


async def _delete_vpc(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
    await ec2.delete_vpc(request.scope, who, request.path_params["vpc_id"])
    return _VPCS_URL


async def _create_subnet(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
    await ec2.create_subnet(
        request.scope, who,
        vpc_id=field(f, "vpc_id"), cidr=field(f, "cidr"),
        zone=field(f, "zone"), name=field(f, "name"),
    )  # fmt: skip
    return _VPCS_URL


async def _delete_subnet(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
    await ec2.delete_subnet(request.scope, who, request.path_params["subnet_id"])
    return _VPCS_URL


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/security-groups", signed_in(_groups_page), ["GET"]),
    ("/security-groups", action(_groups_page, _create_group, form="create"), ["POST"]),
    ("/security-groups/{group_id}", signed_in(_group_page), ["GET"]),
    ("/security-groups/{group_id}/delete", action(_groups_page, _delete_group), ["POST"]),
    ("/security-groups/{group_id}/inbound/add",
     action(_group_page, _rule_change("inbound", add=True), form="inbound"), ["POST"]),
    ("/security-groups/{group_id}/inbound/remove",
     action(_group_page, _rule_change("inbound", add=False)), ["POST"]),
    ("/security-groups/{group_id}/outbound/add",
     action(_group_page, _rule_change("outbound", add=True), form="outbound"), ["POST"]),
    ("/security-groups/{group_id}/outbound/remove",
     action(_group_page, _rule_change("outbound", add=False)), ["POST"]),
    ("/images", signed_in(_images_page), ["GET"]),
    ("/images", action(_images_page, _register_image, form="register"), ["POST"]),
    ("/images/create", action(_images_page, _create_image, form="create"), ["POST"]),
    ("/images/{image_id}/deregister", action(_images_page, _deregister_image), ["POST"]),
    ("/vpcs", signed_in(_vpcs_page), ["GET"]),
    ("/vpcs", action(_vpcs_page, _create_vpc, form="vpc"), ["POST"]),
    ("/vpcs/create-default", action(_vpcs_page, _create_default_vpc), ["POST"]),
    ("/vpcs/{vpc_id}/delete", action(_vpcs_page, _delete_vpc, confirmed=True), ["POST"]),
    ("/subnets", action(_vpcs_page, _create_subnet, form="subnet"), ["POST"]),
    ("/subnets/create-default", action(_vpcs_page, _create_default_subnet), ["POST"]),
    ("/subnets/{subnet_id}/delete",
     action(_vpcs_page, _delete_subnet, confirmed=True), ["POST"]),
]  # fmt: skip
