"""Decision 0277: CloudWatch Logs log groups as EventBridge's rule targets, in process: the
EventBridge service over its memory store routing into a real Logs service (memory store, the
real sealer under a key file and customer keys). PutTargets' checks of a log group target;
the account's Logs resource policies letting ``events.amazonaws.com`` in (or not: an explicit
Deny, another rule's ``aws:SourceArn``, no policy) with AWS's ``ERROR_CODE`` in the dead-letter
queue; one stream an event, named after its id, the event its message and its ``time`` its
timestamp; an ``InputTransformer`` of AWS's ``{"timestamp", "message"}`` shape; the group's KMS
key and data protection policy applied, and the ingestion metered."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from andromede.events.dispatcher import Deliveries, DeliveryRefused
from andromede.events.errors import ValidationError
from andromede.events.memory import MemoryEventsStore
from andromede.events.service import EventsLimits, EventsService
from andromede.events.transform import render_input
from andromede.log_group_targets import EventLogTargets, LogTargetWriter, event_log_event
from andromede.logs.model import InputEvent
from andromede.logs.reading import LogEvent
from support.kmskit import ACCOUNT_A, REGION, root
from support.logsapp import LogsWorld, logs_world

ACCOUNT = ACCOUNT_A
GROUP = "/aws/events/orders"
GROUP_ARN = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{GROUP}"
RULE_ARN = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/r"
DLQ = f"arn:aws:sqs:{REGION}:{ACCOUNT}:dlq"


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


# AWS's documented policy for EventBridge's log group targets.
AWS_POLICY = policy(
    {
        "Sid": "TrustEventsToStoreLogEvent",
        "Effect": "Allow",
        "Principal": {"Service": ["events.amazonaws.com", "delivery.logs.amazonaws.com"]},
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/events/*:*",
    }
)


class DeadLetters:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any], dict[str, str]]] = []

    async def send(
        self, tenant_id: str, arn: str, message: str, *, rule_arn: str, group_id: str | None,
        dedup_id: str, attributes: dict[str, str] | None = None, trace: str | None = None,
    ) -> None:  # fmt: skip
        self.sent.append((arn, json.loads(message), attributes or {}))


@dataclass
class Targets:
    logs: LogsWorld
    service: EventsService
    deliveries: Deliveries
    dead: DeadLetters
    metered: list[tuple[str, int, str]] = field(default_factory=list)

    async def route(self, *targets: dict[str, Any], detail: Any = None) -> str:
        """A rule with ``targets`` (a dead-letter queue each), one event; its id."""
        await self.service.put_rule(ACCOUNT, "r", "default", event_pattern="{}")
        dlq = {"DeadLetterConfig": {"Arn": DLQ}}
        await self.service.put_targets(ACCOUNT, "r", "default", [dlq | t for t in targets])
        entry = {"Source": "my.app", "DetailType": "order", "Detail": json.dumps(detail or {})}
        (result,) = await self.service.put_events(ACCOUNT, [entry])
        await self.deliveries.drain()
        assert result.event_id is not None
        return result.event_id

    async def read(self, stream: str, group: str = GROUP) -> list[LogEvent]:
        events, _, _ = await self.logs.service.get_events(
            ACCOUNT, group, stream, start=None, end=None, start_from_head=True, limit=None,
            token=None,
        )  # fmt: skip
        return list(events)

    def codes(self) -> list[str]:
        return [a["ERROR_CODE"] for _, _, a in self.dead.sent]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[LogsWorld]:
    yield from logs_world(tmp_path / "logs")


@pytest.fixture
async def targets(world: LogsWorld) -> Targets:
    world.clock.now = int(time.time() * 1000)  # the events' times are the real clock's
    await world.service.create_group(ACCOUNT, GROUP, None, {})
    dead = DeadLetters()
    deliveries = Deliveries(dead, max_attempts=2, retry_base=0.001)
    limits = EventsLimits(max_targets=10)
    events = EventsService(MemoryEventsStore(), deliveries, region=REGION, limits=limits)
    made = Targets(world, events, deliveries, dead)

    def ingested(tenant_id: str, size: int, meter: str) -> None:
        made.metered.append((tenant_id, size, meter))

    writer = LogTargetWriter(lambda: world.service, ingested)
    deliveries.log_groups = EventLogTargets(writer, REGION)
    return made


async def test_put_targets_checks_log_group_targets(targets: Targets) -> None:
    service = targets.service
    await service.put_rule(ACCOUNT, "r", "default", event_pattern="{}")

    async def refused(spec: dict[str, Any], message: str) -> None:
        with pytest.raises(ValidationError) as caught:
            await service.put_targets(ACCOUNT, "r", "default", [{"Id": "t"} | spec])
        assert message in str(caught.value), str(caught.value)

    await refused({"Arn": GROUP_ARN.replace(ACCOUNT, "999999999999")}, "of this account")
    await refused({"Arn": GROUP_ARN.replace(REGION, "eu-fr-2")}, "of this Region")
    await refused({"Arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:"}, "log groups are")
    await refused({"Arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:destination:d"}, "log groups are")
    await refused({"Arn": GROUP_ARN, "Input": "{}"}, "Input is not supported for target t")
    await refused({"Arn": GROUP_ARN, "InputPath": "$.detail"}, "InputPath is not supported")
    for template in ('{"message": <m>}', '"<m>"', '{"timestamp": <t>, "message": <m>, "x": 1}'):
        transformer = {"InputPathsMap": {"m": "$.detail", "t": "$.time"},
                       "InputTemplate": template}  # fmt: skip
        await refused({"Arn": GROUP_ARN, "InputTransformer": transformer}, "invalid format")
    given = [
        {"Id": "plain", "Arn": GROUP_ARN},
        {"Id": "star", "Arn": GROUP_ARN + ":*", "RetryPolicy": {"MaximumRetryAttempts": 3}},
        {"Id": "shaped", "Arn": GROUP_ARN, "InputTransformer": {
            "InputPathsMap": {"t": "$.time"},
            "InputTemplate": '{"timestamp": <t>, "message": "order <aws.events.rule-name>"}'}},
    ]  # fmt: skip
    await service.put_targets(ACCOUNT, "r", "default", given)
    listed = await service.list_targets(ACCOUNT, "r", "default")
    assert sorted(t.id for t in listed) == ["plain", "shaped", "star"]


async def test_without_a_resource_policy_events_go_to_the_dead_letter_queue(
    targets: Targets,
) -> None:
    await targets.route({"Id": "t", "Arn": GROUP_ARN}, detail={"n": 1})
    assert targets.codes() == ["NO_PERMISSIONS"]
    (_, _, attributes) = targets.dead.sent[0]
    assert attributes["RETRY_ATTEMPTS"] == "0"  # not tried again
    streams, _ = await targets.logs.service.describe_streams(
        ACCOUNT, GROUP, "", "LogStreamName", False, None, None
    )
    assert streams == []  # nothing made
    assert targets.metered == []


async def test_each_event_is_one_log_event_in_a_stream_named_after_its_id(
    targets: Targets,
) -> None:
    await targets.logs.service.put_resource_policy(ACCOUNT, "events", AWS_POLICY)
    first = await targets.route({"Id": "t", "Arn": GROUP_ARN + ":*"}, detail={"n": 1})
    entry = {"Source": "my.app", "DetailType": "order", "Detail": '{"n": 2}'}
    (second,) = await targets.service.put_events(ACCOUNT, [entry])
    await targets.deliveries.drain()
    assert targets.dead.sent == []
    for event_id, n in ((first, 1), (second.event_id, 2)):
        assert event_id is not None
        (logged,) = await targets.read(event_id)
        event = json.loads(logged.message)
        assert (event["id"], event["source"], event["detail"]) == (event_id, "my.app", {"n": n})
        moment = datetime.fromisoformat(event["time"].replace("Z", "+00:00"))
        assert logged.timestamp == int(moment.timestamp() * 1000)
    (_, (tenant, size, meter)) = targets.metered
    assert (tenant, meter) == (ACCOUNT, "logs.ingested")
    assert size == len(logged.message.encode()) + 26


async def test_an_input_transformer_gives_the_timestamp_and_the_message(targets: Targets) -> None:
    await targets.logs.service.put_resource_policy(ACCOUNT, "events", AWS_POLICY)
    shaped = {
        "InputPathsMap": {"t": "$.time", "state": "$.detail.state"},
        # Placeholders outside string literals, as AWS's CDK writes them.
        "InputTemplate": '{"timestamp": <t>, "message": <state>}',
    }
    millis = {
        "InputPathsMap": {"ms": "$.detail.at", "whole": "$.detail"},
        "InputTemplate": '{"timestamp": <ms>, "message": <whole>}',
    }
    at = targets.logs.clock.now - 5_000
    event_id = await targets.route(
        {"Id": "a", "Arn": GROUP_ARN, "InputTransformer": shaped},
        {"Id": "b", "Arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/events/ms",
         "InputTransformer": millis},
        detail={"state": "SHIPPED", "at": at},
    )  # fmt: skip
    assert targets.codes() == ["NO_RESOURCE"]  # /aws/events/ms does not exist (yet)
    (logged,) = await targets.read(event_id)
    assert logged.message == "SHIPPED"
    await targets.logs.service.create_group(ACCOUNT, "/aws/events/ms", None, {})
    targets.dead.sent.clear()
    second = await targets.route(
        {"Id": "b", "Arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/events/ms",
         "InputTransformer": millis},
        detail={"state": "PAID", "at": at},
    )  # fmt: skip
    (logged,) = await targets.read(second, group="/aws/events/ms")
    assert (logged.timestamp, json.loads(logged.message)) == (at, {"state": "PAID", "at": at})
    # A time AWS's window rejects (older than 14 days) is refused, not retried.
    targets.dead.sent.clear()
    await targets.route(
        {"Id": "b", "Arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/events/ms",
         "InputTransformer": millis},
        detail={"at": at - 15 * 86_400_000},
    )  # fmt: skip
    # Target "a" too: the event has no state, its message is null.
    assert targets.codes() == ["INVALID_PARAMETER", "INVALID_PARAMETER"]


async def test_a_deny_or_another_rules_source_arn_keeps_eventbridge_out(
    targets: Targets,
) -> None:
    logs = targets.logs.service
    await logs.put_resource_policy(ACCOUNT, "events", AWS_POLICY)
    deny = {
        "Effect": "Deny",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "logs:PutLogEvents",
        "Resource": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{GROUP}:*",
    }
    await logs.put_resource_policy(ACCOUNT, "deny", policy(deny))
    await targets.route({"Id": "t", "Arn": GROUP_ARN})
    assert targets.codes() == ["NO_PERMISSIONS"]
    await logs.delete_resource_policy(ACCOUNT, "deny")
    await logs.delete_resource_policy(ACCOUNT, "events")
    scoped = {
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{GROUP}:*",
        "Condition": {"ArnEquals": {"aws:SourceArn": RULE_ARN.replace("rule/r", "rule/other")}},
    }
    await logs.put_resource_policy(ACCOUNT, "scoped", policy(scoped))
    targets.dead.sent.clear()
    await targets.route({"Id": "t", "Arn": GROUP_ARN})
    assert targets.codes() == ["NO_PERMISSIONS"]
    scoped["Condition"] = {"ArnEquals": {"aws:SourceArn": RULE_ARN}}
    await logs.put_resource_policy(ACCOUNT, "scoped", policy(scoped))
    targets.dead.sent.clear()
    event_id = await targets.route({"Id": "t", "Arn": GROUP_ARN})
    assert targets.dead.sent == []
    assert len(await targets.read(event_id)) == 1


async def test_the_groups_kms_key_and_data_protection_apply(targets: Targets) -> None:
    logs, kit = targets.logs.service, targets.logs.kit
    await logs.put_resource_policy(ACCOUNT, "events", AWS_POLICY)
    key = await kit.service.create_key(root(ACCOUNT))
    await logs.associate_key(ACCOUNT, GROUP, key.arn)
    document = {
        "Name": "protect",
        "Version": "2021-06-01",
        "Statement": [
            {"Sid": "audit", "DataIdentifier": [EMAIL_ID],
             "Operation": {"Audit": {"FindingsDestination": {}}}},
            {"Sid": "redact", "DataIdentifier": [EMAIL_ID],
             "Operation": {"Deidentify": {"MaskConfig": {}}}},
        ],
    }  # fmt: skip
    group = await logs.group(ACCOUNT, GROUP)
    await logs.protection.put_group_policy(group, json.dumps(document))
    event_id = await targets.route({"Id": "t", "Arn": GROUP_ARN}, detail={"to": "jane@example.fr"})
    assert targets.dead.sent == []
    (logged,) = await targets.read(event_id)
    assert "jane@example.fr" not in logged.message and "****" in logged.message
    stored = await targets.logs.store.get_stream(ACCOUNT, GROUP, event_id)
    assert stored is not None
    # A key disabled: the write is retried, then dead-lettered as the target's error.
    await kit.service.disable_key(root(ACCOUNT), key.key_id)
    targets.dead.sent.clear()
    await targets.route({"Id": "t", "Arn": GROUP_ARN, "RetryPolicy": {"MaximumRetryAttempts": 1}})
    ((_, _, attributes),) = targets.dead.sent
    assert attributes["ERROR_CODE"] == "ERROR_FROM_TARGET"
    assert attributes["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"


EMAIL_ID = "arn:aws:dataprotection::aws:data-identifier/EmailAddress"


def test_unquoted_string_placeholders_render_as_json_strings() -> None:
    """AWS's examples: ``{"state": <state>}`` takes the string with its quotes; within a
    string literal, its text alone (as before)."""
    event = {"time": "2026-12-06T18:00:00Z", "detail": {"state": 'say "hi"', "n": 2}}
    transformer = {
        "InputPathsMap": {"t": "$.time", "s": "$.detail.state", "n": "$.detail.n"},
        "InputTemplate": '{"timestamp": <t>, "message": "<s> x<n>", "s": <s>, "n": <n>}',
    }
    text = render_input(event, constant=None, input_path=None, transformer=transformer,
                        rule_arn=RULE_ARN, rule_name="r")  # fmt: skip
    assert json.loads(text) == {
        "timestamp": "2026-12-06T18:00:00Z",
        "message": 'say "hi" x2',
        "s": 'say "hi"',
        "n": 2,
    }


def test_the_log_event_a_rule_target_writes() -> None:
    event = {"id": "e", "time": "2026-12-06T18:00:00Z"}
    at = int(datetime(2026, 12, 6, 18, tzinfo=UTC).timestamp() * 1000)
    assert event_log_event("whole", event, False) == InputEvent(at, "whole")
    shaped = event_log_event('{"timestamp": "2026-12-06T18:00:00Z", "message": "m"}', event, True)
    assert shaped == InputEvent(at, "m")
    assert event_log_event('{"timestamp": 5, "message": {"a": 1}}', event, True) == InputEvent(
        5, '{"a":1}'
    )
    for bad in (
        '{"timestamp": "soon", "message": "m"}',
        '{"message": "m"}',
        "text",
        '{"timestamp": 5, "message": null}',
        '{"timestamp": true, "message": "m"}',
    ):
        with pytest.raises(DeliveryRefused) as caught:
            event_log_event(bad, event, True)
        assert caught.value.code == "INVALID_PARAMETER"
    with pytest.raises(DeliveryRefused):
        event_log_event("whole", {"id": "e", "time": "2026-12-06T18:00:00"}, False)  # no zone
