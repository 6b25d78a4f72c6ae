"""Decision 0314's provisioned sandboxes, in the real ``bwrap`` sandbox: a configuration on
an alias made READY by the gateway's pass (its sandboxes started and initialised), an
invocation of the alias taking one — ``AWS_LAMBDA_INITIALIZATION_TYPE``
``provisioned-concurrency``, no ``Init Duration`` in its REPORT line —, the version called
directly and the invocations beyond the amount running on demand; an alias moved to another
version warmed again, a smaller amount stopping the extra ones; an initialisation that fails
FAILED with AWS's reason and not retried; a deleted configuration's sandboxes stopped; the
provisioned time metered."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
from typing import Any

import pytest

from support.lambdaapp import World, handler_zip

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None,
    reason="bubblewrap is not installed (scripts/install-system-deps.sh installs it)",
)

SOURCE = """
import os, time

TOKEN = os.urandom(8).hex()  # one a sandbox: which one ran an invocation

def handler(event, context):
    if event.get("sleep"):
        time.sleep(event["sleep"])
    return {"init": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE"), "token": TOKEN,
            "version": context.function_version}
"""


async def _invoke(world: World, name: str, **params: Any) -> tuple[dict[str, Any], str]:
    done = await world.client("Invoke", FunctionName=name, LogType="Tail", **params)
    assert "FunctionError" not in done, done["Payload"].getvalue()
    return json.loads(done["Payload"].read()), base64.b64decode(done["LogResult"]).decode()


async def _status(world: World, name: str, qualifier: str) -> dict[str, Any]:
    return await world.client(
        "GetProvisionedConcurrencyConfig", FunctionName=name, Qualifier=qualifier
    )


async def test_an_alias_served_warm_then_on_demand_once_deleted(world: World) -> None:
    assert world.provisioning is not None
    await world.function("warm", Code={"ZipFile": handler_zip(SOURCE)}, MemorySize=256)
    await world.client("PublishVersion", FunctionName="warm")
    await world.client("CreateAlias", FunctionName="warm", Name="live", FunctionVersion="1")
    await world.client("PutProvisionedConcurrencyConfig", FunctionName="warm", Qualifier="live",
        ProvisionedConcurrentExecutions=1)  # fmt: skip
    await world.provisioning.reconcile()
    ready = await _status(world, "warm", "live")
    assert ready["Status"] == "READY" and "StatusReason" not in ready
    assert ready["AllocatedProvisionedConcurrentExecutions"] == 1
    assert ready["AvailableProvisionedConcurrentExecutions"] == 1
    first, log = await _invoke(world, "warm", Qualifier="live")
    assert first["init"] == "provisioned-concurrency" and first["version"] == "1"
    assert "REPORT RequestId: " in log and "Init Duration" not in log
    again, log = await _invoke(world, "warm:live")
    assert again["token"] == first["token"] and "Init Duration" not in log
    direct, log = await _invoke(world, "warm", Qualifier="1")  # not the alias: on demand
    assert direct["init"] == "on-demand" and direct["token"] != first["token"]
    assert "Init Duration" in log
    # Beyond the amount provisioned: on demand, while the provisioned one is busy.
    both = await asyncio.gather(
        _invoke(world, "warm:live", Payload=b'{"sleep": 0.5}'),
        _invoke(world, "warm:live", Payload=b'{"sleep": 0.5}'),
    )
    assert sorted(b[0]["init"] for b in both) == ["on-demand", "provisioned-concurrency"]
    await world.provisioning.reconcile()  # a second pass meters the time kept
    meter = (world.tenant_id, "lambda.provisioned-gb-seconds")
    assert world.meters.counted[meter] >= 256
    await world.client("DeleteProvisionedConcurrencyConfig", FunctionName="warm",
        Qualifier="live")  # fmt: skip
    await world.provisioning.reconcile()
    after, _ = await _invoke(world, "warm:live")
    assert after["init"] == "on-demand"
    _, version = await world.functions.resolve(world.tenant_id, "warm", "1")
    assert world.invoker is not None
    assert world.invoker.provisioned(world.invoker.provisioned_key(version, "live")) == (0, 0)


async def test_an_alias_moved_to_another_version_is_warmed_again(world: World) -> None:
    assert world.provisioning is not None and world.invoker is not None
    await world.function("moved", Code={"ZipFile": handler_zip(SOURCE)})
    await world.client("PublishVersion", FunctionName="moved")
    await world.client("CreateAlias", FunctionName="moved", Name="live", FunctionVersion="1")
    await world.client("PutProvisionedConcurrencyConfig", FunctionName="moved", Qualifier="live",
        ProvisionedConcurrentExecutions=2)  # fmt: skip
    await world.provisioning.reconcile()
    _, one = await world.functions.resolve(world.tenant_id, "moved", "1")
    assert world.invoker.provisioned(world.invoker.provisioned_key(one, "live")) == (2, 2)
    await world.client("UpdateFunctionConfiguration", FunctionName="moved", Description="2")
    await world.client("PublishVersion", FunctionName="moved")
    await world.client("UpdateAlias", FunctionName="moved", Name="live", FunctionVersion="2")
    await world.provisioning.reconcile()
    _, two = await world.functions.resolve(world.tenant_id, "moved", "2")
    assert world.invoker.provisioned(world.invoker.provisioned_key(one, "live")) == (0, 0)
    assert world.invoker.provisioned(world.invoker.provisioned_key(two, "live")) == (2, 2)
    done, log = await _invoke(world, "moved:live")
    assert (done["init"], done["version"]) == ("provisioned-concurrency", "2")
    assert "Init Duration" not in log
    await world.client("PutProvisionedConcurrencyConfig", FunctionName="moved", Qualifier="live",
        ProvisionedConcurrentExecutions=1)  # fmt: skip
    await world.provisioning.reconcile()  # fewer asked: the extra one stopped
    assert world.invoker.provisioned(world.invoker.provisioned_key(two, "live")) == (1, 1)


async def test_an_initialisation_that_fails_is_failed_and_not_retried(world: World) -> None:
    assert world.provisioning is not None and world.invoker is not None
    broken = "raise RuntimeError('no database at init')\n"
    await world.function("broken", Code={"ZipFile": handler_zip(broken)})
    await world.client("PublishVersion", FunctionName="broken")
    await world.client("PutProvisionedConcurrencyConfig", FunctionName="broken", Qualifier="1",
        ProvisionedConcurrentExecutions=1)  # fmt: skip
    await world.provisioning.reconcile()
    failed = await _status(world, "broken", "1")
    assert failed["Status"] == "FAILED"
    assert failed["StatusReason"].startswith(
        "FUNCTION_ERROR_INIT_FAILURE: Runtime.ImportModuleError: Unable to import module 'app'"
    )
    assert "no database at init" in failed["StatusReason"]
    assert failed["AllocatedProvisionedConcurrentExecutions"] == 0
    _, version = await world.functions.resolve(world.tenant_id, "broken", "1")
    key = world.invoker.provisioned_key(version, "1")
    assert world.invoker.provisioned(key) == (0, 0)
    await world.provisioning.reconcile()  # the same configuration: not tried again
    assert world.invoker.provisioned(key) == (0, 0)
    assert (await _status(world, "broken", "1"))["Status"] == "FAILED"
