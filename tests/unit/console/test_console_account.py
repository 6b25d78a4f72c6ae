"""The tenant root's pages: audit trail, operator access requests, usage and cost; and their
refusal to the tenant's users whose policies do not allow them (test_console_iam.py has the
rest of who may)."""

from __future__ import annotations

import html

from andromede.audit.access import AccessMode, Actor
from support.console import ConsoleHarness, csrf, log_in


async def test_users_without_policies_are_refused_the_roots_pages(console: ConsoleHarness) -> None:
    await console.user_with_password(console.admin_tenant_id, "intern")
    async with console.client() as client:
        await log_in(client, "admin", "intern")
        buckets = await client.get("/buckets")
        pages = [await client.get(p) for p in ("/audit", "/access-requests", "/usage")]
    assert 'href="/console/audit"' not in buckets.text  # not offered in the menu either
    for page in pages:
        assert page.status_code == 403 and "Access denied" in page.text


async def test_the_audit_trail_shows_the_checkpoint_and_entries_by_page(
    console: ConsoleHarness,
) -> None:
    await console.user_with_password(console.admin_tenant_id, "root")
    running = console.application._running
    assert running is not None
    async with console.client() as client:
        for _ in range(3):
            await log_in(client, "admin", "root", "Wrong-Horse-42")
        await log_in(client, "admin", "root")
        await running.audit.flush()
        first = await client.get("/audit")
        assert first.status_code == 200, first.text
        trail = running.console.console.trail
        assert trail is not None
        # The signed note as served: the log's origin, the size the page states, a signature.
        note = html.unescape(first.text.split('<pre class="checkpoint">')[1].split("</pre>")[0])
        origin, size_line, *rest = note.splitlines()
        assert origin == trail.origin(console.admin_tenant_id)
        assert any(line.startswith("\u2014 ") for line in rest), note
        assert "andromede:ConsoleLogin" in first.text
        rows = first.text.count('class="entry"')
        assert 0 < rows <= console.application.settings.console_page_size
        size = int(first.text.split("Entries in the log: ")[1].split("<")[0])
        assert size_line == str(size)
        older = await client.get("/audit", params={"end": "1"})
    assert rows == min(size, console.application.settings.console_page_size)
    assert older.status_code == 200 and older.text.count('class="entry"') == 1


async def test_root_approves_refuses_and_revokes_operator_access(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    await console.user_with_password(tenant, "root")
    running = console.application._running
    assert running is not None
    service = console.application_operator_access()
    olga = (await console.identity.create_operator("olga")).operator
    operator = Actor(
        f"arn:andromede:platform::operator/{olga.name}", operator_id=olga.id, operator_name="olga"
    )
    opened = [
        await service.open(
            operator,
            tenant,
            buckets=None,
            mode=AccessMode.READ_ONLY,
            reason=f"ticket {n}",
            duration_seconds=3600,
            request_id="test",
        )
        for n in range(2)
    ]
    async with console.client() as client:
        await log_in(client, "admin", "root")
        listed = await client.get("/access-requests")
        token = await csrf(client, "/access-requests")
        forged = await client.post(f"/access-requests/{opened[0].id}/approve")
        approved = await client.post(
            f"/access-requests/{opened[0].id}/approve", data={"csrf": token}
        )
        refused = await client.post(f"/access-requests/{opened[1].id}/refuse", data={"csrf": token})
        again = await client.post(f"/access-requests/{opened[1].id}/approve", data={"csrf": token})
        revoked = await client.post(f"/access-requests/{opened[0].id}/revoke", data={"csrf": token})
    assert listed.status_code == 200 and "ticket 0" in listed.text and "olga" in listed.text
    assert forged.status_code == 403
    assert approved.status_code == refused.status_code == revoked.status_code == 303
    assert again.status_code == 409  # a refused request cannot be approved: the service says so
    states = {r.id: r.state(service.now()).value for r in await service.tenant_requests(tenant)}
    assert states == {opened[0].id: "revoked", opened[1].id: "refused"}


async def test_usage_and_cost_of_the_month(console: ConsoleHarness) -> None:
    await console.user_with_password(console.admin_tenant_id, "root")
    async with console.client(**{"accept-language": "fr"}) as client:
        await log_in(client, "admin", "root")
        page = await client.get("/usage")
    assert page.status_code == 200
    assert "Consommation et coût" in page.text and "EUR" in page.text and "TVA" in page.text


async def test_usage_of_another_month_on_the_page_and_as_csv(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    await console.user_with_password(tenant, "root")
    await console.user_with_password(tenant, "intern")
    async with console.client() as client:
        await log_in(client, "admin", "root")
        january = await client.get("/usage", params={"month": "2026-01"})
        exported = await client.get("/usage.csv", params={"month": "2026-01"})
        nonsense = await client.get("/usage", params={"month": "2026-13"})
    async with console.client() as intern:
        await log_in(intern, "admin", "intern")
        refused = await intern.get("/usage.csv", params={"month": "2026-01"})
    assert january.status_code == 200 and 'value="2026-01"' in january.text
    assert 'href="/console/usage?month=2025-12" rel="prev"' in january.text
    assert 'href="/console/usage?month=2026-02" rel="next"' in january.text
    assert exported.status_code == 200
    assert exported.headers["content-type"] == "text/csv; charset=utf-8"
    assert exported.headers["content-disposition"] == (
        f'attachment; filename="usage-{tenant}-2026-01.csv"'
    )
    header, *rows = exported.text.splitlines()
    assert header.startswith("period,") and rows and rows[-1].startswith("2026-01,")
    assert nonsense.status_code == 400 and "YYYY-MM" in nonsense.text
    assert refused.status_code == 403 and "andromede:GetUsageReport" in refused.text
