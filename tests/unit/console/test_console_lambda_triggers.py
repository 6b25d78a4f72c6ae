"""A function's triggers, destinations and layers page and the layers page in the console
(decision 0306): asynchronous invocation settings saved with destinations chosen among the
account's queues, topics, buses and functions, and removed; the dead-letter queue; event
source mappings created from a queue of the account, disabled, enabled and deleted after a
ticked box; layer versions published from an uploaded .zip, attached to a function, deleted.
Each checked against what Lambda answers apart from the console; Lambda's refusals shown in
its words with the form as typed; every form needs the CSRF token."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from andromede.console.wire_lambda_triggers import MappingRow, get_async_config, list_mappings
from support.console import ConsoleHarness, console_harness, csrf_of, log_in, sign_in_root
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
_ROLE_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["sqs:*", "sns:*", "kinesis:*"], "Resource": "*"}
        ],
    }
)
_SOURCE = "def handler(event, context):\n    return event\n"


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[ConsoleHarness]:
    # The mappings' poller settles their states (Creating, Disabling…) at its passes.
    async with console_harness(tmp_path, lambda_mapping_poll_interval=0.05) as harness:
        yield harness


async def _settled(wires: Any, principal: Any, state: str) -> MappingRow:
    """The function's one mapping once the poller settled it in ``state``."""
    for _ in range(200):
        [mapping] = await list_mappings(wires.functions, _SCOPE, principal, "fn")
        if mapping.state == state:
            return mapping
        await asyncio.sleep(0.05)
    raise AssertionError(f"{mapping.state}, never {state}")


async def _setup(console: ConsoleHarness, client: httpx.AsyncClient) -> tuple[Any, Any, str]:
    """The console's wires, the signed-in principal and the function ``fn``'s ARN."""
    tenant = await sign_in_root(console, client)
    running = console.application._running
    assert running is not None
    wires = running.console.console
    principal = await console.identity.resolve_console_session(client.cookies["andromede_console"])
    role = await console.identity.create_role(tenant, "fn-role", _TRUST_LAMBDA)
    await console.identity.put_role_policy(tenant, "fn-role", "queues", _ROLE_POLICY)
    settings = {
        "FunctionName": "fn",
        "Runtime": "python3.11",
        "Handler": "app.handler",
        "Role": role.arn,
    }
    await wires.functions.create(_SCOPE, principal, settings, handler_zip(_SOURCE))
    return wires, principal, (await wires.functions.function(_SCOPE, principal, "fn")).arn


async def test_asynchronous_invocation_and_dead_letter_queue(console: ConsoleHarness) -> None:
    async with console.client() as client:
        wires, principal, _arn = await _setup(console, client)
        queue_url = await wires.sqs.create_queue(_SCOPE, principal, "failures")
        queue = next(q.arn for q in await wires.sqs.list_queues(_SCOPE, principal))
        assert queue_url and queue.endswith(":failures")
        topic = await wires.sns.create_topic(_SCOPE, principal, "done", {})

        function_page = await client.get("/functions/fn")
        assert 'href="/console/functions/fn/triggers" id="triggers-link"' in function_page.text
        page = await client.get("/functions/fn/triggers")
        assert page.status_code == 200, alert(page)
        token = csrf_of(page)
        chosen = form_of(page, "async-config-form")
        assert f'<option value="{queue}">SQS: failures</option>' in chosen
        assert f'<option value="{topic}">SNS: done</option>' in chosen
        assert ":event-bus/default" in chosen and "Lambda: fn" in chosen
        assert 'id="delete-async-config-form"' not in page.text

        form = {
            "csrf": token,
            "retries": "1",
            "max_age": "30",
            "on_success": topic,
            "on_failure": queue,
        }
        assert (
            await client.post("/functions/fn/triggers/async-config", data={**form, "csrf": "x"})
        ).status_code == 403
        refused = await client.post("/functions/fn/triggers/async-config", data=form)
        assert refused.status_code == 400 and "(InvalidParameterValueException)" in alert(refused)
        typed = form_of(refused, "async-config-form")
        assert 'name="max_age" size="8" value="30"' in typed
        assert (
            '<option value="1" selected>' in typed and f'<option value="{queue}" selected>' in typed
        )
        saved = await client.post(
            "/functions/fn/triggers/async-config", data={**form, "max_age": "120"}
        )
        assert saved.status_code == 303, alert(saved)
        assert saved.headers["location"] == "/console/functions/fn/triggers#asynchronous"
        config = await get_async_config(wires.functions, _SCOPE, principal, "fn")
        assert config is not None
        assert (config.retries, config.max_age, config.on_success, config.on_failure) == (
            1,
            120,
            topic,
            queue,
        )
        page = await client.get("/functions/fn/triggers")
        assert '<td id="async-retries">1</td>' in page.text
        assert f'<td id="async-on-failure"><code>{queue}</code>' in page.text

        removed = await client.post(
            "/functions/fn/triggers/delete-async-config", data={"csrf": token}
        )
        assert removed.status_code == 303
        assert await get_async_config(wires.functions, _SCOPE, principal, "fn") is None

        dead = await client.post(
            "/functions/fn/triggers/dead-letter", data={"csrf": token, "target": queue}
        )
        assert dead.status_code == 303, alert(dead)
        assert (await wires.functions.function(_SCOPE, principal, "fn")).dead_letter == queue
        assert (
            f'<td id="function-dlq"><code>{queue}</code>'
            in (await client.get("/functions/fn")).text
        )
        cleared = await client.post(
            "/functions/fn/triggers/dead-letter", data={"csrf": token, "target": ""}
        )
        assert cleared.status_code == 303, alert(cleared)
        assert (await wires.functions.function(_SCOPE, principal, "fn")).dead_letter == ""


