"""Amazon DynamoDB's table page beyond its first items (decision 0251): secondary indexes listed
(keys, projection, status, item count), a global one created and deleted after a ticked box;
Query on an index chosen in the items form, a filter with its attribute names and values and a
projection for Scan and Query, reading on with them; an item edited with an update expression
(UpdateItem) or its DynamoDB JSON replaced, neither bringing back an item deleted meanwhile nor
changing its key; the billing mode and capacities changed (UpdateTable), deletion protection
asked for. DynamoDB's refusals shown in its words with the form as typed; a user DynamoDB
refuses an edit sees the action named. Each the service's own call as the signed-in user,
checked against what it answers apart from the console."""

from __future__ import annotations

import asyncio
import json
from html import unescape
from pathlib import Path
from typing import Any

import httpx

from support.console import (
    ConsoleHarness,
    console_harness,
    csrf,
    log_in,
    logged_events,
    sign_in_root,
)


def alert(page: httpx.Response) -> str:
    return unescape(page.text.split('role="alert">', 1)[1].split("</p>", 1)[0])


def form_of(page: httpx.Response, form_id: str) -> str:
    return unescape(page.text.split(f'id="{form_id}"', 1)[1].split("</form>", 1)[0])


def replacement_of(page: httpx.Response) -> str:
    """The replace form's item, as its textarea holds it."""
    form = form_of(page, "replace-item-form")
    return form.split('name="replacement"', 1)[1].split(">", 1)[1].split("</textarea>", 1)[0]


def items_of(page: httpx.Response) -> list[dict[str, Any]]:
    """The items a read shows, in order, parsed back from their DynamoDB JSON."""
    return [
        json.loads(unescape(row.split("<pre>", 1)[1].split("</pre>", 1)[0]))
        for row in page.text.split('<tr class="item">')[1:]
    ]


def hidden_fields(page: httpx.Response, form_id: str) -> dict[str, str]:
    """A form's hidden fields, as the browser sends them back."""
    form = page.text.split(f'id="{form_id}"', 1)[1].split("</form>", 1)[0]
    return {
        part.split('name="', 1)[1].split('"', 1)[0]: unescape(
            part.split('value="', 1)[1].split('"', 1)[0]
        )
        for part in form.split('<input type="hidden"')[1:]
    }


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


def order(customer: str, placed: int, **more: dict[str, str]) -> dict[str, Any]:
    return {"customer": {"S": customer}, "placed": {"N": str(placed)}, **more}


ORDERS = [
    order("ann", 1, status={"S": "open"}, total={"N": "10"}, note={"S": "gift"}),
    order("ann", 2, status={"S": "shipped"}, total={"N": "25"}),
    order("bob", 4, status={"S": "open"}, total={"N": "5"}),
    order("carl", 3, total={"N": "7"}),  # no status: not in the status index (sparse)
]


async def orders_table(console: ConsoleHarness, client: httpx.AsyncClient) -> str:
    """The ``orders`` table (customer, placed), on demand, made from the console and filled
    apart from it; the CSRF token."""
    token = await csrf(client, "/dynamodb")
    made = await client.post(
        "/dynamodb",
        data={"csrf": token, "name": "orders", "partition_key": "customer",
              "partition_type": "S", "sort_key": "placed", "sort_type": "N",
              "billing": "PAY_PER_REQUEST"},
    )  # fmt: skip
    assert made.status_code == 303, alert(made)
    for item in ORDERS:
        await dynamodb(console, client, "PutItem", {"TableName": "orders", "Item": item})
    return token


