"""A Firehose stream's Lambda processor role, backup modes and test records from the console
(decision 0367): a stream made with a function invoked as a role of its own, shown, a role
that is no IAM role refused in Firehose's words with the form as typed, the destination's role
again; an S3 stream made with a source record backup (a bucket missing refused), shown, a
record copied as it came, the backup never disabled (Firehose's words) and its prefix changed;
an HTTP endpoint's backup mode and backup prefixes changed; records sent a line each
(PutRecordBatch, its bound of 500 answered by Firehose) and as demo data, delivered into the
bucket, a user without PutRecordBatch refused with the action named. Each the service's own
call as the signed-in user, checked against what Firehose answers apart from the console."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx

from support.console import ConsoleHarness, csrf, log_in, sign_in_root
from unit.console.test_console_firehose_edits import (
    _SCOPE,
    alert,
    described,
    form_of,
    quick,
    s3_of,
    trusting_firehose,
)
from unit.console.test_console_firehose_processors import (
    _account,
    _active,
    _bucket_and_role,
    _hidden,
    _processors,
)

__all__ = ["quick"]  # the fixture, shared with test_console_firehose_edits

_FUNCTION = "arn:aws:lambda:eu-fr-1:{account}:function:enrich"


async def _objects(
    console: ConsoleHarness, client: httpx.AsyncClient, bucket: str, prefix: str, lines: int
) -> list[bytes]:
    """The records the deliverer wrote under ``prefix``, once they are ``lines`` lines (the
    listing apart from the pages, each object downloaded from the console)."""
    running = console.application._running
    assert running is not None
    principal = await console.identity.resolve_console_session(client.cookies["andromede_console"])
    for _ in range(400):
        listed = await running.console.console.s3.request(
            _SCOPE, principal, "GET", f"/{bucket}", {"list-type": "2", "prefix": prefix}
        )
        found: list[bytes] = []
        for key in re.findall(r"<Key>([^<]+)</Key>", listed.body.decode()):
            downloaded = await client.get(f"/buckets/{bucket}/download", params={"key": key})
            assert downloaded.status_code == 200
            found.extend(downloaded.content.splitlines(keepends=True))
        if len(found) >= lines:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"{lines} records were never delivered under {prefix}")


async def _s3_stream(console: ConsoleHarness, client: httpx.AsyncClient, **extra: str) -> str:
    """The ``clicks`` stream into ``landing`` as the ``delivery`` role, made from the console
    (records due at once), ACTIVE: the role's ARN."""
    role = await _bucket_and_role(console, client, "landing", "delivery")
    created = await client.post("/firehose", data={
        "csrf": await csrf(client), "name": "clicks", "bucket": "landing", "role_arn": role,
        "prefix": "clicks/", "size_mb": "1", "interval_seconds": "0", **extra,
    })  # fmt: skip
    assert created.status_code == 303, alert(created)
    await _active(console, client, "clicks")
    return role


async def test_the_functions_own_role_chosen_shown_refused_and_dropped(
    quick: ConsoleHarness,
) -> None:
    console = quick
    async with console.client() as client:
        await sign_in_root(console, client)
        account = await _account(console, client)
        function = _FUNCTION.format(account=account)
        invoking = (
            await console.identity.create_role(account, "invoking", trusting_firehose())
        ).arn
        page = await client.get("/firehose")
        assert f'<option value="{invoking}">invoking</option>' in form_of(
            page, "create-stream-form"
        )
        role = await _s3_stream(console, client, p_lambda=function, p_lambda_role=invoking,
                                p_retries="1")  # fmt: skip
        lambda_ = _processors(s3_of(await described(console, client)))["Lambda"]
        assert lambda_["RoleArn"] == invoking and lambda_["NumberOfRetries"] == "1"

        page = await client.get("/firehose/clicks")
        assert f'<code id="processors-lambda-role">{invoking}</code>' in page.text
        form = form_of(page, "processors-form")
        assert f'<option value="{invoking}" selected>invoking</option>' in form
        fields = {
            "csrf": await csrf(client, "/firehose/clicks"),
            "version": _hidden(page, "processors-form", "version"),
            "destination_id": _hidden(page, "processors-form", "destination_id"),
            "http": "no", "p_lambda": function, "p_retries": "3",
            "p_lambda_role": "arn:aws:iam::forged",
        }  # fmt: skip
        refused = await client.post("/firehose/clicks/processors", data=fields)
        assert refused.status_code == 400
        assert "RoleArn 'arn:aws:iam::forged' is not a valid IAM role ARN." in alert(refused)
        typed = form_of(refused, "processors-form")
        assert '<option value="arn:aws:iam::forged" selected>' in typed
        assert 'name="p_retries" size="5" value="3"' in typed
        assert _processors(s3_of(await described(console, client)))["Lambda"] == lambda_

        dropped = await client.post("/firehose/clicks/processors",
                                    data=fields | {"p_lambda_role": ""})  # fmt: skip
        assert dropped.status_code == 303, alert(dropped)
        lambda_ = _processors(s3_of(await described(console, client)))["Lambda"]
        assert lambda_["RoleArn"] == role  # Firehose's default: the destination's role
        assert lambda_["NumberOfRetries"] == "3"
        page = await client.get("/firehose/clicks")
        shown = page.text.split('id="processors-lambda"')[1].split("</td>")[0]
        assert "The destination&#39;s role" in shown and "processors-lambda-role" not in shown


