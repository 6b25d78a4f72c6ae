"""Network and Application Load Balancers and their target groups (decisions 0191 and 0216
served, 0111 shown): list the account's load balancers (name, type, DNS name, state, scheme,
VPC, subnets) and create an internal one of either type in subnets of one VPC, with tags and
security groups (an ALB made without is in its VPC's default one); a load balancer's page
lists its listeners, creates one, deletes one, shows its deletion protection and deletes it
after a ticked box, shows its access logs and turns them on into a bucket of the account
with a prefix, or off (``access_logs.s3.*``, an ALB's ``connection_logs.s3.*`` too: decision
0287; an NLB logs its TLS listeners: decisions 0264,
0269 and 0279). An NLB's listener is TCP, UDP, TCP_UDP or TLS forwarding to a target
group; an ALB's is HTTP or HTTPS with a default action — forward, fixed response or redirect
(``elb_forms``) — and links to its rules' page (``pages_listener_rules``). A TLS or HTTPS
listener (decision 0210, session 52 here) is made with its certificate chosen among the
account's ACM certificates (0239: ListCertificates as the user) and IAM server certificates
(ListServerCertificates), its security policy among those DescribeSSLPolicies lists and an
ALPN policy; its further (SNI) certificates are listed, added and removed. Target groups:
list, create (TCP, UDP, TCP_UDP, TLS or HTTP and a port, VPC, target type, health check
protocol, path, codes, interval and thresholds), delete after a ticked box; a target group's
page lists its targets with DescribeTargetHealth's state and reason, registers an instance
of its VPC on a port, and deregisters one.

Every read and change is ELBv2's own call, made as the signed-in principal (``wire_elb``),
so ELBv2's policies, checks and errors decide — subnets of two VPCs, a duplicate name, a port
in use, deletion protection, an instance of another VPC — in its code and words, and ELBv2
audits the changes as it audits boto3's. A refused change shows the page again with the error
and the form as it was sent. Pages are addressed by name, unique per account as on AWS.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from andromede.console.elb_forms import (
    ACTION_KINDS,
    ALB_LISTENER_GROUPS,
    ALB_PROTOCOLS,
    CONTENT_TYPES,
    REDIRECT_CODES,
    action_choice,
)
from andromede.console.handlers import (
    Change,
    Form,
    Handler,
    Page,
    action,
    first_refusal,
    signed_in,
)
from andromede.console.pages_ec2 import field
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_ec2 import InstanceRow, SecurityGroupRow, SubnetRow
from andromede.console.wire_elb import (
    ACCESS_LOGS_BUCKET,
    ACCESS_LOGS_ENABLED,
    ACCESS_LOGS_PREFIX,
    CONNECTION_LOGS_BUCKET,
    CONNECTION_LOGS_ENABLED,
    CONNECTION_LOGS_PREFIX,
    DELETION_PROTECTION,
    ElbWire,
    TargetGroupRow,
    TlsChoice,
)
from andromede.console.wire_elb_trust_stores import (
    MUTUAL_MODES,
    TrustStoreRow,
    set_mutual_authentication,
    trust_stores,
)
from andromede.console.wire_server_certificates import list_certificates
from andromede.loadbalancing.tls import ALPN_POLICIES

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["LBS_URL", "ROUTES", "elb_action", "lb_arn", "no_elb"]

# An NLB's listener and target group protocols here (decision 0191's session 50), the
# groups each listener protocol forwards to, and the health checks of every one of these
# group protocols — as ELBv2 allows them ("The GENEVE, TLS, UDP, and TCP_UDP protocols are
# not supported for health checks"): ELBv2 decides, the forms only offer and say so.
PROTOCOLS: Final = ("TCP", "UDP", "TCP_UDP", "TLS")
LISTENER_GROUPS: Final = {"TCP": ("TCP", "TCP_UDP"), "UDP": ("UDP", "TCP_UDP"),
                          "TCP_UDP": ("TCP_UDP",), "TLS": ("TCP", "TLS")}  # fmt: skip
HEALTH_CHECKS: Final = ("TCP", "HTTP", "HTTPS")
# The target groups' protocols: an NLB's, and an ALB's HTTP (decision 0216).
GROUP_PROTOCOLS: Final = (*PROTOCOLS, "HTTP", "HTTPS")  # HTTPS: decision 0231
LB_TYPES: Final = ("network", "application")
LBS_URL: Final = f"{CONSOLE_PATH}/load-balancers"
_TGS_URL: Final = f"{CONSOLE_PATH}/target-groups"
_MAX_TAGS: Final = 3  # tag rows on the create form
_INSTANCES_SHOWN: Final = 1000  # DescribeInstances' largest page, for the register form
_CERTIFICATES_SHOWN: Final = 1000  # ListServerCertificates' largest page, for the TLS forms


def no_elb(console: Console, request: Request) -> tuple[str, int]:
    _ = console.catalogue(request).gettext
    return _("This server serves no Elastic Load Balancing."), 404


def _elb(console: Console) -> ElbWire | None:
    return console.elb


def elb_action(
    page: Page,
    change: Change[ElbWire],
    *,
    form: str | Callable[[Form], str] = "",
    confirmed: bool = False,
) -> Handler:
    """A POST of ``page``'s: ELBv2's call (``handlers.action``); its forms hold tag rows."""
    return action(page, change, wire=_elb, form=form, max_fields=24, confirmed=confirmed)


async def _subnets(console: Console, request: Request, session: Session) -> list[SubnetRow]:
    """The account's subnets, a form's choices only: ELBv2 decides what it accepts."""
    if console.ec2 is None:
        return []
    with suppress(WireError):
        return await console.ec2.describe_subnets(request.scope, session.principal)
    return []


async def _load_balancers_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Mapping[str, Mapping[str, str]] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    rows = []
    security_groups: list[SecurityGroupRow] = []
    if console.elb is None:
        error, status = no_elb(console, request)
    else:
        try:
            rows = await console.elb.load_balancers(request.scope, session.principal)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        if console.ec2 is not None:
            with suppress(WireError):  # the create form's choices only
                security_groups = await console.ec2.describe_security_groups(
                    request.scope, session.principal
                )
    return console.render(
        request,
        "elb_load_balancers.html",
        session=session,
        status=status,
        title=_("Load balancers"),
        load_balancers=rows,
        subnets=await _subnets(console, request, session),
        security_groups=security_groups,
        lb_types=LB_TYPES,
        tag_rows=range(1, _MAX_TAGS + 1),
        typed=(typed or {}).get("create", {}),
        error=error,
    )


def _ticked(f: Mapping[str, str], prefix: str) -> list[str]:
    """The ticked boxes: the form's ``<prefix><id>`` fields, in the form's order."""
    return [k.removeprefix(prefix) for k, v in f.items() if k.startswith(prefix) and v]


async def _create_lb(elb: ElbWire, request: Request, session: Session, f: dict[str, str]) -> str:
    tags = [
        (field(f, f"tag_key_{n}"), field(f, f"tag_value_{n}"))
        for n in range(1, _MAX_TAGS + 1)
        if field(f, f"tag_key_{n}")
    ]
    await elb.create_load_balancer(
        request.scope, session.principal, field(f, "name"), _ticked(f, "subnet_"), tags,
        security_groups=_ticked(f, "sg_"), lb_type=field(f, "type") or "network",
    )  # fmt: skip
    return f"{LBS_URL}/{quote(field(f, 'name'), safe='')}"


async def _load_balancer_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Mapping[str, Mapping[str, str]] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    name = request.path_params["name"]
    lb, listeners, groups, protected, tags, security_groups = None, [], [], "", [], []
    certificates: list[tuple[str, str]] = []
    ssl_policies: list[str] = []
    sni: dict[str, list[tuple[str, bool]]] = {}
    sni_errors: dict[str, str] = {}
    stores: list[TrustStoreRow] = []
    attributes: dict[str, str] = {}
    buckets: list[str] = []
    if console.elb is None:
        error, status = no_elb(console, request)
    else:
        origin, who = request.scope, session.principal
        try:
            [lb] = await console.elb.load_balancers(origin, who, [name])
            listeners = await console.elb.listeners(origin, who, lb.arn)
            attributes = await console.elb.load_balancer_attributes(origin, who, lb.arn)
            protected = attributes.get(DELETION_PROTECTION, "")
            tags = await console.elb.tags(origin, who, lb.arn)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        with suppress(WireError):  # the listener form's choices only
            groups = await console.elb.target_groups(origin, who)
        certificates = await _certificate_choices(console, request, session)
        with suppress(WireError):  # the TLS listener form's choices only: ELBv2 decides
            ssl_policies = await console.elb.ssl_policies(origin, who)
        if any(listener.protocol == "HTTPS" for listener in listeners):
            with suppress(WireError):  # the mutual authentication form's choices only
                stores = await trust_stores(console.elb, origin, who)
        for listener in listeners:
            if listener.protocol in ("TLS", "HTTPS"):
                try:
                    sni[listener.arn] = await console.elb.listener_certificates(
                        origin, who, listener.arn
                    )
                except WireError as exc:  # that listener's row says so
                    sni_errors[listener.arn] = console.error_text(request, exc)
        with suppress(WireError):  # the access logs form's choices only: ELBv2 decides
            buckets = [b.name for b in await console.s3.list_buckets(origin, who)]
        if lb is not None and console.ec2 is not None:
            with suppress(WireError):  # the security groups form's choices only
                security_groups = await console.ec2.describe_security_groups(
                    origin, who, vpc_id=lb.vpc_id
                )
    application = lb is not None and lb.lb_type == "application"
    return console.render(
        request,
        "elb_load_balancer.html",
        session=session,
        status=status,
        title=_("Load balancer") + f" {name}",
        name=name,
        lb=lb,
        listeners=listeners,
        target_groups=[g for g in groups if lb is None or g.vpc_id == lb.vpc_id],
        protected=protected == "true",
        tags=tags,
        security_groups=security_groups,
        typed=(typed or {}).get("listener", {}),
        all_typed=typed or {},
        application=application,
        protocols=ALB_PROTOCOLS if application else PROTOCOLS,
        listener_groups=ALB_LISTENER_GROUPS if application else LISTENER_GROUPS,
        action_kinds=ACTION_KINDS,
        content_types=CONTENT_TYPES,
        redirect_codes=REDIRECT_CODES,
        certificates=certificates,
        certificate_names=dict(certificates),
        ssl_policies=ssl_policies,
        alpn_policies=tuple(ALPN_POLICIES),
        sni=sni,
        sni_errors=sni_errors,
        trust_stores=stores,
        trust_store_names={store.arn: store.name for store in stores},
        mutual_modes=MUTUAL_MODES,
        access_logs=(
            attributes.get(ACCESS_LOGS_ENABLED) == "true",
            attributes.get(ACCESS_LOGS_BUCKET, ""),
            attributes.get(ACCESS_LOGS_PREFIX, ""),
        ),
        connection_logs=(  # decision 0287: an ALB's
            attributes.get(CONNECTION_LOGS_ENABLED) == "true",
            attributes.get(CONNECTION_LOGS_BUCKET, ""),
            attributes.get(CONNECTION_LOGS_PREFIX, ""),
        ),
        buckets=buckets,
        error=error,
    )


async def _certificate_choices(
    console: Console, request: Request, session: Session
) -> list[tuple[str, str]]:
    """The account's ACM certificates (issued ones, as ``domain (ACM)``) and IAM server
    certificates (by name) as (ARN, label), as each service lists them to the user
    (none of a service that is not served or refuses): the TLS forms' choices only (ELBv2
    checks the certificate is the account's)."""
    choices: list[tuple[str, str]] = []
    if console.acm is not None:
        with suppress(WireError):
            rows, _more = await console.acm.certificates(
                request.scope, session.principal, token=None, limit=_CERTIFICATES_SHOWN
            )
            choices += [(r.arn, f"{r.domain} (ACM)") for r in rows if r.status == "ISSUED"]
    if console.iam is not None:
        with suppress(WireError):
            found = await list_certificates(
                console.iam, request.scope, session.principal,
                marker=None, page_size=_CERTIFICATES_SHOWN,
            )  # fmt: skip
            choices += [(row.arn, row.name) for row in found.rows]
    return choices


