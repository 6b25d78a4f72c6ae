"""A pipe changed from its page (decision 0276): created from a Kinesis stream with its
starting position, an API destination as its enrichment and a CloudWatch Logs configuration;
then UpdatePipe from its page — description, desired state, filters, input template, batch
size, batching window, dead-letter queue, the enrichment removed, the logs moved to an S3
bucket in W3C format —, Pipes' refusal of a batch size in its words with the form as typed;
tags added and removed. Each checked against what Pipes answers apart from the console."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.console import WIRE_ORIGIN, ConsoleHarness, console_harness, csrf_of, sign_in_root
from support.pipesapp import PIPE_POLICY, TRUST
from unit.console.test_console_dynamodb_edits import alert, form_of


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[ConsoleHarness]:
    """A console whose pipes runner passes often (a pipe settles within the test)."""
    async with console_harness(tmp_path, pipes_poll_interval=0.05) as harness:
        yield harness


async def _described(console: ConsoleHarness, client: httpx.AsyncClient) -> dict[str, Any]:
    """DescribePipe's document, apart from the page."""
    wires, principal = await console.wires(client)
    return await wires.pipes._rest(WIRE_ORIGIN, principal, "GET", "/v1/pipes/clicks")


async def _settled(console: ConsoleHarness, client: httpx.AsyncClient) -> None:
    for _ in range(400):
        if (await _described(console, client))["CurrentState"] in ("RUNNING", "STOPPED"):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the pipe never settled")


async def _account(
    console: ConsoleHarness, client: httpx.AsyncClient, tenant: str
) -> dict[str, str]:
    """A Kinesis stream, two queues, an API destination, a log group, a bucket and a role."""
    wires, principal = await console.wires(client)
    await wires.kinesis._json(WIRE_ORIGIN, principal, "CreateStream",
                              {"StreamName": "clicks", "ShardCount": 1})  # fmt: skip
    for name in ("clicks-out", "clicks-dead"):
        await wires.sqs._json(WIRE_ORIGIN, principal, "CreateQueue", {"QueueName": name})
    connection = await wires.events._json(WIRE_ORIGIN, principal, "CreateConnection", {
        "Name": "enricher", "AuthorizationType": "API_KEY",
        "AuthParameters": {"ApiKeyAuthParameters": {"ApiKeyName": "x-key", "ApiKeyValue": "k"}},
    })  # fmt: skip
    destination = await wires.events._json(WIRE_ORIGIN, principal, "CreateApiDestination", {
        "Name": "enrich", "ConnectionArn": connection["ConnectionArn"],
        "InvocationEndpoint": "https://enrich.example.com/x", "HttpMethod": "POST",
    })  # fmt: skip
    await wires.logs._json(
        WIRE_ORIGIN, principal, "CreateLogGroup", {"logGroupName": "/pipes/clicks"}
    )
    await wires.s3.create_bucket(WIRE_ORIGIN, principal, "pipe-logs", "eu-fr-1")
    role = await console.identity.create_role(tenant, "pipe-role", TRUST)
    await console.identity.put_role_policy(tenant, "pipe-role", "pipe", PIPE_POLICY)
    region = "eu-fr-1"
    return {
        "source": f"arn:aws:kinesis:{region}:{tenant}:stream/clicks",
        "target": f"arn:aws:sqs:{region}:{tenant}:clicks-out",
        "dead": f"arn:aws:sqs:{region}:{tenant}:clicks-dead",
        "enrichment": str(destination["ApiDestinationArn"]),
        "group": f"arn:aws:logs:{region}:{tenant}:log-group:/pipes/clicks",
        "role": role.arn,
    }


