"""Bucket access configuration through boto3: Object Ownership and Block Public Access,
with AWS's defaults for new buckets."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from e2e.helpers import REGION

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def error_code(caught: pytest.ExceptionInfo[ClientError]) -> str:
    return str(caught.value.response["Error"]["Code"])


def test_new_buckets_enforce_bucket_ownership(s3: S3Client, bucket: str) -> None:
    controls = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]
    assert controls["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]


def test_ownership_controls_round_trip_and_delete(s3: S3Client, bucket: str) -> None:
    s3.put_bucket_ownership_controls(
        Bucket=bucket,
        OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]},
    )
    rules = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerPreferred"}]
    s3.delete_bucket_ownership_controls(Bucket=bucket)
    with pytest.raises(ClientError) as caught:
        s3.get_bucket_ownership_controls(Bucket=bucket)
    assert error_code(caught) == "OwnershipControlsNotFoundError"


def test_unknown_ownership_value_is_malformed(s3: S3Client, bucket: str) -> None:
    with pytest.raises(ClientError) as caught:
        s3.put_bucket_ownership_controls(
            Bucket=bucket,
            OwnershipControls={"Rules": [{"ObjectOwnership": "Everyone"}]},  # type: ignore[typeddict-item]
        )
    assert error_code(caught) == "MalformedXML"


def test_create_bucket_takes_the_object_ownership_header(s3: S3Client, bucket: str) -> None:
    name = bucket + "-ow"
    s3.create_bucket(
        Bucket=name,
        CreateBucketConfiguration={"LocationConstraint": REGION},  # type: ignore[typeddict-item]
        ObjectOwnership="ObjectWriter",
    )
    try:
        rules = s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"]
        assert rules == [{"ObjectOwnership": "ObjectWriter"}]
    finally:
        s3.delete_bucket(Bucket=name)


def test_new_buckets_block_all_public_access(s3: S3Client, bucket: str) -> None:
    config = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert config == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }


def test_public_access_block_round_trip_and_delete(s3: S3Client, bucket: str) -> None:
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={"BlockPublicAcls": True, "BlockPublicPolicy": False},
    )
    config = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert config == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": False,
        "BlockPublicPolicy": False,
        "RestrictPublicBuckets": False,
    }
    s3.delete_public_access_block(Bucket=bucket)
    with pytest.raises(ClientError) as caught:
        s3.get_public_access_block(Bucket=bucket)
    assert error_code(caught) == "NoSuchPublicAccessBlockConfiguration"


def test_access_configuration_of_a_missing_bucket_is_no_such_bucket(s3: S3Client) -> None:
    with pytest.raises(ClientError) as caught:
        s3.get_public_access_block(Bucket="no-such-bucket-for-access-tests")
    assert error_code(caught) == "NoSuchBucket"


# -- ACLs --------------------------------------------------------------------------------------

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"


def grants(acl: Any) -> set[tuple[str, str]]:
    found = set()
    for grant in acl["Grants"]:
        grantee = grant["Grantee"]
        found.add((grantee.get("ID") or grantee.get("URI") or "", grant["Permission"]))
    return found


@pytest.fixture
def acl_bucket(s3: S3Client, bucket: str) -> str:
    """A bucket where ACLs count (ObjectWriter) and public ACLs are not blocked."""
    s3.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]}
    )
    s3.delete_public_access_block(Bucket=bucket)
    return bucket


def test_enforced_buckets_answer_the_owner_only_acl(s3: S3Client, bucket: str) -> None:
    acl = s3.get_bucket_acl(Bucket=bucket)
    owner = acl["Owner"]["ID"]
    assert grants(acl) == {(owner, "FULL_CONTROL")}
    s3.put_bucket_acl(Bucket=bucket, ACL="private")  # changes nothing: accepted
    with pytest.raises(ClientError) as caught:
        s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    assert error_code(caught) == "AccessControlListNotSupported"
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="authenticated-read")
    assert error_code(caught) == "AccessControlListNotSupported"
    # Refused before its body was read: the connection closes, so the unread body (or the
    # 100-continue wait) cannot be taken for the next request on it.
    assert caught.value.response["ResponseMetadata"]["HTTPHeaders"]["connection"] == "close"
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="bucket-owner-full-control")
    assert grants(s3.get_object_acl(Bucket=bucket, Key="k")) == {(owner, "FULL_CONTROL")}


def test_create_bucket_with_a_public_acl_and_enforced_ownership_fails(
    s3: S3Client, bucket: str
) -> None:
    with pytest.raises(ClientError) as caught:
        s3.create_bucket(
            Bucket=bucket + "-acl",
            CreateBucketConfiguration={"LocationConstraint": REGION},  # type: ignore[typeddict-item]
            ACL="public-read",
        )
    assert error_code(caught) == "InvalidBucketAclWithObjectOwnership"


def test_bucket_acls_count_once_ownership_allows_them(s3: S3Client, acl_bucket: str) -> None:
    s3.put_bucket_acl(Bucket=acl_bucket, ACL="public-read")
    acl = s3.get_bucket_acl(Bucket=acl_bucket)
    assert grants(acl) == {(acl["Owner"]["ID"], "FULL_CONTROL"), (ALL_USERS, "READ")}


def test_block_public_acls_refuses_public_acls(s3: S3Client, acl_bucket: str) -> None:
    s3.put_public_access_block(
        Bucket=acl_bucket, PublicAccessBlockConfiguration={"BlockPublicAcls": True}
    )
    with pytest.raises(ClientError) as caught:
        s3.put_bucket_acl(Bucket=acl_bucket, ACL="public-read-write")
    assert error_code(caught) == "AccessDenied"
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket=acl_bucket, Key="k", Body=b"x", ACL="public-read")
    assert error_code(caught) == "AccessDenied"


def test_object_acls_from_canned_headers_grants_and_documents(
    s3: S3Client, acl_bucket: str
) -> None:
    s3.put_object(Bucket=acl_bucket, Key="k", Body=b"x", ACL="authenticated-read")
    acl = s3.get_object_acl(Bucket=acl_bucket, Key="k")
    owner = acl["Owner"]["ID"]
    assert grants(acl) == {(owner, "FULL_CONTROL"), (AUTHENTICATED, "READ")}

    s3.put_object_acl(Bucket=acl_bucket, Key="k", GrantRead=f"uri={ALL_USERS}")
    assert grants(s3.get_object_acl(Bucket=acl_bucket, Key="k")) == {(ALL_USERS, "READ")}

    s3.put_object_acl(
        Bucket=acl_bucket,
        Key="k",
        AccessControlPolicy={
            "Owner": {"ID": owner},
            "Grants": [
                {"Grantee": {"Type": "CanonicalUser", "ID": owner}, "Permission": "FULL_CONTROL"},
                {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ_ACP"},
            ],
        },
    )
    assert grants(s3.get_object_acl(Bucket=acl_bucket, Key="k")) == {
        (owner, "FULL_CONTROL"),
        (ALL_USERS, "READ_ACP"),
    }


def test_acls_carry_through_multipart_and_copy(s3: S3Client, acl_bucket: str) -> None:
    upload = s3.create_multipart_upload(Bucket=acl_bucket, Key="mp", ACL="public-read")
    part = s3.upload_part(
        Bucket=acl_bucket, Key="mp", UploadId=upload["UploadId"], PartNumber=1, Body=b"x"
    )
    s3.complete_multipart_upload(
        Bucket=acl_bucket,
        Key="mp",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert (ALL_USERS, "READ") in grants(s3.get_object_acl(Bucket=acl_bucket, Key="mp"))
    s3.copy_object(
        Bucket=acl_bucket, Key="copy", CopySource=f"{acl_bucket}/mp", ACL="authenticated-read"
    )
    assert (AUTHENTICATED, "READ") in grants(s3.get_object_acl(Bucket=acl_bucket, Key="copy"))


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"GrantRead": 'emailAddress="someone@example.com"'}, "UnresolvableGrantByEmailAddress"),
        ({"GrantRead": 'id="not-a-canonical-id"'}, "InvalidArgument"),
        ({"GrantRead": "nonsense"}, "InvalidArgument"),
        ({"ACL": "public-read", "GrantRead": f"uri={ALL_USERS}"}, "InvalidRequest"),
    ],
)
def test_bad_acls_get_s3_errors(
    s3: S3Client, acl_bucket: str, kwargs: dict[str, str], code: str
) -> None:
    with pytest.raises(ClientError) as caught:
        s3.put_bucket_acl(Bucket=acl_bucket, **kwargs)  # type: ignore[arg-type]
    assert error_code(caught) == code


# -- bucket policies ---------------------------------------------------------------------------


def read_only_policy(bucket: str, principal: object = "*") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "PublicRead",
                    "Effect": "Allow",
                    "Principal": principal,
                    "Action": ["s3:GetObject"],
                    "Resource": [f"arn:aws:s3:::{bucket}/*"],
                }
            ],
        }
    )


def test_bucket_policy_round_trip_status_and_delete(s3: S3Client, bucket: str) -> None:
    with pytest.raises(ClientError) as caught:
        s3.get_bucket_policy(Bucket=bucket)
    assert error_code(caught) == "NoSuchBucketPolicy"
    policy = read_only_policy(bucket, {"AWS": "arn:aws:iam::123456789012:root"})
    s3.put_bucket_policy(Bucket=bucket, Policy=policy)
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == json.loads(policy)
    status = s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]
    assert status == {"IsPublic": False}
    s3.delete_bucket_policy(Bucket=bucket)
    with pytest.raises(ClientError) as caught:
        s3.get_bucket_policy_status(Bucket=bucket)
    assert error_code(caught) == "NoSuchBucketPolicy"


def test_block_public_policy_refuses_a_public_policy(s3: S3Client, bucket: str) -> None:
    with pytest.raises(ClientError) as caught:
        s3.put_bucket_policy(Bucket=bucket, Policy=read_only_policy(bucket))
    assert error_code(caught) == "AccessDenied"
    s3.put_public_access_block(
        Bucket=bucket, PublicAccessBlockConfiguration={"BlockPublicPolicy": False}
    )
    s3.put_bucket_policy(Bucket=bucket, Policy=read_only_policy(bucket))
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"] == {"IsPublic": True}


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ("not json", "syntax errors"),
        ('{"Version": "2012-10-17"}', "Statement"),
        (
            '{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", '
            '"Resource": "arn:aws:s3:::some-other-bucket/*"}]}',
            "Policy has invalid resource",
        ),
        (
            '{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "iam:CreateUser", '
            '"Resource": "arn:aws:s3:::BUCKET/*"}]}',
            "Policy has invalid action",
        ),
        (
            '{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:Fly", '
            '"Resource": "arn:aws:s3:::BUCKET/*"}]}',
            "s3:Fly",
        ),
        (
            '{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", '
            '"Resource": "arn:aws:s3:::BUCKET/*", "Condition": {"StringFoo": {"a": "b"}}}]}',
            "StringFoo",
        ),
        ('{"Statement": [{"Sid": "' + "x" * 21_000 + '"}]}', "size"),
    ],
)
def test_malformed_bucket_policies_are_refused(
    s3: S3Client, bucket: str, policy: str, message: str
) -> None:
    with pytest.raises(ClientError) as caught:
        s3.put_bucket_policy(Bucket=bucket, Policy=policy.replace("BUCKET", bucket))
    assert error_code(caught) == "MalformedPolicy"
    assert message.lower() in str(caught.value.response["Error"]["Message"]).lower()