async def lb_arn(elb: ElbWire, request: Request, session: Session) -> str:
    [lb] = await elb.load_balancers(request.scope, session.principal, [request.path_params["name"]])
    return lb.arn


def _lb_url(request: Request) -> str:
    return f"{LBS_URL}/{quote(request.path_params['name'], safe='')}"


async def _create_listener(
    elb: ElbWire, request: Request, session: Session, f: dict[str, str]
) -> str:
    arn = await lb_arn(elb, request, session)
    protocol = field(f, "protocol") or "TCP"
    tls = None
    if protocol in ("TLS", "HTTPS"):
        tls = TlsChoice(field(f, "certificate_arn"), field(f, "ssl_policy"), field(f, "alpn"))
    await elb.create_listener(
        request.scope, session.principal, arn, field(f, "port"), action_choice(f), protocol, tls,
    )  # fmt: skip
    return _lb_url(request)


async def _add_certificate(
    elb: ElbWire, request: Request, session: Session, f: dict[str, str]
) -> str:
    """AddListenerCertificates: one more (SNI) certificate on a TLS listener."""
    await elb.change_listener_certificate(
        request.scope, session.principal, "AddListenerCertificates",
        field(f, "listener_arn"), field(f, "certificate_arn"),
    )  # fmt: skip
    return _lb_url(request)


