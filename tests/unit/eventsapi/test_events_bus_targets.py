"""Decision 0273: event buses as rule targets — the account's own and another account's —
in process, built as ``serve`` builds EventBridge (``wiring.events``: the SQL store on
SQLite, the durable deliveries, the identity service judging the targets' roles) and called
by two accounts with botocore's SigV4. PutTargets' checks; the receiving bus getting the
event itself (its id, account and Region of origin) only once its policy lets the sender's
role in; the role's failures dead-lettered with AWS's ``ERROR_CODE`` at once; one hop only;
events sent bus to bus metered as published events of the sender."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.credentials import Credentials

from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.billing.model import parse_month
from andromede.billing.service import BillingService
from andromede.billing.store import MemoryBillingStore
from andromede.db.database import Database, open_database
from andromede.event_stream_targets import EVENTS_PRINCIPAL
from andromede.eventsapi.app import CONTENT_TYPE, EventsApp
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.settings import Settings
from andromede.wiring.events import EventsParts
from support.json_client import signed_json_post
from support.metric_sinks import RecordingSink
from support.schema import migrated_sqlite

REGION = "eu-fr-1"
TRUST = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": EVENTS_PRINCIPAL},
                   "Action": "sts:AssumeRole"}],
})  # fmt: skip
ENTRY = {"Source": "my.app", "DetailType": "order", "Detail": '{"n": 1}'}
PATTERN = json.dumps({"source": ["my.app"]})


class Queues:
    """The deliveries' queue-and-topic sink: what each queue was sent, with its attributes."""

    def __init__(self) -> None:
        self.sent: dict[str, list[tuple[dict[str, Any], dict[str, str]]]] = {}
        # (queue, trace header) of each message, as the worker gave it (decision 0360).
        self.traces: list[tuple[str, str | None]] = []

    async def send(
        self,
        tenant_id: str,
        arn: str,
        message: str,
        *,
        rule_arn: str,
        group_id: str | None,
        dedup_id: str,
        attributes: dict[str, str] | None = None,
        role_arn: str | None = None,
        trace: str | None = None,
    ) -> None:
        self.sent.setdefault(arn, []).append((json.loads(message), attributes or {}))
        self.traces.append((arn, trace))


