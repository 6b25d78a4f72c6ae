"""The console's notification topics page and a bucket's event notification rules (decision
0132, increment 2): each read and change the SNS-style API's or S3's own call as the signed-in
user, checked against what the topic service and S3 themselves hold; their refusals shown with
their code and status, the form as typed; a deletion only after its box is ticked."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from html import unescape

import httpx

from andromede.app import topic_service
from andromede.notifications.service import TopicService
from andromede.notifications.store_sql import SqlTopicStore
from support.console import ConsoleHarness, csrf, log_in, logged_events
from unit.console.test_console_bucket_settings import BUCKET, SETTINGS, _root, _s3

_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def _alert(page: httpx.Response) -> str:
    return unescape(page.text.split('role="alert">', 1)[1].split("</p>", 1)[0])


def _topics(console: ConsoleHarness) -> TopicService:
    """The topics as the service keeps them, read apart from the console."""
    running = console.application._running
    assert running is not None
    return topic_service(console.application.settings, SqlTopicStore(running.db))


async def _signed_in(console: ConsoleHarness, client: httpx.AsyncClient) -> str:
    await console.user_with_password(console.admin_tenant_id, "root")
    assert (await log_in(client, "admin", "root")).status_code == 303
    token: str = await csrf(client, "/topics")
    return token


async def test_topics_created_listed_and_deleted_after_a_ticked_box(
    console: ConsoleHarness,
) -> None:
    tenant = console.admin_tenant_id
    async with console.client() as client:
        assert (await client.get("/topics")).status_code == 303  # no session: the login
        token = await _signed_in(console, client)
        created = await client.post(
            "/topics",
            data={
                "csrf": token,
                "name": "uploads",
                "push_endpoint": "https://hooks.example.net/s3?token=abc",
                "opaque_data": "team=<media>",
            },
        )
        listing = await client.get("/topics")
        kept = await _topics(console).list_topics(tenant)
        arn = kept[0].arn
        unticked = await client.post("/topics/delete", data={"csrf": token, "topic_arn": arn})
        still = await _topics(console).list_topics(tenant)
        deleted = await client.post(
            "/topics/delete", data={"csrf": token, "topic_arn": arn, "confirm": "yes"}
        )
        after = await client.get("/topics")
    assert created.status_code == 303 and created.headers["location"] == "/console/topics"
    assert [t.name for t in kept] == ["uploads"]
    assert kept[0].attributes["push-endpoint"] == "https://hooks.example.net/s3?token=abc"
    assert kept[0].attributes["OpaqueData"] == "team=<media>"
    assert listing.status_code == 200
    assert f"<code>{arn}</code>" in listing.text
    assert "https://hooks.example.net/s3?token=abc" in listing.text
    assert "team=&lt;media&gt;" in listing.text
    assert unticked.status_code == 400 and "Tick the box" in _alert(unticked)
    assert [t.arn for t in still] == [arn]
    assert deleted.status_code == 303
    assert await _topics(console).list_topics(tenant) == []
    assert "No topics." in after.text
    # The SNS API audited the console's calls as it audits boto3's.
    actions = [e.action for e in await logged_events(console, tenant)]
    assert "sns:CreateTopic" in actions and "sns:DeleteTopic" in actions


async def test_a_refused_topic_shows_the_apis_words_and_the_form_as_typed(
    console: ConsoleHarness,
) -> None:
    async with console.client() as client:
        token = await _signed_in(console, client)
        with_secret = await client.post(
            "/topics",
            data={
                "csrf": token,
                "name": "hooks",
                "push_endpoint": "https://alice:s3cret@hooks.example.net/",
            },
        )
        bad_name = await client.post(
            "/topics", data={"csrf": token, "name": "no spaces", "opaque_data": "kept"}
        )
        forged = await client.post("/topics", data={"csrf": "forged", "name": "x"})
    assert with_secret.status_code == 400
    assert "(InvalidParameter)" in _alert(with_secret)
    assert "s3cret" not in _alert(with_secret)
    assert bad_name.status_code == 400 and "(InvalidParameter)" in _alert(bad_name)
    assert 'value="no spaces"' in bad_name.text and 'value="kept"' in bad_name.text
    assert forged.status_code == 403
    assert await _topics(console).list_topics(console.admin_tenant_id) == []


async def test_a_buckets_notification_rules_added_and_removed(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    async with console.client() as client:
        token = await _root(console, client)
        topic = await _topics(console).create_topic(
            tenant, "events", {"push-endpoint": "http://127.0.0.1:9/hook"}
        )
        empty = await client.get(SETTINGS)
        added = await client.post(
            f"{SETTINGS}/notification",
            data={
                "csrf": token,
                "notification_id": "images",
                "topic_arn": topic.arn,
                "s3:ObjectCreated:*": "yes",
                "s3:ObjectTagging:Put": "yes",
                "notification_prefix": "img/",
                "notification_suffix": ".jpg",
            },
        )
        second = await client.post(
            f"{SETTINGS}/notification",
            data={
                "csrf": token,
                "notification_id": "expiries",
                "topic_arn": topic.arn,
                "s3:LifecycleExpiration:*": "yes",
            },
        )
        shown = await client.get(SETTINGS)
        # S3 refuses a rule whose events and filters overlap another's, in its words.
        overlapping = await client.post(
            f"{SETTINGS}/notification",
            data={
                "csrf": token,
                "notification_id": "again",
                "topic_arn": topic.arn,
                "s3:ObjectCreated:Put": "yes",
                "notification_prefix": "img/2026/",
            },
        )
        no_event = await client.post(
            f"{SETTINGS}/notification",
            data={"csrf": token, "notification_id": "idle", "topic_arn": topic.arn},
        )
        s3_both = await _s3(console, client, "GET", "notification")
        removed = await client.post(
            f"{SETTINGS}/notification/delete", data={"csrf": token, "notification_id": "images"}
        )
        s3_one = await _s3(console, client, "GET", "notification")
        await client.post(
            f"{SETTINGS}/notification/delete", data={"csrf": token, "notification_id": "expiries"}
        )
        s3_none = await _s3(console, client, "GET", "notification")
        after = await client.get(SETTINGS)

    assert "No event notifications." in empty.text
    assert f'<option value="{topic.arn}"' in empty.text
    assert added.status_code == 303, _alert(added)
    assert added.headers["location"] == f"/console/buckets/{BUCKET}/settings#notification"
    assert second.status_code == 303, _alert(second)
    assert shown.text.count('class="notification-rule"') == 2
    assert "s3:ObjectCreated:*, s3:ObjectTagging:Put" in shown.text

    assert overlapping.status_code == 400
    assert "ambiguously defined" in _alert(overlapping)
    assert "(InvalidArgument)" in _alert(overlapping)
    assert 'value="img/2026/"' in overlapping.text  # the form as typed
    assert no_event.status_code == 400 and "Tick at least one event type" in _alert(no_event)

    assert not isinstance(s3_both, Exception)
    rules = ET.fromstring(s3_both.body).findall(f"{_NS}TopicConfiguration")  # noqa: S314
    assert [r.findtext(f"{_NS}Id") for r in rules] == ["images", "expiries"]
    assert [e.text for e in rules[0].iter(f"{_NS}Event")] == [
        "s3:ObjectCreated:*",
        "s3:ObjectTagging:Put",
    ]
    assert [v.text for v in rules[0].iter(f"{_NS}Value")] == ["img/", ".jpg"]
    assert removed.status_code == 303
    assert not isinstance(s3_one, Exception)
    kept = ET.fromstring(s3_one.body).findall(f"{_NS}TopicConfiguration")  # noqa: S314
    assert [r.findtext(f"{_NS}Id") for r in kept] == ["expiries"]
    assert not isinstance(s3_none, Exception)
    assert b"TopicConfiguration" not in s3_none.body
    assert "No event notifications." in after.text


async def test_the_topics_page_in_french(console: ConsoleHarness) -> None:
    async with console.client(**{"accept-language": "fr"}) as client:
        await _signed_in(console, client)
        page = await client.get("/topics")
    assert "Sujets de notification" in page.text and "Créer le sujet" in page.text


async def test_a_rules_metadata_and_tag_filters_survive_a_rule_added_by_the_console(
    console: ConsoleHarness,
) -> None:
    """RGW's filters (decision 0132, increment 3) are not in the console's form, but the rules
    it puts back are S3's answer as it was: a filtered rule keeps its filters."""
    tenant = console.admin_tenant_id
    async with console.client() as client:
        token = await _root(console, client)
        topic = await _topics(console).create_topic(
            tenant, "events", {"push-endpoint": "http://127.0.0.1:9/hook"}
        )
        filtered = (
            "<NotificationConfiguration><TopicConfiguration><Id>ops</Id>"
            f"<Topic>{topic.arn}</Topic><Event>s3:ObjectCreated:*</Event><Filter>"
            "<S3Metadata><FilterRule><Name>x-amz-meta-color</Name><Value>blue</Value>"
            "</FilterRule></S3Metadata><S3Tags><FilterRule><Name>team</Name><Value>ops</Value>"
            "</FilterRule></S3Tags></Filter></TopicConfiguration></NotificationConfiguration>"
        ).encode()
        put = await _s3(console, client, "PUT", "notification", filtered)
        added = await client.post(
            f"{SETTINGS}/notification",
            data={
                "csrf": token,
                "notification_id": "gone",
                "topic_arn": topic.arn,
                "s3:ObjectRemoved:*": "yes",
            },
        )
        answer = await _s3(console, client, "GET", "notification")
    assert not isinstance(put, Exception), put
    assert added.status_code == 303, _alert(added)
    assert not isinstance(answer, Exception)
    rules = ET.fromstring(answer.body).findall(f"{_NS}TopicConfiguration")  # noqa: S314
    assert [r.findtext(f"{_NS}Id") for r in rules] == ["ops", "gone"]
    pairs = [
        (f.findtext(f"{_NS}Name"), f.findtext(f"{_NS}Value"))
        for f in rules[0].iter(f"{_NS}FilterRule")
    ]
    assert pairs == [("x-amz-meta-color", "blue"), ("team", "ops")]
    assert rules[0].find(f"{_NS}Filter/{_NS}S3Tags") is not None


