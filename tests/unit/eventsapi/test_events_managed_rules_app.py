"""Decision 0332 through the EventBridge app as ``serve`` builds it (``wiring.events``: SQL
stores on SQLite, the settings' limits, the platform's metrics sink), each call made as
boto3 makes it (botocore's ``events`` model validating, serialising and parsing): an
archive's managed rule ``Events-Archive-<name>`` listed and described with its
``ManagedBy``, refused to every user change without ``Force`` (``ManagedRuleException``),
deleted with ``Force`` — the archive then ``DISABLED`` and archiving nothing until an
UpdateArchive makes its rule again —, changed with the archive's pattern and gone with it;
an archive whose rule cannot be made not made; ``events:ManagedBy`` in the policies' context;
and PutEvents' AWS/Events metrics. Decision 0341: the archive rule's one target as AWS shows
it (ListTargetsByRule, ListRuleNamesByTarget), removed only with ``Force`` — which stops the
archive — and delivered to no one; ``PutEventsApproximate*Count`` and ``InvocationsCreated``."""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import botocore.session
import pytest
from botocore.credentials import Credentials

from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.db.database import Database, open_database
from andromede.events.managed_rules import EARLIER_ARCHIVE_MANAGER
from andromede.eventsapi.app import CONTENT_TYPE
from andromede.http.ratelimit import RateLimiter
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.settings import Settings
from andromede.wiring.events import EventsParts, EventTargets
from support.json_client import AsgiApp, ModelledCalls
from support.metric_sinks import RecordingSink
from support.schema import migrated_sqlite

REGION = "eu-fr-1"
MANAGED = "Events-Archive-orders"


@dataclass
class World(ModelledCalls):
    target_prefix: ClassVar[str] = "AWSEvents"
    service: ClassVar[str] = "events"
    model: ClassVar[Any] = botocore.session.get_session().get_service_model("events")
    content_type: ClassVar[str] = CONTENT_TYPE

    app: AsgiApp
    identity: IdentityService
    credentials: Credentials | None
    tenant_id: str
    metrics: RecordingSink
    parts: Any = None

    def arn(self, kind: str, name: str) -> str:
        return f"arn:aws:events:{REGION}:{self.tenant_id}:{kind}/{name}"

    async def count(self) -> int:
        return int((await self.client("DescribeArchive", ArchiveName="orders"))["EventCount"])

    async def put(self, source: str = "shop") -> None:
        entry = {"Source": source, "DetailType": "order", "Detail": json.dumps({"n": 1})}
        assert (await self.client("PutEvents", Entries=[entry]))["FailedEntryCount"] == 0


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    settings = Settings(data_dir=tmp_path, region=REGION, events_max_rules=3)
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    boot = await identity.bootstrap()
    assert boot is not None
    audit = AuditService(MemoryAuditStore())
    db: Database = open_database(migrated_sqlite(tmp_path / "meta.db"))
    metrics = RecordingSink()
    targets: Any = EventTargets(None, None, None)  # type: ignore[arg-type]
    parts = EventsParts(settings, db, targets, metrics=metrics)
    try:
        yield World(
            parts.api(identity, audit, None, None),
            identity,
            Credentials(boot.access_key_id, boot.secret_access_key),
            boot.tenant.id,
            metrics,
            parts,
        )
    finally:
        await audit.close()
        await db.close()


