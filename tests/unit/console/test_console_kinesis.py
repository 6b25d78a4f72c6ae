"""Amazon Kinesis Data Streams in the console (decisions 0228 and 0236): streams listed (status,
mode, open shards, retention, encryption), one created provisioned or on demand, its page
(shards and their hash key ranges, retention changed both ways, encryption started under a
KMS key of the account and stopped, tags added and removed), a record put and the shard's
records read back from the trim horizon or the latest point, at most a page of them, read on
with the next iterator, text or base64; deleted after a ticked box. Kinesis' refusals shown in
its words; a form without the session's token refused; a user Kinesis refuses sees its
refusal. Each the service's own call as the signed-in user, checked against what it answers
apart from the console."""

from __future__ import annotations

import base64
from html import unescape
from pathlib import Path
from typing import Any

import httpx

from support.console import (
    ConsoleHarness,
    console_harness,
    csrf,
    csrf_of,
    log_in,
    logged_events,
    sign_in_root,
)


def alert(page: httpx.Response) -> str:
    return unescape(page.text.split('role="alert">', 1)[1].split("</p>", 1)[0])


def form_of(page: httpx.Response, form_id: str) -> str:
    return page.text.split(f'id="{form_id}"', 1)[1].split("</form>", 1)[0]


def records_of(page: httpx.Response) -> list[str]:
    """The records' data cells a read shows, in order."""
    return [
        unescape(row.split('<td class="data">', 1)[1].split("</td>", 1)[0])
        for row in page.text.split('<tr class="record">')[1:]
    ]


async def kinesis(
    console: ConsoleHarness, client: httpx.AsyncClient, action: str, params: dict[str, Any]
) -> dict[str, Any]:
    """A Kinesis call as the client's signed-in user, apart from the pages."""
    running = console.application._running
    assert running is not None
    wire = running.console.console.kinesis
    assert wire is not None
    principal = await console.identity.resolve_console_session(client.cookies["andromede_console"])
    scope = {"client": ("127.0.0.1", 1), "server": ("127.0.0.1", 9001), "scheme": "http"}
    return await wire._json(scope, principal, action, params)


async def summary(console: ConsoleHarness, client: httpx.AsyncClient, name: str) -> dict[str, Any]:
    answer = await kinesis(console, client, "DescribeStreamSummary", {"StreamName": name})
    return dict(answer["StreamDescriptionSummary"])


