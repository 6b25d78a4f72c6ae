"""The platform's services' events into EventBridge (decision 0192's session 48 addendum):
S3's records, as a bucket with ``EventBridgeConfiguration`` queues them, turned into S3's bus
events (AWS's detail-types, detail members and reasons) and routed by ``BucketEventBus`` into
the owner's default bus, where a rule on ``aws.s3`` takes them; S3's test event and
unparsable messages give none. CloudWatch's alarms' state changes (SetAlarmState, and a
composite alarm following its child) as "CloudWatch Alarm State Change" events in AWS's
shape, through the alarm service's port, into the account's default bus."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from andromede.alarm_adapters import AlarmStateEventSender
from andromede.events.dispatcher import Deliveries
from andromede.events.memory import MemoryEventsStore
from andromede.events.s3_events import s3_bus_events
from andromede.events.service import EventsService
from andromede.metrics.alarm_service import AlarmService
from andromede.metrics.alarm_store import MemoryAlarmStore
from andromede.metrics.alarms import Alarm
from andromede.metrics.service import MetricsService
from andromede.metrics.store import MemoryMetricStore
from andromede.storage.notification import (
    EventBatch,
    EventSource,
    NotificationConfiguration,
    eventbridge_rule,
    lifecycle_source,
)
from andromede.wiring.events import BucketEventBus

REGION = "eu-west-3"
ACCOUNT = "123456789012"
NOW = datetime(2026, 12, 5, 12, 0, 0, 123456, tzinfo=UTC)
CONFIG = NotificationConfiguration((eventbridge_rule(),))


def records(event_name: str, key: str = "in/a b+é.txt", **kw: Any) -> str:
    source = kw.pop("source", EventSource(event_name, "AIDAUSER", "192.0.2.7", "REQ1"))
    batch = EventBatch.of(
        CONFIG,
        source,
        tenant_id=ACCOUNT,
        bucket="photos",
        owner_id="o",
        region=REGION,
        key=key,
        now=NOW,
        bound=100,
        **kw,
    )
    assert batch is not None
    [event] = batch.events
    return event.message(kw.get("version_id"))


def test_s3_records_in_aws_eventbridge_shape() -> None:
    [created] = s3_bus_events(ACCOUNT, json.loads(records("ObjectCreated:Put", size=5, etag="abc")))
    assert {k: created[k] for k in ("version", "source", "detail-type", "account")} == {
        "version": "0",
        "source": "aws.s3",
        "detail-type": "Object Created",
        "account": ACCOUNT,
    }
    assert (created["region"], created["time"]) == (REGION, "2026-12-05T12:00:00Z")
    assert created["resources"] == ["arn:aws:s3:::photos"]
    detail = created["detail"]
    assert detail["bucket"] == {"name": "photos"}
    assert {k: v for k, v in detail["object"].items() if k != "sequencer"} == {
        "key": "in/a b+é.txt",  # as stored, not URL-encoded as in S3's records
        "size": 5,
        "etag": "abc",
    }
    assert len(detail["object"]["sequencer"]) == 16
    assert (detail["request-id"], detail["requester"], detail["source-ip-address"]) == (
        "REQ1",
        "AIDAUSER",
        "192.0.2.7",
    )
    assert detail["reason"] == "PutObject" and "deletion-type" not in detail
    message = json.loads(records("ObjectRemoved:DeleteMarkerCreated"))
    message["Records"][0]["s3"]["object"]["versionId"] = "v1"
    [marker] = s3_bus_events(ACCOUNT, message)
    assert (marker["detail-type"], marker["detail"]["reason"]) == ("Object Deleted", "DeleteObject")
    assert marker["detail"]["deletion-type"] == "Delete Marker Created"
    assert marker["detail"]["object"]["version-id"] == "v1"
    [expired] = s3_bus_events(
        ACCOUNT,
        json.loads(
            records(
                "LifecycleExpiration:Delete", source=lifecycle_source("LifecycleExpiration:Delete")
            )
        ),
    )
    assert (expired["detail"]["reason"], expired["detail"]["deletion-type"]) == (
        "Lifecycle Expiration",
        "Permanently Deleted",
    )
    assert expired["detail"]["requester"] == "s3.amazonaws.com"
    kinds = {
        "ObjectTagging:Put": ("Object Tags Added", "PutObjectTagging"),
        "ObjectTagging:Delete": ("Object Tags Deleted", "DeleteObjectTagging"),
        "ObjectAcl:Put": ("Object ACL Updated", "PutObjectAcl"),
        "ObjectCreated:Copy": ("Object Created", "CopyObject"),
        "ObjectCreated:CompleteMultipartUpload": ("Object Created", "CompleteMultipartUpload"),
    }
    for name, (detail_type, reason) in kinds.items():
        [event] = s3_bus_events(ACCOUNT, json.loads(records(name)))
        assert (event["detail-type"], event["detail"]["reason"]) == (detail_type, reason)
    # S3's test event (no Records) and other shapes give none.
    assert s3_bus_events(ACCOUNT, {"Event": "s3:TestEvent", "Bucket": "photos"}) == []
    assert s3_bus_events(ACCOUNT, ["x"]) == []


class Sink:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send(self, tenant_id: str, arn: str, message: str, **_: Any) -> None:
        self.sent.append((arn, message))


async def test_bucket_events_routed_into_the_owners_default_bus() -> None:
    sink = Sink()
    deliveries = Deliveries(sink)
    service = EventsService(MemoryEventsStore(), deliveries, region=REGION)
    pattern = {"source": ["aws.s3"], "detail-type": ["Object Deleted"]}
    await service.put_rule(ACCOUNT, "deleted", "default", event_pattern=json.dumps(pattern))
    queue = f"arn:aws:sqs:{REGION}:{ACCOUNT}:deleted"
    await service.put_targets(ACCOUNT, "deleted", "default", [{"Id": "q", "Arn": queue}])
    bus = BucketEventBus(service)
    assert await bus.deliver(ACCOUNT, "ignored", records("ObjectCreated:Put"))
    assert await bus.deliver(ACCOUNT, "ignored", records("ObjectRemoved:Delete", key="k"))
    assert not await bus.deliver(ACCOUNT, "ignored", "not json")  # dropped, never routable
    await deliveries.drain()
    [(arn, message)] = sink.sent
    assert arn == queue
    assert json.loads(message)["detail"]["object"]["key"] == "k"


def cpu_alarm(name: str) -> Alarm:
    return Alarm(
        tenant_id=ACCOUNT,
        name=name,
        namespace="AWS/EC2",
        metric_name="CPUUtilization",
        dimensions=(("InstanceId", "i-1"),),
        period=86400,  # not due during the test: SetAlarmState moves it
        evaluation_periods=1,
        datapoints_to_alarm=1,
        threshold=80.0,
        comparison="GreaterThanThreshold",
        statistic="Average",
        description="CPU too high",
    )


async def test_alarm_state_changes_reach_the_default_bus() -> None:
    sink = Sink()
    deliveries = Deliveries(sink)
    events = EventsService(MemoryEventsStore(), deliveries, region=REGION)
    pattern = {"source": ["aws.cloudwatch"], "detail": {"state": {"value": ["ALARM"]}}}
    await events.put_rule(ACCOUNT, "alarms", "default", event_pattern=json.dumps(pattern))
    queue = f"arn:aws:sqs:{REGION}:{ACCOUNT}:alarms"
    await events.put_targets(ACCOUNT, "alarms", "default", [{"Id": "q", "Arn": queue}])
    clock = lambda: NOW  # noqa: E731
    alarms = AlarmService(
        MemoryAlarmStore(), MetricsService(MemoryMetricStore(), clock=clock), REGION, clock=clock
    )
    alarms.state_events = AlarmStateEventSender(events, REGION)
    await alarms.put_alarm(cpu_alarm("cpu"))
    await alarms.put_composite(replace(cpu_alarm("any"), rule="ALARM(cpu)", description=None))
    await alarms.set_state(ACCOUNT, "cpu", "ALARM", "by hand", '{"why": 1}')
    await alarms.set_state(ACCOUNT, "cpu", "OK", "back", None)  # not matched: OK
    await deliveries.drain()
    received = {json.loads(m)["detail"]["alarmName"]: json.loads(m) for _, m in sink.sent}
    assert sorted(received) == ["any", "cpu"]  # the composite followed its child
    event = received["cpu"]
    assert (event["source"], event["detail-type"], event["account"], event["region"]) == (
        "aws.cloudwatch",
        "CloudWatch Alarm State Change",
        ACCOUNT,
        REGION,
    )
    assert event["resources"] == [f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:cpu"]
    detail = event["detail"]
    assert detail["state"] == {
        "value": "ALARM",
        "reason": "by hand",
        "reasonData": '{"why": 1}',
        "timestamp": "2026-12-05T12:00:00.123+0000",
    }
    assert detail["previousState"]["value"] == "INSUFFICIENT_DATA"
    assert detail["previousState"]["reason"] == "Unchecked: Initial alarm creation"
    [metric] = detail["configuration"]["metrics"]
    assert detail["configuration"]["description"] == "CPU too high"
    assert metric["metricStat"] == {
        "metric": {
            "dimensions": {"InstanceId": "i-1"},
            "name": "CPUUtilization",
            "namespace": "AWS/EC2",
        },
        "period": 86400,
        "stat": "Average",
    }
    assert metric["returnData"] is True and len(metric["id"]) == 36
    assert received["any"]["detail"]["configuration"] == {"alarmRule": "ALARM(cpu)"}