def _row(page: str, rule_id: str) -> dict[str, str]:
    """The cells of a notification rule's row by class, their markup kept (``<br>`` between
    pairs), unescaped."""
    row = page.split(f'id="notification-{rule_id}">', 1)[1].split("</tr>", 1)[0]
    cells: dict[str, str] = {}
    for name in ("prefix", "suffix", "metadata", "tags"):
        cell = row.split(f'<td class="{name}">', 1)[1].split("</td>", 1)[0]
        cells[name] = unescape(cell)
    return cells


async def test_a_rules_filters_are_shown_on_the_settings_page(console: ConsoleHarness) -> None:
    """Increment 5: every filter of a rule is on the page — prefix and suffix, and RGW's
    metadata and tag pairs as S3 shows them back — and a rule without filters shows none."""
    tenant = console.admin_tenant_id
    async with console.client() as client:
        await _root(console, client)
        topic = await _topics(console).create_topic(
            tenant, "events", {"push-endpoint": "http://127.0.0.1:9/hook"}
        )
        filtered = (
            "<NotificationConfiguration><TopicConfiguration><Id>ops</Id>"
            f"<Topic>{topic.arn}</Topic><Event>s3:ObjectCreated:*</Event><Filter>"
            "<S3Key><FilterRule><Name>prefix</Name><Value>logs/</Value></FilterRule>"
            "<FilterRule><Name>suffix</Name><Value>.gz</Value></FilterRule></S3Key>"
            "<S3Metadata><FilterRule><Name>x-amz-meta-color</Name><Value>blue</Value>"
            "</FilterRule><FilterRule><Name>x-amz-meta-size</Name><Value>a&amp;b</Value>"
            "</FilterRule></S3Metadata><S3Tags><FilterRule><Name>team</Name><Value>ops</Value>"
            "</FilterRule></S3Tags></Filter></TopicConfiguration>"
            "<TopicConfiguration><Id>plain</Id>"
            f"<Topic>{topic.arn}</Topic><Event>s3:ObjectRemoved:*</Event></TopicConfiguration>"
            "</NotificationConfiguration>"
        ).encode()
        put = await _s3(console, client, "PUT", "notification", filtered)
        page = await client.get(SETTINGS)
    async with console.client(**{"accept-language": "fr"}) as french_client:
        await log_in(french_client, "admin", "root")
        french = await french_client.get(SETTINGS)
    assert not isinstance(put, Exception), put
    assert page.status_code == 200
    assert _row(page.text, "ops") == {
        "prefix": "logs/",
        "suffix": ".gz",
        "metadata": "<code>x-amz-meta-color=blue</code><br><code>x-amz-meta-size=a&b</code>",
        "tags": "<code>team=ops</code>",
    }
    assert "a&amp;b" in page.text  # escaped in the page, not markup
    assert _row(page.text, "plain") == {"prefix": "-", "suffix": "-", "metadata": "-", "tags": "-"}
    assert "<th>Metadata</th><th>Tags</th>" in page.text
    assert "<th>Métadonnées</th><th>Balises</th>" in french.text