async def test_an_s3_destinations_source_backup_made_shown_kept_and_changed(
    quick: ConsoleHarness,
) -> None:
    console = quick
    async with console.client() as client:
        await sign_in_root(console, client)
        role = await _bucket_and_role(console, client, "landing", "delivery")
        fields = {
            "csrf": await csrf(client), "name": "clicks", "bucket": "landing",
            "role_arn": role, "prefix": "clicks/", "size_mb": "1", "interval_seconds": "0",
            "source_backup": "yes", "backup_bucket": "", "backup_prefix": "source/",
            "backup_size_mb": "1", "backup_interval_seconds": "0",
        }  # fmt: skip
        refused = await client.post("/firehose", data=fields)
        assert refused.status_code == 400
        assert "BucketARN 'arn:aws:s3:::' is not a valid S3 bucket ARN." in alert(refused)
        typed = form_of(refused, "create-stream-form")
        assert 'name="source_backup" value="yes" checked' in typed
        assert 'name="backup_prefix" maxlength="1024" size="40" value="source/"' in typed
        # No zero buffering for an S3 backup (decision 0379): Firehose's words, the form kept;
        # the backup's own hints asked apart (0388): the destination's zero is taken.
        zero = await client.post("/firehose", data=fields | {"backup_bucket": "landing"})
        assert zero.status_code == 400
        assert "S3BackupConfiguration.BufferingHints.IntervalInSeconds 0" in alert(zero)
        kept = form_of(zero, "create-stream-form")
        assert 'name="source_backup" value="yes" checked' in kept
        assert 'name="backup_interval_seconds" size="5" value="0"' in kept
        fields |= {"backup_bucket": "landing", "backup_interval_seconds": "90"}
        made = await client.post("/firehose", data=fields)
        assert made.status_code == 303, alert(made)
        await _active(console, client, "clicks")
        held = s3_of(await described(console, client))
        assert held["S3BackupMode"] == "Enabled"
        assert held["S3BackupDescription"]["BucketARN"] == "arn:aws:s3:::landing"
        assert held["S3BackupDescription"]["Prefix"] == "source/"
        assert held["S3BackupDescription"]["BufferingHints"] == {
            "SizeInMBs": 1, "IntervalInSeconds": 90}  # fmt: skip
        assert held["BufferingHints"]["IntervalInSeconds"] == 0  # the destination's own

        page = await client.get("/firehose/clicks")
        shown = page.text.split('id="stream-source-backup">')[1].split("</td>")[0]
        assert shown.startswith("Enabled · ") and "<code>source/</code>" in shown
        assert '<td id="stream-backup-hints">1 MiB or 90 s</td>' in page.text
        assert 'name="backup_interval_seconds" size="5" value="90"' in form_of(
            page, "delivery-form"
        )
        token = await csrf(client, "/firehose/clicks")
        put = await client.post("/firehose/clicks/put-record",
                                data={"csrf": token, "data": "x", "newline": "yes"})  # fmt: skip
        assert put.status_code == 303, alert(put)

        update = {
            "csrf": await csrf(client, "/firehose/clicks"),
            "version": _hidden(page, "delivery-form", "version"),
            "destination_id": _hidden(page, "delivery-form", "destination_id"),
            "role_arn": role, "bucket": "landing", "backup_mode": "Disabled",
            "backup_bucket": "landing", "backup_prefix": "source/",
        }  # fmt: skip
        # AWS lets no update disable a source backup: Firehose says so, the form as typed.
        kept = await client.post("/firehose/clicks/delivery", data=update)
        assert kept.status_code == 400
        assert "once enabled cannot be disabled" in alert(kept)
        assert '<option value="Disabled" selected>' in form_of(kept, "delivery-form")
        changed = await client.post("/firehose/clicks/delivery", data=update | {
            "backup_mode": "Enabled", "backup_prefix": "source-v2/",
            "backup_size_mb": "2", "backup_interval_seconds": "120"})  # fmt: skip
        assert changed.status_code == 303, alert(changed)
        held = s3_of(await described(console, client))
        assert held["S3BackupMode"] == "Enabled"
        assert held["S3BackupDescription"]["Prefix"] == "source-v2/"
        assert held["S3BackupDescription"]["BufferingHints"] == {
            "SizeInMBs": 2, "IntervalInSeconds": 120}  # fmt: skip
        page = await client.get("/firehose/clicks")
        assert 'value="source-v2/"' in form_of(page, "delivery-form")


