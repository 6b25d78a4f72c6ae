"""A service's session of a tenant's role (decision 0310): the role must be the tenant's and
trust the service's principal; the session is named as AWS names it, its name cut at 64; what
it may do is the engine's decision over its role's policies (boundary, tags, a resource's
policy, the request's keys), judged by the real identity service."""

from __future__ import annotations

import json
from typing import Any

import pytest

from andromede.iam.model import Principal, PrincipalKind, Role
from andromede.iam.service import BootstrapResult, IdentityService
from andromede.iam.service_roles import ServiceRoleSessions, service_role_session, trusted_role

REGION = "eu-fr-1"
LAMBDA = "lambda.amazonaws.com"


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def trusting(service: str, **condition: Any) -> str:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if condition:
        statement["Condition"] = condition
    return document(statement)


def allowing(action: str, resource: str = "*", **condition: Any) -> str:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": action, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return document(statement)


@pytest.fixture
def sessions(identity: IdentityService) -> ServiceRoleSessions:
    return ServiceRoleSessions(identity, LAMBDA, REGION)


async def session_of(
    sessions: ServiceRoleSessions, identity: IdentityService, account: str, policy: str
) -> tuple[Role, Principal]:
    """A role of ``account`` trusting Lambda, ``policy`` its inline policy, and its session."""
    role = await identity.create_role(account, "worker", trusting(LAMBDA))
    await identity.put_role_policy(account, "worker", "inline", policy)
    session = await sessions.session(account, role.arn, "s")
    assert session is not None
    return role, session


async def test_a_role_trusting_the_service_gives_its_named_session(
    identity: IdentityService, tenant: BootstrapResult, sessions: ServiceRoleSessions
) -> None:
    account = tenant.tenant.id
    role = await identity.create_role(account, "reader", trusting(LAMBDA), path="/team/")
    session = await sessions.session(account, role.arn, "EventSourceMapping")
    assert session is not None
    assert session.kind is PrincipalKind.ROLE_SESSION
    assert (session.tenant_id, session.user_id, session.user_name) == (account, role.id, "reader")
    # The session's ARN names the role without its path, as STS's assumed-role ARNs do.
    assert session.arn == f"arn:aws:sts::{account}:assumed-role/reader/EventSourceMapping"
    assert session.session_name == "EventSourceMapping"
    assert await trusted_role(identity, account, role.arn, LAMBDA) == role


async def test_the_session_name_is_cut_at_64(
    identity: IdentityService, tenant: BootstrapResult, sessions: ServiceRoleSessions
) -> None:
    account = tenant.tenant.id
    role = await identity.create_role(account, "reader", trusting(LAMBDA))
    session = await sessions.session(account, role.arn, "x" * 63 + "yz")
    assert session is not None
    assert session.session_name == "x" * 63 + "y"
    assert session.arn.endswith("/reader/" + "x" * 63 + "y")


@pytest.mark.parametrize(
    "trust",
    [
        trusting("events.amazonaws.com"),
        trusting("lambda.amazonaws.com.evil"),
        document(
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "sts:AssumeRole",
            }
        ),
        document(
            {"Effect": "Allow", "Principal": {"Service": LAMBDA}, "Action": "sts:AssumeRole"},
            {"Effect": "Deny", "Principal": {"Service": LAMBDA}, "Action": "sts:AssumeRole"},
        ),
        # No caller gives the service's aws:SourceAccount yet (decision 0310: not done).
        trusting(LAMBDA, StringEquals={"aws:SourceAccount": "000000000000"}),
    ],
)
async def test_a_role_not_trusting_the_service_gives_none(
    identity: IdentityService, tenant: BootstrapResult, sessions: ServiceRoleSessions, trust: str
) -> None:
    account = tenant.tenant.id
    role = await identity.create_role(account, "other", trust)
    assert await sessions.session(account, role.arn, "s") is None
    assert await trusted_role(identity, account, role.arn, LAMBDA) is None


async def test_another_tenants_role_gives_none(
    identity: IdentityService, tenant: BootstrapResult, sessions: ServiceRoleSessions
) -> None:
    account = tenant.tenant.id
    other = (await identity.create_tenant("globex")).tenant.id
    role = await identity.create_role(other, "reader", trusting(LAMBDA))
    assert await sessions.session(account, role.arn, "s") is None
    # Its own tenant's service gets it.
    assert await sessions.session(other, role.arn, "s") is not None


