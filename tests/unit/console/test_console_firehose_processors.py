"""A Firehose stream's processors, role, bucket, partitioning retry and HTTP endpoint changed
from the console (decision 0359): a Direct PUT stream into S3 made with a Lambda processor and
its own buffer, JSON de-aggregation and a delimiter appended; its processors shown, refused in
Firehose's words with the form as typed, changed (DELIMITED with an escaped tab) and removed; a
partitioned stream's processors changed with its JQ query kept, its retry duration, role and
bucket changed; an HTTP endpoint's processors (decompression, message extraction), its URL,
key, common attributes, hints and retry changed — a URL changed without a key refused before
any call, the key never shown — and its key moved into a secret. Each the service's own call
as the signed-in user, checked against what Firehose answers apart from the console."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.console import ConsoleHarness, console_harness, csrf, sign_in_root
from unit.console.test_console_firehose_edits import (
    alert,
    call,
    described,
    form_of,
    s3_of,
    trusting_firehose,
    writing,
)

_FUNCTION = "arn:aws:lambda:eu-fr-1:{account}:function:enrich"
_QUERY = "{customer: .customer_id}"
_PREFIX = "clicks/customer=!{partitionKeyFromQuery:customer}/"
_KEY = "k3y never shown, 'quoted'"


@pytest.fixture
async def quick(tmp_path: Path) -> AsyncIterator[ConsoleHarness]:
    """A console whose Firehose deliverer passes every 0.05 s (streams turn ACTIVE)."""
    async with console_harness(tmp_path, firehose_delivery_poll_interval=0.05) as harness:
        yield harness


async def _active(console: ConsoleHarness, client: httpx.AsyncClient, name: str) -> None:
    """Once the deliverer made the stream ACTIVE (UpdateDestination wants it so)."""
    for _ in range(400):
        if (await described(console, client, name))["DeliveryStreamStatus"] == "ACTIVE":
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name} never became ACTIVE")


def _hidden(page: httpx.Response, form_id: str, name: str) -> str:
    return form_of(page, form_id).split(f'name="{name}" value="', 1)[1].split('"', 1)[0]


def _processors(destination: dict[str, Any]) -> dict[str, dict[str, str]]:
    """A described destination's processors: type → {parameter: value}."""
    listed = destination.get("ProcessingConfiguration", {}).get("Processors", [])
    return {
        p["Type"]: {q["ParameterName"]: q["ParameterValue"] for q in p["Parameters"]}
        for p in listed
    }


async def _bucket_and_role(
    console: ConsoleHarness, client: httpx.AsyncClient, bucket: str, role: str
) -> str:
    """A bucket of the signed-in account and a role Firehose may assume to write into it."""
    made = await client.post("/buckets", data={"csrf": await csrf(client), "name": bucket,
                                                "region": "eu-fr-1"})  # fmt: skip
    assert made.status_code == 303, made.text
    account = await _account(console, client)
    made_role = await console.identity.create_role(account, role, trusting_firehose())
    await console.identity.put_role_policy(account, role, "write", writing(bucket))
    return made_role.arn


async def _account(console: ConsoleHarness, client: httpx.AsyncClient) -> str:
    principal = await console.identity.resolve_console_session(client.cookies["andromede_console"])
    assert principal.tenant_id is not None
    return principal.tenant_id


