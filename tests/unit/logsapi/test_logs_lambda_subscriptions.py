"""CloudWatch Logs subscription filters into a Lambda function (decision 0304), through Logs'
JSON protocol in process (botocore's model of ``logs``) over a real Lambda service of the
same identity service (``support.lambdaapp.functions_over``): a function's ARN checked as AWS
checks it (unqualified, version or alias; the group's account and Region; no role asked);
the filter refused in AWS's words until the function's policy lets ``logs.amazonaws.com``
(or the Regional ``logs.<region>.amazonaws.com``) invoke it for the group; each record an
Event invocation whose payload is AWS's ``{"awslogs": {"data": ...}}``, decoded back, run by
the real sandbox; a permission removed retried, then given up loudly; the account's policy
into a function the same way."""

from __future__ import annotations

import base64
import gzip
import json
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from andromede.audit.model import Outcome
from andromede.functions.record_service import FunctionRecords
from andromede.functions.service_invoke import ServiceInvocations
from andromede.iam.policy.service_grants import service_may
from andromede.log_subscription_delivery import (
    LambdaFunctionDestination,
    awslogs_event,
    awslogs_record_bound,
)
from andromede.logs.errors import InvalidParameter
from andromede.logs.subscription_service import SubscriptionLimits
from andromede.logs.subscriptions import (
    MAX_RECORD,
    data_messages,
    is_lambda,
    max_record,
    subscription_filter,
)
from andromede.wiring.functions import service_audit
from support.firehoseapp import REGION
from support.lambdaapp import Functions, functions_over
from support.logsapp import NOW
from support.logsubscriptions import Wire, subscription_wire

ACCOUNT = "123456789012"
FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:shipper"
UNPACK = (
    "import base64, gzip, json\n"
    "def handler(event, context):\n"
    "    data = json.loads(gzip.decompress(base64.b64decode(event['awslogs']['data'])))\n"
    "    print('GOT', json.dumps(data))\n"
)
NOT_PERMITTED = (
    "Could not execute the lambda function. Make sure you have given CloudWatch Logs "
    "permission to execute your function."
)


def params(destination: str, **more: Any) -> dict[str, Any]:
    return {"filterName": "f", "filterPattern": "", "destinationArn": destination} | more


# -- what is checked, what is sent (pure) ------------------------------------------------------


def test_a_functions_arn_is_a_destination_of_the_groups_account_and_region() -> None:
    for arn in (FUNCTION, f"{FUNCTION}:7", f"{FUNCTION}:live", f"{FUNCTION}:$LATEST"):
        made = subscription_filter(ACCOUNT, REGION, "/g", params(arn), NOW)
        assert (made.destination_arn, made.role_arn, made.distribution) == (arn, "", "ByLogStream")
        assert "roleArn" not in made.shape()  # as AWS's DescribeSubscriptionFilters
    given = f"arn:aws:iam::{ACCOUNT}:role/r"  # a role given is kept, never asked
    assert subscription_filter(ACCOUNT, REGION, "/g", params(FUNCTION, roleArn=given), NOW)\
        .shape()["roleArn"] == given  # fmt: skip
    refused = {
        FUNCTION.replace(ACCOUNT, "999999999999"): "own account and Region",
        FUNCTION.replace(REGION, "us-east-1"): "own account and Region",
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:": "Invalid destinationArn",
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:l": "Invalid destinationArn",
        f"{FUNCTION}:a:b": "Invalid destinationArn",
    }
    for arn, words in refused.items():
        with pytest.raises(InvalidParameter, match=words):
            subscription_filter(ACCOUNT, REGION, "/g", params(arn), NOW)
    with pytest.raises(InvalidParameter, match="Invalid roleArn"):
        subscription_filter(ACCOUNT, REGION, "/g", params(FUNCTION, roleArn="r"), NOW)
    with pytest.raises(InvalidParameter, match="OpenSearch Service domains are not served"):
        subscription_filter(ACCOUNT, REGION, "/g", params(f"arn:aws:es:{REGION}:{ACCOUNT}:d"),
                            NOW)  # fmt: skip