async def test_a_global_index_created_listed_queried_and_deleted(console: ConsoleHarness) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        token = await orders_table(console, client)
        page = await client.get("/dynamodb/orders")
        assert 'id="no-indexes"' in page.text
        index = {
            "csrf": token, "index_name": "by-status", "index_partition_key": "status",
            "index_partition_type": "S", "index_sort_key": "placed", "index_sort_type": "N",
            "projection_type": "INCLUDE", "non_key_attributes": "total",
        }  # fmt: skip
        made = await client.post("/dynamodb/orders/create-index", data=index)
        assert made.status_code == 303, alert(made)
        assert made.headers["location"] == "/console/dynamodb/orders?saved=indexes#indexes"
        for _ in range(200):  # CREATING until its backfill, in the background (decision 0254)
            held = (await dynamodb(console, client, "DescribeTable", {"TableName": "orders"}))[
                "Table"
            ]
            if held["GlobalSecondaryIndexes"][0]["IndexStatus"] == "ACTIVE":
                break
            await asyncio.sleep(0.01)
        (described,) = held["GlobalSecondaryIndexes"]
        assert described["KeySchema"] == [
            {"AttributeName": "status", "KeyType": "HASH"},
            {"AttributeName": "placed", "KeyType": "RANGE"},
        ]
        assert described["Projection"] == {"ProjectionType": "INCLUDE",
                                           "NonKeyAttributes": ["total"]}  # fmt: skip

        shown = await client.get("/dynamodb/orders")
        row = shown.text.split('id="index-by-status"', 1)[1].split("</tr>", 1)[0]
        assert '<td class="kind">Global</td>' in row
        assert '<td class="partition-key">status (S)</td>' in row
        assert '<td class="sort-key">placed (N)</td>' in row
        assert '<td class="projection">INCLUDE: total</td>' in row
        assert '<td class="status">ACTIVE</td>' in row and '<td class="items">3</td>' in row
        assert '<option value="by-status">by-status (status, placed)</option>' in shown.text
        assert 'name="index_read_capacity"' not in shown.text  # on demand: no capacities

        # Refused: the name taken, INCLUDE without attributes; the form as typed.
        again = await client.post("/dynamodb/orders/create-index", data=index)
        assert again.status_code == 400 and "already exists" in alert(again)
        assert 'name="index_name" maxlength="255" required value="by-status"' in form_of(
            again, "create-index-form"
        )
        bare = index | {"index_name": "bare", "non_key_attributes": ""}
        refused = await client.post("/dynamodb/orders/create-index", data=bare)
        assert refused.status_code == 400 and "NonKeyAttributes" in alert(refused)
        assert '<option value="INCLUDE" selected>' in form_of(refused, "create-index-form")

        # Query on the index: its key, its projection (no note), sparse.
        asked = {"csrf": token, "index": "by-status", "partition_value": "open"}
        opened = await client.post("/dynamodb/orders/query", data=asked)
        assert opened.status_code == 200, alert(opened)
        assert items_of(opened) == [
            {k: v for k, v in ORDERS[0].items() if k != "note"},
            ORDERS[2],
        ]
        assert '<option value="by-status" selected>' in form_of(opened, "items-form")
        ranged = await client.post(
            "/dynamodb/orders/query",
            data=asked | {"sort_condition": ">", "sort_value": "1"},
        )
        assert items_of(ranged) == [ORDERS[2]]
        scanned = await client.post("/dynamodb/orders/scan",
                                    data={"csrf": token, "index": "by-status"})  # fmt: skip
        assert len(items_of(scanned)) == 3  # carl has no status
        unknown = await client.post("/dynamodb/orders/query", data=asked | {"index": "nope"})
        assert unknown.status_code == 400 and "Choose an index" in alert(unknown)

        # Deleted after a ticked box.
        deleting = {"csrf": token, "delete_index": "by-status"}
        unticked = await client.post("/dynamodb/orders/delete-index", data=deleting)
        assert unticked.status_code == 400 and "Tick the box" in alert(unticked)
        deleted = await client.post("/dynamodb/orders/delete-index",
                                    data=deleting | {"confirm": "yes"})  # fmt: skip
        assert deleted.status_code == 303, alert(deleted)
        held = (await dynamodb(console, client, "DescribeTable", {"TableName": "orders"}))["Table"]
        assert "GlobalSecondaryIndexes" not in held
    actions = [e.action for e in await logged_events(console, tenant)]
    assert actions.count("dynamodb:UpdateTable") >= 2


async def test_filters_and_projections_for_scan_and_query(tmp_path: Path) -> None:
    async with (
        console_harness(tmp_path, console_page_size=1) as console,
        console.client() as client,
    ):
        await sign_in_root(console, client)
        token = await orders_table(console, client)
        filtered = {
            "csrf": token, "partition_value": "ann", "filter": "#t > :min",
            "filter_names": '{"#t": "total"}', "filter_values": '{":min": {"N": "20"}}',
        }  # fmt: skip
        # One item a page: the filter applies to each page read, "Next page" keeps it.
        seen: list[dict[str, Any]] = []
        page = await client.post("/dynamodb/orders/query", data=filtered)
        while True:
            assert page.status_code == 200, alert(page)
            seen += items_of(page)
            if 'id="read-on-form"' not in page.text:
                break
            fields = hidden_fields(page, "read-on-form")
            assert fields["filter"] == "#t > :min" and fields["index"] == ""
            assert json.loads(fields["filter_values"]) == {":min": {"N": "20"}}
            page = await client.post("/dynamodb/orders/query", data=fields)
        assert seen == [ORDERS[1]]

    async with console_harness(tmp_path / "b") as console, console.client() as client:
        await sign_in_root(console, client)
        token = await orders_table(console, client)
        projected = await client.post(
            "/dynamodb/orders/query",
            data={"csrf": token, "partition_value": "ann", "projection": "placed, #t",
                  "filter_names": '{"#t": "total"}'},
        )  # fmt: skip
        assert projected.status_code == 200, alert(projected)
        assert items_of(projected) == [
            {"placed": {"N": "1"}, "total": {"N": "10"}},
            {"placed": {"N": "2"}, "total": {"N": "25"}},
        ]
        assert 'class="edit-item"' not in projected.text  # no key: no edit, no deletion
        without = await client.post(
            "/dynamodb/orders/scan",
            data={"csrf": token, "filter": "attribute_not_exists(#s)",
                  "filter_names": '{"#s": "status"}'},
        )  # fmt: skip
        assert items_of(without) == [ORDERS[3]]

        # Refusals: DynamoDB's words, the form as typed; the page's own placeholders.
        wrong = {"csrf": token, "filter": "#t >", "filter_names": '{"#t": "total"}'}
        refused = await client.post("/dynamodb/orders/scan", data=wrong)
        assert refused.status_code == 400 and "(ValidationException)" in alert(refused)
        assert 'name="filter" size="40" spellcheck="false" value="#t >"' in form_of(
            refused, "items-form"
        )
        taken = await client.post(
            "/dynamodb/orders/query",
            data={"csrf": token, "partition_value": "ann", "filter": "#pk = :pk",
                  "filter_values": '{":pk": {"S": "x"}}'},
        )  # fmt: skip
        assert taken.status_code == 400 and "key condition's" in alert(taken)
        not_names = await client.post(
            "/dynamodb/orders/scan", data={"csrf": token, "filter_names": '{"#t": 1}'}
        )
        assert not_names.status_code == 400 and "whose values are names" in alert(not_names)


