"""The web console's wiring (decision 0111): the console calls every API in process, as its
logged-in users, through one wire per API, so that their own authorisation, audit and metering
answer it. This module owns which API each of its pages reaches."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from andromede.acmapi.app import AcmApp
from andromede.audit.access_service import OperatorAccessService
from andromede.audit.service import AuditService
from andromede.audit.trail import AuditTrail
from andromede.billing.service import BillingService
from andromede.cloudwatchapi.app import CloudWatchApp
from andromede.console.app import Console, ConsoleApp
from andromede.console.wire import KmsWire, S3Wire
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
from andromede.ec2api.app import Ec2App
from andromede.http.response import Receive, Scope, Send
from andromede.iam.service import IdentityService
from andromede.iamapi.iam import IAM
from andromede.iamapi.sts import STS
from andromede.kmsapi.app import KmsApp
from andromede.lambdaapi.app import LambdaApp
from andromede.logsapi.app import LogsApp
from andromede.s3.app import S3App
from andromede.s3control.app import S3ControlApp
from andromede.secretsapi.app import SecretsApp
from andromede.settings import Settings
from andromede.sqsapi.app import SqsApp
from andromede.storage.service import ObjectService

__all__ = ["console_app"]

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def console_app(
    settings: Settings,
    identity: IdentityService,
    audit: AuditService,
    billing: BillingService,
    s3: S3App,
    apis: Mapping[str, ASGIApp],
    *,
    objects: ObjectService,
    trail: AuditTrail,
    operator_access: OperatorAccessService,
    secrets: SecretsApp,
    logs: LogsApp,
) -> ConsoleApp:
    """The console over the APIs served on the S3 endpoint (``apis``, by service name)."""
    return ConsoleApp(
        Console(
            identity,
            audit,
            settings,
            S3Wire(s3),
            KmsWire(apis[KmsApp.name]),
            iam=IamWire(apis[IAM.name]),
            ec2=Ec2Wire(apis[Ec2App.name]),
            buckets=objects,
            sts=StsWire(apis[STS.name]),
            trail=trail,
            operator_access=operator_access,
            billing=billing,
            sns=SnsWire(apis["sns"]),
            s3control=S3ControlWire(apis[S3ControlApp.name]),
            sqs=SqsWire(apis[SqsApp.name]),
            metrics=CloudWatchWire(apis[CloudWatchApp.name]),
            secrets=SecretsWire(secrets),
            logs=LogsWire(logs),
            events=EventsWire(apis["events"]),
            elb=ElbWire(apis["elasticloadbalancing"]),
            autoscaling=AutoScalingWire(apis["autoscaling"]),
            firehose=FirehoseWire(apis["firehose"]),
            kinesis=KinesisWire(apis["kinesis"]),
            parameters=ParametersWire(apis["ssm"]),
            acm=_acm_wire(settings, apis),
            dynamodb=DynamoWire(apis["dynamodb"]) if "dynamodb" in apis else None,
            pipes=PipesWire(apis["pipes"]) if "pipes" in apis else None,
            states=StatesWire(apis["states"]) if "states" in apis else None,
            route53=Route53Wire(apis["route53"]) if "route53" in apis else None,
            functions=_lambda_wire(apis),
            signer=SignerWire(apis["signer"]) if "signer" in apis else None,
        )
    )


def _acm_wire(settings: Settings, apis: Mapping[str, ASGIApp]) -> AcmWire | None:
    """ACM's wire, naming the operator's private CA when one is configured (the pages offer
    RequestCertificate then), as ACM's app holds it; None where ACM is not served."""
    app = apis.get(AcmApp.name)
    if app is None:
        return None
    authority = app.service.authority if isinstance(app, AcmApp) else None
    return AcmWire(app, settings.region, authority_arn=authority.arn if authority else None)


def _lambda_wire(apis: Mapping[str, ASGIApp]) -> LambdaWire | None:
    """Lambda's wire, offering the runtimes this deployment's Lambda accepts (as its app's
    service holds them); None where Lambda is not served."""
    app = apis.get(LambdaApp.name)
    if app is None:
        return None
    runtimes = app.service.limits.runtimes if isinstance(app, LambdaApp) else ()
    return LambdaWire(app, runtimes)