@pytest.mark.parametrize(
    "arn",
    [
        None,
        "",
        "not-an-arn",
        "arn:aws:iam::{account}:role/gone",
        "arn:aws:iam::{account}:role/elsewhere/reader",  # the role's path is /
        "arn:aws:iam::{account}:user/reader",
    ],
)
async def test_a_missing_role_gives_none(
    identity: IdentityService,
    tenant: BootstrapResult,
    sessions: ServiceRoleSessions,
    arn: str | None,
) -> None:
    account = tenant.tenant.id
    await identity.create_role(account, "reader", trusting(LAMBDA))
    named = None if arn is None else arn.format(account=account)
    assert await sessions.session(account, named, "s") is None
    assert await service_role_session(identity, account, named, LAMBDA, "s") is None


async def test_a_deleted_role_gives_none(
    identity: IdentityService, tenant: BootstrapResult, sessions: ServiceRoleSessions
) -> None:
    account = tenant.tenant.id
    role = await identity.create_role(account, "reader", trusting(LAMBDA))
    await identity.delete_role(account, "reader")
    assert await sessions.session(account, role.arn, "s") is None


async def test_what_the_session_may_do_is_its_roles_policies_within_its_boundary(
    identity: IdentityService, tenant: BootstrapResult, sessions: ServiceRoleSessions
) -> None:
    account = tenant.tenant.id
    _, session = await session_of(sessions, identity, account, allowing("sqs:*"))
    queue = f"arn:aws:sqs:{REGION}:{account}:jobs"
    assert await sessions.allowed(session, "sqs:ReceiveMessage", queue)
    assert not await sessions.allowed(session, "sns:Publish", f"arn:aws:sns:{REGION}:{account}:t")
    boundary = await identity.create_policy(account, "only-send", allowing("sqs:SendMessage"))
    await identity.put_role_permissions_boundary(account, "worker", boundary.arn)
    assert not await sessions.allowed(session, "sqs:ReceiveMessage", queue)
    assert await sessions.allowed(session, "sqs:SendMessage", queue)


async def test_the_roles_tags_the_region_and_the_requests_keys_are_condition_keys(
    identity: IdentityService, tenant: BootstrapResult, sessions: ServiceRoleSessions
) -> None:
    account = tenant.tenant.id
    conditions = {
        "aws:PrincipalTag/team": "data",
        "aws:RequestedRegion": REGION,
        "aws:SourceArn": "arn:aws:events:eu-fr-1:1:rule/r",
    }
    policy = allowing("kinesis:PutRecord", StringEquals=conditions)
    _, session = await session_of(sessions, identity, account, policy)
    stream = f"arn:aws:kinesis:{REGION}:{account}:stream/s"
    keys = {"aws:SourceArn": "arn:aws:events:eu-fr-1:1:rule/r"}
    assert not await sessions.allowed(session, "kinesis:PutRecord", stream, keys=keys)
    await identity.tag_role(account, "worker", (("team", "data"),))
    assert not await sessions.allowed(session, "kinesis:PutRecord", stream)
    assert await sessions.allowed(session, "kinesis:PutRecord", stream, keys=keys)
    elsewhere = ServiceRoleSessions(identity, LAMBDA, "eu-de-1")
    assert not await elsewhere.allowed(session, "kinesis:PutRecord", stream, keys=keys)


async def test_another_accounts_resource_needs_its_policy_too(
    identity: IdentityService, tenant: BootstrapResult, sessions: ServiceRoleSessions
) -> None:
    account = tenant.tenant.id
    owner = (await identity.create_tenant("globex")).tenant.id
    role, session = await session_of(sessions, identity, account, allowing("s3:PutObject"))
    key = "arn:aws:s3:::shared/k"
    letting_in = document(
        {
            "Effect": "Allow",
            "Principal": {"AWS": role.arn},
            "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::shared/*",
        }
    )
    assert not await sessions.allowed(session, "s3:PutObject", key, resource_account=owner)
    assert await sessions.allowed(
        session, "s3:PutObject", key, resource_policy=letting_in, resource_account=owner
    )
    # The account's own resource: the role's policies suffice, a resource policy may deny.
    assert await sessions.allowed(session, "s3:PutObject", key, resource_account=account)
    denying = letting_in.replace('"Allow"', '"Deny"')
    assert not await sessions.allowed(
        session, "s3:PutObject", key, resource_policy=denying, resource_account=account
    )


async def test_one_of_a_pair_of_actions_is_enough(
    identity: IdentityService, tenant: BootstrapResult, sessions: ServiceRoleSessions
) -> None:
    account = tenant.tenant.id
    policy = allowing("firehose:PutRecordBatch")
    _, session = await session_of(sessions, identity, account, policy)
    stream = f"arn:aws:firehose:{REGION}:{account}:deliverystream/d"
    pair = ("firehose:PutRecord", "firehose:PutRecordBatch")
    assert await sessions.allowed_any(session, pair, stream)
    assert not await sessions.allowed_any(session, ("firehose:PutRecord",), stream)
    assert not await sessions.allowed_any(session, (), stream)
