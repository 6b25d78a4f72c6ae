"""A Firehose stream's error logging and dynamic partitioning in the console (decision 0276):
a Direct PUT stream into S3 made with dynamic partitioning (a JQ query, a prefix naming its
key, an error prefix) and error logging into one of the account's log groups — Firehose's
refusal of a prefix without the query's key shown in its words with the form as typed —; the
stream's page showing both; its error logging turned off, refused without a group, turned on
again (UpdateDestination of the version shown, the rest of the destination kept). Each checked
against what Firehose answers apart from the console."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from support.console import ConsoleHarness, console_harness, sign_in_root
from unit.console.test_console_firehose_edits import (
    alert,
    call,
    described,
    form_of,
    s3_of,
    trusting_firehose,
    until,
    writing,
)


@pytest.fixture
async def quick(tmp_path: Path) -> AsyncIterator[ConsoleHarness]:
    async with console_harness(tmp_path, firehose_delivery_poll_interval=0.05) as harness:
        yield harness


_QUERY = "{customer: .customer_id}"
_PREFIX = "clicks/customer=!{partitionKeyFromQuery:customer}/"


async def test_a_partitioned_stream_logging_its_errors_made_shown_and_changed(
    quick: ConsoleHarness,
) -> None:
    console = quick
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        page = await client.get("/firehose")
        token = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        made = await client.post("/buckets", data={"csrf": token, "name": "landing",
                                                    "region": "eu-fr-1"})  # fmt: skip
        assert made.status_code == 303, made.text
        role = await console.identity.create_role(tenant, "delivery", trusting_firehose())
        await console.identity.put_role_policy(tenant, "delivery", "write", writing("landing"))
        await call(console, client, "logs", "CreateLogGroup", {"logGroupName": "/firehose/clicks"})
        page = await client.get("/firehose")
        assert '<option value="/firehose/clicks">/firehose/clicks</option>' in form_of(
            page, "create-stream-form"
        )
        assert 'name="log_stream" maxlength="512" value="DestinationDelivery"' in page.text
        fields = {
            "csrf": token, "name": "clicks", "bucket": "landing", "role_arn": role.arn,
            "prefix": "clicks/", "error_prefix": "errors/", "size_mb": "64",
            "interval_seconds": "60", "partition": "yes", "partition_query": _QUERY,
            "append_newline": "yes", "log_enabled": "yes", "log_group": "/firehose/clicks",
            "log_stream": "DestinationDelivery",
        }  # fmt: skip
        refused = await client.post("/firehose", data=fields)
        assert refused.status_code == 400
        assert "partitionKeyFromQuery" in alert(refused)
        typed = form_of(refused, "create-stream-form")
        assert f'name="partition_query" size="50" spellcheck="false" value="{_QUERY}"' in typed
        assert 'name="partition" value="yes" checked' in typed

        created = await client.post("/firehose", data=fields | {"prefix": _PREFIX})
        assert created.status_code == 303, alert(created)
        held = await until(console, client, "DeliveryStreamStatus", "ACTIVE")
        s3 = s3_of(held)
        assert s3["DynamicPartitioningConfiguration"]["Enabled"] is True
        processors = {p["Type"]: p for p in s3["ProcessingConfiguration"]["Processors"]}
        assert set(processors) == {"MetadataExtraction", "AppendDelimiterToRecord"}
        assert {"ParameterName": "MetadataExtractionQuery", "ParameterValue": _QUERY} in (
            processors["MetadataExtraction"]["Parameters"]
        )
        assert s3["CloudWatchLoggingOptions"] == {
            "Enabled": True, "LogGroupName": "/firehose/clicks",
            "LogStreamName": "DestinationDelivery",
        }  # fmt: skip

        page = await client.get("/firehose/clicks")
        assert page.status_code == 200
        assert 'id="partitioning-status">On<' in page.text
        assert f'<code id="partitioning-query">{_QUERY}</code>' in page.text
        assert 'id="partitioning-keys"><code>customer</code><' in page.text
        assert 'id="partitioning-error-prefix"><code>errors/</code>' in page.text
        assert '<code id="logging-group">/firehose/clicks</code>' in page.text
        logging = form_of(page, "logging-form")
        version = logging.split('name="version" value="', 1)[1].split('"', 1)[0]
        destination = logging.split('name="destination_id" value="', 1)[1].split('"', 1)[0]

        off = await client.post("/firehose/clicks/logging", data={
            "csrf": token, "version": version, "destination_id": destination, "http": "no",
            "log_group": "/firehose/clicks", "log_stream": "DestinationDelivery",
        })  # fmt: skip
        assert off.status_code == 303, alert(off)
        assert off.headers["location"] == "/console/firehose/clicks?saved=logging#logging"
        held = await described(console, client)
        s3 = s3_of(held)
        assert s3["CloudWatchLoggingOptions"] == {"Enabled": False}
        assert s3["Prefix"] == _PREFIX  # the rest of the destination kept
        assert s3["DynamicPartitioningConfiguration"]["Enabled"] is True
        page = await client.get("/firehose/clicks?saved=logging")
        assert '<p id="stream-logging">Off</p>' in page.text

        version = held["VersionId"]
        groupless = await client.post("/firehose/clicks/logging", data={
            "csrf": token, "version": version, "destination_id": destination, "http": "no",
            "log_enabled": "yes", "log_group": "", "log_stream": "errors",
        })  # fmt: skip
        assert groupless.status_code == 400
        assert "LogGroupName is required" in alert(groupless)
        assert 'name="log_stream" maxlength="512" value="errors"' in form_of(
            groupless, "logging-form"
        )
        on = await client.post("/firehose/clicks/logging", data={
            "csrf": token, "version": version, "destination_id": destination, "http": "no",
            "log_enabled": "yes", "log_group": "/firehose/clicks", "log_stream": "errors",
        })  # fmt: skip
        assert on.status_code == 303, alert(on)
        s3 = s3_of(await described(console, client))
        assert s3["CloudWatchLoggingOptions"] == {"Enabled": True,
                                                  "LogGroupName": "/firehose/clicks",
                                                  "LogStreamName": "errors"}  # fmt: skip
        stale = await client.post("/firehose/clicks/logging", data={
            "csrf": token, "version": version, "destination_id": destination, "http": "no",
        })  # fmt: skip
        assert stale.status_code == 400
        assert "(ConcurrentModificationException)" in alert(stale)