async def test_an_item_edited_by_expression_or_replaced(console: ConsoleHarness) -> None:
    async with console.client() as client:
        await sign_in_root(console, client)
        token = await orders_table(console, client)
        key = json.dumps({"customer": {"S": "ann"}, "placed": {"N": "1"}}, sort_keys=True)
        read = await client.post("/dynamodb/orders/query",
                                 data={"csrf": token, "partition_value": "ann"})  # fmt: skip
        assert f'name="key" value="{key}"' in unescape(read.text)

        editing = await client.post("/dynamodb/orders/edit-item", data={"csrf": token, "key": key})
        assert editing.status_code == 200, alert(editing)
        assert f'<code id="edited-key">{key}</code>' in unescape(editing.text)
        assert json.loads(replacement_of(editing)) == ORDERS[0]

        update = {
            "csrf": token, "key": key, "update_expression": "SET #t = #t + :inc REMOVE note",
            "update_names": '{"#t": "total"}', "update_values": '{":inc": {"N": "5"}}',
        }  # fmt: skip
        updated = await client.post("/dynamodb/orders/update-item", data=update)
        assert updated.status_code == 303, alert(updated)
        assert updated.headers["location"] == "/console/dynamodb/orders?saved=item#items"
        got = await dynamodb(console, client, "GetItem",
                             {"TableName": "orders", "Key": json.loads(key)})  # fmt: skip
        assert got["Item"]["total"] == {"N": "15"} and "note" not in got["Item"]

        # A condition that fails: DynamoDB's words, the edit shown again as typed.
        failing = update | {"condition_expression": "#t > :inc"}
        failing["update_values"] = '{":inc": {"N": "100"}}'
        refused = await client.post("/dynamodb/orders/update-item", data=failing)
        assert refused.status_code == 400
        assert "(ConditionalCheckFailedException)" in alert(refused)
        again = form_of(refused, "update-item-form")
        assert 'value="#t > :inc"' in again and f'name="key" value="{key}"' in again
        assert json.loads(replacement_of(refused))["total"] == {"N": "15"}  # as it is now

        # Replaced whole; the key kept; not brought back once deleted.
        replacement = order("ann", 1, total={"N": "99"}, tags={"SS": ["a", "b"]})
        replaced = await client.post(
            "/dynamodb/orders/replace-item",
            data={"csrf": token, "key": key, "replacement": json.dumps(replacement)},
        )
        assert replaced.status_code == 303, alert(replaced)
        got = await dynamodb(console, client, "GetItem",
                             {"TableName": "orders", "Key": json.loads(key)})  # fmt: skip
        assert got["Item"] == replacement
        moved = await client.post(
            "/dynamodb/orders/replace-item",
            data={"csrf": token, "key": key, "replacement": json.dumps(order("ann", 9))},
        )
        assert moved.status_code == 400 and "keeps the item's key" in alert(moved)
        assert json.loads(replacement_of(moved)) == order("ann", 9)  # as typed
        await dynamodb(console, client, "DeleteItem",
                       {"TableName": "orders", "Key": json.loads(key)})  # fmt: skip
        gone = await client.post(
            "/dynamodb/orders/replace-item",
            data={"csrf": token, "key": key, "replacement": json.dumps(replacement)},
        )
        assert gone.status_code == 400 and "(ConditionalCheckFailedException)" in alert(gone)
        got = await dynamodb(console, client, "GetItem",
                             {"TableName": "orders", "Key": json.loads(key)})  # fmt: skip
        assert "Item" not in got
        missing = await client.post("/dynamodb/orders/edit-item", data={"csrf": token, "key": key})
        assert missing.status_code == 404 and "no longer in the table" in alert(missing)
        forged = await client.post("/dynamodb/orders/update-item", data=update | {"csrf": "x"})
        assert forged.status_code == 403