@dataclass
class Account:
    app: EventsApp
    identity: IdentityService
    credentials: Credentials
    id: str

    async def call(self, action: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        reply = await signed_json_post(
            self.app,
            f"AWSEvents.{action}",
            payload,
            content_type=CONTENT_TYPE,
            credentials=self.credentials,
            service="events",
            region=REGION,
        )
        return reply.status, reply.json()

    async def ok(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        status, answer = await self.call(action, payload)
        assert status == 200, answer
        return answer

    async def refused(self, action: str, payload: dict[str, Any]) -> tuple[str, str]:
        status, answer = await self.call(action, payload)
        assert status == 400, answer
        return str(answer["__type"]), str(answer.get("message", ""))

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{REGION}:{self.id}:{resource}"

    def bus(self, name: str) -> str:
        return self.arn("events", f"event-bus/{name}")

    async def role(self, name: str, *actions: str, trust: str = TRUST) -> str:
        role = await self.identity.create_role(self.id, name, trust)
        if actions:
            allow = {"Effect": "Allow", "Action": list(actions), "Resource": "*"}
            policy = json.dumps({"Version": "2012-10-17", "Statement": [allow]})
            await self.identity.put_role_policy(self.id, name, "put", policy)
        return role.arn

    async def rule(self, name: str, bus: str, *targets: dict[str, Any]) -> None:
        await self.ok("PutRule", {"Name": name, "EventBusName": bus, "EventPattern": PATTERN})
        await self.ok("PutTargets", {"Rule": name, "EventBusName": bus, "Targets": list(targets)})

    async def put(self, bus: str = "default") -> str:
        answer = await self.ok("PutEvents", {"Entries": [{**ENTRY, "EventBusName": bus}]})
        assert answer["FailedEntryCount"] == 0, answer
        return str(answer["Entries"][0]["EventId"])


@dataclass
class World:
    sender: Account
    receiver: Account
    parts: EventsParts
    queues: Queues
    billing: BillingService
    db: Database
    metrics: RecordingSink

    async def drain(self) -> None:
        await self.parts.deliveries.drain()

    def received(self, queue_arn: str) -> list[dict[str, Any]]:
        return [message for message, _ in self.queues.sent.pop(queue_arn, [])]

    def dead_letters(self) -> list[dict[str, str]]:
        dlq = self.sender.arn("sqs", "dlq")
        return [attributes for _, attributes in self.queues.sent.pop(dlq, [])]


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    settings = Settings(data_dir=tmp_path, region=REGION, events_delivery_retry_base=0.001)
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    boot = await identity.bootstrap()
    assert boot is not None
    other = await identity.create_tenant("receiver")
    audit = AuditService(MemoryAuditStore())
    billing = BillingService(MemoryBillingStore(), region=REGION, instance_types=[])
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    queues = Queues()
    metrics = RecordingSink()
    sink: Any = queues  # the queue-and-topic sink EventTargets would be
    parts = EventsParts(settings, db, sink, identity=identity, metrics=metrics)
    app = parts.api(identity, audit, None, billing)
    sender = Account(
        app, identity, Credentials(boot.access_key_id, boot.secret_access_key), boot.tenant.id
    )
    receiver = Account(
        app,
        identity,
        Credentials(other.access_key_id, other.secret_access_key),
        other.tenant.id,
    )
    try:
        yield World(sender, receiver, parts, queues, billing, db, metrics)
    finally:
        await billing.close()
        await audit.close()
        await db.close()


async def test_put_targets_checks_bus_targets(world: World) -> None:
    """Another account's bus needs a role of the rule's account; a bus takes no input
    settings; a bus of another Region is refused (EventBridge is served in one Region here);
    the account's own bus needs no role. ListTargetsByRule answers what was taken."""
    sender, receiver = world.sender, world.receiver
    await sender.ok("PutRule", {"Name": "fwd", "EventPattern": PATTERN})
    theirs = receiver.bus("inbox")
    role = await sender.role("send", "events:PutEvents")

    def put(*targets: dict[str, Any]) -> dict[str, Any]:
        return {"Rule": "fwd", "Targets": list(targets)}

    code, message = await sender.refused("PutTargets", put({"Id": "t", "Arn": theirs}))
    assert (code, message) == ("ValidationException", f"RoleArn is required for target {theirs}.")
    for extra in ({"Input": "{}"}, {"InputPath": "$.detail"}):
        code, message = await sender.refused(
            "PutTargets", put({"Id": "t", "Arn": theirs, "RoleArn": role, **extra})
        )
        assert code == "ValidationException"
        assert "an event bus receives the event as it is" in message
    their_role = await receiver.role("theirs")
    code, message = await sender.refused(
        "PutTargets", put({"Id": "t", "Arn": theirs, "RoleArn": their_role})
    )
    assert "must be a role of the rule's account" in message
    elsewhere = theirs.replace(REGION, "eu-de-1")
    code, message = await sender.refused(
        "PutTargets", put({"Id": "t", "Arn": elsewhere, "RoleArn": role})
    )
    assert code == "ValidationException"
    assert "event buses of Region eu-de-1 are not served" in message
    code, _ = await sender.refused(
        "PutTargets",
        put({"Id": "t", "Arn": theirs, "RoleArn": role, "HttpParameters": {}}),
    )
    assert code == "ValidationException"
    nobody = theirs.replace(receiver.id, "nobody")
    code, message = await sender.refused(
        "PutTargets", put({"Id": "t", "Arn": nobody, "RoleArn": role})
    )
    assert "Provided Arn is not in correct format" in message

    mine = sender.bus("mine")
    taken = [
        {"Id": "theirs", "Arn": theirs, "RoleArn": role},
        {"Id": "mine", "Arn": mine, "DeadLetterConfig": {"Arn": sender.arn("sqs", "dlq")}},
    ]
    assert await sender.ok("PutTargets", put(*taken)) == {"FailedEntryCount": 0,
                                                         "FailedEntries": []}  # fmt: skip
    listed = await sender.ok("ListTargetsByRule", {"Rule": "fwd"})
    assert sorted(listed["Targets"], key=lambda t: t["Id"]) == sorted(taken, key=lambda t: t["Id"])
    names = await sender.ok("ListRuleNamesByTarget", {"TargetArn": theirs})
    assert names["RuleNames"] == ["fwd"]


async def test_another_accounts_bus_receives_once_its_policy_lets_the_role_in(
    world: World,
) -> None:
    """Before the receiver's PutPermission the delivery is ``NO_PERMISSIONS`` at once (no
    retry), dead-lettered with AWS's attributes; after it, the receiving bus's rule gets the
    event itself — same id, the sender's account, the Region of origin — and the bus-to-bus
    event is metered as a published event of the sender."""
    sender, receiver = world.sender, world.receiver
    await receiver.ok("CreateEventBus", {"Name": "inbox"})
    inbox_queue = receiver.arn("sqs", "inbox")
    await receiver.rule("in", "inbox", {"Id": "q", "Arn": inbox_queue})
    role = await sender.role("send", "events:PutEvents")
    dlq = {"DeadLetterConfig": {"Arn": sender.arn("sqs", "dlq")}}
    target = {"Id": "theirs", "Arn": receiver.bus("inbox"), "RoleArn": role, **dlq}
    await sender.rule("fwd", "default", target)

    await sender.put()
    await world.drain()
    assert world.received(inbox_queue) == []
    (refused,) = world.dead_letters()
    rule_arn = sender.arn("events", "rule/fwd")
    assert refused["ERROR_CODE"] == "NO_PERMISSIONS"
    assert (refused["RULE_ARN"], refused["TARGET_ARN"]) == (rule_arn, receiver.bus("inbox"))
    assert refused["RETRY_ATTEMPTS"] == "0" and "EXHAUSTED_RETRY_CONDITION" not in refused

    grant = {"EventBusName": "inbox", "Action": "events:PutEvents", "Principal": sender.id,
             "StatementId": "sender"}  # fmt: skip
    await receiver.ok("PutPermission", grant)
    event_id = await sender.put()
    await world.drain()
    (event,) = world.received(inbox_queue)
    assert event["id"] == event_id
    assert (event["account"], event["region"], event["source"]) == (sender.id, REGION, "my.app")
    assert event["detail"] == {"n": 1} and event["detail-type"] == "order"
    assert world.dead_letters() == []
    await world.billing.flush()
    month = parse_month(datetime.now(UTC).strftime("%Y-%m"))
    report = await world.billing.usage_report(sender.id, month)
    published = sum(line.quantity for line in report.lines if line.meter == "events.published")
    assert published == 3  # two PutEvents and one event sent on to another bus

    # The receiver's policy allows the account; the role's own policies must allow it too.
    bare = await sender.role("bare")
    await sender.ok("PutTargets", {"Rule": "fwd", "Targets": [{**target, "RoleArn": bare}]})
    await sender.put()
    await world.drain()
    assert world.received(inbox_queue) == []
    assert [a["ERROR_CODE"] for a in world.dead_letters()] == ["NO_PERMISSIONS"]

    # AWS/Events, as AWS publishes them: the default bus's rule by RuleName alone, a custom
    # bus's by EventBusName and RuleName; each attempt counted (decision 0332).
    assert world.metrics.counts("AWS/Events", [("RuleName", "fwd")]) == {
        "TriggeredRules": 3,
        "MatchedEvents": 3,
        "Invocations": 3,
        "InvocationAttempts": 3,
        "SuccessfulInvocationAttempts": 1,
        "FailedInvocations": 2,
        "InvocationsSentToDlq": 2,
    }
    inbox_rule = [("EventBusName", "inbox"), ("RuleName", "in")]
    assert world.metrics.counts("AWS/Events", inbox_rule) == {
        "TriggeredRules": 1,
        "MatchedEvents": 1,
        "Invocations": 1,
        "InvocationAttempts": 1,
        "SuccessfulInvocationAttempts": 1,
    }


async def test_roles_that_cannot_be_assumed_and_missing_buses_are_dead_lettered(
    world: World,
) -> None:
    """A role that does not trust EventBridge is ``FAILED_TO_ASSUME_ROLE``; a bus of the
    account that does not exist is ``NO_RESOURCE``; neither is tried again."""
    sender = world.sender
    untrusting = json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "sqs.amazonaws.com"},
                       "Action": "sts:AssumeRole"}],
    })  # fmt: skip
    role = await sender.role("wrong", "events:PutEvents", trust=untrusting)
    dlq = {"DeadLetterConfig": {"Arn": sender.arn("sqs", "dlq")}}
    await sender.rule(
        "fwd",
        "default",
        {"Id": "a", "Arn": world.receiver.bus("default"), "RoleArn": role, **dlq},
        {"Id": "b", "Arn": sender.bus("missing"), **dlq},
    )
    await sender.put()
    await world.drain()
    codes = sorted((a["ERROR_CODE"], a["RETRY_ATTEMPTS"]) for a in world.dead_letters())
    assert codes == [("FAILED_TO_ASSUME_ROLE", "0"), ("NO_RESOURCE", "0")]


