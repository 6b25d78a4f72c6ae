"""STS through botocore's serializer and parser, in process, with the identity clock under the
test's control: session tokens (MFA-present or not), their expiry, AssumeRole within an account
and across tenants through trust policies, and what the issued credentials may then do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.credentials import Credentials

from andromede.app import s3_services, storage_limits
from andromede.iam import totp
from andromede.s3.app import S3App
from andromede.settings import Settings
from andromede.storage.blob_memory import MemoryBlobStore
from andromede.storage.service import ObjectService
from andromede.storage.store_memory import MemoryMetadataStore
from support.clock import Clock
from support.keys import cipher_in
from support.queryapp import REGION, ApiError, Client, World
from support.s3app import Client as S3Client

MFA_FAILED = "MultiFactorAuthentication failed with invalid MFA one time pass code."


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str, resource: str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def trust(principal: str) -> str:
    return policy({"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"})


async def new_user(root: Client, world: World, name: str, *documents: str) -> Client:
    await root.call("iam", "CreateUser", UserName=name)
    for index, document in enumerate(documents):
        await root.call(
            "iam", "PutUserPolicy", UserName=name, PolicyName=f"p{index}", PolicyDocument=document
        )
    key = (await root.call("iam", "CreateAccessKey", UserName=name))["AccessKey"]
    return world.client(Credentials(key["AccessKeyId"], key["SecretAccessKey"]))


def session_client(world: World, answer: dict[str, Any]) -> Client:
    credentials = answer["Credentials"]
    return world.client(
        Credentials(credentials["AccessKeyId"], credentials["SecretAccessKey"]),
        credentials["SessionToken"],
    )


async def enable_mfa(root: Client, clock: Clock, user_name: str) -> tuple[str, bytes]:
    device = (await root.call("iam", "CreateVirtualMFADevice", VirtualMFADeviceName=user_name))[
        "VirtualMFADevice"
    ]
    seed = totp.seed_from_base32(device["Base32StringSeed"].decode())
    step = totp.time_step(clock.now)
    await root.call(
        "iam",
        "EnableMFADevice",
        UserName=user_name,
        SerialNumber=device["SerialNumber"],
        AuthenticationCode1=totp.totp(seed, step - 1),
        AuthenticationCode2=totp.totp(seed, step),
    )
    return device["SerialNumber"], seed


async def test_session_token_acts_as_its_user(root: Client, world: World) -> None:
    answer = await root.call("sts", "GetSessionToken", DurationSeconds=900)
    credentials = answer["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA")
    assert (credentials["Expiration"].timestamp() - world.clock.now) == pytest.approx(900, abs=2)
    session = session_client(world, answer)
    me = await session.call("sts", "GetCallerIdentity")
    assert me["Arn"] == f"arn:aws:iam::{world.tenant_id}:root"
    assert (await session.call("iam", "GetUser"))["User"]["UserId"] == world.tenant_id


async def test_root_sessions_last_an_hour_at_most(root: Client) -> None:
    with pytest.raises(ApiError) as caught:
        await root.call("sts", "GetSessionToken", DurationSeconds=7200)
    assert (caught.value.status, caught.value.code) == (400, "ValidationError")
    with pytest.raises(ApiError) as caught:
        await root.call("sts", "GetSessionToken", DurationSeconds=899)
    assert caught.value.code == "ValidationError"


async def test_temporary_credentials_expire(root: Client, world: World) -> None:
    session = session_client(world, await root.call("sts", "GetSessionToken", DurationSeconds=900))
    await session.call("iam", "ListUsers")
    world.clock.now += 901
    with pytest.raises(ApiError) as caught:
        await session.call("iam", "ListUsers")
    assert (caught.value.status, caught.value.code) == (403, "ExpiredToken")
    with pytest.raises(ApiError) as caught:
        await session.call("sts", "GetCallerIdentity")
    assert caught.value.code == "ExpiredToken"


async def test_a_wrong_or_missing_session_token_is_refused(root: Client, world: World) -> None:
    answer = await root.call("sts", "GetSessionToken")
    good = session_client(world, answer)
    for token in ("forged-token", None):
        client = world.client(good.credentials, token)
        with pytest.raises(ApiError) as caught:
            await client.call("sts", "GetCallerIdentity")
        assert (caught.value.status, caught.value.code) == (403, "InvalidClientTokenId")


async def test_mfa_session_satisfies_multi_factor_conditions(
    root: Client, world: World, clock: Clock
) -> None:
    only_with_mfa = policy(
        allow("iam:ListUsers", Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}})
    )
    alice = await new_user(root, world, "alice", only_with_mfa)
    serial, seed = await enable_mfa(root, clock, "alice")
    with pytest.raises(ApiError) as caught:
        await alice.call("iam", "ListUsers")
    assert caught.value.code == "AccessDenied"
    plain = session_client(world, await alice.call("sts", "GetSessionToken"))
    with pytest.raises(ApiError) as caught:
        await plain.call("iam", "ListUsers")
    assert caught.value.code == "AccessDenied"
    code = totp.totp(seed, totp.time_step(clock.now) + 1)
    answer = await alice.call("sts", "GetSessionToken", SerialNumber=serial, TokenCode=code)
    with_mfa = session_client(world, answer)
    assert [u["UserName"] for u in (await with_mfa.call("iam", "ListUsers"))["Users"]] == ["alice"]


async def test_wrong_and_replayed_codes_are_refused(
    root: Client, world: World, clock: Clock
) -> None:
    alice = await new_user(root, world, "alice")
    serial, seed = await enable_mfa(root, clock, "alice")
    # STS's answer (not IAM's InvalidAuthenticationCode), which tools match on.
    refused = (403, "AccessDenied", MFA_FAILED)
    with pytest.raises(ApiError) as caught:
        await alice.call("sts", "GetSessionToken", SerialNumber=serial, TokenCode="000000")
    assert (caught.value.status, caught.value.code, caught.value.message) == refused
    code = totp.totp(seed, totp.time_step(clock.now) + 1)
    await alice.call("sts", "GetSessionToken", SerialNumber=serial, TokenCode=code)
    with pytest.raises(ApiError) as caught:
        await alice.call("sts", "GetSessionToken", SerialNumber=serial, TokenCode=code)
    assert (caught.value.status, caught.value.code, caught.value.message) == refused
    role = await root.call(
        "iam",
        "CreateRole",
        RoleName="guarded",
        AssumeRolePolicyDocument=trust(f"arn:aws:iam::{world.tenant_id}:user/alice"),
    )
    with pytest.raises(ApiError) as caught:  # replayed on AssumeRole too
        await alice.call(
            "sts",
            "AssumeRole",
            RoleArn=role["Role"]["Arn"],
            RoleSessionName="work",
            SerialNumber=serial,
            TokenCode=code,
        )
    assert (caught.value.status, caught.value.code, caught.value.message) == refused


async def test_assume_role_trusting_the_user_needs_no_identity_policy(
    root: Client, world: World
) -> None:
    bob = await new_user(root, world, "bob")
    bob_arn = f"arn:aws:iam::{world.tenant_id}:user/bob"
    role = (
        await root.call(
            "iam", "CreateRole", RoleName="lister", AssumeRolePolicyDocument=trust(bob_arn)
        )
    )["Role"]
    await root.call(
        "iam",
        "PutRolePolicy",
        RoleName="lister",
        PolicyName="l",
        PolicyDocument=policy(allow("iam:ListUsers")),
    )
    answer = await bob.call(
        "sts", "AssumeRole", RoleArn=role["Arn"], RoleSessionName="work", DurationSeconds=900
    )
    assumed = answer["AssumedRoleUser"]
    assert assumed["Arn"] == f"arn:aws:sts::{world.tenant_id}:assumed-role/lister/work"
    assert assumed["AssumedRoleId"] == f"{role['RoleId']}:work"
    session = session_client(world, answer)
    me = await session.call("sts", "GetCallerIdentity")
    assert (me["Arn"], me["UserId"]) == (assumed["Arn"], assumed["AssumedRoleId"])
    await session.call("iam", "ListUsers")  # the role's policy
    with pytest.raises(ApiError) as caught:
        await session.call("iam", "GetAccountSummary")  # not in the role's policy
    assert caught.value.code == "AccessDenied"
    with pytest.raises(ApiError) as caught:
        await session.call("sts", "GetSessionToken")  # needs long-term credentials
    assert caught.value.code == "AccessDenied"
    with pytest.raises(ApiError) as caught:
        await session.call("iam", "GetUser")  # no user behind a role session
    assert caught.value.code == "ValidationError"


async def test_trust_naming_the_account_delegates_to_identity_policies(
    root: Client, world: World
) -> None:
    role = (
        await root.call(
            "iam", "CreateRole", RoleName="r", AssumeRolePolicyDocument=trust(world.tenant_id)
        )
    )["Role"]
    carol = await new_user(root, world, "carol")
    with pytest.raises(ApiError) as caught:
        await carol.call("sts", "AssumeRole", RoleArn=role["Arn"], RoleSessionName="s1")
    assert (caught.value.status, caught.value.code) == (403, "AccessDenied")
    dave = await new_user(root, world, "dave", policy(allow("sts:AssumeRole", role["Arn"])))
    await dave.call("sts", "AssumeRole", RoleArn=role["Arn"], RoleSessionName="s2")


async def test_an_identity_allow_alone_never_reaches_a_role_that_does_not_trust_the_caller(
    root: Client, world: World
) -> None:
    # Within the account too: sts:AssumeRole on "*" in a user's policy is common, and must not
    # open the roles meant for a service or for someone else (a privilege escalation).
    ec2_only = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "ec2.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    admin_trust = trust(f"arn:aws:iam::{world.tenant_id}:user/admin")
    roles = []
    for name, document in (("instances", ec2_only), ("break-glass", admin_trust)):
        roles.append(
            (
                await root.call(
                    "iam", "CreateRole", RoleName=name, AssumeRolePolicyDocument=document
                )
            )["Role"]
        )
    eve = await new_user(root, world, "eve", policy(allow("sts:AssumeRole", "*")))
    for role in roles:
        with pytest.raises(ApiError) as caught:
            await eve.call("sts", "AssumeRole", RoleArn=role["Arn"], RoleSessionName="s1")
        assert (caught.value.status, caught.value.code) == (403, "AccessDenied"), role["Arn"]
    # The user the trust names needs no identity policy; an explicit deny still stops it.
    admin = await new_user(root, world, "admin")
    await admin.call("sts", "AssumeRole", RoleArn=roles[1]["Arn"], RoleSessionName="s1")
    await root.call(
        "iam",
        "PutUserPolicy",
        UserName="admin",
        PolicyName="no-roles",
        PolicyDocument=policy({"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": "*"}),
    )
    with pytest.raises(ApiError) as caught:
        await admin.call("sts", "AssumeRole", RoleArn=roles[1]["Arn"], RoleSessionName="s2")
    assert caught.value.code == "AccessDenied"


async def test_cross_tenant_assume_role_needs_both_sides(root: Client, world: World) -> None:
    other_account, other_root_credentials = await world.new_tenant("partner")
    other_root = world.client(other_root_credentials)
    role = (
        await root.call(
            "iam", "CreateRole", RoleName="shared", AssumeRolePolicyDocument=trust(other_account)
        )
    )["Role"]
    await root.call(
        "iam",
        "PutRolePolicy",
        RoleName="shared",
        PolicyName="l",
        PolicyDocument=policy(allow("iam:ListRoles")),
    )
    allowed = await new_user(other_root, world, "eve", policy(allow("sts:AssumeRole", role["Arn"])))
    without_policy = await new_user(other_root, world, "frank")
    with pytest.raises(ApiError) as caught:
        await without_policy.call("sts", "AssumeRole", RoleArn=role["Arn"], RoleSessionName="xx")
    assert caught.value.code == "AccessDenied"
    with pytest.raises(ApiError) as caught:
        await other_root.call("sts", "AssumeRole", RoleArn=role["Arn"], RoleSessionName="xx")
    assert caught.value.code == "AccessDenied"  # root users may not assume roles
    session = session_client(
        world, await allowed.call("sts", "AssumeRole", RoleArn=role["Arn"], RoleSessionName="xx")
    )
    roles = (await session.call("iam", "ListRoles"))["Roles"]
    assert [r["Arn"] for r in roles] == [role["Arn"]]  # acting in the role's account
    # A trust policy that does not name the partner refuses even an identity allow.
    await root.call(
        "iam",
        "UpdateAssumeRolePolicy",
        RoleName="shared",
        PolicyDocument=trust(f"arn:aws:iam::{world.tenant_id}:root"),
    )
    with pytest.raises(ApiError) as caught:
        await allowed.call("sts", "AssumeRole", RoleArn=role["Arn"], RoleSessionName="yy")
    assert caught.value.code == "AccessDenied"


async def test_assume_role_refusals(root: Client, world: World) -> None:
    bob = await new_user(root, world, "bob", policy(allow("sts:AssumeRole")))
    missing = f"arn:aws:iam::{world.tenant_id}:role/missing"
    with pytest.raises(ApiError) as caught:
        await bob.call("sts", "AssumeRole", RoleArn=missing, RoleSessionName="s")
    assert caught.value.code == "AccessDenied"  # not NoSuchEntity: roles are not enumerable
    role = (
        await root.call(
            "iam", "CreateRole", RoleName="r", AssumeRolePolicyDocument=trust(world.tenant_id)
        )
    )["Role"]
    # Session policies are taken (decision 0071), once valid.
    with pytest.raises(ApiError) as caught:
        await bob.call(
            "sts", "AssumeRole", RoleArn=role["Arn"], RoleSessionName="s", Policy='{"Version": 1}'
        )
    assert caught.value.code == "MalformedPolicyDocument"
    taken = await bob.call(
        "sts",
        "AssumeRole",
        RoleArn=role["Arn"],
        RoleSessionName="narrow",
        Policy=policy(allow("s3:GetObject")),
    )
    assert taken["PackedPolicySize"] >= 1
    with pytest.raises(ApiError) as caught:
        await bob.call(
            "sts", "AssumeRole", RoleArn=role["Arn"], RoleSessionName="s", DurationSeconds=7200
        )
    assert caught.value.code == "ValidationError"  # over the role's MaxSessionDuration
    with pytest.raises(ApiError) as caught:
        await bob.call("sts", "AssumeRole", RoleArn=role["Arn"], RoleSessionName="bad name!")
    assert caught.value.code == "ValidationError"


async def test_assume_role_is_audited_with_the_role(root: Client, world: World) -> None:
    bob = await new_user(root, world, "bob")
    role_arn = f"arn:aws:iam::{world.tenant_id}:role/missing"
    with pytest.raises(ApiError):
        await bob.call("sts", "AssumeRole", RoleArn=role_arn, RoleSessionName="s1")
    await world.audit.flush()
    events = [e for _, e in await world.audit_store.list_events(None, after_id=0, limit=100)]
    assumed = [
        (e.action, e.resource, e.outcome.value) for e in events if e.action.startswith("sts:")
    ]
    assert assumed == [("sts:AssumeRole", role_arn, "failure")]


def s3_app_on(world: World, tmp_path: Path) -> S3App:
    """An S3 app over the same identity service as the IAM and STS apps."""
    settings = Settings(data_dir=tmp_path / "s3", region=REGION)
    objects = ObjectService(
        MemoryMetadataStore(),
        MemoryBlobStore(),
        storage_limits(settings),
        cipher_in(tmp_path / "keys"),
    )
    return S3App(s3_services(settings, objects, world.identity), world.identity, world.audit)


def s3_client(world: World, app: S3App, credentials: Credentials) -> S3Client:
    return S3Client(app, credentials, world.audit_store, world.audit)


def s3_session(world: World, app: S3App, answer: dict[str, Any]) -> S3Client:
    """An S3 client signing with the temporary credentials of an STS answer."""
    issued = answer["Credentials"]
    credentials = Credentials(
        issued["AccessKeyId"], issued["SecretAccessKey"], issued["SessionToken"]
    )
    return s3_client(world, app, credentials)


async def test_s3_takes_session_credentials_until_they_expire(
    root: Client, world: World, tmp_path: Path
) -> None:
    s3_app = s3_app_on(world, tmp_path)
    answer = (await root.call("sts", "GetSessionToken", DurationSeconds=900))["Credentials"]
    credentials = Credentials(
        answer["AccessKeyId"], answer["SecretAccessKey"], answer["SessionToken"]
    )
    s3 = s3_client(world, s3_app, credentials)
    assert (await s3.request("PUT", "/session-bucket")).status == 200
    assert (await s3.request("GET", "/")).status == 200
    world.clock.now += 901
    expired = await s3.request("GET", "/")
    assert (expired.status, expired.error_code()) == (400, "ExpiredToken")
    forged = S3Client(
        s3_app,
        Credentials(answer["AccessKeyId"], answer["SecretAccessKey"], "forged"),
        world.audit_store,
        world.audit,
    )
    refused = await forged.request("GET", "/")
    assert (refused.status, refused.error_code()) == (400, "InvalidToken")


async def test_a_bucket_policy_reserves_deletes_for_mfa_sessions(
    root: Client, world: World, clock: Clock, tmp_path: Path
) -> None:
    """S3 User Guide, bucket policy examples, "Requiring MFA": a deny on s3:DeleteObject with
    ``BoolIfExists`` ``aws:MultiFactorAuthPresent`` false holds for long-term keys (the key is
    absent) and plain sessions (false), not for a session opened with an MFA code."""
    app = s3_app_on(world, tmp_path)
    assert world.root is not None
    owner = s3_client(world, app, world.root)
    assert (await owner.request("PUT", "/guarded-bucket")).status == 200
    assert (await owner.request("PUT", "/guarded-bucket/a", b"a")).status == 200
    assert (await owner.request("PUT", "/guarded-bucket/b", b"b")).status == 200
    deny_without_mfa = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:DeleteObject",
        "Resource": "arn:aws:s3:::guarded-bucket/*",
        "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
    }
    reply = await owner.request("PUT", "/guarded-bucket?policy", policy(deny_without_mfa).encode())
    assert reply.status == 204
    alice = await new_user(root, world, "alice", policy(allow("s3:*")))
    serial, seed = await enable_mfa(root, clock, "alice")
    assert alice.credentials is not None
    long_term = s3_client(world, app, alice.credentials)
    assert (await long_term.request("GET", "/guarded-bucket/a")).status == 200
    assert (await long_term.request("DELETE", "/guarded-bucket/a")).status == 403
    plain = s3_session(world, app, await alice.call("sts", "GetSessionToken"))
    assert (await plain.request("DELETE", "/guarded-bucket/a")).status == 403
    code = totp.totp(seed, totp.time_step(clock.now) + 1)
    answer = await alice.call("sts", "GetSessionToken", SerialNumber=serial, TokenCode=code)
    assert (
        await s3_session(world, app, answer).request("DELETE", "/guarded-bucket/a")
    ).status == 204
    assert (await owner.request("GET", "/guarded-bucket/a")).status == 404
    assert (await owner.request("GET", "/guarded-bucket/b")).body == b"b"
