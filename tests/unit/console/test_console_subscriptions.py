"""A notification topic's subscriptions in the console (decision 0111, session 47): listed,
a queue of the account and an https endpoint subscribed (an email address refused while the
operator set no SMTP relay, decision 0180), a filter policy set, an unsubscribe
after a ticked box — each SNS's own call as the signed-in user, checked against the
subscriptions SNS itself keeps; SNS's refusals shown with its code and the form as typed."""

from __future__ import annotations

import json
from html import unescape

import httpx

from andromede.notifications.store_sql_subscriptions import SqlSubscriptionStore
from andromede.notifications.subscriptions import Subscription
from support.console import ConsoleHarness, csrf, log_in, logged_events


def _alert(page: httpx.Response) -> str:
    return unescape(page.text.split('role="alert">', 1)[1].split("</p>", 1)[0])


async def _held(console: ConsoleHarness, topic_arn: str) -> list[Subscription]:
    """The topic's subscriptions as SNS keeps them, read apart from the console."""
    running = console.application._running
    assert running is not None
    store = SqlSubscriptionStore(running.db)
    return await store.list_subscriptions(topic_arn=topic_arn, after="", limit=100)


async def test_subscribe_filter_and_unsubscribe(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    region = console.application.settings.region
    topic_arn = f"arn:aws:sns:{region}:{tenant}:events"
    queue_arn = f"arn:aws:sqs:{region}:{tenant}:inbox"
    policy = {"color": ["blue"]}
    await console.user_with_password(tenant, "root")
    async with console.client() as client:
        assert (await log_in(client, "admin", "root")).status_code == 303
        token = await csrf(client, "/topics")
        for path, name in (("/topics", "events"), ("/queues", "inbox")):
            assert (await client.post(path, data={"csrf": token, "name": name})).status_code == 303
        listing = await client.get("/topics")
        empty = await client.get("/topics/events")
        refused = await client.post(
            "/topics/events/subscribe",
            data={"csrf": token, "protocol": "https", "endpoint": "ftp://hooks.example.net/"},
        )
        # No SMTP relay set here: SNS's refusal, in its words (decision 0180).
        mailed = await client.post(
            "/topics/events/subscribe",
            data={"csrf": token, "protocol": "email", "endpoint": "ops@example.net"},
        )
        queued = await client.post(
            "/topics/events/subscribe",
            data={"csrf": token, "protocol": "sqs", "queue_arn": queue_arn,
                  "filter_policy": json.dumps(policy),
                  "filter_policy_scope": "MessageAttributes"},
        )  # fmt: skip
        hooked = await client.post(
            "/topics/events/subscribe",
            data={"csrf": token, "protocol": "https", "endpoint": "https://hooks.example.net/in",
                  "filter_policy": ""},
        )  # fmt: skip
        page = await client.get("/topics/events")
        [sqs] = [s for s in await _held(console, topic_arn) if s.protocol == "sqs"]
        bad_filter = await client.post(
            "/topics/events/filter",
            data={"csrf": token, "subscription_arn": sqs.arn, "filter_policy": "[1, 2"},
        )
        refiltered = await client.post(
            "/topics/events/filter",
            data={"csrf": token, "subscription_arn": sqs.arn, "scope_was": "MessageAttributes",
                  "filter_policy": '{"size": ["large"]}', "filter_policy_scope": "MessageBody"},
        )  # fmt: skip
        [changed] = [s for s in await _held(console, topic_arn) if s.protocol == "sqs"]
        unticked = await client.post(
            "/topics/events/unsubscribe", data={"csrf": token, "subscription_arn": sqs.arn}
        )
        unsubscribed = await client.post(
            "/topics/events/unsubscribe",
            data={"csrf": token, "subscription_arn": sqs.arn, "confirm": "yes"},
        )
        after = await _held(console, topic_arn)
        missing = await client.get("/topics/nowhere")
        french = await client.get("/topics/events", headers={"accept-language": "fr"})
    assert 'href="/console/topics/events"' in listing.text
    assert empty.status_code == 200 and "No subscriptions." in empty.text
    assert f'<option value="{queue_arn}">inbox</option>' in empty.text
    assert refused.status_code == 400 and "(InvalidParameter)" in _alert(refused)
    assert 'value="ftp://hooks.example.net/"' in refused.text
    assert '<option value="https" selected>' in refused.text
    assert mailed.status_code == 400 and "email delivery is not configured" in _alert(mailed)
    assert '<option value="email" selected>' in mailed.text
    assert queued.status_code == 303 and queued.headers["location"] == "/console/topics/events"
    assert hooked.status_code == 303, hooked.text
    assert sqs.endpoint == queue_arn and sqs.confirmed
    assert json.loads(sqs.attributes["FilterPolicy"]) == policy
    assert f"<code>{sqs.arn}</code>" in page.text
    assert "Pending confirmation" in page.text and "https://hooks.example.net/in" in page.text
    assert bad_filter.status_code == 400 and "(InvalidParameter)" in _alert(bad_filter)
    assert "[1, 2</textarea>" in bad_filter.text
    assert refiltered.status_code == 303, refiltered.text
    assert json.loads(changed.attributes["FilterPolicy"]) == {"size": ["large"]}
    assert changed.attributes["FilterPolicyScope"] == "MessageBody"
    assert unticked.status_code == 400 and "Tick the box" in _alert(unticked)
    assert unsubscribed.status_code == 303
    assert [s.protocol for s in after] == ["https"]
    assert missing.status_code == 404 and "(NotFound)" in _alert(missing)
    assert "Sujet de notification events" in french.text
    assert "En attente de confirmation" in french.text
    actions = [e.action for e in await logged_events(console, tenant)]
    assert "sns:Subscribe" in actions and "sns:SetSubscriptionAttributes" in actions
    assert "sns:Unsubscribe" in actions
