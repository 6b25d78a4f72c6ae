"""Decision 0293: a service principal's Event invocation of a function, in process over
decision 0286's Lambda app (functions made and permitted through botocore's ``lambda``
model): allowed only by the function's resource-based policy (AddPermission's ``Principal``
a service, ``SourceArn`` and ``SourceAccount`` conditions) evaluated by the IAM engine, the
qualifier's own policy for a qualified ARN, queued sealed in the Invoker's Event queue and
run by its worker in the real ``bwrap`` sandbox, audited as the service invoking."""

from __future__ import annotations

import json
import shutil
from typing import Any

import pytest

from andromede.audit.model import Outcome
from andromede.functions.errors import ResourceNotFound
from andromede.functions.service_invoke import (
    ServiceDenied,
    ServiceInvocations,
    function_of_arn,
)
from andromede.iam.policy.service_grants import service_may
from andromede.wiring.functions import service_audit
from support.lambdaapp import REGION, World, handler_zip

SNS = "sns.amazonaws.com"
PRINT_EVENT = "import json\ndef handler(event, context):\n    print('EVENT', json.dumps(event))\n"


def invocations(world: World) -> ServiceInvocations:
    assert world.invoker is not None
    audit = service_audit(world.audit)
    return ServiceInvocations(world.functions, world.invoker, service_may, audit)


def topic(world: World, name: str = "t") -> str:
    return f"arn:aws:sns:{REGION}:{world.tenant_id}:{name}"


async def permit(world: World, name: str, principal: str = SNS, **params: Any) -> None:
    await world.client(
        "AddPermission",
        FunctionName=name,
        StatementId=params.pop("StatementId", "sns"),
        Action="lambda:InvokeFunction",
        Principal=principal,
        **params,
    )


def test_function_arns_are_read_qualified_or_not() -> None:
    plain = function_of_arn(f"arn:aws:lambda:{REGION}:123456789012:function:f")
    assert plain is not None and (plain.account, plain.name, plain.qualifier) == (
        "123456789012", "f", None,
    )  # fmt: skip
    live = function_of_arn(f"arn:aws:lambda:{REGION}:123456789012:function:f:live")
    assert live is not None and live.qualifier == "live"
    assert function_of_arn(f"arn:aws:sqs:{REGION}:123456789012:q") is None
    assert function_of_arn(f"arn:aws:lambda:{REGION}:123456789012:function:") is None


async def test_only_the_functions_policy_lets_a_service_in(world: World) -> None:
    await world.function("f", Code={"ZipFile": handler_zip(PRINT_EVENT)}, Publish=True)
    await world.client("CreateAlias", FunctionName="f", Name="live", FunctionVersion="1")
    service = invocations(world)
    arn = world.functions.arn(world.tenant_id, "f")
    source = {"source_arn": topic(world), "source_account": world.tenant_id}
    with pytest.raises(ServiceDenied):  # no policy: nothing allows a service
        await service.check(SNS, arn, **source)
    await permit(world, "f", SourceArn=topic(world), SourceAccount=world.tenant_id)
    await service.check(SNS, arn, **source)
    with pytest.raises(ServiceDenied):  # another topic
        await service.check(SNS, arn, source_arn=topic(world, "other"),
            source_account=world.tenant_id)  # fmt: skip
    with pytest.raises(ServiceDenied):  # another account's topic of that name
        await service.check(SNS, arn, source_arn=topic(world), source_account="999999999999")
    with pytest.raises(ServiceDenied):  # another service
        await service.check("s3.amazonaws.com", arn, **source)
    with pytest.raises(ServiceDenied):  # the alias has a policy of its own
        await service.check(SNS, f"{arn}:live", **source)
    await permit(world, "f", Qualifier="live", SourceArn=topic(world))
    await service.check(SNS, f"{arn}:live", **source)
    with pytest.raises(ResourceNotFound):
        await service.check(SNS, f"{arn}x", **source)
    with pytest.raises(ResourceNotFound):  # another Region's
        await service.check(SNS, arn.replace(REGION, "us-east-1"), **source)
    with pytest.raises(ResourceNotFound):
        await service.check(SNS, f"arn:aws:sqs:{REGION}:{world.tenant_id}:q", **source)


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
async def test_an_allowed_invocation_is_queued_sealed_run_and_audited(world: World) -> None:
    await world.function("f", Code={"ZipFile": handler_zip(PRINT_EVENT)})
    await permit(world, "f", SourceArn=topic(world))
    service = invocations(world)
    arn = world.functions.arn(world.tenant_id, "f")
    event = json.dumps({"secret": "v4lue"}).encode()
    await service.invoke(SNS, arn, event, source_arn=topic(world), source_account=world.tenant_id)
    (item,) = world.queue._items.values()
    assert b"v4lue" not in item.sealed_payload and item.arn == arn
    assert await world.worker.pass_once() == 1
    printed = [m for _, g, _, m in world.logs.written if g == "/aws/lambda/f" and "EVENT" in m]
    assert printed and json.loads(printed[0].split("EVENT ", 1)[1]) == {"secret": "v4lue"}
    with pytest.raises(ServiceDenied):
        await service.invoke(SNS, arn, event, source_arn=topic(world, "other"),
            source_account=world.tenant_id)  # fmt: skip
    assert not world.queue._items
    await world.audit.flush()
    listed = await world.audit_store.list_events(None, after_id=0, limit=500)
    found = [e for _, e in listed if e.action == "lambda:InvokeFunction" and e.principal == SNS]
    assert [(e.outcome, e.resource, e.tenant_id) for e in found] == [
        (Outcome.SUCCESS, arn, world.tenant_id),
        (Outcome.FAILURE, arn, world.tenant_id),
    ]
    assert found[0].details["source_arn"] == topic(world)
    assert found[1].details["error"] == "ServiceDenied"


async def test_the_resource_policy_another_api_judges_a_caller_by(world: World) -> None:
    """Decision 0411: S3 Object Lambda reads the function's (or its qualifier's) policy to
    judge another account's caller itself."""
    await world.function("f", Code={"ZipFile": handler_zip(PRINT_EVENT)}, Publish=True)
    await world.client("CreateAlias", FunctionName="f", Name="live", FunctionVersion="1")
    service = invocations(world)
    arn = world.functions.arn(world.tenant_id, "f")
    assert await service.resource_policy(arn) is None
    await permit(world, "f", principal="111122223333")
    policy = await service.resource_policy(arn)
    assert policy is not None and "arn:aws:iam::111122223333:root" in policy
    assert await service.resource_policy(f"{arn}:live") is None  # the alias's own: none
    with pytest.raises(ResourceNotFound):
        await service.resource_policy(arn.replace(":function:f", ":function:nope"))
    with pytest.raises(ResourceNotFound):  # not of this Region
        await service.resource_policy(arn.replace(REGION, "xx-nowhere-1"))
