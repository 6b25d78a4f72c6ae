"""Micro-benchmark: microseconds per evaluation against a 20-statement bucket policy.

Run ``python tests/unit/iam_policy/test_benchmark.py`` for the table. The test asserts a ceiling
well above the target (under 20 µs per evaluation on an idle core) so that it fails on an
algorithmic regression, not on a busy CI machine.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from andromede.iam.policy import (
    Outcome,
    PolicyDocument,
    PolicyKind,
    PrincipalType,
    RequestContext,
    evaluate,
    parse_policy,
)

A = "111122223333"
B = "444455556666"
BUCKET = "arn:aws:s3:::media"
CEILING_MICROSECONDS = 150.0


def twenty_statement_bucket_policy() -> PolicyDocument:
    statements: list[dict[str, Any]] = [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [BUCKET, f"{BUCKET}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            "Sid": "DenyUnencryptedUploads",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": f"{BUCKET}/*",
            "Condition": {
                "StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}
            },
        },
        {
            "Sid": "PublicRead",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": f"{BUCKET}/public/*",
        },
        {
            "Sid": "OfficeRead",
            "Effect": "Allow",
            "Principal": "*",
            "Action": ["s3:GetObject", "s3:ListBucket"],
            "Resource": [BUCKET, f"{BUCKET}/*"],
            "Condition": {"IpAddress": {"aws:SourceIp": ["198.51.100.0/24", "2001:db8::/32"]}},
        },
        {
            "Sid": "PartnerAccount",
            "Effect": "Allow",
            "Principal": {"AWS": B},
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": f"{BUCKET}/shared/*",
        },
        {
            "Sid": "HomeFolders",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{A}:root"},
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": f"{BUCKET}/home/${{aws:username}}/*",
        },
        {
            "Sid": "ListOwnHome",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{A}:root"},
            "Action": "s3:ListBucket",
            "Resource": BUCKET,
            "Condition": {"StringLike": {"s3:prefix": ["home/${aws:username}/*", ""]}},
        },
        {
            "Sid": "MaxKeys",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:ListBucket",
            "Resource": BUCKET,
            "Condition": {"NumericGreaterThan": {"s3:max-keys": "1000"}},
        },
    ]
    for index in range(12):
        statements.append(
            {
                "Sid": f"Team{index}",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{A}:role/team-{index}"},
                "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
                "Resource": [BUCKET, f"{BUCKET}/teams/{index}/*"],
                "Condition": {
                    "StringEquals": {"aws:RequestedRegion": "eu-west-3"},
                    "DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"},
                },
            }
        )
    text = json.dumps({"Version": "2012-10-17", "Statement": statements})
    return parse_policy(text, kind=PolicyKind.RESOURCE)


IDENTITY = parse_policy(
    json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": ["s3:Get*", "s3:List*"], "Resource": "*"},
                {
                    "Effect": "Deny",
                    "Action": "s3:DeleteObject",
                    "Resource": "*",
                    "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
                },
            ],
        }
    ),
    kind=PolicyKind.IDENTITY,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)
COMMON: dict[str, Any] = dict(
    secure_transport=True, source_ip="203.0.113.7", current_time=NOW, requested_region="eu-west-3"
)
ALICE: dict[str, Any] = dict(
    principal_type=PrincipalType.USER,
    principal_arn=f"arn:aws:iam::{A}:user/alice",
    principal_account=A,
    username="alice",
)


def scenarios(policy: PolicyDocument) -> dict[str, tuple[Callable[[], Any], Outcome]]:
    anonymous = RequestContext(
        action="s3:GetObject", resource=f"{BUCKET}/public/logo.png", **COMMON
    )
    alice_get = RequestContext(
        action="s3:GetObject", resource=f"{BUCKET}/home/alice/a.txt", **COMMON, **ALICE
    )
    team = RequestContext(
        action="s3:PutObject",
        resource=f"{BUCKET}/teams/11/x",
        principal_type=PrincipalType.ASSUMED_ROLE,
        principal_arn=f"arn:aws:sts::{A}:assumed-role/team-11/s",
        role_arn=f"arn:aws:iam::{A}:role/team-11",
        principal_account=A,
        keys={"s3:x-amz-server-side-encryption": "aws:kms"},
        **COMMON,
    )
    partner = RequestContext(
        action="s3:GetObject",
        resource=f"{BUCKET}/shared/report.pdf",
        principal_type=PrincipalType.USER,
        principal_arn=f"arn:aws:iam::{B}:user/bob",
        principal_account=B,
        **COMMON,
    )
    denied = RequestContext(action="s3:GetObject", resource=f"{BUCKET}/private/x", **COMMON)
    return {
        "anonymous GET, public prefix": (
            lambda: evaluate(anonymous, resource_policy=policy, resource_account=A),
            Outcome.ALLOW,
        ),
        "IAM user GET, identity + bucket policy": (
            lambda: evaluate(
                alice_get, identity_policies=[IDENTITY], resource_policy=policy, resource_account=A
            ),
            Outcome.ALLOW,
        ),
        "role session PUT, 12th team statement": (
            lambda: evaluate(team, resource_policy=policy, resource_account=A),
            Outcome.ALLOW,
        ),
        "cross-account GET": (
            lambda: evaluate(
                partner, identity_policies=[IDENTITY], resource_policy=policy, resource_account=A
            ),
            Outcome.ALLOW,
        ),
        "anonymous GET, denied": (
            lambda: evaluate(denied, resource_policy=policy, resource_account=A),
            Outcome.IMPLICIT_DENY,
        ),
    }


def microseconds_per_call(call: Callable[[], Any], *, repeat: int = 5, number: int = 2000) -> float:
    """The median over ``repeat`` runs of the mean time per call, in microseconds."""
    call()  # warm the per-action candidate cache and the compiled-pattern caches
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            call()
        runs.append((time.perf_counter() - start) / number * 1e6)
    return statistics.median(runs)


def measure() -> dict[str, float]:
    policy = twenty_statement_bucket_policy()
    results = {}
    for name, (call, expected) in scenarios(policy).items():
        assert call().outcome is expected, name
        results[name] = microseconds_per_call(call)
    return results


def test_evaluation_is_fast_enough() -> None:
    policy = twenty_statement_bucket_policy()
    assert len(policy.statements) == 20
    results = measure()
    for name, micros in results.items():
        print(f"{name:45s} {micros:7.2f} µs")
        assert micros < CEILING_MICROSECONDS, name


if __name__ == "__main__":
    for scenario, micros in measure().items():
        print(f"{scenario:45s} {micros:7.2f} µs per evaluation")
