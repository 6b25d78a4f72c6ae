"""Decision 0286's Invoke through botocore's ``lambda`` model in process, the handler run in
the real ``bwrap`` sandbox: a result, a handler's exception (200 with
``X-Amz-Function-Error: Unhandled``), a timeout, ``LogType`` ``Tail``, a qualifier, DryRun,
reserved concurrency 0, the log's START/END/REPORT lines and the meters."""

from __future__ import annotations

import base64
import dataclasses
import json
import shutil

import pytest

from support.lambdaapp import World, handler_zip

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None,
    reason="bubblewrap is not installed (scripts/install-system-deps.sh installs it)",
)

SOURCE = """
import os, time

def handler(event, context):
    print("hello from", context.function_name)
    if event.get("fail"):
        raise RuntimeError("asked to fail")
    if event.get("sleep"):
        time.sleep(event["sleep"])
    return {"got": event, "version": context.function_version,
            "stage": os.environ.get("STAGE"), "group": context.log_group_name}
"""


async def test_request_response(world: World) -> None:
    await world.function(
        "run", Code={"ZipFile": handler_zip(SOURCE)}, Environment={"Variables": {"STAGE": "t"}}
    )
    done = await world.client("Invoke", FunctionName="run", Payload=b'{"a": 1}', LogType="Tail")
    assert done["StatusCode"] == 200 and "FunctionError" not in done
    assert done["ExecutedVersion"] == "$LATEST"
    body = json.loads(done["Payload"].read())
    assert body == {"got": {"a": 1}, "version": "$LATEST", "stage": "t", "group": "/aws/lambda/run"}
    tail = base64.b64decode(done["LogResult"]).decode()
    assert "hello from run" in tail and "REPORT RequestId: " in tail and "Max Memory Used" in tail
    messages = [m for t, g, _, m in world.logs.written if g == "/aws/lambda/run"]
    assert messages[0].startswith("START RequestId: ") and messages[0].endswith("Version: $LATEST")
    assert any(m.startswith("END RequestId: ") for m in messages)
    assert world.meters.counted[(world.tenant_id, "lambda.requests")] == 1
    assert world.meters.counted[(world.tenant_id, "lambda.gb-seconds")] >= 128


async def test_a_handlers_exception_and_a_timeout(world: World) -> None:
    await world.function("bad", Code={"ZipFile": handler_zip(SOURCE)}, Timeout=1)
    failed = await world.client("Invoke", FunctionName="bad", Payload=b'{"fail": true}')
    assert failed["StatusCode"] == 200 and failed["FunctionError"] == "Unhandled"
    error = json.loads(failed["Payload"].read())
    assert (error["errorType"], error["errorMessage"]) == ("RuntimeError", "asked to fail")
    assert error["stackTrace"]
    slow = await world.client("Invoke", FunctionName="bad", Payload=b'{"sleep": 5}')
    assert slow["FunctionError"] == "Unhandled"
    assert "Task timed out after 1.00 seconds" in json.loads(slow["Payload"].read())["errorMessage"]


async def test_qualifiers_dry_run_and_refusals(world: World) -> None:
    await world.function("q", Code={"ZipFile": handler_zip(SOURCE)}, Publish=True)
    await world.client("CreateAlias", FunctionName="q", Name="live", FunctionVersion="1")
    done = await world.client("Invoke", FunctionName="q", Qualifier="live", Payload=b"{}")
    assert done["ExecutedVersion"] == "1"
    assert json.loads(done["Payload"].read())["version"] == "1"
    dry = await world.client("Invoke", FunctionName="q", InvocationType="DryRun")
    assert dry["StatusCode"] == 204
    await world.fails("Invoke", "InvalidRequestContentException", FunctionName="q",
        Payload=b"not json")  # fmt: skip
    await world.fails("Invoke", "ResourceNotFoundException", FunctionName="q", Qualifier="9")
    await world.client("PutFunctionConcurrency", FunctionName="q", ReservedConcurrentExecutions=0)
    throttled = await world.fails("Invoke", "TooManyRequestsException", FunctionName="q")
    assert throttled.status == 429
    assert throttled.body["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    other = await world.other_tenant("other")
    await other.fails("Invoke", "AccessDeniedException",
        FunctionName=f"arn:aws:lambda:eu-fr-1:{world.tenant_id}:function:q")  # fmt: skip


async def test_event_invocations_queued_sealed_and_retried(world: World) -> None:
    await world.function("later", Code={"ZipFile": handler_zip(SOURCE)})
    queued = await world.client(
        "Invoke", FunctionName="later", InvocationType="Event", Payload=b'{"secret": "v4lue"}'
    )
    assert queued["StatusCode"] == 202
    (item,) = world.queue._items.values()
    assert b"v4lue" not in item.sealed_payload
    assert await world.worker.pass_once() == 1
    messages = [m for _, g, _, m in world.logs.written if g == "/aws/lambda/later"]
    assert any("hello from later" in m for m in messages)
    assert await world.worker.pass_once() == 0
    await world.client(
        "Invoke", FunctionName="later", InvocationType="Event", Payload=b'{"fail": true}'
    )
    assert await world.worker.pass_once() == 1
    (retried,) = world.queue._items.values()
    assert retried.attempts == 1 and retried.due > retried.created + 50_000
    too_big = b'{"x": "' + b"a" * (1024 * 1024) + b'"}'
    await world.fails("Invoke", "RequestTooLargeException", FunctionName="later",
        InvocationType="Event", Payload=too_big)  # fmt: skip


async def test_no_executor_on_the_host(world: World) -> None:
    await world.function("nowhere", Code={"ZipFile": handler_zip(SOURCE)})
    world.pool.limits = dataclasses.replace(world.pool.limits, bwrap="/nonexistent/bwrap")
    refused = await world.fails("Invoke", "ServiceException", FunctionName="nowhere")
    assert refused.status == 500 and "bubblewrap" in refused.message


CONTEXT_SOURCE = """
def handler(event, context):
    return {"context": context.client_context, "arn": context.invoked_function_arn}
"""


async def test_another_account_invokes_by_permission_and_client_context(world: World) -> None:
    made = await world.function("shared-run", Code={"ZipFile": handler_zip(CONTEXT_SOURCE)})
    other = await world.other_tenant("caller")
    await other.fails("Invoke", "AccessDeniedException", FunctionName=made["FunctionArn"])
    await world.client("AddPermission", FunctionName="shared-run", StatementId="caller",
        Action="lambda:InvokeFunction", Principal=other.tenant_id)  # fmt: skip
    context = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
    done = await other.client(
        "Invoke", FunctionName=made["FunctionArn"], Payload=b"{}", ClientContext=context
    )
    answer = json.loads(done["Payload"].read())
    assert answer == {"context": {"custom": {"k": "v"}}, "arn": made["FunctionArn"]}
    await other.fails("GetFunction", "AccessDeniedException", FunctionName=made["FunctionArn"])
    await world.fails("Invoke", "InvalidRequestContentException", FunctionName="shared-run",
        ClientContext="not base64!")  # fmt: skip


async def test_an_alias_routes_by_its_weights(world: World) -> None:
    await world.function("canary", Code={"ZipFile": handler_zip(SOURCE)}, Publish=True)
    await world.client("UpdateFunctionConfiguration", FunctionName="canary", Timeout=4)
    await world.client("PublishVersion", FunctionName="canary")
    await world.client("CreateAlias", FunctionName="canary", Name="live", FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 1.0}})  # fmt: skip
    done = await world.client("Invoke", FunctionName="canary", Qualifier="live", Payload=b"{}")
    assert done["ExecutedVersion"] == "2"