async def test_the_accounts_own_bus_and_one_hop_only(world: World) -> None:
    """A rule of the default bus sends to the account's bus ``orders`` (no role needed),
    whose rule has a queue and a third bus as targets: the queue gets the forwarded event,
    the third bus does not — "EventBridge can't route events received from a sender event
    bus to a third event bus" — while an event put on ``orders`` itself reaches the third
    bus. With a role, the account's own bus is written as the role, its policies deciding."""
    sender = world.sender
    for name in ("orders", "third"):
        await sender.ok("CreateEventBus", {"Name": name})
    orders_queue, third_queue = sender.arn("sqs", "orders"), sender.arn("sqs", "third")
    await sender.rule("third", "third", {"Id": "q", "Arn": third_queue})
    await sender.rule(
        "on", "orders", {"Id": "q", "Arn": orders_queue}, {"Id": "b", "Arn": sender.bus("third")}
    )
    await sender.rule("fwd", "default", {"Id": "b", "Arn": sender.bus("orders")})

    event_id = await sender.put()
    await world.drain()
    assert [event["id"] for event in world.received(orders_queue)] == [event_id]
    assert world.received(third_queue) == []
    # AWS counts the invocation a loop would have made as a dead-letter invocation.
    on_rule = [("EventBusName", "orders"), ("RuleName", "on")]
    assert world.metrics.counts("AWS/Events", on_rule)["DeadLetterInvocations"] == 1

    direct = await sender.put("orders")
    await world.drain()
    assert [event["id"] for event in world.received(orders_queue)] == [direct]
    assert [event["id"] for event in world.received(third_queue)] == [direct]

    bare = await sender.role("bare")
    dlq = {"DeadLetterConfig": {"Arn": sender.arn("sqs", "dlq")}}
    target = {"Id": "b", "Arn": sender.bus("orders"), "RoleArn": bare, **dlq}
    await sender.ok("PutTargets", {"Rule": "fwd", "Targets": [target]})
    await sender.put()
    await world.drain()
    assert world.received(orders_queue) == []
    assert [a["ERROR_CODE"] for a in world.dead_letters()] == ["NO_PERMISSIONS"]
    allowed = await sender.role("allowed", "events:PutEvents")
    await sender.ok("PutTargets", {"Rule": "fwd", "Targets": [{**target, "RoleArn": allowed}]})
    event_id = await sender.put()
    await world.drain()
    assert [event["id"] for event in world.received(orders_queue)] == [event_id]


