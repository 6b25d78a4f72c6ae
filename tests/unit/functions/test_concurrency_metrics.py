"""Decision 0337's concurrency gauges in ``AWS/Lambda``, the handler run in the real ``bwrap``
sandbox: ``ConcurrentExecutions`` under ``FunctionName`` and, for a version or alias invoked,
``FunctionName`` + ``Resource`` (each qualifier its own count); ``ClaimedAccountConcurrency``
with the provisioned allocations of the functions without a reserve (a reserve holds its
function's), a run in a provisioned sandbox not counted among the unreserved executions."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.functions.invocation_metrics import FunctionMetrics
from support.lambdaapp import World, handler_zip, lambda_world

needs_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None,
    reason="bubblewrap is not installed (scripts/install-system-deps.sh installs it)",
)

SOURCE = """
import time

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"ok": True}
"""
SLOW = b'{"sleep": 0.5}'


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async for made in lambda_world(tmp_path):
        yield made


def test_a_qualifier_gets_its_own_gauge() -> None:
    points: list[tuple[str, tuple[tuple[str, str], ...], float]] = []

    class Recorder:
        def record(self, tenant_id: str, namespace: str, name: str, dimensions: object,
                   value: float, unit: str = "None") -> None:  # fmt: skip
            assert isinstance(dimensions, tuple)
            points.append((name, dimensions, value))

    metrics = FunctionMetrics(Recorder())
    metrics.concurrency("1", "f", function_running=3, account_running=4, unreserved_running=4,
                        claimed=9, qualifier="live", qualifier_running=2)  # fmt: skip
    function = ("FunctionName", "f")
    assert ("ConcurrentExecutions", (function,), 3) in points
    assert ("ConcurrentExecutions", (function, ("Resource", "f:live")), 2) in points
    assert ("ConcurrentExecutions", (), 4) in points
    metrics.concurrency("1", "f", function_running=1, account_running=1, unreserved_running=1,
                        claimed=1)  # fmt: skip
    assert not any("Resource" in dict(p[1]) for p in points[4:])  # unqualified: none


@needs_bwrap
async def test_concurrent_executions_per_version_and_alias(world: World) -> None:
    await world.function("m", Code={"ZipFile": handler_zip(SOURCE)})
    await world.client("PublishVersion", FunctionName="m")
    await world.client("CreateAlias", FunctionName="m", Name="live", FunctionVersion="1")
    await asyncio.gather(
        world.client("Invoke", FunctionName="m", Qualifier="live", Payload=SLOW),
        world.client("Invoke", FunctionName="m:live", Payload=SLOW),
        world.client("Invoke", FunctionName="m:1", Payload=SLOW),
    )
    await world.client("Invoke", FunctionName="m", Payload=b"{}")
    metrics = world.metrics
    assert sorted(metrics.of("ConcurrentExecutions", FunctionName="m", Resource="m:live")) == [
        1.0, 2.0
    ]  # fmt: skip
    assert metrics.of("ConcurrentExecutions", FunctionName="m", Resource="m:1") == [1.0]
    assert max(metrics.of("ConcurrentExecutions", FunctionName="m")) == 3.0
    assert len(metrics.of("ConcurrentExecutions", FunctionName="m")) == 4  # one each run
    assert metrics.of("ConcurrentExecutions", FunctionName="m", Resource="m:$LATEST") == []


@needs_bwrap
async def test_claimed_concurrency_counts_provisioned_allocations(world: World) -> None:
    assert world.provisioning is not None
    await world.function("warm", Code={"ZipFile": handler_zip(SOURCE)})
    await world.client("PublishVersion", FunctionName="warm")
    await world.client("CreateAlias", FunctionName="warm", Name="live", FunctionVersion="1")
    await world.client("PutProvisionedConcurrencyConfig", FunctionName="warm", Qualifier="live",
        ProvisionedConcurrentExecutions=2)  # fmt: skip
    # A function with a reserve: its provisioned executions are within it, not on top.
    await world.function("kept", Code={"ZipFile": handler_zip(SOURCE)})
    await world.client("PublishVersion", FunctionName="kept")
    await world.client("PutFunctionConcurrency", FunctionName="kept",
                       ReservedConcurrentExecutions=5)  # fmt: skip
    await world.client("PutProvisionedConcurrencyConfig", FunctionName="kept", Qualifier="1",
        ProvisionedConcurrentExecutions=1)  # fmt: skip
    await world.provisioning.reconcile()
    metrics = world.metrics
    await world.client("Invoke", FunctionName="warm", Payload=b"{}")  # on demand
    # 1 running unreserved + 5 reserved + 2 provisioned outside any reserve.
    assert metrics.of("ClaimedAccountConcurrency") == [8.0]
    assert metrics.of("UnreservedConcurrentExecutions") == [1.0]
    await world.client("Invoke", FunctionName="warm:live", Payload=b"{}")  # provisioned
    assert metrics.of("ClaimedAccountConcurrency")[1] == 7.0  # its allocation's, not on top
    assert metrics.of("UnreservedConcurrentExecutions")[1] == 0.0
    assert metrics.of("ProvisionedConcurrencyInvocations", FunctionName="warm") == [1.0]
    await world.client("DeleteProvisionedConcurrencyConfig", FunctionName="warm",
                       Qualifier="live")  # fmt: skip
    await world.provisioning.reconcile()
    await world.client("Invoke", FunctionName="warm", Payload=b"{}")
    assert metrics.of("ClaimedAccountConcurrency")[2] == 6.0  # 1 running + 5 reserved
