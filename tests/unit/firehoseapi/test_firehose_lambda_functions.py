"""Decision 0315 with a real function: a stream's Lambda processor invoked through Lambda's
Invoke in process as the stream's role (``firehose_transform.RoleFunctionInvoker``), the
function run in the ``bwrap`` sandbox, its records delivered upper-cased; and the refusals
Firehose names as AWS does: a role that does not trust Firehose
(``Lambda.AssumeRoleAccessDenied``), a role not allowed ``lambda:InvokeFunction`` or
``lambda:GetFunctionConfiguration`` or a function of another Region
(``Lambda.InvokeAccessDenied``), a function gone (``Lambda.ResourceNotFound``), a function
that raises (``Lambda.FunctionError``)."""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.firehose.model import LambdaProcessor
from andromede.firehose.transform_delivery import TransformStep
from andromede.firehose.transformation import TransformFailed
from andromede.firehose_transform import RoleFunctionInvoker
from support.batch_world import read
from support.firehoseapp import REGION, TRUST, World
from support.lambdaapp import Functions, functions_over

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None,
    reason="bubblewrap is not installed (scripts/install-system-deps.sh installs it)",
)

UPPER = """
import base64

def handler(event, context):
    if any(base64.b64decode(r["data"]) == b"crash" for r in event["records"]):
        raise RuntimeError("crashed")
    return {"records": [
        {"recordId": r["recordId"], "result": "Ok",
         "data": base64.b64encode(base64.b64decode(r["data"]).upper()).decode()}
        for r in event["records"]]}
"""


def role_policy(*actions: str) -> str:
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::*"},
            *([{"Effect": "Allow", "Action": list(actions), "Resource": "*"}] if actions else []),
        ],
    })  # fmt: skip


@pytest.fixture
async def functions(world: World, tmp_path: Path) -> AsyncIterator[Functions]:
    async for made in functions_over(world.identity, world.audit, tmp_path / "fn"):
        yield made


def later(seconds: float) -> int:
    return int((time.time() + seconds) * 1000)


async def test_a_real_function_transforms_the_records(world: World, functions: Functions) -> None:
    arn = await functions.create(world.tenant_id, "upper", UPPER)
    invoker = RoleFunctionInvoker(world.identity, lambda: functions.app, REGION)
    world.deliverer.transform = TransformStep(invoker)
    role = await world.role(
        policy=role_policy("lambda:InvokeFunction", "lambda:GetFunctionConfiguration")
    )
    await world.client(
        "CreateDeliveryStream",
        DeliveryStreamName="orders",
        ExtendedS3DestinationConfiguration={
            "RoleARN": role,
            "BucketARN": await world.bucket(),
            "Prefix": "out/",
            "ProcessingConfiguration": {
                "Enabled": True,
                "Processors": [
                    {
                        "Type": "Lambda",
                        "Parameters": [
                            # Terraform's examples name the function's $LATEST qualified.
                            {"ParameterName": "LambdaArn", "ParameterValue": f"{arn}:$LATEST"}
                        ],
                    }
                ],
            },
        },
    )
    await world.deliverer.run_pass()
    await world.client(
        "PutRecordBatch",
        DeliveryStreamName="orders",
        Records=[{"Data": b"hello\n"}, {"Data": b"world\n"}],
    )
    assert await world.deliverer.run_pass(later(400)) == 1
    listing = await world.objects.list_objects("landing", prefix="out/", max_keys=10)
    (made,) = listing.objects
    assert await read(world.objects, "landing", made.key) == b"HELLO\nWORLD\n"


async def test_the_refusals_are_aws_s(world: World, functions: Functions) -> None:
    arn = await functions.create(world.tenant_id, "upper", UPPER)
    invoker = RoleFunctionInvoker(world.identity, lambda: functions.app, REGION)
    allowed = await world.role(
        "allowed", policy=role_policy("lambda:InvokeFunction", "lambda:GetFunctionConfiguration")
    )
    await world.client(
        "CreateDeliveryStream",
        DeliveryStreamName="orders",
        ExtendedS3DestinationConfiguration={"RoleARN": allowed, "BucketARN": await world.bucket()},
    )
    stream = await world.firehose.store.get(world.tenant_id, "orders")
    assert stream is not None
    event = json.dumps({"records": [{"recordId": "r1", "data": "Y3Jhc2g="}]}).encode()

    async def code(processor: LambdaProcessor) -> str:
        with pytest.raises(TransformFailed) as failed:
            await invoker.invoke(stream, processor, event)
        return failed.value.code

    untrusting = TRUST.replace("firehose.amazonaws.com", "lambda.amazonaws.com")
    distrusted = await world.role("distrusted", trust=untrusting)
    invoke_only = await world.role("invoke-only", policy=role_policy("lambda:InvokeFunction"))
    describe_only = await world.role(
        "describe-only", policy=role_policy("lambda:GetFunctionConfiguration")
    )
    other_region = arn.replace(f":{REGION}:", ":eu-fr-2:")
    gone = arn.replace(":upper", ":gone")
    processor = LambdaProcessor(arn)
    assert await code(dataclasses.replace(processor, role_arn=distrusted)) == (
        "Lambda.AssumeRoleAccessDenied"
    )
    assert await code(dataclasses.replace(processor, role_arn=invoke_only)) == (
        "Lambda.InvokeAccessDenied"
    )
    assert await code(dataclasses.replace(processor, role_arn=describe_only)) == (
        "Lambda.InvokeAccessDenied"
    )
    assert await code(LambdaProcessor(other_region)) == "Lambda.InvokeAccessDenied"
    assert await code(LambdaProcessor(gone)) == "Lambda.ResourceNotFound"
    assert await code(processor) == "Lambda.FunctionError"  # the function raised
    unserved = RoleFunctionInvoker(world.identity, lambda: None, REGION)
    with pytest.raises(TransformFailed) as failed:
        await unserved.invoke(stream, processor, event)
    assert failed.value.code == "Lambda.ResourceNotFound"