async def test_the_receiving_bus_policy_sees_the_sending_rule_and_the_event(
    world: World,
) -> None:
    """The receiver's policy names the one rule it takes events from (``aws:SourceArn``), for
    forwarded events only (``events:eventBusInvocation``) of one source (``events:source``):
    the sender's other rule is refused (``NO_PERMISSIONS``), and so is the sender's own
    PutEvents naming the bus, which no rule sends."""
    sender, receiver = world.sender, world.receiver
    await receiver.ok("CreateEventBus", {"Name": "inbox"})
    inbox_queue = receiver.arn("sqs", "inbox")
    await receiver.rule("in", "inbox", {"Id": "q", "Arn": inbox_queue})
    statement = {
        "Sid": "from-fwd",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{sender.id}:root"},
        "Action": "events:PutEvents",
        "Resource": receiver.bus("inbox"),
        "Condition": {
            "ArnEquals": {"aws:SourceArn": sender.arn("events", "rule/fwd")},
            "Bool": {"events:eventBusInvocation": "true"},
            "StringEquals": {"events:source": "my.app"},
        },
    }
    policy = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    await receiver.ok("PutPermission", {"EventBusName": "inbox", "Policy": policy})
    role = await sender.role("send", "events:PutEvents")
    dlq = {"DeadLetterConfig": {"Arn": sender.arn("sqs", "dlq")}}
    target = {"Id": "theirs", "Arn": receiver.bus("inbox"), "RoleArn": role, **dlq}
    await sender.rule("fwd", "default", target)
    await sender.rule("other", "default", target)

    event_id = await sender.put()
    await world.drain()
    assert [event["id"] for event in world.received(inbox_queue)] == [event_id]
    (refused,) = world.dead_letters()
    assert refused["ERROR_CODE"] == "NO_PERMISSIONS"
    assert refused["RULE_ARN"] == sender.arn("events", "rule/other")

    code, _ = await sender.refused(
        "PutEvents", {"Entries": [{**ENTRY, "EventBusName": receiver.bus("inbox")}]}
    )
    assert code == "AccessDeniedException"


