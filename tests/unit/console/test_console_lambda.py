"""The console's Lambda pages (decision 0296): functions listed (name, runtime, memory,
timeout, last modified) and created from a multipart form with a .zip (Lambda's refusal shown
with the form as typed); a function's page (configuration, code size and SHA, environment;
new code uploaded; configuration updated; versions published; aliases with a weighted second
version; resource policy statements added and removed; reserved concurrency; tags; deleted
after a ticked box) and its test form, invoked in the real ``bwrap`` sandbox (status, payload,
function error, log tail). Each checked against what Lambda answers apart from the console;
every form needs the CSRF token."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.console import ConsoleHarness, console_harness, csrf_of, sign_in_root
from support.lambdaapp import handler_zip
from unit.console.test_console_dynamodb_edits import alert, form_of

_SCOPE = {"client": ("127.0.0.1", 1), "server": ("127.0.0.1", 9001), "scheme": "http"}
_TRUST_LAMBDA = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
_TRUST_STATES = _TRUST_LAMBDA.replace("lambda.amazonaws.com", "states.amazonaws.com")
_SOURCE = """
import os

def handler(event, context):
    print("testing", context.function_name, os.environ.get("STAGE"))
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"echo": event, "stage": os.environ.get("STAGE")}
"""


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[ConsoleHarness]:
    async with console_harness(tmp_path, console_page_size=2) as harness:
        yield harness


async def _wires(console: ConsoleHarness, client: httpx.AsyncClient) -> tuple[Any, Any]:
    running = console.application._running
    assert running is not None
    principal = await console.identity.resolve_console_session(client.cookies["andromede_console"])
    return running.console.console.functions, principal


async def _created(
    client: httpx.AsyncClient, token: str, role: str, name: str, **extra: str
) -> httpx.Response:
    fields = {"csrf": token, "name": name, "runtime": "python3.11", "handler": "app.handler",
              "role": role, "memory": "256", "timeout": "5", **extra}  # fmt: skip
    code = {"code": ("code.zip", handler_zip(_SOURCE), "application/zip")}
    return await client.post("/functions/upload", data=fields, files=code)


async def test_a_function_created_configured_versioned_aliased_permitted_and_deleted(
    console: ConsoleHarness,
) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        lambda_role = (await console.identity.create_role(tenant, "fn-role", _TRUST_LAMBDA)).arn
        other = (await console.identity.create_role(tenant, "sfn-role", _TRUST_STATES)).arn
        wire, principal = await _wires(console, client)
        page = await client.get("/functions")
        assert page.status_code == 200 and 'id="no-functions"' in page.text
        assert 'id="menu-lambda"' in page.text
        create = form_of(page, "create-function-form")
        assert f'<option value="{lambda_role}">' in create and other not in create
        assert '<option value="python3.11">' in create
        token = csrf_of(page)

        forged = await _created(client, "forged", lambda_role, "hello")
        assert forged.status_code == 403
        refused = await _created(client, token, other, "hello", env_key_1="STAGE",
            env_value_1="dev", tags="team=blue")  # fmt: skip
        assert refused.status_code == 400 and "(InvalidParameterValueException)" in alert(refused)
        typed = form_of(refused, "create-function-form")
        assert 'value="hello"' in typed and 'name="env_value_1" size="24" value="dev"' in typed
        assert "team=blue</textarea>" in typed
        nothing = await client.post(
            "/functions/upload",
            data={"csrf": token, "name": "hello"},
            files={"code": ("", b"", "application/octet-stream")},
        )
        assert nothing.status_code == 400 and "Choose the code's .zip file." in alert(nothing)
        made = await _created(client, token, lambda_role, "hello", env_key_1="STAGE",
            env_value_1="dev", tags="team=blue")  # fmt: skip
        assert made.status_code == 303, alert(made)
        assert made.headers["location"] == "/console/functions/hello"
        described = await wire.function(_SCOPE, principal, "hello")
        assert (described.memory, described.timeout, described.role) == (256, 5, lambda_role)
        assert described.environment == [("STAGE", "dev")]
        assert described.tags == [("team", "blue")]
        listing = await client.get("/functions")
        row = listing.text.split('id="function-hello">', 1)[1].split("</tr>", 1)[0]
        assert '<td class="runtime">python3.11</td>' in row and '<td class="memory">256</td>' in row
        assert '<td class="timeout">5</td>' in row and described.modified in row

        page = await client.get("/functions/hello")
        assert f'<td id="function-code-sha"><code>{described.code_sha256}</code>' in page.text
        assert f'<td id="function-code-size">{described.code_size}</td>' in page.text
        assert "<code>STAGE=dev</code>" in page.text
        assert 'id="no-versions"' in page.text and 'id="no-statements"' in page.text

        new_code = handler_zip(_SOURCE + "\n# v2\n")
        uploaded = await client.post(
            "/functions/hello/code/upload",
            data={"csrf": token},
            files={"code": ("v2.zip", new_code, "application/zip")},
        )
        assert uploaded.status_code == 303, alert(uploaded)
        sha = base64.b64encode(hashlib.sha256(new_code).digest()).decode()
        assert (await wire.function(_SCOPE, principal, "hello")).code_sha256 == sha

        configuration = {"csrf": token, "runtime": "python3.11", "handler": "app.handler",
            "role": lambda_role, "memory": "1", "timeout": "7", "env_key_1": "STAGE",
            "env_value_1": "prod", "env_key_2": "MORE", "env_value_2": "x"}  # fmt: skip
        refused = await client.post("/functions/hello/configuration", data=configuration)
        assert refused.status_code == 400 and "(InvalidParameterValueException)" in alert(refused)
        assert 'name="memory" size="6" value="1"' in form_of(refused, "configuration-form")
        saved = await client.post(
            "/functions/hello/configuration", data={**configuration, "memory": "512"}
        )
        assert saved.status_code == 303, alert(saved)
        described = await wire.function(_SCOPE, principal, "hello")
        assert (described.memory, described.timeout) == (512, 7)
        assert described.environment == [("MORE", "x"), ("STAGE", "prod")]

        for description in ("first", "second"):
            code = {"code": ("c.zip", handler_zip(_SOURCE + description), "application/zip")}
            await client.post("/functions/hello/code/upload", data={"csrf": token}, files=code)
            published = await client.post(
                "/functions/hello/publish", data={"csrf": token, "description": description}
            )
            assert published.status_code == 303, alert(published)
        page = await client.get("/functions/hello")
        assert 'id="version-1"' in page.text and 'id="version-2"' in page.text
        alias = {"csrf": token, "alias": "live", "version": "1", "second_version": "2",
                 "weight": "250", "description": "canary"}  # fmt: skip
        refused = await client.post("/functions/hello/alias", data=alias)
        assert refused.status_code == 400
        assert "between 0.0 and 1.0 (InvalidParameterValueException)" in alert(refused)
        assert 'name="weight" size="5" value="250"' in form_of(refused, "alias-form")
        made = await client.post("/functions/hello/alias", data={**alias, "weight": "10"})
        assert made.status_code == 303, alert(made)
        [live] = await wire.aliases(_SCOPE, principal, "hello")
        assert (live.version, live.second_version, live.second_weight) == ("1", "2", 0.1)
        again = await client.post("/functions/hello/alias", data={**alias, "weight": "10"})
        assert again.status_code == 409 and "(ResourceConflictException)" in alert(again)
        moving = {**alias, "version": "2", "second_version": "", "weight": "", "existing": "yes"}
        moved = await client.post("/functions/hello/alias", data=moving)
        assert moved.status_code == 303, alert(moved)
        [live] = await wire.aliases(_SCOPE, principal, "hello")
        assert (live.version, live.second_version) == ("2", "")
        page = await client.get("/functions/hello")
        assert '<tr id="alias-live"><td>live</td><td class="version">2</td>' in page.text
        removed = await client.post(
            "/functions/hello/delete-alias", data={"csrf": token, "alias": "live"}
        )
        assert removed.status_code == 303 and await wire.aliases(_SCOPE, principal, "hello") == []

        permission = {"csrf": token, "sid": "events", "principal": "events.amazonaws.com",
            "permission_action": "lambda:InvokeFunction",
            "source_arn": f"arn:aws:events:eu-fr-1:{tenant}:rule/nightly"}  # fmt: skip
        added = await client.post("/functions/hello/permission", data=permission)
        assert added.status_code == 303, alert(added)
        twice = await client.post("/functions/hello/permission", data=permission)
        assert twice.status_code == 409 and "(ResourceConflictException)" in alert(twice)
        assert 'value="events"' in form_of(twice, "permission-form")
        page = await client.get("/functions/hello")
        statement = page.text.split('id="statement-events">', 1)[1].split("</tr>", 1)[0]
        assert "events.amazonaws.com" in statement and "rule/nightly" in unescape(statement)
        taken = await client.post(
            "/functions/hello/remove-permission", data={"csrf": token, "sid": "events"}
        )
        assert taken.status_code == 303
        assert await wire.statements(_SCOPE, principal, "hello") == []

        bad = await client.post(
            "/functions/hello/concurrency", data={"csrf": token, "reserved": "x"}
        )
        assert bad.status_code == 400 and "whole number" in alert(bad)
        reserved = await client.post(
            "/functions/hello/concurrency", data={"csrf": token, "reserved": "3"}
        )
        assert reserved.status_code == 303, alert(reserved)
        assert (await wire.function(_SCOPE, principal, "hello")).reserved_concurrency == 3
        freed = await client.post("/functions/hello/concurrency", data={"csrf": token})
        assert freed.status_code == 303
        assert (await wire.function(_SCOPE, principal, "hello")).reserved_concurrency is None

        tagged = await client.post("/functions/hello/tag", data={"csrf": token, "tags": "env=t"})
        assert tagged.status_code == 303, alert(tagged)
        untagged = await client.post("/functions/hello/untag", data={"csrf": token, "key": "team"})
        assert untagged.status_code == 303
        assert (await wire.function(_SCOPE, principal, "hello")).tags == [("env", "t")]

        unticked = await client.post("/functions/hello/delete", data={"csrf": token})
        assert unticked.status_code == 400
        forged = await client.post("/functions/hello/delete", data={"csrf": "x", "confirm": "yes"})
        assert forged.status_code == 403
        deleted = await client.post(
            "/functions/hello/delete", data={"csrf": token, "confirm": "yes"}
        )
        assert deleted.status_code == 303 and deleted.headers["location"] == "/console/functions"
        gone = await client.get("/functions/hello")
        assert gone.status_code == 404 and "(ResourceNotFoundException)" in alert(gone)


async def test_the_list_in_pages_and_a_code_file_past_the_limit(tmp_path: Path) -> None:
    async with console_harness(tmp_path, console_page_size=2, lambda_max_zip_bytes=2048) as h:
        async with h.client() as client:
            tenant = await sign_in_root(h, client)
            role = (await h.identity.create_role(tenant, "fn-role", _TRUST_LAMBDA)).arn
            token = csrf_of(await client.get("/functions"))
            for name in ("a1", "a2", "a3"):
                assert (await _created(client, token, role, name)).status_code == 303
            first = await client.get("/functions")
            assert 'id="function-a1"' in first.text and 'id="function-a3"' not in first.text
            following = first.text.split('id="functions-next"', 1)[0].rsplit('href="', 1)[1]
            second = await client.get(unescape(following.split('"', 1)[0]).removeprefix("/console"))
            assert 'id="function-a3"' in second.text and 'id="function-a1"' not in second.text
            big = await client.post(
                "/functions/upload",
                data={"csrf": token, "name": "big"},
                files={"code": ("big.zip", b"x" * 4096, "application/zip")},
            )
            assert big.status_code == 413 and "(2048 bytes)" in alert(big)
            assert big.headers["connection"] == "close"  # the rest of the body was not read


@pytest.mark.skipif(
    shutil.which("bwrap") is None,
    reason="bubblewrap is not installed (scripts/install-system-deps.sh installs it)",
)
async def test_the_test_form_invokes_and_shows_payload_error_and_log(
    console: ConsoleHarness,
) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        role = (await console.identity.create_role(tenant, "fn-role", _TRUST_LAMBDA)).arn
        token = csrf_of(await client.get("/functions"))
        made = await _created(client, token, role, "echo", env_key_1="STAGE", env_value_1="t")
        assert made.status_code == 303, alert(made)
        page = await client.get("/functions/echo")
        assert '"key": "value"\n}</textarea>' in unescape(form_of(page, "test-function-form"))
        done = await client.post("/functions/echo/test", data={"csrf": token, "event": '{"a": 1}'})
        assert done.status_code == 200, alert(done)
        assert '<td id="test-status">200</td>' in done.text
        assert '<td id="test-version">$LATEST</td>' in done.text
        payload = unescape(done.text.split('id="test-payload">', 1)[1].split("</pre>", 1)[0])
        assert json.loads(payload) == {"echo": {"a": 1}, "stage": "t"}
        log = unescape(done.text.split('id="test-log">', 1)[1].split("</pre>", 1)[0])
        assert "testing echo t" in log and "REPORT RequestId: " in log
        assert '{"a": 1}</textarea>' in unescape(form_of(done, "test-function-form"))

        failed = await client.post(
            "/functions/echo/test", data={"csrf": token, "event": '{"fail": true}'}
        )
        assert '<td id="test-function-error">Unhandled</td>' in failed.text
        error = unescape(failed.text.split('id="test-payload">', 1)[1].split("</pre>", 1)[0])
        assert json.loads(error)["errorMessage"] == "asked to fail"
        refused = await client.post("/functions/echo/test", data={"csrf": token, "event": "{no"})
        assert refused.status_code == 400 and "(InvalidRequestContentException)" in alert(refused)
        assert "{no</textarea>" in form_of(refused, "test-function-form")
        forged = await client.post("/functions/echo/test", data={"csrf": "x", "event": "{}"})
        assert forged.status_code == 403


async def test_a_log_groups_subscription_filter_into_a_function(console: ConsoleHarness) -> None:
    """Decision 0304: the group's subscription form offers the account's functions; one is
    refused in Logs' words until its policy lets ``logs.amazonaws.com`` in for the group,
    then put without a role and listed with a link to the function."""
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        role = (await console.identity.create_role(tenant, "fn-role", _TRUST_LAMBDA)).arn
        page = await client.get("/functions")
        token = csrf_of(page)
        assert (await _created(client, token, role, "shipper")).status_code == 303
        made = await client.post("/log-groups", data={"csrf": token, "name": "/app/web"})
        assert made.status_code == 303, made.text
        group = await client.get("/log-groups/group", params={"name": "/app/web"})
        arn = f"arn:aws:lambda:eu-fr-1:{tenant}:function:shipper"
        putting = form_of(group, "put-subscription-form")
        assert f'<option value="{arn}">shipper</option>' in putting
        assert '<select name="role_arn">\n      <option value="">-</option>' in putting

        fields = {"csrf": token, "name": "/app/web", "subscription_name": "ship",
                  "subscription_pattern": "", "destination_arn": arn, "role_arn": ""}  # fmt: skip
        refused = await client.post("/log-groups/group/put-subscription", data=fields)
        assert refused.status_code == 400
        assert "Could not execute the lambda function" in alert(refused)
        assert f'<option value="{arn}" selected>' in form_of(refused, "put-subscription-form")
        permission = {"csrf": token, "sid": "logs", "principal": "logs.amazonaws.com",
            "permission_action": "lambda:InvokeFunction",
            "source_arn": f"arn:aws:logs:eu-fr-1:{tenant}:log-group:/app/web:*"}  # fmt: skip
        added = await client.post("/functions/shipper/permission", data=permission)
        assert added.status_code == 303, alert(added)
        put = await client.post("/log-groups/group/put-subscription", data=fields)
        assert put.status_code == 303, alert(put)
        listed = await client.get("/log-groups/group", params={"name": "/app/web"})
        row = listed.text.split('id="subscription-filter-1"', 1)[1].split("</tr>", 1)[0]
        assert '<a href="/console/functions/shipper">shipper</a>' in row
        assert '<td class="role"><code></code></td>' in row
