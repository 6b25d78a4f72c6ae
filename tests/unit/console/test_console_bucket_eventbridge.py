"""A bucket's ``EventBridgeConfiguration`` on the console's settings page (decision 0111,
session 48): shown as AWS's console shows it, an On/Off setting beside the rules, never as a
rule naming the placeholder bus; turned on and off without touching the rules, and kept when a
rule is added or removed; so are the queues' rules, listed with the topics'."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from html import unescape

from andromede.wiring.queues import queue_service
from support.console import ConsoleHarness
from unit.console.test_console_bucket_settings import BUCKET, SETTINGS, _root, _s3
from unit.console.test_console_topics import _alert, _topics

_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
_PLACEHOLDER = "arn:aws:events:::event-bus/default"


def _configured(body: bytes) -> tuple[list[str], bool]:
    """The topics' and queues' rules' ids and whether EventBridge is on, as S3 answers them."""
    root = ET.fromstring(body)  # noqa: S314
    rules = [*root.findall(f"{_NS}TopicConfiguration"), *root.findall(f"{_NS}QueueConfiguration")]
    ids = [r.findtext(f"{_NS}Id") or "" for r in rules]
    return ids, root.find(f"{_NS}EventBridgeConfiguration") is not None


async def test_eventbridge_is_an_on_off_setting_kept_when_the_rules_change(
    console: ConsoleHarness,
) -> None:
    tenant = console.admin_tenant_id
    async with console.client() as client:
        token = await _root(console, client)
        topic = await _topics(console).create_topic(
            tenant, "events", {"push-endpoint": "http://127.0.0.1:9/hook"}
        )
        running = console.application._running
        assert running is not None
        queues = queue_service(console.application.settings, running.db, running.keys)
        queue = await queues.create_queue(tenant, "tags", {})
        bucket_arn = f"arn:aws:s3:::{BUCKET}"
        allow_s3 = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
                           "Action": "sqs:SendMessage", "Resource": queue.arn,
                           "Condition": {"ArnEquals": {"aws:SourceArn": bucket_arn}}}],
        }  # fmt: skip
        await queues.set_queue_attributes(queue, {"Policy": json.dumps(allow_s3)})
        both = (
            "<NotificationConfiguration><TopicConfiguration><Id>ops</Id>"
            f"<Topic>{topic.arn}</Topic><Event>s3:ObjectCreated:*</Event></TopicConfiguration>"
            f"<QueueConfiguration><Id>tagging</Id><Queue>{queue.arn}</Queue>"
            "<Event>s3:ObjectTagging:*</Event></QueueConfiguration>"
            "<EventBridgeConfiguration/></NotificationConfiguration>"
        ).encode()
        put = await _s3(console, client, "PUT", "notification", both)
        page_on = await client.get(SETTINGS)
        # A rule added, then one removed, through the console's rules form: EventBridge stays.
        added = await client.post(
            f"{SETTINGS}/notification",
            data={
                "csrf": token,
                "notification_id": "gone",
                "topic_arn": topic.arn,
                "s3:ObjectRemoved:*": "yes",
            },
        )
        after_add = await _s3(console, client, "GET", "notification")
        removed = await client.post(
            f"{SETTINGS}/notification/delete", data={"csrf": token, "notification_id": "ops"}
        )
        after_remove = await _s3(console, client, "GET", "notification")
        # The toggle: off keeps the rules, on again keeps them too.
        off = await client.post(
            f"{SETTINGS}/notification/eventbridge", data={"csrf": token, "eventbridge": "off"}
        )
        after_off = await _s3(console, client, "GET", "notification")
        page_off = await client.get(SETTINGS)
        on = await client.post(
            f"{SETTINGS}/notification/eventbridge", data={"csrf": token, "eventbridge": "on"}
        )
        after_on = await _s3(console, client, "GET", "notification")
        forged = await client.post(
            f"{SETTINGS}/notification/eventbridge", data={"csrf": "forged", "eventbridge": "off"}
        )
        after_forged = await _s3(console, client, "GET", "notification")

    assert not isinstance(put, Exception), put
    assert page_on.status_code == 200
    assert _PLACEHOLDER not in page_on.text  # never a rule naming the placeholder bus
    assert page_on.text.count('class="notification-rule"') == 2
    assert f"<code>{queue.arn}</code>" in page_on.text
    assert "Send notifications to Amazon EventBridge for all events in this bucket" in page_on.text
    assert 'id="eventbridge-state">On<' in page_on.text

    assert added.status_code == 303, _alert(added)
    assert not isinstance(after_add, Exception)
    assert _configured(after_add.body) == (["ops", "gone", "tagging"], True)
    assert removed.status_code == 303, _alert(removed)
    assert not isinstance(after_remove, Exception)
    assert _configured(after_remove.body) == (["gone", "tagging"], True)

    assert off.status_code == 303
    assert off.headers["location"].endswith("/settings#notification")
    assert not isinstance(after_off, Exception)
    assert _configured(after_off.body) == (["gone", "tagging"], False)
    assert 'id="eventbridge-state">Off<' in unescape(page_off.text)
    assert on.status_code == 303
    assert not isinstance(after_on, Exception)
    assert _configured(after_on.body) == (["gone", "tagging"], True)
    assert forged.status_code == 403
    assert not isinstance(after_forged, Exception)
    assert _configured(after_forged.body) == (["gone", "tagging"], True)