async def test_an_http_endpoints_backup_mode_and_prefixes_changed(quick: ConsoleHarness) -> None:
    console = quick
    async with console.client() as client:
        await sign_in_root(console, client)
        role = await _bucket_and_role(console, client, "backup", "delivery")
        created = await client.post("/firehose", data={
            "csrf": await csrf(client), "name": "to-collector", "destination": "http",
            "url": "https://collector.example.com/ingest", "key_source": "key",
            "retry_seconds": "300", "backup_mode": "FailedDataOnly", "bucket": "backup",
            "role_arn": role, "size_mb": "5", "interval_seconds": "0",
            "backup_size_mb": "3", "backup_interval_seconds": "600",
        })  # fmt: skip
        assert created.status_code == 303, alert(created)
        await _active(console, client, "to-collector")
        held = await described(console, client, "to-collector")
        http = held["Destinations"][0]["HttpEndpointDestinationDescription"]
        assert http["BufferingHints"] == {"SizeInMBs": 5, "IntervalInSeconds": 0}
        assert http["S3DestinationDescription"]["BufferingHints"] == {
            "SizeInMBs": 3, "IntervalInSeconds": 600}  # fmt: skip
        page = await client.get("/firehose/to-collector")
        assert '<td id="stream-backup-hints">3 MiB or 600 s</td>' in page.text
        form = form_of(page, "endpoint-form")
        assert '<option value="FailedDataOnly" selected>' in form
        assert 'name="backup_size_mb" size="5" value="3"' in form
        fields = {
            "csrf": await csrf(client, "/firehose/to-collector"),
            "version": _hidden(page, "endpoint-form", "version"),
            "destination_id": _hidden(page, "endpoint-form", "destination_id"),
            "shown_url": "https://collector.example.com/ingest", "shown_name": "",
            "had_secret": "no", "url": "https://collector.example.com/ingest",
            "endpoint_name": "", "key_source": "keep", "content_encoding": "NONE",
            "attributes": "", "size_mb": "5", "interval_seconds": "300", "retry_seconds": "300",
            "role_arn": role, "bucket": "backup", "backup_mode": "Sometimes",
            "prefix": "copies/", "error_prefix": "failed/",
            "backup_size_mb": "3", "backup_interval_seconds": "30",
        }  # fmt: skip
        refused = await client.post("/firehose/to-collector/endpoint", data=fields)
        assert refused.status_code == 400
        assert "[FailedDataOnly, AllData]" in alert(refused)
        assert 'name="prefix" maxlength="1024" size="40" value="copies/"' in form_of(
            refused, "endpoint-form"
        )

        # The backup's own interval under 60 s: Firehose's refusal, the form as typed (0388).
        zero = await client.post("/firehose/to-collector/endpoint",
                                 data=fields | {"backup_mode": "AllData"})  # fmt: skip
        assert zero.status_code == 400
        assert "S3Update.BufferingHints.IntervalInSeconds 30" in alert(zero)
        assert 'name="backup_interval_seconds" size="5" value="30"' in form_of(
            zero, "endpoint-form"
        )
        saved = await client.post("/firehose/to-collector/endpoint", data=fields | {
            "backup_mode": "AllData", "backup_interval_seconds": "60"})  # fmt: skip
        assert saved.status_code == 303, alert(saved)
        held = await described(console, client, "to-collector")
        http = held["Destinations"][0]["HttpEndpointDestinationDescription"]
        assert http["S3BackupMode"] == "AllData"
        backup = http["S3DestinationDescription"]
        assert backup["Prefix"] == "copies/" and backup["ErrorOutputPrefix"] == "failed/"
        assert backup["BufferingHints"] == {"SizeInMBs": 3, "IntervalInSeconds": 60}
        page = await client.get("/firehose/to-collector")
        assert "All data (AllData)" in page.text.split('id="stream-backup-mode"')[1][:80]
        assert "<code>copies/</code>" in page.text.split('id="stream-bucket"')[1][:200]
        assert '<td id="stream-error-prefix"><code>failed/</code></td>' in page.text
        assert '<option value="AllData" selected>' in form_of(page, "endpoint-form")


