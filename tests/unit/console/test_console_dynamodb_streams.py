"""DynamoDB's PartiQL editor and a table's stream in the console (decision 0252): a statement
and its parameters run by ExecuteStatement, its items shown escaped, "Next page" carrying
``NextToken`` in a hidden field, DynamoDB's refusals in its words with the form as typed; a
table's stream turned on with a view type and off (UpdateTable's ``StreamSpecification``), its
state, view type and ARN shown, its records read from the trim horizon or the latest point
(event names, keys, images, sequence numbers) and read on. Each the service's own call as the
signed-in user, checked against what it answers apart from the console. A stream's shards,
every page of them (decision 0275)."""

from __future__ import annotations

import json
from html import unescape
from pathlib import Path

import pytest

from andromede.dynamodb import stream_service
from support.console import ConsoleHarness, console_harness, csrf, log_in, sign_in_root
from unit.console.test_console_dynamodb_edits import (
    alert,
    dynamodb,
    form_of,
    hidden_fields,
    items_of,
    orders_table,
)


async def test_partiql_statements_paged_and_refused(tmp_path: Path) -> None:
    async with (
        console_harness(tmp_path, console_page_size=1) as console,
        console.client() as client,
    ):
        await sign_in_root(console, client)
        await orders_table(console, client)
        listed = await client.get("/dynamodb")
        assert 'href="/console/dynamodb-partiql"' in listed.text
        editor = await client.get("/dynamodb-partiql")
        assert editor.status_code == 200 and 'id="partiql-form"' in editor.text
        token = await csrf(client, "/dynamodb-partiql")

        statement = 'SELECT * FROM "orders" WHERE "customer" = ?'
        first = await client.post(
            "/dynamodb-partiql",
            data={"csrf": token, "statement": statement, "parameters": '[{"S": "ann"}]'},
        )
        assert first.status_code == 200, alert(first)
        assert [i["placed"] for i in items_of(first)] == [{"N": "1"}]
        carried = hidden_fields(first, "partiql-next-form")
        assert carried["statement"] == statement and carried["next_token"]
        assert "next_token" not in first.text.split('id="partiql-next-form"', 1)[0]
        second = await client.post("/dynamodb-partiql", data=carried)
        assert [i["placed"] for i in items_of(second)] == [{"N": "2"}]
        # The last page (or an empty one) offers no "Next page".
        pages = 2
        while 'id="partiql-next-form"' in second.text:
            second = await client.post(
                "/dynamodb-partiql", data=hidden_fields(second, "partiql-next-form")
            )
            pages += 1
        assert pages <= 3
        # A token is DynamoDB's, bound to its statement: another one is refused in its words.
        other = carried | {"statement": 'SELECT * FROM "orders" WHERE "customer" = \'bob\''}
        other["parameters"] = ""
        refused = await client.post("/dynamodb-partiql", data=other)
        assert refused.status_code == 400 and "NextToken" in alert(refused)

        # A write, then its item read back apart from the console; markup in an item is escaped.
        values = "INSERT INTO \"orders\" VALUE {'customer': ?, 'placed': 9}"
        insert = {"csrf": token, "parameters": '[{"S": "<b>dee</b>"}]', "statement": values}
        inserted = await client.post("/dynamodb-partiql", data=insert)
        assert inserted.status_code == 200, alert(inserted)
        assert 'id="no-items"' in inserted.text
        got = await dynamodb(console, client, "GetItem", {"TableName": "orders", "Key": {
            "customer": {"S": "<b>dee</b>"}, "placed": {"N": "9"}}})  # fmt: skip
        assert got["Item"]["customer"] == {"S": "<b>dee</b>"}
        shown = await client.post(
            "/dynamodb-partiql",
            data={"csrf": token, "statement": statement, "parameters": '[{"S": "<b>dee</b>"}]'},
        )
        assert "<b>dee</b>" not in shown.text and "&lt;b&gt;dee&lt;/b&gt;" in shown.text
        duplicate = await client.post("/dynamodb-partiql", data=insert)
        assert duplicate.status_code == 400
        assert "DuplicateItemException" in alert(duplicate)
        assert "Duplicate primary key exists in table" in alert(duplicate)
        assert "placed&#39;: 9}" in form_of(duplicate, "partiql-form").replace("'", "&#39;") or (
            "'placed': 9}" in form_of(duplicate, "partiql-form")
        )

        # DynamoDB's words for a malformed statement and a count mismatch; the page's own for
        # parameters that are no array of values; the form as typed each time.
        bad = await client.post("/dynamodb-partiql", data={"csrf": token, "statement": "SELEC *"})
        assert bad.status_code == 400 and "Statement wasn't well formed" in alert(bad)
        assert "SELEC *" in form_of(bad, "partiql-form")
        counted = await client.post(
            "/dynamodb-partiql", data={"csrf": token, "statement": statement}
        )
        assert "Number of parameters in request and statement don't match" in alert(counted)
        not_array = await client.post(
            "/dynamodb-partiql",
            data={"csrf": token, "statement": statement, "parameters": '{"S": "ann"}'},
        )
        assert not_array.status_code == 400 and "JSON array" in alert(not_array)
        assert '{"S": "ann"}' in form_of(not_array, "partiql-form")
        forged = await client.post("/dynamodb-partiql", data={"csrf": "x", "statement": statement})
        assert forged.status_code == 403
        french = await client.get("/dynamodb-partiql", headers={"accept-language": "fr"})
        assert "Éditeur PartiQL" in french.text