def test_the_payload_is_awslogs_data_base64_of_the_gzip_data_message() -> None:
    [(record, count)] = data_messages(ACCOUNT, "/g", "s", "f", [("1", NOW, "ERROR x")])
    event = json.loads(awslogs_event(record))
    assert list(event) == ["awslogs"] and list(event["awslogs"]) == ["data"]
    message = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    assert count == 1 and message == {
        "messageType": "DATA_MESSAGE",
        "owner": ACCOUNT,
        "logGroup": "/g",
        "logStream": "s",
        "subscriptionFilters": ["f"],
        "logEvents": [{"id": "1", "timestamp": NOW, "message": "ERROR x"}],
    }


def test_a_functions_records_are_split_to_fit_an_event_invocation() -> None:
    bound = awslogs_record_bound(1024 * 1024)  # AWS's 1 MB Event payload, the default
    assert SubscriptionLimits().max_lambda_record == bound
    assert len(awslogs_event(b"x" * bound)) <= 1024 * 1024 < len(awslogs_event(b"x" * (bound + 3)))
    assert is_lambda(FUNCTION) and max_record(FUNCTION, bound) == bound
    assert max_record(FUNCTION, 10 * 1024 * 1024) == MAX_RECORD  # never past Firehose's
    assert max_record(f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/k", bound) == MAX_RECORD
    # Barely compressible events (~20 KB of gzip each): split in halves until each fits.
    events = [(str(i), NOW, base64.b64encode(os.urandom(20 * 1024)).decode()) for i in range(8)]
    assert len(data_messages(ACCOUNT, "/g", "s", "f", events)) == 1
    split = data_messages(ACCOUNT, "/g", "s", "f", events, 48 * 1024)
    assert len(split) == 4 and sum(c for _, c in split) == 8
    assert all(len(r) <= 48 * 1024 for r, _ in split)


# -- through the API, into a real function -----------------------------------------------------


@dataclass
class LambdaWire:
    wire: Wire
    functions: Functions
    invocations: ServiceInvocations
    arn: str

    @property
    def tenant(self) -> str:
        return self.wire.logs.tenant_id

    async def permit(self, sid: str, source: str, principal: str = "logs.amazonaws.com") -> None:
        await self.functions.permit(self.tenant, "shipper", StatementId=sid,
            Action="lambda:InvokeFunction", Principal=principal, SourceArn=source,
            SourceAccount=self.tenant)  # fmt: skip

    async def subscribe(self) -> None:
        answer = await self.wire.client("PutSubscriptionFilter", logGroupName="/app/web",
            filterName="errors", filterPattern="ERROR", destinationArn=self.arn)  # fmt: skip
        assert "Error" not in answer, answer

    def group_arn(self, suffix: str = "/app/web:*") -> str:
        return f"arn:aws:logs:{REGION}:{self.tenant}:log-group:{suffix}"


@pytest.fixture
async def lam(tmp_path: Path) -> AsyncIterator[LambdaWire]:
    async for wire in subscription_wire(tmp_path / "logs"):
        fire = wire.firehose
        async for functions in functions_over(fire.identity, fire.audit, tmp_path / "fn"):
            invocations = ServiceInvocations(
                functions.service, functions.invoker, service_may, service_audit(fire.audit)
            )
            wire.subscriptions.destination = LambdaFunctionDestination(
                lambda found=invocations: found, REGION
            )
            arn = await functions.create(fire.tenant_id, "shipper", UNPACK)
            yield LambdaWire(wire, functions, invocations, arn)


async def test_a_function_is_refused_until_its_policy_lets_logs_in_for_the_group(
    lam: LambdaWire,
) -> None:
    wire = lam.wire
    subscribe = {"logGroupName": "/app/web", "filterName": "errors", "filterPattern": "ERROR",
                 "destinationArn": lam.arn}  # fmt: skip
    message = await wire.fails("PutSubscriptionFilter", "InvalidParameterException", **subscribe)
    assert message == NOT_PERMITTED
    await lam.permit("other", lam.group_arn("/app/other:*"))  # another group's permission
    assert await wire.fails("PutSubscriptionFilter", "InvalidParameterException", **subscribe)
    missing = subscribe | {"destinationArn": f"{lam.arn}x"}
    assert await wire.fails("PutSubscriptionFilter", "InvalidParameterException", **missing) \
        == NOT_PERMITTED  # fmt: skip
    assert (await wire.client("DescribeSubscriptionFilters", logGroupName="/app/web")) == {
        "subscriptionFilters": []
    }
    await lam.permit("logs", lam.group_arn())
    assert "Error" not in await wire.client("PutSubscriptionFilter", **subscribe)
    [described] = (await wire.client("DescribeSubscriptionFilters", logGroupName="/app/web"))[
        "subscriptionFilters"
    ]
    assert described["destinationArn"] == lam.arn and "roleArn" not in described
    assert not lam.functions.queue._items  # AWS sends a function no test record


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
async def test_matching_events_invoke_the_function_with_the_awslogs_payload(
    lam: LambdaWire,
) -> None:
    wire = lam.wire
    await lam.permit("logs", lam.group_arn("*"), principal=f"logs.{REGION}.amazonaws.com")
    await lam.subscribe()
    await wire.put("ERROR one", "fine", "ERROR two")
    assert not lam.functions.queue._items  # PutLogEvents waited on nothing
    assert await wire.subscriptions.deliver_once("gw-a") == 1
    [(events, _, ok)] = wire.attempts
    assert (events, ok) == (2, True)
    [item] = lam.functions.queue._items.values()
    assert b"ERROR one" not in item.sealed_payload and item.arn == lam.arn
    runner = lam.functions.runner
    assert runner is not None
    assert await runner(item) is None  # ran, nothing to try again
    printed = [m for _, g, _, m in lam.functions.logs.written if g == "/aws/lambda/shipper"]
    [got] = [json.loads(m.split("GOT ", 1)[1]) for m in printed if "GOT " in m]
    assert (got["messageType"], got["owner"]) == ("DATA_MESSAGE", lam.tenant)
    assert (got["logGroup"], got["logStream"], got["subscriptionFilters"]) == (
        "/app/web", "s", ["errors"],
    )  # fmt: skip
    assert [e["message"] for e in got["logEvents"]] == ["ERROR one", "ERROR two"]
    await wire.firehose.audit.flush()
    listed = await wire.firehose.audit_store.list_events(None, after_id=0, limit=500)
    [invoked] = [e for _, e in listed if e.action == "lambda:InvokeFunction"]
    assert (invoked.principal, invoked.resource) == (f"logs.{REGION}.amazonaws.com", lam.arn)
    assert invoked.outcome is Outcome.SUCCESS
    assert invoked.details["source_arn"] == lam.group_arn()


async def test_a_permission_removed_is_retried_then_given_up(lam: LambdaWire) -> None:
    wire = lam.wire
    await lam.permit("logs", lam.group_arn())
    await lam.subscribe()
    await FunctionRecords(lam.functions.service).remove_permission(
        lam.tenant, "shipper", None, "logs"
    )
    await wire.put("ERROR lost")
    clock = wire.logs.world.clock
    assert await wire.subscriptions.deliver_once("gw-a") == 0  # refused: retried later
    assert wire.dropped == [] and not lam.functions.queue._items
    clock.now += 86_400_000
    await wire.subscriptions.deliver_once("gw-b")
    [(entry, why)] = wire.dropped
    assert (entry.destination_arn, entry.role_arn) == (lam.arn, "")
    assert "does not let CloudWatch Logs invoke it" in why
    assert [ok for _, _, ok in wire.attempts] == [False, False]


async def test_the_accounts_policy_into_a_function(lam: LambdaWire) -> None:
    wire = lam.wire
    # An empty RoleArn (the console's document) is no role, as none at all.
    document = json.dumps({"DestinationArn": lam.arn, "RoleArn": "", "FilterPattern": "ERROR"})
    policy = {"policyName": "all", "policyType": "SUBSCRIPTION_FILTER_POLICY",
              "policyDocument": document, "scope": "ALL"}  # fmt: skip
    message = await wire.fails("PutAccountPolicy", "InvalidParameterException", **policy)
    assert message == NOT_PERMITTED
    await lam.permit("logs", lam.group_arn("*"))
    assert "Error" not in await wire.client("PutAccountPolicy", **policy)
    await wire.put("ERROR everywhere")
    assert await wire.subscriptions.deliver_once("gw-a") == 1
    [item] = lam.functions.queue._items.values()
    assert item.arn == lam.arn