async def test_an_archive_works_through_its_managed_rule(world: World) -> None:
    bus = world.arn("event-bus", "default")
    made = await world.client(
        "CreateArchive",
        ArchiveName="orders",
        EventSourceArn=bus,
        EventPattern='{"source": ["shop"]}',
    )
    assert made["State"] == "ENABLED"
    [rule] = (await world.client("ListRules"))["Rules"]
    assert rule["Name"] == MANAGED and rule["ManagedBy"] == "prod.vhs.events.aws.internal"
    assert json.loads(rule["EventPattern"]) == {
        "source": ["shop"],
        "replay-name": [{"exists": False}],
    }
    described = await world.client("DescribeRule", Name=MANAGED)
    assert (described["ManagedBy"], described["State"]) == (
        "prod.vhs.events.aws.internal",
        "ENABLED",
    )

    # Every change a user makes without Force: AWS's ManagedRuleException.
    queue = f"arn:aws:sqs:{REGION}:{world.tenant_id}:q"
    refused: list[tuple[str, dict[str, Any]]] = [
        ("PutRule", {"Name": MANAGED, "EventPattern": "{}"}),
        ("PutTargets", {"Rule": MANAGED, "Targets": [{"Id": "q", "Arn": queue}]}),
        ("EnableRule", {"Name": MANAGED}),
        ("DisableRule", {"Name": MANAGED}),
        ("TagResource", {"ResourceARN": rule["Arn"], "Tags": [{"Key": "k", "Value": "v"}]}),
        ("UntagResource", {"ResourceARN": rule["Arn"], "TagKeys": ["k"]}),
        ("RemoveTargets", {"Rule": MANAGED, "Ids": ["q"]}),
        ("RemoveTargets", {"Rule": MANAGED, "Ids": ["q"], "Force": False}),
        ("DeleteRule", {"Name": MANAGED}),
    ]
    for operation, params in refused:
        message = await world.fails(operation, "ManagedRuleException", **params)
        assert "managed by that service" in message
    await world.put()
    await world.put("elsewhere")  # not the archive's pattern
    assert await world.count() == 1

    # Force: the targets call goes through, and the rule goes — the archive with it stops
    # (its target first: a rule with targets is not deleted, Force or not).
    removed = await world.client("RemoveTargets", Rule=MANAGED, Ids=["q"], Force=True)
    assert removed["FailedEntryCount"] == 0
    await world.fails("DeleteRule", "ValidationException", Name=MANAGED, Force=True)
    await world.client("RemoveTargets", Rule=MANAGED, Ids=[MANAGED], Force=True)
    await world.client("DeleteRule", Name=MANAGED, Force=True)
    assert (await world.client("DescribeArchive", ArchiveName="orders"))["State"] == "DISABLED"
    listed = await world.client("ListArchives", State="DISABLED")
    assert [a["ArchiveName"] for a in listed["Archives"]] == ["orders"]
    await world.put()
    assert await world.count() == 1

    # UpdateArchive makes the rule again, with the new pattern.
    updated = await world.client(
        "UpdateArchive", ArchiveName="orders", EventPattern='{"source": ["shop", "till"]}'
    )
    assert updated["State"] == "ENABLED"
    again = await world.client("DescribeRule", Name=MANAGED)
    assert json.loads(again["EventPattern"])["source"] == ["shop", "till"]
    await world.put("till")
    assert await world.count() == 2

    await world.client("DeleteArchive", ArchiveName="orders")
    await world.fails("DescribeRule", "ResourceNotFoundException", Name=MANAGED)
    assert (await world.client("ListRules"))["Rules"] == []


async def test_an_archive_whose_rule_cannot_be_made_is_not_made(world: World) -> None:
    bus = world.arn("event-bus", "default")
    # A user's rule of the archive rule's name is not taken over.
    await world.client("PutRule", Name=MANAGED, EventPattern='{"source": ["mine"]}')
    await world.fails(
        "CreateArchive", "ResourceAlreadyExistsException", ArchiveName="orders", EventSourceArn=bus
    )
    await world.fails("DescribeArchive", "ResourceNotFoundException", ArchiveName="orders")
    assert "ManagedBy" not in await world.client("DescribeRule", Name=MANAGED)
    # The bus's rules at events_max_rules: the archive's rule is one too many.
    for name in ("a", "b"):
        await world.client("PutRule", Name=name, EventPattern="{}")
    await world.fails(
        "CreateArchive", "LimitExceededException", ArchiveName="other", EventSourceArn=bus
    )
    assert (await world.client("ListArchives"))["Archives"] == []


