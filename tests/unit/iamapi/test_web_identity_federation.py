"""STS AssumeRoleWithWebIdentity in process (decision 0087): unsigned calls with tokens of test
IdPs served in process; the trust policy's ``:sub`` and ``:aud`` conditions; a provider of
another account never opens a role; AWS's errors and answer; the audit record."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from botocore.credentials import Credentials

from andromede.iam.errors import IdpCommunicationError
from andromede.iam.web_identity import JwksCache
from support.clock import Clock
from support.oidc import IdentityProvider
from support.queryapp import ApiError, Client, World, query_world

SUB = "repo:acme/site:ref:refs/heads/main"


@pytest.fixture
def idps() -> dict[str, IdentityProvider]:
    return {
        "ops": IdentityProvider("https://idp.example/realms/ops"),
        "evil": IdentityProvider("https://evil.example"),
    }


@pytest.fixture
async def world(
    clock: Clock, tmp_path: Path, idps: dict[str, IdentityProvider]
) -> AsyncIterator[World]:
    async def fetch(url: str) -> bytes:
        for idp in idps.values():
            if url.startswith(idp.issuer):
                return await idp.fetch(url)
        raise IdpCommunicationError(url)

    async with query_world(clock, tmp_path / "data", JwksCache(fetch)) as created:
        yield created


def trust(provider_arn: str, url: str, **conditions: str) -> str:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Federated": provider_arn},
        "Action": "sts:AssumeRoleWithWebIdentity",
    }
    if conditions:
        statement["Condition"] = {
            "StringEquals": {f"{url}:{key}": value for key, value in conditions.items()}
        }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


async def setup_role(
    root: Client,
    idp: IdentityProvider,
    *,
    name: str = "deploy",
    max_session: int = 3600,
    **conditions: str,
) -> tuple[str, str]:
    """The account's provider of ``idp`` and a role trusting it: (provider ARN, role ARN)."""
    created = await root.call(
        "iam",
        "CreateOpenIDConnectProvider",
        Url=idp.issuer,
        ClientIDList=["sts.amazonaws.com"],
    )
    arn = created["OpenIDConnectProviderArn"]
    role = await root.call(
        "iam",
        "CreateRole",
        RoleName=name,
        AssumeRolePolicyDocument=trust(arn, idp.url, **conditions),
        MaxSessionDuration=max_session,
    )
    return arn, role["Role"]["Arn"]


async def assume(world: World, role_arn: str, token: str, **params: Any) -> dict[str, Any]:
    return await world.client(None).call(
        "sts",
        "AssumeRoleWithWebIdentity",
        RoleArn=role_arn,
        RoleSessionName=params.pop("RoleSessionName", "ci-run-42"),
        WebIdentityToken=token,
        **params,
    )


async def refused(world: World, role_arn: str, token: str, **params: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        await assume(world, role_arn, token, **params)
    return caught.value


async def test_a_trusted_token_gets_the_roles_credentials_as_aws_answers_them(
    world: World, root: Client, idps: dict[str, IdentityProvider]
) -> None:
    ops = idps["ops"]
    provider_arn, role_arn = await setup_role(root, ops, sub=SUB, aud="sts.amazonaws.com")
    answer = await assume(world, role_arn, ops.token(sub=SUB), DurationSeconds=900)
    session = f"arn:aws:sts::{world.tenant_id}:assumed-role/deploy/ci-run-42"
    assert answer["AssumedRoleUser"]["Arn"] == session
    assert answer["AssumedRoleUser"]["AssumedRoleId"].endswith(":ci-run-42")
    assert answer["SubjectFromWebIdentityToken"] == SUB
    assert answer["Audience"] == "sts.amazonaws.com"
    assert answer["Provider"] == "idp.example/realms/ops"
    assert "PackedPolicySize" not in answer
    credentials = answer["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA")
    lasts = credentials["Expiration"].timestamp() - world.clock.now
    assert 800 < lasts <= 900
    acting = world.client(
        Credentials(credentials["AccessKeyId"], credentials["SecretAccessKey"]),
        credentials["SessionToken"],
    )
    assert (await acting.call("sts", "GetCallerIdentity"))["Arn"] == session
    del provider_arn


async def test_the_trust_policy_conditions_on_sub_and_aud_decide(
    world: World, root: Client, idps: dict[str, IdentityProvider]
) -> None:
    ops = idps["ops"]
    provider_arn, role_arn = await setup_role(root, ops, sub=SUB)
    other = await refused(world, role_arn, ops.token(sub="repo:acme/site:pull_request"))
    assert (other.status, other.code) == (403, "AccessDenied")
    assert "pull_request" not in other.message  # the refusal names neither subject nor rule
    await root.call(
        "iam",
        "AddClientIDToOpenIDConnectProvider",
        OpenIDConnectProviderArn=provider_arn,
        ClientID="web-app",
    )
    await root.call(
        "iam",
        "UpdateAssumeRolePolicy",
        RoleName="deploy",
        PolicyDocument=trust(provider_arn, ops.url, aud="web-app"),
    )
    assert await assume(world, role_arn, ops.token(aud="web-app"))
    denied = await refused(world, role_arn, ops.token(aud="sts.amazonaws.com"))
    assert denied.code == "AccessDenied"


async def test_a_role_that_trusts_no_provider_or_does_not_exist_is_refused_alike(
    world: World, root: Client, idps: dict[str, IdentityProvider]
) -> None:
    ops = idps["ops"]
    await setup_role(root, ops)
    await root.call(
        "iam",
        "CreateRole",
        RoleName="internal",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": world.tenant_id},
                        "Action": "sts:AssumeRoleWithWebIdentity",
                    }
                ],
            }
        ),
    )
    for name in ("internal", "none-such"):
        error = await refused(world, f"arn:aws:iam::{world.tenant_id}:role/{name}", ops.token())
        assert error.code == "AccessDenied"
        assert error.message.startswith("Not authorized to perform sts:AssumeRoleWithWebIdentity")


