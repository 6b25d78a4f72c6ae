"""A DynamoDB table page's resource policies and capacity, and the tables' list's account
limits (decision 0276): the table's and its stream's policies written from the page at the
revision read, refused in DynamoDB's words with the text as typed, the self lock-out written
only once its box is ticked, deleted after a ticked box; the billing mode with the table's and
a global index's on-demand maximums or provisioned units changed in one UpdateTable, the last
increase, decrease and the decreases of the day shown; DescribeLimits' figures on the list.
Each checked against what DynamoDB answers apart from the console."""

from __future__ import annotations

import asyncio
import json
from html import unescape

import httpx

from support.console import ConsoleHarness, sign_in_root
from unit.console.test_console_dynamodb_edits import alert, dynamodb, form_of, orders_table


def _policy(tenant: str, arn: str, action: str, effect: str = "Allow") -> str:
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": effect,
            "Principal": {"AWS": f"arn:aws:iam::{tenant}:root"} if effect == "Allow" else "*",
            "Action": action,
            "Resource": arn,
        }],
    })  # fmt: skip


async def _held(console: ConsoleHarness, client: httpx.AsyncClient, arn: str) -> str | None:
    """The resource's policy as DynamoDB answers it apart from the page (None: none)."""
    try:
        return str(
            (await dynamodb(console, client, "GetResourcePolicy", {"ResourceArn": arn}))["Policy"]
        )
    except Exception as exc:  # the wire's refusal: no policy
        assert "PolicyNotFound" in getattr(exc, "code", ""), exc
        return None


async def test_table_and_stream_policies_written_shown_and_deleted(
    console: ConsoleHarness,
) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        token = await orders_table(console, client)
        arn = (await dynamodb(console, client, "DescribeTable", {"TableName": "orders"}))["Table"][
            "TableArn"
        ]
        page = await client.get("/dynamodb/orders")
        assert 'id="policy-table-none"' in page.text
        assert 'id="policy-stream"' not in page.text  # no stream yet

        typed = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow"}]}'
        refused = await client.post(
            "/dynamodb/orders/put-policy",
            data={"csrf": token, "resource": "table", "revision": "", "policy": typed},
        )
        assert refused.status_code == 400
        assert "(ValidationException)" in alert(refused)
        assert typed in form_of(refused, "put-policy-table-form")
        assert await _held(console, client, arn) is None

        allow = _policy(tenant, arn, "dynamodb:GetItem")
        made = await client.post(
            "/dynamodb/orders/put-policy",
            data={"csrf": token, "resource": "table", "revision": "", "policy": allow},
        )
        assert made.status_code == 303, alert(made)
        assert made.headers["location"] == (
            "/console/dynamodb/orders?saved=policy-table#policy-table"
        )
        noticed = await client.get(made.headers["location"].removeprefix("/console"))
        assert 'id="saved-policy-table"' in noticed.text
        assert await _held(console, client, arn) == allow
        page = await client.get("/dynamodb/orders")
        revision = unescape(page.text.split('id="policy-table-revision">', 1)[1].split("<")[0])
        got = await dynamodb(console, client, "GetResourcePolicy", {"ResourceArn": arn})
        assert revision == got["RevisionId"]
        assert f'name="revision" value="{revision}"' in form_of(page, "put-policy-table-form")

        # A stale revision (another writer meanwhile) is refused in DynamoDB's words.
        stale = await client.post(
            "/dynamodb/orders/put-policy",
            data={"csrf": token, "resource": "table", "revision": "1", "policy": allow},
        )
        assert stale.status_code == 400
        assert "(PolicyNotFoundException)" in alert(stale)

        lockout = _policy(tenant, arn, "dynamodb:PutResourcePolicy", effect="Deny")
        unconfirmed = await client.post(
            "/dynamodb/orders/put-policy",
            data={"csrf": token, "resource": "table", "revision": revision, "policy": lockout},
        )
        assert unconfirmed.status_code == 400
        assert "ConfirmRemoveSelfResourceAccess" in alert(unconfirmed)
        assert await _held(console, client, arn) == allow
        confirmed = await client.post(
            "/dynamodb/orders/put-policy",
            data={"csrf": token, "resource": "table", "revision": revision, "policy": lockout,
                  "confirm_self_lockout": "yes"},
        )  # fmt: skip
        assert confirmed.status_code == 303, alert(confirmed)
        assert await _held(console, client, arn) == lockout

        page = await client.get("/dynamodb/orders")
        revision = unescape(page.text.split('id="policy-table-revision">', 1)[1].split("<")[0])
        unticked = await client.post(
            "/dynamodb/orders/delete-policy",
            data={"csrf": token, "resource": "table", "revision": revision},
        )
        assert unticked.status_code == 400
        assert alert(unticked) == "Tick the box to confirm the deletion."
        assert await _held(console, client, arn) == lockout
        deleted = await client.post(
            "/dynamodb/orders/delete-policy",
            data={"csrf": token, "resource": "table", "revision": revision, "confirm": "yes"},
        )
        assert deleted.status_code == 303, alert(deleted)
        assert await _held(console, client, arn) is None

        # The stream's own policy, once the table has a stream.
        await dynamodb(console, client, "UpdateTable", {
            "TableName": "orders",
            "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
        })  # fmt: skip
        stream_arn = (await dynamodb(console, client, "DescribeTable", {"TableName": "orders"}))[
            "Table"
        ]["LatestStreamArn"]
        page = await client.get("/dynamodb/orders")
        assert 'id="policy-stream-none"' in page.text
        stream_policy = _policy(tenant, stream_arn, "dynamodb:GetRecords")
        streamed = await client.post(
            "/dynamodb/orders/put-policy",
            data={"csrf": token, "resource": "stream", "revision": "", "policy": stream_policy},
        )
        assert streamed.status_code == 303, alert(streamed)
        assert streamed.headers["location"].endswith("?saved=policy-stream#policy-stream")
        assert await _held(console, client, stream_arn) == stream_policy
        assert await _held(console, client, arn) is None  # the table's is apart
        page = await client.get("/dynamodb/orders")
        assert "dynamodb:GetRecords" in unescape(page.text.split('id="policy-stream-text">')[1])


