"""Mixed instances policies, pure (decision 0209): AWS's checks, the On-Demand/Spot split of
the desired capacity, and the choice of types by each allocation strategy."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from andromede.autoscaling.errors import ScalingValidationError
from andromede.autoscaling.mixed import (
    MixedPolicy,
    Override,
    TypeMarket,
    check_policy,
    choose_override,
    on_demand_share,
    plan_launch,
    weight_of,
)
from andromede.autoscaling.model import Group

MARKETS = {
    # on-demand, spot, room
    "t3.small": TypeMarket(Decimal("0.02"), Decimal("0.008"), 3),
    "t3.medium": TypeMarket(Decimal("0.04"), Decimal("0.012"), 10),
    "m5.large": TypeMarket(Decimal("0.10"), Decimal("0.015"), 6),
}
TYPES = tuple(Override(t) for t in ("m5.large", "t3.medium", "t3.small"))


@pytest.mark.parametrize(
    ("base", "percentage", "desired", "expected"),
    [
        (0, 100, 5, 5),
        (0, 0, 5, 0),
        (2, 0, 5, 2),
        (2, 50, 5, 4),  # 2 + ceil(3 * 0.5): rounded up in On-Demand's favour
        (2, 50, 6, 4),
        (10, 0, 3, 3),  # the base above the desired capacity: all of it
        (1, 25, 1, 1),
        (0, 30, 0, 0),
    ],
)
def test_on_demand_share(base: int, percentage: int, desired: int, expected: int) -> None:
    policy = MixedPolicy(TYPES, on_demand_base=base, on_demand_percentage=percentage)
    assert on_demand_share(policy, desired) == expected


def test_the_launches_fill_the_base_then_split_above_it() -> None:
    policy = MixedPolicy(TYPES, on_demand_base=1, on_demand_percentage=50)
    held: list[tuple[str, bool]] = []
    for _ in range(5):
        plan = plan_launch(policy, 5, held, MARKETS)
        assert plan is not None
        assert plan.instance_type is not None
        held.append((plan.instance_type, plan.spot))
    # 1 + ceil(4 * 0.5) = 3 On-Demand, 2 Spot.
    assert [spot for _, spot in held] == [False, False, False, True, True]


def test_on_demand_strategies() -> None:
    prioritized = MixedPolicy(TYPES)
    assert choose_override(prioritized, spot=False, markets=MARKETS, held={}) == TYPES[0]
    cheapest = MixedPolicy(TYPES, on_demand_strategy="lowest-price")
    choice = choose_override(cheapest, spot=False, markets=MARKETS, held={})
    assert choice is not None and choice.instance_type == "t3.small"
    # By the price of one capacity unit: m5.large weighted 8 is the cheapest unit.
    weighted = MixedPolicy(
        (Override("m5.large", 8), Override("t3.medium", 1), Override("t3.small", 1)),
        on_demand_strategy="lowest-price",
    )
    choice = choose_override(weighted, spot=False, markets=MARKETS, held={})
    assert choice is not None and choice.instance_type == "m5.large"
    # A type without room is passed over, even when prioritized.
    full = {**MARKETS, "m5.large": TypeMarket(Decimal("0.10"), Decimal("0.1"), 0)}
    choice = choose_override(prioritized, spot=False, markets=full, held={})
    assert choice is not None and choice.instance_type == "t3.medium"


def test_spot_strategies() -> None:
    def spot_choice(policy: MixedPolicy, held: dict[str, int] | None = None) -> str | None:
        chosen = choose_override(policy, spot=True, markets=MARKETS, held=held or {})
        return chosen.instance_type if chosen else None

    # lowest-price over the 2 cheapest pools (t3.small, t3.medium), the emptier first.
    lowest = MixedPolicy(TYPES, spot_strategy="lowest-price", spot_pools=2)
    assert spot_choice(lowest) == "t3.small"
    assert spot_choice(lowest, {"t3.small": 1}) == "t3.medium"
    assert spot_choice(lowest, {"t3.small": 1, "t3.medium": 1}) == "t3.small"
    one_pool = MixedPolicy(TYPES, spot_strategy="lowest-price", spot_pools=1)
    assert spot_choice(one_pool, {"t3.small": 4}) == "t3.small"
    # capacity-optimized: the most room.
    assert spot_choice(MixedPolicy(TYPES, spot_strategy="capacity-optimized")) == "t3.medium"
    # price-capacity-optimized: among the deep pools (room ≥ half the best), the cheapest.
    assert spot_choice(MixedPolicy(TYPES, spot_strategy="price-capacity-optimized")) == (
        "t3.medium"
    )
    tied = {**MARKETS, "m5.large": TypeMarket(Decimal("0.10"), Decimal("0.015"), 10)}
    prioritized = MixedPolicy(TYPES, spot_strategy="capacity-optimized-prioritized")
    chosen = choose_override(prioritized, spot=True, markets=tied, held={})
    assert chosen is not None and chosen.instance_type == "m5.large"  # tie: the priority
    # A maximum below every Spot price: nothing to launch.
    capped = MixedPolicy(TYPES, spot_max_price="0.005")
    assert spot_choice(capped) is None
    assert (
        plan_launch(
            MixedPolicy(TYPES, on_demand_percentage=0, spot_max_price="0.005"), 1, [], MARKETS
        )
        is None
    )


def test_weights() -> None:
    policy = MixedPolicy((Override("m5.large", 4), Override("t3.small", 1)))
    assert weight_of(policy, "m5.large") == 4
    assert weight_of(policy, "t3.small") == 1
    assert weight_of(policy, "t2.nano") == 1  # a type no longer in the policy
    assert weight_of(MixedPolicy(TYPES), "m5.large") == 1


@pytest.mark.parametrize(
    ("policy", "words"),
    [
        (MixedPolicy(tuple(Override(f"t{i}.x") for i in range(41))), "at most 40"),
        (MixedPolicy((Override("a"), Override("a"))), "Duplicate"),
        (MixedPolicy((Override("a", 2), Override("b"))), "for all instance types"),
        (MixedPolicy((Override("a", 1000),)), "between 1 and 999"),
        (MixedPolicy((Override("a", 0),)), "between 1 and 999"),
        (MixedPolicy(on_demand_strategy="cheapest"), "OnDemandAllocationStrategy"),
        (MixedPolicy(spot_strategy="diversified"), "SpotAllocationStrategy"),
        (MixedPolicy(on_demand_percentage=101), "OnDemandPercentageAboveBaseCapacity"),
        (MixedPolicy(spot_pools=21), "SpotInstancePools"),
        (MixedPolicy(spot_max_price="cheap"), "SpotMaxPrice"),
        (MixedPolicy(spot_max_price="-1"), "SpotMaxPrice"),
    ],
)
def test_aws_refusals(policy: MixedPolicy, words: str) -> None:
    with pytest.raises(ScalingValidationError, match=words):
        check_policy(policy)


def test_the_policy_survives_its_document() -> None:
    policy = MixedPolicy(
        (Override("m5.large", 4), Override("t3.small", 1)),
        on_demand_base=1,
        on_demand_percentage=20,
        spot_strategy="capacity-optimized",
        spot_max_price="0.05",
    )
    check_policy(policy)
    assert MixedPolicy.revive(policy.plain()) == policy


def test_a_group_keeps_its_policy_in_its_document() -> None:
    policy = MixedPolicy((Override("m5.large", 4),), spot_strategy="capacity-optimized")
    group = Group(
        tenant_id="t",
        name="web",
        group_id="g",
        template_id="lt-1",
        template_name="web",
        template_version="$Latest",
        min_size=0,
        max_size=4,
        desired_capacity=2,
        subnets=(),
        created_at=datetime(2026, 12, 6, tzinfo=UTC),
        mixed=policy,
        capacity_rebalance=True,
    )
    again = Group.from_document(group.document(), 3)
    assert again.mixed == policy and again.capacity_rebalance
    # A document written before decision 0209: no policy.
    plain = json.loads(group.document())
    del plain["mixed"], plain["capacity_rebalance"]
    older = Group.from_document(json.dumps(plain), 1)
    assert older.mixed is None and not older.capacity_rebalance
