"""The console's queues page (decision 0158): each read and change SQS's own call as the
signed-in user, checked against what the queue service itself holds; message counts shown;
a refusal shown with SQS's code and status and the form as typed; a deletion only after its
box is ticked; the calls audited as boto3's are."""

from __future__ import annotations

import json
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


def _row(page: httpx.Response, name: str) -> str:
    start = page.text.index(f'id="queue-{name}"')
    return page.text[start : page.text.index("</tr>", start)]


async def test_fifo_and_kms_queues_made_from_the_form(console: ConsoleHarness) -> None:
    """Decisions 0164 and 0165: the form's type (a FIFO queue's name given its ``.fifo``,
    content-based deduplication ticked) and encryption (SSE-SQS, or a KMS key among the
    account's aliases and keys as KMS lists them to the user) sent to CreateQueue, and shown
    in the list; a refused creation shows SQS's error with the form as chosen."""
    tenant = console.admin_tenant_id
    running = console.application._running
    assert running is not None and running.console.console.kms is not None
    kms = running.console.console.kms
    await console.user_with_password(tenant, "root")
    async with console.client() as client:
        assert (await log_in(client, "admin", "root")).status_code == 303
        token = await csrf(client, "/keys")
        assert (
            await client.post("/keys", data={"csrf": token, "description": "q"})
        ).status_code == 303
        principal = await console.identity.resolve_console_session(
            client.cookies["andromede_console"]
        )
        origin = {"scheme": "http", "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 9000)}
        [(key_id, _)] = [
            c for c in await kms.key_choices(origin, principal, limit=10) if "/" not in c[0]
        ]
        await kms._json(
            origin, principal, "CreateAlias", {"AliasName": "alias/queues", "TargetKeyId": key_id}
        )
        form = await client.get("/queues")
        refused = await client.post(
            "/queues",
            data={"csrf": token, "name": "bad name", "queue_type": "fifo",
                  "content_based_deduplication": "yes", "kms_key": "alias/queues"},
        )  # fmt: skip
        fifo = await client.post(
            "/queues",
            data={"csrf": token, "name": "orders", "queue_type": "fifo",
                  "content_based_deduplication": "yes", "kms_key": "alias/queues"},
        )  # fmt: skip
        plain = await client.post(
            "/queues", data={"csrf": token, "name": "jobs", "queue_type": "standard", "kms_key": ""}
        )
        listing = await client.get("/queues")
        french = await client.get("/queues", headers={"accept-language": "fr"})
    assert '<option value="alias/aws/sqs">' in form.text
    assert f'<option value="alias/queues">KMS key: alias/queues ({key_id})</option>' in form.text
    assert f'<option value="{key_id}">KMS key: {key_id}</option>' in form.text
    assert refused.status_code == 400 and "(InvalidParameterValue)" in _alert(refused)
    assert 'value="bad name"' in refused.text
    assert '<option value="fifo" selected>' in refused.text
    assert 'name="content_based_deduplication" value="yes" checked' in refused.text
    assert '<option value="alias/queues" selected>' in refused.text
    assert fifo.status_code == 303 and plain.status_code == 303, (fifo.text, plain.text)
    service = queue_service(console.application.settings, running.db, running.keys)
    made = await service.get_queue(tenant, tenant, "orders.fifo")
    assert made.attributes["FifoQueue"] == "true"
    assert made.attributes["ContentBasedDeduplication"] == "true"
    assert made.attributes["KmsMasterKeyId"] == "alias/queues"
    standard = await service.get_queue(tenant, tenant, "jobs")
    assert "FifoQueue" not in standard.attributes
    assert standard.attributes["SqsManagedSseEnabled"] == "true"
    fifo_row, plain_row = _row(listing, "orders.fifo"), _row(listing, "jobs")
    assert '<td class="type">FIFO · content-based deduplication</td>' in fifo_row
    assert '<td class="encryption">SSE-KMS alias/queues</td>' in fifo_row
    assert '<td class="type">Standard</td>' in plain_row
    assert '<td class="encryption">SSE-SQS</td>' in plain_row
    assert "déduplication selon le contenu" in french.text and "Géré par SQS" in french.text


async def test_kms_keys_offered_as_kms_lists_them_to_the_user(console: ConsoleHarness) -> None:
    """A user SQS lets make queues but KMS does not let list keys: the form offers SQS's own
    key only, with no error, and the page works as before."""
    tenant = console.admin_tenant_id
    await console.user_with_password(tenant, "root")
    async with console.client() as client:
        assert (await log_in(client, "admin", "root")).status_code == 303
        token = await csrf(client, "/keys")
        assert (
            await client.post("/keys", data={"csrf": token, "description": "k"})
        ).status_code == 303
    await console.user_with_password(tenant, "queues")
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}],
    }
    await console.identity.put_user_policy(tenant, "queues", "sqs", json.dumps(policy))
    async with console.client() as client:
        assert (await log_in(client, "admin", "queues")).status_code == 303
        page = await client.get("/queues")
    assert page.status_code == 200 and 'role="alert"' not in page.text
    # standard, FIFO, SSE-SQS and alias/aws/sqs: not the key KMS would not list
    assert page.text.count("<option value=") == 4
    assert '<option value="alias/aws/sqs">' in page.text
