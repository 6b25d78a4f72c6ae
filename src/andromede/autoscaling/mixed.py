"""Mixed instances policies (decision 0209), pure: the policy a group keeps (its instance
types with their weights and its On-Demand/Spot distribution), AWS's checks of it, the split
of the desired capacity between On-Demand and Spot, and the choice of the next instance
type by the allocation strategies over the platform's prices and free room."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from andromede.autoscaling.errors import ScalingValidationError

__all__ = [
    "ON_DEMAND_STRATEGIES",
    "SPOT_STRATEGIES",
    "Launch",
    "MixedPolicy",
    "Override",
    "TypeMarket",
    "check_policy",
    "choose_override",
    "next_is_spot",
    "on_demand_share",
    "plan_launch",
    "weight_of",
]

ON_DEMAND_STRATEGIES: Final = ("prioritized", "lowest-price")
SPOT_STRATEGIES: Final = (
    "lowest-price",
    "capacity-optimized",
    "capacity-optimized-prioritized",
    "price-capacity-optimized",
)
MAX_OVERRIDES: Final = 40  # AWS: up to 40 instance types in a policy
MAX_WEIGHT: Final = 999
MAX_SPOT_POOLS: Final = 20


@dataclass(frozen=True, slots=True)
class Override:
    instance_type: str
    # WeightedCapacity: the capacity units one instance of the type counts for (None: 1).
    weight: int | None = None


@dataclass(frozen=True, slots=True)
class MixedPolicy:
    """A group's MixedInstancesPolicy (its launch template is the group's own)."""

    overrides: tuple[Override, ...] = ()
    on_demand_strategy: str = "prioritized"
    on_demand_base: int = 0
    on_demand_percentage: int = 100
    spot_strategy: str = "lowest-price"
    spot_pools: int = 2
    # SpotMaxPrice as given ("" or None: the On-Demand price, AWS's default).
    spot_max_price: str | None = None

    def plain(self) -> dict[str, Any]:
        return {
            "overrides": [[o.instance_type, o.weight] for o in self.overrides],
            "on_demand_strategy": self.on_demand_strategy,
            "on_demand_base": self.on_demand_base,
            "on_demand_percentage": self.on_demand_percentage,
            "spot_strategy": self.spot_strategy,
            "spot_pools": self.spot_pools,
            "spot_max_price": self.spot_max_price,
        }

    @classmethod
    def revive(cls, data: Mapping[str, Any]) -> MixedPolicy:
        values = dict(data)
        values["overrides"] = tuple(Override(t, w) for t, w in data.get("overrides", ()))
        return cls(**values)


@dataclass(frozen=True, slots=True)
class TypeMarket:
    """What the platform offers of one instance type now: its hourly prices and how many
    more instances of it the hosts have room for."""

    on_demand_price: Decimal
    spot_price: Decimal
    room: int


def check_policy(policy: MixedPolicy) -> None:
    """AWS's refusals of a policy (ValidationError)."""
    if len(policy.overrides) > MAX_OVERRIDES:
        raise ScalingValidationError(
            f"The number of instance types in Overrides must be at most {MAX_OVERRIDES}."
        )
    types = [o.instance_type for o in policy.overrides]
    if len(set(types)) != len(types):
        raise ScalingValidationError("Duplicate instance types are not allowed in Overrides.")
    weighted = [o.weight is not None for o in policy.overrides]
    if any(weighted) and not all(weighted):
        raise ScalingValidationError(
            "If you specify WeightedCapacity for one instance type, you must specify it for "
            "all instance types in Overrides."
        )
    for override in policy.overrides:
        if override.weight is not None and not 1 <= override.weight <= MAX_WEIGHT:
            raise ScalingValidationError(
                f"WeightedCapacity must be an integer between 1 and {MAX_WEIGHT}."
            )
    if policy.on_demand_strategy not in ON_DEMAND_STRATEGIES:
        raise ScalingValidationError(
            f"Invalid OnDemandAllocationStrategy: {policy.on_demand_strategy[:64]}. Valid values "
            f"are: {', '.join(ON_DEMAND_STRATEGIES)}."
        )
    if policy.spot_strategy not in SPOT_STRATEGIES:
        raise ScalingValidationError(
            f"Invalid SpotAllocationStrategy: {policy.spot_strategy[:64]}. Valid values are: "
            f"{', '.join(SPOT_STRATEGIES)}."
        )
    if policy.on_demand_base < 0:
        raise ScalingValidationError("OnDemandBaseCapacity must be greater than or equal to 0.")
    if not 0 <= policy.on_demand_percentage <= 100:
        raise ScalingValidationError(
            "OnDemandPercentageAboveBaseCapacity must be between 0 and 100."
        )
    if not 1 <= policy.spot_pools <= MAX_SPOT_POOLS:
        raise ScalingValidationError(f"SpotInstancePools must be between 1 and {MAX_SPOT_POOLS}.")
    if policy.spot_max_price:
        try:
            price = Decimal(policy.spot_max_price)
        except InvalidOperation:
            price = Decimal(-1)
        if not price.is_finite() or price <= 0:
            raise ScalingValidationError(
                f"SpotMaxPrice {policy.spot_max_price[:32]} is not a valid price."
            )