async def test_an_s3_streams_processors_made_shown_refused_changed_and_removed(
    quick: ConsoleHarness,
) -> None:
    console = quick
    async with console.client() as client:
        await sign_in_root(console, client)
        token = await csrf(client)
        role = await _bucket_and_role(console, client, "landing", "delivery")
        function = _FUNCTION.format(account=await _account(console, client))
        created = await client.post("/firehose", data={
            "csrf": token, "name": "clicks", "bucket": "landing", "role_arn": role,
            "size_mb": "5", "interval_seconds": "300", "p_lambda": function,
            "p_buffer_mb": "0.5", "p_buffer_seconds": "120", "p_retries": "2",
            "p_deaggregation": "JSON", "p_append": "yes", "p_append_delimiter": "|",
        })  # fmt: skip
        assert created.status_code == 303, alert(created)
        await _active(console, client, "clicks")
        s3 = s3_of(await described(console, client))
        processors = _processors(s3)
        assert list(processors) == ["RecordDeAggregation", "Lambda", "AppendDelimiterToRecord"]
        assert processors["Lambda"]["LambdaArn"] == function
        assert processors["Lambda"]["BufferSizeInMBs"] == "0.5"
        assert processors["Lambda"]["BufferIntervalInSeconds"] == "120"
        assert processors["Lambda"]["NumberOfRetries"] == "2"
        assert processors["RecordDeAggregation"] == {"SubRecordType": "JSON"}
        assert processors["AppendDelimiterToRecord"] == {"Delimiter": "fA=="}  # "|"

        page = await client.get("/firehose/clicks")
        assert page.status_code == 200
        assert function in page.text.split('id="processors-lambda"')[1].split("</td>")[0]
        assert "0.5 MB or 120 s · 2 retries" in page.text
        assert '<td id="processors-deaggregation">JSON</td>' in page.text
        assert '<td id="processors-append"><code>|</code></td>' in page.text
        form = form_of(page, "processors-form")
        assert 'name="p_buffer_mb" size="5" value="0.5"' in form
        assert f'<option value="{function}" selected>' in form
        version = _hidden(page, "processors-form", "version")
        destination = _hidden(page, "processors-form", "destination_id")
        fields = {
            "csrf": token, "version": version, "destination_id": destination, "http": "no",
            "p_lambda": function, "p_buffer_mb": "9", "p_buffer_seconds": "120",
            "p_retries": "2", "p_deaggregation": "DELIMITED",
            "p_deaggregation_delimiter": "\\t", "p_append": "yes",
        }  # fmt: skip

        refused = await client.post("/firehose/clicks/processors", data=fields)
        assert refused.status_code == 400
        assert "BufferSizeInMBs must be a number between 0.2 and 3" in alert(refused)
        typed = form_of(refused, "processors-form")
        assert 'name="p_buffer_mb" size="5" value="9"' in typed
        assert '<option value="DELIMITED" selected>' in typed
        assert _processors(s3_of(await described(console, client))) == processors  # unchanged

        changed = await client.post("/firehose/clicks/processors",
                                    data=fields | {"p_lambda": "", "p_buffer_mb": ""})  # fmt: skip
        assert changed.status_code == 303, alert(changed)
        assert changed.headers["location"] == "/console/firehose/clicks?saved=processors#processors"
        held = s3_of(await described(console, client))
        assert _processors(held) == {
            "RecordDeAggregation": {"SubRecordType": "DELIMITED",
                                    "Delimiter": base64.b64encode(b"\t").decode()},
            "AppendDelimiterToRecord": {},
        }  # fmt: skip
        page = await client.get("/firehose/clicks?saved=processors")
        assert 'id="saved">Processors changed.' in page.text
        assert 'name="p_deaggregation_delimiter" size="8" spellcheck="false" value="\\t"' in (
            form_of(page, "processors-form")
        )

        version = _hidden(page, "processors-form", "version")
        removed = await client.post(
            "/firehose/clicks/processors",
            data={"csrf": token, "version": version, "destination_id": destination, "http": "no"},
        )
        assert removed.status_code == 303, alert(removed)
        held = s3_of(await described(console, client))
        assert held.get("ProcessingConfiguration", {}).get("Processors", []) == []
        page = await client.get("/firehose/clicks")
        assert '<td id="processors-status">Off</td>' in page.text


