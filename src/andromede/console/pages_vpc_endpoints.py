"""VPC endpoints (decisions 0160, 0166), read only: the account's endpoints — id, Name, type,
service, VPC, state, and a Gateway endpoint's route tables or an Interface endpoint's subnets,
security groups, network interfaces and private DNS — as DescribeVpcEndpoints answers the
signed-in user (``wire_vpc_endpoints``), so EC2's policies decide what is shown. Endpoints are
made and changed with the EC2 API (boto3, the aws CLI, Terraform)."""

from __future__ import annotations

from typing import Any, Final

from andromede.console.pages_ec2 import read_only_list
from andromede.console.wire_vpc_endpoints import describe_vpc_endpoints

__all__ = ["ROUTES"]

ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    (
        "/vpc-endpoints",
        read_only_list(
            "ec2_vpc_endpoints.html",
            "vpc_endpoints",
            lambda _: _("VPC endpoints"),
            describe_vpc_endpoints,
        ),
        ["GET"],
    ),
]
