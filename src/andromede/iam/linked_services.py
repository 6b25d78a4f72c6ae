"""The services of this platform that have a service-linked role (decision 0208), and the
platform-managed policies those roles hold: AWS's names, read-only, in the ``aws`` account
(``arn:aws:iam::aws:policy/aws-service-role/<PolicyName>``) as AWS's own managed policies are.

A service-linked role lives under ``/aws-service-role/<service principal>/``: the path is what
marks it, and nothing but CreateServiceLinkedRole may make a role there, so the path cannot be
forged. Its permissions are its service's policy here, never a stored attachment.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from andromede.iam.errors import UnmodifiableEntity
from andromede.iam.model import ManagedPolicy, PolicyVersion, Role

__all__ = [
    "AWS_ACCOUNT",
    "LINKED_PATH",
    "SERVICES",
    "LinkedService",
    "aws_policy",
    "is_linked",
    "linked_path",
    "refuse_linked",
    "service_of",
]

AWS_ACCOUNT = "aws"  # the account AWS-managed policies belong to, in their ARNs
LINKED_PATH = "/aws-service-role/"
_PUBLISHED = datetime(2026, 12, 6, tzinfo=UTC)  # the policies' CreateDate: this release's


def _allow(*statements: tuple[list[str], str]) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": actions, "Resource": resource}
                for actions, resource in statements
            ],
        }
    )


@dataclass(frozen=True, slots=True)
class LinkedService:
    """One service's role: ``AWSServiceRoleFor<role_suffix>`` (``_<custom>`` if the service
    allows CustomSuffix), holding ``policy_name`` whose document is ``document``."""

    principal: str
    role_suffix: str
    policy_name: str
    policy_id: str
    document: str
    description: str
    custom_suffix: bool = False

    @property
    def role_name(self) -> str:
        return f"AWSServiceRoleFor{self.role_suffix}"

    @property
    def policy_arn(self) -> str:
        return self.policy.arn

    @property
    def policy(self) -> ManagedPolicy:
        return ManagedPolicy(
            id=self.policy_id,
            tenant_id=AWS_ACCOUNT,
            name=self.policy_name,
            path=LINKED_PATH,
            created_at=_PUBLISHED,
            description=f"Enables {self.principal} to act on the account's resources.",
            updated_at=_PUBLISHED,
        )

    @property
    def version(self) -> PolicyVersion:
        return PolicyVersion(self.policy_id, "v1", self.document, _PUBLISHED, True)

    def trust_policy(self) -> str:
        return json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": self.principal},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        )


# What each service does on the account's behalf here (AWS's policies, cut to this platform's
# APIs). Policy ids are fixed: AWS-managed policies have one id everywhere.
SERVICES: dict[str, LinkedService] = {
    s.principal: s
    for s in (
        LinkedService(
            principal="autoscaling.amazonaws.com",
            role_suffix="AutoScaling",
            policy_name="AutoScalingServiceRolePolicy",
            policy_id="ANPAANDROMEDEASG00001",
            document=_allow(
                (
                    [
                        "ec2:RunInstances",
                        "ec2:TerminateInstances",
                        "ec2:StartInstances",
                        "ec2:StopInstances",
                        "ec2:Describe*",
                        "ec2:CreateTags",
                        "ec2:GetConsoleOutput",
                        "elasticloadbalancing:Register*",
                        "elasticloadbalancing:Deregister*",
                        "elasticloadbalancing:Describe*",
                        "cloudwatch:PutMetricAlarm",
                        "cloudwatch:DeleteAlarms",
                        "cloudwatch:DescribeAlarms",
                        "cloudwatch:GetMetricData",
                        "sns:Publish",
                        "iam:PassRole",
                    ],
                    "*",
                )
            ),
            description=(
                "Default Service-Linked Role enables access to AWS Services and Resources "
                "used or managed by Auto Scaling"
            ),
            custom_suffix=True,
        ),
        LinkedService(
            principal="elasticloadbalancing.amazonaws.com",
            role_suffix="ElasticLoadBalancing",
            policy_name="AWSElasticLoadBalancingServiceRolePolicy",
            policy_id="ANPAANDROMEDEELB00001",
            document=_allow(
                (
                    [
                        "ec2:DescribeAddresses",
                        "ec2:DescribeInstances",
                        "ec2:DescribeSubnets",
                        "ec2:DescribeSecurityGroups",
                        "ec2:DescribeVpcs",
                        "ec2:DescribeNetworkInterfaces",
                        "ec2:CreateNetworkInterface",
                        "ec2:DeleteNetworkInterface",
                        "ec2:ModifyNetworkInterfaceAttribute",
                        "ec2:AssignPrivateIpAddresses",
                        "ec2:UnassignPrivateIpAddresses",
                    ],
                    "*",
                )
            ),
            description="Allows ELB to call AWS services on your behalf.",
        ),
        LinkedService(
            principal="events.amazonaws.com",
            role_suffix="CloudWatchEvents",
            policy_name="CloudWatchEventsServiceRolePolicy",
            policy_id="ANPAANDROMEDEEVT00001",
            document=_allow(
                (
                    [
                        "ec2:StopInstances",
                        "ec2:TerminateInstances",
                        "ec2:RebootInstances",
                        "ec2:DescribeInstances",
                        "ec2:DescribeInstanceStatus",
                    ],
                    "*",
                )
            ),
            description=(
                "Allows CloudWatch Events to call the instance actions of rules' targets."
            ),
        ),
        LinkedService(
            principal="spot.amazonaws.com",
            role_suffix="EC2Spot",
            policy_name="AWSEC2SpotServiceRolePolicy",
            policy_id="ANPAANDROMEDESPOT0001",
            document=_allow(
                (
                    [
                        "ec2:DescribeInstances",
                        "ec2:StartInstances",
                        "ec2:StopInstances",
                        "ec2:TerminateInstances",
                        "ec2:CreateTags",
                        "iam:PassRole",
                    ],
                    "*",
                )
            ),
            description="Default EC2 Spot Service Linked Role",
        ),
    )
}
_BY_POLICY_ARN = {service.policy_arn: service for service in SERVICES.values()}


def linked_path(principal: str) -> str:
    return f"{LINKED_PATH}{principal}/"


def is_linked(role: Role) -> bool:
    return role.path.startswith(LINKED_PATH)


def service_of(role: Role) -> LinkedService | None:
    """The service a service-linked role belongs to (None: an ordinary role)."""
    if not is_linked(role):
        return None
    return SERVICES.get(role.path.removeprefix(LINKED_PATH).rstrip("/"))


def aws_policy(policy_arn: str) -> LinkedService | None:
    """The service whose AWS-managed policy ``policy_arn`` is (None: not one of them)."""
    return _BY_POLICY_ARN.get(policy_arn)


def refuse_linked(role: Role) -> None:
    """UnmodifiableEntity, AWS's words, for a change to a service-linked role."""
    if is_linked(role):
        raise UnmodifiableEntity(
            f"Cannot perform the operation on the protected role '{role.name}' - "
            "this role is only modifiable by AWS"
        )