async def test_capacity_changed_and_deletion_protection_asked(console: ConsoleHarness) -> None:
    async with console.client() as client:
        await sign_in_root(console, client)
        token = await orders_table(console, client)
        page = await client.get("/dynamodb/orders")
        capacity = form_of(page, "capacity-form")
        assert '<option value="PAY_PER_REQUEST" selected>' in capacity
        provisioned = {"csrf": token, "billing": "PROVISIONED", "read_capacity": "3",
                       "write_capacity": "4"}  # fmt: skip
        changed = await client.post("/dynamodb/orders/capacity", data=provisioned)
        assert changed.status_code == 303, alert(changed)
        held = (await dynamodb(console, client, "DescribeTable", {"TableName": "orders"}))["Table"]
        assert held["BillingModeSummary"]["BillingMode"] == "PROVISIONED"
        assert held["ProvisionedThroughput"]["ReadCapacityUnits"] == 3
        assert held["ProvisionedThroughput"]["WriteCapacityUnits"] == 4
        shown = await client.get(changed.headers["location"].removeprefix("/console"))
        assert 'id="saved"' in shown.text and "3 read, 4 write capacity units" in shown.text
        assert 'name="index_read_capacity"' in form_of(shown, "create-index-form")

        zero = await client.post("/dynamodb/orders/capacity",
                                 data=provisioned | {"read_capacity": "0"})  # fmt: skip
        assert zero.status_code == 400 and "(ValidationException)" in alert(zero)
        assert 'name="read_capacity" size="5" value="0"' in form_of(zero, "capacity-form")
        back = await client.post("/dynamodb/orders/capacity",
                                 data={"csrf": token, "billing": "PAY_PER_REQUEST"})  # fmt: skip
        assert back.status_code == 303, alert(back)
        held = (await dynamodb(console, client, "DescribeTable", {"TableName": "orders"}))["Table"]
        assert held["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"

        # Deletion protection (decision 0253): set by the page, held by the table.
        protect = await client.post("/dynamodb/orders/deletion-protection",
                                    data={"csrf": token, "enabled": "yes"})  # fmt: skip
        assert protect.status_code == 303, alert(protect)
        held = (await dynamodb(console, client, "DescribeTable", {"TableName": "orders"}))["Table"]
        assert held["DeletionProtectionEnabled"] is True
        off = await client.post("/dynamodb/orders/deletion-protection",
                                data={"csrf": token, "enabled": "no"})  # fmt: skip
        assert off.status_code == 303, alert(off)
        french = await client.get("/dynamodb/orders", headers={"accept-language": "fr"})
        assert "Index secondaires" in french.text and "Protection contre la suppression" in (
            french.text
        )


async def test_a_user_dynamodb_refuses_an_edit_sees_the_action(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    async with console.client() as root:
        await sign_in_root(console, root)
        await orders_table(console, root)
    reading = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:Query",
                           "dynamodb:DescribeTimeToLive", "dynamodb:ListTagsOfResource"],
                "Resource": "*",
            }
        ],
    }  # fmt: skip
    await console.user_with_password(tenant, "reader")
    await console.identity.put_user_policy(tenant, "reader", "read", json.dumps(reading))
    async with console.client() as client:
        assert (await log_in(client, "admin", "reader")).status_code == 303
        token = await csrf(client, "/dynamodb/orders")
        key = json.dumps({"customer": {"S": "ann"}, "placed": {"N": "1"}})
        editing = await client.post("/dynamodb/orders/edit-item", data={"csrf": token, "key": key})
        assert editing.status_code == 200, alert(editing)
        update = {"csrf": token, "key": key, "update_expression": "REMOVE note"}
        refused = await client.post("/dynamodb/orders/update-item", data=update)
        assert refused.status_code == 400 and "dynamodb:UpdateItem" in alert(refused)
        index = {"csrf": token, "index_name": "by-status", "index_partition_key": "status",
                 "projection_type": "ALL"}  # fmt: skip
        refused = await client.post("/dynamodb/orders/create-index", data=index)
        assert refused.status_code == 400 and "dynamodb:UpdateTable" in alert(refused)
        scanned = await client.post("/dynamodb/orders/scan", data={"csrf": token})
        assert scanned.status_code == 400 and "dynamodb:Scan" in alert(scanned)
