"""The ELB health check's pure decision (decision 0198): which of a group's instances it
looks at — none unless the type is ELB with target groups and HealthCheck not suspended;
of those, the running ones in service past the grace period — and what the port's verdict
makes of them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from andromede.autoscaling.health import checked, elb_verdicts
from andromede.autoscaling.model import Group, Member
from andromede.autoscaling.records import Waiting

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
ARN = "arn:aws:elasticloadbalancing:eu-fr-1:t1:targetgroup/web/0123456789abcdef"


def member(instance_id: str, age: int, state: str = "running") -> Member:
    return Member(
        instance_id, state, NOW - timedelta(seconds=age), "eu-fr-1a", None, None, None, "t3.nano"
    )


GROUP = Group(
    tenant_id="t1",
    name="web",
    group_id="g",
    template_id="lt-1",
    template_name="web",
    template_version="$Latest",
    min_size=0,
    max_size=9,
    desired_capacity=5,
    subnets=(),
    created_at=NOW,
    health_check_type="ELB",
    health_check_grace_period=300,
    target_groups=(ARN,),
)
MEMBERS = [
    member("i-old", 301),
    member("i-edge", 300),
    member("i-young", 299),
    member("i-pending", 900, "pending"),
    member("i-stopped", 900, "stopped"),
]


def ids(members: Sequence[Member]) -> list[str]:
    return [m.instance_id for m in members]


def test_only_running_instances_past_the_grace_period_are_looked_at() -> None:
    assert ids(checked(GROUP, MEMBERS, NOW)) == ["i-old", "i-edge"]
    assert ids(checked(replace(GROUP, health_check_grace_period=0), MEMBERS, NOW)) == [
        "i-old",
        "i-edge",
        "i-young",
    ]


def test_nothing_is_looked_at_without_elb_target_groups_or_with_health_check_suspended() -> None:
    assert checked(replace(GROUP, health_check_type="EC2"), MEMBERS, NOW) == []
    assert checked(replace(GROUP, target_groups=()), MEMBERS, NOW) == []
    suspended = replace(GROUP, suspended=(("HealthCheck", "User suspended"),))
    assert checked(suspended, MEMBERS, NOW) == []


def test_instances_out_of_service_or_already_marked_are_left_alone() -> None:
    launching = "autoscaling:EC2_INSTANCE_LAUNCHING"
    waiting = Waiting("i-old", "hook", launching, "tok", NOW, NOW, NOW)
    for away in (
        replace(GROUP, standby=("i-old",)),
        replace(GROUP, warmed=("i-old",)),
        replace(GROUP, detaching=("i-old",)),
        replace(GROUP, unhealthy=("i-old",)),
        replace(GROUP, waiting=(waiting,)),
    ):
        assert ids(checked(away, MEMBERS, NOW)) == ["i-edge"]


class Reports:
    """A :class:`~andromede.autoscaling.health.TargetHealth` over fixed verdicts."""

    def __init__(self, unhealthy: set[str]) -> None:
        self.verdicts = unhealthy
        self.asked: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = []

    async def unhealthy(
        self, tenant_id: str, target_group_arns: Sequence[str], instance_ids: Sequence[str]
    ) -> set[str]:
        self.asked.append((tenant_id, tuple(target_group_arns), tuple(instance_ids)))
        return self.verdicts & set(instance_ids)

    async def targets(self, tenant_id: str, target_group_arn: str) -> dict[str, str] | None:
        return None  # the attachment states' part of the port (decision 0201): not here


async def test_the_verdicts_are_asked_of_the_port_for_the_instances_looked_at() -> None:
    port = Reports({"i-old", "i-young"})
    assert await elb_verdicts(port, GROUP, MEMBERS, NOW) == {"i-old"}
    assert port.asked == [("t1", (ARN,), ("i-old", "i-edge"))]
    assert await elb_verdicts(None, GROUP, MEMBERS, NOW) == set()
    quiet = Reports({"i-old"})
    assert await elb_verdicts(quiet, replace(GROUP, target_groups=()), MEMBERS, NOW) == set()
    assert quiet.asked == []  # nothing looked at: the port is not asked