async def test_a_pipe_created_with_enrichment_and_logs_then_updated_and_tagged(
    console: ConsoleHarness,
) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        made = await _account(console, client, tenant)
        page = await client.get("/pipes")
        token = csrf_of(page)
        create = form_of(page, "create-pipe-form")
        assert f'<option value="{made["enrichment"]}">API destination: enrich</option>' in create
        assert f'<option value="{made["group"]}">/pipes/clicks</option>' in create
        assert '<option value="pipe-logs">pipe-logs</option>' in create
        created = await client.post("/pipes", data={
            "csrf": token, "name": "clicks", "source": made["source"], "target": made["target"],
            "role_arn": made["role"], "starting_position": "TRIM_HORIZON",
            "enrichment": made["enrichment"], "enrichment_template": '{"id": <$.eventID>}',
            "log_level": "INFO", "log_group_arn": made["group"], "log_format": "json",
            "include_execution_data": "yes", "state": "STOPPED",
        })  # fmt: skip
        assert created.status_code == 303, alert(created)
        described = await _described(console, client)
        kinesis = described["SourceParameters"]["KinesisStreamParameters"]
        assert kinesis["StartingPosition"] == "TRIM_HORIZON"
        assert described["Enrichment"] == made["enrichment"]
        assert described["EnrichmentParameters"] == {"InputTemplate": '{"id": <$.eventID>}'}
        assert described["LogConfiguration"] == {
            "Level": "INFO", "IncludeExecutionData": ["ALL"],
            "CloudwatchLogsLogDestination": {"LogGroupArn": made["group"]},
        }  # fmt: skip
        await _settled(console, client)

        page = await client.get("/pipes/clicks")
        shown = unescape(page.text)
        assert '<td id="pipe-starting-position">TRIM_HORIZON</td>' in shown
        assert f'<td id="pipe-enrichment"><code>{made["enrichment"]}</code>' in shown
        assert 'INFO · <code class="log-group">' in shown
        edit = form_of(page, "update-pipe-form")
        assert f'<option value="{made["enrichment"]}" selected>' in edit
        assert 'name="batch_size" size="6" value="100"' in edit

        update = {
            "csrf": token, "description": "clicks to the queue", "state": "STOPPED",
            "role_arn": made["role"],
            "filters": '{"data": {"kind": ["click"]}}\n{"data": {"kind": ["view"]}}',
            "input_template": '{"kind": <$.data.kind>}', "batch_size": "0",
            "batching_window": "5", "dead_letter_arn": made["dead"], "enrichment": "",
            "log_level": "ERROR", "log_bucket": "pipe-logs", "log_prefix": "pipes",
            "log_format": "w3c",
        }  # fmt: skip
        refused = await client.post("/pipes/clicks/update", data=update)
        assert refused.status_code == 400
        assert "BatchSize must be an integer between 1 and 10000" in alert(refused)
        typed = form_of(refused, "update-pipe-form")
        assert 'name="batch_size" size="6" value="0"' in typed
        assert 'name="log_prefix" maxlength="256" value="pipes"' in typed
        assert (await _described(console, client)).get("Description", "") == ""

        saved = await client.post("/pipes/clicks/update", data=update | {"batch_size": "50"})
        assert saved.status_code == 303, alert(saved)
        assert saved.headers["location"] == "/console/pipes/clicks?saved=pipe#edit"
        described = await _described(console, client)
        assert described["Description"] == "clicks to the queue"
        assert described["DesiredState"] == "STOPPED"
        kinesis = described["SourceParameters"]["KinesisStreamParameters"]
        assert (kinesis["BatchSize"], kinesis["MaximumBatchingWindowInSeconds"]) == (50, 5)
        assert kinesis["DeadLetterConfig"] == {"Arn": made["dead"]}
        assert kinesis["StartingPosition"] == "TRIM_HORIZON"  # kept, as AWS keeps it
        patterns = [
            f["Pattern"] for f in described["SourceParameters"]["FilterCriteria"]["Filters"]
        ]
        assert [json.loads(p) for p in patterns] == [{"data": {"kind": ["click"]}},
                                                      {"data": {"kind": ["view"]}}]  # fmt: skip
        assert described["TargetParameters"]["InputTemplate"] == '{"kind": <$.data.kind>}'
        assert not described.get("Enrichment")
        assert described["LogConfiguration"] == {
            "Level": "ERROR", "IncludeExecutionData": [],
            "S3LogDestination": {"BucketName": "pipe-logs", "BucketOwner": tenant,
                                 "OutputFormat": "w3c", "Prefix": "pipes"},
        }  # fmt: skip
        await _settled(console, client)

        page = await client.get("/pipes/clicks?saved=pipe")
        assert 'id="saved"' in page.text
        edit = form_of(page, "update-pipe-form")
        assert f'<option value="{made["dead"]}" selected>' in edit
        assert '{"data": {"kind": ["click"]}}\n{"data": {"kind": ["view"]}}</textarea>' in edit

        tagged = await client.post(
            "/pipes/clicks/tag", data={"csrf": token, "tags": "team=web\nstage=test"}
        )
        assert tagged.status_code == 303, alert(tagged)
        assert (await _described(console, client))["Tags"] == {"team": "web", "stage": "test"}
        page = await client.get("/pipes/clicks")
        assert "<code>stage=test</code>" in page.text and "<code>team=web</code>" in page.text
        removed = await client.post("/pipes/clicks/untag", data={"csrf": token, "key": "team"})
        assert removed.status_code == 303, alert(removed)
        assert (await _described(console, client))["Tags"] == {"stage": "test"}
        forged = await client.post("/pipes/clicks/untag", data={"csrf": "x", "key": "stage"})
        assert forged.status_code == 403
        assert (await _described(console, client))["Tags"] == {"stage": "test"}
