"""Amazon DynamoDB in the console (decisions 0237 and 0244): tables listed (status, key schema,
item count, size, billing mode), one created on demand or provisioned with a sort key, its page
(DescribeTable's fields, time to live turned on and off, tags added and removed), items put
from DynamoDB JSON, scanned a page at a time (the key to read on from in a hidden field, never
the URL), queried by partition key and a sort key condition, deleted after a ticked box, the
table deleted after a ticked box. DynamoDB's refusals shown in its words with the form as
typed; a form without the session's token refused; a user DynamoDB refuses sees its refusal.
Each the service's own call as the signed-in user, checked against what it answers apart from
the console."""

from __future__ import annotations

import json
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


def items_of(page: httpx.Response) -> list[dict[str, Any]]:
    """The items a read shows, in order, parsed back from their DynamoDB JSON."""
    return [
        json.loads(unescape(row.split("<pre>", 1)[1].split("</pre>", 1)[0]))
        for row in page.text.split('<tr class="item">')[1:]
    ]


async def dynamodb(
    console: ConsoleHarness, client: httpx.AsyncClient, action: str, params: dict[str, Any]
) -> dict[str, Any]:
    """A DynamoDB call as the client's signed-in user, apart from the pages."""
    running = console.application._running
    assert running is not None
    wire = running.console.console.dynamodb
    assert wire is not None
    principal = await console.identity.resolve_console_session(client.cookies["andromede_console"])
    scope = {"client": ("127.0.0.1", 1), "server": ("127.0.0.1", 9001), "scheme": "http"}
    return await wire._json(scope, principal, action, params)


