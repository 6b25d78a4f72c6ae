"""How many targets of each load balancer's target group are healthy and unhealthy (session
49's addendum to decision 0191), pure: what ``AWS/NetworkELB``'s ``HealthyHostCount`` and
``UnHealthyHostCount`` report, per load balancer and target group and per zone of the target
as well. A target ``initial``, ``unused`` or ``draining`` is neither, as AWS counts them."""

from __future__ import annotations

from dataclasses import dataclass

from andromede.loadbalancing.model import HealthState, LoadBalancer, TargetGroup

__all__ = ["HealthCount", "health_counts"]


@dataclass(frozen=True, slots=True)
class HealthCount:
    """The healthy and unhealthy targets of one target group behind one load balancer, in
    one zone ("" for all zones)."""

    tenant_id: str
    load_balancer: str  # net/NAME/ID, app/NAME/ID (decision 0216)
    target_group: str  # targetgroup/NAME/ID
    zone: str
    healthy: int
    unhealthy: int


def health_counts(lb: LoadBalancer, group: TargetGroup) -> list[HealthCount]:
    """Every zone of the load balancer's nodes and of the group's targets, and all zones."""
    lb_name = f"{lb.arn_kind}/{lb.name}/{lb.lb_id}"
    tg_name = f"targetgroup/{group.name}/{group.tg_id}"
    zones = {n.availability_zone for n in lb.nodes} | {
        t.availability_zone for t in group.targets if t.availability_zone
    }
    counts = []
    for zone in ["", *sorted(zones)]:
        chosen = [t for t in group.targets if not zone or t.availability_zone == zone]
        counts.append(
            HealthCount(
                lb.tenant_id,
                lb_name,
                tg_name,
                zone,
                sum(t.state is HealthState.HEALTHY for t in chosen),
                sum(t.state is HealthState.UNHEALTHY for t in chosen),
            )
        )
    return counts