async def test_event_source_mappings_created_switched_and_deleted(console: ConsoleHarness) -> None:
    async with console.client() as client:
        wires, principal, _arn = await _setup(console, client)
        await wires.sqs.create_queue(_SCOPE, principal, "jobs")
        queue = next(q.arn for q in await wires.sqs.list_queues(_SCOPE, principal))
        page = await client.get("/functions/fn/triggers")
        token = csrf_of(page)
        assert 'id="no-mappings"' in page.text
        assert f'<option value="{queue}">SQS: jobs</option>' in form_of(page, "mapping-form")

        form = {
            "csrf": token,
            "source": queue,
            "batch_size": "5",
            "enabled": "yes",
            "starting_position": "LATEST",
        }
        refused = await client.post("/functions/fn/triggers/mapping", data=form)
        assert refused.status_code == 400 and "(InvalidParameterValueException)" in alert(refused)
        typed = form_of(refused, "mapping-form")
        assert 'name="batch_size" size="6" value="5"' in typed
        assert '<option value="LATEST" selected>' in typed
        made = await client.post(
            "/functions/fn/triggers/mapping", data={**form, "starting_position": ""}
        )
        assert made.status_code == 303, alert(made)
        mapping = await _settled(wires, principal, "Enabled")
        assert (mapping.source_arn, mapping.batch_size) == (queue, 5)
        row = (await client.get("/functions/fn/triggers")).text.split(
            f'id="mapping-{mapping.uuid}">', 1
        )[1]
        assert f"<code>{queue}</code>" in row and '<td class="batch">5</td>' in row

        off = await client.post(
            "/functions/fn/triggers/mapping-state", data={"csrf": token, "uuid": mapping.uuid}
        )
        assert off.status_code == 303, alert(off)
        mapping = await _settled(wires, principal, "Disabled")
        page = await client.get("/functions/fn/triggers")
        row = page.text.split(f'id="mapping-{mapping.uuid}">', 1)[1].split("</tr>", 1)[0]
        assert '<td class="state">Disabled</td>' in row and 'name="enabled" value="yes"' in row
        on = await client.post(
            "/functions/fn/triggers/mapping-state",
            data={"csrf": token, "uuid": mapping.uuid, "enabled": "yes"},
        )
        assert on.status_code == 303, alert(on)
        mapping = await _settled(wires, principal, "Enabled")

        unticked = await client.post(
            "/functions/fn/triggers/delete-mapping", data={"csrf": token, "uuid": mapping.uuid}
        )
        assert unticked.status_code == 400 and "Tick the box" in alert(unticked)
        gone = await client.post(
            "/functions/fn/triggers/delete-mapping",
            data={"csrf": token, "uuid": mapping.uuid, "confirm": "yes"},
        )
        assert gone.status_code == 303, alert(gone)
        left = await list_mappings(wires.functions, _SCOPE, principal, "fn")
        assert [m.state for m in left] in ([], ["Deleting"])