async def test_a_stream_created_listed_changed_and_deleted(console: ConsoleHarness) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        empty = await client.get("/kinesis")
        assert empty.status_code == 200 and "No data streams yet." in empty.text
        assert 'id="menu-kinesis"' in empty.text and 'id="menu-parameters"' in empty.text
        token = csrf_of(empty)
        assert 'name="shard_count" size="5" value="1"' in form_of(empty, "create-stream-form")
        made = await client.post(
            "/kinesis",
            data={"csrf": token, "name": "clicks", "mode": "PROVISIONED", "shard_count": "2",
                  "tags": "team=web"},
        )  # fmt: skip
        assert made.status_code == 303, alert(made)
        assert made.headers["location"] == "/console/kinesis/clicks"
        on_demand = await client.post(
            "/kinesis", data={"csrf": token, "name": "events", "mode": "ON_DEMAND",
                              "shard_count": ""},
        )  # fmt: skip
        assert on_demand.status_code == 303, alert(on_demand)
        held = await summary(console, client, "clicks")
        assert held["OpenShardCount"] == 2 and held["StreamModeDetails"]["StreamMode"] == (
            "PROVISIONED"
        )
        assert (await summary(console, client, "events"))["StreamModeDetails"] == {
            "StreamMode": "ON_DEMAND"
        }

        listed = await client.get("/kinesis")
        row = listed.text.split('id="stream-clicks"', 1)[1].split("</tr>", 1)[0]
        assert '<a href="/console/kinesis/clicks">clicks</a>' in row
        assert (
            '<td class="status">ACTIVE</td>' in row and '<td class="mode">PROVISIONED</td>' in row
        )
        assert '<td class="shards">2</td>' in row and '<td class="retention">24</td>' in row
        assert '<td class="encryption">NONE</td>' in row
        assert '<td class="mode">ON_DEMAND</td>' in listed.text.split('id="stream-events"', 1)[1]

        shown = await client.get("/kinesis/clicks")
        assert shown.status_code == 200
        assert f'<code id="stream-arn">{held["StreamARN"]}</code>' in shown.text
        shards = (await kinesis(console, client, "ListShards", {"StreamName": "clicks"}))["Shards"]
        for shard in shards:
            line = shown.text.split(f'id="shard-{shard["ShardId"]}"', 1)[1].split("</tr>", 1)[0]
            assert '<td class="state">Open</td>' in line
            assert f"<code>{shard['HashKeyRange']['StartingHashKey']}</code>" in line
            assert f"<code>{shard['HashKeyRange']['EndingHashKey']}</code>" in line
        assert "<code>team=web</code>" in shown.text

        # Retention: up, then down (the page picks Increase or Decrease).
        up = await client.post("/kinesis/clicks/retention", data={"csrf": token, "hours": "48"})
        assert up.status_code == 303
        assert (await summary(console, client, "clicks"))["RetentionPeriodHours"] == 48
        down = await client.post("/kinesis/clicks/retention", data={"csrf": token, "hours": "36"})
        assert down.status_code == 303
        assert (await summary(console, client, "clicks"))["RetentionPeriodHours"] == 36
        too_long = await client.post("/kinesis/clicks/retention",
                                     data={"csrf": token, "hours": "9000"})  # fmt: skip
        assert too_long.status_code == 400 and "(InvalidArgumentException)" in alert(too_long)
        assert 'name="hours" size="6" value="9000"' in form_of(too_long, "retention-form")
        not_hours = await client.post("/kinesis/clicks/retention",
                                      data={"csrf": token, "hours": "a day"})  # fmt: skip
        assert not_hours.status_code == 400 and "whole number of hours" in alert(not_hours)

        # Encryption under a key of the account, offered by the form, then stopped.
        assert (await client.post("/keys", data={"csrf": token})).status_code == 303
        page = await client.get("/kinesis/clicks")
        key_id = form_of(page, "encrypt-form").split('<option value="', 1)[1].split('"', 1)[0]
        started = await client.post("/kinesis/clicks/encrypt",
                                    data={"csrf": token, "kms_key": key_id})  # fmt: skip
        assert started.status_code == 303, alert(started)
        encrypted = await summary(console, client, "clicks")
        assert (encrypted["EncryptionType"], encrypted["KeyId"]) == ("KMS", key_id)
        page = await client.get("/kinesis/clicks")
        assert f"KMS · <code>{key_id}</code>" in page.text and 'id="stop-encryption"' in page.text
        bad_key = await client.post("/kinesis/clicks/encrypt",
                                    data={"csrf": token, "kms_key": "alias/none"})  # fmt: skip
        assert bad_key.status_code == 400, bad_key.text
        assert "Exception)" in alert(bad_key)

        # A record put while encrypted, then encryption stopped, a second one put.
        put = await client.post("/kinesis/clicks/put",
                                data={"csrf": token, "partition_key": "user-1",
                                      "data": "héllo <b>"})  # fmt: skip
        assert put.status_code == 303, alert(put)
        assert put.headers["location"].startswith("/console/kinesis/clicks?shard=shardId-")
        after_put = await client.get(put.headers["location"].removeprefix("/console"))
        assert "Record written into shardId-" in after_put.text
        stopped = await client.post("/kinesis/clicks/stop-encryption", data={"csrf": token})
        assert stopped.status_code == 303, alert(stopped)
        assert (await summary(console, client, "clicks"))["EncryptionType"] == "NONE"

        # Tags added and removed.
        tagged = await client.post("/kinesis/clicks/tag", data={"csrf": token, "tags": "env=prod"})
        untagged = await client.post("/kinesis/clicks/untag", data={"csrf": token, "key": "team"})
        assert tagged.status_code == untagged.status_code == 303
        tags = await kinesis(console, client, "ListTagsForStream", {"StreamName": "clicks"})
        assert tags["Tags"] == [{"Key": "env", "Value": "prod"}]
        shown = (await client.get("/kinesis/clicks")).text  # forms.html's tag_editor
        listed = shown.split('<ul id="stream-tags">', 1)[1].split("</ul>", 1)[0]
        assert "<code>env=prod</code>" in listed
        assert 'action="/console/kinesis/clicks/untag"' in listed
        assert 'id="tag-form"' in shown and 'action="/console/kinesis/clicks/tag"' in shown

        # In French, the same page.
        french = await client.get("/kinesis/clicks", headers={"accept-language": "fr"})
        assert "Partitions ouvertes" in french.text and "Clé de partition" in french.text

        unticked = await client.post("/kinesis/clicks/delete", data={"csrf": token})
        assert unticked.status_code == 400 and "Tick the box" in alert(unticked)
        deleted = await client.post("/kinesis/clicks/delete",
                                    data={"csrf": token, "confirm": "yes"})  # fmt: skip
        assert deleted.status_code == 303 and deleted.headers["location"] == "/console/kinesis"
        names = (await kinesis(console, client, "ListStreams", {}))["StreamNames"]
        assert names == ["events"]
        gone = await client.get("/kinesis/clicks")
        assert gone.status_code == 400 and "(ResourceNotFoundException)" in alert(gone)
    actions = [e.action for e in await logged_events(console, tenant)]
    for action in ("CreateStream", "IncreaseStreamRetentionPeriod", "StartStreamEncryption",
                   "StopStreamEncryption", "AddTagsToStream", "DeleteStream"):  # fmt: skip
        assert f"kinesis:{action}" in actions