async def test_another_tenants_provider_never_opens_a_role(
    world: World, root: Client, idps: dict[str, IdentityProvider]
) -> None:
    """An intruder registers its own IdP in its own account; the victim's role even names that
    provider in its trust policy. The issuer must be a provider of the role's own account."""
    evil = idps["evil"]
    _, intruder_keys = await world.new_tenant("intruder")
    intruder = world.client(intruder_keys)
    theirs = await intruder.call(
        "iam", "CreateOpenIDConnectProvider", Url=evil.issuer, ClientIDList=["sts.amazonaws.com"]
    )
    victim_role = await root.call(
        "iam",
        "CreateRole",
        RoleName="victim",
        AssumeRolePolicyDocument=trust(theirs["OpenIDConnectProviderArn"], evil.url),
    )
    error = await refused(world, victim_role["Role"]["Arn"], evil.token())
    assert error.code == "InvalidIdentityToken"
    assert evil.fetched == []  # the victim's account has no such provider: nothing fetched
    # The same issuer registered in both accounts, with its own client ids in each: the
    # intruder's audience is not the victim's.
    ops = idps["ops"]
    _, role_arn = await setup_role(root, ops)
    await intruder.call(
        "iam", "CreateOpenIDConnectProvider", Url=ops.issuer, ClientIDList=["intruder-app"]
    )
    error = await refused(world, role_arn, ops.token(aud="intruder-app"))
    assert error.code == "InvalidIdentityToken"


async def test_token_errors_have_stss_codes(
    world: World, root: Client, idps: dict[str, IdentityProvider]
) -> None:
    ops = idps["ops"]
    _, role_arn = await setup_role(root, ops)
    cases = [
        (ops.token(lifetime=-3600), 400, "ExpiredTokenException"),
        ("not-a-jwt-at-all", 400, "InvalidIdentityToken"),
        (ops.token(aud="other"), 400, "InvalidIdentityToken"),
        (ops.token(sub=None), 403, "IDPRejectedClaim"),
        (idps["evil"].token(), 400, "InvalidIdentityToken"),
    ]
    for token, status, code in cases:
        error = await refused(world, role_arn, token)
        assert (error.status, error.code) == (status, code), token
    ops.down = True
    world.identity._web_identity_keys = JwksCache(ops.fetch)  # nothing cached
    error = await refused(world, role_arn, ops.token())
    assert (error.status, error.code) == (400, "IDPCommunicationError")


async def test_parameters_are_checked_as_sts_checks_them(
    world: World, root: Client, idps: dict[str, IdentityProvider]
) -> None:
    ops = idps["ops"]
    _, role_arn = await setup_role(root, ops)
    token = ops.token()
    for params, code in [
        ({"DurationSeconds": 899}, "ValidationError"),
        ({"DurationSeconds": 7200}, "ValidationError"),  # over the role's MaxSessionDuration
        ({"RoleSessionName": "a"}, "ValidationError"),
        ({"RoleSessionName": "spaces are not allowed"}, "ValidationError"),
        ({"ProviderId": "www.amazon.com"}, "InvalidParameterValue"),
        ({"Policy": "{not json"}, "MalformedPolicyDocument"),
        ({"Policy": json.dumps({"Statement": [{"Effect": "Allow", "Action": "s3:*",
                                               "Resource": "*", "Sid": "x" * 2100}]})},
         "PackedPolicyTooLarge"),
    ]:  # fmt: skip
        error = await refused(world, role_arn, token, **params)
        assert error.code == code, params
    error = await refused(world, "arn:aws:iam::bad", token)
    assert error.code == "ValidationError"