async def test_layers_published_attached_and_deleted(console: ConsoleHarness) -> None:
    async with console.client() as client:
        wires, principal, _arn = await _setup(console, client)
        page = await client.get("/layers")
        assert page.status_code == 200 and 'id="no-layers"' in page.text
        assert 'href="/console/layers" id="layers-link"' in (await client.get("/functions")).text
        token = csrf_of(page)
        content = {"code": ("layer.zip", handler_zip("VALUE = 1\n"), "application/zip")}
        fields = {
            "csrf": token,
            "name": "bad name!",
            "description": "shared code",
            "runtime_python3.11": "yes",
            "license": "MIT",
        }
        forged = await client.post("/layers/upload", data={**fields, "csrf": "x"}, files=content)
        assert forged.status_code == 403
        refused = await client.post("/layers/upload", data=fields, files=content)
        assert refused.status_code == 400 and "Exception)" in alert(refused)
        typed = form_of(refused, "publish-layer-form")
        assert 'value="bad name!"' in typed and 'value="shared code"' in typed
        assert 'name="runtime_python3.11" value="yes" checked' in typed
        nothing = await client.post(
            "/layers/upload",
            data={**fields, "name": "shared"},
            files={"code": ("", b"", "application/octet-stream")},
        )
        assert nothing.status_code == 400 and "Choose the layer's .zip file." in alert(nothing)
        for _ in range(2):
            made = await client.post(
                "/layers/upload", data={**fields, "name": "shared"}, files=content
            )
            assert made.status_code == 303, alert(made)
        listing = await client.get("/layers")
        row = listing.text.split('id="layer-shared-2">', 1)[1].split("</tr>", 1)[0]
        assert '<td class="runtimes">python3.11</td>' in row
        assert '<td class="description">shared code</td>' in row

        page = await client.get("/functions/fn/triggers")
        layers = form_of(page, "layers-form")
        assert "shared:1" in layers and "shared:2" in layers and "checked" not in layers
        version_arn = layers.split('value="', 2)[2].split('"', 1)[0]  # after the token
        assert version_arn.endswith(":layer:shared:2")
        attached = await client.post(
            "/functions/fn/triggers/layers", data={"csrf": token, "layer_1": version_arn}
        )
        assert attached.status_code == 303, alert(attached)
        assert (await wires.functions.function(_SCOPE, principal, "fn")).layers == (version_arn,)
        assert f"<code>{version_arn}</code>" in (await client.get("/functions/fn")).text
        assert "checked" in form_of(await client.get("/functions/fn/triggers"), "layers-form")

        unticked = await client.post("/layers/shared/versions/1/delete", data={"csrf": token})
        assert unticked.status_code == 400 and "Tick the box" in alert(unticked)
        deleted = await client.post(
            "/layers/shared/versions/1/delete", data={"csrf": token, "confirm": "yes"}
        )
        assert deleted.status_code == 303
        listing = await client.get("/layers")
        assert 'id="layer-shared-1"' not in listing.text and 'id="layer-shared-2"' in listing.text
        detached = await client.post("/functions/fn/triggers/layers", data={"csrf": token})
        assert detached.status_code == 303, alert(detached)
        assert (await wires.functions.function(_SCOPE, principal, "fn")).layers == ()


async def test_a_kinesis_stream_mapped_from_its_starting_position(console: ConsoleHarness) -> None:
    async with console.client() as client:
        wires, principal, _arn = await _setup(console, client)
        await wires.kinesis.create(_SCOPE, principal, "clicks", on_demand=False, shard_count="1")
        page = await client.get("/functions/fn/triggers")
        token = csrf_of(page)
        stream = page.text.split('<option value="arn:aws:kinesis:', 1)[1].split('"', 1)[0]
        stream = f"arn:aws:kinesis:{stream}"
        assert stream.endswith(":stream/clicks") and ">Kinesis: clicks</option>" in page.text
        form = {"csrf": token, "source": stream, "batch_size": "", "enabled": "yes"}
        refused = await client.post("/functions/fn/triggers/mapping", data=form)
        assert refused.status_code == 400 and "(InvalidParameterValueException)" in alert(refused)
        assert f'<option value="{stream}" selected>' in form_of(refused, "mapping-form")
        made = await client.post(
            "/functions/fn/triggers/mapping", data={**form, "starting_position": "TRIM_HORIZON"}
        )
        assert made.status_code == 303, alert(made)
        [mapping] = await list_mappings(wires.functions, _SCOPE, principal, "fn")
        assert (mapping.source_arn, mapping.starting_position) == (stream, "TRIM_HORIZON")
        assert mapping.batch_size == 100  # Lambda's default for a stream


async def test_a_user_sees_lambdas_refusals_section_by_section(console: ConsoleHarness) -> None:
    """A user allowed GetFunction alone sees the page, each other section saying Lambda's
    refusal in its words; a change refused keeps the form as typed; an unknown function is
    Lambda's 404."""
    async with console.client() as client:
        _wires, _principal, arn = await _setup(console, client)
        missing = await client.get("/functions/nothing/triggers")
        assert missing.status_code == 404 and "(ResourceNotFoundException)" in alert(missing)
    tenant = console.admin_tenant_id
    await console.user_with_password(tenant, "viewer")
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "lambda:GetFunction", "Resource": arn}]}  # fmt: skip
    await console.identity.put_user_policy(tenant, "viewer", "read", json.dumps(policy))
    async with console.client() as client:
        assert (await log_in(client, "admin", "viewer")).status_code == 303
        page = await client.get("/functions/fn/triggers")
        assert page.status_code == 200
        for section in ("async-error", "mappings-error", "layers-error"):
            shown = page.text.split(f'id="{section}">', 1)[1].split("</p>", 1)[0]
            assert "(AccessDeniedException)" in shown, section
        form = {"csrf": csrf_of(page), "retries": "0", "max_age": "90"}
        refused = await client.post("/functions/fn/triggers/async-config", data=form)
        assert refused.status_code == 403 and "(AccessDeniedException)" in alert(refused)
        assert 'name="max_age" size="8" value="90"' in form_of(refused, "async-config-form")
