"""Decision 0268's enrichment as ``serve`` wires it: a pipe over the SQL store whose
enrichment is an API destination of EventBridge (its connection's API key) receives the
batch at a real HTTP endpoint on the loopback, with the enrichment's path, header and query
parameters, and the events of its answer reach the target queue; the enrichment's role
without ``events:InvokeApiDestination`` leaves the messages in the source and says why in the
pipe's ``StateReason``; EventBridge's invoker gives an endpoint's answer up to its bound, and
refuses a longer one."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from andromede.db.database import open_database
from andromede.events.api_invoker import ApiDestinationInvoker, InvocationPolicy
from andromede.events.dispatcher import DeliveryRefused
from andromede.events.model import Target
from andromede.http.outbound import networks
from andromede.settings import Settings
from andromede.wiring.events import EventsParts
from support.api_destinations import JsonEndpoint, destination_pipes, json_endpoint
from support.pipesapp import REGION, TRUST, allow
from support.schema import migrated_sqlite


def _looked_up(path: str, body: Any) -> Any:
    return [{"looked_up": item["id"] * 10} for item in body]


@pytest.fixture
def endpoint() -> Iterator[JsonEndpoint]:
    with json_endpoint(_looked_up) as seen:
        yield seen


async def _until(check: Any, passes: int = 200) -> Any:
    for _ in range(passes):
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.025)
    return await check()


@pytest.mark.parametrize("limit", [None, 5])
async def test_the_enrichment_is_called_and_its_answer_sent(
    tmp_path: Path, endpoint: JsonEndpoint, limit: int | None
) -> None:
    """With ``pipes_enrichment_max_response`` below the answer's size, the execution fails:
    nothing reaches the target, and the pipe is not refused (no StateReason)."""
    limited = {} if limit is None else {"pipes_enrichment_max_response": limit}
    async with destination_pipes(tmp_path, **limited) as deployed:
        identity, tenant, queues = deployed.identity, deployed.tenant, deployed.queues
        destination = await deployed.events.connections.create_destination(
            tenant, "lookup", deployed.connection.arn,
            f"http://127.0.0.1:{endpoint.port}/orders/*", "POST",
        )  # fmt: skip
        # Refused, the message comes back after its visibility timeout: a short one.
        source = await queues.create_queue(tenant, "in", {"VisibilityTimeout": "1"}, {})
        target = await queues.create_queue(tenant, "out", {}, {})
        role = await identity.create_role(tenant, "pipe", TRUST)
        await identity.put_role_policy(tenant, "pipe", "q", allow(
            "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
            "sqs:SendMessage"))  # fmt: skip
        service = deployed.apis["pipes"].service
        await service.create(tenant, "p", {
            "Source": source.arn, "Target": target.arn, "RoleArn": role.arn,
            "Enrichment": destination.arn,
            "EnrichmentParameters": {
                "InputTemplate": '{"id": <$.body.id>}',
                "HttpParameters": {"PathParameterValues": ["$.body.id"],
                                   "HeaderParameters": {"X-Team": "blue", "X-Order": "$.body.id"},
                                   "QueryStringParameters": {"v": "2"}},
            },
        })  # fmt: skip
        await queues.send_message(source, json.dumps({"id": 7}), {}, {}, None, tenant)

        async def reason() -> str:
            return str((await service.get(tenant, "p")).state_reason)

        why = await _until(reason)
        assert why.startswith("NO_PERMISSIONS") and "events:InvokeApiDestination" in why
        assert endpoint.requests == []
        await identity.put_role_policy(
            tenant, "pipe", "enrich", allow("events:InvokeApiDestination")
        )

        async def delivered() -> list[str]:
            got = await queues.receive(target, max_messages=10, visibility=30, wait=0)
            return [m.payload.body for m in got]

        if limit is not None:

            async def called() -> bool:
                return bool(endpoint.requests)

            assert await _until(called)
            await asyncio.sleep(0.2)
            assert await delivered() == [] and await reason() == ""
            return
        (body,) = await _until(delivered)
        assert json.loads(body) == {"looked_up": 70}
        ((path, headers, sent),) = endpoint.requests
        assert path == "/orders/7?v=2"
        assert headers["x-team"] == "blue" and headers["x-api-key"] == "k-123"
        assert headers["x-order"] == "7"  # a JSON path into the batch's first event
        assert sent == [{"id": 7}]
        assert await reason() == ""  # it runs again


async def test_the_invoker_gives_the_answer_within_its_bound(
    tmp_path: Path, endpoint: JsonEndpoint
) -> None:
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    settings = Settings(
        data_dir=tmp_path / "data", region=REGION, events_api_destination_allow_http=True
    )
    try:
        events = EventsParts(settings, db, None)  # type: ignore[arg-type]
        connection = await events.connections.create_connection(
            "000000000001", "c", "API_KEY",
            {"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "k"}},
        )  # fmt: skip
        destination = await events.connections.create_destination(
            "000000000001", "d", connection.arn, f"http://127.0.0.1:{endpoint.port}/", "POST"
        )

        async def anyone(tenant_id: str, role: str, arn: str, source: str | None) -> bool:
            return True

        invoker = ApiDestinationInvoker(
            events.connections,
            anyone,
            InvocationPolicy(allowed=networks(("127.0.0.0/8",)), allow_http=True),
        )
        target = Target("t", destination.arn, {"RoleArn": "arn:aws:iam::000000000001:role/r"})
        message = json.dumps([{"id": 1}, {"id": 2}])
        answer = await invoker.invoke("000000000001", target, message, answer_limit=1024)
        assert json.loads(answer) == [{"looked_up": 10}, {"looked_up": 20}]
        with pytest.raises(DeliveryRefused) as refused:
            await invoker.invoke("000000000001", target, message, answer_limit=10)
        assert refused.value.code == "ResponseTooLarge"
        await invoker.send("000000000001", target, message)  # a rule's target reads nothing
        assert len(endpoint.requests) == 3
    finally:
        await db.close()
