"""STS end to end with boto3: session tokens with MFA (and the policies that ask for it), role
assumption within a tenant and across tenants through trust policies, and the temporary
credentials at work on S3 and IAM — refused with a wrong or missing session token. Expiry is
tested in process with a moved clock (``tests/unit/iamapi/test_sts.py``): the shortest session
AWS allows lasts 15 minutes."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from e2e.clients import aws_cli
from e2e.helpers import create_bucket, unique_bucket
from e2e.iam_helpers import Tenant, client_for, new_tenant, totp_code
from support.server import ServerProcess

pytestmark = pytest.mark.e2e


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def trust(principal: str) -> str:
    return policy({"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"})


def error(caught: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def user_keys(iam: Any, name: str, *documents: str) -> tuple[str, str]:
    iam.create_user(UserName=name)
    for index, document in enumerate(documents):
        iam.put_user_policy(UserName=name, PolicyName=f"p{index}", PolicyDocument=document)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def session(server: ServerProcess, service: str, answer: dict[str, Any]) -> Any:
    credentials = answer["Credentials"]
    return client_for(
        server,
        service,
        credentials["AccessKeyId"],
        credentials["SecretAccessKey"],
        credentials["SessionToken"],
    )


@pytest.fixture
def tenant(server: ServerProcess) -> Tenant:
    return new_tenant(server)


def root_client(server: ServerProcess, tenant: Tenant, service: str) -> Any:
    return client_for(server, service, tenant.access_key_id, tenant.secret_access_key)


def test_mfa_session_unlocks_what_policies_reserve_for_mfa(
    server: ServerProcess, tenant: Tenant
) -> None:
    iam = root_client(server, tenant, "iam")
    with_mfa_only = policy(
        {
            "Effect": "Allow",
            "Action": "iam:ListUsers",
            "Resource": "*",
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
        }
    )
    key = user_keys(iam, "alice", with_mfa_only)
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName="alice")["VirtualMFADevice"]
    seed, serial = device["Base32StringSeed"], device["SerialNumber"]
    now = time.time()
    iam.enable_mfa_device(
        UserName="alice",
        SerialNumber=serial,
        AuthenticationCode1=totp_code(seed, now, -1),
        AuthenticationCode2=totp_code(seed, now),
    )
    alice_iam = client_for(server, "iam", *key)
    alice_sts = client_for(server, "sts", *key)
    with pytest.raises(ClientError) as caught:
        alice_iam.list_users()
    assert error(caught) == (403, "AccessDenied")
    with pytest.raises(ClientError) as caught:
        alice_sts.get_session_token(SerialNumber=serial, TokenCode="000000")
    assert error(caught) == (403, "AccessDenied")  # as STS refuses a bad MFA code
    code = totp_code(seed, time.time(), 1)
    answer = alice_sts.get_session_token(SerialNumber=serial, TokenCode=code, DurationSeconds=900)
    with pytest.raises(ClientError) as caught:  # the same code again: replayed
        alice_sts.get_session_token(SerialNumber=serial, TokenCode=code)
    assert error(caught) == (403, "AccessDenied")  # as STS refuses a bad MFA code
    users = session(server, "iam", answer).list_users()["Users"]
    assert [user["UserName"] for user in users] == ["alice"]
    plain = alice_sts.get_session_token(DurationSeconds=900)
    with pytest.raises(ClientError) as caught:
        session(server, "iam", plain).list_users()
    assert error(caught) == (403, "AccessDenied")


def test_temporary_credentials_work_on_s3_and_need_their_token(
    server: ServerProcess, tenant: Tenant
) -> None:
    s3 = root_client(server, tenant, "s3")
    bucket = unique_bucket("sts")
    create_bucket(s3, bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"hello")
    answer = root_client(server, tenant, "sts").get_session_token(DurationSeconds=900)
    temporary = session(server, "s3", answer)
    assert temporary.get_object(Bucket=bucket, Key="k")["Body"].read() == b"hello"
    temporary.put_object(Bucket=bucket, Key="k2", Body=b"by session")
    credentials = answer["Credentials"]
    keys = (credentials["AccessKeyId"], credentials["SecretAccessKey"])
    for token in ("forged-" + credentials["SessionToken"], None):
        for service in ("s3", "iam", "sts"):
            client = client_for(server, service, *keys, token)
            with pytest.raises(ClientError) as caught:
                if service == "s3":
                    client.get_object(Bucket=bucket, Key="k")
                elif service == "iam":
                    client.list_users()
                else:
                    client.get_caller_identity()
            status, code = error(caught)
            assert status in (400, 403)
            assert code in ("InvalidToken", "InvalidClientTokenId"), (service, code)
    for key in ("k", "k2"):
        s3.delete_object(Bucket=bucket, Key=key)
    s3.delete_bucket(Bucket=bucket)


def test_assume_role_in_the_account_then_use_s3(server: ServerProcess, tenant: Tenant) -> None:
    iam = root_client(server, tenant, "iam")
    s3 = root_client(server, tenant, "s3")
    bucket = unique_bucket("role")
    create_bucket(s3, bucket)
    s3.put_object(Bucket=bucket, Key="report.csv", Body=b"a,b\n")
    key = user_keys(iam, "bob")  # no identity policy: the trust policy names bob himself
    bob_arn = f"arn:aws:iam::{tenant.account}:user/bob"
    role = iam.create_role(RoleName="reader", AssumeRolePolicyDocument=trust(bob_arn))["Role"]
    iam.put_role_policy(
        RoleName="reader",
        PolicyName="read",
        PolicyDocument=policy(
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
        ),
    )
    answer = client_for(server, "sts", *key).assume_role(
        RoleArn=role["Arn"], RoleSessionName="nightly", DurationSeconds=900
    )
    assert answer["AssumedRoleUser"]["Arn"] == (
        f"arn:aws:sts::{tenant.account}:assumed-role/reader/nightly"
    )
    identity = session(server, "sts", answer).get_caller_identity()
    assert identity["Arn"] == answer["AssumedRoleUser"]["Arn"]
    role_s3 = session(server, "s3", answer)
    assert role_s3.get_object(Bucket=bucket, Key="report.csv")["Body"].read() == b"a,b\n"
    with pytest.raises(ClientError) as caught:
        role_s3.put_object(Bucket=bucket, Key="x", Body=b"x")
    assert error(caught) == (403, "AccessDenied")
    with pytest.raises(ClientError) as caught:
        session(server, "iam", answer).list_users()
    assert error(caught) == (403, "AccessDenied")
    s3.delete_object(Bucket=bucket, Key="report.csv")
    s3.delete_bucket(Bucket=bucket)


def test_a_source_identity_opens_only_what_a_bucket_policy_keeps_for_it(
    server: ServerProcess, tenant: Tenant
) -> None:
    """Decision 0089: one shared role, and a bucket that lets its sessions read only when the
    source identity the caller set is alice's; the role trusts bob with
    ``sts:SetSourceIdentity``, and the source identity cannot be changed down the chain."""
    iam = root_client(server, tenant, "iam")
    s3 = root_client(server, tenant, "s3")
    bucket = unique_bucket("source")
    create_bucket(s3, bucket)
    s3.put_object(Bucket=bucket, Key="payroll.csv", Body=b"alice,42\n")
    key = user_keys(iam, "bob")
    bob_arn = f"arn:aws:iam::{tenant.account}:user/bob"
    role = iam.create_role(
        RoleName="shared",
        AssumeRolePolicyDocument=policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": [bob_arn, tenant.account]},
                "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"],
            }
        ),
    )["Role"]
    iam.put_role_policy(
        RoleName="shared",
        PolicyName="assume",
        # The trust names the account for the chained hop: the session's own policy must
        # allow both actions too (decision 0073).
        PolicyDocument=policy(
            {
                "Effect": "Allow",
                "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"],
                "Resource": "*",
            }
        ),
    )
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": role["Arn"]},
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
                "Condition": {"StringEquals": {"aws:SourceIdentity": "alice"}},
            }
        ),
    )
    sts = client_for(server, "sts", *key)
    alice = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="a1", SourceIdentity="alice")
    assert alice["SourceIdentity"] == "alice"
    got = session(server, "s3", alice).get_object(Bucket=bucket, Key="payroll.csv")
    assert got["Body"].read() == b"alice,42\n"
    for others in ({"SourceIdentity": "carol"}, {}):
        answer = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="c1", **others)
        with pytest.raises(ClientError) as caught:
            session(server, "s3", answer).get_object(Bucket=bucket, Key="payroll.csv")
        assert error(caught) == (403, "AccessDenied"), others
    # Chained, alice's session stays alice's, and cannot become carol's.
    chained_sts = session(server, "sts", alice)
    chained = chained_sts.assume_role(RoleArn=role["Arn"], RoleSessionName="a2")
    assert chained["SourceIdentity"] == "alice"
    assert session(server, "s3", chained).get_object(Bucket=bucket, Key="payroll.csv")
    with pytest.raises(ClientError) as caught:
        chained_sts.assume_role(RoleArn=role["Arn"], RoleSessionName="a3", SourceIdentity="carol")
    assert error(caught) == (403, "AccessDenied")
    with pytest.raises(ClientError) as caught:
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="x1", SourceIdentity="not valid")
    assert error(caught) == (400, "ValidationError")
    s3.delete_bucket_policy(Bucket=bucket)
    s3.delete_object(Bucket=bucket, Key="payroll.csv")
    s3.delete_bucket(Bucket=bucket)


def test_cross_tenant_assume_role_needs_trust_and_identity_policy(
    server: ServerProcess, tenant: Tenant
) -> None:
    owner_iam = root_client(server, tenant, "iam")
    owner_s3 = root_client(server, tenant, "s3")
    bucket = unique_bucket("xacct")
    create_bucket(owner_s3, bucket)
    owner_s3.put_object(Bucket=bucket, Key="shared.txt", Body=b"for the partner")
    partner = new_tenant(server, "partner")
    role = owner_iam.create_role(
        RoleName="partner-read", AssumeRolePolicyDocument=trust(partner.account)
    )["Role"]
    owner_iam.put_role_policy(
        RoleName="partner-read",
        PolicyName="read",
        PolicyDocument=policy(
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
        ),
    )
    partner_iam = root_client(server, partner, "iam")
    may_assume = policy({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role["Arn"]})
    allowed = user_keys(partner_iam, "carol", may_assume)
    not_allowed = user_keys(partner_iam, "dave")
    with pytest.raises(ClientError) as caught:
        client_for(server, "sts", *not_allowed).assume_role(
            RoleArn=role["Arn"], RoleSessionName="try"
        )
    assert error(caught) == (403, "AccessDenied")
    with pytest.raises(ClientError) as caught:  # AWS refuses root users outright
        root_client(server, partner, "sts").assume_role(
            RoleArn=role["Arn"], RoleSessionName="root-try"
        )
    assert error(caught) == (403, "AccessDenied")
    answer = client_for(server, "sts", *allowed).assume_role(
        RoleArn=role["Arn"], RoleSessionName="carol-session", DurationSeconds=900
    )
    shared = session(server, "s3", answer).get_object(Bucket=bucket, Key="shared.txt")
    assert shared["Body"].read() == b"for the partner"
    # A third tenant, which the trust policy does not name, is refused even with a policy.
    stranger = new_tenant(server, "stranger")
    stranger_key = user_keys(root_client(server, stranger, "iam"), "eve", may_assume)
    with pytest.raises(ClientError) as caught:
        client_for(server, "sts", *stranger_key).assume_role(
            RoleArn=role["Arn"], RoleSessionName="try"
        )
    assert error(caught) == (403, "AccessDenied")
    owner_s3.delete_object(Bucket=bucket, Key="shared.txt")
    owner_s3.delete_bucket(Bucket=bucket)


def test_a_third_party_role_needs_its_external_id(server: ServerProcess, tenant: Tenant) -> None:
    # AWS's confused-deputy guard: the trust policy names the partner's account and the
    # external id agreed with it; the partner's calls must carry that id.
    owner_iam = root_client(server, tenant, "iam")
    partner = new_tenant(server, "vendor")
    document = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": partner.account},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": "customer-4711"}},
        }
    )
    role = owner_iam.create_role(RoleName="vendor-audit", AssumeRolePolicyDocument=document)["Role"]
    may_assume = policy({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role["Arn"]})
    vendor_sts = client_for(
        server, "sts", *user_keys(root_client(server, partner, "iam"), "bot", may_assume)
    )
    for external_id in (None, "customer-0815"):
        kwargs = {} if external_id is None else {"ExternalId": external_id}
        with pytest.raises(ClientError) as caught:
            vendor_sts.assume_role(RoleArn=role["Arn"], RoleSessionName="audit", **kwargs)
        assert error(caught) == (403, "AccessDenied"), external_id
    answer = vendor_sts.assume_role(
        RoleArn=role["Arn"], RoleSessionName="audit", ExternalId="customer-4711"
    )
    assert answer["AssumedRoleUser"]["Arn"].endswith(":assumed-role/vendor-audit/audit")
    with pytest.raises(ClientError) as caught:  # not an external id AWS would take
        vendor_sts.assume_role(
            RoleArn=role["Arn"], RoleSessionName="audit", ExternalId="has a space"
        )
    assert error(caught) == (400, "ValidationError")


def test_what_is_not_offered_is_refused_not_dropped(server: ServerProcess, tenant: Tenant) -> None:
    iam = root_client(server, tenant, "iam")
    boundary = iam.create_policy(
        PolicyName="boundary",
        PolicyDocument=policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}),
    )["Policy"]["Arn"]
    # Tags on policies, instance profiles and MFA devices are taken since decision 0074; a
    # console session length is not yet.
    iam.create_user(UserName="console")
    refused: list[tuple[Any, dict[str, Any]]] = [
        (iam.create_login_profile, {"UserName": "console", "Password": "Console-Pass-42",
                                    "MaxSigninSessionDuration": 3600}),
    ]  # fmt: skip
    for call, params in refused:
        with pytest.raises(ClientError) as caught:
            call(**params)
        assert error(caught) == (400, "InvalidParameterValue"), params
    assert [u["UserName"] for u in iam.list_users()["Users"]] == ["console"]
    with pytest.raises(ClientError) as caught:  # no login profile made without it
        iam.get_login_profile(UserName="console")
    assert error(caught) == (404, "NoSuchEntity")
    assert iam.list_roles()["Roles"] == []
    # A policy attached, not used as a boundary: listed by usage accordingly.
    iam.create_user(UserName="plain")
    iam.attach_user_policy(UserName="plain", PolicyArn=boundary)
    used = iam.list_entities_for_policy(PolicyArn=boundary, PolicyUsageFilter="PermissionsPolicy")
    assert [u["UserName"] for u in used["PolicyUsers"]] == ["plain"]
    as_boundary = iam.list_entities_for_policy(
        PolicyArn=boundary, PolicyUsageFilter="PermissionsBoundary"
    )
    assert as_boundary["PolicyUsers"] == []
    listed = iam.list_policies(Scope="Local", PolicyUsageFilter="PermissionsBoundary")
    assert listed["Policies"] == []
    # Provided contexts on AssumeRole (source identities are taken since decision 0089).
    role = iam.create_role(RoleName="plain", AssumeRolePolicyDocument=trust(tenant.account))["Role"]
    may_assume = policy({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role["Arn"]})
    sts = client_for(server, "sts", *user_keys(iam, "caller", may_assume))
    for extra in (
        {"ProvidedContexts": [{"ProviderArn": "arn:aws:iam::aws:contextProvider/IdentityCenter",
                               "ContextAssertion": "x" * 8}]},
    ):  # fmt: skip
        with pytest.raises(ClientError) as caught:
            sts.assume_role(RoleArn=role["Arn"], RoleSessionName="ss", **extra)
        assert error(caught) == (400, "InvalidParameterValue"), extra


def test_session_policies_narrow_the_session_in_every_service(
    server: ServerProcess, tenant: Tenant
) -> None:
    """AssumeRole ``Policy`` and ``PolicyArns`` (decision 0071): the session can do only what
    its role's policies and its session policies both allow, in S3, KMS and IAM alike; an
    inline and a managed session policy add up; a Deny in either holds."""
    iam = root_client(server, tenant, "iam")
    s3 = root_client(server, tenant, "s3")
    bucket = unique_bucket("sess")
    create_bucket(s3, bucket)
    for key in ("reports/q1.csv", "payroll/march.csv"):
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    role = iam.create_role(RoleName="broad", AssumeRolePolicyDocument=trust(tenant.account))["Role"]
    everything = policy({"Effect": "Allow", "Action": ["s3:*", "kms:*", "iam:*"], "Resource": "*"})
    iam.put_role_policy(RoleName="broad", PolicyName="all", PolicyDocument=everything)
    listing = iam.create_policy(
        PolicyName="listing",
        PolicyDocument=policy(
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"}
        ),
    )["Policy"]["Arn"]
    may_assume = policy({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role["Arn"]})
    sts = client_for(server, "sts", *user_keys(iam, "analyst", may_assume))
    inline = policy(
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"},
        {
            "Effect": "Deny",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/payroll/*",
        },
    )
    answer = sts.assume_role(
        RoleArn=role["Arn"],
        RoleSessionName="narrow",
        Policy=inline,
        PolicyArns=[{"arn": listing}],
    )
    assert 1 <= answer["PackedPolicySize"] <= 100
    narrow_s3 = session(server, "s3", answer)
    assert narrow_s3.get_object(Bucket=bucket, Key="reports/q1.csv")["Body"].read() == (
        b"reports/q1.csv"
    )
    keys = [o["Key"] for o in narrow_s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert sorted(keys) == ["payroll/march.csv", "reports/q1.csv"]  # the managed one's
    denied = [
        lambda: narrow_s3.get_object(Bucket=bucket, Key="payroll/march.csv"),  # the Deny
        lambda: narrow_s3.put_object(Bucket=bucket, Key="reports/q2.csv", Body=b"x"),
        lambda: narrow_s3.delete_bucket(Bucket=bucket),
        lambda: session(server, "kms", answer).create_key(),
        lambda: session(server, "iam", answer).list_users(),
    ]
    for call in denied:
        with pytest.raises(ClientError) as caught:
            call()
        assert error(caught)[1] in ("AccessDenied", "AccessDeniedException")
    # Without session policies the same role does all its policy allows.
    broad = session(server, "s3", sts.assume_role(RoleArn=role["Arn"], RoleSessionName="wide"))
    assert broad.get_object(Bucket=bucket, Key="payroll/march.csv")["Body"].read()
    # What STS refuses, as it refuses it.
    for params, expected in (
        ({"Policy": "{not json"}, (400, "MalformedPolicyDocument")),
        ({"Policy": policy(*[{"Effect": "Allow", "Action": "s3:GetObject",
                              "Resource": f"arn:aws:s3:::{bucket}/{'x' * 40}{n}"}
                             for n in range(40)])}, (400, "PackedPolicyTooLarge")),
        ({"PolicyArns": [{"arn": f"arn:aws:iam::{tenant.account}:policy/none-such"}]},
         (404, "NoSuchEntity")),
        ({"PolicyArns": [{"arn": listing}] * 11}, (400, "ValidationError")),
    ):  # fmt: skip
        with pytest.raises(ClientError) as caught:
            sts.assume_role(RoleArn=role["Arn"], RoleSessionName="bad", **params)
        assert error(caught) == expected, params
    for key in ("reports/q1.csv", "payroll/march.csv"):
        s3.delete_object(Bucket=bucket, Key=key)
    s3.delete_bucket(Bucket=bucket)


def test_session_tags_are_the_sessions_principal_tags_and_pass_on_when_transitive(
    server: ServerProcess, tenant: Tenant
) -> None:
    """AssumeRole ``Tags`` and ``TransitiveTagKeys`` (decision 0072): the trust policy must
    allow ``sts:TagSession``; a session's tags stand over its role's as
    ``aws:PrincipalTag/<key>``; a transitive tag passes on to the role the session assumes next
    and cannot be overridden there."""
    iam = root_client(server, tenant, "iam")
    s3 = root_client(server, tenant, "s3")
    bucket = unique_bucket("tags")
    create_bucket(s3, bucket)
    for team in ("blue", "red"):
        s3.put_object(Bucket=bucket, Key=f"{team}/plan", Body=team.encode())
    by_team = policy(
        {
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/${{aws:PrincipalTag/team}}/*",
        },
        # A session of either role may assume the other (role chaining).
        {"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:TagSession"], "Resource": "*"},
    )
    tagging_trust = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": tenant.account},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
        }
    )
    for name in ("first", "second"):
        iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=tagging_trust,
            Tags=[{"Key": "team", "Value": "red"}],  # the role's own: the session's stand over
        )
        iam.put_role_policy(RoleName=name, PolicyName="team", PolicyDocument=by_team)
    iam.create_role(RoleName="untagging", AssumeRolePolicyDocument=trust(tenant.account))
    arn = f"arn:aws:iam::{tenant.account}:role/"
    may_assume = policy(
        {"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:TagSession"], "Resource": "*"}
    )
    sts = client_for(server, "sts", *user_keys(iam, "launcher", may_assume))
    blue = [{"Key": "team", "Value": "blue"}]
    answer = sts.assume_role(
        RoleArn=f"{arn}first", RoleSessionName="one", Tags=blue, TransitiveTagKeys=["team"]
    )
    assert 1 <= answer["PackedPolicySize"] <= 100
    first = session(server, "s3", answer)
    assert first.get_object(Bucket=bucket, Key="blue/plan")["Body"].read() == b"blue"
    with pytest.raises(ClientError) as caught:  # the role's own tag no longer counts
        first.get_object(Bucket=bucket, Key="red/plan")
    assert error(caught) == (403, "AccessDenied")
    # Chained: the transitive tag goes on, and may not be set again.
    chained_sts = session(server, "sts", answer)
    second = session(
        server, "s3", chained_sts.assume_role(RoleArn=f"{arn}second", RoleSessionName="two")
    )
    assert second.get_object(Bucket=bucket, Key="blue/plan")["Body"].read() == b"blue"
    with pytest.raises(ClientError) as caught:
        chained_sts.assume_role(
            RoleArn=f"{arn}second", RoleSessionName="two", Tags=[{"Key": "team", "Value": "red"}]
        )
    assert error(caught) == (400, "InvalidParameterValue")
    # A trust policy without sts:TagSession takes no tags.
    with pytest.raises(ClientError) as caught:
        sts.assume_role(RoleArn=f"{arn}untagging", RoleSessionName="one", Tags=blue)
    assert error(caught) == (403, "AccessDenied")
    assert sts.assume_role(RoleArn=f"{arn}untagging", RoleSessionName="one")["Credentials"]
    for params in (
        {"Tags": [{"Key": "aws:team", "Value": "x"}]},
        {"Tags": blue, "TransitiveTagKeys": ["other"]},
    ):
        with pytest.raises(ClientError) as caught:
            sts.assume_role(RoleArn=f"{arn}first", RoleSessionName="bad", **params)
        assert error(caught)[0] == 400, params
    for team in ("blue", "red"):
        s3.delete_object(Bucket=bucket, Key=f"{team}/plan")
    s3.delete_bucket(Bucket=bucket)


def test_a_federated_user_acts_within_its_users_and_session_policies(
    server: ServerProcess, tenant: Tenant
) -> None:
    """GetFederationToken (decision 0093) with boto3: the federated user can do what both its
    user's and its session's policies allow, in S3 and KMS alike, and no IAM at all."""
    iam = root_client(server, tenant, "iam")
    s3 = root_client(server, tenant, "s3")
    bucket = unique_bucket("fed")
    create_bucket(s3, bucket)
    s3.put_object(Bucket=bucket, Key="doc", Body=b"for the broker's clients")
    broker = policy(
        {"Effect": "Allow", "Action": ["s3:*", "kms:*", "iam:*"], "Resource": "*"},
        {"Effect": "Allow", "Action": "sts:GetFederationToken", "Resource": "*"},
    )
    sts = client_for(server, "sts", *user_keys(iam, "broker", broker))
    read_only = policy(
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
    )
    answer = sts.get_federation_token(Name="client-42", Policy=read_only, DurationSeconds=900)
    arn = f"arn:aws:sts::{tenant.account}:federated-user/client-42"
    assert answer["FederatedUser"] == {
        "FederatedUserId": f"{tenant.account}:client-42",
        "Arn": arn,
    }
    assert session(server, "sts", answer).get_caller_identity()["Arn"] == arn
    federated_s3 = session(server, "s3", answer)
    assert federated_s3.get_object(Bucket=bucket, Key="doc")["Body"].read() == (
        b"for the broker's clients"
    )
    denied = [
        lambda: federated_s3.put_object(Bucket=bucket, Key="other", Body=b"x"),
        lambda: session(server, "kms", answer).create_key(),
        lambda: session(server, "iam", answer).list_users(),
        lambda: session(server, "sts", answer).get_session_token(),
    ]
    for call in denied:
        with pytest.raises(ClientError) as caught:
            call()
        assert error(caught)[1] in ("AccessDenied", "AccessDeniedException")
    with pytest.raises(ClientError) as caught:  # a session never federates
        session(server, "sts", answer).get_federation_token(Name="again")
    assert error(caught) == (403, "AccessDenied")
    s3.delete_object(Bucket=bucket, Key="doc")
    s3.delete_bucket(Bucket=bucket)


def test_the_aws_cli_federates_the_root_user_for_an_hour(
    server: ServerProcess, tmp_path: Path
) -> None:
    aws = aws_cli(server, tmp_path)
    only_list = policy({"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"})
    answer = json.loads(
        aws("sts", "get-federation-token", "--name", "ops-cli", "--policy", only_list).stdout
    )
    assert answer["FederatedUser"]["Arn"].endswith(":federated-user/ops-cli")
    expiration = datetime.fromisoformat(answer["Credentials"]["Expiration"])
    assert 3500 < (expiration - datetime.now(UTC)).total_seconds() <= 3600
    for wrong in (["--name", "ops cli"], ["--name", "ops", "--duration-seconds", "7200"]):
        refused = aws("sts", "get-federation-token", *wrong, check=False)
        assert refused.returncode != 0
        assert "ValidationError" in refused.stderr, wrong