async def _remove_certificate(
    elb: ElbWire, request: Request, session: Session, f: dict[str, str]
) -> str:
    await elb.change_listener_certificate(
        request.scope, session.principal, "RemoveListenerCertificates",
        field(f, "listener_arn"), field(f, "certificate_arn"),
    )  # fmt: skip
    return _lb_url(request)


async def _delete_listener(
    elb: ElbWire, request: Request, session: Session, f: dict[str, str]
) -> str:
    await elb.delete_listener(request.scope, session.principal, field(f, "listener_arn"))
    return _lb_url(request)


def _mutual_form(f: Mapping[str, str]) -> str:
    """A listener's own mutual authentication form (one an HTTPS listener)."""
    return f"mutual-{f.get('listener_arn', '')}"


async def _set_mutual_authentication(
    elb: ElbWire, request: Request, session: Session, f: dict[str, str]
) -> str:
    """ModifyListener's MutualAuthentication (decision 0263): off, passthrough, or verify
    with a trust store of the account's."""
    await set_mutual_authentication(
        elb, request.scope, session.principal, field(f, "listener_arn"), field(f, "mode"),
        field(f, "trust_store_arn"),
    )  # fmt: skip
    return _lb_url(request)


async def _set_access_logs(
    elb: ElbWire, request: Request, session: Session, f: dict[str, str]
) -> str:
    """ModifyLoadBalancerAttributes' ``access_logs.s3.*`` (decisions 0264 and 0269): on with
    the bucket and prefix chosen — ELBv2 checks the bucket's policy lets it write —, or off
    (the bucket and prefix kept, as ELBv2 keeps them)."""
    keys = (ACCESS_LOGS_ENABLED, ACCESS_LOGS_BUCKET, ACCESS_LOGS_PREFIX)
    await _set_log_destination(elb, request, session, f, keys)
    return _lb_url(request) + "#access-logs"


