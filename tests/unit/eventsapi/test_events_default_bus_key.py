"""Decision 0213's session 51 addendum: the default bus under a customer's KMS key, with its
dead-letter queue, through the EventBridge app as ``serve`` builds it (the harness of
:mod:`unit.eventsapi.test_events_bus_keys`): UpdateEventBus on ``default`` makes its row,
DescribeEventBus and ListEventBuses answer it, PutEvents' entries onto it are sealed under the
key and refused while the key is disabled — while the platform's own events (an ``aws.``
source, routed as the EC2, S3 and CloudWatch emitters route them) stay under the platform's
key and keep flowing, as AWS keeps its services' events under an AWS owned key."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from andromede.events.model import DEFAULT_BUS, event_envelope
from unit.eventsapi.test_events_archive_keys import REGION
from unit.eventsapi.test_events_bus_keys import Bus, buses

__all__ = ["buses"]


async def _instance_stopped(bus: Bus) -> None:
    """EC2's state-change event into the account's default bus, as the compute listener
    (``wiring.events.instance_state_events``) routes it."""
    tenant = bus.events.tenant_id
    event = event_envelope(
        event_id=str(uuid.uuid4()),
        detail_type="EC2 Instance State-change Notification",
        source="aws.ec2",
        account=tenant,
        moment=datetime.now(UTC),
        region=REGION,
        resources=[f"arn:aws:ec2:{REGION}:{tenant}:instance/i-0123456789abcdef0"],
        detail={"instance-id": "i-0123456789abcdef0", "state": "stopped"},
    )
    await bus.events.parts.service.route(tenant, DEFAULT_BUS, [event])


async def test_the_default_bus_under_a_key_and_a_dead_letter_queue(buses: Bus) -> None:
    events = buses.events
    plain = await events.ok("DescribeEventBus", {"Name": "default"})
    assert "KmsKeyIdentifier" not in plain and "DeadLetterConfig" not in plain
    key = await events.key(bus=buses.arn("default"))
    dlq = {"Arn": buses.queue("bus-dlq")}
    update = {"Name": "default", "KmsKeyIdentifier": key, "DeadLetterConfig": dlq}
    answer = await events.ok("UpdateEventBus", {**update, "Description": "the account's bus"})
    assert (answer["Arn"], answer["KmsKeyIdentifier"], answer["DeadLetterConfig"]) == (
        buses.arn("default"),
        key,
        dlq,
    )
    described = await events.ok("DescribeEventBus", {"Name": "default"})
    assert (described["KmsKeyIdentifier"], described["DeadLetterConfig"]) == (key, dlq)
    assert described["Description"] == "the account's bus"
    assert described["CreationTime"] == plain["CreationTime"]  # the row keeps its first time
    await events.ok("CreateEventBus", {"Name": "orders"})
    listed = (await events.ok("ListEventBuses", {}))["EventBuses"]
    assert [b["Name"] for b in listed] == ["default", "orders"]  # the default bus once
    # A customer's event on the default bus is sealed under its key, then delivered.
    await buses.rule("default")
    await events.ok("PutRule", {"Name": "ec2", "EventPattern": '{"source":["aws.ec2"]}'})
    ec2_queue = buses.queue("ec2")
    await events.ok("PutTargets", {"Rule": "ec2", "Targets": [{"Id": "e", "Arn": ec2_queue}]})
    assert (await buses.put("default", "4111-secret"))["FailedEntryCount"] == 0
    [held] = await buses.held()
    assert "4111" not in held and json.loads(held)["bus_dead_letter"] == dlq["Arn"]
    # The platform's own event stays under the platform's key: queued readable here.
    await _instance_stopped(buses)
    held_now = await buses.held()
    assert any("i-0123456789abcdef0" in message for message in held_now)
    await events.parts.deliveries.drain()
    assert {sent.arn for sent in buses.sink.sent} == {buses.queue("orders"), ec2_queue}
    # Disabled: PutEvents onto the default bus fails; the platform's events still flow.
    await events.keys.disable_key(events.root(), key)
    refused = await buses.put("default", "5500-secret")
    assert refused["Entries"][0]["ErrorCode"] == "AccessDeniedException"
    assert key in refused["Entries"][0]["ErrorMessage"]
    await _instance_stopped(buses)
    await events.parts.deliveries.drain()
    assert buses.sink.sent[-1].arn == ec2_queue and len(buses.sink.sent) == 3
    # Decision 0218: the rules are sealed under the key, which must open them to re-encrypt
    # them: UpdateEventBus with no key is refused while it is disabled, nothing changed.
    refused_update = await events.call("UpdateEventBus", {"Name": "default"})
    assert json.loads(refused_update.body)["__type"] == "ValidationException"
    assert key in json.loads(refused_update.body)["message"]
    assert (await events.ok("DescribeEventBus", {"Name": "default"}))["KmsKeyIdentifier"] == key
    await events.keys.enable_key(events.root(), key)
    # UpdateEventBus with no key: EventBridge's own key again, the puts flow again.
    answer = await events.ok("UpdateEventBus", {"Name": "default"})
    assert "KmsKeyIdentifier" not in answer and "DeadLetterConfig" not in answer
    assert answer["Description"] == "the account's bus"
    assert (await buses.put("default", "3700-secret"))["FailedEntryCount"] == 0
    await events.parts.deliveries.drain()
    assert json.loads(buses.sink.sent[-1].message) == {"paid-with": "3700-secret"}


async def test_what_the_default_bus_refuses(buses: Bus) -> None:
    events = buses.events
    elsewhere = await events.key(bus=buses.arn("other"))  # open for another bus only
    await events.fails(
        "UpdateEventBus", {"Name": "default", "KmsKeyIdentifier": elsewhere}, "ValidationException"
    )
    foreign = {"Arn": f"arn:aws:sqs:{REGION}:999999999999:q"}
    await events.fails(
        "UpdateEventBus", {"Name": "default", "DeadLetterConfig": foreign}, "ValidationException"
    )
    described = await events.ok("DescribeEventBus", {"Name": "default"})
    assert "KmsKeyIdentifier" not in described and "DeadLetterConfig" not in described
    # Configured, it is still the implicit bus: not deletable, not counted among the custom.
    key = await events.key(bus=buses.arn("default"))
    await events.ok("UpdateEventBus", {"Name": "default", "KmsKeyIdentifier": key})
    await events.fails("DeleteEventBus", {"Name": "default"}, "ValidationException")
    await events.fails("CreateEventBus", {"Name": "default"}, "ValidationException")
    listed = (await events.ok("ListEventBuses", {"NamePrefix": "def"}))["EventBuses"]
    assert [b["Name"] for b in listed] == ["default"]
