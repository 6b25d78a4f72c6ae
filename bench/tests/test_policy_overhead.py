"""The benchmark's bucket policy is valid, has 20 statements, and lets loopback reads through."""

from __future__ import annotations

from andromede.iam.policy import (
    S3_BUCKET_POLICY_MAX,
    PolicyKind,
    PrincipalType,
    RequestContext,
    evaluate,
    parse_policy,
)
from bench.policy_overhead import twenty_statements


def test_the_policy_parses_with_twenty_statements() -> None:
    policy = parse_policy(
        twenty_statements("b"), kind=PolicyKind.RESOURCE, max_size=S3_BUCKET_POLICY_MAX
    )
    assert len(policy.statements) == 20


def test_its_deny_spares_loopback_and_catches_other_addresses() -> None:
    policy = parse_policy(twenty_statements("b"), kind=PolicyKind.RESOURCE)

    def decide(ip: str) -> bool:
        context = RequestContext(
            action="s3:GetObject",
            resource="arn:aws:s3:::b/k/1",
            principal_type=PrincipalType.ROOT,
            principal_arn="arn:aws:iam::111122223333:root",
            principal_account="111122223333",
            source_ip=ip,
        )
        return evaluate(context, resource_policy=policy, resource_account="111122223333").allowed

    assert decide("127.0.0.1")
    assert not decide("192.0.2.7")