async def test_managed_by_is_in_the_policies_context(world: World) -> None:
    await world.client(
        "CreateArchive", ArchiveName="orders", EventSourceArn=world.arn("event-bus", "default")
    )
    await world.client("PutRule", Name="mine", EventPattern="{}")
    await world.identity.create_user(world.tenant_id, "dev")
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {  # AWS's way of keeping users off the managed rules
                "Effect": "Allow",
                "Action": "events:DescribeRule",
                "Resource": "*",
                "Condition": {"Null": {"events:ManagedBy": "true"}},
            },
            {
                "Effect": "Allow",
                "Action": "events:DeleteRule",
                "Resource": "*",
                "Condition": {"StringEquals": {"events:ManagedBy": "prod.vhs.events.aws.internal"}},
            },
        ],
    }
    await world.identity.put_user_policy(world.tenant_id, "dev", "p", json.dumps(document))
    key = await world.identity.create_access_key(world.tenant_id, "dev")
    dev = World(
        world.app,
        world.identity,
        Credentials(key.key.access_key_id, key.secret_access_key),
        world.tenant_id,
        world.metrics,
    )
    await dev.client("DescribeRule", Name="mine")
    await dev.fails("DescribeRule", "AccessDeniedException", Name=MANAGED)
    await dev.fails("DeleteRule", "AccessDeniedException", Name="mine")
    await world.client("RemoveTargets", Rule=MANAGED, Ids=[MANAGED], Force=True)
    await dev.client("DeleteRule", Name=MANAGED, Force=True)


async def test_put_events_metrics(world: World) -> None:
    await world.client("PutRule", Name="r", EventPattern='{"source": ["shop"]}')
    entries = [
        {"Source": "shop", "DetailType": "order", "Detail": "{}"},
        {"Source": "aws.ec2", "DetailType": "order", "Detail": "{}"},  # refused to tenants
    ]
    assert (await world.client("PutEvents", Entries=entries))["FailedEntryCount"] == 1
    measured = {
        name: (dims, value, unit)
        for _, space, name, dims, value, unit in world.metrics.points
        if space == "AWS/Events" and name.startswith("PutEvents")
    }
    assert measured["PutEventsEntriesCount"] == ((), 2.0, "Count")
    assert measured["PutEventsFailedEntries"] == ((), 1.0, "Count")
    assert measured["PutEventsRequestSize"] == ((), float(4 + 5 + 2 + 7 + 5 + 2), "Bytes")
    dims, latency, unit = measured["PutEventsLatency"]
    assert dims == () and unit == "Milliseconds" and 0 <= latency < 10_000


# AWS's archive target: the archive's ARN and an id of its incarnation, the event, its time.
_TEMPLATE = re.compile(
    r'\{"archive-arn": "(?P<arn>[^"]+):(?P<id>[0-9a-f-]{36})", '
    r'"event": <aws\.events\.event\.json>, '
    r'"ingestion-time": <aws\.events\.event\.ingestion-time>\}'
)


async def test_the_archive_rule_has_awss_one_target(world: World) -> None:
    bus = world.arn("event-bus", "default")
    pattern = '{"source": ["shop"]}'
    made = await world.client(
        "CreateArchive", ArchiveName="orders", EventSourceArn=bus, EventPattern=pattern
    )
    [target] = (await world.client("ListTargetsByRule", Rule=MANAGED))["Targets"]
    service = f"arn:aws:events:{REGION}:::"
    assert (target["Id"], target["Arn"]) == (MANAGED, service)
    assert target["InputTransformer"]["InputPathsMap"] == {}
    template = target["InputTransformer"]["InputTemplate"]
    found = _TEMPLATE.fullmatch(template)
    assert found is not None and found["arn"] == made["ArchiveArn"]
    named = await world.client("ListRuleNamesByTarget", TargetArn=service)
    assert named["RuleNames"] == [MANAGED]

    # The target is the archive service's: the archive keeps the event, no delivery is made;
    # the event still matched a rule (MatchedEvents, TriggeredRules), as on AWS.
    await world.put()
    assert await world.count() == 1
    assert world.metrics.counts("AWS/Events", [])["MatchedEvents"] == 1
    assert world.metrics.counts("AWS/Events", [("RuleName", MANAGED)])["TriggeredRules"] == 1
    made_calls = {point[2] for point in world.metrics.points}
    assert not made_calls & {"InvocationsCreated", "InvocationAttempts", "Invocations"}

    # Removed only with Force, which stops the archive as deleting its rule does.
    await world.fails("RemoveTargets", "ManagedRuleException", Rule=MANAGED, Ids=[MANAGED])
    await world.client("RemoveTargets", Rule=MANAGED, Ids=[MANAGED], Force=True)
    assert (await world.client("DescribeArchive", ArchiveName="orders"))["State"] == "DISABLED"
    assert (await world.client("ListTargetsByRule", Rule=MANAGED))["Targets"] == []
    named = await world.client("ListRuleNamesByTarget", TargetArn=service)
    assert named["RuleNames"] == []
    await world.put()
    assert await world.count() == 1

    # UpdateArchive puts it back (the same incarnation) and enables the archive.
    assert (await world.client("UpdateArchive", ArchiveName="orders"))["State"] == "ENABLED"
    assert (await world.client("ListTargetsByRule", Rule=MANAGED))["Targets"] == [target]
    await world.put()
    assert await world.count() == 2

    # DeleteArchive takes the rule and its target; an archive made again under the same
    # name is another incarnation.
    await world.client("DeleteArchive", ArchiveName="orders")
    assert (await world.client("ListRules"))["Rules"] == []
    await world.client("CreateArchive", ArchiveName="orders", EventSourceArn=bus)
    [again] = (await world.client("ListTargetsByRule", Rule=MANAGED))["Targets"]
    other = _TEMPLATE.fullmatch(again["InputTransformer"]["InputTemplate"])
    assert other is not None and other["arn"] == made["ArchiveArn"]
    assert other["id"] != found["id"]


