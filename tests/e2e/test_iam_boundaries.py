"""IAM permissions boundaries with boto3 against a real ``andromede serve`` (decision 0065).

A boundary (a managed policy set on a user or a role) caps what the entity's identity policies
can allow, as on AWS: an action needs both. A bucket policy naming the user itself is not capped
by it; one naming a role is. A delegated administrator, allowed to create users only with a
given boundary (``iam:PermissionsBoundary``), cannot give anyone more than that boundary.

Each principal gets its policies and boundary before its first request, so that no worker of
the server holds a cached answer older than them.
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


def allow(action: str | list[str], resource: str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def code(caught: pytest.ExceptionInfo[ClientError]) -> str:
    return str(caught.value.response["Error"]["Code"])


def keys_of(iam: Any, name: str) -> tuple[str, str]:
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


@pytest.fixture
def tenant(server: ServerProcess) -> Tenant:
    return new_tenant(server, "bnd")


def test_a_boundary_caps_a_user_but_not_a_bucket_policy_naming_it(
    server: ServerProcess, tenant: Tenant
) -> None:
    iam = client_for(server, "iam", tenant.access_key_id, tenant.secret_access_key)
    s3 = client_for(server, "s3", tenant.access_key_id, tenant.secret_access_key)
    bucket = f"bnd-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="report", Body=b"figures")
    read_only = iam.create_policy(
        PolicyName="read-only-boundary",
        PolicyDocument=policy(allow(["s3:GetObject", "s3:ListBucket"])),
    )["Policy"]["Arn"]
    everything = policy(allow("s3:*"))
    iam.create_user(UserName="dev", PermissionsBoundary=read_only)
    iam.put_user_policy(UserName="dev", PolicyName="all-of-s3", PolicyDocument=everything)
    iam.create_user(UserName="free")
    iam.put_user_policy(UserName="free", PolicyName="all-of-s3", PolicyDocument=everything)
    # The bucket policy names "dev" itself for one key: not capped by its boundary.
    dev_arn = iam.get_user(UserName="dev")["User"]["Arn"]
    statement = allow("s3:PutObject", f"arn:aws:s3:::{bucket}/inbox/*", Principal={"AWS": dev_arn})
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(statement))
    described = iam.get_user(UserName="dev")["User"]["PermissionsBoundary"]
    assert described == {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": read_only}

    dev = client_for(server, "s3", *keys_of(iam, "dev"))
    free = client_for(server, "s3", *keys_of(iam, "free"))
    assert dev.get_object(Bucket=bucket, Key="report")["Body"].read() == b"figures"
    with pytest.raises(ClientError) as caught:  # its own policy allows it, its boundary not
        dev.put_object(Bucket=bucket, Key="report", Body=b"overwritten")
    assert code(caught) == "AccessDenied"
    dev.put_object(Bucket=bucket, Key="inbox/note", Body=b"from dev")  # the bucket policy's
    free.put_object(Bucket=bucket, Key="free", Body=b"no boundary")
    assert s3.get_object(Bucket=bucket, Key="report")["Body"].read() == b"figures"

    # Its usage is shown, and it cannot be deleted while it bounds someone.
    used = iam.list_entities_for_policy(
        PolicyArn=read_only, PolicyUsageFilter="PermissionsBoundary"
    )
    assert [u["UserName"] for u in used["PolicyUsers"]] == ["dev"]
    assert iam.get_policy(PolicyArn=read_only)["Policy"]["PermissionsBoundaryUsageCount"] == 1
    listed = iam.list_policies(Scope="Local", PolicyUsageFilter="PermissionsBoundary")
    assert [p["Arn"] for p in listed["Policies"]] == [read_only]
    with pytest.raises(ClientError) as caught:
        iam.delete_policy(PolicyArn=read_only)
    assert code(caught) == "DeleteConflict"
    iam.delete_user_permissions_boundary(UserName="dev")
    assert "PermissionsBoundary" not in iam.get_user(UserName="dev")["User"]
    with pytest.raises(ClientError) as caught:  # only managed policies of the account
        iam.put_user_permissions_boundary(
            UserName="dev", PermissionsBoundary="arn:aws:iam::aws:policy/AdministratorAccess"
        )
    assert code(caught) == "NoSuchEntity"
    for key in ("report", "inbox/note", "free"):
        s3.delete_object(Bucket=bucket, Key=key)
    s3.delete_bucket(Bucket=bucket)


def test_a_role_sessions_are_capped_by_the_roles_boundary(
    server: ServerProcess, tenant: Tenant
) -> None:
    iam = client_for(server, "iam", tenant.access_key_id, tenant.secret_access_key)
    s3 = client_for(server, "s3", tenant.access_key_id, tenant.secret_access_key)
    bucket = f"bnd-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    list_only = iam.create_policy(
        PolicyName="list-only", PolicyDocument=policy(allow("s3:ListBucket"))
    )["Policy"]["Arn"]
    trust = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{tenant.account}:root"},
            "Action": "sts:AssumeRole",
        }
    )
    role = iam.create_role(
        RoleName="ci", AssumeRolePolicyDocument=trust, PermissionsBoundary=list_only
    )["Role"]
    assert role["PermissionsBoundary"]["PermissionsBoundaryArn"] == list_only
    iam.put_role_policy(RoleName="ci", PolicyName="all", PolicyDocument=policy(allow("s3:*")))
    # A bucket policy naming the role: capped by the role's boundary, unlike one naming a user.
    named = allow("s3:PutObject", f"arn:aws:s3:::{bucket}/*", Principal={"AWS": role["Arn"]})
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(named))
    iam.create_user(UserName="runner")
    iam.put_user_policy(
        UserName="runner", PolicyName="assume", PolicyDocument=policy(allow("sts:AssumeRole"))
    )
    sts = client_for(server, "sts", *keys_of(iam, "runner"))
    credentials = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="build")["Credentials"]
    session = client_for(
        server,
        "s3",
        credentials["AccessKeyId"],
        credentials["SecretAccessKey"],
        credentials["SessionToken"],
    )
    assert session.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    with pytest.raises(ClientError) as caught:
        session.put_object(Bucket=bucket, Key="artifact", Body=b"x")
    assert code(caught) == "AccessDenied"
    s3.delete_bucket_policy(Bucket=bucket)
    s3.delete_bucket(Bucket=bucket)


def test_a_delegated_administrator_cannot_give_more_than_the_boundary(
    server: ServerProcess, tenant: Tenant
) -> None:
    """AWS's delegation pattern: the administrator may create users and give them policies only
    with the boundary set, and may not remove it."""
    iam = client_for(server, "iam", tenant.access_key_id, tenant.secret_access_key)
    boundary = iam.create_policy(
        PolicyName="team-boundary", PolicyDocument=policy(allow("s3:GetObject"))
    )["Policy"]["Arn"]
    with_boundary = {"StringEquals": {"iam:PermissionsBoundary": boundary}}
    delegation = policy(
        allow(
            ["iam:CreateUser", "iam:PutUserPermissionsBoundary", "iam:PutUserPolicy"],
            Condition=with_boundary,
        ),
        allow(["iam:GetUser", "iam:CreateAccessKey"]),
    )
    iam.create_user(UserName="team-admin")
    iam.put_user_policy(UserName="team-admin", PolicyName="delegation", PolicyDocument=delegation)
    admin = client_for(server, "iam", *keys_of(iam, "team-admin"))

    with pytest.raises(ClientError) as caught:  # no boundary: refused
        admin.create_user(UserName="unbounded")
    assert code(caught) == "AccessDenied"
    other = iam.create_policy(PolicyName="other", PolicyDocument=policy(allow("s3:*")))["Policy"]
    with pytest.raises(ClientError) as caught:  # another boundary: refused
        admin.create_user(UserName="loose", PermissionsBoundary=other["Arn"])
    assert code(caught) == "AccessDenied"
    admin.create_user(UserName="member", PermissionsBoundary=boundary)
    admin.put_user_policy(  # a user with the boundary: its policies may be changed
        UserName="member", PolicyName="wide", PolicyDocument=policy(allow("s3:*"))
    )
    with pytest.raises(ClientError) as caught:  # nor may it be lifted
        admin.delete_user_permissions_boundary(UserName="member")
    assert code(caught) == "AccessDenied"
    iam.create_user(UserName="outsider")
    with pytest.raises(ClientError) as caught:  # a user without it is out of reach
        admin.put_user_policy(
            UserName="outsider", PolicyName="wide", PolicyDocument=policy(allow("s3:*"))
        )
    assert code(caught) == "AccessDenied"
    assert [u["UserName"] for u in iam.list_users()["Users"]] == [
        "member",
        "outsider",
        "team-admin",
    ]
