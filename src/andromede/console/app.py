"""The console's ASGI app: a thin shell (request id, strict headers, a body bound, no
traceback ever) around Starlette routes that render Jinja2 templates (autoescaped).

Mounted by the composition root at ``/console/`` on the management API's listener. Every
answer carries a Content-Security-Policy that allows scripts, styles and images from the
console itself only (no inline script or style, no CDN), forbids framing, sends no referrer,
and is not sniffed; pages are not cached.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.staticfiles import StaticFiles

from andromede.audit.access_service import OperatorAccessService
from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.audit.trail import AuditTrail
from andromede.billing.service import BillingService
from andromede.console import (
    pages_account,
    pages_addresses,
    pages_alarms,
    pages_autoscaling,
    pages_billing_profile,
    pages_bucket_settings,
    pages_certificates,
    pages_code_signing,
    pages_compute,
    pages_connections,
    pages_dashboard_edit,
    pages_dashboards,
    pages_dynamodb,
    pages_event_archives,
    pages_event_endpoints,
    pages_events,
    pages_firehose,
    pages_flow_logs,
    pages_iam,
    pages_iam_oidc,
    pages_image_sharing,
    pages_insight_rules,
    pages_invoices,
    pages_keys,
    pages_kinesis,
    pages_lambda,
    pages_lambda_function,
    pages_lambda_layers,
    pages_lambda_triggers,
    pages_lambda_urls,
    pages_listener_rules,
    pages_load_balancers,
    pages_log_exports,
    pages_log_insights,
    pages_log_subscription_policy,
    pages_logs,
    pages_metric_streams,
    pages_metrics,
    pages_multi_region,
    pages_nat_gateways,
    pages_network,
    pages_network_acls,
    pages_object,
    pages_oidc,
    pages_parameters,
    pages_pipes,
    pages_prefix_lists,
    pages_public_access,
    pages_queue_settings,
    pages_queues,
    pages_route53,
    pages_route53_cidr,
    pages_route53_health,
    pages_route53_sets,
    pages_route53_traffic,
    pages_routing,
    pages_scaling,
    pages_secrets,
    pages_server_certificates,
    pages_session,
    pages_signer,
    pages_state_executions,
    pages_state_versions,
    pages_states,
    pages_storage,
    pages_subscriptions,
    pages_templates,
    pages_topics,
    pages_trust_stores,
    pages_vpc_endpoints,
    pages_vpc_peerings,
)
from andromede.console.i18n import LOCALES, Catalogue, catalogue, choose_locale
from andromede.console.oidc_client import OidcClient
from andromede.console.session import (
    CONSOLE_PATH,
    LANGUAGE_COOKIE,
    SESSION_COOKIE,
    csrf_token,
    tokens_match,
)
from andromede.console.wire import KmsWire, S3Wire, WireError
from andromede.console.wire_acm import AcmWire
from andromede.console.wire_autoscaling import AutoScalingWire
from andromede.console.wire_dynamodb import DynamoWire
from andromede.console.wire_ec2 import Ec2Wire
from andromede.console.wire_elb import ElbWire
from andromede.console.wire_events import EventsWire
from andromede.console.wire_firehose import FirehoseWire
from andromede.console.wire_iam import IamWire, StsWire
from andromede.console.wire_kinesis import KinesisWire
from andromede.console.wire_lambda import LambdaWire
from andromede.console.wire_logs import LogsWire
from andromede.console.wire_metrics import CloudWatchWire
from andromede.console.wire_parameters import ParametersWire
from andromede.console.wire_pipes import PipesWire
from andromede.console.wire_queues import SqsWire
from andromede.console.wire_route53 import Route53Wire
from andromede.console.wire_s3control import S3ControlWire
from andromede.console.wire_secrets import SecretsWire
from andromede.console.wire_signer import SignerWire
from andromede.console.wire_states import StatesWire
from andromede.console.wire_topics import SnsWire
from andromede.errors import AndromedeError
from andromede.http.asgi import new_request_id
from andromede.http.response import Message, Receive, Scope, Send
from andromede.iam.model import Principal
from andromede.iam.policy import ContextValue
from andromede.iam.service import IdentityService
from andromede.iam.tenant_actions import (
    Action,
    Decision,
    decide,
)
from andromede.settings import Settings
from andromede.storage.model import Bucket

__all__ = ["CONSOLE_PATH", "Console", "ConsoleApp", "Session"]

log = logging.getLogger(__name__)
access_log = logging.getLogger("andromede.access")

_HERE = Path(__file__).parent
REQUEST_ID_SCOPE_KEY: Final = "andromede.request_id"  # set by the shell on every request
_CONSOLE_SCOPE_KEY: Final = "andromede.console"  # the console a page serves (see _routes)
_MAX_TOKEN_LENGTH: Final = 256
# Pages whose query holds a one-use secret (an OIDC code, a sign-in token): the language links
# of the page they answer go back to the path alone, so the secret is not copied into the page.
_SECRET_QUERIES: Final = frozenset({f"{CONSOLE_PATH}/oidc/callback", f"{CONSOLE_PATH}/federation"})
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_STRICT_HEADERS: Final = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
# Uploads stream to S3 (console/upload.py) and are bounded by S3's own limits; every other
# body is a small form.
_UPLOAD_SUFFIX: Final = "/upload"


class _BodyTooLarge(Exception):
    pass


class BucketRecords(Protocol):
    """The buckets' settings that are no S3 call's (the object service's), as the management
    API reaches them."""

    async def get_bucket(self, name: str) -> Bucket:
        """NoSuchBucket if absent."""

    async def set_bucket_data_reads_logged(self, name: str, logged: bool) -> Bucket:
        """Whether the bucket's data reads are audited (decision 0109). NoSuchBucket."""


@dataclass(frozen=True, slots=True)
class Session:
    token: str
    principal: Principal
    # The tenant pages the menu offers (those whose actions the caller's policies allow) and
    # the count of pending access requests, for whoever may list them (None otherwise).
    pages: frozenset[str] = frozenset()
    pending_access_requests: int | None = None

    @property
    def csrf(self) -> str:
        return csrf_token(self.token)


class Console:
    """What the pages share: the services, the templates, and the helpers every page uses."""

    def __init__(
        self,
        identity: IdentityService,
        audit: AuditService,
        settings: Settings,
        s3: S3Wire,
        kms: KmsWire | None,
        *,
        iam: IamWire | None = None,
        ec2: Ec2Wire | None = None,
        buckets: BucketRecords | None = None,
        sts: StsWire | None = None,
        trail: AuditTrail | None = None,
        operator_access: OperatorAccessService | None = None,
        billing: BillingService | None = None,
        sns: SnsWire | None = None,
        s3control: S3ControlWire | None = None,
        sqs: SqsWire | None = None,
        metrics: CloudWatchWire | None = None,
        secrets: SecretsWire | None = None,
        logs: LogsWire | None = None,
        events: EventsWire | None = None,
        elb: ElbWire | None = None,
        autoscaling: AutoScalingWire | None = None,
        firehose: FirehoseWire | None = None,
        kinesis: KinesisWire | None = None,
        parameters: ParametersWire | None = None,
        acm: AcmWire | None = None,
        dynamodb: DynamoWire | None = None,
        pipes: PipesWire | None = None,
        states: StatesWire | None = None,
        route53: Route53Wire | None = None,
        functions: LambdaWire | None = None,
        signer: SignerWire | None = None,
    ) -> None:
        """``iam``, ``ec2``, ``sns`` (notification topics), ``s3control`` (the account's Block
        Public Access), ``sqs`` (queues), ``metrics`` (CloudWatch), ``secrets`` (Secrets
        Manager), ``logs`` (CloudWatch Logs), ``events`` (EventBridge), ``elb`` (ELBv2),
        ``autoscaling`` (EC2 Auto Scaling), ``firehose`` (Amazon Data Firehose), ``kinesis``
        (Kinesis Data Streams), ``parameters`` (Systems Manager Parameter Store), ``acm``
        (Certificate Manager), ``dynamodb``, ``pipes`` (EventBridge Pipes), ``states`` (Step
        Functions), ``route53`` (Route 53 hosted zones), ``functions`` (Lambda), ``signer``:
        those APIs in process, as ``kms`` (None: a server that serves none, whose page says so);
        ``sts``: STS, for SAML sign-in (None: none offered);
        ``trail``, ``operator_access``, ``billing``, ``buckets`` (their data-events setting):
        the tenant's records that the management API serves too (None: a server that keeps
        none)."""
        self.identity = identity
        self.trail = trail
        self.operator_access = operator_access
        self.billing = billing
        self.audit = audit
        self.settings = settings
        self.s3 = s3
        self.kms = kms
        self.iam = iam
        self.ec2 = ec2
        self.sns = sns
        self.s3control = s3control
        self.sqs = sqs
        self.metrics = metrics
        self.secrets = secrets
        self.logs = logs
        self.events = events
        self.elb = elb
        self.autoscaling = autoscaling
        self.firehose = firehose
        self.kinesis = kinesis
        self.parameters = parameters
        self.acm = acm
        self.dynamodb = dynamodb
        self.pipes = pipes  # EventBridge Pipes (decision 0263)
        self.states = states  # Step Functions (decisions 0271, 0288)
        self.route53 = route53  # Route 53 (decisions 0280, 0288)
        self.functions = functions  # Lambda (decisions 0286, 0296)
        self.signer = signer  # AWS Signer (decisions 0386, 0396)
        self.buckets = buckets
        self.sts = sts
        self.oidc = OidcClient(settings)  # for OIDC sign-in (decision 0141)
        self.templates = Environment(
            loader=FileSystemLoader(_HERE / "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            auto_reload=False,
        )

    # -- per request -------------------------------------------------------------------------
    @staticmethod
    def catalogue(request: Request) -> Catalogue:
        chosen = choose_locale(
            request.cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language", "")
        )
        return catalogue(chosen)

    async def session(self, request: Request) -> Session | None:
        token = request.cookies.get(SESSION_COOKIE)
        if not token or len(token) > _MAX_TOKEN_LENGTH:
            return None
        try:
            principal = await self.identity.resolve_console_session(token)
        except AndromedeError:
            return None
        return await self._with_menu(request, Session(token, principal))

    async def _with_menu(self, request: Request, session: Session) -> Session:
        """The session with the menu's pages: each page's actions asked of the engine silently
        (a menu is no request for the page, so a refusal there is not logged), and the pending
        requests counted, as ``whoami`` does, for whoever may list them."""
        account = session.principal.tenant_id
        if account is None:
            return session
        pages = []
        for page, actions in pages_account.PAGE_ACTIONS.items():
            resource = pages_account.page_resource(page, account)
            for action in actions:
                if not (await self.decide(request, session, action, resource, account=account))[0]:
                    break
            else:
                pages.append(page)
        pending = None
        if "access-requests" in pages and self.operator_access is not None:
            pending = await self.operator_access.pending_count(account)
        return Session(session.token, session.principal, frozenset(pages), pending)

    async def decide(
        self,
        request: Request,
        session: Session,
        action: Action,
        resource: str,
        *,
        account: str,
        keys: dict[str, ContextValue] | None = None,
    ) -> Decision:
        """The management API's decision (``iam/tenant_actions.py``), for the console's caller."""
        client = request.scope.get("client")
        return await decide(
            self.identity,
            session.principal,
            action,
            resource,
            account=account,
            source_ip=client[0] if client else None,
            secure=self.secure(request),
            region=self.settings.region,
            keys=keys,
        )

    async def authorise(
        self,
        request: Request,
        session: Session,
        actions: tuple[Action, ...],
        resource: str,
        *,
        account: str,
        keys: dict[str, ContextValue] | None = None,
    ) -> Response | None:
        """None when the caller may perform every one of ``actions``; otherwise the refusal,
        a 403 page in the reader's language, recorded in the caller's tenant's log as the API
        records its own (the first action refused, the engine's reason)."""
        for action in actions:
            allowed, reason = await self.decide(
                request, session, action, resource, account=account, keys=keys
            )
            if allowed:
                continue
            principal = session.principal
            self.audit.record(
                request_id=self.request_id(request),
                tenant_id=principal.tenant_id,
                principal=principal.arn,
                action=action.value,
                resource=resource,
                outcome=Outcome.FAILURE,
                details={"error": "access-denied", "reason": reason},
            )
            _ = self.catalogue(request).gettext
            return self.render(
                request,
                "message.html",
                session=session,
                status=403,
                title=_("Access denied"),
                error=_("Your policies do not allow {action} on {resource}.").format(
                    action=action.value, resource=resource
                ),
            )
        return None

    @staticmethod
    def request_id(request: Request) -> str:
        return str(request.scope.get(REQUEST_ID_SCOPE_KEY, "-"))

    @staticmethod
    def secure(request: Request) -> bool:
        return request.url.scheme == "https"

    def render(
        self,
        request: Request,
        template: str,
        *,
        session: Session | None,
        status: int = 200,
        headers: dict[str, str] | None = None,
        **values: Any,
    ) -> HTMLResponse:
        words = self.catalogue(request)
        here = request.url.path
        if request.url.query and here not in _SECRET_QUERIES:
            here += f"?{request.url.query}"
        page = self.templates.get_template(template).render(
            _=words.gettext,
            locale=words.locale,
            locales=LOCALES,
            session=session,
            here=here,
            **values,
        )
        return HTMLResponse(page, status_code=status, headers=headers)

    def error_text(self, request: Request, exc: WireError) -> str:
        """The API's refusal in the reader's language, with the protocol's code. For IAM's
        and EC2's, whose messages name what was refused (the action, the resource, the
        state), and the JSON APIs' AccessDeniedException, which names the action denied
        (``logs:Unmask`` beside the read allowed), the message follows the translation."""
        _ = self.catalogue(request).gettext
        detailed = {
            "UnauthorizedOperation": _("Access denied: your policies do not allow this."),
            "AccessDeniedException": _("Access denied: your policies do not allow this."),
            "NoSuchEntity": _("No such IAM entity in your account."),
            "EntityAlreadyExists": _("An IAM entity of that name already exists."),
            "DeleteConflict": _("Still in use: remove what is attached to it first."),
            "MalformedPolicyDocument": _("The policy document is not valid JSON policy."),
            "LimitExceeded": _("A limit of your account was reached."),
            "InvalidInstanceID.NotFound": _("No such instance."),
            "IncorrectInstanceState": _("The instance is not in a state that allows this."),
            "InstanceLimitExceeded": _("Your account's instance quota is reached."),
            "AddressLimitExceeded": _("Your account's Elastic IP quota is reached."),
            "InvalidIPAddress.InUse": _("The address is associated: disassociate it first."),
            "InvalidAllocationID.NotFound": _("No such Elastic IP address in your account."),
            "Resource.AlreadyAssociated": _("Already associated."),
            "Gateway.NotAttached": _("The VPC has no internet gateway attached."),
            "InvalidSubnetID.NotFound": _("No such subnet."),
            "NatGatewayLimitExceeded": _("Your account's NAT gateway quota is reached."),
            "NatGatewayNotFound": _("No such NAT gateway."),
            "InvalidNatGatewayID.NotFound": _("No such NAT gateway."),
            "InvalidVpcID.NotFound": _("No such VPC."),
            "OperationNotPermitted": _("EC2 does not permit this operation."),
            "InvalidStateTransition": _("The peering connection's status does not allow this."),
            "InvalidVpcPeeringConnectionID.NotFound": _("No such peering connection."),
            "VpcPeeringConnectionAlreadyExists": _("A peering of these two VPCs exists already."),
            "ActiveVpcPeeringConnectionPerVpcLimitExceeded": _("A VPC's peering quota is full."),
            # Not a refusal: CreateVpcPeeringConnection's answer, a connection made failed
            # (pages_vpc_peerings shows it as one).
            "failed": _("The peering connection failed."),
            "NetworkAclEntryAlreadyExists": _("That rule number is taken in that direction."),
            "InvalidNetworkAclEntry.NotFound": _("No entry of that number in that direction."),
            "NetworkAclEntryLimitExceeded": _("The entry quota of that direction is reached."),
            "NetworkAclLimitExceeded": _("The VPC's network ACL quota is reached."),
            "InvalidPermission.Duplicate": _("That rule exists already."),
        }
        if exc.code in detailed:
            detail = f" {exc.message}" if exc.message else ""
            return f"{detailed[exc.code]}{detail} ({exc.code})"
        known = {
            "AccessDenied": _("Access denied: your policies do not allow this."),
            "BucketNotEmpty": _("The bucket is not empty: delete its objects first."),
            "BucketAlreadyExists": _("That bucket name is taken."),
            "BucketAlreadyOwnedByYou": _("You already own a bucket of that name."),
            "NoSuchBucket": _("No such bucket."),
            "NoSuchKey": _("No such object."),
            "InvalidBucketName": _("That is not a valid bucket name."),
            "NotFoundException": _("No such key."),
        }
        text = known.get(exc.code) or exc.message or exc.code
        return f"{text} ({exc.code})"

    async def form(
        self, request: Request, session: Session | None, *, max_fields: int = 16
    ) -> dict[str, str] | None:
        """The form's fields when its CSRF token is the session's; None otherwise. Past
        ``max_fields`` fields the form is not read (400)."""
        form = await request.form(max_files=0, max_fields=max_fields)
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        if session is None or not tokens_match(session.csrf, fields.get("csrf")):
            return None
        return fields

    def refused_form(
        self, request: Request, session: Session | None, *, status: int = 403
    ) -> HTMLResponse:
        """A form without the session's token (403), or one not as the console renders it
        (400: unreadable, or its fields after its file)."""
        _ = self.catalogue(request).gettext
        return self.render(
            request,
            "message.html",
            session=session,
            status=status,
            title=_("Form refused"),
            error=_("This form has expired or did not come from the console: reload the page."),
        )

    def to_login(self) -> RedirectResponse:
        return RedirectResponse(f"{CONSOLE_PATH}/login", status_code=303)


async def home(console: Console, request: Request) -> Response:
    return RedirectResponse(f"{CONSOLE_PATH}/buckets", status_code=303)


async def not_found(console: Console, request: Request) -> Response:
    _ = console.catalogue(request).gettext
    return console.render(
        request,
        "message.html",
        session=None,
        status=404,
        title=_("Not found"),
        error=_("There is no such page in the console."),
    )


def _routes() -> list[BaseRoute]:
    """The console's routes, made once when this module is imported (decision 0421).

    Starlette compiles a regular expression for each of the some 450 routes as it makes them:
    12 % of a worker's start-up CPU when each worker made its own for its console. Made at
    import, they are made once in the process ``serve`` forks its workers from, and shared.
    So a route holds no console: each page's handler gets the one the shell puts in the
    request's scope (``ConsoleApp.__call__``)."""

    def page(path: str, handler: Any, methods: list[str]) -> Route:
        async def endpoint(request: Request) -> Any:
            return await handler(request.scope[_CONSOLE_SCOPE_KEY], request)

        return Route(f"{CONSOLE_PATH}{path}", endpoint, methods=methods)

    return [
        page("", home, ["GET"]),
        page("/", home, ["GET"]),
        *(page(path, handler, methods) for path, handler, methods in pages_session.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_oidc.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_storage.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_object.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_keys.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_secrets.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_logs.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_log_exports.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_log_insights.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_firehose.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_kinesis.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_parameters.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_dynamodb.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_certificates.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_metric_streams.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_insight_rules.ROUTES),
        *(
            page(path, handler, methods)
            for path, handler, methods in pages_log_subscription_policy.ROUTES
        ),
        *(page(path, handler, methods) for path, handler, methods in pages_events.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_event_archives.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_event_endpoints.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_pipes.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_states.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_state_executions.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_state_versions.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_route53.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_lambda.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_lambda_function.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_lambda_triggers.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_lambda_urls.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_lambda_layers.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_code_signing.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_signer.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_route53_health.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_route53_traffic.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_route53_sets.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_route53_cidr.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_connections.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_bucket_settings.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_topics.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_subscriptions.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_queues.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_queue_settings.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_metrics.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_alarms.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_dashboards.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_dashboard_edit.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_iam.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_iam_oidc.ROUTES),
        *(
            page(path, handler, methods)
            for path, handler, methods in pages_server_certificates.ROUTES
        ),
        *(page(path, handler, methods) for path, handler, methods in pages_compute.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_network.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_image_sharing.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_routing.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_addresses.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_nat_gateways.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_load_balancers.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_trust_stores.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_listener_rules.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_autoscaling.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_scaling.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_prefix_lists.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_flow_logs.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_vpc_endpoints.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_public_access.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_multi_region.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_vpc_peerings.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_network_acls.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_templates.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_account.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_invoices.ROUTES),
        *(page(path, handler, methods) for path, handler, methods in pages_billing_profile.ROUTES),
        Mount(
            f"{CONSOLE_PATH}/static",
            StaticFiles(directory=_HERE / "static", follow_symlink=False),
        ),
    ]


_ROUTES: Final = _routes()


class ConsoleApp:
    """The console's ASGI app (HTTP only; the composition root owns the lifespan)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._router = Router(routes=_ROUTES, default=self._not_found)

    async def _not_found(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await not_found(self.console, Request(scope, receive))
        await response(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        request_id = new_request_id()
        scope = {**scope, REQUEST_ID_SCOPE_KEY: request_id, _CONSOLE_SCOPE_KEY: self.console}
        path: str = scope["path"]
        status = 0
        static = path.startswith(f"{CONSOLE_PATH}/static/")

        async def send_strict(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", []), *_STRICT_HEADERS]
                headers.append((b"x-request-id", request_id.encode()))
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        limit = None if path.endswith(_UPLOAD_SUFFIX) else self.console.settings.max_api_body_size
        try:
            await self._router(scope, _bounded(receive, limit), send_strict)
        except _BodyTooLarge:
            if status == 0:
                await _plain(send_strict, 413, "Request body too large.", close=True)
        except (MultiPartException, HTTPException):
            # A form Starlette cannot parse, or past its bounds (files, fields, part size).
            if status == 0:
                await _plain(send_strict, 400, "The form could not be read.", close=True)
        except Exception:
            log.exception("console request %s: unexpected error", request_id)
            if status == 0:
                await _plain(send_strict, 500, f"Internal error (request {request_id}).")
        finally:
            if self.console.settings.access_log:
                access_log.log(
                    logging.WARNING if status >= 500 else logging.INFO,
                    "%s - console %s %s %d %.1fms",
                    request_id,
                    scope.get("method", "-"),
                    path,
                    status,
                    (time.perf_counter() - started) * 1000,
                )


def _bounded(receive: Receive, limit: int | None) -> Receive:
    if limit is None:
        return receive
    seen = 0

    async def bounded() -> Message:
        nonlocal seen
        message = await receive()
        seen += len(message.get("body", b""))
        if seen > limit:
            raise _BodyTooLarge
        return message

    return bounded


async def _plain(send: Send, status: int, text: str, *, close: bool = False) -> None:
    body = text.encode()
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
    ]
    if close:  # the rest of the body was left unread: it must not become a next request
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
