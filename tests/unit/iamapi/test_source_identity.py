"""STS source identity on AssumeRole (decision 0089): AWS's characters and length; the trust
policy's ``sts:SetSourceIdentity`` and ``sts:SourceIdentity``; fixed through role chaining; the
session's requests carry ``aws:SourceIdentity`` to IAM and S3 policies and to the audit trail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from support.queryapp import ApiError, Client, World
from unit.iamapi.test_sts import new_user, policy, s3_app_on, s3_client, s3_session, session_client

ASSUME = ["sts:AssumeRole", "sts:SetSourceIdentity"]


def trust(principal: str, actions: list[str] | str = ASSUME, **condition: Any) -> str:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": principal},
        "Action": actions,
    }
    if condition:
        statement["Condition"] = condition
    return policy(statement)


async def new_role(root: Client, name: str, trust_policy: str, *documents: str) -> str:
    role = await root.call(
        "iam", "CreateRole", RoleName=name, AssumeRolePolicyDocument=trust_policy
    )
    for index, document in enumerate(documents):
        await root.call(
            "iam", "PutRolePolicy", RoleName=name, PolicyName=f"p{index}", PolicyDocument=document
        )
    return str(role["Role"]["Arn"])


async def refused(client: Client, **params: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        await client.call("sts", "AssumeRole", RoleSessionName="s1", **params)
    return caught.value


async def test_the_value_must_be_2_to_64_of_awss_characters(root: Client, world: World) -> None:
    bob = await new_user(root, world, "bob")
    role = await new_role(root, "shared", trust(f"arn:aws:iam::{world.tenant_id}:user/bob"))
    for bad in ("a", "x" * 65, "alice smith", "alice/ops", "aws:alice", "AWS:x"):
        error = await refused(bob, RoleArn=role, SourceIdentity=bad)
        assert error.code == "ValidationError", bad
    for good in ("ab", "x" * 64, "alice@example.com", "a_b+c=d,e.f@g-h"):
        answer = await bob.call(
            "sts", "AssumeRole", RoleArn=role, RoleSessionName="s1", SourceIdentity=good
        )
        assert answer["SourceIdentity"] == good


async def test_setting_it_needs_sts_set_source_identity_in_the_trust_policy(
    root: Client, world: World
) -> None:
    bob = await new_user(root, world, "bob")
    bob_arn = f"arn:aws:iam::{world.tenant_id}:user/bob"
    role = await new_role(root, "plain", trust(bob_arn, "sts:AssumeRole"))
    error = await refused(bob, RoleArn=role, SourceIdentity="alice")
    assert error.code == "AccessDenied"
    assert "sts:SetSourceIdentity" in error.message
    answer = await bob.call("sts", "AssumeRole", RoleArn=role, RoleSessionName="s1")
    assert "SourceIdentity" not in answer  # without one, the role is assumed as before


async def test_the_trust_policy_sees_sts_source_identity(root: Client, world: World) -> None:
    bob = await new_user(root, world, "bob")
    bob_arn = f"arn:aws:iam::{world.tenant_id}:user/bob"
    required = trust(bob_arn, StringLike={"sts:SourceIdentity": "*@example.com"})
    role = await new_role(root, "guarded", required)
    assert (await refused(bob, RoleArn=role)).code == "AccessDenied"  # none given
    assert (await refused(bob, RoleArn=role, SourceIdentity="mallory")).code == "AccessDenied"
    await bob.call(
        "sts", "AssumeRole", RoleArn=role, RoleSessionName="s1", SourceIdentity="alice@example.com"
    )


async def test_it_is_fixed_through_role_chaining(root: Client, world: World) -> None:
    bob = await new_user(root, world, "bob")
    bob_arn = f"arn:aws:iam::{world.tenant_id}:user/bob"
    account = f"arn:aws:iam::{world.tenant_id}:root"
    first = await new_role(
        root,
        "first",
        trust(bob_arn),
        policy({"Effect": "Allow", "Action": "sts:*", "Resource": "*"}),
    )
    second = await new_role(
        root,
        "second",
        trust(account),
        policy({"Effect": "Allow", "Action": "sts:*", "Resource": "*"}),
    )
    plain = await new_role(root, "plain", trust(account, "sts:AssumeRole"))
    answer = await bob.call(
        "sts", "AssumeRole", RoleArn=first, RoleSessionName="s1", SourceIdentity="alice"
    )
    session = session_client(world, answer)
    # Another value is refused; the same, or none, keeps it.
    error = await refused(session, RoleArn=second, SourceIdentity="mallory")
    assert error.code == "AccessDenied"
    for params in ({}, {"SourceIdentity": "alice"}):
        chained = await session.call(
            "sts", "AssumeRole", RoleArn=second, RoleSessionName="s2", **params
        )
        assert chained["SourceIdentity"] == "alice"
        again = session_client(world, chained)
        third = await again.call("sts", "AssumeRole", RoleArn=second, RoleSessionName="s3")
        assert third["SourceIdentity"] == "alice"  # and on, down the chain
    # Carried on, it still needs the next trust policy's sts:SetSourceIdentity.
    error = await refused(session, RoleArn=plain)
    assert error.code == "AccessDenied"


async def test_iam_policies_see_aws_source_identity(root: Client, world: World) -> None:
    bob = await new_user(root, world, "bob")
    only_alice = policy(
        {
            "Effect": "Allow",
            "Action": "iam:ListUsers",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceIdentity": "alice"}},
        }
    )
    role = await new_role(
        root, "shared", trust(f"arn:aws:iam::{world.tenant_id}:user/bob"), only_alice
    )
    sessions = {}
    for name, params in (
        ("alice", {"SourceIdentity": "alice"}),
        ("carol", {"SourceIdentity": "carol"}),
        ("none", {}),
    ):
        answer = await bob.call("sts", "AssumeRole", RoleArn=role, RoleSessionName="s1", **params)
        sessions[name] = session_client(world, answer)
    await sessions["alice"].call("iam", "ListUsers")
    for name in ("carol", "none"):
        with pytest.raises(ApiError) as caught:
            await sessions[name].call("iam", "ListUsers")
        assert caught.value.code == "AccessDenied", name


async def test_a_bucket_policy_sees_aws_source_identity(
    root: Client, world: World, tmp_path: Path
) -> None:
    app = s3_app_on(world, tmp_path)
    assert world.root is not None
    owner = s3_client(world, app, world.root)
    assert (await owner.request("PUT", "/audited")).status == 200
    assert (await owner.request("PUT", "/audited/report", b"numbers")).status == 200
    bob = await new_user(root, world, "bob")
    role = await new_role(root, "reader", trust(f"arn:aws:iam::{world.tenant_id}:user/bob"))
    role_arn = f"arn:aws:iam::{world.tenant_id}:role/reader"
    bucket_policy = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": role_arn},
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::audited/*",
            "Condition": {"StringEquals": {"aws:SourceIdentity": "alice"}},
        }
    )
    assert (await owner.request("PUT", "/audited?policy", bucket_policy.encode())).status == 204
    alice = s3_session(
        world,
        app,
        await bob.call(
            "sts", "AssumeRole", RoleArn=role, RoleSessionName="s1", SourceIdentity="alice"
        ),
    )
    carol = s3_session(
        world,
        app,
        await bob.call(
            "sts", "AssumeRole", RoleArn=role, RoleSessionName="s1", SourceIdentity="carol"
        ),
    )
    nobody = s3_session(
        world, app, await bob.call("sts", "AssumeRole", RoleArn=role, RoleSessionName="s1")
    )
    assert (await alice.request("GET", "/audited/report")).body == b"numbers"
    assert (await carol.request("GET", "/audited/report")).status == 403
    assert (await nobody.request("GET", "/audited/report")).status == 403


async def test_the_sessions_requests_are_audited_with_it(
    root: Client, world: World, tmp_path: Path
) -> None:
    bob = await new_user(root, world, "bob")
    role = await new_role(
        root,
        "admin",
        trust(f"arn:aws:iam::{world.tenant_id}:user/bob"),
        policy({"Effect": "Allow", "Action": ["iam:*", "s3:*"], "Resource": "*"}),
    )
    answer = await bob.call(
        "sts", "AssumeRole", RoleArn=role, RoleSessionName="s1", SourceIdentity="alice"
    )
    await session_client(world, answer).call("iam", "CreateUser", UserName="made-by-alice")
    app = s3_app_on(world, tmp_path)
    assert (await s3_session(world, app, answer).request("PUT", "/alices-bucket")).status == 200
    plain = await bob.call("sts", "AssumeRole", RoleArn=role, RoleSessionName="s2")
    await session_client(world, plain).call("iam", "CreateUser", UserName="made-by-someone")
    await world.audit.flush()
    events = [e for _, e in await world.audit_store.list_events(None, after_id=0, limit=100)]
    by_session = [
        (e.action, e.principal.rsplit("/", 1)[-1], e.details.get("source_identity"))
        for e in events
        if e.principal is not None and ":assumed-role/" in e.principal
    ]
    assert by_session == [
        ("iam:CreateUser", "s1", "alice"),
        ("s3:CreateBucket", "s1", "alice"),
        ("iam:CreateUser", "s2", None),
    ]
    # Bob's AssumeRole itself is bob's request, not yet the session's.
    assumed = [e for e in events if e.action == "sts:AssumeRole"]
    assert [e.details.get("source_identity") for e in assumed] == [None, None]
