"""A queue's settings page (decision 0111, session 47): its attributes read with
GetQueueAttributes and changed with one SetQueueAttributes as the signed-in user, checked
against what the queue service itself holds; SQS's refusals (a value out of range, FIFO's
throughput rule, a queue of no one's) shown with SQS's code and the form as typed; a purge
after a ticked box."""

from __future__ import annotations

import json
from html import unescape

import httpx

from andromede.console.pages_queue_settings import NO_ENCRYPTION, settings_attributes, shown_fields
from andromede.wiring.queues import queue_service
from support.console import ConsoleHarness, csrf, log_in, logged_events


def _alert(page: httpx.Response) -> str:
    return unescape(page.text.split('role="alert">', 1)[1].split("</p>", 1)[0])


_DEFAULTS = {
    "VisibilityTimeout": "30",
    "MessageRetentionPeriod": "345600",
    "DelaySeconds": "0",
    "MaximumMessageSize": "262144",
    "ReceiveMessageWaitTimeSeconds": "0",
}


async def test_settings_saved_refused_and_purged(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    running = console.application._running
    assert running is not None
    region = console.application.settings.region
    dlq_arn = f"arn:aws:sqs:{region}:{tenant}:dead"
    await console.user_with_password(tenant, "root")
    async with console.client() as client:
        assert (await log_in(client, "admin", "root")).status_code == 303
        token = await csrf(client, "/queues")
        for name in ("jobs", "dead"):
            made = await client.post("/queues", data={"csrf": token, "name": name})
            assert made.status_code == 303
        service = queue_service(console.application.settings, running.db, running.keys)
        jobs = await service.get_queue(tenant, tenant, "jobs")
        await service.send_message(jobs, "a", {}, {}, None, "test")
        listing = await client.get("/queues")
        page = await client.get("/queues/jobs")
        saved = await client.post(
            "/queues/jobs/settings",
            data={"csrf": token, "VisibilityTimeout": "45", "MessageRetentionPeriod": "3600",
                  "DelaySeconds": "5", "MaximumMessageSize": "2048",
                  "ReceiveMessageWaitTimeSeconds": "10", "dead_letter_arn": dlq_arn,
                  "max_receive_count": "3", "redrive_permission": "", "kms_key": "alias/aws/sqs",
                  "reuse_period": "600"},
        )  # fmt: skip
        after = await client.get("/queues/jobs")
        refused = await client.post(
            "/queues/jobs/settings",
            data={"csrf": token, **_DEFAULTS, "VisibilityTimeout": "99999", "kms_key": ""},
        )
        allowed = await client.post(
            "/queues/dead/settings",
            data={"csrf": token, **_DEFAULTS, "redrive_permission": "byQueue",
                  "source_queue_arn": jobs.arn, "kms_key": "-"},
        )  # fmt: skip
        unticked = await client.post("/queues/jobs/purge", data={"csrf": token})
        purged = await client.post("/queues/jobs/purge", data={"csrf": token, "confirm": "yes"})
        emptied = await client.get("/queues/jobs")
        missing = await client.get("/queues/nowhere")
        forged = await client.post("/queues/jobs/purge", data={"csrf": "x", "confirm": "yes"})
    assert 'href="/console/queues/jobs"' in listing.text
    assert page.status_code == 200
    assert 'name="VisibilityTimeout" inputmode="numeric" size="6" value="30"' in page.text
    assert f'<option value="{dlq_arn}">dead</option>' in page.text
    assert '<td class="visible">1</td>' in page.text
    assert saved.status_code == 303 and saved.headers["location"] == "/console/queues/jobs"
    held = (await service.get_queue(tenant, tenant, "jobs")).attributes
    assert held["VisibilityTimeout"] == "45" and held["MessageRetentionPeriod"] == "3600"
    assert held["DelaySeconds"] == "5" and held["MaximumMessageSize"] == "2048"
    assert held["ReceiveMessageWaitTimeSeconds"] == "10"
    assert json.loads(held["RedrivePolicy"]) == {"deadLetterTargetArn": dlq_arn,
                                                 "maxReceiveCount": 3}  # fmt: skip
    assert held["KmsMasterKeyId"] == "alias/aws/sqs"
    assert held["KmsDataKeyReusePeriodSeconds"] == "600"
    assert f'<option value="{dlq_arn}" selected>dead</option>' in after.text
    assert '<option value="alias/aws/sqs" selected>' in after.text
    assert refused.status_code == 400 and "(InvalidAttributeValue)" in _alert(refused)
    assert 'value="99999"' in refused.text
    assert allowed.status_code == 303, allowed.text
    dead = (await service.get_queue(tenant, tenant, "dead")).attributes
    assert json.loads(dead["RedriveAllowPolicy"]) == {
        "redrivePermission": "byQueue", "sourceQueueArns": [jobs.arn]
    }  # fmt: skip
    assert dead["SqsManagedSseEnabled"] == "false" and "KmsMasterKeyId" not in dead
    assert unticked.status_code == 400 and "Tick the box" in _alert(unticked)
    assert purged.status_code == 303
    assert '<td class="visible">0</td>' in emptied.text
    assert missing.status_code == 400 and "(QueueDoesNotExist)" in _alert(missing)
    assert forged.status_code == 403
    actions = [e.action for e in await logged_events(console, tenant)]
    assert "sqs:SetQueueAttributes" in actions and "sqs:PurgeQueue" in actions


async def test_fifo_settings_and_sqss_combination_rule(console: ConsoleHarness) -> None:
    """A FIFO queue's page adds content-based deduplication, its scope and throughput limit;
    ``perMessageGroupId`` without the ``messageGroup`` scope is SQS's own refusal, shown with
    the choices as made; French."""
    tenant = console.admin_tenant_id
    running = console.application._running
    assert running is not None
    await console.user_with_password(tenant, "root")
    async with console.client() as client:
        assert (await log_in(client, "admin", "root")).status_code == 303
        token = await csrf(client, "/queues")
        made = await client.post(
            "/queues", data={"csrf": token, "name": "orders", "queue_type": "fifo"}
        )
        assert made.status_code == 303
        standard = await client.post("/queues", data={"csrf": token, "name": "plain"})
        assert standard.status_code == 303
        page = await client.get("/queues/orders.fifo")
        plain = await client.get("/queues/plain")
        fifo = {"csrf": token, **_DEFAULTS, "kms_key": "", "content_based_deduplication": "yes"}
        refused = await client.post(
            "/queues/orders.fifo/settings",
            data={**fifo, "deduplication_scope": "messageQueue",
                  "throughput_limit": "perMessageGroupId"},
        )  # fmt: skip
        saved = await client.post(
            "/queues/orders.fifo/settings",
            data={**fifo, "deduplication_scope": "messageGroup",
                  "throughput_limit": "perMessageGroupId"},
        )  # fmt: skip
        french = await client.get("/queues/orders.fifo", headers={"accept-language": "fr"})
    assert 'name="deduplication_scope"' in page.text
    assert 'name="deduplication_scope"' not in plain.text
    assert refused.status_code == 400
    assert "perMessageGroupId is allowed only when" in _alert(refused)
    assert "(InvalidAttributeValue)" in _alert(refused)
    assert '<option value="perMessageGroupId" selected>' in refused.text
    assert 'name="content_based_deduplication" value="yes" checked' in refused.text
    assert saved.status_code == 303, saved.text
    service = queue_service(console.application.settings, running.db, running.keys)
    held = (await service.get_queue(tenant, tenant, "orders.fifo")).attributes
    assert held["DeduplicationScope"] == "messageGroup"
    assert held["FifoThroughputLimit"] == "perMessageGroupId"
    assert held["ContentBasedDeduplication"] == "true"
    assert "Délai de visibilité" in french.text and "Purger" in french.text


def test_the_form_read_into_set_queue_attributes() -> None:
    """What the form sends, apart from SQS: a standard queue gets no FIFO attribute, no
    dead-letter queue and no allow policy are removals (``""``), a count that is not a number
    goes as typed for SQS to refuse; what a page shows of a policy it cannot read is nothing."""
    fields = {"VisibilityTimeout": " 40 ", "dead_letter_arn": "arn:aws:sqs:r:1:d",
              "max_receive_count": "many", "kms_key": "alias/k", "reuse_period": "120",
              "content_based_deduplication": "yes"}  # fmt: skip
    sent = settings_attributes(fields, [], fifo=False)
    assert sent["VisibilityTimeout"] == "40" and sent["DelaySeconds"] == ""
    assert json.loads(sent["RedrivePolicy"]) == {
        "deadLetterTargetArn": "arn:aws:sqs:r:1:d", "maxReceiveCount": "many"
    }  # fmt: skip
    assert sent["RedriveAllowPolicy"] == ""
    assert sent["KmsMasterKeyId"] == "alias/k" and sent["KmsDataKeyReusePeriodSeconds"] == "120"
    assert "SqsManagedSseEnabled" not in sent and "ContentBasedDeduplication" not in sent
    fifo = settings_attributes(
        {"redrive_permission": "byQueue", "kms_key": ""}, ["arn:a", "arn:b"], fifo=True
    )
    assert fifo["RedrivePolicy"] == "" and fifo["SqsManagedSseEnabled"] == "true"
    assert json.loads(fifo["RedriveAllowPolicy"]) == {
        "redrivePermission": "byQueue", "sourceQueueArns": ["arn:a", "arn:b"]
    }  # fmt: skip
    assert fifo["ContentBasedDeduplication"] == "false"
    shown = shown_fields(
        {"RedrivePolicy": "[1]", "RedriveAllowPolicy": "{", "SqsManagedSseEnabled": "false"}
    )
    assert shown["dead_letter_arn"] == "" and shown["redrive_permission"] == ""
    assert shown["kms_key"] == NO_ENCRYPTION
