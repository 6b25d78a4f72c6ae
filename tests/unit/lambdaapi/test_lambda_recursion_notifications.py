"""Decision 0336's recursive loop detection through SNS and S3, in process: the caller's
``X-Amzn-Trace-Id`` kept with a published message (botocore's SNS model over the real SNS
services and delivery worker) and with a bucket's event (the S3 app over its memory twins),
carried to a ``lambda`` subscription's or a ``CloudFunctionConfiguration``'s invocation (run
in the real ``bwrap`` sandbox: the lineage one run further), stopped at the 17th run of a
chain (to the function's dead-letter queue, ``RecursiveInvocationsDropped``), and given as
``AWSTraceHeader`` to the queues an ``sqs`` subscription or a bucket's
``QueueConfiguration`` sends into, a bucket's event through a topic too."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from andromede.function_invocations import NotifiedFunctions
from andromede.functions.lineage import MAX_CHAIN, function_key
from andromede.functions.service_invoke import ServiceInvocations
from andromede.iam.policy.service_grants import service_may
from andromede.notifications.delivery import Deliverer, DeliveryPolicy
from andromede.notifications.memory import MemoryEventQueue
from andromede.queues.model import TRACE_HEADER, Queue
from andromede.wiring.functions import service_audit
from andromede.wiring.queues import BucketEventQueues
from support.lambdaapp import World as LambdaWorld
from support.lambdaapp import handler_zip, lambda_world
from support.queryapp import REGION
from support.s3app import in_process_client
from support.snsworld import Sns, sns_world, topic

needs_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None,
    reason="bubblewrap is not installed (scripts/install-system-deps.sh installs it)",
)
ROOT = "Root=1-5759e988-bd862e3fe1be46a994272793"
PRINT_TRACE = """
import os

def handler(event, context):
    record = event["Records"][0]
    source = record.get("EventSource") or record.get("eventSource")
    print("ran", source, "trace", os.environ.get("_X_AMZN_TRACE_ID"))
"""
S3_EVENT = json.dumps(
    {"Records": [{"eventSource": "aws:s3", "s3": {"bucket": {"name": "watched"}}}]}
)


def notifying(function_arn: str) -> bytes:
    """A bucket's notification configuration invoking ``function_arn`` on each creation."""
    rule = (
        f"<CloudFunctionConfiguration><Id>fn</Id><CloudFunction>{function_arn}</CloudFunction>"
        "<Event>s3:ObjectCreated:*</Event></CloudFunctionConfiguration>"
    )
    return f"<NotificationConfiguration>{rule}</NotificationConfiguration>".encode()


def notified(functions: LambdaWorld) -> NotifiedFunctions:
    assert functions.invoker is not None
    invocations = ServiceInvocations(
        functions.functions, functions.invoker, service_may, service_audit(functions.audit)
    )
    return NotifiedFunctions(lambda: invocations)


async def looping_function(functions: LambdaWorld, principal: str, source_arn: str) -> str:
    """A function printing the trace it ran with, dead-lettering to ``letters``, that
    ``principal`` may invoke for ``source_arn``."""
    letters = f"arn:aws:sqs:{REGION}:{functions.tenant_id}:letters"
    made = await functions.function("looping", Code={"ZipFile": handler_zip(PRINT_TRACE)},
        DeadLetterConfig={"TargetArn": letters})  # fmt: skip
    await functions.client("AddPermission", FunctionName="looping", StatementId="notified",
        Action="lambda:InvokeFunction", Principal=principal, SourceArn=source_arn)  # fmt: skip
    return str(made["FunctionArn"])


async def runs(functions: LambdaWorld) -> list[str]:
    """Run the queued Event invocations: what the function printed, each run, sorted."""
    while await functions.worker.pass_once():
        pass
    return sorted(m.strip() for _, _, _, m in functions.logs.written if m.startswith("ran "))


def stopped(functions: LambdaWorld, event_source: str) -> None:
    """The 17th run's event given up to the function's dead-letter queue, as AWS does."""
    ((target, _, event, attributes),) = functions.destinations.dead_letters
    assert (
        target.endswith(":letters") and attributes["ErrorMessage"] == "RecursiveInvocationDetected"
    )
    assert event_source in event.decode()
    assert functions.metrics.of("RecursiveInvocationsDropped", FunctionName="looping") == [1.0]


@pytest.fixture
async def sns(tmp_path: Path) -> AsyncIterator[Sns]:
    async with sns_world(tmp_path / "sns") as made:
        yield made


@needs_bwrap
async def test_a_loop_through_a_topic_is_stopped(sns: Sns, tmp_path: Path) -> None:
    async for functions in lambda_world(tmp_path / "lambda"):
        sns.deliverer.functions = notified(functions)
        arn = await topic(sns.root, "orders")
        function_arn = await looping_function(functions, "sns.amazonaws.com", arn)
        await sns.root.call("sns", "Subscribe", TopicArn=arn, Protocol="lambda",
            Endpoint=function_arn)  # fmt: skip
        mark = function_key(functions.tenant_id, "looping")
        for count in (3, MAX_CHAIN):
            # What botocore adds inside a function: its own trace, the lineage counted.
            traced = dataclasses.replace(
                sns.root, headers={"X-Amzn-Trace-Id": f"{ROOT};Lineage={mark}:{count}"}
            )
            await traced.call("sns", "Publish", TopicArn=arn, Message=f"run {count}")
        await sns.deliverer.deliver_once()
        assert await runs(functions) == [f"ran aws:sns trace {ROOT};Lineage={mark}:4"]
        stopped(functions, f"run {MAX_CHAIN}")


