"""The account-level subscription filter policy of CloudWatch Logs in the console (decisions
0232 and 0239), on the log groups' area: none shown, one put (a Firehose stream and a role of
the account offered by the form, a pattern, excluded groups), refused by Logs' test record for
a role that may not put records (its words, the form as typed), shown, replaced and deleted
after a ticked box. Each Logs' own call as the signed-in user, checked against what it
answers apart from the console."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest

from andromede.console.pages_log_subscription_policy import document_of, selection_criteria
from support.console import ConsoleHarness, console_harness, csrf_of, log_in, sign_in_root
from unit.console.test_console_firehose import make_stream, put_records_policy, trust

_PAGE = "/log-groups/account-subscription"


def alert(page: httpx.Response) -> str:
    return unescape(page.text.split('role="alert">', 1)[1].split("</p>", 1)[0])


def form_of(page: httpx.Response, form_id: str) -> str:
    return page.text.split(f'id="{form_id}"', 1)[1].split("</form>", 1)[0]


async def policies(console: ConsoleHarness, client: httpx.AsyncClient) -> list[dict[str, Any]]:
    """DescribeAccountPolicies of the type, as the client's user, apart from the pages."""
    running = console.application._running
    assert running is not None
    wire = running.console.console.logs
    assert wire is not None
    principal = await console.identity.resolve_console_session(client.cookies["andromede_console"])
    scope = {"client": ("127.0.0.1", 1), "server": ("127.0.0.1", 9001), "scheme": "http"}
    answer = await wire._json(
        scope, principal, "DescribeAccountPolicies", {"policyType": "SUBSCRIPTION_FILTER_POLICY"}
    )
    return list(answer["accountPolicies"])


@pytest.fixture
async def quick(tmp_path: Path) -> AsyncIterator[ConsoleHarness]:
    async with console_harness(tmp_path, firehose_delivery_poll_interval=0.05) as harness:
        yield harness


def test_the_document_and_criteria_written_from_the_fields() -> None:
    document = json.loads(document_of({"destination_arn": " arn:d ", "role_arn": "arn:r",
                                       "pattern": "ERROR", "distribution": "Random"}))  # fmt: skip
    assert document == {"DestinationArn": "arn:d", "RoleArn": "arn:r", "FilterPattern": "ERROR",
                        "Distribution": "Random"}  # fmt: skip
    assert selection_criteria(' /aws/firehose \n\n/app/"q"\n') == (
        'LogGroupName NOT IN ["/aws/firehose", "/app/\\"q\\""]'
    )
    assert selection_criteria("\n") == ""


async def test_the_accounts_policy_put_shown_and_deleted(quick: ConsoleHarness) -> None:
    console = quick
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        stream_arn = await make_stream(console, client, tenant)
        unallowed = await console.identity.create_role(tenant, "bare", trust("logs.amazonaws.com"))
        role = await console.identity.create_role(tenant, "cwl", trust("logs.amazonaws.com"))
        await console.identity.put_role_policy(tenant, "cwl", "put", put_records_policy(stream_arn))
        groups = await client.get("/log-groups")
        assert f'href="/console{_PAGE}"' in groups.text
        empty = await client.get(_PAGE)
        assert empty.status_code == 200 and 'id="no-account-subscription"' in empty.text
        token = csrf_of(empty)
        putting = form_of(empty, "account-subscription-form")
        assert f'<option value="{stream_arn}">clicks</option>' in putting
        assert f'<option value="{role.arn}">cwl</option>' in putting

        fields = {"csrf": token, "policy_name": "to-siem", "destination_arn": stream_arn,
                  "role_arn": unallowed.arn, "pattern": "ERROR", "distribution": "Random",
                  "excluded": "/aws/kinesisfirehose/clicks\n/app/noisy"}  # fmt: skip
        refused = await client.post(_PAGE, data=fields)
        assert refused.status_code == 400, refused.text
        assert "Could not deliver test message" in alert(refused)
        again = form_of(refused, "account-subscription-form")
        assert 'value="to-siem"' in again and 'value="ERROR"' in again
        assert f'<option value="{unallowed.arn}" selected>' in again
        assert "/aws/kinesisfirehose/clicks\n/app/noisy" in again
        assert await policies(console, client) == []

        put = await client.post(_PAGE, data=fields | {"role_arn": role.arn})
        assert put.status_code == 303, alert(put)
        [held] = await policies(console, client)
        assert held["policyName"] == "to-siem" and held["scope"] == "ALL"
        assert held["selectionCriteria"] == (
            'LogGroupName NOT IN ["/aws/kinesisfirehose/clicks", "/app/noisy"]'
        )
        assert json.loads(held["policyDocument"]) == {
            "DestinationArn": stream_arn, "RoleArn": role.arn, "FilterPattern": "ERROR",
            "Distribution": "Random",
        }  # fmt: skip
        shown = await client.get(_PAGE)
        assert '<td id="policy-name">to-siem</td>' in shown.text
        assert f'<td id="policy-destination"><code>{stream_arn}</code></td>' in shown.text
        assert "<code>/app/noisy</code>" in shown.text.split('id="policy-excluded"', 1)[1]
        # The form holds the policy as it is, to replace it.
        replacing = form_of(shown, "account-subscription-form")
        assert f'<option value="{role.arn}" selected>' in replacing
        assert "/aws/kinesisfirehose/clicks\n/app/noisy" in replacing

        # A second name: Logs' one-an-account refusal.
        second = await client.post(_PAGE, data=fields | {"role_arn": role.arn,
                                                         "policy_name": "other"})  # fmt: skip
        assert second.status_code == 400 and "(LimitExceededException)" in alert(second)

        delete = {"csrf": token, "policy_name": "to-siem"}
        unticked = await client.post(f"{_PAGE}/delete", data=delete)
        assert unticked.status_code == 400 and len(await policies(console, client)) == 1
        deleted = await client.post(f"{_PAGE}/delete", data=delete | {"confirm": "yes"})
        assert deleted.status_code == 303 and deleted.headers["location"] == f"/console{_PAGE}"
        assert await policies(console, client) == []
        assert 'id="no-account-subscription"' in (await client.get(_PAGE)).text


async def test_a_user_logs_refuses_sees_its_refusal(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    await console.user_with_password(tenant, "reader")
    async with console.client() as client:
        assert (await log_in(client, "admin", "reader")).status_code == 303
        page = await client.get(_PAGE)
        assert page.status_code == 400 and "(AccessDeniedException)" in alert(page)
