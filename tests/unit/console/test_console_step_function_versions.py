"""The console's Step Functions versions, aliases and redrive (decision 0296, over decision
0283): versions published with a description and deleted; an alias created to route to two
versions by weight, updated to one, deleted (a refusal shown with the form as typed); an
execution started on a version and on an alias; a FAILED execution redriven from its page.
Each checked against what Step Functions answers apart from the console; every form needs the
CSRF token."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.console import ConsoleHarness, console_harness, csrf_of, sign_in_root
from unit.console.test_console_dynamodb_edits import alert, form_of
from unit.console.test_console_step_functions import _HELLO, _TRUST

_SCOPE = {"client": ("127.0.0.1", 1), "server": ("127.0.0.1", 9001), "scheme": "http"}
_FAILS = json.dumps({"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "Bad"}}})


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[ConsoleHarness]:
    async with console_harness(tmp_path) as harness:
        yield harness


async def _wires(console: ConsoleHarness, client: httpx.AsyncClient) -> tuple[Any, Any]:
    running = console.application._running
    assert running is not None
    principal = await console.identity.resolve_console_session(client.cookies["andromede_console"])
    return running.console.console.states, principal


async def _status(client: httpx.AsyncClient, path: str, wanted: str) -> httpx.Response:
    for _ in range(200):
        page = await client.get(path)
        if f'<td id="execution-status">{wanted}</td>' in page.text:
            return page
        await asyncio.sleep(0.02)
    raise AssertionError(f"the execution never became {wanted}")


async def test_versions_aliases_executions_on_them_and_a_redrive(console: ConsoleHarness) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        role = (await console.identity.create_role(tenant, "sfn-role", _TRUST)).arn
        wire, principal = await _wires(console, client)
        token = csrf_of(await client.get("/state-machines"))
        made = await client.post(
            "/state-machines",
            data={"csrf": token, "name": "v", "type": "STANDARD", "role_arn": role,
                  "definition": _HELLO},
        )  # fmt: skip
        assert made.status_code == 303, alert(made)
        arn = f"arn:aws:states:eu-fr-1:{tenant}:stateMachine:v"
        page = await client.get("/state-machines/v")
        assert 'id="no-versions"' in page.text and 'id="no-aliases"' in page.text

        forged = await client.post("/state-machines/v/versions/publish", data={"csrf": "x"})
        assert forged.status_code == 403
        published = await client.post(
            "/state-machines/v/versions/publish", data={"csrf": token, "description": "hello"}
        )
        assert published.status_code == 303, alert(published)
        update = {"csrf": token, "role_arn": role, "definition": _FAILS}
        assert (await client.post("/state-machines/v/update", data=update)).status_code == 303
        await client.post(
            "/state-machines/v/versions/publish", data={"csrf": token, "description": "fails"}
        )
        versions = await wire.versions(_SCOPE, principal, arn)
        assert sorted((v.number, v.description) for v in versions) == [
            ("1", "hello"),
            ("2", "fails"),
        ]
        page = await client.get("/state-machines/v")
        row = page.text.split('id="version-1">', 1)[1].split("</tr>", 1)[0]
        assert '<td class="description">hello</td>' in row

        alias = {"csrf": token, "alias": "live", "version": "1", "second_version": "2",
                 "weight": "half", "description": "canary"}  # fmt: skip
        refused = await client.post("/state-machines/v/versions/alias", data=alias)
        assert refused.status_code == 400 and "percentage, from 0 to 100" in alert(refused)
        assert 'name="weight" size="5" value="half"' in form_of(refused, "alias-form")
        made = await client.post("/state-machines/v/versions/alias", data={**alias, "weight": "30"})
        assert made.status_code == 303, alert(made)
        [live] = await wire.aliases(_SCOPE, principal, arn)
        assert (live.name, live.routing, live.description) == (
            "live",
            [("1", 70), ("2", 30)],
            "canary",
        )
        page = await client.get("/state-machines/v")
        routing = page.text.split('id="alias-live">', 1)[1].split("</tr>", 1)[0]
        assert "Version 1 (70 %) · Version 2 (30 %)" in routing
        start = form_of(page, "start-execution-form")
        assert '<option value="2">Version 2</option>' in start
        assert '<option value="live">Alias live</option>' in start

        twice = await client.post("/state-machines/v/versions/alias", data={**alias, "weight": "9"})
        assert twice.status_code == 400 and "already exists" in alert(twice)
        assert "(ConflictException)" in alert(twice)
        moved = await client.post(
            "/state-machines/v/versions/alias",
            data={**alias, "second_version": "", "existing": "yes", "version": "1"},
        )
        assert moved.status_code == 303, alert(moved)
        [live] = await wire.aliases(_SCOPE, principal, arn)
        assert live.routing == [("1", 100)]

        started = await client.post(
            "/state-machines/v/start",
            data={"csrf": token, "execution_name": "on-alias", "input": "{}", "qualifier": "live"},
        )
        assert started.status_code == 303, alert(started)
        done = await _status(client, "/state-machines/v/executions/on-alias", "SUCCEEDED")
        assert '"hi": 1' in unescape(done.text.split('id="execution-output">', 1)[1])
        assert 'id="redrive-execution-form"' not in done.text
        started = await client.post(
            "/state-machines/v/start",
            data={"csrf": token, "execution_name": "on-two", "input": "{}", "qualifier": "2"},
        )
        assert started.status_code == 303, alert(started)
        failed = await _status(client, "/state-machines/v/executions/on-two", "FAILED")
        assert 'id="redrive-execution-form"' in failed.text
        execution = f"arn:aws:states:eu-fr-1:{tenant}:execution:v:on-two"
        forged = await client.post(
            "/state-machines/v/executions/on-two/redrive", data={"csrf": "x"}
        )
        assert forged.status_code == 403
        assert (await wire.execution(_SCOPE, principal, execution)).status == "FAILED"
        redriven = await client.post(
            "/state-machines/v/executions/on-two/redrive", data={"csrf": token}
        )
        assert redriven.status_code == 303, alert(redriven)
        described = await wire._json(
            _SCOPE, principal, "DescribeExecution", {"executionArn": execution}
        )
        assert described["redriveCount"] == 1

        in_use = await client.post(
            "/state-machines/v/versions/delete", data={"csrf": token, "version": "1"}
        )
        assert in_use.status_code == 400 and "referenced by the alias" in alert(in_use)
        assert "(ConflictException)" in alert(in_use)
        gone = await client.post(
            "/state-machines/v/versions/delete-alias", data={"csrf": token, "alias": "live"}
        )
        assert gone.status_code == 303 and await wire.aliases(_SCOPE, principal, arn) == []
        deleted = await client.post(
            "/state-machines/v/versions/delete", data={"csrf": token, "version": "1"}
        )
        assert deleted.status_code == 303, alert(deleted)
        assert [v.number for v in await wire.versions(_SCOPE, principal, arn)] == ["2"]
