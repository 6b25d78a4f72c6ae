"""The console's Step Functions pages (decision 0288): state machines listed (name, type,
created) and created from a form — a definition Step Functions refuses shown with
ValidateStateMachineDefinition's diagnostics, the form as typed —; a machine's page (its
definition, role, logging, executions filtered by status and in pages; an execution started
with a name and a JSON input; the definition updated; tags; deleted after a ticked box); an
execution's page (status, input, output, error and cause, dates, its history as a table;
stopped while RUNNING). Each checked against what Step Functions answers apart from the
console; every form needs the CSRF token."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path

import httpx
import pytest

from support.console import (
    WIRE_ORIGIN,
    ConsoleHarness,
    console_harness,
    csrf_of,
    log_in,
    sign_in_root,
)
from unit.console.test_console_dynamodb_edits import alert, form_of

_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "states.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
_HELLO = json.dumps(
    {"StartAt": "Greet", "States": {"Greet": {"Type": "Pass", "Result": {"hi": 1}, "End": True}}}
)
_WAITS = json.dumps(
    {"StartAt": "Nap", "States": {"Nap": {"Type": "Wait", "Seconds": 3600, "End": True}}}
)
_MISSING_TARGET = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}})


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[ConsoleHarness]:
    """Pages of two rows, so that the executions' and history's next pages show."""
    async with console_harness(tmp_path, console_page_size=2) as harness:
        yield harness


def _arn(tenant: str, name: str) -> str:
    return f"arn:aws:states:eu-fr-1:{tenant}:stateMachine:{name}"


async def _status(client: httpx.AsyncClient, path: str, wanted: str) -> httpx.Response:
    for _ in range(200):
        page = await client.get(path)
        if f'<td id="execution-status">{wanted}</td>' in page.text:
            return page
        await asyncio.sleep(0.02)
    raise AssertionError(f"the execution never became {wanted}")


async def test_a_machine_created_with_diagnostics_run_updated_tagged_and_deleted(
    console: ConsoleHarness,
) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        assert 'id="no-roles"' in (await client.get("/state-machines")).text
        role = (await console.identity.create_role(tenant, "sfn-role", _TRUST)).arn
        wires, principal = await console.wires(client)
        page = await client.get("/state-machines")
        assert page.status_code == 200 and 'id="no-machines"' in page.text
        assert 'id="no-roles"' not in page.text
        assert 'id="menu-state-machines"' in page.text
        token = csrf_of(page)
        create = form_of(page, "create-machine-form")
        assert f'<option value="{role}">' in create
        assert '"StartAt": "Hello"' in create  # the starter definition
        fields = {"csrf": token, "name": "hello", "type": "EXPRESS", "role_arn": role,
                  "definition": _MISSING_TARGET, "tags": "team=blue"}  # fmt: skip
        forged = await client.post("/state-machines", data={**fields, "csrf": "forged"})
        assert forged.status_code == 403
        refused = await client.post("/state-machines", data=fields)
        assert refused.status_code == 400
        assert "(InvalidDefinition)" in alert(refused)
        diagnostics = unescape(refused.text.split('id="diagnostics"', 1)[1].split("</table>")[0])
        assert "MISSING_TRANSITION_TARGET" in diagnostics and "/States/A/Next" in diagnostics
        typed = form_of(refused, "create-machine-form")
        assert f"{_MISSING_TARGET}</textarea>" in typed
        assert '<option value="EXPRESS" selected>' in typed
        made = await client.post("/state-machines", data={**fields, "definition": _HELLO})
        assert made.status_code == 303, alert(made)
        assert made.headers["location"] == "/console/state-machines/hello"
        described = await wires.states.machine(WIRE_ORIGIN, principal, _arn(tenant, "hello"))
        assert (described.machine_type, described.role_arn) == ("EXPRESS", role)
        assert await wires.states.tags(WIRE_ORIGIN, principal, described.arn) == [("team", "blue")]
        listing = await client.get("/state-machines")
        row = listing.text.split('id="machine-hello">', 1)[1].split("</tr>", 1)[0]
        assert '<td class="type">EXPRESS</td>' in row and described.created in row

        page = await client.get("/state-machines/hello")
        assert '<td id="machine-type">EXPRESS</td>' in page.text
        assert f"<code>{role}</code>" in page.text
        assert '<td id="machine-logging">OFF</td>' in page.text
        assert '"Greet"' in unescape(page.text.split('id="machine-definition">', 1)[1])
        assert 'id="no-executions"' in page.text
        bad_input = {"csrf": token, "execution_name": "first", "input": "{not json"}
        refused = await client.post("/state-machines/hello/start", data=bad_input)
        assert refused.status_code == 400
        assert "(InvalidExecutionInput)" in alert(refused)
        assert "{not json</textarea>" in form_of(refused, "start-execution-form")
        started = await client.post(
            "/state-machines/hello/start", data={**bad_input, "input": '{"who": "me"}'}
        )
        assert started.status_code == 303, alert(started)
        assert started.headers["location"] == "/console/state-machines/hello/executions/first"
        done = await _status(client, "/state-machines/hello/executions/first", "SUCCEEDED")
        assert '"who": "me"' in unescape(done.text.split('id="execution-input">', 1)[1])
        assert '"hi": 1' in unescape(done.text.split('id="execution-output">', 1)[1])
        assert 'id="stop-execution-form"' not in done.text
        history = done.text.split('id="execution-history">', 1)[1].split("</table>", 1)[0]
        assert '<td class="type">ExecutionStarted</td>' in history
        assert '<td class="type">PassStateEntered</td><td class="state">Greet</td>' in history

        update = {"csrf": token, "role_arn": role, "definition": _MISSING_TARGET}
        refused = await client.post("/state-machines/hello/update", data=update)
        assert refused.status_code == 400 and "(InvalidDefinition)" in alert(refused)
        assert "MISSING_TRANSITION_TARGET" in refused.text.split('id="diagnostics"', 1)[1]
        assert f"{_MISSING_TARGET}</textarea>" in form_of(refused, "update-machine-form")
        updated = await client.post(
            "/state-machines/hello/update", data={**update, "definition": _WAITS}
        )
        assert updated.status_code == 303, alert(updated)
        described = await wires.states.machine(WIRE_ORIGIN, principal, described.arn)
        assert json.loads(described.definition) == json.loads(_WAITS)

        await wires.logs.create_group(WIRE_ORIGIN, principal, "/sfn/hello", kms_key_id="", tags=())
        group = f"arn:aws:logs:eu-fr-1:{tenant}:log-group:/sfn/hello:*"
        page = await client.get("/state-machines/hello")
        assert f'<option value="{group}">/sfn/hello</option>' in form_of(page, "logging-form")
        logging = {"csrf": token, "level": "ERROR", "include_execution_data": "yes"}
        refused = await client.post("/state-machines/hello/logging", data=logging)
        assert refused.status_code == 400 and "(InvalidLoggingConfiguration)" in alert(refused)
        assert '<option value="ERROR" selected>' in form_of(refused, "logging-form")
        logged = await client.post(
            "/state-machines/hello/logging", data={**logging, "log_group_arn": group}
        )
        assert logged.status_code == 303, alert(logged)
        described = await wires.states.machine(WIRE_ORIGIN, principal, described.arn)
        assert (described.logging_level, described.include_execution_data) == ("ERROR", True)
        assert described.log_groups == [group]
        page = await client.get("/state-machines/hello")
        assert f"ERROR · execution data included · <code>{group}</code>" in page.text
        assert f'<option value="{group}" selected>' in form_of(page, "logging-form")

        tags = {"csrf": token, "tags": "env=test"}
        tagged = await client.post("/state-machines/hello/tag", data=tags)
        assert tagged.status_code == 303, alert(tagged)
        untagged = await client.post(
            "/state-machines/hello/untag", data={"csrf": token, "key": "team"}
        )
        assert untagged.status_code == 303
        assert await wires.states.tags(WIRE_ORIGIN, principal, described.arn) == [("env", "test")]
        unticked = await client.post("/state-machines/hello/delete", data={"csrf": token})
        assert unticked.status_code == 400
        assert (await wires.states.machine(WIRE_ORIGIN, principal, described.arn)).name == "hello"
        deleted = await client.post(
            "/state-machines/hello/delete", data={"csrf": token, "confirm": "yes"}
        )
        assert deleted.status_code == 303 and deleted.headers["location"] == (
            "/console/state-machines"
        )
        gone = await client.get("/state-machines/hello")
        assert gone.status_code == 400 and "(StateMachineDoesNotExist)" in alert(gone)


async def test_executions_filtered_paged_stopped_with_their_history(
    console: ConsoleHarness,
) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        role = (await console.identity.create_role(tenant, "sfn-role", _TRUST)).arn
        wires, principal = await console.wires(client)
        token = csrf_of(await client.get("/state-machines"))
        made = await client.post(
            "/state-machines",
            data={"csrf": token, "name": "naps", "type": "STANDARD", "role_arn": role,
                  "definition": _WAITS},
        )  # fmt: skip
        assert made.status_code == 303, alert(made)
        for name in ("one", "two", "three"):
            started = await client.post(
                "/state-machines/naps/start", data={"csrf": token, "execution_name": name}
            )
            assert started.status_code == 303, alert(started)
        path = "/state-machines/naps/executions/two"
        running = await _status(client, path, "RUNNING")
        assert 'id="stop-execution-form"' in running.text
        stopped = await client.post(
            f"{path}/stop", data={"csrf": token, "error": "Manual", "cause": "not needed"}
        )
        assert stopped.status_code == 303, alert(stopped)
        arn = f"arn:aws:states:eu-fr-1:{tenant}:execution:naps:two"
        described = await wires.states.execution(WIRE_ORIGIN, principal, arn)
        assert (described.status, described.error, described.cause) == (
            "ABORTED", "Manual", "not needed",
        )  # fmt: skip
        page = await client.get(path)
        assert '<td id="execution-status">ABORTED</td>' in page.text
        assert "<code>Manual</code>" in page.text and "not needed" in page.text
        assert 'id="stop-execution-form"' not in page.text
        assert page.text.split('<td id="execution-stopped">', 1)[1].split("<")[0]
        # The history in pages of two: the first page, then the rest through its link.
        first = page.text.split('id="execution-history">', 1)[1].split("</table>", 1)[0]
        assert first.count('class="history-event"') == 2
        assert '<td class="type">ExecutionStarted</td>' in first
        following = re.search(r'href="([^"]+)" rel="next" id="history-next"', page.text)
        assert following is not None
        rest = await client.get(unescape(following.group(1)).removeprefix("/console"))
        assert '<td class="state">Nap</td>' in rest.text or "ExecutionAborted" in rest.text

        aborted = await client.get("/state-machines/naps", params={"status": "ABORTED"})
        rows = re.findall(r'<tr class="execution" id="execution-([^"]+)">', aborted.text)
        assert rows == ["two"]
        assert '<option value="ABORTED" selected>' in aborted.text
        listed = await client.get("/state-machines/naps", params={"status": "RUNNING"})
        shown = re.findall(r'<tr class="execution" id="execution-([^"]+)">', listed.text)
        assert len(shown) == 2 and set(shown) <= {"one", "three"}  # a page of two
        forged = await client.post(
            "/state-machines/naps/executions/one/stop", data={"csrf": "forged"}
        )
        assert forged.status_code == 403
        one = f"arn:aws:states:eu-fr-1:{tenant}:execution:naps:one"
        assert (await wires.states.execution(WIRE_ORIGIN, principal, one)).status == "RUNNING"
        everything = await client.get("/state-machines/naps")
        link = re.search(r'href="([^"]+)" rel="next" id="executions-next"', everything.text)
        assert link is not None
        second = await client.get(unescape(link.group(1)).removeprefix("/console"))
        seen = re.findall(r'<tr class="execution" id="execution-([^"]+)">', second.text)
        first_page = re.findall(r'<tr class="execution" id="execution-([^"]+)">', everything.text)
        assert sorted(seen + first_page) == ["one", "three", "two"]


async def test_a_server_without_step_functions_says_so_and_a_stranger_is_refused(
    console: ConsoleHarness,
) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        await console.user_with_password(tenant, "reader")
        async with console.without(client, "states"):
            page = await client.get("/state-machines")
            assert page.status_code == 404
            assert "serves no AWS Step Functions" in alert(page)
    async with console.client(**{"accept-language": "fr"}) as client:
        assert (await log_in(client, "admin", "root")).status_code == 303
        french = await client.get("/state-machines")
        assert "<h1>Machines à états Step Functions</h1>" in french.text
        assert "Créer une machine à états" in french.text
    async with console.client() as client:
        assert (await log_in(client, "admin", "reader")).status_code == 303
        page = await client.get("/state-machines")
        assert page.status_code == 400 or page.status_code == 403
        assert "(AccessDeniedException)" in alert(page)
