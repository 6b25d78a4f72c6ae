"""Systems Manager's IAM actions (decision 0249): every operation of AWS's ``ssm`` model and
every one Parameter Store serves is catalogued, so that a policy naming it is accepted, and a
misspelt action or a wildcard matching none is refused when the policy is written, as IAM
refuses them."""

from __future__ import annotations

import botocore.session
import pytest

from andromede.iam.policy.actions import known_action, known_service
from andromede.iam.policy.document import PolicyKind, parse_policy
from andromede.iam.policy.errors import MalformedPolicy
from andromede.ssmapi.actions import ACTIONS as SERVED


def _policy(action: str) -> str:
    return (
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
        f'"Action": "{action}", "Resource": "*"}}]}}'
    )


def test_every_operation_of_aws_model_and_every_served_one_is_catalogued() -> None:
    model = botocore.session.get_session().get_service_model("ssm")
    operations = set(model.operation_names) | set(SERVED)
    assert {"PutResourcePolicy", "GetResourcePolicies", "DeleteResourcePolicy"} <= operations
    assert sorted(name for name in operations if not known_action("ssm", name)) == []
    assert known_service("SSM")


@pytest.mark.parametrize(
    "action", ["ssm:GetManifest", "ssm:UpdateInstanceInformation", "ssm:GetCalendar"]
)
def test_permission_only_actions_are_catalogued(action: str) -> None:
    parse_policy(_policy(action), kind=PolicyKind.IDENTITY)


def test_a_misspelt_action_or_an_empty_wildcard_is_refused() -> None:
    parse_policy(_policy("ssm:GetParameter*"), kind=PolicyKind.IDENTITY)
    parse_policy(_policy("ssm:getparameter"), kind=PolicyKind.IDENTITY)  # case-insensitive
    with pytest.raises(MalformedPolicy):
        parse_policy(_policy("ssm:GetParamter"), kind=PolicyKind.IDENTITY)
    with pytest.raises(MalformedPolicy):
        parse_policy(_policy("ssm:Fetch*"), kind=PolicyKind.IDENTITY)
