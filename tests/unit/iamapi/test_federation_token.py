"""STS GetFederationToken (decision 0093): a user's long-term key federates a named user whose
permissions are the user's within the session policies (none without any); a resource policy
naming the federated session lets it in alone, one naming the user only within the session
policies; the session calls no IAM action and no STS action but GetCallerIdentity; its tags
stand over the user's; root may federate, for an hour at most; every refusal is AWS's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from support.queryapp import ApiError, Client, World
from unit.iamapi.test_sts import (
    allow,
    new_user,
    policy,
    s3_app_on,
    s3_client,
    s3_session,
    session_client,
)

S3_READ_WRITE = policy(allow("s3:*"), allow("sts:GetFederationToken"), allow("sts:TagSession"))


async def federate(client: Client, name: str = "alice", **params: Any) -> dict[str, Any]:
    answer: dict[str, Any] = await client.call("sts", "GetFederationToken", Name=name, **params)
    return answer


async def refused(client: Client, **params: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        await client.call("sts", "GetFederationToken", **params)
    return caught.value


async def test_the_federated_user_and_its_identity(root: Client, world: World) -> None:
    bob = await new_user(root, world, "bob", S3_READ_WRITE)
    answer = await federate(bob, DurationSeconds=900)
    arn = f"arn:aws:sts::{world.tenant_id}:federated-user/alice"
    assert answer["FederatedUser"] == {
        "FederatedUserId": f"{world.tenant_id}:alice",
        "Arn": arn,
    }
    credentials = answer["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA")
    assert credentials["Expiration"].timestamp() - world.clock.now == pytest.approx(900, abs=2)
    me = await session_client(world, answer).call("sts", "GetCallerIdentity")
    assert (me["Arn"], me["UserId"], me["Account"]) == (
        arn,
        f"{world.tenant_id}:alice",
        world.tenant_id,
    )


async def test_parameters_are_checked_as_sts_does(root: Client, world: World) -> None:
    bob = await new_user(root, world, "bob", S3_READ_WRITE)
    for bad in ("a", "x" * 33, "alice smith", "alice/ops"):
        assert (await refused(bob, Name=bad)).code == "ValidationError", bad
    for duration in (899, 129601):
        error = await refused(bob, Name="alice", DurationSeconds=duration)
        assert error.code == "ValidationError", duration
    assert (await refused(bob, Name="alice", Policy="{not json")).code == "MalformedPolicyDocument"
    for good in ("ab", "x" * 32, "a_b+c=d,e.f@g-h"):
        await federate(bob, good)
    answer = await federate(bob, DurationSeconds=129600)
    assert answer["Credentials"]["Expiration"].timestamp() - world.clock.now == pytest.approx(
        129600, abs=2
    )


async def test_it_needs_sts_get_federation_token_on_the_federated_user(
    root: Client, world: World
) -> None:
    only_alice = policy(
        allow("sts:GetFederationToken", f"arn:aws:sts::{world.tenant_id}:federated-user/alice")
    )
    bob = await new_user(root, world, "bob", only_alice)
    await federate(bob, "alice")
    error = await refused(bob, Name="mallory")
    assert error.code == "AccessDenied"
    assert "sts:GetFederationToken" in error.message
    nobody = await new_user(root, world, "carol")
    assert (await refused(nobody, Name="alice")).code == "AccessDenied"


async def test_only_a_long_term_key_federates(root: Client, world: World) -> None:
    bob = await new_user(root, world, "bob", S3_READ_WRITE)
    session = session_client(world, await bob.call("sts", "GetSessionToken"))
    error = await refused(session, Name="alice")
    assert error.code == "AccessDenied"
    federated = session_client(world, await federate(bob))
    assert (await refused(federated, Name="again")).code == "AccessDenied"


async def test_without_a_session_policy_it_may_do_nothing(
    root: Client, world: World, tmp_path: Path
) -> None:
    app = s3_app_on(world, tmp_path)
    bob = await new_user(root, world, "bob", S3_READ_WRITE)
    bare = s3_session(world, app, await federate(bob))
    assert (await bare.request("PUT", "/federated-bucket")).status == 403


async def test_its_permissions_are_the_users_within_the_session_policy(
    root: Client, world: World, tmp_path: Path
) -> None:
    app = s3_app_on(world, tmp_path)
    assert world.root is not None
    owner = s3_client(world, app, world.root)
    for bucket in ("/reports", "/private"):
        assert (await owner.request("PUT", bucket)).status == 200
        assert (await owner.request("PUT", f"{bucket}/q1", b"numbers")).status == 200
    bob = await new_user(
        root,
        world,
        "bob",
        policy(
            allow("s3:GetObject", "arn:aws:s3:::reports/*"),
            allow("sts:GetFederationToken"),
        ),
    )
    wide = policy(allow("s3:*"))  # wider than bob: the session cannot grant more than him
    session = s3_session(world, app, await federate(bob, Policy=wide))
    assert (await session.request("GET", "/reports/q1")).body == b"numbers"
    assert (await session.request("GET", "/private/q1")).status == 403  # not bob's
    assert (await session.request("PUT", "/reports/q2", b"x")).status == 403  # not bob's
    narrow = policy(allow("s3:ListBucket"))
    session = s3_session(world, app, await federate(bob, Policy=narrow))
    assert (await session.request("GET", "/reports/q1")).status == 403  # not the session's


async def test_a_bucket_policy_naming_the_session_lets_it_in_alone(
    root: Client, world: World, tmp_path: Path
) -> None:
    app = s3_app_on(world, tmp_path)
    assert world.root is not None
    owner = s3_client(world, app, world.root)
    assert (await owner.request("PUT", "/shared")).status == 200
    assert (await owner.request("PUT", "/shared/doc", b"hello")).status == 200
    federated = f"arn:aws:sts::{world.tenant_id}:federated-user/alice"
    user = f"arn:aws:iam::{world.tenant_id}:user/bob"
    bucket_policy = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": federated},
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::shared/*",
        },
        {
            "Effect": "Allow",
            "Principal": {"AWS": user},
            "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::shared/*",
        },
    )
    assert (await owner.request("PUT", "/shared?policy", bucket_policy.encode())).status == 204
    bob = await new_user(root, world, "bob", policy(allow("sts:GetFederationToken")))
    # Named itself: no session policy needed, none limits it.
    alice = s3_session(world, app, await federate(bob, "alice"))
    assert (await alice.request("GET", "/shared/doc")).body == b"hello"
    carol = s3_session(world, app, await federate(bob, "carol"))
    assert (await carol.request("GET", "/shared/doc")).status == 403  # another session
    # Naming bob: within the session policy only.
    assert (await alice.request("PUT", "/shared/new", b"x")).status == 403
    writer = s3_session(world, app, await federate(bob, "alice", Policy=policy(allow("s3:Put*"))))
    assert (await writer.request("PUT", "/shared/new", b"x")).status == 200


async def test_it_calls_no_iam_and_no_sts_but_get_caller_identity(
    root: Client, world: World
) -> None:
    everything = policy(allow("*"))
    bob = await new_user(root, world, "bob", everything)
    federated = session_client(world, await federate(bob, Policy=everything))
    for service, action, params in (
        ("iam", "ListUsers", {}),
        ("iam", "CreateUser", {"UserName": "sneaky"}),
        ("sts", "GetSessionToken", {}),
        ("sts", "AssumeRole", {"RoleArn": f"arn:aws:iam::{world.tenant_id}:role/r",
                               "RoleSessionName": "s"}),
    ):  # fmt: skip
        with pytest.raises(ApiError) as caught:
            await federated.call(service, action, **params)
        assert caught.value.code == "AccessDenied", action
    users = (await root.call("iam", "ListUsers"))["Users"]
    assert [u["UserName"] for u in users] == ["bob"]


async def test_session_tags_stand_over_the_users_and_need_tag_session(
    root: Client, world: World, tmp_path: Path
) -> None:
    app = s3_app_on(world, tmp_path)
    assert world.root is not None
    owner = s3_client(world, app, world.root)
    assert (await owner.request("PUT", "/teams")).status == 200
    assert (await owner.request("PUT", "/teams/blue", b"blue")).status == 200
    by_team = policy(
        allow(
            "s3:GetObject",
            "arn:aws:s3:::teams/*",
            Condition={"StringEquals": {"aws:PrincipalTag/team": "blue"}},
        ),
        allow("sts:GetFederationToken"),
    )
    bob = await new_user(root, world, "bob", by_team)
    await root.call("iam", "TagUser", UserName="bob", Tags=[{"Key": "team", "Value": "red"}])
    tags = [{"Key": "team", "Value": "blue"}]
    error = await refused(bob, Name="alice", Tags=tags)
    assert error.code == "AccessDenied"
    assert "sts:TagSession" in error.message
    await root.call(
        "iam",
        "PutUserPolicy",
        UserName="bob",
        PolicyName="tagging",
        PolicyDocument=policy(allow("sts:TagSession")),
    )
    read = policy(allow("s3:GetObject"))
    blue = s3_session(world, app, await federate(bob, Policy=read, Tags=tags))
    assert (await blue.request("GET", "/teams/blue")).body == b"blue"
    red = s3_session(world, app, await federate(bob, Policy=read))  # bob's own tag
    assert (await red.request("GET", "/teams/blue")).status == 403


async def test_root_federates_for_an_hour_at_most_within_the_session_policy(
    root: Client, world: World, tmp_path: Path
) -> None:
    assert (await refused(root, Name="ops", DurationSeconds=3601)).code == "ValidationError"
    app = s3_app_on(world, tmp_path)
    answer = await federate(root, "ops", Policy=policy(allow("s3:CreateBucket")))
    assert answer["Credentials"]["Expiration"].timestamp() - world.clock.now == pytest.approx(
        3600, abs=2
    )
    session = s3_session(world, app, answer)
    assert (await session.request("PUT", "/made-by-ops")).status == 200
    assert (await session.request("PUT", "/made-by-ops/key", b"x")).status == 403
    bare = s3_session(world, app, await federate(root, "nothing"))
    assert (await bare.request("PUT", "/not-made")).status == 403


async def test_the_session_ends_with_its_user(root: Client, world: World) -> None:
    bob = await new_user(root, world, "bob", S3_READ_WRITE)
    federated = session_client(world, await federate(bob))
    await federated.call("sts", "GetCallerIdentity")
    keys = (await root.call("iam", "ListAccessKeys", UserName="bob"))["AccessKeyMetadata"]
    for key in keys:
        await root.call("iam", "DeleteAccessKey", UserName="bob", AccessKeyId=key["AccessKeyId"])
    await root.call("iam", "DeleteUserPolicy", UserName="bob", PolicyName="p0")
    await root.call("iam", "DeleteUser", UserName="bob")
    world.clock.now += 3600  # past any cached resolution of the key
    with pytest.raises(ApiError) as caught:
        await federated.call("sts", "GetCallerIdentity")
    assert caught.value.code == "InvalidClientTokenId"


async def test_its_requests_are_audited_with_the_user_behind_it(
    root: Client, world: World, tmp_path: Path
) -> None:
    app = s3_app_on(world, tmp_path)
    bob = await new_user(root, world, "bob", S3_READ_WRITE)
    bob_id = (await root.call("iam", "GetUser", UserName="bob"))["User"]["UserId"]
    answer = await federate(bob, Policy=policy(allow("s3:*")))
    assert (await s3_session(world, app, answer).request("PUT", "/audited-fed")).status == 200
    await world.audit.flush()
    events = [e for _, e in await world.audit_store.list_events(None, after_id=0, limit=100)]
    made = [e for e in events if e.action == "s3:CreateBucket"]
    assert [(e.principal, e.details.get("federated_by")) for e in made] == [
        (f"arn:aws:sts::{world.tenant_id}:federated-user/alice", bob_id)
    ]
    issued = [e for e in events if e.action == "sts:GetFederationToken"]
    assert [e.resource for e in issued] == [f"arn:aws:sts::{world.tenant_id}:federated-user/alice"]
