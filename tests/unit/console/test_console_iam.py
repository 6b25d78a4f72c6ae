"""The console's trail, access and usage pages decided as the management API decides them
(decision 0113): the same ``andromede:`` actions on the same ARNs, an IAM user allowed by
policy, refusals a localized page and an event of the tenant's log, the menu offering what
the user may open, and another tenant's access request not found."""

from __future__ import annotations

import json
from typing import Any

from andromede.audit.access import AccessMode, AccessRequest, Actor
from andromede.audit.model import Outcome
from support.console import ConsoleHarness, csrf, log_in, logged_events

USER = "auditor"
PAGES = {
    "/audit": ["andromede:GetAuditCheckpoint", "andromede:GetAuditEntries"],
    "/access-requests": ["andromede:ListOperatorAccessRequests"],
    "/usage": ["andromede:GetUsageReport"],
}
DECISIONS = {
    "approve": "andromede:ApproveOperatorAccess",
    "refuse": "andromede:RefuseOperatorAccess",
    "revoke": "andromede:RevokeOperatorAccess",
}


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _allow(actions: list[str] | str, resource: str = "*") -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resource}


def _deny(actions: list[str] | str, resource: str = "*") -> dict[str, Any]:
    return {"Effect": "Deny", "Action": actions, "Resource": resource}


async def _user(console: ConsoleHarness, *statements: dict[str, Any]) -> None:
    await console.user_with_password(console.admin_tenant_id, USER)
    if statements:
        await console.identity.put_user_policy(
            console.admin_tenant_id, USER, "console", _policy(*statements)
        )


async def _open_request(
    console: ConsoleHarness, tenant: str, mode: AccessMode = AccessMode.READ_ONLY
) -> AccessRequest:
    service = console.application_operator_access()
    known = {o.name: o for o in await console.identity.list_operators()}
    olga = known.get("olga") or (await console.identity.create_operator("olga")).operator
    operator = Actor(
        f"arn:andromede:platform::operator/{olga.name}", operator_id=olga.id, operator_name="olga"
    )
    return await service.open(
        operator,
        tenant,
        buckets=None,
        mode=mode,
        reason="ticket",
        duration_seconds=3600,
        request_id="test",
    )


async def _refusals(console: ConsoleHarness) -> list[tuple[str, str, str]]:
    return [
        (e.action, e.resource, e.details.get("error", ""))
        for e in await logged_events(console, console.admin_tenant_id)
        if e.outcome is Outcome.FAILURE and e.action.startswith("andromede:")
        and e.action != "andromede:ConsoleLogin"
    ]  # fmt: skip


def _menu(page: str) -> set[str]:
    nav = page.split("<nav", 1)[1].split("</nav>", 1)[0]
    return {path for path in PAGES if f'href="/console{path}"' in nav}


async def test_a_user_without_policies_is_refused_each_page_and_decision(
    console: ConsoleHarness,
) -> None:
    tenant = console.admin_tenant_id
    await _user(console)
    pending = await _open_request(console, tenant)
    service = console.application_operator_access()
    async with console.client(**{"accept-language": "fr"}) as client:
        await log_in(client, "admin", USER)
        buckets = await client.get("/buckets")
        pages = {path: await client.get(path) for path in PAGES}
        token = await csrf(client)
        decided = {
            verb: await client.post(f"/access-requests/{pending.id}/{verb}", data={"csrf": token})
            for verb in DECISIONS
        }
    assert _menu(buckets.text) == set()
    assert 'id="pending-access-requests"' not in buckets.text
    for path, page in pages.items():
        assert page.status_code == 403, path
        assert "Accès refusé" in page.text and "Vos politiques n" in page.text
        assert PAGES[path][0] in page.text  # the first action refused is named
    request_arn = f"arn:aws:andromede::{tenant}:operator-access/{pending.id}"
    for verb, answer in decided.items():
        assert answer.status_code == 403 and DECISIONS[verb] in answer.text, answer.text
    assert (await service.get(Actor("test", tenant_id=tenant), pending.id)).status.value == (
        "pending"
    )
    # Each refusal is the API's event; the menu's silent checks left none.
    assert await _refusals(console) == [
        ("andromede:GetAuditCheckpoint", f"arn:aws:andromede::{tenant}:audit-log", "access-denied"),
        (
            "andromede:ListOperatorAccessRequests",
            f"arn:aws:andromede::{tenant}:operator-access/*",
            "access-denied",
        ),
        ("andromede:GetUsageReport", f"arn:aws:andromede::{tenant}:usage", "access-denied"),
        *((DECISIONS[verb], request_arn, "access-denied") for verb in DECISIONS),
    ]


