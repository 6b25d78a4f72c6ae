"""STS AssumeRoleWithWebIdentity in process (decision 0087): unsigned calls with tokens of test
IdPs served in process; the trust policy's ``:sub`` and ``:aud`` conditions; a provider of
another account never opens a role; AWS's errors and answer; the audit record."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from botocore.credentials import Credentials

from andromede.iam.errors import IdpCommunicationError
from andromede.iam.web_identity import JwksCache
from support.asgi import post
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


# -- session tags and source identity from the token (decision 0089) -------------------------

TAGS = "https://aws.amazon.com/tags"
SOURCE = "https://aws.amazon.com/source_identity"


def tags_claim(tags: dict[str, str], transitive: list[str] | None = None) -> dict[str, Any]:
    claim: dict[str, Any] = {"principal_tags": {key: [value] for key, value in tags.items()}}
    if transitive is not None:
        claim["transitive_tag_keys"] = transitive
    return claim


async def tagging_role(
    root: Client,
    idp: IdentityProvider,
    actions: list[str],
    condition: dict[str, Any] | None = None,
    *documents: dict[str, Any],
) -> str:
    """A role trusting ``idp``'s provider for ``actions``, with ``documents`` as its policies."""
    provider_arn, role_arn = await setup_role(root, idp)
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Federated": provider_arn},
        "Action": actions,
    }
    if condition:
        statement["Condition"] = condition
    await root.call(
        "iam",
        "UpdateAssumeRolePolicy",
        RoleName="deploy",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )
    for index, document in enumerate(documents):
        await root.call(
            "iam",
            "PutRolePolicy",
            RoleName="deploy",
            PolicyName=f"p{index}",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [document]}),
        )
    return role_arn


def acting_as(world: World, answer: dict[str, Any]) -> Client:
    credentials = answer["Credentials"]
    return world.client(
        Credentials(credentials["AccessKeyId"], credentials["SecretAccessKey"]),
        credentials["SessionToken"],
    )


WEB_AND_TAGS = ["sts:AssumeRoleWithWebIdentity", "sts:TagSession"]
LIST_USERS_AS_BLUE = {
    "Effect": "Allow",
    "Action": "iam:ListUsers",
    "Resource": "*",
    "Condition": {"StringEquals": {"aws:PrincipalTag/team": "blue"}},
}


async def test_the_tokens_tags_are_the_sessions_tags_and_pass_on_when_transitive(
    world: World, root: Client, idps: dict[str, IdentityProvider]
) -> None:
    ops = idps["ops"]
    assume_any = {
        "Effect": "Allow",
        "Action": ["sts:AssumeRole", "sts:TagSession"],
        "Resource": "*",
    }
    role_arn = await tagging_role(root, ops, WEB_AND_TAGS, None, LIST_USERS_AS_BLUE, assume_any)
    blue = await assume(world, role_arn, ops.token(**{TAGS: tags_claim({"team": "blue"})}))
    assert 0 < blue["PackedPolicySize"] < 100  # the tags count, as AssumeRole's do
    await acting_as(world, blue).call("iam", "ListUsers")
    red = await assume(world, role_arn, ops.token(**{TAGS: tags_claim({"team": "red"})}))
    with pytest.raises(ApiError) as caught:
        await acting_as(world, red).call("iam", "ListUsers")
    assert caught.value.code == "AccessDenied"
    # Chained into another role, the transitive tag goes along, and may not be set again.
    account = f"arn:aws:iam::{world.tenant_id}:root"
    await root.call(
        "iam",
        "CreateRole",
        RoleName="next",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": account},
                        "Action": ["sts:AssumeRole", "sts:TagSession"],
                    }
                ],
            }
        ),
    )
    await root.call(
        "iam",
        "PutRolePolicy",
        RoleName="next",
        PolicyName="blue",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [LIST_USERS_AS_BLUE]}),
    )
    next_arn = f"arn:aws:iam::{world.tenant_id}:role/next"
    token = ops.token(**{TAGS: tags_claim({"team": "blue", "cost": "42"}, ["team"])})
    carrying = acting_as(world, await assume(world, role_arn, token))
    chained = await carrying.call("sts", "AssumeRole", RoleArn=next_arn, RoleSessionName="n1")
    await acting_as(world, chained).call("iam", "ListUsers")
    with pytest.raises(ApiError) as caught:
        await carrying.call(
            "sts",
            "AssumeRole",
            RoleArn=next_arn,
            RoleSessionName="n1",
            Tags=[{"Key": "team", "Value": "red"}],
        )
    assert caught.value.code == "InvalidParameterValue"


async def test_token_tags_need_sts_tag_session_and_meet_the_trust_policys_conditions(
    world: World, root: Client, idps: dict[str, IdentityProvider]
) -> None:
    ops = idps["ops"]
    tagged = ops.token(**{TAGS: tags_claim({"team": "blue"})})
    role_arn = await tagging_role(root, ops, ["sts:AssumeRoleWithWebIdentity"])
    error = await refused(world, role_arn, tagged)
    assert (error.code, error.message) == (
        "AccessDenied",
        f"Not authorized to perform sts:TagSession on {role_arn}",
    )
    assert await assume(world, role_arn, ops.token())  # untagged, as before
    only_blue = {
        "StringEquals": {"aws:RequestTag/team": "blue"},
        "ForAllValues:StringEquals": {"aws:TagKeys": ["team"]},
    }
    await root.call("iam", "DeleteRole", RoleName="deploy")
    await root.call(
        "iam",
        "DeleteOpenIDConnectProvider",
        OpenIDConnectProviderArn=f"arn:aws:iam::{world.tenant_id}:oidc-provider/{ops.url}",
    )
    role_arn = await tagging_role(root, ops, WEB_AND_TAGS, only_blue)
    assert await assume(world, role_arn, tagged)
    for tags in ({"team": "red"}, {"team": "blue", "cost": "42"}):
        error = await refused(world, role_arn, ops.token(**{TAGS: tags_claim(tags)}))
        assert error.code == "AccessDenied", tags


