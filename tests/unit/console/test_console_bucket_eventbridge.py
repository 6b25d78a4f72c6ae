"""A bucket's ``EventBridgeConfiguration`` on the console's settings page (decision 0111,
session 48): shown as AWS's console shows it, an On/Off setting beside the rules, never as a
rule naming the placeholder bus; turned on and off without touching the rules, and kept when a
rule is added or removed."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from html import unescape

from support.console import ConsoleHarness
from unit.console.test_console_bucket_settings import SETTINGS, _root, _s3
from unit.console.test_console_topics import _alert, _topics

_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
_PLACEHOLDER = "arn:aws:events:::event-bus/default"


def _configured(body: bytes) -> tuple[list[str], bool]:
    """The topic rules' ids and whether EventBridge is on, as S3 answers them."""
    root = ET.fromstring(body)  # noqa: S314
    ids = [r.findtext(f"{_NS}Id") or "" for r in root.findall(f"{_NS}TopicConfiguration")]
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
        both = (
            "<NotificationConfiguration><TopicConfiguration><Id>ops</Id>"
            f"<Topic>{topic.arn}</Topic><Event>s3:ObjectCreated:*</Event></TopicConfiguration>"
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
    assert page_on.text.count('class="notification-rule"') == 1
    assert "Send notifications to Amazon EventBridge for all events in this bucket" in page_on.text
    assert 'id="eventbridge-state">On<' in page_on.text

    assert added.status_code == 303, _alert(added)
    assert not isinstance(after_add, Exception)
    assert _configured(after_add.body) == (["ops", "gone"], True)
    assert removed.status_code == 303, _alert(removed)
    assert not isinstance(after_remove, Exception)
    assert _configured(after_remove.body) == (["gone"], True)

    assert off.status_code == 303
    assert off.headers["location"].endswith("/settings#notification")
    assert not isinstance(after_off, Exception)
    assert _configured(after_off.body) == (["gone"], False)
    assert 'id="eventbridge-state">Off<' in unescape(page_off.text)
    assert on.status_code == 303
    assert not isinstance(after_on, Exception)
    assert _configured(after_on.body) == (["gone"], True)
    assert forged.status_code == 403
    assert not isinstance(after_forged, Exception)
    assert _configured(after_forged.body) == (["gone"], True)
