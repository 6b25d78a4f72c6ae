"""The console's queues page (decision 0158): each read and change SQS's own call as the
signed-in user, checked against what the queue service itself holds; message counts shown;
a refusal shown with SQS's code and status and the form as typed; a deletion only after its
box is ticked; the calls audited as boto3's are."""

from __future__ import annotations

from html import unescape

import httpx

from andromede.wiring.queues import queue_service
from support.console import ConsoleHarness, csrf, log_in, logged_events


def _alert(page: httpx.Response) -> str:
    return unescape(page.text.split('role="alert">', 1)[1].split("</p>", 1)[0])


async def test_queues_created_counted_and_deleted_after_a_ticked_box(
    console: ConsoleHarness,
) -> None:
    tenant = console.admin_tenant_id
    running = console.application._running
    assert running is not None
    await console.user_with_password(tenant, "root")
    async with console.client() as client:
        assert (await client.get("/queues")).status_code == 303  # no session: the login
        assert (await log_in(client, "admin", "root")).status_code == 303
        token = await csrf(client, "/queues")
        created = await client.post("/queues", data={"csrf": token, "name": "jobs"})
        assert created.status_code == 303 and created.headers["location"] == "/console/queues"
        # Two messages sent through a queue service of its own, as another gateway's.
        service = queue_service(console.application.settings, running.db, running.keys)
        queue = await service.get_queue(tenant, tenant, "jobs")
        for body in ("a", "b"):
            await service.send_message(queue, body, {}, {}, None, "test")
        listing = await client.get("/queues")
        refused = await client.post("/queues", data={"csrf": token, "name": "bad.fifo"})
        url = listing.text.split('name="queue_url" value="', 1)[1].split('"', 1)[0]
        unticked = await client.post("/queues/delete", data={"csrf": token, "queue_url": url})
        deleted = await client.post(
            "/queues/delete", data={"csrf": token, "queue_url": url, "confirm": "yes"}
        )
        after = await client.get("/queues")
    assert listing.status_code == 200
    assert f"<code>arn:aws:sqs:{console.application.settings.region}:{tenant}:jobs</code>" in (
        listing.text
    )
    assert '<td class="visible">2</td>' in listing.text
    assert refused.status_code == 400 and "(InvalidParameterValue)" in _alert(refused)
    assert 'value="bad.fifo"' in refused.text
    assert unticked.status_code == 400 and "Tick the box" in _alert(unticked)
    assert deleted.status_code == 303
    assert "No queues." in after.text
    actions = [e.action for e in await logged_events(console, tenant)]
    assert "sqs:CreateQueue" in actions and "sqs:DeleteQueue" in actions
