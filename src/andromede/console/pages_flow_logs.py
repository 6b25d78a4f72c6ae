"""VPC flow logs (decision 0153): list the account's flow logs (resource, traffic type,
destination, aggregation, file format or log group and role, the last delivery's status);
create one for a VPC or a subnet of the account's, delivered into a bucket (its ARN and an
optional key prefix) as plain text or Parquet (decision 0170), or (session 48) into one of the
account's CloudWatch Logs groups by one of its IAM roles (DescribeLogGroups and ListRoles, as
the signed-in principal, offer them; EC2 decides, ``iam:PassRole`` included), with a Name and a
ClientToken so that the form sent twice makes one; delete one after a ticked box.

Every read and change is EC2's own call, made as the signed-in principal
(``wire_flow_logs`` over ``wire_ec2.Ec2Wire``), so EC2's policies, checks and errors decide
— a bucket ARN that is none, the ``AWSLogs`` prefix, a resource of another account, the
same flow log twice (FlowLogAlreadyExists) — and EC2 audits the changes as it audits boto3's.
A refused creation shows the page again with EC2's error and status, and the form as sent.
Whether the bucket takes the objects is the delivery's business: a delivery that fails shows
as FAILED with its message, as DescribeFlowLogs tells it.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response

from andromede.console import wire_flow_logs as flow_logs
from andromede.console.handlers import first_refusal, signed_in
from andromede.console.pages_ec2 import action, client_token, field, no_ec2
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_ec2 import Ec2Wire, SubnetRow, VpcRow
from andromede.console.wire_flow_logs import FlowLogRow
from andromede.console.wire_iam import RoleRow
from andromede.iam.model import Principal

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES"]

_FLOW_LOGS_URL: Final = f"{CONSOLE_PATH}/flow-logs"
_ROLES_OFFERED: Final = 1000  # IAM's largest page: the role field's choices


async def _flow_logs_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Mapping[str, Mapping[str, str]] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    """The account's flow logs, and the create form's choices."""
    _ = console.catalogue(request).gettext
    rows: list[FlowLogRow] = []
    vpcs: list[VpcRow] = []
    subnets: list[SubnetRow] = []
    log_groups: list[str] = []
    roles: list[RoleRow] = []
    if console.ec2 is None:
        error, status = no_ec2(console, request)
    else:
        origin, principal = request.scope, session.principal
        try:
            rows = await flow_logs.describe_flow_logs(console.ec2, origin, principal)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        # Only the create form's choices: CreateFlowLogs decides.
        with suppress(WireError):
            vpcs = await console.ec2.describe_vpcs(origin, principal)
        with suppress(WireError):
            subnets = await console.ec2.describe_subnets(origin, principal)
        log_groups, roles = await _log_choices(console, request, session)
    return console.render(
        request,
        "ec2_flow_logs.html",
        session=session,
        status=status,
        title=_("Flow logs"),
        flow_logs=rows,
        vpcs=vpcs,
        subnets=subnets,
        traffic_types=flow_logs.TRAFFIC_TYPES,
        intervals=flow_logs.AGGREGATION_INTERVALS,
        file_formats=flow_logs.FILE_FORMATS,
        destination_types=flow_logs.DESTINATION_TYPES,
        log_groups=log_groups,
        roles=roles,
        client_token=client_token(),
        typed=(typed or {}).get("create", {}),
        error=error,
    )


async def _log_choices(
    console: Console, request: Request, session: Session
) -> tuple[list[str], list[RoleRow]]:
    """The CloudWatch Logs destination's choices: the account's log groups and IAM roles as
    the signed-in principal may list them; none where the service is not served or refuses
    (the form's choices only: CreateFlowLogs decides)."""
    origin, principal = request.scope, session.principal
    groups: list[str] = []
    roles: list[RoleRow] = []
    if console.logs is not None:
        with suppress(WireError):
            groups = await console.logs.group_names(origin, principal)
    if console.iam is not None:
        with suppress(WireError):
            listed = await console.iam.list_roles(
                origin, principal, marker=None, page_size=_ROLES_OFFERED
            )
            roles = listed.rows
    return groups, roles


def _destination(bucket_arn: str, prefix: str) -> str:
    """EC2's ``LogDestination``: the bucket's ARN, then the key prefix after a slash. A bare
    bucket name is read as that bucket's ARN, as a person types it."""
    if bucket_arn and not bucket_arn.startswith("arn:"):
        bucket_arn = f"arn:aws:s3:::{bucket_arn}"
    prefix = prefix.strip("/")
    return f"{bucket_arn.rstrip('/')}/{prefix}" if prefix else bucket_arn


async def _create(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
    if field(f, "destination_type") == flow_logs.CLOUD_WATCH_LOGS:
        # No DestinationOptions: EC2 answers them for S3 only.
        await flow_logs.create_flow_log(
            ec2, request.scope, who, field(f, "resource_id"), field(f, "traffic_type"),
            field(f, "log_group"), field(f, "max_aggregation_interval"), name=field(f, "name"),
            token=field(f, "client_token"), destination_type=flow_logs.CLOUD_WATCH_LOGS,
            role_arn=field(f, "role_arn"),
        )  # fmt: skip
        return _FLOW_LOGS_URL
    await flow_logs.create_flow_log(
        ec2, request.scope, who, field(f, "resource_id"), field(f, "traffic_type"),
        _destination(field(f, "bucket_arn"), field(f, "prefix")),
        field(f, "max_aggregation_interval"), name=field(f, "name"),
        token=field(f, "client_token"), file_format=field(f, "file_format"),
    )  # fmt: skip
    return _FLOW_LOGS_URL


async def _delete(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
    await flow_logs.delete_flow_log(ec2, request.scope, who, request.path_params["flow_log_id"])
    return _FLOW_LOGS_URL


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/flow-logs", signed_in(_flow_logs_page), ["GET"]),
    ("/flow-logs", action(_flow_logs_page, _create, form="create"), ["POST"]),
    ("/flow-logs/{flow_log_id}/delete",
     action(_flow_logs_page, _delete, confirmed=True), ["POST"]),
]  # fmt: skip
