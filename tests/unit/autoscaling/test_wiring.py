"""The wiring of Auto Scaling (decision 0156): the service a serve builds keeps its groups in
the metadata database (migration 0069) and writes every scaling activity into the group's
account's audit log, by Auto Scaling's service-linked role."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.autoscaling.model import ActivityStatus, Group
from andromede.autoscaling.store_sql import SqlGroupStore
from andromede.autoscaling_adapters import TopicNotifier
from andromede.db.database import open_database
from andromede.notifications.memory import MemoryTopicStore
from andromede.notifications.service import TopicService
from andromede.settings import Settings
from andromede.wiring.compute import autoscaling_reconciler, autoscaling_service
from support.autoscalingapp import World
from support.schema import migrated_sqlite


async def test_activities_are_audited_and_groups_stored(world: World, tmp_path: Path) -> None:
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    store = MemoryAuditStore()
    audit = AuditService(store)
    try:
        settings = Settings(
            data_dir=tmp_path / "data",
            max_autoscaling_groups_per_tenant=7,
            max_scheduled_actions_per_autoscaling_group=3,
            max_lifecycle_hooks_per_autoscaling_group=4,
        )
        service = autoscaling_service(settings, db, world.compute, audit)
        assert isinstance(service.store, SqlGroupStore)
        assert service.limits.max_groups_per_tenant == 7
        assert (service.limits.max_scheduled_actions, service.limits.max_lifecycle_hooks) == (3, 4)
        # Without the notification topics no hook may name a target; with them, it may.
        assert service.notifier is None
        topics = TopicService(MemoryTopicStore(), region="eu-fr-1", max_topics=1)
        notified = autoscaling_service(settings, db, world.compute, audit, topics)
        assert isinstance(notified.notifier, TopicNotifier)
        group = Group(
            tenant_id=world.tenant_id,
            name="web",
            group_id="g",
            template_id="lt-1",
            template_name="web",
            template_version="$Latest",
            min_size=0,
            max_size=1,
            desired_capacity=1,
            subnets=(),
            created_at=datetime.now(UTC),
        )
        await service.record(
            group,
            "Launching a new EC2 instance: i-0123456789abcdef0",
            "At … an instance was started",
            ActivityStatus.SUCCESSFUL,
            datetime.now(UTC),
        )
        await service.record(
            group, "Terminating EC2 instance: i-1", "test", ActivityStatus.FAILED, datetime.now(UTC)
        )
        # A scheduled action's firing changes the group's sizes (decision 0159).
        await service.record(
            group,
            "Executing scheduled action am",
            "At … a scheduled action update",
            ActivityStatus.SUCCESSFUL,
            datetime.now(UTC),
        )
        await audit.flush()
        events = [e for _, e in await store.list_events(world.tenant_id, after_id=0, limit=9)]
        assert [(e.action, e.outcome) for e in events] == [
            ("ec2:RunInstances", Outcome.SUCCESS),
            ("ec2:TerminateInstances", Outcome.FAILURE),
            ("autoscaling:UpdateAutoScalingGroup", Outcome.SUCCESS),
        ]
        assert events[0].principal is not None
        assert events[0].principal.endswith("/AWSServiceRoleForAutoScaling")
        assert events[0].resource == "autoScalingGroupName/web"
        assert len(await service.store.activities(world.tenant_id, "web")) == 3
    finally:
        await audit.close()
        await db.close()


async def test_the_reconciler_leaves_a_suspended_accounts_groups_alone(
    world: World, tmp_path: Path
) -> None:
    template = await world.template(world.tenant_id)
    await world.root.call(
        "CreateAutoScalingGroup",
        AutoScalingGroupName="web",
        LaunchTemplate={"LaunchTemplateId": template},
        MinSize=1,
        MaxSize=2,
    )
    settings = Settings(data_dir=tmp_path / "data")
    first = autoscaling_reconciler(settings, world.service, world.identity)
    second = autoscaling_reconciler(settings, world.service, world.identity)
    assert first.owner != second.owner
    await world.identity.suspend_tenant(world.tenant_id)
    assert await first.run_once() == 0
    assert await world.compute.describe_instances(world.tenant_id, []) == []
    await world.identity.reactivate_tenant(world.tenant_id)
    assert await first.run_once() == 1
    await world.compute.settle()
    assert len(await world.compute.describe_instances(world.tenant_id, [])) == 1