@needs_bwrap
async def test_a_function_writing_into_its_own_bucket_is_stopped(tmp_path: Path) -> None:
    async for functions in lambda_world(tmp_path / "lambda"):
        async with in_process_client(tmp_path / "s3", functions=notified(functions)) as s3:
            assert (await s3.request("PUT", "/watched")).status == 200
            function_arn = await looping_function(
                functions, "s3.amazonaws.com", "arn:aws:s3:::watched"
            )
            body = notifying(function_arn)
            digest = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest())
            put = await s3.request("PUT", "/watched?notification", body,
                {"Content-MD5": digest.decode()})  # fmt: skip
            assert put.status == 200
            mark = function_key(functions.tenant_id, "looping")
            for count in (3, MAX_CHAIN):
                headers = {"X-Amzn-Trace-Id": f"{ROOT};Lineage={mark}:{count}"}
                put = await s3.request("PUT", f"/watched/out-{count}.txt", b"x", headers)
                assert put.status == 200
            # A write without a header starts a chain of its own.
            assert (await s3.request("PUT", "/watched/fresh.txt", b"x")).status == 200
            assert s3.store is not None and s3.topics is not None
            deliverer = Deliverer(
                MemoryEventQueue(s3.store.notification_outbox), s3.topics, DeliveryPolicy()
            )
            deliverer.functions = notified(functions)
            await deliverer.deliver_once()
            ran = await runs(functions)
            assert f"ran aws:s3 trace {ROOT};Lineage={mark}:4" in ran and len(ran) == 2
            (fresh,) = (r for r in ran if ROOT not in r)
            assert fresh.startswith("ran aws:s3 trace Root=1-") and fresh.endswith(f"={mark}:1")
            stopped(functions, f"out-{MAX_CHAIN}.txt")


async def _traces(sns: Sns, queue: Queue) -> list[str]:
    """The ``AWSTraceHeader`` of each message in ``queue`` (``-``: none), sorted."""
    got = await sns.queues.receive(queue, max_messages=10, visibility=30, wait=0)
    found = [m.payload.system.get(TRACE_HEADER) for m in got]
    return sorted("-" if t is None else str(t.string_value) for t in found)


async def test_a_publish_gives_a_subscribed_queue_its_trace(sns: Sns) -> None:
    """SNS → SQS → Lambda chains count too: the queue's message carries the publisher's
    trace as ``AWSTraceHeader``, as a bucket's event through a topic does."""
    arn = await topic(sns.root, "orders")
    queue = await sns.queue(sns.world.tenant_id, "orders-queue")
    await sns.root.call("sns", "Subscribe", TopicArn=arn, Protocol="sqs", Endpoint=queue.arn)
    traced = dataclasses.replace(sns.root, headers={"X-Amzn-Trace-Id": f"{ROOT};Lineage=a:1"})
    await traced.call("sns", "Publish", TopicArn=arn, Message="traced")
    await traced.call("sns", "PublishBatch", TopicArn=arn,
        PublishBatchRequestEntries=[{"Id": "1", "Message": "batched"}])  # fmt: skip
    await sns.root.call("sns", "Publish", TopicArn=arn, Message="plain")
    # A bucket's event queued for the topic with its write's trace, fanned out with it.
    now = datetime.now(UTC)
    await sns.events.add(sns.world.tenant_id, arn, S3_EVENT, now, bound=10, trace=f"{ROOT};s3")
    await sns.deliverer.deliver_once()  # the event fanned out
    await sns.deliverer.deliver_once()
    assert await _traces(sns, queue) == ["-", f"{ROOT};Lineage=a:1", f"{ROOT};Lineage=a:1",
        f"{ROOT};s3"]  # fmt: skip


async def test_a_buckets_event_gives_its_queue_the_writes_trace(sns: Sns) -> None:
    tenant = sns.world.tenant_id
    queue = await sns.queue(tenant, "bucket-events")
    policy = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "sqs:SendMessage", "Resource": queue.arn}]}  # fmt: skip
    await sns.queues.set_queue_attributes(queue, {"Policy": json.dumps(policy)})
    events = MemoryEventQueue([])
    deliverer = Deliverer(
        events, sns.topics, DeliveryPolicy(), queues=BucketEventQueues(sns.queues)
    )
    now = datetime.now(UTC)
    await events.add(tenant, queue.arn, S3_EVENT, now, bound=10, trace=f"{ROOT};Lineage=b:2")
    await events.add(tenant, queue.arn, S3_EVENT, now, bound=10)
    assert await deliverer.deliver_once() == 2
    assert await _traces(sns, queue) == ["-", f"{ROOT};Lineage=b:2"]