async def test_records_sent_a_line_each_and_as_demo_data(quick: ConsoleHarness) -> None:
    console = quick
    async with console.client() as client:
        await sign_in_root(console, client)
        await _s3_stream(console, client)
        token = await csrf(client, "/firehose/clicks")
        lines = {"csrf": token, "data": '{"a": 1}\n{"a": 2}\n\n{"a": 3}', "newline": "yes",
                 "lines": "yes"}  # fmt: skip
        put = await client.post("/firehose/clicks/put-record", data=lines)
        assert put.status_code == 303, alert(put)
        assert "batch=3&failed=0&encrypted=no#put-record" in put.headers["location"]
        shown = await client.get(put.headers["location"].removeprefix("/console"))
        assert '<p class="notice" id="batch-result">3 records put, 0 refused by Firehose.' in (
            shown.text
        )
        delivered = await _objects(console, client, "landing", "clicks/", 3)
        assert sorted(delivered) == [b'{"a": 1}\n', b'{"a": 2}\n', b'{"a": 3}\n']

        too_many = lines | {"data": "\n".join(f"r{i}" for i in range(501))}
        refused = await client.post("/firehose/clicks/put-record", data=too_many)
        assert refused.status_code == 400
        assert "Member must have length between 1 and 500" in alert(refused)
        assert 'name="lines" value="yes" checked' in form_of(refused, "put-record-form")
        empty = await client.post("/firehose/clicks/put-record", data=lines | {"data": "\n "})
        assert empty.status_code == 400
        assert alert(empty) == "Type at least one record, a line each."

        for count in ("0", "501", "ten"):
            bounded = await client.post("/firehose/clicks/put-demo",
                                        data={"csrf": token, "count": count})  # fmt: skip
            assert bounded.status_code == 400
            assert "between 1 and 500 demo records" in alert(bounded)
            assert f'name="count" size="5" value="{count}"' in form_of(bounded, "put-demo-form")
        demo = await client.post("/firehose/clicks/put-demo", data={"csrf": token, "count": "25"})
        assert demo.status_code == 303, alert(demo)
        assert "batch=25&failed=0" in demo.headers["location"]
        delivered = await _objects(console, client, "landing", "clicks/", 28)
        tickers = [json.loads(line) for line in delivered if b"ticker_symbol" in line]
        assert len(tickers) == 25
        assert {"ticker_symbol", "sector", "change", "price"} == set(tickers[0])
        forged = await client.post("/firehose/clicks/put-demo", data={"csrf": "x", "count": "1"})
        assert forged.status_code == 403

        # Only numbers and words come back from the page's address.
        page = await client.get("/firehose/clicks?batch=2&failed=1&codes=<b>x</b>,Throttled")
        result = page.text.split('id="batch-result">')[1].split("</p>")[0]
        assert result == "2 records put, 1 refused by Firehose. <code>Throttled</code>"


async def test_a_user_without_put_record_batch_is_refused_by_firehose(
    quick: ConsoleHarness,
) -> None:
    console = quick
    tenant = console.admin_tenant_id
    async with console.client() as root:
        await sign_in_root(console, root)
        await _s3_stream(console, root)
    allowed: dict[str, Any] = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Resource": "*",
                       "Action": ["firehose:DescribeDeliveryStream", "firehose:PutRecord",
                                  "firehose:ListTagsForDeliveryStream"]}],
    }  # fmt: skip
    await console.user_with_password(tenant, "sender")
    await console.identity.put_user_policy(tenant, "sender", "put", json.dumps(allowed))
    async with console.client() as client:
        assert (await log_in(client, "admin", "sender")).status_code == 303
        token = await csrf(client, "/firehose/clicks")
        demo = await client.post("/firehose/clicks/put-demo", data={"csrf": token, "count": "2"})
        assert demo.status_code == 400 and "firehose:PutRecordBatch" in alert(demo)
        one = await client.post("/firehose/clicks/put-record", data={"csrf": token, "data": "x"})
        assert one.status_code == 303, alert(one)
        lines = await client.post("/firehose/clicks/put-record",
                                  data={"csrf": token, "data": "x\ny", "lines": "yes"})  # fmt: skip
        assert lines.status_code == 400 and "firehose:PutRecordBatch" in alert(lines)
