"""Decision 0323's ``AWS/Lambda`` metrics, the handler run in the real ``bwrap`` sandbox and
the points kept by the world's recorder: a run's ``Invocations``, ``Errors`` (0 or 1) and
``Duration`` under no dimension, ``FunctionName``, ``FunctionName`` + ``Resource`` and, for
an alias, ``ExecutedVersion``; a throttle's ``Throttles`` and no ``Invocations``; the
concurrency gauges; a queued event's ``AsyncEventsReceived``, ``AsyncEventAge`` and, given up,
``AsyncEventsDropped`` with the failed deliveries' ``DestinationDeliveryFailures`` and
``DeadLetterErrors``; a provisioned alias's invocations and spillovers."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from andromede.functions.async_invocations import AsyncInvocations, RetryPolicy
from andromede.functions.errors import InvalidParameterValue
from andromede.functions.event_queue import EventWorker
from andromede.functions.invocation_metrics import FunctionMetrics, dimension_sets, qualifier_of
from andromede.functions.mappings import check_mapping_parameters
from andromede.kinesis.model import StreamMode
from andromede.kinesis.service import Entry
from andromede.metrics.alarm_service import AlarmService
from andromede.metrics.alarm_store import MemoryAlarmStore
from andromede.metrics.alarms import Alarm, AlarmState
from andromede.metrics.service import MetricsService
from andromede.metrics.sink import BufferedSink
from andromede.metrics.store import MemoryMetricStore
from support.kinesisapp import kinesis_world
from support.lambda_mappings import mapping_world
from support.lambdaapp import World, handler_zip, lambda_world
from support.pipesapp import allow

needs_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None,
    reason="bubblewrap is not installed (scripts/install-system-deps.sh installs it)",
)

SOURCE = """
import time

def handler(event, context):
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("fail"):
        raise RuntimeError("asked to fail")
    return {"ok": True}
