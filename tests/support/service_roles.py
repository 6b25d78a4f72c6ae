"""A role an AWS service assumes, as the end-to-end tests make theirs through boto3's ``iam``
client: trusting one service principal (``firehose.amazonaws.com``, ``logs.amazonaws.com``,
``sns.amazonaws.com``…) and allowed, inline, each (actions, resource) grant a test gives it."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["service_role"]


def service_role(iam: Any, name: str, service: str, *grants: tuple[str | list[str], str]) -> str:
    """The ARN of a new role ``name`` that ``service`` may assume, with one inline policy of an
    Allow statement a grant."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
        ],
    }
    made = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": actions, "Resource": resource}
            for actions, resource in grants
        ],
    }
    iam.put_role_policy(RoleName=name, PolicyName="grants", PolicyDocument=json.dumps(policy))
    return str(made["Role"]["Arn"])