async def test_an_archive_rule_of_decision_0332_keeps_its_manager(world: World) -> None:
    """A rule made by 0332 (``events.amazonaws.com``, no target) is taken back by the
    archive's next UpdateArchive, which gives it its target, not refused as another's."""
    bus = world.arn("event-bus", "default")
    await world.client("CreateArchive", ArchiveName="orders", EventSourceArn=bus)
    events = world.parts.service
    await events.remove_targets(world.tenant_id, MANAGED, "default", [MANAGED], force=True)
    await events.delete_rule(world.tenant_id, MANAGED, "default", force=True)
    await events.put_rule(
        world.tenant_id, MANAGED, "default", event_pattern="{}", managed_by=EARLIER_ARCHIVE_MANAGER
    )
    assert (await world.client("UpdateArchive", ArchiveName="orders"))["State"] == "ENABLED"
    described = await world.client("DescribeRule", Name=MANAGED)
    assert described["ManagedBy"] == EARLIER_ARCHIVE_MANAGER
    [target] = (await world.client("ListTargetsByRule", Rule=MANAGED))["Targets"]
    assert target["Id"] == MANAGED
    await world.put()
    assert await world.count() == 1


async def test_put_events_approximate_counts_and_invocations_created(world: World) -> None:
    queue = f"arn:aws:sqs:{REGION}:{world.tenant_id}:q"
    await world.client("PutRule", Name="r", EventPattern='{"source": ["shop"]}')
    await world.client("PutTargets", Rule="r", Targets=[{"Id": "a", "Arn": queue}])
    await world.client("PutTargets", Rule="r", Targets=[{"Id": "b", "Arn": queue}])
    entry = {"Source": "shop", "DetailType": "order", "Detail": "{}"}
    refused = {"Source": "aws.ec2", "DetailType": "order", "Detail": "{}"}
    assert (await world.client("PutEvents", Entries=[entry, refused]))["FailedEntryCount"] == 1
    # A call refused whole: more entries than PutEvents takes.
    await world.fails("PutEvents", "ValidationException", Entries=[entry] * 11)
    # Throttled calls, by an app whose rate limiter has two calls' tokens and no time passing.
    audit = AuditService(MemoryAuditStore())
    limiter = RateLimiter(2.0, clock=lambda: 0.0)
    limited = World(
        world.parts.api(world.identity, audit, limiter, None),
        world.identity,
        world.credentials,
        world.tenant_id,
        world.metrics,
    )
    try:
        await limited.client("PutEvents", Entries=[entry])
        await limited.client("ListRules")  # a call of another action: not counted
        for _ in range(2):
            await limited.fails("PutEvents", "ThrottlingException", Entries=[entry])
    finally:
        await audit.close()

    counted = world.metrics.counts("AWS/Events", [])
    approximate = {
        name.removeprefix("PutEventsApproximate"): value
        for name, value in counted.items()
        if name.startswith("PutEventsApproximate")
    }
    assert approximate == {"CallCount": 5, "SuccessCount": 2, "FailedCount": 1, "ThrottledCount": 2}
    assert all(
        (dims, unit) == ((), "Count")
        for _, _, name, dims, _, unit in world.metrics.points
        if name.startswith("PutEventsApproximate")
    )
    # Each event matched the rule's two targets: two invocations created a taken event.
    assert counted["InvocationsCreated"] == 4