"""


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async for made in lambda_world(tmp_path):
        yield made


def test_the_dimension_sets_of_each_kind_of_qualifier() -> None:
    function = ("FunctionName", "f")
    assert dimension_sets("f", None, "$LATEST") == [(), (function,)]
    assert dimension_sets("f", "3", "3") == [(), (function,), (function, ("Resource", "f:3"))]
    assert dimension_sets("f", "$LATEST", "$LATEST")[2] == (function, ("Resource", "f:$LATEST"))
    resource = ("Resource", "f:live")
    assert dimension_sets("f", "live", "2") == [
        (), (function,), (function, resource), (function, resource, ("ExecutedVersion", "2"))
    ]  # fmt: skip
    assert qualifier_of("arn:aws:lambda:r:1:function:f") is None
    assert qualifier_of("arn:aws:lambda:r:1:function:f:live") == "live"


@needs_bwrap
async def test_runs_and_errors_under_each_dimension_set(world: World) -> None:
    await world.function("m", Code={"ZipFile": handler_zip(SOURCE)})
    await world.client("Invoke", FunctionName="m", Payload=b"{}")
    failed = await world.client("Invoke", FunctionName="m", Payload=b'{"fail": true}')
    assert failed["FunctionError"] == "Unhandled"
    metrics = world.metrics
    for dimensions in ({}, {"FunctionName": "m"}):
        assert metrics.of("Invocations", **dimensions) == [1.0, 1.0]
        assert metrics.of("Errors", **dimensions) == [0.0, 1.0]
        assert len(metrics.of("Duration", **dimensions)) == 2
    assert {p[0] for p in metrics.points} == {world.tenant_id}
    assert all(p[4] == "Milliseconds" for p in metrics.points if p[1] == "Duration")
    assert metrics.of("ConcurrentExecutions", FunctionName="m") == [1.0, 1.0]
    assert metrics.of("UnreservedConcurrentExecutions") == [1.0, 1.0]
    assert not any("Resource" in p[2] for p in metrics.points)  # not qualified
    assert metrics.of("Throttles") == []


@needs_bwrap
async def test_an_alias_names_its_executed_version(world: World) -> None:
    await world.function("m", Code={"ZipFile": handler_zip(SOURCE)})
    await world.client("PublishVersion", FunctionName="m")
    await world.client("CreateAlias", FunctionName="m", Name="live", FunctionVersion="1")
    await world.client("Invoke", FunctionName="m", Qualifier="live", Payload=b"{}")
    await world.client("Invoke", FunctionName="m:1", Payload=b"{}")
    metrics = world.metrics
    assert metrics.of("Invocations", FunctionName="m", Resource="m:live") == [1.0]
    assert metrics.of("Invocations", FunctionName="m", Resource="m:live",
                      ExecutedVersion="1") == [1.0]  # fmt: skip
    assert metrics.of("Invocations", FunctionName="m", Resource="m:1") == [1.0]
    assert metrics.of("Invocations", FunctionName="m") == [1.0, 1.0]
    # A version invoked directly is no alias: no ExecutedVersion of its own.
    executed = [p for p in metrics.points if "ExecutedVersion" in p[2]]
    assert {p[2]["Resource"] for p in executed} == {"m:live"}


@needs_bwrap
async def test_a_throttle_is_no_invocation(world: World) -> None:
    await world.function("m", Code={"ZipFile": handler_zip(SOURCE)})
    await world.client("PutFunctionConcurrency", FunctionName="m", ReservedConcurrentExecutions=0)
    await world.fails("Invoke", "TooManyRequestsException", FunctionName="m:$LATEST")
    metrics = world.metrics
    assert metrics.of("Throttles") == [1.0]
    assert metrics.of("Throttles", FunctionName="m") == [1.0]
    assert metrics.of("Throttles", FunctionName="m", Resource="m:$LATEST") == [1.0]
    assert metrics.of("Invocations") == [] and metrics.of("Errors") == []


@needs_bwrap
async def test_the_accounts_claimed_concurrency_counts_the_reserves(world: World) -> None:
    await world.function("reserved", Code={"ZipFile": handler_zip(SOURCE)})
    await world.function("m", Code={"ZipFile": handler_zip(SOURCE)})
    await world.client("PutFunctionConcurrency", FunctionName="reserved",
                       ReservedConcurrentExecutions=5)  # fmt: skip
    await asyncio.gather(
        world.client("Invoke", FunctionName="m", Payload=b'{"sleep": 0.4}'),
        world.client("Invoke", FunctionName="m", Payload=b'{"sleep": 0.4}'),
    )
    metrics = world.metrics
    assert max(metrics.of("ConcurrentExecutions", FunctionName="m")) == 2.0
    assert max(metrics.of("ConcurrentExecutions")) == 2.0
    assert max(metrics.of("ClaimedAccountConcurrency")) == 7.0  # 2 running + 5 reserved


def _worker(world: World, now: int) -> EventWorker:
    assert world.invoker is not None
    runner = AsyncInvocations(world.functions, world.invoker, world.configs,
        world.destinations, RetryPolicy(), lambda: now)  # fmt: skip
    return EventWorker(world.queue, runner, "gateway-a", clock=lambda: now)


@needs_bwrap
async def test_an_event_received_aged_dropped_and_its_failed_deliveries(world: World) -> None:
    tenant = world.tenant_id
    await world.function("m", Code={"ZipFile": handler_zip(SOURCE)},
        DeadLetterConfig={"TargetArn": f"arn:aws:sqs:eu-fr-1:{tenant}:dead"})  # fmt: skip
    failures = f"arn:aws:sqs:eu-fr-1:{tenant}:f"
    await world.client("PutFunctionEventInvokeConfig", FunctionName="m", MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": failures}})  # fmt: skip
    await world.client("Invoke", FunctionName="m", InvocationType="Event", Payload=b"{}")
    await world.client("Invoke", FunctionName="m", InvocationType="Event",
                       Payload=b'{"fail": true}')  # fmt: skip
    metrics = world.metrics
    assert metrics.of("AsyncEventsReceived", FunctionName="m") == [1.0, 1.0]
    assert metrics.of("Invocations") == []  # queued, not run yet
    world.destinations.refuse = True
    assert await _worker(world, int(time.time() * 1000) + 2_000).pass_once() == 2
    ages = metrics.of("AsyncEventAge", FunctionName="m")
    assert len(ages) == 2 and all(1_000 < age < 60_000 for age in ages)
    assert metrics.of("Invocations", FunctionName="m") == [1.0, 1.0]
    assert sorted(metrics.of("Errors", FunctionName="m")) == [0.0, 1.0]
    assert metrics.of("AsyncEventsDropped", FunctionName="m") == [1.0]  # the failed one
    assert metrics.of("DestinationDeliveryFailures", FunctionName="m") == [1.0]
    assert metrics.of("DeadLetterErrors", FunctionName="m") == [1.0]


@needs_bwrap
async def test_delivered_events_count_no_failure(world: World) -> None:
    tenant = world.tenant_id
    await world.function("m", Code={"ZipFile": handler_zip(SOURCE)},
        DeadLetterConfig={"TargetArn": f"arn:aws:sqs:eu-fr-1:{tenant}:dead"})  # fmt: skip
    await world.client("PutFunctionEventInvokeConfig", FunctionName="m", MaximumRetryAttempts=0,
        MaximumEventAgeInSeconds=60)  # fmt: skip
    await world.client("Invoke", FunctionName="m", InvocationType="Event", Payload=b"{}")
    # Too old when taken: dropped without a run, its dead letter delivered.
    assert await _worker(world, int(time.time() * 1000) + 120_000).pass_once() == 1
    metrics = world.metrics
    assert metrics.of("AsyncEventsDropped", FunctionName="m") == [1.0]
    assert metrics.of("Invocations") == [] and len(world.destinations.dead_letters) == 1
    assert metrics.of("DeadLetterErrors") == [] and metrics.of("DestinationDeliveryFailures") == []


@needs_bwrap
async def test_a_provisioned_alias_invocations_and_spillover(world: World) -> None:
    assert world.provisioning is not None
    await world.function("warm", Code={"ZipFile": handler_zip(SOURCE)})
    await world.client("PublishVersion", FunctionName="warm")
    await world.client("CreateAlias", FunctionName="warm", Name="live", FunctionVersion="1")
    await world.client("PutProvisionedConcurrencyConfig", FunctionName="warm", Qualifier="live",
        ProvisionedConcurrentExecutions=1)  # fmt: skip
    await world.provisioning.reconcile()
    await world.client("Invoke", FunctionName="warm:live", Payload=b"{}")
    metrics = world.metrics
    live = {"FunctionName": "warm", "Resource": "warm:live"}
    assert metrics.of("ProvisionedConcurrencyInvocations", **live) == [1.0]
    assert metrics.of("ProvisionedConcurrencyInvocations", FunctionName="warm") == [1.0]
    assert metrics.of("ProvisionedConcurrentExecutions", **live) == [1.0]
    assert metrics.of("ProvisionedConcurrencyUtilization", **live) == [1.0]
    await asyncio.gather(
        world.client("Invoke", FunctionName="warm:live", Payload=b'{"sleep": 0.4}'),
        world.client("Invoke", FunctionName="warm:live", Payload=b'{"sleep": 0.4}'),
    )
    assert metrics.of("ProvisionedConcurrencyInvocations", **live) == [1.0, 1.0]
    assert metrics.of("ProvisionedConcurrencySpilloverInvocations", **live) == [1.0]
    await world.client("Invoke", FunctionName="warm:1", Payload=b"{}")  # no configuration
    assert len(metrics.of("ProvisionedConcurrencyInvocations", FunctionName="warm")) == 2


@needs_bwrap
async def test_read_back_and_alarmed_on_through_the_platforms_sink(world: World) -> None:
    """The points through the platform's buffered sink into the metrics store: Sum of
    ``Invocations`` and ``Errors`` as GetMetricStatistics reads them, and an alarm on
    ``Errors`` (AWS's usual one) in ALARM once the minute ended."""
    assert world.invoker is not None
    metrics = MetricsService(MemoryMetricStore())
    sink = BufferedSink(metrics)
    world.invoker.metrics = FunctionMetrics(sink)
    await world.function("m", Code={"ZipFile": handler_zip(SOURCE)})
    await world.client("Invoke", FunctionName="m", Payload=b"{}")
    await world.client("Invoke", FunctionName="m", Payload=b'{"fail": true}')
    now = int(time.time())
    minute = now - now % 60
    assert await sink.flush() > 0
    dims = [("FunctionName", "m")]

    async def total(name: str, tenant_id: str = world.tenant_id) -> float:
        points = await metrics.get_metric_statistics(
            tenant_id, "AWS/Lambda", name, dims,
            datetime.fromtimestamp(minute - 120, UTC), datetime.fromtimestamp(minute + 120, UTC),
            60, ["Sum"], [], None,
        )  # fmt: skip
        return sum(p.statistics["Sum"] for p in points)

    assert (await total("Invocations"), await total("Errors")) == (2.0, 1.0)
    assert await total("Invocations", "someone-else") == 0.0  # the function's account's only
    alarms, at = MemoryAlarmStore(), [minute + 1]
    evaluator = AlarmService(
        alarms, metrics, "eu-fr-1", clock=lambda: datetime.fromtimestamp(at[0], UTC)
    )
    await evaluator.put_alarm(
        Alarm(
            tenant_id=world.tenant_id,
            name="errors",
            namespace="AWS/Lambda",
            metric_name="Errors",
            dimensions=tuple(dims),
            period=60,
            evaluation_periods=2,  # the error's minute, should it have ended just before
            datapoints_to_alarm=1,
            threshold=1.0,
            comparison="GreaterThanOrEqualToThreshold",
            statistic="Sum",
        )
    )
    at[0] = minute + 61  # the minute of the error ended: the alarm is due
    assert await evaluator.evaluate_due() == 1
    [held] = await alarms.alarms(world.tenant_id)
    assert held.state is AlarmState.ALARM


QUEUE_SOURCE = """
def handler(event, context):
    if any(r["body"] == "boom" for r in event["Records"]):
        raise RuntimeError("asked to fail")
    return {}
"""


def test_metrics_config_checked_as_aws_checks_it() -> None:
    kept = check_mapping_parameters({"MetricsConfig": {"Metrics": ["EventCount"]}}, "sqs")
    assert kept["MetricsConfig"] == {"Metrics": ["EventCount"]}
    off = check_mapping_parameters({"MetricsConfig": {"Metrics": []}}, "sqs", kept)
    assert "MetricsConfig" not in off  # no metric: none published, none answered
    with pytest.raises(InvalidParameterValue, match="enum value set: \\[EventCount\\]"):
        check_mapping_parameters({"MetricsConfig": {"Metrics": ["Everything"]}}, "kinesis")


@needs_bwrap
async def test_a_queue_mappings_event_counts_when_asked(tmp_path: Path) -> None:
    async for world in mapping_world(tmp_path):
        role = await world.reader_role()
        await world.lam.function("c", Role=role, Code={"ZipFile": handler_zip(QUEUE_SOURCE)})
        queue = await world.queue("jobs")
        made = await world.lam.client("CreateEventSourceMapping", EventSourceArn=queue,
            FunctionName="c", MetricsConfig={"Metrics": ["EventCount"]},
            FilterCriteria={"Filters": [{"Pattern": '{"body": ["job", "boom"]}'}]})  # fmt: skip
        assert made["MetricsConfig"] == {"Metrics": ["EventCount"]}
        for body in ("job", "noise", "job"):
            await world.send("jobs", body)
        assert await world.poller.run_pass() == 2
        metrics = world.lam.metrics
        uuid = {"EventSourceMappingUUID": made["UUID"]}
        assert metrics.of("PolledEventCount", **uuid) == [3.0]
        assert metrics.of("FilteredOutEventCount", **uuid) == [1.0]
        assert metrics.of("InvokedEventCount", **uuid) == [2.0]
        assert metrics.of("DeletedEventCount", **uuid) == [3.0]
        assert metrics.of("FailedInvokeEventCount", **uuid) == []
        assert metrics.of("Invocations", FunctionName="c") == [1.0]
        await world.send("jobs", "boom")
        await world.poller.run_pass()
        assert metrics.of("FailedInvokeEventCount", **uuid) == [1.0]
        # Turned off: no more counts, the invocations' own metrics still.
        await world.lam.client("UpdateEventSourceMapping", UUID=made["UUID"],
                               MetricsConfig={"Metrics": []})  # fmt: skip
        await world.send("jobs", "job")
        await world.poller.run_pass()
        assert metrics.of("PolledEventCount", **uuid) == [3.0, 1.0]  # the two passes before
        assert len(metrics.of("Invocations", FunctionName="c")) == 3


@needs_bwrap
async def test_a_stream_mappings_iterator_age(tmp_path: Path) -> None:
    async for streams in kinesis_world(tmp_path):
        async for world in mapping_world(tmp_path, kinesis=streams.kinesis):
            tenant = world.lam.tenant_id
            stream = await streams.kinesis.create(tenant, "clicks", 1, StreamMode.PROVISIONED)
            role = await world.reader_role("reader", allow("kinesis:*"))
            await world.lam.function("c", Role=role, Code={"ZipFile": handler_zip(SOURCE)})
            await streams.kinesis.put(tenant, "clicks", [Entry("k", b"{}")])
            await asyncio.sleep(0.3)  # the record 300 ms old when read
            await world.lam.client("CreateEventSourceMapping", EventSourceArn=stream.arn,
                FunctionName="c", StartingPosition="TRIM_HORIZON")  # fmt: skip
            assert await world.poller.run_pass() == 1
            [age] = world.lam.metrics.of("IteratorAge", FunctionName="c")
            assert 250 <= age < 60_000
            assert world.lam.metrics.of("PolledEventCount") == []  # not asked for