async def test_an_allow_for_one_page_opens_that_page_only(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    arns = {
        "/audit": f"arn:aws:andromede::{tenant}:audit-log",
        "/access-requests": f"arn:aws:andromede::{tenant}:operator-access/*",
        "/usage": f"arn:aws:andromede::{tenant}:usage",
    }
    await _open_request(console, tenant)
    for number, allowed in enumerate(PAGES):
        name = f"officer{number}"
        await console.user_with_password(tenant, name)
        await console.identity.put_user_policy(
            tenant, name, "page", _policy(_allow(PAGES[allowed], arns[allowed]))
        )
        async with console.client() as client:
            await log_in(client, "admin", name)
            buckets = await client.get("/buckets")
            pages = {path: await client.get(path) for path in PAGES}
        assert _menu(buckets.text) == {allowed}
        # The pending count goes with the right to list the requests, as whoami's.
        shown = 'id="pending-access-requests"' in buckets.text
        assert shown is (allowed == "/access-requests")
        for path, page in pages.items():
            assert page.status_code == (200 if path == allowed else 403), (path, page.text)


async def test_a_page_needs_each_of_its_actions(console: ConsoleHarness) -> None:
    await _user(console, _allow("andromede:GetAuditEntries"))
    async with console.client() as client:
        await log_in(client, "admin", USER)
        buckets = await client.get("/buckets")
        audit = await client.get("/audit")
    assert _menu(buckets.text) == set()
    assert audit.status_code == 403 and "andromede:GetAuditCheckpoint" in audit.text


async def test_an_explicit_deny_wins(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    await _user(
        console,
        _allow("andromede:*"),
        _deny("andromede:GetUsageReport"),
        _deny("andromede:ApproveOperatorAccess"),
    )
    pending = await _open_request(console, tenant)
    async with console.client() as client:
        await log_in(client, "admin", USER)
        buckets = await client.get("/buckets")
        usage = await client.get("/usage")
        audit = await client.get("/audit")
        token = await csrf(client)
        approve = await client.post(f"/access-requests/{pending.id}/approve", data={"csrf": token})
        refuse = await client.post(f"/access-requests/{pending.id}/refuse", data={"csrf": token})
    assert _menu(buckets.text) == {"/audit", "/access-requests"}
    assert usage.status_code == 403 and audit.status_code == 200
    assert approve.status_code == 403 and refuse.status_code == 303
    service = console.application_operator_access()
    found = await service.get(Actor("test", tenant_id=tenant), pending.id)
    assert found.status.value == "refused"


async def test_the_requests_own_condition_keys_decide(console: ConsoleHarness) -> None:
    """An officer allowed to approve read-only requests only, as on the API."""
    tenant = console.admin_tenant_id
    await _user(
        console,
        _allow("andromede:ListOperatorAccessRequests"),
        {
            **_allow("andromede:ApproveOperatorAccess"),
            "Condition": {"StringEquals": {"andromede:OperatorAccessMode": "read-only"}},
        },
    )
    reading = await _open_request(console, tenant, AccessMode.READ_ONLY)
    writing = await _open_request(console, tenant, AccessMode.READ_WRITE)
    async with console.client() as client:
        await log_in(client, "admin", USER)
        token = await csrf(client, "/access-requests")
        read = await client.post(f"/access-requests/{reading.id}/approve", data={"csrf": token})
        write = await client.post(f"/access-requests/{writing.id}/approve", data={"csrf": token})
    assert read.status_code == 303 and write.status_code == 403


async def test_the_root_sees_every_page_and_the_pending_count(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    await console.user_with_password(tenant, "root")
    for _ in range(2):
        await _open_request(console, tenant)
    async with console.client() as client:
        await log_in(client, "admin", "root")
        buckets = await client.get("/buckets")
        pages = [await client.get(path) for path in PAGES]
    assert _menu(buckets.text) == set(PAGES)
    assert 'id="pending-access-requests" title="pending requests">2<' in buckets.text
    assert all(page.status_code == 200 for page in pages)


async def test_another_tenants_request_is_not_found(console: ConsoleHarness) -> None:
    other = await console.identity.create_tenant("other")
    theirs = await _open_request(console, other.tenant.id)
    await console.user_with_password(console.admin_tenant_id, "root")
    await _user(console, _allow("andromede:*"))
    for who in ("root", USER):
        async with console.client() as client:
            await log_in(client, "admin", who)
            token = await csrf(client)
            answers = [
                await client.post(f"/access-requests/{theirs.id}/{verb}", data={"csrf": token})
                for verb in DECISIONS
            ]
            listed = await client.get("/access-requests")
        assert [a.status_code for a in answers] == [404, 404, 404], who
        assert "No such access request." in answers[0].text
        assert listed.status_code == 200 and theirs.id not in listed.text
    service = console.application_operator_access()
    found = await service.get(Actor("test", tenant_id=other.tenant.id), theirs.id)
    assert found.status.value == "pending"
    assert await _refusals(console) == []  # not found before anything is decided