async def test_a_partitioned_streams_query_kept_retry_role_and_bucket_changed(
    quick: ConsoleHarness,
) -> None:
    console = quick
    async with console.client() as client:
        await sign_in_root(console, client)
        token = await csrf(client)
        role = await _bucket_and_role(console, client, "landing", "delivery")
        other = await _bucket_and_role(console, client, "elsewhere", "other")
        created = await client.post("/firehose", data={
            "csrf": token, "name": "clicks", "bucket": "landing", "role_arn": role,
            "prefix": _PREFIX, "error_prefix": "errors/", "size_mb": "64",
            "interval_seconds": "60", "partition": "yes", "partition_query": _QUERY,
            "append_newline": "yes", "p_deaggregation": "JSON",
        })  # fmt: skip
        assert created.status_code == 303, alert(created)
        await _active(console, client, "clicks")
        s3 = s3_of(await described(console, client))
        assert list(_processors(s3)) == [
            "RecordDeAggregation", "MetadataExtraction", "AppendDelimiterToRecord"]  # fmt: skip
        assert s3["DynamicPartitioningConfiguration"]["Enabled"] is True

        page = await client.get("/firehose/clicks")
        assert f'name="p_query" size="50" spellcheck="false" value="{_QUERY}"' in form_of(
            page, "processors-form"
        )
        changed = await client.post("/firehose/clicks/processors", data={
            "csrf": token, "version": _hidden(page, "processors-form", "version"),
            "destination_id": _hidden(page, "processors-form", "destination_id"),
            "http": "no", "p_query": _QUERY, "p_append": "yes",
        })  # fmt: skip
        assert changed.status_code == 303, alert(changed)
        s3 = s3_of(await described(console, client))
        processors = _processors(s3)
        assert list(processors) == ["MetadataExtraction", "AppendDelimiterToRecord"]
        assert processors["MetadataExtraction"]["MetadataExtractionQuery"] == _QUERY
        assert s3["Prefix"] == _PREFIX

        page = await client.get("/firehose/clicks")
        delivery = form_of(page, "delivery-form")
        assert 'name="retry_seconds" size="5" value="300"' in delivery
        fields = {
            "csrf": token, "version": _hidden(page, "delivery-form", "version"),
            "destination_id": _hidden(page, "delivery-form", "destination_id"),
            "role_arn": other, "bucket": "elsewhere", "partitioned": "yes",
            "partitioning_enabled": "yes", "retry_seconds": "9000",
        }  # fmt: skip
        refused = await client.post("/firehose/clicks/delivery", data=fields)
        assert refused.status_code == 400
        assert "between 0 and 7200" in alert(refused)
        assert 'name="retry_seconds" size="5" value="9000"' in form_of(refused, "delivery-form")

        saved = await client.post("/firehose/clicks/delivery",
                                  data=fields | {"retry_seconds": "600"})  # fmt: skip
        assert saved.status_code == 303, alert(saved)
        assert saved.headers["location"] == "/console/firehose/clicks?saved=delivery#delivery"
        s3 = s3_of(await described(console, client))
        assert s3["RoleARN"] == other and s3["BucketARN"] == "arn:aws:s3:::elsewhere"
        assert s3["DynamicPartitioningConfiguration"] == {
            "Enabled": True, "RetryOptions": {"DurationInSeconds": 600}}  # fmt: skip
        assert _processors(s3)["MetadataExtraction"]["MetadataExtractionQuery"] == _QUERY
        page = await client.get("/firehose/clicks?saved=delivery")
        assert 'id="saved">Role and bucket changed.' in page.text
        assert ">elsewhere</a>" in page.text.split('id="stream-bucket"')[1].split("</td>")[0]