async def test_capacity_maxima_and_units_of_the_table_and_its_index(
    console: ConsoleHarness,
) -> None:
    async with console.client() as client:
        await sign_in_root(console, client)
        token = await orders_table(console, client)
        await dynamodb(console, client, "UpdateTable", {
            "TableName": "orders",
            "AttributeDefinitions": [{"AttributeName": "status", "AttributeType": "S"}],
            "GlobalSecondaryIndexUpdates": [{"Create": {
                "IndexName": "by-status",
                "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }}],
        })  # fmt: skip
        for _ in range(200):  # the index's backfill
            table = (await dynamodb(console, client, "DescribeTable", {"TableName": "orders"}))[
                "Table"
            ]
            if table["GlobalSecondaryIndexes"][0]["IndexStatus"] == "ACTIVE":
                break
            await asyncio.sleep(0.01)
        page = await client.get("/dynamodb/orders")
        assert 'id="capacity-max-read">unlimited<' in page.text
        assert 'name="index_max_read:by-status"' in form_of(page, "capacity-form")

        on_demand = {"csrf": token, "billing": "PAY_PER_REQUEST", "max_read": "0",
                     "max_write": "50", "index_max_read:by-status": "20",
                     "index_max_write:by-status": "-1"}  # fmt: skip
        refused = await client.post("/dynamodb/orders/capacity", data=on_demand)
        assert refused.status_code == 400
        assert "MaxReadRequestUnits must be -1 or greater than 0" in alert(refused)
        assert 'name="max_read" size="7" value="0"' in form_of(refused, "capacity-form")
        capped = await client.post(
            "/dynamodb/orders/capacity", data=on_demand | {"max_read": "100"}
        )
        assert capped.status_code == 303, alert(capped)
        table = (await dynamodb(console, client, "DescribeTable", {"TableName": "orders"}))["Table"]
        assert table["OnDemandThroughput"] == {"MaxReadRequestUnits": 100,
                                               "MaxWriteRequestUnits": 50}  # fmt: skip
        (index,) = table["GlobalSecondaryIndexes"]
        assert index["OnDemandThroughput"] == {"MaxReadRequestUnits": 20,
                                               "MaxWriteRequestUnits": -1}  # fmt: skip
        page = await client.get("/dynamodb/orders")
        assert 'id="capacity-max-read">100<' in page.text
        assert 'id="capacity-max-write">50<' in page.text
        assert 'name="index_max_read:by-status" size="7" value="20"' in form_of(
            page, "capacity-form"
        )

        provisioned = {"csrf": token, "billing": "PROVISIONED", "read_capacity": "10",
                       "write_capacity": "10", "index_read:by-status": "4",
                       "index_write:by-status": "3"}  # fmt: skip
        made = await client.post("/dynamodb/orders/capacity", data=provisioned)
        assert made.status_code == 303, alert(made)
        table = (await dynamodb(console, client, "DescribeTable", {"TableName": "orders"}))["Table"]
        assert table["BillingModeSummary"]["BillingMode"] == "PROVISIONED"
        assert table["ProvisionedThroughput"]["ReadCapacityUnits"] == 10
        throughput = table["GlobalSecondaryIndexes"][0]["ProvisionedThroughput"]
        assert (throughput["ReadCapacityUnits"], throughput["WriteCapacityUnits"]) == (4, 3)
        page = await client.get("/dynamodb/orders")
        assert 'id="capacity-last-increase">-<' in page.text  # a change of mode is neither

        raised = await client.post(
            "/dynamodb/orders/capacity", data=provisioned | {"read_capacity": "20"}
        )
        assert raised.status_code == 303, alert(raised)
        lowered = await client.post(
            "/dynamodb/orders/capacity", data=provisioned | {"read_capacity": "15"}
        )
        assert lowered.status_code == 303, alert(lowered)
        table = (await dynamodb(console, client, "DescribeTable", {"TableName": "orders"}))["Table"]
        assert table["ProvisionedThroughput"]["NumberOfDecreasesToday"] == 1
        page = await client.get("/dynamodb/orders")
        assert 'id="capacity-provisioned">15 read, 10 write capacity units<' in page.text
        assert 'id="capacity-last-increase">20' in page.text
        assert 'id="capacity-last-decrease">20' in page.text
        assert 'id="capacity-decreases">1<' in page.text


async def test_the_account_limits_on_the_tables_list(console: ConsoleHarness) -> None:
    async with console.client() as client:
        await sign_in_root(console, client)
        limits = await dynamodb(console, client, "DescribeLimits", {})
        page = await client.get("/dynamodb")
        assert page.status_code == 200
        for shown, name in (
            ("limit-account-read", "AccountMaxReadCapacityUnits"),
            ("limit-account-write", "AccountMaxWriteCapacityUnits"),
            ("limit-table-read", "TableMaxReadCapacityUnits"),
            ("limit-table-write", "TableMaxWriteCapacityUnits"),
        ):
            assert f'id="{shown}">{limits[name]}<' in page.text
        assert "Account limits" in page.text
        await client.get("/language/fr", params={"next": "/console/dynamodb"})
        french = await client.get("/dynamodb")
        assert "Limites du compte" in french.text
        assert f'id="limit-table-read">{limits["TableMaxReadCapacityUnits"]}<' in french.text