async def _set_connection_logs(
    elb: ElbWire, request: Request, session: Session, f: dict[str, str]
) -> str:
    """An ALB's ``connection_logs.s3.*`` (decision 0287), as its access logs'."""
    keys = (CONNECTION_LOGS_ENABLED, CONNECTION_LOGS_BUCKET, CONNECTION_LOGS_PREFIX)
    await _set_log_destination(elb, request, session, f, keys)
    return _lb_url(request) + "#connection-logs"


async def _set_log_destination(
    elb: ElbWire,
    request: Request,
    session: Session,
    f: dict[str, str],
    keys: tuple[str, str, str],
) -> None:
    arn = await lb_arn(elb, request, session)
    enabled, bucket, prefix = keys
    changed = {enabled: "false"}
    if field(f, "enabled") == "yes":
        changed = {enabled: "true", bucket: field(f, "bucket"), prefix: field(f, "prefix")}
    await elb.modify_attributes(request.scope, session.principal, arn, changed)


async def _set_security_groups(
    elb: ElbWire, request: Request, session: Session, f: dict[str, str]
) -> str:
    """SetSecurityGroups with the ticked groups (the form's ``sg_<id>`` boxes)."""
    arn = await lb_arn(elb, request, session)
    await elb.set_security_groups(request.scope, session.principal, arn, _ticked(f, "sg_"))
    return _lb_url(request)


