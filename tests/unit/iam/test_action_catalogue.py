"""The action catalogue against what is served: a policy naming an action the wire APIs serve
(and check) must be accepted when it is written, never refused as an action that does not
exist — which is how an EC2 action served without its catalogue entry, or a KMS operation
checked under a name the parser did not know, made a valid grant impossible to write."""

from __future__ import annotations

import pytest

from andromede.dynamodbapi.app import ACTIONS as DYNAMODB_ACTIONS
from andromede.ec2api.app import ACTIONS as EC2_ACTIONS
from andromede.iam.policy.actions import known_action
from andromede.iam.policy.document import PolicyKind, parse_policy
from andromede.iam.policy.errors import MalformedPolicy
from andromede.iamapi.iam import ACTIONS as IAM_ACTIONS
from andromede.iamapi.sns import ACTIONS as SNS_ACTIONS
from andromede.iamapi.sts import ACTIONS as STS_ACTIONS
from andromede.kmsapi.actions import ACTIONS as KMS_ACTIONS


@pytest.mark.parametrize(
    ("service", "served"),
    [
        ("ec2", EC2_ACTIONS),
        ("iam", IAM_ACTIONS),
        ("sts", STS_ACTIONS),
        # PublishBatch is authorised as sns:Publish, as on AWS (decision 0163).
        ("sns", tuple(name for name in SNS_ACTIONS if name != "PublishBatch")),
    ],
)
def test_every_served_action_is_in_the_catalogue(service: str, served: object) -> None:
    missing = sorted(name for name in served if not known_action(service, name))  # type: ignore[attr-defined]
    assert missing == []


def test_every_kms_operation_is_in_the_catalogue() -> None:
    """KMS authorises each operation as the action of its name, but ReEncrypt, which is
    ``kms:ReEncryptFrom`` and ``kms:ReEncryptTo`` (both catalogued)."""
    names = set(KMS_ACTIONS) - {"ReEncrypt"}
    assert {"Decapsulate", "DeriveSharedSecret", "Encapsulate"} <= names
    assert sorted(name for name in names if not known_action("kms", name)) == []
    assert known_action("kms", "ReEncryptFrom") and known_action("kms", "ReEncryptTo")


def test_a_policy_granting_a_routing_action_is_accepted() -> None:
    document = (
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": '
        '["ec2:AssociateRouteTable", "ec2:ReplaceRoute", "kms:DeriveSharedSecret"], '
        '"Resource": "*"}]}'
    )
    parse_policy(document, kind=PolicyKind.IDENTITY)
    with pytest.raises(MalformedPolicy):
        parse_policy(document.replace("ReplaceRoute", "ReplaceRoot"), kind=PolicyKind.IDENTITY)


# DynamoDB operations that are no IAM action of their own: each part of a transaction is
# authorised as the item call it stands for, a PartiQL statement as PartiQL<Verb> (decision 0247).
_DYNAMODB_AUTHORISED_AS_OTHERS = {
    "TransactGetItems": ("GetItem",),
    "TransactWriteItems": ("PutItem", "UpdateItem", "DeleteItem", "ConditionCheckItem"),
    "ExecuteStatement": ("PartiQLSelect", "PartiQLInsert", "PartiQLUpdate", "PartiQLDelete"),
    "BatchExecuteStatement": ("PartiQLSelect", "PartiQLInsert", "PartiQLUpdate", "PartiQLDelete"),
    "ExecuteTransaction": ("PartiQLSelect", "PartiQLInsert", "PartiQLUpdate", "PartiQLDelete"),
}


def test_every_served_dynamodb_operation_is_authorised_by_a_catalogued_action() -> None:
    assert len(DYNAMODB_ACTIONS) >= 20
    actions = set()
    for operation in DYNAMODB_ACTIONS:
        actions.update(_DYNAMODB_AUTHORISED_AS_OTHERS.get(operation, (operation,)))
    assert sorted(name for name in actions if not known_action("dynamodb", name)) == []


def test_a_misspelt_dynamodb_action_is_refused() -> None:
    document = (
        '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": '
        '["dynamodb:GetItem", "dynamodb:PartiQLSelect", "dynamodb:Query*"], '
        '"Resource": "arn:aws:dynamodb:eu-west-3:123456789012:table/Music"}]}'
    )
    parse_policy(document, kind=PolicyKind.IDENTITY)
    for right, wrong in (
        ("GetItem", "GetIteem"),
        ("PartiQLSelect", "PartiQLSelekt"),
        ("Query*", "Querry*"),  # a wildcard matching no action
    ):
        with pytest.raises(MalformedPolicy):
            parse_policy(document.replace(right, wrong), kind=PolicyKind.IDENTITY)
    # Not served here, but an action IAM knows: accepted, as AWS accepts it.
    parse_policy(
        document.replace("dynamodb:GetItem", "dynamodb:RestoreTableFromBackup"),
        kind=PolicyKind.IDENTITY,
    )
