"""Decision 0192: an instance's state changes reach its owner's default bus as EC2's "EC2
Instance State-change Notification" events (``aws.ec2``, AWS's shape), matched by a rule's
pattern and handed to its target, after the listener that was there before (metering's)."""

from __future__ import annotations

import json
from datetime import datetime

from andromede.compute.model import Image, Instance
from andromede.compute.service import ComputeService, RunRequest
from andromede.events.dispatcher import Deliveries
from andromede.events.memory import MemoryEventsStore
from andromede.events.service import EventsService
from andromede.wiring.events import instance_state_events
from support.computekit import TENANT

REGION = "eu-west-3"


class Sink:
    def __init__(self) -> None:
        self.messages: list[str] = []

    async def send(self, tenant_id: str, arn: str, message: str, **_: object) -> None:
        self.messages.append(message)


async def test_state_changes_become_ec2_events(compute: ComputeService, image: Image) -> None:
    sink = Sink()
    deliveries = Deliveries(sink)
    events = EventsService(MemoryEventsStore(), deliveries, region=REGION)
    pattern = {
        "source": ["aws.ec2"],
        "detail-type": ["EC2 Instance State-change Notification"],
        "detail": {"state": ["running", "stopped"]},
    }
    await events.put_rule(TENANT, "states", "default", event_pattern=json.dumps(pattern))
    queue = f"arn:aws:sqs:{REGION}:{TENANT}:states"
    await events.put_targets(TENANT, "states", "default", [{"Id": "q", "Arn": queue}])
    seen: list[tuple[str, str]] = []

    async def metering(before: Instance, after: Instance, at: datetime) -> None:
        seen.append((before.state, after.state))

    compute.on_transition = instance_state_events(events, REGION, metering)
    [instance] = await compute.run_instances(TENANT, RunRequest(image.image_id, "t3.nano"))
    await compute.settle()
    await compute.stop_instances(TENANT, [instance.instance_id])
    await compute.settle()
    await deliveries.drain()
    assert seen == [("pending", "running"), ("running", "stopping"), ("stopping", "stopped")]
    received = [json.loads(message) for message in sink.messages]
    assert [e["detail"] for e in received] == [
        {"instance-id": instance.instance_id, "state": "running"},
        {"instance-id": instance.instance_id, "state": "stopped"},
    ]
    first = received[0]
    assert (first["source"], first["account"], first["region"], first["version"]) == (
        "aws.ec2",
        TENANT,
        REGION,
        "0",
    )
    assert first["resources"] == [f"arn:aws:ec2:{REGION}:{TENANT}:instance/{instance.instance_id}"]


async def test_spot_interruption_warning_becomes_an_ec2_event(
    compute: ComputeService, image: Image
) -> None:
    """Decision 0202: a Spot Instance's interruption notice reaches its owner's default bus
    as EC2's "EC2 Spot Instance Interruption Warning", its action in the detail."""
    from andromede.compute.model import SpotOptions
    from andromede.wiring.events import spot_interruption_warnings

    sink = Sink()
    deliveries = Deliveries(sink)
    events = EventsService(MemoryEventsStore(), deliveries, region=REGION)
    pattern = {"source": ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning"]}
    await events.put_rule(TENANT, "spot", "default", event_pattern=json.dumps(pattern))
    queue = f"arn:aws:sqs:{REGION}:{TENANT}:spot"
    await events.put_targets(TENANT, "spot", "default", [{"Id": "q", "Arn": queue}])
    compute.spot_warning = spot_interruption_warnings(events, REGION)
    [instance] = await compute.run_instances(
        TENANT, RunRequest(image.image_id, "t3.nano", spot=SpotOptions())
    )
    await compute.settle()
    assert await compute.interrupt_spot(instance.instance_id, "capacity") is not None
    assert await compute.interrupt_spot(instance.instance_id, "capacity") is None  # once
    await deliveries.drain()
    [warning] = [json.loads(message) for message in sink.messages]
    assert warning["detail-type"] == "EC2 Spot Instance Interruption Warning"
    assert warning["detail"] == {
        "instance-id": instance.instance_id,
        "instance-action": "terminate",
    }
    assert warning["resources"] == [
        f"arn:aws:ec2:{REGION}:{TENANT}:instance/{instance.instance_id}"
    ]