async def test_a_table_created_listed_changed_and_deleted(console: ConsoleHarness) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        empty = await client.get("/dynamodb")
        assert empty.status_code == 200 and "No tables yet." in empty.text
        assert 'id="menu-dynamodb"' in empty.text
        token = csrf_of(empty)
        made = await client.post(
            "/dynamodb",
            data={"csrf": token, "name": "orders", "partition_key": "customer",
                  "partition_type": "S", "sort_key": "placed", "sort_type": "N",
                  "billing": "PAY_PER_REQUEST", "tags": "team=shop"},
        )  # fmt: skip
        assert made.status_code == 303, alert(made)
        assert made.headers["location"] == "/console/dynamodb/orders"
        provisioned = await client.post(
            "/dynamodb",
            data={"csrf": token, "name": "plain", "partition_key": "id", "partition_type": "S",
                  "billing": "PROVISIONED", "read_capacity": "3", "write_capacity": "4"},
        )  # fmt: skip
        assert provisioned.status_code == 303, alert(provisioned)
        held = (await dynamodb(console, client, "DescribeTable", {"TableName": "orders"}))["Table"]
        assert held["KeySchema"] == [
            {"AttributeName": "customer", "KeyType": "HASH"},
            {"AttributeName": "placed", "KeyType": "RANGE"},
        ]
        assert held["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        plain = (await dynamodb(console, client, "DescribeTable", {"TableName": "plain"}))["Table"]
        assert plain["ProvisionedThroughput"]["ReadCapacityUnits"] == 3

        listed = await client.get("/dynamodb")
        row = listed.text.split('id="table-orders"', 1)[1].split("</tr>", 1)[0]
        assert '<a href="/console/dynamodb/orders">orders</a>' in row
        assert '<td class="status">ACTIVE</td>' in row
        assert '<td class="partition-key">customer (S)</td>' in row
        assert '<td class="sort-key">placed (N)</td>' in row
        assert '<td class="billing">PAY_PER_REQUEST</td>' in row
        assert '<td class="billing">PROVISIONED</td>' in listed.text.split('id="table-plain"')[1]

        shown = await client.get("/dynamodb/orders")
        assert shown.status_code == 200
        assert f'<code id="table-arn">{held["TableArn"]}</code>' in shown.text
        assert "<code>team=shop</code>" in shown.text
        assert '<p id="ttl-status">DISABLED' in shown.text

        # Time to live on, then off.
        turning_on = {"csrf": token, "enabled": "yes", "attribute": "expires"}
        on = await client.post("/dynamodb/orders/ttl", data=turning_on)
        assert on.status_code == 303, alert(on)
        ttl = await dynamodb(console, client, "DescribeTimeToLive", {"TableName": "orders"})
        assert ttl["TimeToLiveDescription"] == {
            "TimeToLiveStatus": "ENABLED",
            "AttributeName": "expires",
        }
        page = await client.get(on.headers["location"].removeprefix("/console"))
        assert 'id="saved"' in page.text and 'id="disable-ttl"' in page.text
        off = await client.post("/dynamodb/orders/ttl", data={"csrf": token, "enabled": "no"})
        assert off.status_code == 303, alert(off)
        ttl = await dynamodb(console, client, "DescribeTimeToLive", {"TableName": "orders"})
        assert ttl["TimeToLiveDescription"]["TimeToLiveStatus"] == "DISABLED"

        # Tags added and removed.
        tagged = await client.post("/dynamodb/orders/tag", data={"csrf": token, "tags": "env=prod"})
        untagged = await client.post("/dynamodb/orders/untag", data={"csrf": token, "key": "team"})
        assert tagged.status_code == untagged.status_code == 303
        tags = await dynamodb(console, client, "ListTagsOfResource",
                              {"ResourceArn": held["TableArn"]})  # fmt: skip
        assert tags["Tags"] == [{"Key": "env", "Value": "prod"}]

        # Items put from DynamoDB JSON, a refused one shown with the form as typed.
        for placed, note in (("1", "first <b>"), ("2", "second"), ("3", "third")):
            item = {"customer": {"S": "ann"}, "placed": {"N": placed}, "note": {"S": note}}
            put = await client.post(
                "/dynamodb/orders/put-item", data={"csrf": token, "item": json.dumps(item)}
            )
            assert put.status_code == 303, alert(put)
        other = {"customer": {"S": "bob"}, "placed": {"N": "1"}}
        await client.post("/dynamodb/orders/put-item",
                          data={"csrf": token, "item": json.dumps(other)})  # fmt: skip
        keyless = {"csrf": token, "item": '{"note": {"S": "x"}}'}
        no_key = await client.post("/dynamodb/orders/put-item", data=keyless)
        assert no_key.status_code == 400 and "(ValidationException)" in alert(no_key)
        assert "{&#34;note&#34;" in form_of(no_key, "put-item-form")
        not_json = await client.post("/dynamodb/orders/put-item",
                                     data={"csrf": token, "item": "[1]"})  # fmt: skip
        assert not_json.status_code == 400 and "JSON object" in alert(not_json)

        # Query by partition key and a sort key condition.
        asked = {"csrf": token, "partition_value": "ann", "sort_condition": ">=",
                 "sort_value": "2"}  # fmt: skip
        queried = await client.post("/dynamodb/orders/query", data=asked)
        assert queried.status_code == 200, alert(queried)
        assert [i["placed"] for i in items_of(queried)] == [{"N": "2"}, {"N": "3"}]
        between = await client.post(
            "/dynamodb/orders/query",
            data=asked | {"sort_condition": "between", "sort_value": "1", "sort_value_2": "2"},
        )
        assert [i["placed"] for i in items_of(between)] == [{"N": "1"}, {"N": "2"}]
        bob = await client.post("/dynamodb/orders/query",
                                data={"csrf": token, "partition_value": "bob"})  # fmt: skip
        assert items_of(bob) == [other]
        scanned = await client.post("/dynamodb/orders/scan", data={"csrf": token})
        assert "first &lt;b&gt;" in scanned.text  # escaped, never markup

        # An item deleted after a ticked box.
        key = json.dumps({"customer": {"S": "bob"}, "placed": {"N": "1"}}, sort_keys=True)
        unticked = await client.post("/dynamodb/orders/delete-item",
                                     data={"csrf": token, "key": key})  # fmt: skip
        assert unticked.status_code == 400 and "Tick the box" in alert(unticked)
        removed = await client.post("/dynamodb/orders/delete-item",
                                    data={"csrf": token, "key": key, "confirm": "yes"})  # fmt: skip
        assert removed.status_code == 303, alert(removed)
        got = await dynamodb(console, client, "GetItem",
                             {"TableName": "orders", "Key": json.loads(key)})  # fmt: skip
        assert "Item" not in got

        french = await client.get("/dynamodb/orders", headers={"accept-language": "fr"})
        assert "Clé de tri" in french.text and "Durée de vie (TTL)" in french.text

        unticked = await client.post("/dynamodb/orders/delete", data={"csrf": token})
        assert unticked.status_code == 400 and "Tick the box" in alert(unticked)
        deleted = await client.post("/dynamodb/orders/delete",
                                    data={"csrf": token, "confirm": "yes"})  # fmt: skip
        assert deleted.status_code == 303 and deleted.headers["location"] == "/console/dynamodb"
        assert (await dynamodb(console, client, "ListTables", {}))["TableNames"] == ["plain"]
    actions = [e.action for e in await logged_events(console, tenant)]
    for action in ("CreateTable", "UpdateTimeToLive", "TagResource", "UntagResource",
                   "DeleteTable"):  # fmt: skip
        assert f"dynamodb:{action}" in actions


async def test_items_scanned_a_page_at_a_time(tmp_path: Path) -> None:
    async with (
        console_harness(tmp_path, console_page_size=2) as console,
        console.client() as client,
    ):
        await sign_in_root(console, client)
        token = await csrf(client, "/dynamodb")
        table = {"csrf": token, "name": "things", "partition_key": "id", "partition_type": "N"}
        made = await client.post("/dynamodb", data=table)
        assert made.status_code == 303, alert(made)
        for n in range(5):
            item = {"id": {"N": str(n)}}
            await dynamodb(console, client, "PutItem", {"TableName": "things", "Item": item})
        seen: list[dict[str, Any]] = []
        page = await client.post("/dynamodb/things/scan", data={"csrf": token})
        while True:
            assert page.status_code == 200, alert(page)
            assert len(items_of(page)) <= 2
            seen += items_of(page)
            if 'id="read-on-form"' not in page.text:
                break
            reading = form_of(page, "read-on-form")
            start = unescape(reading.split('name="start" value="', 1)[1].split('"', 1)[0])
            assert json.loads(start) and "start" not in str(page.url)
            page = await client.post("/dynamodb/things/scan", data={"csrf": token, "start": start})
        assert sorted(int(i["id"]["N"]) for i in seen) == [0, 1, 2, 3, 4]


async def test_dynamodb_refusals_show_with_the_form_as_typed(console: ConsoleHarness) -> None:
    async with console.client() as client:
        await sign_in_root(console, client)
        token = await csrf(client, "/dynamodb")
        fields = {"csrf": token, "name": "x!", "partition_key": "id", "partition_type": "S",
                  "tags": "a=b"}  # fmt: skip
        refused = await client.post("/dynamodb", data=fields)
        assert refused.status_code == 400 and "(ValidationException)" in alert(refused)
        creating = form_of(refused, "create-table-form")
        assert 'value="x!"' in creating and "a=b" in creating
        forged = await client.post("/dynamodb", data=fields | {"name": "ok", "csrf": "forged"})
        assert forged.status_code == 403
        missing = await client.get("/dynamodb/nothing")
        assert missing.status_code == 400 and "(ResourceNotFoundException)" in alert(missing)
        assert (await dynamodb(console, client, "ListTables", {}))["TableNames"] == []


async def test_a_user_dynamodb_refuses_sees_its_refusal(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    await console.user_with_password(tenant, "reader")
    async with console.client() as client:
        assert (await log_in(client, "admin", "reader")).status_code == 303
        page = await client.get("/dynamodb")
        assert page.status_code == 400
        assert "(AccessDeniedException)" in alert(page) and "dynamodb:ListTables" in alert(page)
        made = await client.post("/dynamodb", data={"csrf": csrf_of(page), "name": "tbl",
                                                    "partition_key": "id"})  # fmt: skip
        assert made.status_code == 400 and "dynamodb:CreateTable" in alert(made)