async def test_an_http_endpoints_processors_and_destination_changed(
    quick: ConsoleHarness,
) -> None:
    console = quick
    async with console.client() as client:
        await sign_in_root(console, client)
        token = await csrf(client)
        role = await _bucket_and_role(console, client, "backup", "delivery")
        created = await client.post("/firehose", data={
            "csrf": token, "name": "to-collector", "destination": "http",
            "url": "https://collector.example.com/ingest", "endpoint_name": "Collector",
            "key_source": "key", "access_key": _KEY, "retry_seconds": "300",
            "backup_mode": "FailedDataOnly", "bucket": "backup", "role_arn": role,
            "size_mb": "5", "interval_seconds": "300", "p_decompress": "yes",
        })  # fmt: skip
        assert created.status_code == 303, alert(created)
        await _active(console, client, "to-collector")
        held = await described(console, client, "to-collector")
        http = held["Destinations"][0]["HttpEndpointDestinationDescription"]
        assert _processors(http) == {"Decompression": {"CompressionFormat": "GZIP"}}

        page = await client.get("/firehose/to-collector")
        assert "GZIP" in page.text.split('id="processors-decompression"')[1].split("</td>")[0]
        assert 'name="p_deaggregation"' not in form_of(page, "processors-form")
        extracted = await client.post("/firehose/to-collector/processors", data={
            "csrf": token, "version": _hidden(page, "processors-form", "version"),
            "destination_id": _hidden(page, "processors-form", "destination_id"),
            "http": "yes", "p_decompress": "yes", "p_extract": "yes",
        })  # fmt: skip
        assert extracted.status_code == 303, alert(extracted)
        held = await described(console, client, "to-collector")
        http = held["Destinations"][0]["HttpEndpointDestinationDescription"]
        assert list(_processors(http)) == ["Decompression", "CloudWatchLogProcessing"]

        page = await client.get("/firehose/to-collector")
        fields = {
            "csrf": token, "version": _hidden(page, "endpoint-form", "version"),
            "destination_id": _hidden(page, "endpoint-form", "destination_id"),
            "shown_url": "https://collector.example.com/ingest", "shown_name": "Collector",
            "had_secret": "no", "url": "https://collector.example.com/v2",
            "endpoint_name": "Collector", "key_source": "keep", "content_encoding": "GZIP",
            "attributes": "team=data\nenv=prod", "size_mb": "2", "interval_seconds": "60",
            "retry_seconds": "120", "role_arn": role, "bucket": "backup",
        }  # fmt: skip
        # Firehose would drop the key with the URL: refused before any call, as typed.
        kept = await client.post("/firehose/to-collector/endpoint", data=fields)
        assert kept.status_code == 400
        assert "type the key again" in alert(kept)
        assert 'value="https://collector.example.com/v2"' in form_of(kept, "endpoint-form")
        refused = await client.post("/firehose/to-collector/endpoint", data=fields | {
            "key_source": "key", "access_key": _KEY, "retry_seconds": "9000"})  # fmt: skip
        assert refused.status_code == 400 and "7200" in alert(refused)
        assert _KEY not in refused.text and 'value="9000"' in form_of(refused, "endpoint-form")

        saved = await client.post(
            "/firehose/to-collector/endpoint",
            data=fields | {"key_source": "key", "access_key": _KEY},
        )
        assert saved.status_code == 303, alert(saved)
        held = await described(console, client, "to-collector")
        http = held["Destinations"][0]["HttpEndpointDestinationDescription"]
        assert http["EndpointConfiguration"] == {
            "Url": "https://collector.example.com/v2", "Name": "Collector"}  # fmt: skip
        assert http["RequestConfiguration"] == {
            "ContentEncoding": "GZIP",
            "CommonAttributes": [{"AttributeName": "team", "AttributeValue": "data"},
                                 {"AttributeName": "env", "AttributeValue": "prod"}],
        }  # fmt: skip
        assert http["BufferingHints"] == {"SizeInMBs": 2, "IntervalInSeconds": 60}
        assert http["RetryOptions"] == {"DurationInSeconds": 120}
        assert list(_processors(http)) == ["Decompression", "CloudWatchLogProcessing"]
        page = await client.get("/firehose/to-collector?saved=endpoint")
        assert 'id="saved">Endpoint changed.' in page.text
        assert "team=data\nenv=prod" in form_of(page, "endpoint-form")
        assert _KEY not in page.text

        # The key moved into a secret; the URL unchanged is not sent again.
        secret = await call(console, client, "secrets", "CreateSecret", {
            "Name": "collector-key", "SecretString": json.dumps({"api_key": _KEY})})  # fmt: skip
        page = await client.get("/firehose/to-collector")
        assert f'<option value="{secret["ARN"]}">collector-key</option>' in form_of(
            page, "endpoint-form"
        )
        moved = await client.post("/firehose/to-collector/endpoint", data=fields | {
            "version": _hidden(page, "endpoint-form", "version"),
            "shown_url": "https://collector.example.com/v2", "key_source": "secret",
            "secret_arn": secret["ARN"],
        })  # fmt: skip
        assert moved.status_code == 303, alert(moved)
        held = await described(console, client, "to-collector")
        http = held["Destinations"][0]["HttpEndpointDestinationDescription"]
        assert http["SecretsManagerConfiguration"]["SecretARN"] == secret["ARN"]
        assert http["SecretsManagerConfiguration"]["Enabled"] is True
        assert http["EndpointConfiguration"]["Url"] == "https://collector.example.com/v2"
