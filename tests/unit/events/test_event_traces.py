"""Decision 0351: PutEvents keeps each event's trace header — the entry's ``TraceHeader``,
else the request's ``X-Amzn-Trace-Id`` — with its queued deliveries (sealed under a bus's
key with the rest of the document), and the worker gives it to the targets: a function's
invocation (its lineage, for Lambda's recursive loop detection), a queue or topic (the
message's ``AWSTraceHeader``, the publish's trace). An event sent without one carries none."""

from __future__ import annotations

import json
from typing import Any

from andromede.events.dispatcher import Deliveries
from andromede.events.memory import MemoryEventsStore
from andromede.events.model import Target
from andromede.events.service import EventsService
from andromede.functions.lineage import furthest

REGION = "eu-west-3"
ACCOUNT = "123456789012"
QUEUE = f"arn:aws:sqs:{REGION}:{ACCOUNT}:q"
FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f"
CALLER = "Root=1-6756f2a0-0123456789abcdef01234567;Lineage=1a2b3c4d:3"
OWN = "Root=1-6756f2a0-76543210fedcba9876543210;Sampled=1"


class Sink:
    """Queues and topics as targets, keeping (body's n, trace) of each message."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, str | None]] = []

    async def send(self, tenant_id: str, arn: str, message: str, **given: Any) -> None:
        self.sent.append((json.loads(message)["detail"]["n"], given.get("trace")))


class Functions:
    """Functions as targets, keeping (event's n, trace) of each invocation."""

    def __init__(self) -> None:
        self.invoked: list[tuple[int, str | None]] = []

    async def send(
        self, tenant_id: str, target: Target, message: str, rule_arn: str, trace: str | None
    ) -> None:
        self.invoked.append((json.loads(message)["detail"]["n"], trace))


def entry(n: int, **given: Any) -> dict[str, Any]:
    return {"Source": "my.app", "DetailType": "step", "Detail": json.dumps({"n": n}), **given}


async def test_each_events_trace_reaches_its_targets() -> None:
    sink, functions = Sink(), Functions()
    deliveries = Deliveries(sink, retry_base=0.001)
    deliveries.functions = functions
    service = EventsService(MemoryEventsStore(), deliveries, region=REGION)
    await service.put_rule(ACCOUNT, "r", "default", event_pattern='{"source": ["my.app"]}')
    await service.put_targets(
        ACCOUNT, "r", "default", [{"Id": "q", "Arn": QUEUE}, {"Id": "f", "Arn": FUNCTION}]
    )

    results = await service.put_events(
        ACCOUNT, [entry(1), entry(2, TraceHeader=OWN), entry(3, TraceHeader="")], trace=CALLER
    )
    assert all(r.event_id for r in results)
    await service.put_events(ACCOUNT, [entry(4)])  # a caller without a trace
    await deliveries.drain()

    expected = [(1, CALLER), (2, OWN), (3, CALLER), (4, None)]
    assert sorted(sink.sent) == sorted(functions.invoked) == expected


def test_a_batch_goes_on_with_its_trace_furthest_along_its_chain() -> None:
    """What a pipe's batch target is given (the SQS mapping's rule, decision 0328)."""
    behind = "Root=1-6756f2a0-aaaaaaaaaaaaaaaaaaaaaaaa;Lineage=1a2b3c4d:2"
    ahead = "Root=1-6756f2a0-bbbbbbbbbbbbbbbbbbbbbbbb;Lineage=1a2b3c4d:1,9f8e7d6c:9"
    assert furthest([behind, None, ahead, OWN]) == ahead
    assert furthest([OWN]) == OWN  # no lineage yet: still the chain's trace
    assert furthest([None, ""]) is None
