"""The console's Secrets Manager pages (decision 0111, session 48; decision 0190): each read
and change Secrets Manager's own call as the signed-in user; a value read only on the
"Retrieve value" POST, answered ``no-store``, and found in no GET answer, no refusal's page,
no log record and no audit event; a refusal shown in the service's words; the list filtered
by name and paged."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from html import unescape
from pathlib import Path

import httpx
import pytest

from support.console import (
    ConsoleHarness,
    console_harness,
    csrf,
    log_in,
    logged_events,
    sign_in_root,
)

_VALUE = "s3cr3t-Pa55-7f1c9e"  # what no log line nor GET answer may hold


def _alert(page: httpx.Response) -> str:
    return unescape(page.text.split('role="alert">', 1)[1].split("</p>", 1)[0])


def _shown_value(page: httpx.Response) -> str:
    return unescape(page.text.split('<pre id="secret-value">', 1)[1].split("</pre>", 1)[0])


async def test_a_secret_created_read_changed_deleted_and_restored(
    console: ConsoleHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    started = datetime.now(UTC)
    gets: list[httpx.Response] = []
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        token = await csrf(client, "/secrets")
        created = await client.post(
            "/secrets",
            data={
                "csrf": token, "name": "prod/db", "description": "the database",
                "pair_key_1": "user", "pair_value_1": "app",
                "pair_key_2": "password", "pair_value_2": _VALUE,
                "tags": "team=data\nenv=prod",
            },
        )  # fmt: skip
        page = await client.get(created.headers["location"].removeprefix("/console"))
        gets.append(page)
        read = await client.post("/secrets/prod/db/value", data={"csrf": token})
        # A key of the account's, then the secret sealed under it from now on.
        assert (await client.post("/keys", data={"csrf": token})).status_code == 303
        listed_keys = await client.get("/secrets/prod/db")
        key_id = listed_keys.text.split('name="kms_key">', 1)[1].split('<option value="', 2)[2]
        key_id = key_id.split('"', 1)[0]
        updated = await client.post(
            "/secrets/prod/db/update",
            data={"csrf": token, "description": "the main database", "kms_key": key_id},
        )
        both = await client.post(
            "/secrets/prod/db/put-value",
            data={"csrf": token, "value": _VALUE, "pair_key_1": "k", "pair_value_1": "v"},
        )
        put = await client.post(
            "/secrets/prod/db/put-value", data={"csrf": token, "value": f"{_VALUE}-2"}
        )
        after_put = await client.get("/secrets/prod/db")
        gets.append(after_put)
        read_again = await client.post("/secrets/prod/db/value", data={"csrf": token})
        unticked = await client.post("/secrets/prod/db/delete", data={"csrf": token, "days": "7"})
        deleted = await client.post(
            "/secrets/prod/db/delete", data={"csrf": token, "days": "7", "confirm": "yes"}
        )
        listing = await client.get("/secrets")
        gets.append(listing)
        marked = await client.get("/secrets/prod/db")
        gets.append(marked)
        read_deleted = await client.post("/secrets/prod/db/value", data={"csrf": token})
        restored = await client.post("/secrets/prod/db/restore", data={"csrf": token})
        gets.append(await client.get("/secrets"))
    assert created.status_code == 303
    assert created.headers["location"] == "/console/secrets/prod%2Fdb"
    assert page.status_code == 200
    assert f"arn:aws:secretsmanager:eu-fr-1:{tenant}:secret:prod/db-" in page.text
    assert "<code>aws/secretsmanager</code>" in page.text and "AWSCURRENT" in page.text
    assert "<code>team=data</code>" in page.text and 'id="secret-policy">None' in page.text
    assert read.status_code == 200 and read.headers["cache-control"] == "no-store"
    assert json.loads(_shown_value(read)) == {"user": "app", "password": _VALUE}
    assert updated.status_code == 303
    assert both.status_code == 400 and "not both" in _alert(both)
    assert put.status_code == 303
    assert "the main database" in after_put.text and f"<code>{key_id}</code>" in after_put.text
    # The value read before: its day shown (either side of a midnight the test ran across).
    days = {day.strftime("%Y-%m-%d") for day in (started, datetime.now(UTC))}
    assert any(f'id="secret-last-retrieved">{day}</td>' in after_put.text for day in days)
    assert 'id="secret-last-retrieved"></td>' in page.text  # not read yet
    assert "AWSPREVIOUS" in after_put.text and after_put.text.count('class="version"') == 2
    assert _shown_value(read_again) == f"{_VALUE}-2"
    assert unticked.status_code == 400 and "Tick the box" in _alert(unticked)
    assert deleted.status_code == 303
    assert "Marked for deletion on" in listing.text and 'id="restore-secret"' in marked.text
    assert read_deleted.status_code == 400 and "(InvalidRequestException)" in _alert(read_deleted)
    assert restored.status_code == 303
    assert "Marked for deletion on" not in gets[-1].text
    # The value: only in the two POST answers that asked for it.
    for answer in (*gets, both, unticked, read_deleted):
        assert _VALUE not in answer.text
    assert _VALUE not in caplog.text
    assert all(_VALUE not in str(r.args) for r in caplog.records)
    events = await logged_events(console, tenant)
    assert _VALUE not in repr(events)
    actions = [e.action for e in events]
    for action in ("CreateSecret", "GetSecretValue", "PutSecretValue", "UpdateSecret"):
        assert f"secretsmanager:{action}" in actions
    assert "secretsmanager:DeleteSecret" in actions and "secretsmanager:RestoreSecret" in actions


async def test_refusals_in_the_services_words_and_no_value_without_the_token(
    console: ConsoleHarness,
) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        token = await csrf(client, "/secrets")
        await client.post("/secrets", data={"csrf": token, "name": "api", "value": _VALUE})
        no_token = await client.post("/secrets/api/value", data={})
        wrong_window = await client.post(
            "/secrets/api/delete", data={"csrf": token, "days": "3", "confirm": "yes"}
        )
        duplicate = await client.post(
            "/secrets", data={"csrf": token, "name": "api", "value": _VALUE, "tags": "a=b"}
        )
        missing = await client.get("/secrets/nothing-here")
        unknown_action = await client.post("/secrets/api/replicate", data={"csrf": token})
    await console.user_with_password(tenant, "alice")  # no policy: every call refused
    async with console.client() as client:
        assert (await log_in(client, "admin", "alice")).status_code == 303
        refused_list = await client.get("/secrets")
        refused_read = await client.post(
            "/secrets/api/value", data={"csrf": await csrf(client, "/secrets")}
        )
    assert no_token.status_code == 403 and _VALUE not in no_token.text
    assert wrong_window.status_code == 400 and "(InvalidParameterException)" in _alert(wrong_window)
    assert duplicate.status_code == 400 and "(ResourceExistsException)" in _alert(duplicate)
    # The refused form keeps what was typed but the value.
    assert 'value="api"' in duplicate.text and "a=b" in duplicate.text
    assert _VALUE not in duplicate.text
    assert missing.status_code == 400 and "(ResourceNotFoundException)" in _alert(missing)
    assert unknown_action.status_code == 200 and _VALUE not in unknown_action.text
    assert refused_list.status_code == 400
    assert "(AccessDeniedException)" in _alert(refused_list)
    assert refused_read.status_code == 400 and _VALUE not in refused_read.text


async def test_the_list_filtered_by_name_and_paged(tmp_path: Path) -> None:
    async with console_harness(tmp_path, console_page_size=2) as console:
        async with console.client() as client:
            await sign_in_root(console, client)
            token = await csrf(client, "/secrets")
            for name in ("app/one", "app/two", "app/three", "other"):
                answer = await client.post(
                    "/secrets", data={"csrf": token, "name": name, "value": "v"}
                )
                assert answer.status_code == 303, answer.text
            first = await client.get("/secrets", params={"name": "app/"})
            href = first.text.split('rel="next" id="secrets-next"', 1)[0].rsplit('href="', 1)[1]
            second = await client.get(unescape(href.split('"', 1)[0]).removeprefix("/console"))
    rows = [*first.text.split('class="secret"')[1:], *second.text.split('class="secret"')[1:]]
    names = sorted(row.split("</a>", 1)[0].rsplit(">", 1)[1] for row in rows)
    assert names == ["app/one", "app/three", "app/two"]
    assert 'id="secrets-next"' not in second.text