async def test_a_session_policy_narrows_the_session(
    world: World, root: Client, idps: dict[str, IdentityProvider]
) -> None:
    ops = idps["ops"]
    _, role_arn = await setup_role(root, ops)
    await root.call(
        "iam",
        "PutRolePolicy",
        RoleName="deploy",
        PolicyName="iam",
        PolicyDocument=json.dumps(
            {"Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]}
        ),
    )
    narrow = json.dumps(
        {"Statement": [{"Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*"}]}
    )
    answer = await assume(world, role_arn, ops.token(), Policy=narrow)
    assert 0 < answer["PackedPolicySize"] < 100
    credentials = answer["Credentials"]
    acting = world.client(
        Credentials(credentials["AccessKeyId"], credentials["SecretAccessKey"]),
        credentials["SessionToken"],
    )
    await acting.call("iam", "ListUsers")
    with pytest.raises(ApiError) as caught:
        await acting.call("iam", "ListRoles")
    assert caught.value.code == "AccessDenied"


async def test_other_sts_actions_stay_refused_unsigned(world: World) -> None:
    anonymous = world.client(None)
    for action, params in (
        ("GetCallerIdentity", {}),
        ("AssumeRole", {"RoleArn": "arn:aws:iam::123456789012:role/x", "RoleSessionName": "s"}),
    ):
        with pytest.raises(ApiError) as caught:
            await anonymous.call("sts", action, **params)
        assert caught.value.code == "MissingAuthenticationToken"


async def test_every_call_is_audited_with_subject_and_issuer_never_the_token(
    world: World, root: Client, idps: dict[str, IdentityProvider]
) -> None:
    ops = idps["ops"]
    provider_arn, role_arn = await setup_role(root, ops, sub=SUB)
    good, bad = ops.token(sub=SUB), ops.token(sub="someone-else")
    await assume(world, role_arn, good)
    await refused(world, role_arn, bad)
    await refused(world, role_arn, "garbage-token")
    await world.audit.flush()
    events = [
        e
        for _, e in await world.audit_store.list_events(None, after_id=0, limit=100)
        if e.action == "sts:AssumeRoleWithWebIdentity"
    ]
    assert [e.outcome.value for e in events] == ["success", "failure", "failure"]
    ok, denied, garbage = events
    assert (ok.tenant_id, ok.principal, ok.resource) == (world.tenant_id, provider_arn, role_arn)
    assert ok.details["subject"] == SUB and ok.details["issuer"] == ops.issuer
    assert ok.details["session"].endswith(":assumed-role/deploy/ci-run-42")
    assert denied.details["subject"] == "someone-else" and denied.details["status"] == "403"
    assert garbage.tenant_id is None and garbage.principal is None
    for event in events:
        assert all(good not in v and bad not in v for v in event.details.values())


async def test_unsigned_calls_are_throttled_per_client_address(
    clock: Clock, tmp_path: Path
) -> None:
    """The unsigned action has no access key to count by: each client address gets
    ``rate_limit_unsigned_per_address`` calls a second per worker, then Throttling, before any
    token is looked at. Signed calls are not counted against it."""

    async def unreachable(url: str) -> bytes:
        raise IdpCommunicationError(url)

    async with query_world(
        clock, tmp_path / "data", JwksCache(unreachable), rate_limit_unsigned_per_address=2.0
    ) as world:
        anonymous = world.client(None)
        codes = []
        for _ in range(3):
            with pytest.raises(ApiError) as caught:
                await anonymous.call(
                    "sts",
                    "AssumeRoleWithWebIdentity",
                    RoleArn=f"arn:aws:iam::{world.tenant_id}:role/none",
                    RoleSessionName="session",
                    WebIdentityToken="not-a-token",
                )
            codes.append(caught.value.code)
        assert codes == ["InvalidIdentityToken", "InvalidIdentityToken", "Throttling"]
        signed = world.client(world.root)
        for _ in range(3):
            await signed.call("sts", "GetCallerIdentity")