async def test_a_table_stream_turned_on_read_and_off(tmp_path: Path) -> None:
    async with (
        console_harness(tmp_path, console_page_size=2) as console,
        console.client() as client,
    ):
        await sign_in_root(console, client)
        token = await orders_table(console, client)
        page = await client.get("/dynamodb/orders")
        assert (
            '<td id="stream-view">-</td>' in page.text and 'id="read-stream-form"' not in page.text
        )
        unchosen = await client.post(
            "/dynamodb/orders/stream", data={"csrf": token, "enabled": "yes"}
        )
        assert unchosen.status_code == 400 and "record" in alert(unchosen)

        on = await client.post(
            "/dynamodb/orders/stream",
            data={"csrf": token, "enabled": "yes", "view_type": "NEW_AND_OLD_IMAGES"},
        )
        assert on.status_code == 303, alert(on)
        assert on.headers["location"] == "/console/dynamodb/orders?saved=stream#stream"
        table = (await dynamodb(console, client, "DescribeTable", {"TableName": "orders"}))["Table"]
        assert table["StreamSpecification"] == {
            "StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}  # fmt: skip
        page = await client.get("/dynamodb/orders")
        assert '<td id="stream-view">NEW_AND_OLD_IMAGES</td>' in page.text
        assert f"<code>{table['LatestStreamArn']}</code>" in page.text
        # Enabling again: DynamoDB's words, the form as typed.
        again = await client.post(
            "/dynamodb/orders/stream",
            data={"csrf": token, "enabled": "yes", "view_type": "KEYS_ONLY"},
        )
        assert again.status_code == 400
        assert "Table already has an enabled stream" in alert(again)

        # Three changes: an insert, a modification, a removal.
        key = {"customer": {"S": "ann"}, "placed": {"N": "1"}}
        await dynamodb(console, client, "PutItem", {"TableName": "orders", "Item": {
            **key, "note": {"S": "<i>new</i>"}}})  # fmt: skip
        await dynamodb(console, client, "PutItem", {"TableName": "orders", "Item": {
            "customer": {"S": "eve"}, "placed": {"N": "5"}}})  # fmt: skip
        await dynamodb(console, client, "DeleteItem", {"TableName": "orders", "Key": {
            "customer": {"S": "eve"}, "placed": {"N": "5"}}})  # fmt: skip
        read = await client.post(
            "/dynamodb/orders/read-stream", data={"csrf": token, "position": "TRIM_HORIZON"}
        )
        assert read.status_code == 200, alert(read)
        rows = read.text.split('<tr class="stream-record">')[1:]
        assert [r.split('<td class="event">', 1)[1].split("<", 1)[0] for r in rows] == [
            "MODIFY", "INSERT"]  # fmt: skip
        assert "&lt;i&gt;new&lt;/i&gt;" in rows[0] and "<i>new</i>" not in read.text
        old_image = unescape(rows[0].split('<td class="old-image"><pre>', 1)[1].split("</pre>")[0])
        assert json.loads(old_image)["status"] == {"S": "open"}
        assert (
            json.loads(unescape(rows[0].split('<td class="keys"><pre>', 1)[1].split("</pre>")[0]))
            == key
        )
        read_on = hidden_fields(read, "stream-next-form")
        assert read_on["iterator"] and "iterator" not in str(read.url)
        rest = await client.post("/dynamodb/orders/read-stream", data=read_on)
        rows = rest.text.split('<tr class="stream-record">')[1:]
        assert len(rows) == 1 and '<td class="event">REMOVE</td>' in rows[0]
        assert '<td class="new-image">-</td>' in rows[0]
        latest = await client.post(
            "/dynamodb/orders/read-stream", data={"csrf": token, "position": "LATEST"}
        )
        assert 'id="no-stream-records"' in latest.text
        nowhere = await client.post("/dynamodb/orders/read-stream", data={"csrf": token})
        assert nowhere.status_code == 400 and "read starts" in alert(nowhere)
        altered = await client.post(
            "/dynamodb/orders/read-stream",
            data=read_on | {"iterator": read_on["iterator"][:-4] + "AAAA"},
        )
        assert altered.status_code == 400 and "ValidationException" in alert(altered)

        off = await client.post("/dynamodb/orders/stream", data={"csrf": token, "enabled": "no"})
        assert off.status_code == 303, alert(off)
        table = (await dynamodb(console, client, "DescribeTable", {"TableName": "orders"}))["Table"]
        assert "StreamSpecification" not in table
        page = await client.get("/dynamodb/orders")
        assert '<td id="stream-view">-</td>' in page.text and "(closed)" in page.text
        french = await client.get("/dynamodb/orders", headers={"accept-language": "fr"})
        assert "Flux DynamoDB" in french.text


async def test_a_user_refused_the_stream_sees_the_action(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    async with console.client() as root:
        await sign_in_root(console, root)
        token = await orders_table(console, root)
        turned_on = {"csrf": token, "enabled": "yes", "view_type": "KEYS_ONLY"}
        on = await root.post("/dynamodb/orders/stream", data=turned_on)
        assert on.status_code == 303, alert(on)
    reading = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Resource": "*", "Action": [
            "dynamodb:DescribeTable", "dynamodb:DescribeTimeToLive",
            "dynamodb:ListTagsOfResource"]}],
    }  # fmt: skip
    await console.user_with_password(tenant, "reader")
    await console.identity.put_user_policy(tenant, "reader", "read", json.dumps(reading))
    async with console.client() as client:
        assert (await log_in(client, "admin", "reader")).status_code == 303
        page = await client.get("/dynamodb/orders")
        assert page.status_code == 200
        assert "dynamodb:DescribeStream" in page.text.split('id="stream-error"', 1)[1]
        token = await csrf(client, "/dynamodb/orders")
        off = await client.post("/dynamodb/orders/stream", data={"csrf": token, "enabled": "no"})
        assert off.status_code == 400 and "dynamodb:UpdateTable" in alert(off)
        ran = await client.post(
            "/dynamodb-partiql", data={"csrf": token, "statement": 'SELECT * FROM "orders"'}
        )
        assert ran.status_code == 400 and "dynamodb:PartiQLSelect" in alert(ran)


async def test_every_page_of_a_streams_shards_is_offered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Decision 0275: a stream of 60 partitions rolled once has 120 shards, two pages of
    DescribeStream; the page offers them all, the closed ones marked."""
    clock = [1_796_572_800_000]
    monkeypatch.setattr(stream_service, "_now", lambda: clock[0])
    async with (
        console_harness(tmp_path, dynamodb_stream_shards=60) as console,
        console.client() as client,
    ):
        await sign_in_root(console, client)
        token = await orders_table(console, client)
        on = await client.post(
            "/dynamodb/orders/stream",
            data={"csrf": token, "enabled": "yes", "view_type": "KEYS_ONLY"},
        )
        assert on.status_code == 303, alert(on)
        clock[0] += 4 * 3_600_000 + 60_000  # the first generation closed, a second open
        page = await client.get("/dynamodb/orders")
        options = page.text.split('<select name="shard">', 1)[1].split("</select>", 1)[0]
        assert options.count("<option ") == 120
        assert options.count("(closed)") == 60
