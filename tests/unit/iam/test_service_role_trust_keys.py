"""The keys a service gives a trust policy when it assumes a tenant's role (decision 0321):
``aws:SourceAccount`` and ``aws:SourceArn`` of the resource it acts for, judged by the engine's
conditions — the confused-deputy trust policies AWS recommends — and absent when not given."""

from __future__ import annotations

import json
from typing import Any

from andromede.iam.service import BootstrapResult, IdentityService
from andromede.iam.service_roles import (
    ServiceRoleSessions,
    TrustSource,
    role_trusts,
    service_role_session,
    trusted_role,
)

REGION = "eu-fr-1"
FIREHOSE = "firehose.amazonaws.com"
ACCOUNT = "111122223333"
STREAM = f"arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/orders"


def trust(**condition: Any) -> str:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": FIREHOSE},
        "Action": "sts:AssumeRole",
    }
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


CONFUSED_DEPUTY = trust(
    StringEquals={"aws:SourceAccount": ACCOUNT},
    ArnLike={"aws:SourceArn": f"arn:aws:firehose:*:{ACCOUNT}:deliverystream/*"},
)


def test_a_source_gives_its_account_from_its_arn() -> None:
    source = TrustSource.of(STREAM)
    assert source == TrustSource(account=ACCOUNT, arn=STREAM)
    assert source.keys() == {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": STREAM}
    assert TrustSource(account=ACCOUNT).keys() == {"aws:SourceAccount": ACCOUNT}
    assert TrustSource().keys() == {}
    # An ARN without an account (an S3 bucket's) gives the ARN alone.
    assert TrustSource.of("arn:aws:s3:::logs").keys() == {"aws:SourceArn": "arn:aws:s3:::logs"}


def test_the_confused_deputy_trust_policy_lets_in_its_own_accounts_stream() -> None:
    assert role_trusts(CONFUSED_DEPUTY, FIREHOSE, TrustSource.of(STREAM))


def test_another_account_or_another_kind_of_resource_is_refused() -> None:
    other = f"arn:aws:firehose:{REGION}:444455556666:deliverystream/orders"
    assert not role_trusts(CONFUSED_DEPUTY, FIREHOSE, TrustSource.of(other))
    # The account matches, the ARN does not (a rule's, not a stream's).
    rule = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/orders"
    assert not role_trusts(CONFUSED_DEPUTY, FIREHOSE, TrustSource.of(rule))
    # The right resource, a wrong account key.
    assert not role_trusts(CONFUSED_DEPUTY, FIREHOSE, TrustSource("444455556666", STREAM))
    # The right keys given to another service's principal.
    assert not role_trusts(CONFUSED_DEPUTY, "lambda.amazonaws.com", TrustSource.of(STREAM))


def test_a_key_not_given_is_absent_as_aws_judges_it() -> None:
    # StringEquals on an absent key refuses; …IfExists lets in; a trust without condition
    # keeps working with or without keys.
    assert not role_trusts(CONFUSED_DEPUTY, FIREHOSE)
    assert not role_trusts(CONFUSED_DEPUTY, FIREHOSE, TrustSource(account=ACCOUNT))
    if_exists = trust(ArnLikeIfExists={"aws:SourceArn": f"arn:aws:firehose:*:{ACCOUNT}:*"})
    assert role_trusts(if_exists, FIREHOSE, TrustSource(account=ACCOUNT))
    assert role_trusts(if_exists, FIREHOSE)
    assert not role_trusts(if_exists, FIREHOSE, TrustSource.of("arn:aws:firehose:x:999:d/s"))
    assert role_trusts(trust(), FIREHOSE)
    assert role_trusts(trust(), FIREHOSE, TrustSource.of(STREAM))


def test_a_deny_on_the_source_wins() -> None:
    document = json.loads(trust())
    document["Statement"].append(
        {
            "Effect": "Deny",
            "Principal": {"Service": FIREHOSE},
            "Action": "sts:AssumeRole",
            "Condition": {"StringNotEquals": {"aws:SourceAccount": ACCOUNT}},
        }
    )
    text = json.dumps(document)
    assert role_trusts(text, FIREHOSE, TrustSource(account=ACCOUNT))
    assert not role_trusts(text, FIREHOSE, TrustSource(account="444455556666"))


async def test_the_session_helpers_pass_the_source_to_the_trust(
    identity: IdentityService, tenant: BootstrapResult
) -> None:
    account = tenant.tenant.id
    stream = f"arn:aws:firehose:{REGION}:{account}:deliverystream/orders"
    policy = trust(
        StringEquals={"aws:SourceAccount": account},
        ArnLike={"aws:SourceArn": f"arn:aws:firehose:*:{account}:deliverystream/*"},
    )
    role = await identity.create_role(account, "delivery", policy)
    right, wrong = TrustSource.of(stream), TrustSource.of(stream.replace("firehose", "states", 1))
    assert await trusted_role(identity, account, role.arn, FIREHOSE, right) == role
    assert await trusted_role(identity, account, role.arn, FIREHOSE, wrong) is None
    assert await trusted_role(identity, account, role.arn, FIREHOSE) is None
    assert await service_role_session(identity, account, role.arn, FIREHOSE, "s", right)
    assert await service_role_session(identity, account, role.arn, FIREHOSE, "s", wrong) is None
    sessions = ServiceRoleSessions(identity, FIREHOSE, REGION)
    assert await sessions.session(account, role.arn, "s", right) is not None
    assert await sessions.session(account, role.arn, "s", wrong) is None
    assert await sessions.session(account, role.arn, "s") is None
