"""VPC endpoints (decisions 0160, 0166), read only: the account's endpoints — id, Name, type,
service, VPC, state, and a Gateway endpoint's route tables or an Interface endpoint's subnets,
security groups, network interfaces and private DNS — as DescribeVpcEndpoints answers the
signed-in user (``wire_vpc_endpoints``), so EC2's policies decide what is shown. Endpoints are
made and changed with the EC2 API (boto3, the aws CLI, Terraform)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response

from andromede.console import wire_vpc_endpoints as vpc_endpoints
from andromede.console.pages_ec2 import no_ec2, viewer
from andromede.console.wire import WireError
from andromede.console.wire_vpc_endpoints import VpcEndpointRow

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES"]


async def _vpc_endpoints_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Mapping[str, Mapping[str, str]] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    """The page has no form (``typed`` is unused): endpoints are changed through the EC2 API."""
    _ = console.catalogue(request).gettext
    rows: list[VpcEndpointRow] = []
    if console.ec2 is None:
        error, status = no_ec2(console, request)
    else:
        try:
            rows = await vpc_endpoints.describe_vpc_endpoints(
                console.ec2, request.scope, session.principal
            )
        except WireError as exc:
            if error is None:
                error, status = console.error_text(request, exc), exc.status
    return console.render(
        request,
        "ec2_vpc_endpoints.html",
        session=session,
        status=status,
        title=_("VPC endpoints"),
        vpc_endpoints=rows,
        error=error,
    )


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/vpc-endpoints", viewer(_vpc_endpoints_page), ["GET"]),
]