def weight_of(policy: MixedPolicy, instance_type: str) -> int:
    """The capacity units an instance of ``instance_type`` counts for (1 when unweighted or
    of a type no longer in the policy, as AWS counts it)."""
    for override in policy.overrides:
        if override.instance_type == instance_type:
            return override.weight or 1
    return 1


def on_demand_share(policy: MixedPolicy, desired: int) -> int:
    """The capacity units of ``desired`` that are On-Demand: the base first, then the
    percentage of what is above it, rounded up in On-Demand's favour as AWS does."""
    base = min(policy.on_demand_base, desired)
    above = desired - base
    return base + math.ceil(above * policy.on_demand_percentage / 100)


def next_is_spot(policy: MixedPolicy, desired: int, on_demand_held: int) -> bool:
    """Whether the next launch is Spot: only once the On-Demand share is held."""
    return on_demand_held >= on_demand_share(policy, desired)


def _max_price(policy: MixedPolicy, market: TypeMarket) -> Decimal:
    return Decimal(policy.spot_max_price) if policy.spot_max_price else market.on_demand_price


def choose_override(
    policy: MixedPolicy,
    *,
    spot: bool,
    markets: Mapping[str, TypeMarket],
    held: Mapping[str, int],
) -> Override | None:
    """The instance type of the next launch by the policy's strategy for its market (``held``
    counts the group's instances of each type in that market); None when no type of the
    policy can be launched now (no room, or a Spot price above the maximum)."""
    known = [o for o in policy.overrides if o.instance_type in markets]
    fitting = [o for o in known if markets[o.instance_type].room > 0]
    if spot:
        fitting = [
            o
            for o in fitting
            if markets[o.instance_type].spot_price <= _max_price(policy, markets[o.instance_type])
        ]
    if not fitting:
        return None
    order = {o.instance_type: index for index, o in enumerate(policy.overrides)}

    def unit_price(o: Override) -> Decimal:
        market = markets[o.instance_type]
        price = market.spot_price if spot else market.on_demand_price
        return price / (o.weight or 1)

    if not spot:
        if policy.on_demand_strategy == "prioritized":
            return fitting[0]
        return min(fitting, key=lambda o: (unit_price(o), order[o.instance_type]))
    return _spot_choice(policy, fitting, markets, held, unit_price, order)


def _spot_choice(
    policy: MixedPolicy,
    fitting: Sequence[Override],
    markets: Mapping[str, TypeMarket],
    held: Mapping[str, int],
    unit_price: Any,
    order: Mapping[str, int],
) -> Override:
    strategy = policy.spot_strategy
    if strategy == "lowest-price":
        # Spread over the SpotInstancePools cheapest pools: the one holding fewest.
        pools = sorted(fitting, key=lambda o: (unit_price(o), order[o.instance_type]))
        pools = pools[: policy.spot_pools]
        return min(pools, key=lambda o: (held.get(o.instance_type, 0), pools.index(o)))
    if strategy == "capacity-optimized":
        return max(fitting, key=lambda o: (markets[o.instance_type].room, -order[o.instance_type]))
    if strategy == "capacity-optimized-prioritized":
        # Capacity first, the priority (order) breaking ties, as AWS's best effort.
        return min(fitting, key=lambda o: (-markets[o.instance_type].room, order[o.instance_type]))
    # price-capacity-optimized: the pools with the most room (at least half the best's),
    # then the lowest price among them.
    best = max(markets[o.instance_type].room for o in fitting)
    deep = [o for o in fitting if markets[o.instance_type].room * 2 >= best]
    return min(deep, key=lambda o: (unit_price(o), order[o.instance_type]))


@dataclass(frozen=True, slots=True)
class Launch:
    """The next launch of a group with a mixed instances policy: its type (None: the launch
    template's, when the policy has no overrides), its market and its weight."""

    instance_type: str | None
    spot: bool
    weight: int
    max_price: Decimal | None = None


def plan_launch(
    policy: MixedPolicy,
    desired: int,
    held: Sequence[tuple[str, bool]],
    markets: Mapping[str, TypeMarket],
) -> Launch | None:
    """The next launch for a group holding ``held`` (each instance's type and whether it is
    Spot) toward ``desired`` capacity units; None when no type of the policy can be launched
    in the market the split asks for now."""
    on_demand_units = sum(weight_of(policy, t) for t, spot in held if not spot)
    spot = next_is_spot(policy, desired, on_demand_units)
    max_price = Decimal(policy.spot_max_price) if spot and policy.spot_max_price else None
    if not policy.overrides:
        return Launch(None, spot, 1, max_price)
    counts: dict[str, int] = {}
    for instance_type, is_spot in held:
        if is_spot == spot:
            counts[instance_type] = counts.get(instance_type, 0) + 1
    choice = choose_override(policy, spot=spot, markets=markets, held=counts)
    if choice is None:
        return None
    return Launch(choice.instance_type, spot, choice.weight or 1, max_price)
