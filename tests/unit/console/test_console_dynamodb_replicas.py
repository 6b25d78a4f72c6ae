"""A DynamoDB table page's global table replicas (decisions 0265 and 0279), in a deployment of
three regions: none at first, the other served regions offered; one added (UpdateTable's
ReplicaUpdates Create) and listed with its status and the global table version, no longer
offered; DynamoDB's refusal of a region it does not serve in its words; a replica deleted only
after a ticked box. In a deployment of one region the page says no other region is served.
Each checked against what DynamoDB answers apart from the console."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.console import ConsoleHarness, console_harness, sign_in_root
from unit.console.test_console_dynamodb_edits import alert, dynamodb, form_of, orders_table

_REGIONS = [{"name": "eu-fr-1"}, {"name": "eu-de-1"}, {"name": "eu-es-1"}]


@pytest.fixture
async def regions(tmp_path: Path) -> AsyncIterator[ConsoleHarness]:
    async with console_harness(tmp_path, regions=_REGIONS) as harness:
        yield harness


async def _replicas(console: ConsoleHarness, client: httpx.AsyncClient) -> list[Any]:
    table = (await dynamodb(console, client, "DescribeTable", {"TableName": "orders"}))["Table"]
    return list(table.get("Replicas", []))


async def test_a_replica_added_listed_and_deleted(regions: ConsoleHarness) -> None:
    console = regions
    async with console.client() as client:
        await sign_in_root(console, client)
        token = await orders_table(console, client)
        page = await client.get("/dynamodb/orders")
        assert 'id="no-replicas"' in page.text
        adding = form_of(page, "add-replica-form")
        assert '<option value="eu-de-1">' in adding and '<option value="eu-es-1">' in adding
        assert 'value="eu-fr-1"' not in adding  # the table's own region

        # A region the deployment does not serve: DynamoDB's refusal, in its words.
        odd = await client.post(
            "/dynamodb/orders/add-replica", data={"csrf": token, "region": "us-east-1"}
        )
        assert odd.status_code == 400 and "Invalid AWS region: us-east-1" in alert(odd)
        assert await _replicas(console, client) == []

        added = await client.post(
            "/dynamodb/orders/add-replica", data={"csrf": token, "region": "eu-de-1"}
        )
        assert added.status_code == 303, alert(added)
        assert added.headers["location"] == "/console/dynamodb/orders?saved=replicas#replicas"
        held = await _replicas(console, client)
        for _ in range(100):  # CREATING while the upkeep copies it (decision 0291)
            if held[0]["ReplicaStatus"] == "ACTIVE":
                break
            await asyncio.sleep(0.05)
            held = await _replicas(console, client)
        assert [(r["RegionName"], r["ReplicaStatus"]) for r in held] == [("eu-de-1", "ACTIVE")]
        page = await client.get("/dynamodb/orders?saved=replicas")
        assert "Replicas changed." in page.text
        row = page.text.split('id="replica-eu-de-1"', 1)[1].split("</tr>", 1)[0]
        assert '<td class="status">ACTIVE</td>' in row and 'name="confirm"' in row
        assert "<code>2019.11.21</code>" in page.text.split('id="global-version"', 1)[1]
        adding = form_of(page, "add-replica-form")
        assert '<option value="eu-es-1">' in adding and "eu-de-1" not in adding

        unticked = await client.post(
            "/dynamodb/orders/delete-replica", data={"csrf": token, "region": "eu-de-1"}
        )
        assert unticked.status_code == 400 and "Tick the box" in alert(unticked)
        assert len(await _replicas(console, client)) == 1
        deleted = await client.post(
            "/dynamodb/orders/delete-replica",
            data={"csrf": token, "region": "eu-de-1", "confirm": "yes"},
        )
        assert deleted.status_code == 303, alert(deleted)
        assert await _replicas(console, client) == []


async def test_one_region_offers_no_replica(console: ConsoleHarness) -> None:
    async with console.client() as client:
        await sign_in_root(console, client)
        await orders_table(console, client)
        page = await client.get("/dynamodb/orders")
        assert 'id="no-replica-region"' in page.text and 'id="add-replica-form"' not in page.text
