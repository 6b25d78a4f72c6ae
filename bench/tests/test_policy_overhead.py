"""The benchmark's bucket policy is valid, has 20 statements, and lets loopback reads through;
the interval it gives for the median p50 ratio covers the median as often as it says."""

from __future__ import annotations

import random

from andromede.iam.policy import (
    S3_BUCKET_POLICY_MAX,
    PolicyKind,
    PrincipalType,
    RequestContext,
    evaluate,
    parse_policy,
)
from bench.policy_overhead import median_interval, twenty_statements


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


def test_the_interval_of_the_median_is_the_order_statistics_of_the_binomial_tail() -> None:
    assert median_interval([float(i) for i in range(1, 6)]) is None  # 5 values: too few
    assert median_interval([float(i) for i in range(1, 7)]) == (1.0, 6.0)  # 2 / 64 < 2.5 %
    assert median_interval([float(i) for i in range(1, 17)]) == (4.0, 13.0)
    assert median_interval([float(i) for i in range(1, 41)]) == (14.0, 27.0)


def test_the_interval_of_the_median_covers_it_as_often_as_it_says() -> None:
    rng = random.Random(7)
    trials = 2000
    covered = 0
    for _ in range(trials):
        values = sorted(rng.gauss(0.0, 1.0) for _ in range(30))
        interval = median_interval(values)
        assert interval is not None
        covered += interval[0] <= 0.0 <= interval[1]
    assert 0.94 <= covered / trials <= 0.99
