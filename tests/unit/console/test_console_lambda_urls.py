"""A function's URLs and provisioned concurrency page, and its stream mappings' settings on
the triggers page, in the console (decision 0320): a URL created for ``$LATEST`` with CORS,
shown as a link, made public by the labelled button (AddPermission with
``FunctionUrlAuthType`` NONE), updated and deleted after a ticked box; provisioned
concurrency set on a version, listed and removed; a Kinesis mapping created with its batching
window, retries, bisect, tumbling window and OnFailure queue, then edited. Each checked
against what Lambda answers apart from the console; Lambda's refusals shown in its words with
the form as typed; every form needs the CSRF token."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from andromede.console.wire_lambda_triggers import list_mappings
from andromede.console.wire_lambda_urls import list_provisioned, list_url_configs
from support.console import ConsoleHarness, console_harness, csrf_of, log_in
from unit.console.test_console_dynamodb_edits import alert, form_of
from unit.console.test_console_lambda_triggers import _SCOPE, _setup


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[ConsoleHarness]:
    async with console_harness(tmp_path, lambda_mapping_poll_interval=0.05) as harness:
        yield harness


@pytest.fixture
async def no_capacity(tmp_path: Path) -> AsyncIterator[ConsoleHarness]:
    # No provisioned sandbox may start: a configuration fails for capacity at once, its
    # status and reason shown, and no sandbox outlives the test.
    async with console_harness(
        tmp_path, lambda_max_provisioned_sandboxes=0, lambda_provisioned_poll_interval=0.05
    ) as harness:
        yield harness


def _section(text: str, element_id: str) -> str:
    return unescape(text.split(f'id="{element_id}"', 1)[1].split("</section>", 1)[0])


async def test_a_function_url_created_made_public_updated_and_deleted(
    console: ConsoleHarness,
) -> None:
    async with console.client() as client:
        wires, principal, _arn = await _setup(console, client)
        function_page = await client.get("/functions/fn")
        assert 'href="/console/functions/fn/urls" id="urls-link"' in function_page.text
        page = await client.get("/functions/fn/urls")
        assert page.status_code == 200, alert(page)
        token = csrf_of(page)
        assert 'id="no-urls"' in page.text and 'id="no-provisioned-targets"' in page.text
        assert '<option value="$LATEST">$LATEST</option>' in form_of(page, "url-form")

        form = {
            "csrf": token,
            "qualifier": "$LATEST",
            "auth_type": "NONE",
            "invoke_mode": "BUFFERED",
            "cors_origins": "https://example.com, https://app.example.com",
            "cors_methods": "GET",
            "cors_max_age": "99999",
        }
        assert (
            await client.post("/functions/fn/urls/url", data={**form, "csrf": "x"})
        ).status_code == 403
        refused = await client.post("/functions/fn/urls/url", data=form)
        assert refused.status_code == 400, alert(refused)
        assert "Exception)" in alert(refused)
        typed = form_of(refused, "url-form")
        assert 'name="cors_max_age" size="6" value="99999"' in typed
        assert '<option value="NONE" selected>' in typed
        assert await list_url_configs(wires.functions, _SCOPE, principal, "fn") == []

        made = await client.post("/functions/fn/urls/url", data={**form, "cors_max_age": "60"})
        assert made.status_code == 303, alert(made)
        [url] = await list_url_configs(wires.functions, _SCOPE, principal, "fn")
        assert (url.qualifier, url.auth_type, url.max_age) == ("$LATEST", "NONE", 60)
        assert url.allow_origins == ("https://example.com", "https://app.example.com")
        page = await client.get("/functions/fn/urls")
        shown = _section(page.text, "url-LATEST")
        assert f'<a href="{url.url}" class="function-url"' in shown
        assert "Make the function public" in shown and 'id="url-form"' not in page.text
        assert 'value="https://example.com, https://app.example.com"' in shown

        public = await client.post(
            "/functions/fn/urls/public-url", data={"csrf": token, "qualifier": "$LATEST"}
        )
        assert public.status_code == 303, alert(public)
        [statement] = await wires.functions.statements(_SCOPE, principal, "fn")
        assert (statement.sid, statement.action, statement.principal) == (
            "FunctionURLAllowPublicAccess",
            "lambda:InvokeFunctionUrl",
            "*",
        )
        assert '"lambda:FunctionUrlAuthType": "NONE"' in statement.condition

        changed = await client.post(
            "/functions/fn/urls/url",
            data={**form, "existing": "yes", "auth_type": "AWS_IAM", "cors_origins": "",
                  "cors_methods": "", "cors_max_age": ""},
        )  # fmt: skip
        assert changed.status_code == 303, alert(changed)
        [url] = await list_url_configs(wires.functions, _SCOPE, principal, "fn")
        assert (url.auth_type, url.allow_origins) == ("AWS_IAM", ())
        page = await client.get("/functions/fn/urls")
        assert "Make the function public" not in page.text

        unticked = await client.post(
            "/functions/fn/urls/delete-url", data={"csrf": token, "qualifier": "$LATEST"}
        )
        assert unticked.status_code == 400 and "Tick the box" in alert(unticked)
        gone = await client.post(
            "/functions/fn/urls/delete-url",
            data={"csrf": token, "qualifier": "$LATEST", "confirm": "yes"},
        )
        assert gone.status_code == 303, alert(gone)
        assert await list_url_configs(wires.functions, _SCOPE, principal, "fn") == []

        # An alias's own URL, beside none for $LATEST: its qualifier is the alias.
        version = await wires.functions.publish(_SCOPE, principal, "fn", "")
        await wires.functions.put_alias(
            _SCOPE, principal, "fn", "live", version=version, description="",
            routing={}, create=True,
        )  # fmt: skip
        page = await client.get("/functions/fn/urls")
        assert '<option value="live">live</option>' in form_of(page, "url-form")
        aliased = await client.post(
            "/functions/fn/urls/url",
            data={"csrf": token, "qualifier": "live", "auth_type": "AWS_IAM"},
        )
        assert aliased.status_code == 303, alert(aliased)
        [url] = await list_url_configs(wires.functions, _SCOPE, principal, "fn")
        assert (url.qualifier, url.invoke_mode) == ("live", "BUFFERED")
        assert 'id="url-live"' in (await client.get("/functions/fn/urls")).text


async def test_provisioned_concurrency_set_listed_and_removed(
    no_capacity: ConsoleHarness,
) -> None:
    async with no_capacity.client() as client:
        wires, principal, _arn = await _setup(no_capacity, client)
        version = await wires.functions.publish(_SCOPE, principal, "fn", "first")
        page = await client.get("/functions/fn/urls")
        token = csrf_of(page)
        assert f'<option value="{version}">{version}</option>' in form_of(page, "provisioned-form")
        assert 'id="no-provisioned"' in page.text

        form = {"csrf": token, "qualifier": version, "executions": "0"}
        refused = await client.post("/functions/fn/urls/provisioned", data=form)
        assert refused.status_code == 400, alert(refused)
        assert "Exception)" in alert(refused)
        assert 'name="executions" size="6" required value="0"' in form_of(
            refused, "provisioned-form"
        )
        made = await client.post("/functions/fn/urls/provisioned", data={**form, "executions": "1"})
        assert made.status_code == 303, alert(made)
        for _ in range(200):
            [config] = await list_provisioned(wires.functions, _SCOPE, principal, "fn")
            if config.status == "FAILED":
                break
            await asyncio.sleep(0.05)
        assert (config.qualifier, config.requested, config.status) == (version, 1, "FAILED")
        assert config.reason
        page = await client.get("/functions/fn/urls")
        row = page.text.split(f'id="provisioned-{version}">', 1)[1].split("</tr>", 1)[0]
        assert '<td class="requested">1</td>' in row
        assert '<td class="status">FAILED</td>' in row
        assert f'<td class="reason">{config.reason}</td>' in unescape(row)

        gone = await client.post(
            "/functions/fn/urls/delete-provisioned",
            data={"csrf": token, "qualifier": version, "confirm": "yes"},
        )
        assert gone.status_code == 303, alert(gone)
        assert await list_provisioned(wires.functions, _SCOPE, principal, "fn") == []


async def _one_mapping(wires: Any, principal: Any) -> Any:
    for _ in range(200):
        [mapping] = await list_mappings(wires.functions, _SCOPE, principal, "fn")
        if mapping.state not in ("Creating", "Updating"):
            return mapping
        await asyncio.sleep(0.05)
    raise AssertionError(mapping.state)


async def test_a_stream_mappings_settings_given_and_edited(console: ConsoleHarness) -> None:
    async with console.client() as client:
        wires, principal, _arn = await _setup(console, client)
        await wires.kinesis.create(_SCOPE, principal, "clicks", on_demand=False, shard_count="1")
        await wires.sqs.create_queue(_SCOPE, principal, "failed")
        queue = next(q.arn for q in await wires.sqs.list_queues(_SCOPE, principal))
        page = await client.get("/functions/fn/triggers")
        token = csrf_of(page)
        stream = page.text.split('<option value="arn:aws:kinesis:', 1)[1].split('"', 1)[0]
        stream = f"arn:aws:kinesis:{stream}"
        offered = form_of(page, "mapping-form")
        assert (
            f'<option value="{queue}">SQS: failed</option>'
            in offered.split('name="on_failure"', 1)[1]
        )

        form = {
            "csrf": token,
            "source": stream,
            "starting_position": "TRIM_HORIZON",
            "batch_size": "10",
            "batching_window": "2",
            "retries": "3",
            "max_record_age": "3600",
            "parallelization": "11",
            "tumbling_window": "30",
            "bisect": "yes",
            "on_failure": queue,
            "enabled": "yes",
        }
        refused = await client.post("/functions/fn/triggers/mapping", data=form)
        assert refused.status_code == 400, alert(refused)
        assert "(InvalidParameterValueException)" in alert(refused)
        typed = form_of(refused, "mapping-form")
        assert 'name="parallelization" size="3" value="11"' in typed
        assert f'<option value="{queue}" selected>' in typed
        made = await client.post(
            "/functions/fn/triggers/mapping", data={**form, "parallelization": "2"}
        )
        assert made.status_code == 303, alert(made)
        mapping = await _one_mapping(wires, principal)
        assert (mapping.batching_window, mapping.retries, mapping.max_record_age) == (2, 3, 3600)
        assert (mapping.parallelization, mapping.tumbling_window) == (2, 30)
        assert mapping.bisect and mapping.on_failure == queue

        edit = {"csrf": token, "uuid": mapping.uuid, "stream": "yes", "batch_size": "10",
                "batching_window": "0", "retries": "-1", "max_record_age": "-1",
                "parallelization": "1", "tumbling_window": "0"}  # fmt: skip
        bad = await client.post(
            "/functions/fn/triggers/mapping-settings", data={**edit, "tumbling_window": "901"}
        )
        assert bad.status_code == 400, alert(bad)
        row = unescape(bad.text.split(f'id="mapping-{mapping.uuid}">', 1)[1].split("</tr>", 1)[0])
        assert "<details open>" in row and 'name="tumbling_window" size="4" value="901"' in row
        edited = await client.post("/functions/fn/triggers/mapping-settings", data=edit)
        assert edited.status_code == 303, alert(edited)
        mapping = await _one_mapping(wires, principal)
        assert (mapping.retries, mapping.max_record_age, mapping.tumbling_window) == (-1, -1, 0)
        assert not mapping.bisect and mapping.on_failure == ""
        page = await client.get("/functions/fn/triggers")
        row = page.text.split(f'id="mapping-{mapping.uuid}">', 1)[1].split("</tr>", 1)[0]
        assert 'name="retries" size="6" value="-1"' in row and 'name="stream"' in row


async def test_a_user_sees_lambdas_refusals_on_the_urls_page(console: ConsoleHarness) -> None:
    """A user allowed GetFunction alone sees the page, the URLs' and provisioned
    concurrency's sections saying Lambda's refusal; a URL and the public permission refused
    with the form as typed; an unknown function is Lambda's 404."""
    async with console.client() as client:
        _wires, _principal, arn = await _setup(console, client)
        missing = await client.get("/functions/nothing/urls")
        assert missing.status_code == 404 and "(ResourceNotFoundException)" in alert(missing)
    tenant = console.admin_tenant_id
    await console.user_with_password(tenant, "viewer")
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "lambda:GetFunction", "Resource": arn}]}  # fmt: skip
    await console.identity.put_user_policy(tenant, "viewer", "read", json.dumps(policy))
    async with console.client() as client:
        assert (await log_in(client, "admin", "viewer")).status_code == 303
        page = await client.get("/functions/fn/urls")
        assert page.status_code == 200
        for section in ("urls-error", "provisioned-error"):
            shown = page.text.split(f'id="{section}">', 1)[1].split("</p>", 1)[0]
            assert "(AccessDeniedException)" in shown, section
        token = csrf_of(page)
        form = {"csrf": token, "qualifier": "$LATEST", "auth_type": "NONE", "cors_origins": "*"}
        refused = await client.post("/functions/fn/urls/url", data=form)
        assert refused.status_code == 403 and "(AccessDeniedException)" in alert(refused)
        typed = form_of(refused, "url-form")
        assert 'name="cors_origins" size="40" value="*"' in typed
        public = await client.post(
            "/functions/fn/urls/public-url", data={"csrf": token, "qualifier": "$LATEST"}
        )
        assert public.status_code == 403 and "(AccessDeniedException)" in alert(public)