async def _delete_lb(elb: ElbWire, request: Request, session: Session, f: dict[str, str]) -> str:
    arn = await lb_arn(elb, request, session)
    await elb.delete_load_balancer(request.scope, session.principal, arn)
    return LBS_URL


async def _target_groups_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Mapping[str, Mapping[str, str]] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    rows: list[TargetGroupRow] = []
    vpcs = []
    if console.elb is None:
        error, status = no_elb(console, request)
    else:
        try:
            rows = await console.elb.target_groups(request.scope, session.principal)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        if console.ec2 is not None:
            with suppress(WireError):  # the create form's choices only
                vpcs = await console.ec2.describe_vpcs(request.scope, session.principal)
    return console.render(
        request,
        "elb_target_groups.html",
        session=session,
        status=status,
        title=_("Target groups"),
        target_groups=rows,
        vpcs=vpcs,
        protocols=GROUP_PROTOCOLS,
        health_checks=HEALTH_CHECKS,
        typed=(typed or {}).get("create", {}),
        error=error,
    )


_GROUP_FIELDS: Final = {
    "name": "Name",
    "protocol": "Protocol",
    "port": "Port",
    "vpc_id": "VpcId",
    "target_type": "TargetType",
    "interval": "HealthCheckIntervalSeconds",
    "healthy_threshold": "HealthyThresholdCount",
    "unhealthy_threshold": "UnhealthyThresholdCount",
    "check_protocol": "HealthCheckProtocol",
    "check_path": "HealthCheckPath",
    "matcher": "Matcher.HttpCode",
}


async def _create_tg(elb: ElbWire, request: Request, session: Session, f: dict[str, str]) -> str:
    params = {wire: field(f, name) for name, wire in _GROUP_FIELDS.items()}
    await elb.create_target_group(request.scope, session.principal, params)
    return f"{_TGS_URL}/{quote(field(f, 'name'), safe='')}"


async def _group_arn(elb: ElbWire, request: Request, session: Session) -> str:
    [group] = await elb.target_groups(
        request.scope, session.principal, [request.path_params["name"]]
    )
    return group.arn


async def _delete_tg(elb: ElbWire, request: Request, session: Session, f: dict[str, str]) -> str:
    arn = await _group_arn(elb, request, session)
    await elb.delete_target_group(request.scope, session.principal, arn)
    return _TGS_URL


async def _vpc_instances(
    console: Console, request: Request, session: Session, vpc_id: str
) -> list[InstanceRow]:
    """The account's instances in ``vpc_id``'s subnets: the register form's choices only."""
    if console.ec2 is None:
        return []
    with suppress(WireError):
        subnets = {s.subnet_id for s in await _subnets(console, request, session)
                   if s.vpc_id == vpc_id}  # fmt: skip
        found = await console.ec2.describe_instances(
            request.scope, session.principal, token=None, page_size=_INSTANCES_SHOWN
        )
        return [i for i in found.instances if i.subnet_id in subnets]
    return []