async def test_put_events_judged_with_its_entries_source_and_detail_type(world: World) -> None:
    """PutEvents gives the bus's policy ``events:source``, ``events:detail-type`` and
    ``events:eventBusInvocation`` false, as AWS does: a grant for one source lets only its
    entries in, an entry of another source or detail type failing alone with AWS's error
    naming the key (decision 0318), a call of refused entries only refused whole."""
    sender, receiver = world.sender, world.receiver
    await receiver.ok("CreateEventBus", {"Name": "inbox"})
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": sender.id},
        "Action": "events:PutEvents",
        "Resource": receiver.bus("inbox"),
        "Condition": {
            "StringEquals": {"events:source": "my.app", "events:detail-type": "order"},
            "Bool": {"events:eventBusInvocation": "false"},
        },
    }
    policy = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    await receiver.ok("PutPermission", {"EventBusName": "inbox", "Policy": policy})
    entry = {**ENTRY, "EventBusName": receiver.bus("inbox")}
    answer = await sender.ok("PutEvents", {"Entries": [entry, entry]})
    assert answer["FailedEntryCount"] == 0
    for other, error in (
        ({"Source": "other.app"}, "NotAuthorizedForSourceException"),
        ({"DetailType": "refund"}, "NotAuthorizedForDetailTypeException"),
        ({"Source": "other.app", "DetailType": "refund"}, "NotAuthorizedForSourceException"),
    ):
        answer = await sender.ok("PutEvents", {"Entries": [entry, {**entry, **other}]})
        assert answer["FailedEntryCount"] == 1
        kept, failed = answer["Entries"]
        assert "EventId" in kept
        assert failed["ErrorCode"] == error
        assert "onto this event bus" in failed["ErrorMessage"]
    # No PutEvents of the sender's at all: the call is refused, as AWS refuses it.
    await receiver.ok("RemovePermission", {"EventBusName": "inbox", "RemoveAllPermissions": True})
    code, message = await sender.refused("PutEvents", {"Entries": [entry]})
    assert code == "AccessDeniedException"
    assert "no resource-based policy allows the events:PutEvents action" in message


async def test_a_forwarded_event_keeps_its_trace(world: World) -> None:
    """Decision 0360: the trace header an event was put with (the entry's ``TraceHeader``)
    goes with it onto the account's own bus and another account's, whose rules' targets get
    it; an event put without one arrives without one."""
    sender, receiver = world.sender, world.receiver
    await receiver.ok("CreateEventBus", {"Name": "inbox"})
    await sender.ok("CreateEventBus", {"Name": "mine"})
    theirs_queue, mine_queue = receiver.arn("sqs", "inbox"), sender.arn("sqs", "mine")
    await receiver.rule("in", "inbox", {"Id": "q", "Arn": theirs_queue})
    await sender.rule("in", "mine", {"Id": "q", "Arn": mine_queue})
    grant = {"EventBusName": "inbox", "Action": "events:PutEvents", "Principal": sender.id,
             "StatementId": "sender"}  # fmt: skip
    await receiver.ok("PutPermission", grant)
    role = await sender.role("send", "events:PutEvents")
    await sender.rule(
        "fwd",
        "default",
        {"Id": "theirs", "Arn": receiver.bus("inbox"), "RoleArn": role},
        {"Id": "mine", "Arn": sender.bus("mine")},
    )
    trace = "Root=1-6756f2a0-0123456789abcdef01234567;Lineage=1a2b3c4d:2"

    answer = await sender.ok("PutEvents", {"Entries": [{**ENTRY, "TraceHeader": trace}]})
    assert answer["FailedEntryCount"] == 0, answer
    await sender.put()  # no trace
    await world.drain()
    # Deliveries are at least once: by queue, the distinct traces seen.
    seen = {(arn, got) for arn, got in world.queues.traces}
    assert seen == {(theirs_queue, trace), (theirs_queue, None), (mine_queue, trace),
                    (mine_queue, None)}  # fmt: skip