async def test_records_read_back_a_page_at_a_time(tmp_path: Path) -> None:
    async with (
        console_harness(tmp_path, console_page_size=2) as console,
        console.client() as client,
    ):
        await sign_in_root(console, client)
        token = await csrf(client, "/kinesis")
        made = await client.post(
            "/kinesis", data={"csrf": token, "name": "one", "shard_count": "1"}
        )
        assert made.status_code == 303, alert(made)
        for text in ("first", "second <i>"):
            put = await client.post(
                "/kinesis/one/put", data={"csrf": token, "partition_key": "k", "data": text}
            )
            assert put.status_code == 303, alert(put)
        binary = base64.b64encode(b"\xff\x00\xfe").decode()
        await kinesis(console, client, "PutRecord",
                      {"StreamName": "one", "PartitionKey": "bin", "Data": binary})  # fmt: skip
        shard = (await kinesis(console, client, "ListShards", {"StreamName": "one"}))["Shards"][0]
        shard_id = shard["ShardId"]

        reading = {"csrf": token, "shard": shard_id, "position": "TRIM_HORIZON"}
        first = await client.post("/kinesis/one/read", data=reading)
        assert first.status_code == 200, first.text
        assert records_of(first) == ["<pre>first</pre>", "<pre>second <i></pre>"]
        assert "second &lt;i&gt;" in first.text  # escaped, never markup
        read_on = form_of(first, "read-on-form")
        iterator = unescape(read_on.split('name="iterator" value="', 1)[1].split('"', 1)[0])
        assert iterator and iterator not in first.url.path
        second = await client.post("/kinesis/one/read", data=reading | {"iterator": iterator})
        assert records_of(second) == [f'<code class="base64">{binary}</code> (base64)']
        latest = await client.post("/kinesis/one/read", data=reading | {"position": "LATEST"})
        assert latest.status_code == 200 and 'id="no-records"' in latest.text
        assert 'id="read-on-form"' in latest.text  # to poll for what comes next
        nowhere = await client.post("/kinesis/one/read", data=reading | {"position": "AT_NOON"})
        assert nowhere.status_code == 400 and "where the read starts" in alert(nowhere)
        no_shard = await client.post(
            "/kinesis/one/read", data=reading | {"shard": "shardId-000000000042"}
        )
        assert no_shard.status_code == 400 and "(ResourceNotFoundException)" in alert(no_shard)

        # The list in pages of two.
        for name in ("two", "three"):
            await client.post("/kinesis", data={"csrf": token, "name": name, "shard_count": "1"})
        page = await client.get("/kinesis")
        assert page.text.count('class="kinesis-stream"') == 2
        href = unescape(page.text.split('rel="next"', 1)[0].rsplit('href="', 1)[1].split('"')[0])
        rest = await client.get(href.removeprefix("/console"))
        assert (
            rest.text.count('class="kinesis-stream"') == 1 and 'id="streams-next"' not in rest.text
        )


async def test_kinesis_refusals_show_with_the_form_as_typed(console: ConsoleHarness) -> None:
    async with console.client() as client:
        await sign_in_root(console, client)
        token = await csrf(client, "/kinesis")
        fields = {"csrf": token, "name": "bad name!", "mode": "PROVISIONED", "shard_count": "1",
                  "tags": "a=b"}  # fmt: skip
        refused = await client.post("/kinesis", data=fields)
        assert refused.status_code == 400 and "Exception)" in alert(refused)
        creating = form_of(refused, "create-stream-form")
        assert 'value="bad name!"' in creating and "a=b" in creating
        no_shards = await client.post("/kinesis", data=fields | {"name": "ok", "shard_count": "0"})
        assert no_shards.status_code == 400 and "'shardCount'" in alert(no_shards)
        forged = await client.post("/kinesis", data=fields | {"name": "ok", "csrf": "forged"})
        assert forged.status_code == 403
        assert (await kinesis(console, client, "ListStreams", {}))["StreamNames"] == []


async def test_a_user_kinesis_refuses_sees_its_refusal(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    await console.user_with_password(tenant, "reader")
    async with console.client() as client:
        assert (await log_in(client, "admin", "reader")).status_code == 303
        page = await client.get("/kinesis")
        assert page.status_code == 400
        assert "(AccessDeniedException)" in alert(page) and "kinesis:ListStreams" in alert(page)
        made = await client.post("/kinesis", data={"csrf": csrf_of(page), "name": "s",
                                                   "shard_count": "1"})  # fmt: skip
        assert made.status_code == 400 and "kinesis:CreateStream" in alert(made)
