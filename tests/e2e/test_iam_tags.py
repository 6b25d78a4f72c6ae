"""IAM tags and attribute-based access control with boto3 against a real ``andromede serve``
(decision 0067): users and roles are tagged, their requests carry ``aws:PrincipalTag/<key>``,
and a policy can govern which tags are set (``aws:RequestTag``, ``aws:TagKeys``).

Each principal is tagged before its first request, so that no worker of the server holds a
cached answer older than its tags.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from e2e.iam_helpers import Tenant, client_for, new_tenant
from support.server import ServerProcess

pytestmark = pytest.mark.e2e


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def code(caught: pytest.ExceptionInfo[ClientError]) -> str:
    return str(caught.value.response["Error"]["Code"])


@pytest.fixture
def tenant(server: ServerProcess) -> Tenant:
    return new_tenant(server, "tag")


def test_tags_are_managed_as_on_aws(server: ServerProcess, tenant: Tenant) -> None:
    iam = client_for(server, "iam", tenant.access_key_id, tenant.secret_access_key)
    user = iam.create_user(UserName="alice", Tags=[{"Key": "team", "Value": "blue"}])["User"]
    assert user["Tags"] == [{"Key": "team", "Value": "blue"}]
    iam.tag_user(
        UserName="alice", Tags=[{"Key": "Team", "Value": "red"}, {"Key": "cost", "Value": "1"}]
    )
    assert iam.list_user_tags(UserName="alice")["Tags"] == [
        {"Key": "Team", "Value": "red"},
        {"Key": "cost", "Value": "1"},
    ]
    assert iam.get_user(UserName="alice")["User"]["Tags"][0] == {"Key": "Team", "Value": "red"}
    iam.untag_user(UserName="alice", TagKeys=["team"])
    assert iam.list_user_tags(UserName="alice")["Tags"] == [{"Key": "cost", "Value": "1"}]
    trust = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{tenant.account}:root"},
            "Action": "sts:AssumeRole",
        }
    )
    iam.create_role(
        RoleName="ci", AssumeRolePolicyDocument=trust, Tags=[{"Key": "env", "Value": "prod"}]
    )
    assert iam.get_role(RoleName="ci")["Role"]["Tags"] == [{"Key": "env", "Value": "prod"}]
    iam.untag_role(RoleName="ci", TagKeys=["env"])
    assert iam.list_role_tags(RoleName="ci")["Tags"] == []
    with pytest.raises(ClientError) as caught:
        iam.tag_role(RoleName="ci", Tags=[{"Key": "aws:reserved", "Value": "x"}])
    assert code(caught) == "InvalidInput"


def test_a_policy_can_follow_the_callers_tags(server: ServerProcess, tenant: Tenant) -> None:
    """AWS's attribute-based pattern: one policy for every team, each member reading only the
    prefix named by its own ``team`` tag."""
    iam = client_for(server, "iam", tenant.access_key_id, tenant.secret_access_key)
    s3 = client_for(server, "s3", tenant.access_key_id, tenant.secret_access_key)
    bucket = f"abac-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    for team in ("blue", "red"):
        s3.put_object(Bucket=bucket, Key=f"{team}/plan", Body=team.encode())
    by_team = policy(
        {
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/${{aws:PrincipalTag/team}}/*",
        },
        {
            "Effect": "Deny",
            "Action": "s3:GetObject",
            "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:PrincipalTag/clearance": "granted"}},
        },
    )
    iam.create_user(
        UserName="bea",
        Tags=[{"Key": "team", "Value": "blue"}, {"Key": "clearance", "Value": "granted"}],
    )
    iam.put_user_policy(UserName="bea", PolicyName="by-team", PolicyDocument=by_team)
    iam.create_user(UserName="bob", Tags=[{"Key": "team", "Value": "blue"}])  # no clearance
    iam.put_user_policy(UserName="bob", PolicyName="by-team", PolicyDocument=by_team)
    keys = {}
    for name in ("bea", "bob"):
        key = iam.create_access_key(UserName=name)["AccessKey"]
        keys[name] = client_for(server, "s3", key["AccessKeyId"], key["SecretAccessKey"])
    bea, bob = keys["bea"], keys["bob"]
    assert bea.get_object(Bucket=bucket, Key="blue/plan")["Body"].read() == b"blue"
    with pytest.raises(ClientError) as caught:  # not her team's prefix
        bea.get_object(Bucket=bucket, Key="red/plan")
    assert code(caught) == "AccessDenied"
    with pytest.raises(ClientError) as caught:  # the deny on a tag he lacks
        bob.get_object(Bucket=bucket, Key="blue/plan")
    assert code(caught) == "AccessDenied"
    for team in ("blue", "red"):
        s3.delete_object(Bucket=bucket, Key=f"{team}/plan")
    s3.delete_bucket(Bucket=bucket)


def test_a_policy_can_govern_which_tags_are_set(server: ServerProcess, tenant: Tenant) -> None:
    iam = client_for(server, "iam", tenant.access_key_id, tenant.secret_access_key)
    onboarding = policy(
        {
            "Effect": "Allow",
            "Action": ["iam:CreateUser", "iam:TagUser"],
            "Resource": "*",
            "Condition": {
                "StringEquals": {"aws:RequestTag/team": "blue"},
                "ForAllValues:StringEquals": {"aws:TagKeys": ["team"]},
            },
        }
    )
    iam.create_user(UserName="onboarder")
    iam.put_user_policy(UserName="onboarder", PolicyName="onboarding", PolicyDocument=onboarding)
    key = iam.create_access_key(UserName="onboarder")["AccessKey"]
    onboarder = client_for(server, "iam", key["AccessKeyId"], key["SecretAccessKey"])
    onboarder.create_user(UserName="newcomer", Tags=[{"Key": "team", "Value": "blue"}])
    for tags in (
        [{"Key": "team", "Value": "red"}],
        [{"Key": "team", "Value": "blue"}, {"Key": "admin", "Value": "yes"}],
        [],
    ):
        with pytest.raises(ClientError) as caught:
            onboarder.create_user(UserName=f"u-{uuid.uuid4().hex[:6]}", Tags=tags)
        assert code(caught) == "AccessDenied", tags
    assert iam.list_user_tags(UserName="newcomer")["Tags"] == [{"Key": "team", "Value": "blue"}]


def test_a_policy_can_follow_the_tags_of_the_user_or_role_acted_on(
    server: ServerProcess, tenant: Tenant
) -> None:
    """``aws:ResourceTag/<key>`` (and ``iam:ResourceTag/<key>``) on IAM calls and AssumeRole
    (decision 0069): a team lead manages only its team's users and assumes only its team's
    roles, and a Deny on a ``protected`` tag holds even under ``iam:*``."""
    iam = client_for(server, "iam", tenant.access_key_id, tenant.secret_access_key)
    lead_policy = policy(
        {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
        {
            "Effect": "Deny",
            "Action": ["iam:PutUserPolicy", "iam:GetUser"],
            "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:ResourceTag/team": "blue"}},
        },
        {
            "Effect": "Deny",
            "Action": ["iam:DeleteUser", "iam:UntagUser", "iam:DeleteRole"],
            "Resource": "*",
            "Condition": {"StringEquals": {"iam:ResourceTag/protected": "true"}},
        },
        {
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:ResourceTag/team": "blue"}},
        },
    )
    iam.create_user(UserName="lead", Tags=[{"Key": "team", "Value": "blue"}])
    iam.put_user_policy(UserName="lead", PolicyName="lead", PolicyDocument=lead_policy)
    key = iam.create_access_key(UserName="lead")["AccessKey"]
    lead = client_for(server, "iam", key["AccessKeyId"], key["SecretAccessKey"])
    sts = client_for(server, "sts", key["AccessKeyId"], key["SecretAccessKey"])
    iam.create_user(UserName="blue-dev", Tags=[{"Key": "team", "Value": "blue"}])
    iam.create_user(UserName="red-dev", Tags=[{"Key": "team", "Value": "red"}])
    iam.create_user(UserName="auditor", Tags=[{"Key": "protected", "Value": "true"}])
    iam.create_user(UserName="intern")
    read_only = policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})

    assert lead.get_user(UserName="blue-dev")["User"]["UserName"] == "blue-dev"
    lead.put_user_policy(UserName="blue-dev", PolicyName="ro", PolicyDocument=read_only)
    for call in (
        lambda: lead.get_user(UserName="red-dev"),
        lambda: lead.put_user_policy(UserName="red-dev", PolicyName="ro", PolicyDocument=read_only),
        lambda: lead.delete_user(UserName="auditor"),
        lambda: lead.untag_user(UserName="auditor", TagKeys=["protected"]),
    ):
        with pytest.raises(ClientError) as caught:
            call()
        assert code(caught) == "AccessDenied"
    assert iam.list_user_policies(UserName="red-dev")["PolicyNames"] == []
    assert iam.list_user_tags(UserName="auditor")["Tags"] == [{"Key": "protected", "Value": "true"}]
    lead.delete_user(UserName="intern")  # no protected tag: the Allow on iam:* stands

    trust = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{tenant.account}:root"},
            "Action": "sts:AssumeRole",
        }
    )
    for team in ("blue", "red"):
        iam.create_role(
            RoleName=f"{team}-deploy",
            AssumeRolePolicyDocument=trust,
            Tags=[{"Key": "team", "Value": team}],
        )
    arn = f"arn:aws:iam::{tenant.account}:role/"
    assumed = sts.assume_role(RoleArn=f"{arn}blue-deploy", RoleSessionName="lead")
    assert assumed["AssumedRoleUser"]["Arn"].endswith("assumed-role/blue-deploy/lead")
    with pytest.raises(ClientError) as caught:
        sts.assume_role(RoleArn=f"{arn}red-deploy", RoleSessionName="lead")
    assert code(caught) == "AccessDenied"


def test_policies_and_instance_profiles_take_tags_too(
    server: ServerProcess, tenant: Tenant
) -> None:
    """Tags on managed policies, instance profiles and MFA devices (decision 0074): set at
    creation, shown by Get, merged, removed and listed as for users; ``aws:ResourceTag`` on
    their calls."""
    iam = client_for(server, "iam", tenant.access_key_id, tenant.secret_access_key)
    document = policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})
    team = [{"Key": "team", "Value": "blue"}]
    created = iam.create_policy(PolicyName="reader", PolicyDocument=document, Tags=team)["Policy"]
    assert created["Tags"] == team
    arn = created["Arn"]
    assert iam.get_policy(PolicyArn=arn)["Policy"]["Tags"] == team
    iam.tag_policy(PolicyArn=arn, Tags=[{"Key": "Team", "Value": "red"}, {"Key": "x", "Value": ""}])
    assert iam.list_policy_tags(PolicyArn=arn)["Tags"] == [
        {"Key": "Team", "Value": "red"},
        {"Key": "x", "Value": ""},
    ]
    iam.untag_policy(PolicyArn=arn, TagKeys=["x"])
    assert iam.list_policy_tags(PolicyArn=arn)["Tags"] == [{"Key": "Team", "Value": "red"}]
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName="token", Tags=team)
    serial = device["VirtualMFADevice"]["SerialNumber"]
    assert device["VirtualMFADevice"]["Tags"] == team
    iam.tag_mfa_device(SerialNumber=serial, Tags=[{"Key": "site", "Value": "paris"}])
    iam.untag_mfa_device(SerialNumber=serial, TagKeys=["TEAM"])
    assert iam.list_mfa_device_tags(SerialNumber=serial)["Tags"] == [
        {"Key": "site", "Value": "paris"}
    ]
    iam.delete_virtual_mfa_device(SerialNumber=serial)
    profile = iam.create_instance_profile(InstanceProfileName="web", Tags=team)
    assert profile["InstanceProfile"]["Tags"] == team
    iam.tag_instance_profile(
        InstanceProfileName="web", Tags=[{"Key": "protected", "Value": "true"}]
    )
    got = iam.get_instance_profile(InstanceProfileName="web")["InstanceProfile"]
    assert got["Tags"] == [*team, {"Key": "protected", "Value": "true"}]
    with pytest.raises(ClientError) as caught:
        iam.tag_instance_profile(InstanceProfileName="web", Tags=[{"Key": "aws:x", "Value": "y"}])
    assert code(caught) == "InvalidInput"

    # A delegated administrator may do anything but delete what is marked protected.
    guard = policy(
        {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
        {
            "Effect": "Deny",
            "Action": ["iam:DeletePolicy", "iam:DeleteInstanceProfile", "iam:UntagInstanceProfile"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:ResourceTag/protected": "true"}},
        },
    )
    iam.create_user(UserName="delegate")
    iam.put_user_policy(UserName="delegate", PolicyName="guard", PolicyDocument=guard)
    key = iam.create_access_key(UserName="delegate")["AccessKey"]
    delegate = client_for(server, "iam", key["AccessKeyId"], key["SecretAccessKey"])
    for call in (
        lambda: delegate.delete_instance_profile(InstanceProfileName="web"),
        lambda: delegate.untag_instance_profile(InstanceProfileName="web", TagKeys=["protected"]),
    ):
        with pytest.raises(ClientError) as caught:
            call()
        assert code(caught) == "AccessDenied"
    delegate.delete_policy(PolicyArn=arn)  # not protected
    iam.untag_instance_profile(InstanceProfileName="web", TagKeys=["protected"])
    delegate.delete_instance_profile(InstanceProfileName="web")