async def _target_group_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Mapping[str, Mapping[str, str]] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    name = request.path_params["name"]
    group, targets, instances = None, [], []
    if console.elb is None:
        error, status = no_elb(console, request)
    else:
        try:
            [group] = await console.elb.target_groups(request.scope, session.principal, [name])
            targets = await console.elb.target_health(request.scope, session.principal, group.arn)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        if group is not None and group.target_type == "instance":
            instances = await _vpc_instances(console, request, session, group.vpc_id)
    return console.render(
        request,
        "elb_target_group.html",
        session=session,
        status=status,
        title=_("Target group") + f" {name}",
        name=name,
        group=group,
        targets=targets,
        instances=instances,
        typed=(typed or {}).get("register", {}),
        error=error,
    )


def _tg_url(request: Request) -> str:
    return f"{_TGS_URL}/{quote(request.path_params['name'], safe='')}"


async def _register(elb: ElbWire, request: Request, session: Session, f: dict[str, str]) -> str:
    arn = await _group_arn(elb, request, session)
    await elb.change_targets(
        request.scope, session.principal, "RegisterTargets", arn,
        field(f, "target_id"), field(f, "port"),
    )  # fmt: skip
    return _tg_url(request)


async def _deregister(elb: ElbWire, request: Request, session: Session, f: dict[str, str]) -> str:
    arn = await _group_arn(elb, request, session)
    await elb.change_targets(
        request.scope, session.principal, "DeregisterTargets", arn,
        field(f, "target_id"), field(f, "port"),
    )  # fmt: skip
    return _tg_url(request)


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/load-balancers", signed_in(_load_balancers_page), ["GET"]),
    ("/load-balancers", elb_action(_load_balancers_page, _create_lb, form="create"), ["POST"]),
    ("/load-balancers/{name}", signed_in(_load_balancer_page), ["GET"]),
    ("/load-balancers/{name}/listeners",
     elb_action(_load_balancer_page, _create_listener, form="listener"), ["POST"]),
    ("/load-balancers/{name}/listeners/delete",
     elb_action(_load_balancer_page, _delete_listener), ["POST"]),
    ("/load-balancers/{name}/listener-certificates",
     elb_action(_load_balancer_page, _add_certificate, form="certificate"), ["POST"]),
    ("/load-balancers/{name}/listener-certificates/remove",
     elb_action(_load_balancer_page, _remove_certificate), ["POST"]),
    ("/load-balancers/{name}/mutual-authentication",
     elb_action(_load_balancer_page, _set_mutual_authentication, form=_mutual_form), ["POST"]),
    ("/load-balancers/{name}/access-logs",
     elb_action(_load_balancer_page, _set_access_logs, form="access-logs"), ["POST"]),
    ("/load-balancers/{name}/connection-logs",
     elb_action(_load_balancer_page, _set_connection_logs, form="connection-logs"), ["POST"]),
    ("/load-balancers/{name}/security-groups",
     elb_action(_load_balancer_page, _set_security_groups), ["POST"]),
    ("/load-balancers/{name}/delete",
     elb_action(_load_balancer_page, _delete_lb, confirmed=True), ["POST"]),
    ("/target-groups", signed_in(_target_groups_page), ["GET"]),
    ("/target-groups", elb_action(_target_groups_page, _create_tg, form="create"), ["POST"]),
    ("/target-groups/{name}", signed_in(_target_group_page), ["GET"]),
    ("/target-groups/{name}/delete",
     elb_action(_target_group_page, _delete_tg, confirmed=True), ["POST"]),
    ("/target-groups/{name}/register",
     elb_action(_target_group_page, _register, form="register"), ["POST"]),
    ("/target-groups/{name}/deregister", elb_action(_target_group_page, _deregister), ["POST"]),
]  # fmt: skip
