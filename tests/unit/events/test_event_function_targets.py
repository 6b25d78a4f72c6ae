"""Decision 0293: Lambda functions as EventBridge's rule targets, in process: the EventBridge
service over its memory store delivering into decision 0286's Lambda (functions made and
permitted through botocore's ``lambda`` model, run by the real ``bwrap`` sandbox).
PutTargets' checks of a function target; the event invoked asynchronously as
``events.amazonaws.com`` only when the function's policy lets the rule in, as the matched
event or what ``Input``/``InputPath``/``InputTransformer`` made of it; a function gone or
not permitted is ``NO_RESOURCE``/``NO_PERMISSIONS`` in the dead-letter queue at once, with
``FailedInvocations`` counted."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from andromede.events.dispatcher import Deliveries
from andromede.events.errors import ValidationError
from andromede.events.memory import MemoryEventsStore
from andromede.events.service import EventsLimits, EventsService
from andromede.function_invocations import EventFunctionTargets, json_payload
from andromede.functions.service_invoke import ServiceInvocations
from andromede.iam.policy.service_grants import service_may
from andromede.wiring.functions import service_audit
from support.lambdaapp import REGION, World, handler_zip, lambda_world

PRINT_EVENT = "import json\ndef handler(event, context):\n    print('EVENT', json.dumps(event))\n"


class DeadLetters:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any], dict[str, str]]] = []

    async def send(
        self, tenant_id: str, arn: str, message: str, *, rule_arn: str, group_id: str | None,
        dedup_id: str, attributes: dict[str, str] | None = None, trace: str | None = None,
    ) -> None:  # fmt: skip
        self.sent.append((arn, json.loads(message), attributes or {}))


@dataclass
class Rules:
    world: World
    service: EventsService
    deliveries: Deliveries
    dead: DeadLetters
    metrics: list[tuple[str, str]] = field(default_factory=list)

    @property
    def account(self) -> str:
        return self.world.tenant_id

    def rule_arn(self, name: str = "r") -> str:
        return f"arn:aws:events:{REGION}:{self.account}:rule/{name}"

    def function_arn(self, name: str = "f") -> str:
        return f"arn:aws:lambda:{REGION}:{self.account}:function:{name}"

    async def route(self, *targets: dict[str, Any], detail: Any = None) -> None:
        """A rule ``r`` with ``targets`` (a dead-letter queue each), one event delivered."""
        await self.service.put_rule(self.account, "r", "default", event_pattern="{}")
        dlq = {"DeadLetterConfig": {"Arn": f"arn:aws:sqs:{REGION}:{self.account}:dlq"}}
        await self.service.put_targets(self.account, "r", "default", [dlq | t for t in targets])
        entry = {"Source": "my.app", "DetailType": "order", "Detail": json.dumps(detail or {})}
        (result,) = await self.service.put_events(self.account, [entry])
        assert result.event_id is not None
        await self.deliveries.drain()

    async def permit(self, name: str = "f", source_arn: str | None = None) -> None:
        await self.world.client(
            "AddPermission",
            FunctionName=name,
            StatementId="events",
            Action="lambda:InvokeFunction",
            Principal="events.amazonaws.com",
            SourceArn=source_arn or self.rule_arn(),
        )

    async def events_run(self, name: str = "f") -> list[Any]:
        """What the function printed of the events it was invoked with."""
        while await self.world.worker.pass_once():
            pass
        return [
            json.loads(m.split("EVENT ", 1)[1])
            for _, g, _, m in self.world.logs.written
            if g == f"/aws/lambda/{name}" and "EVENT " in m
        ]


def routed_into(world: World) -> Rules:
    dead = DeadLetters()
    deliveries = Deliveries(dead, max_attempts=2, retry_base=0.001)
    events = EventsService(
        MemoryEventsStore(), deliveries, region=REGION, limits=EventsLimits(max_targets=10)
    )
    assert world.invoker is not None
    invocations = ServiceInvocations(
        world.functions, world.invoker, service_may, service_audit(world.audit)
    )
    deliveries.functions = EventFunctionTargets(lambda: invocations)
    made = Rules(world, events, deliveries, dead)

    def counted(tenant_id: str, rule: str, name: str) -> None:
        made.metrics.append((rule, name))

    deliveries.metrics = counted
    return made


@pytest.fixture
async def rules(tmp_path: Path) -> AsyncIterator[Rules]:
    async for world in lambda_world(tmp_path):
        yield routed_into(world)


async def test_put_targets_takes_function_arns(rules: Rules) -> None:
    await rules.service.put_rule(rules.account, "r", "default", event_pattern="{}")
    good = [
        {"Id": "plain", "Arn": rules.function_arn()},
        {"Id": "alias", "Arn": rules.function_arn() + ":live"},
        {"Id": "version", "Arn": rules.function_arn() + ":3", "InputPath": "$.detail"},
        {"Id": "latest", "Arn": rules.function_arn() + ":$LATEST", "Input": '{"a": 1}',
         "RetryPolicy": {"MaximumRetryAttempts": 3}},
    ]  # fmt: skip
    await rules.service.put_targets(rules.account, "r", "default", good)
    bad = [
        f"arn:aws:lambda:{REGION}:{rules.account}:layer:l",
        f"arn:aws:lambda:{REGION}:{rules.account}:function:",
        f"arn:aws:lambda:us-east-1:{rules.account}:function:f",
        f"arn:aws:lambda:{REGION}:999999999999:function:f",
    ]
    for arn in bad:
        with pytest.raises(ValidationError):
            await rules.service.put_targets(
                rules.account, "r", "default", [{"Id": "x", "Arn": arn}]
            )


def test_a_non_json_input_is_given_as_a_json_string() -> None:
    assert json_payload('{"a": 1}') == b'{"a": 1}'
    assert json.loads(json_payload("order 42 shipped")) == "order 42 shipped"


needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="no bubblewrap")


@needs_bwrap
async def test_a_permitted_function_gets_the_event(rules: Rules) -> None:
    await rules.world.function("f", Code={"ZipFile": handler_zip(PRINT_EVENT)})
    await rules.permit()
    await rules.route({"Id": "fn", "Arn": rules.function_arn()}, detail={"order": 7})
    (event,) = await rules.events_run()
    assert event["source"] == "my.app" and event["detail-type"] == "order"
    assert event["detail"] == {"order": 7} and event["account"] == rules.account
    assert event["region"] == REGION and event["version"] == "0" and event["id"]
    assert event["resources"] == [] and event["time"].endswith("Z")
    assert rules.dead.sent == []
    assert ("arn:aws:events:" + REGION + ":" + rules.account + ":rule/r", "Invocations") in [
        (r, n) for r, n in rules.metrics
    ]


@needs_bwrap
async def test_input_settings_shape_the_payload(rules: Rules) -> None:
    await rules.world.function("f", Code={"ZipFile": handler_zip(PRINT_EVENT)})
    await rules.permit()
    transformer = {
        "InputPathsMap": {"order": "$.detail.order"},
        "InputTemplate": '{"shipped": <order>}',
    }
    await rules.route(
        {"Id": "path", "Arn": rules.function_arn(), "InputPath": "$.detail"},
        {"Id": "const", "Arn": rules.function_arn(), "Input": '{"constant": true}'},
        {"Id": "shape", "Arn": rules.function_arn(), "InputTransformer": transformer},
        detail={"order": 9},
    )
    got = await rules.events_run()
    assert sorted(map(json.dumps, got)) == sorted(
        map(json.dumps, [{"order": 9}, {"constant": True}, {"shipped": 9}])
    )


async def test_a_function_not_permitted_or_gone_fails_the_delivery(rules: Rules) -> None:
    await rules.world.function("f", Code={"ZipFile": handler_zip(PRINT_EVENT)})
    await rules.route({"Id": "fn", "Arn": rules.function_arn()})  # no permission at all
    await rules.permit(source_arn=rules.rule_arn("another"))
    await rules.route({"Id": "fn", "Arn": rules.function_arn()})  # another rule's
    await rules.route({"Id": "gone", "Arn": rules.function_arn("gone")})  # "fn" still there
    codes = sorted(a["ERROR_CODE"] for _, _, a in rules.dead.sent)
    assert codes == ["NO_PERMISSIONS", "NO_PERMISSIONS", "NO_PERMISSIONS", "NO_RESOURCE"]
    assert all(a["TARGET_ARN"].startswith("arn:aws:lambda:") for _, _, a in rules.dead.sent)
    assert "RETRY_ATTEMPTS" in rules.dead.sent[0][2]
    assert [n for _, n in rules.metrics].count("FailedInvocations") == 4
    assert not rules.world.queue._items  # nothing queued for the function
