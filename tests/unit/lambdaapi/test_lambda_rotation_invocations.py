"""Decision 0303: Secrets Manager's rotation steps as synchronous invocations of a function by
``secretsmanager.amazonaws.com`` (``RotationFunctionInvoker`` over 0293's shared piece), in
process over decision 0286's Lambda app and the real ``bwrap`` sandbox: refused until the
function's policy lets Secrets Manager in, a step's answer or its error, each invocation
audited in the function's account with Secrets Manager as the principal."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime

import pytest

from andromede.audit.model import Outcome
from andromede.function_invocations import SECRETS_PRINCIPAL, RotationFunctionInvoker
from andromede.functions.service_invoke import ServiceInvocations
from andromede.iam.policy.service_grants import service_may
from andromede.secrets.model import Secret
from andromede.secrets.rotation import RotationDenied
from andromede.wiring.functions import service_audit
from support.lambdaapp import REGION, World, handler_zip

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")

ROTATOR = """
def handler(event, context):
    print("STEP", event["Step"], event["ClientRequestToken"])
    if event["Step"] == "testSecret":
        raise RuntimeError("the new password does not work")
"""


def secret(world: World) -> Secret:
    now = datetime.now(UTC)
    arn = f"arn:aws:secretsmanager:{REGION}:{world.tenant_id}:secret:db-AbCdEf"
    return Secret(arn, world.tenant_id, REGION, "db", now, now)


async def test_rotation_steps_are_synchronous_service_invocations(world: World) -> None:
    await world.function("rot", Code={"ZipFile": handler_zip(ROTATOR)})
    assert world.invoker is not None
    shared = ServiceInvocations(
        world.functions, world.invoker, service_may, service_audit(world.audit)
    )
    rotation = RotationFunctionInvoker(lambda: shared)
    arn = world.functions.arn(world.tenant_id, "rot")
    target = secret(world)
    with pytest.raises(RotationDenied, match=r"secretsmanager\.amazonaws\.com"):
        await rotation.check(arn, target)
    with pytest.raises(RotationDenied):
        await rotation.check(f"{arn}-gone", target)
    await world.client("AddPermission", FunctionName="rot", StatementId="sm",
        Action="lambda:InvokeFunction", Principal=SECRETS_PRINCIPAL)  # fmt: skip
    await rotation.check(arn, target)
    step = {"SecretId": target.arn, "ClientRequestToken": "t" * 32}
    assert (
        await rotation.invoke(arn, target, json.dumps(step | {"Step": "createSecret"}).encode())
        is None
    )
    failed = await rotation.invoke(arn, target, json.dumps(step | {"Step": "testSecret"}).encode())
    assert failed == "RuntimeError: the new password does not work"
    printed = [m for _, g, _, m in world.logs.written if g == "/aws/lambda/rot" and "STEP" in m]
    assert [m.split()[1] for m in printed] == ["createSecret", "testSecret"]
    await world.audit.flush()
    listed = await world.audit_store.list_events(None, after_id=0, limit=500)
    found = [
        e
        for _, e in listed
        if e.action == "lambda:InvokeFunction" and e.principal == SECRETS_PRINCIPAL
    ]
    assert [(e.outcome, e.resource, e.tenant_id) for e in found] == [
        (Outcome.SUCCESS, arn, world.tenant_id),
        (Outcome.FAILURE, arn, world.tenant_id),
    ]
    assert found[0].details["source_arn"] == target.arn
    assert found[1].details["error"] == "RuntimeError"
    assert await RotationFunctionInvoker(lambda: None).invoke(arn, target, b"{}") is not None