async def test_token_tags_are_held_to_assume_roles_limits(
    world: World, root: Client, idps: dict[str, IdentityProvider]
) -> None:
    ops = idps["ops"]
    role_arn = await tagging_role(root, ops, WEB_AND_TAGS)
    for tags, code in [
        ({f"k{i}": "v" for i in range(51)}, "LimitExceeded"),
        ({"k" * 129: "v"}, "ValidationError"),
        ({"team": "v" * 257}, "ValidationError"),
        ({"aws:team": "blue"}, "ValidationError"),
        ({"team": "blue", "TEAM": "red"}, "ValidationError"),
        ({f"k{i}": "v" * 250 for i in range(10)}, "PackedPolicyTooLarge"),
    ]:
        error = await refused(world, role_arn, ops.token(**{TAGS: tags_claim(tags)}))
        assert error.code == code, list(tags)[:2]


async def test_a_malformed_tags_claim_is_an_invalid_token(
    world: World, root: Client, idps: dict[str, IdentityProvider]
) -> None:
    ops = idps["ops"]
    role_arn = await tagging_role(root, ops, WEB_AND_TAGS)
    for claim in (
        "team=blue",
        {"principal_tags": ["team", "blue"]},
        {"principal_tags": {"team": "blue"}},  # a string, not a list of one
        {"principal_tags": {"team": ["blue", "red"]}},
        {"principal_tags": {"team": [7]}},
        {"principal_tags": {"team": ["blue"]}, "transitive_tag_keys": "team"},
        {"principal_tags": {"team": ["blue"]}, "transitive_tag_keys": ["cost"]},
    ):
        error = await refused(world, role_arn, ops.token(**{TAGS: claim}))
        assert (error.status, error.code) == (400, "InvalidIdentityToken"), claim


WEB_AND_SOURCE = ["sts:AssumeRoleWithWebIdentity", "sts:SetSourceIdentity"]


async def test_the_tokens_source_identity_is_the_sessions(
    world: World, root: Client, idps: dict[str, IdentityProvider]
) -> None:
    ops = idps["ops"]
    only_alice = {
        "Effect": "Allow",
        "Action": "iam:ListUsers",
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:SourceIdentity": "alice"}},
    }
    role_arn = await tagging_role(
        root, ops, WEB_AND_SOURCE, {"StringLike": {"sts:SourceIdentity": "*"}}, only_alice
    )
    answer = await assume(world, role_arn, ops.token(**{SOURCE: "alice"}))
    assert answer["SourceIdentity"] == "alice"
    await acting_as(world, answer).call("iam", "ListUsers")
    carol = await assume(world, role_arn, ops.token(**{SOURCE: "carol"}))
    with pytest.raises(ApiError) as caught:
        await acting_as(world, carol).call("iam", "ListUsers")
    assert caught.value.code == "AccessDenied"
    # The trust policy asks for one: a token without is refused.
    assert (await refused(world, role_arn, ops.token())).code == "AccessDenied"
    for bad in ("a", "x" * 65, "alice smith", "aws:alice", 42):
        error = await refused(world, role_arn, ops.token(**{SOURCE: bad}))
        assert error.code == "InvalidIdentityToken", bad
    await world.audit.flush()
    events = [
        e
        for _, e in await world.audit_store.list_events(None, after_id=0, limit=100)
        if e.action == "sts:AssumeRoleWithWebIdentity" and e.outcome.value == "success"
    ]
    assert [e.details.get("source_identity") for e in events] == ["alice", "carol"]


async def test_setting_a_source_identity_needs_sts_set_source_identity(
    world: World, root: Client, idps: dict[str, IdentityProvider]
) -> None:
    ops = idps["ops"]
    role_arn = await tagging_role(root, ops, ["sts:AssumeRoleWithWebIdentity"])
    error = await refused(world, role_arn, ops.token(**{SOURCE: "alice"}))
    assert error.message == f"Not authorized to perform sts:SetSourceIdentity on {role_arn}"


async def post_sts(world: World, **params: str) -> tuple[int, bytes]:
    """AssumeRoleWithWebIdentity as a raw form, for what botocore's model does not send."""
    body = urlencode(
        {"Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15", **params}
    ).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    status, _, answer = await post(world.apps["sts"], headers, body, ("192.0.2.10", 40000))
    return status, answer


async def test_a_source_identity_parameter_never_overrides_the_tokens(
    world: World, root: Client, idps: dict[str, IdentityProvider]
) -> None:
    ops = idps["ops"]
    role_arn = await tagging_role(root, ops, WEB_AND_SOURCE)
    common = {"RoleArn": role_arn, "RoleSessionName": "s1"}
    status, answer = await post_sts(
        world, WebIdentityToken=ops.token(), SourceIdentity="bob", **common
    )
    assert status == 200 and b"<SourceIdentity>bob</SourceIdentity>" in answer
    claimed = ops.token(**{SOURCE: "alice"})
    status, answer = await post_sts(
        world, WebIdentityToken=claimed, SourceIdentity="alice", **common
    )
    assert status == 200 and b"<SourceIdentity>alice</SourceIdentity>" in answer
    status, answer = await post_sts(world, WebIdentityToken=claimed, SourceIdentity="bob", **common)
    assert status == 400 and b"<Code>InvalidParameterValue</Code>" in answer
    status, answer = await post_sts(
        world, WebIdentityToken=ops.token(), SourceIdentity="a b", **common
    )
    assert status == 400 and b"<Code>ValidationError</Code>" in answer
