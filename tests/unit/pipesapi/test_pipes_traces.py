"""Decision 0351: a pipe's SQS source message's trace header (its ``AWSTraceHeader``) goes on
with it to the target — here an SQS queue, whose new message keeps it as its own
``AWSTraceHeader`` — so that Lambda's recursive loop detection counts a chain through a pipe
(the function target's invocation carries it: ``tests/e2e/test_lambda_service_loops.py``). A
message sent without one gives none."""

from __future__ import annotations

from andromede.queues.model import TRACE_HEADER, MessageAttribute
from support.pipesapp import World

TRACE = "Root=1-6756f2a0-0123456789abcdef01234567;Lineage=1a2b3c4d:4"


async def test_the_source_messages_trace_goes_on_to_the_target(world: World) -> None:
    source = await world.queue("in")
    target = await world.queue("out")
    role = await world.role()
    await world.client("CreatePipe", Name="p", Source=source, Target=target, RoleArn=role)
    await world.runner.run_pass()  # settles it RUNNING
    queue = await world.queues.get_queue(world.tenant_id, world.tenant_id, "in")
    traced = {TRACE_HEADER: MessageAttribute("String", string_value=TRACE)}
    await world.queues.send_message(queue, "traced", {}, traced, None, world.tenant_id)
    await world.send("in", "untraced")

    assert await world.runner.run_pass() == 2
    out = await world.queues.get_queue(world.tenant_id, world.tenant_id, "out")
    got = await world.queues.receive(out, max_messages=10, visibility=30, wait=0)
    kept = {}
    for message in got:
        given = message.payload.system.get(TRACE_HEADER)
        body = message.payload.body
        kept["traced" if '"body":"traced"' in body else "untraced"] = (
            None if given is None else given.string_value
        )
    assert kept == {"traced": TRACE, "untraced": None}
