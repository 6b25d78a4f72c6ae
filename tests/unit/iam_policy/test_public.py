"""is_public: S3's definition of a public bucket policy ("The meaning of public", S3 User Guide,
Blocking public access to your Amazon S3 storage)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from andromede.iam.policy import PolicyKind, is_public, parse_policy

GET = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}


def bucket_policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


CASES: list[tuple[str, dict[str, Any], bool]] = [
    ("star-principal", {**GET, "Principal": "*"}, True),
    ("aws-star-principal", {**GET, "Principal": {"AWS": "*"}}, True),
    ("specific-account", {**GET, "Principal": {"AWS": "111122223333"}}, False),
    ("specific-user", {**GET, "Principal": {"AWS": "arn:aws:iam::111122223333:user/a"}}, False),
    ("service-principal", {**GET, "Principal": {"Service": "logging.s3.amazonaws.com"}}, False),
    ("canonical-user", {**GET, "Principal": {"CanonicalUser": "abc"}}, False),
    ("deny-star", {**GET, "Effect": "Deny", "Principal": "*"}, False),
    ("not-principal-allow", {**GET, "NotPrincipal": {"AWS": "111122223333"}}, True),
    (
        "fixed-source-ip",
        {**GET, "Principal": "*", "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}},
        False,
    ),
    (
        "broad-source-ip",
        {**GET, "Principal": "*", "Condition": {"IpAddress": {"aws:SourceIp": "0.0.0.0/1"}}},
        True,
    ),
    (
        "all-ipv6",
        {**GET, "Principal": "*", "Condition": {"IpAddress": {"aws:SourceIp": "::/0"}}},
        True,
    ),
    (
        "not-ip-address",
        {**GET, "Principal": "*", "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}},
        True,
    ),
    (
        "fixed-source-vpc",
        {**GET, "Principal": "*", "Condition": {"StringEquals": {"aws:SourceVpc": "vpc-91237329"}}},
        False,
    ),
    (
        "wildcard-source-vpc",
        {**GET, "Principal": "*", "Condition": {"StringLike": {"aws:SourceVpc": "vpc-*"}}},
        True,
    ),
    (
        "fixed-value-in-stringlike",
        {**GET, "Principal": "*", "Condition": {"StringLike": {"aws:SourceVpc": "vpc-1"}}},
        False,
    ),
    (
        "principal-org-id",
        {**GET, "Principal": "*", "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-1"}}},
        False,
    ),
    (
        "source-account",
        {
            **GET,
            "Principal": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": "111122223333"}},
        },
        False,
    ),
    (
        "source-arn",
        {**GET, "Principal": "*", "Condition": {"ArnEquals": {"aws:SourceArn": "arn:aws:s3:::x"}}},
        False,
    ),
    (
        "principal-account",
        {
            **GET,
            "Principal": "*",
            "Condition": {"StringEquals": {"aws:PrincipalAccount": "111122223333"}},
        },
        False,
    ),
    (
        "userid-role-any-session",
        {**GET, "Principal": "*", "Condition": {"StringLike": {"aws:userid": "AROAEXAMPLE:*"}}},
        False,
    ),
    (
        "userid-wildcard",
        {**GET, "Principal": "*", "Condition": {"StringLike": {"aws:userid": "AROA*"}}},
        True,
    ),
    (
        "access-point-any-name",
        {
            **GET,
            "Principal": "*",
            "Condition": {
                "StringLike": {
                    "s3:DataAccessPointArn": "arn:aws:s3:us-east-1:111122223333:accesspoint/*"
                }
            },
        },
        False,
    ),
    (
        "variable-is-not-fixed",
        {
            **GET,
            "Principal": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": "${aws:PrincipalAccount}"}},
        },
        True,
    ),
    (
        "ifexists-does-not-restrict",
        {
            **GET,
            "Principal": "*",
            "Condition": {"StringEqualsIfExists": {"aws:SourceVpc": "vpc-91237329"}},
        },
        True,
    ),
    (
        "unrelated-key-does-not-restrict",
        {**GET, "Principal": "*", "Condition": {"Bool": {"aws:SecureTransport": "true"}}},
        True,
    ),
    (
        "negated-operator-does-not-restrict",
        {**GET, "Principal": "*", "Condition": {"StringNotEquals": {"aws:SourceVpc": "vpc-1"}}},
        True,
    ),
    (
        "one-restricting-key-among-others",
        {
            **GET,
            "Principal": "*",
            "Condition": {
                "Bool": {"aws:SecureTransport": "true"},
                "StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"},
            },
        },
        False,
    ),
]


@pytest.mark.parametrize(("statement", "public"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_is_public(statement: dict[str, Any], public: bool) -> None:
    parsed = parse_policy(bucket_policy(statement), kind=PolicyKind.RESOURCE)
    assert is_public(parsed) is public


def test_one_public_statement_makes_the_policy_public() -> None:
    private = {**GET, "Principal": {"AWS": "111122223333"}}
    parsed = parse_policy(
        bucket_policy(private, {**GET, "Sid": "open", "Principal": "*"}), kind=PolicyKind.RESOURCE
    )
    assert is_public(parsed)
