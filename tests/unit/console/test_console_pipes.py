"""The console's EventBridge Pipes pages (decision 0263): pipes listed (name, state, source,
target), one created from the account's queues as source and target with one of its roles, a
filter pattern and an input template — Pipes' refusal of a pattern that is no JSON shown in
its words with the form as typed —; a pipe's page (DescribePipe's fields, its parameters),
stopped, started (Pipes' conflict while it settles shown), deleted after a ticked box. Each
checked against what Pipes answers apart from the console; every form needs the CSRF token."""

from __future__ import annotations

import asyncio
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


async def _pipe(console: ConsoleHarness, client: httpx.AsyncClient, name: str) -> Any:
    wires, principal = await console.wires(client)
    return await wires.pipes.describe(WIRE_ORIGIN, principal, name)


async def _settled(console: ConsoleHarness, client: httpx.AsyncClient, state: str) -> None:
    for _ in range(400):
        if (await _pipe(console, client, "orders")).current_state == state:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the pipe never became {state}")


async def _account(console: ConsoleHarness, client: httpx.AsyncClient, tenant: str) -> str:
    """Queues ``orders-in`` and ``orders-out`` and a role the pipe may run as; its ARN."""
    wires, principal = await console.wires(client)
    for name in ("orders-in", "orders-out"):
        await wires.sqs._json(WIRE_ORIGIN, principal, "CreateQueue", {"QueueName": name})
    role = await console.identity.create_role(tenant, "pipe-role", TRUST)
    await console.identity.put_role_policy(tenant, "pipe-role", "pipe", PIPE_POLICY)
    return role.arn


async def test_a_pipe_created_listed_shown_stopped_started_and_deleted(
    console: ConsoleHarness,
) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        role = await _account(console, client, tenant)
        page = await client.get("/pipes")
        assert 'id="no-pipes"' in page.text
        token = csrf_of(page)
        create = form_of(page, "create-pipe-form")
        source = f"arn:aws:sqs:eu-fr-1:{tenant}:orders-in"
        target = f"arn:aws:sqs:eu-fr-1:{tenant}:orders-out"
        assert f'<option value="{source}">SQS: orders-in</option>' in create
        assert f'<option value="{role}">' in create
        fields = {"csrf": token, "name": "orders", "source": source, "target": target,
                  "role_arn": role, "filter_pattern": "{not json",
                  "input_template": '{"id": <$.messageId>}', "state": "RUNNING"}  # fmt: skip
        refused = await client.post("/pipes", data=fields)
        assert refused.status_code == 400
        assert "(ValidationException)" in alert(refused)
        typed = form_of(refused, "create-pipe-form")
        assert "{not json</textarea>" in typed
        assert f'<option value="{target}" selected>' in typed
        pattern = '{"body": {"kind": ["order"]}}'
        made = await client.post("/pipes", data={**fields, "filter_pattern": pattern})
        assert made.status_code == 303, alert(made)
        assert made.headers["location"] == "/console/pipes/orders"
        described = await _pipe(console, client, "orders")
        assert (described.source, described.target, described.role_arn) == (source, target, role)
        row = unescape((await client.get("/pipes")).text.split('id="pipe-orders">', 1)[1])
        row = row.split("</tr>", 1)[0]
        assert f'<td class="source"><code>{source}</code>' in row
        assert f'<td class="target"><code>{target}</code>' in row
        await _settled(console, client, "RUNNING")
        page = await client.get("/pipes/orders")
        assert '<td id="pipe-state">RUNNING</td>' in page.text
        shown = unescape(page.text)
        assert f'<pre class="pipe-filter">{pattern}</pre>' in shown
        assert '<pre id="pipe-input-template">{"id": <$.messageId>}</pre>' in shown
        assert '"BatchSize": 10' in shown.split('id="pipe-source-parameters">', 1)[1]
        forged = await client.post("/pipes/orders/stop", data={"csrf": "forged"})
        assert forged.status_code == 403
        assert (await _pipe(console, client, "orders")).desired_state == "RUNNING"
        stopped = await client.post("/pipes/orders/stop", data={"csrf": token})
        assert stopped.status_code == 303, alert(stopped)
        assert (await _pipe(console, client, "orders")).desired_state == "STOPPED"
        await _settled(console, client, "STOPPED")
        started = await client.post("/pipes/orders/start", data={"csrf": token})
        assert started.status_code == 303, alert(started)
        again = await client.post("/pipes/orders/start", data={"csrf": token})
        if again.status_code != 303:  # still STARTING: Pipes' conflict, in its words
            assert again.status_code == 409 and "(ConflictException)" in alert(again)
        await _settled(console, client, "RUNNING")
        unticked = await client.post("/pipes/orders/delete", data={"csrf": token})
        assert unticked.status_code == 400
        assert (await _pipe(console, client, "orders")).name == "orders"
        deleted = await client.post("/pipes/orders/delete", data={"csrf": token, "confirm": "yes"})
        assert deleted.status_code == 303, alert(deleted)
        assert deleted.headers["location"] == "/console/pipes"
        gone = await client.get("/pipes/orders")
        assert gone.status_code in (200, 404)
        if gone.status_code == 404:
            assert "(NotFoundException)" in alert(gone)
        else:
            assert '<td id="pipe-desired-state">DELETED</td>' in gone.text


async def test_state_machines_offered_as_targets_and_express_ones_as_enrichments(
    console: ConsoleHarness,
) -> None:
    """Decision 0316: the account's state machines among the create form's targets, the
    EXPRESS ones among its enrichments; a STANDARD machine chosen as the target is started
    (``FIRE_AND_FORGET``), as StartSyncExecution runs EXPRESS machines only."""
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        role = await _account(console, client, tenant)
        wires, principal = await console.wires(client)
        trust = TRUST.replace("pipes.amazonaws.com", "states.amazonaws.com")
        machine_role = await console.identity.create_role(tenant, "machine-role", trust)
        definition = '{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}'
        arns: dict[str, str] = {}
        for name, kind in (("std", "STANDARD"), ("exp", "EXPRESS")):
            params = {"name": name, "definition": definition, "roleArn": machine_role.arn,
                      "type": kind}  # fmt: skip
            made = await wires.states._json(WIRE_ORIGIN, principal, "CreateStateMachine", params)
            arns[name] = made["stateMachineArn"]
        page = await client.get("/pipes")
        create = form_of(page, "create-pipe-form")
        assert f'<option value="{arns["std"]}">Step Functions (STANDARD): std</option>' in create
        enrichments = create.split('name="enrichment"', 1)[1].split("</select>", 1)[0]
        assert f'<option value="{arns["exp"]}">Step Functions: exp</option>' in enrichments
        assert arns["std"] not in enrichments
        source = f"arn:aws:sqs:eu-fr-1:{tenant}:orders-in"
        fields = {"csrf": csrf_of(page), "name": "orders", "source": source,
                  "target": arns["std"], "role_arn": role, "enrichment": arns["exp"],
                  "state": "RUNNING"}  # fmt: skip
        made = await client.post("/pipes", data=fields)
        assert made.status_code == 303, alert(made)
        described = await _pipe(console, client, "orders")
        assert described.target == arns["std"] and described.enrichment == arns["exp"]
        assert described.target_raw["StepFunctionStateMachineParameters"] == {
            "InvocationType": "FIRE_AND_FORGET"
        }
