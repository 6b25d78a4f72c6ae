"""The console's queues, EventBridge rules, archives, pipes and metrics in every Region
(decision 0419 over 0414, 0397, 0408 and 0360), two declared Regions (the console's eu-fr-1,
eu-de-1): a queue made, shown, set, purged and deleted in eu-de-1 through ``?region=``; a
bus, a rule and its target (a queue of eu-de-1) made there; an archive made, edited and
deleted there; a pipe between two queues of eu-de-1 made, tagged and deleted; a metric put in
eu-de-1 listed and charted there only, its chart offering no alarm (the alarms are
eu-fr-1's). Each change is the API's own call in that Region (read back with SigV4, or a
call naming each Region), absent from eu-fr-1's pages; a Region not served is refused before
any call, by the pages and by SQS for a trusted call naming it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from botocore.credentials import Credentials

from andromede.console.wire import WireError
from andromede.eventsapi.app import CONTENT_TYPE as EVENTS_CONTENT_TYPE
from andromede.http.asgi import TRUSTED_REGION_SCOPE_KEY
from andromede.sqsapi.app import CONTENT_TYPE as SQS_CONTENT_TYPE
from support.console import (
    TWO_REGIONS,
    WIRE_ORIGIN,
    ConsoleHarness,
    alert_text,
    console_harness,
    csrf,
    form_html,
    log_in,
)
from support.json_client import signed_json_post
from support.pipesapp import PIPE_POLICY, TRUST

_DE = "?region=eu-de-1"


@pytest.fixture
async def regions(tmp_path: Path) -> AsyncIterator[ConsoleHarness]:
    async with console_harness(tmp_path, regions=TWO_REGIONS) as harness:
        yield harness


async def _api(
    console: ConsoleHarness, keys: Credentials, api: str, region: str, action: str,
    payload: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    """SQS's or EventBridge's own API in ``region``, signed with the account's root keys."""
    running = console.application._running
    assert running is not None
    target, content_type = (
        (f"AWSEvents.{action}", EVENTS_CONTENT_TYPE) if api == "events"
        else (f"AmazonSQS.{action}", SQS_CONTENT_TYPE)
    )  # fmt: skip
    reply = await signed_json_post(
        running.apis[api], target, payload, content_type=content_type, credentials=keys,
        service=api, region=region,
    )  # fmt: skip
    assert reply.status == 200, (reply.status, reply.body)
    return reply.json() if reply.body else {}


async def _queue_names(console: ConsoleHarness, keys: Credentials, region: str) -> list[str]:
    listed = await _api(console, keys, "sqs", region, "ListQueues", {})
    return sorted(url.rsplit("/", 1)[-1] for url in listed.get("QueueUrls", []))


async def _tenant(console: ConsoleHarness) -> tuple[str, Credentials]:
    made = await console.identity.create_tenant("shop")
    await console.user_with_password(made.tenant.id, "root")
    return made.tenant.id, Credentials(made.access_key_id, made.secret_access_key)


async def test_queues_in_the_region_chosen(regions: ConsoleHarness) -> None:
    console = regions
    account, keys = await _tenant(console)
    async with console.client() as client:
        assert (await log_in(client, "shop", "root")).status_code == 303
        token = await csrf(client, "/queues")
        home = await client.get("/queues")
        chooser = form_html(home, "region-chooser")
        assert '<option value="eu-fr-1" selected>' in chooser
        assert '<option value="eu-de-1">' in chooser
        assert 'action="/console/queues"' in home.text

        made = await client.post(f"/queues{_DE}", data={"csrf": token, "name": "orders"})
        assert made.status_code == 303 and made.headers["location"] == f"/console/queues{_DE}"
        assert await _queue_names(console, keys, "eu-de-1") == ["orders"]
        assert await _queue_names(console, keys, "eu-fr-1") == []
        de_page = await client.get(f"/queues{_DE}")
        assert 'id="queue-orders"' in de_page.text
        assert f"arn:aws:sqs:eu-de-1:{account}:orders" in de_page.text
        assert 'href="/console/queues/orders?region=eu-de-1"' in de_page.text
        assert 'action="/console/queues?region=eu-de-1"' in de_page.text
        assert 'id="queue-orders"' not in (await client.get("/queues")).text
        # A refused creation shows eu-de-1's page again, the form as typed.
        refused = await client.post(f"/queues{_DE}", data={"csrf": token, "name": "bad name!"})
        assert refused.status_code == 400
        assert '<option value="eu-de-1" selected>' in form_html(refused, "region-chooser")

        # Its page, its settings and its purge in eu-de-1; eu-fr-1 has no such queue.
        detail = await client.get(f"/queues/orders{_DE}")
        assert detail.status_code == 200
        assert f"arn:aws:sqs:eu-de-1:{account}:orders" in detail.text
        assert 'action="/console/queues/orders/settings?region=eu-de-1"' in detail.text
        assert "region=eu-de-1" in detail.text.split('id="queue-metrics"', 1)[0].rsplit("<a", 1)[1]
        assert (await client.get("/queues/orders")).status_code == 400
        shown = form_html(detail, "queue-settings-form")
        assert 'name="VisibilityTimeout"' in shown
        fields = {"csrf": token, "VisibilityTimeout": "45", "MessageRetentionPeriod": "345600",
                  "DelaySeconds": "0", "MaximumMessageSize": "262144",
                  "ReceiveMessageWaitTimeSeconds": "0", "kms_key": ""}  # fmt: skip
        saved = await client.post(f"/queues/orders/settings{_DE}", data=fields)
        assert saved.status_code == 303
        assert saved.headers["location"] == f"/console/queues/orders{_DE}"
        url = (await _api(console, keys, "sqs", "eu-de-1", "GetQueueUrl",
                          {"QueueName": "orders"}))["QueueUrl"]  # fmt: skip
        got = await _api(console, keys, "sqs", "eu-de-1", "GetQueueAttributes",
                         {"QueueUrl": url, "AttributeNames": ["VisibilityTimeout"]})  # fmt: skip
        assert got["Attributes"]["VisibilityTimeout"] == "45"
        await _api(console, keys, "sqs", "eu-de-1", "SendMessage",
                   {"QueueUrl": url, "MessageBody": "one"})  # fmt: skip
        purged = await client.post(
            f"/queues/orders/purge{_DE}", data={"csrf": token, "confirm": "yes"}
        )
        assert purged.status_code == 303 and purged.headers["location"].endswith(_DE)
        received = await _api(console, keys, "sqs", "eu-de-1", "ReceiveMessage",
                              {"QueueUrl": url})  # fmt: skip
        assert received.get("Messages", []) == []

        # Deleted in eu-de-1 after the ticked box; the deletion's redirect stays there.
        unticked = await client.post(f"/queues/delete{_DE}", data={"csrf": token, "queue_url": url})
        assert unticked.status_code == 400
        gone = await client.post(
            f"/queues/delete{_DE}", data={"csrf": token, "queue_url": url, "confirm": "yes"}
        )
        assert gone.status_code == 303 and gone.headers["location"] == f"/console/queues{_DE}"
        assert await _queue_names(console, keys, "eu-de-1") == []


async def test_rules_and_targets_in_the_region_chosen(regions: ConsoleHarness) -> None:
    console = regions
    account, keys = await _tenant(console)
    await _api(console, keys, "sqs", "eu-de-1", "CreateQueue", {"QueueName": "inbox"})
    await _api(console, keys, "sqs", "eu-fr-1", "CreateQueue", {"QueueName": "home-inbox"})
    async with console.client() as client:
        assert (await log_in(client, "shop", "root")).status_code == 303
        token = await csrf(client, "/event-rules")
        home = await client.get("/event-rules")
        assert '<option value="eu-fr-1" selected>' in form_html(home, "region-chooser")

        bus = await client.post(f"/event-rules/create-bus{_DE}",
                                data={"csrf": token, "bus_name": "orders"})  # fmt: skip
        assert bus.status_code == 303
        assert bus.headers["location"] == "/console/event-rules?bus=orders&region=eu-de-1"
        rule = {"csrf": token, "bus": "orders", "name": "big",
                "pattern": '{"source": ["shop"]}', "state": "ENABLED"}  # fmt: skip
        made = await client.post(f"/event-rules{_DE}", data=rule)
        assert made.status_code == 303
        location = made.headers["location"]
        assert location == "/console/event-rules/rule?bus=orders&name=big&region=eu-de-1"
        listed = await _api(console, keys, "events", "eu-de-1", "ListRules",
                            {"EventBusName": "orders"})  # fmt: skip
        assert [r["Name"] for r in listed["Rules"]] == ["big"]
        assert listed["Rules"][0]["Arn"].startswith(f"arn:aws:events:eu-de-1:{account}:")
        buses = await _api(console, keys, "events", "eu-fr-1", "ListEventBuses", {})
        assert [b["Name"] for b in buses["EventBuses"]] == ["default"]

        de_rules = await client.get("/event-rules?bus=orders&region=eu-de-1")
        assert "big" in de_rules.text and 'action="/console/event-rules?region=eu-de-1"' in (
            de_rules.text
        )
        fr_rules = await client.get("/event-rules?bus=orders")
        assert "/rule?bus=orders&amp;name=big" not in fr_rules.text

        # The rule's page in eu-de-1 offers eu-de-1's queue, not eu-fr-1's.
        page = await client.get(location.removeprefix("/console"))
        assert page.status_code == 200
        offered = form_html(page, "put-target-form")
        de_queue = f"arn:aws:sqs:eu-de-1:{account}:inbox"
        assert de_queue in offered and "home-inbox" not in offered
        assert 'action="/console/event-rules/rule/put-target?region=eu-de-1"' in page.text
        target = {"csrf": token, "bus": "orders", "name": "big", "target_arn": de_queue,
                  "mode": "event"}  # fmt: skip
        put = await client.post(f"/event-rules/rule/put-target{_DE}", data=target)
        assert put.status_code == 303 and put.headers["location"] == location
        targets = await _api(console, keys, "events", "eu-de-1", "ListTargetsByRule",
                             {"EventBusName": "orders", "Rule": "big"})  # fmt: skip
        assert [t["Arn"] for t in targets["Targets"]] == [de_queue]

        # Disabled, then deleted, in eu-de-1.
        named = {"csrf": token, "bus": "orders", "name": "big"}
        disabled = await client.post(f"/event-rules/rule/disable{_DE}", data=named)
        assert disabled.status_code == 303
        await client.post(f"/event-rules/rule/remove-target{_DE}",
                          data={"csrf": token, "bus": "orders", "name": "big",
                                "target_id": targets["Targets"][0]["Id"]})  # fmt: skip
        deleted = await client.post(f"/event-rules/rule/delete{_DE}", data=named)
        assert deleted.status_code == 303
        assert deleted.headers["location"] == "/console/event-rules?bus=orders&region=eu-de-1"
        listed = await _api(console, keys, "events", "eu-de-1", "ListRules",
                            {"EventBusName": "orders"})  # fmt: skip
        assert listed["Rules"] == []


async def test_a_region_not_served_is_refused_before_any_call(regions: ConsoleHarness) -> None:
    console = regions
    _, keys = await _tenant(console)
    async with console.client() as client:
        assert (await log_in(client, "shop", "root")).status_code == 303
        token = await csrf(client, "/queues")
        for path in ("/queues", "/queues/orders", "/event-rules", "/event-rules/rule?name=x"):
            page = await client.get(f"{path}{'&' if '?' in path else '?'}region=us-east-1",
                                    headers={"accept-language": "fr"})  # fmt: skip
            assert page.status_code == 404, path
            assert alert_text(page) == "Cette console ne sert aucune Région us-east-1."
        posted = await client.post("/queues?region=us-east-1",
                                   data={"csrf": token, "name": "orders"})  # fmt: skip
        assert posted.status_code == 404
        hourly = {"csrf": token, "name": "r", "schedule": "rate(1 hour)"}
        rule = await client.post("/event-rules?region=us-east-1", data=hourly)
        assert rule.status_code == 404
        for region in ("eu-fr-1", "eu-de-1"):
            assert await _queue_names(console, keys, region) == []
        # SQS itself refuses a trusted call naming a Region it does not serve.
        running = console.application._running
        assert running is not None
        sqs = running.console.console.sqs
        assert sqs is not None
        principal = await console.identity.resolve_console_session(
            client.cookies["andromede_console"]
        )
        origin = {"client": ("127.0.0.1", 1), "scheme": "http",
                  TRUSTED_REGION_SCOPE_KEY: "us-east-1"}  # fmt: skip
        with pytest.raises(WireError) as refusal:
            await sqs.list_queues(origin, principal)
        assert refusal.value.code == "InvalidParameterValue"
        assert "us-east-1 is not served" in refusal.value.message


async def test_archives_in_the_region_chosen(regions: ConsoleHarness) -> None:
    console = regions
    account, keys = await _tenant(console)
    async with console.client() as client:
        assert (await log_in(client, "shop", "root")).status_code == 303
        token = await csrf(client, "/event-archives")
        bus_arn = f"arn:aws:events:eu-de-1:{account}:event-bus/default"
        de_page = await client.get(f"/event-archives{_DE}")
        assert '<option value="eu-de-1" selected>' in form_html(de_page, "region-chooser")
        assert bus_arn in form_html(de_page, "create-archive-form")
        archive = {"csrf": token, "name": "kept", "bus_arn": bus_arn, "retention": "7"}
        made = await client.post(f"/event-archives{_DE}", data=archive)
        assert made.status_code == 303
        assert made.headers["location"] == f"/console/event-archives{_DE}"
        de_listed = await _api(console, keys, "events", "eu-de-1", "ListArchives", {})
        assert [a["ArchiveName"] for a in de_listed["Archives"]] == ["kept"]
        fr_listed = await _api(console, keys, "events", "eu-fr-1", "ListArchives", {})
        assert fr_listed["Archives"] == []
        shown = await client.get(f"/event-archives{_DE}")
        assert 'id="archive-kept"' in shown.text
        assert 'href="/console/event-archives?edit=kept&amp;region=eu-de-1"' in shown.text
        assert 'id="archive-kept"' not in (await client.get("/event-archives")).text

        edit = {"csrf": token, "archive": "kept", "description": "of eu-de-1", "retention": "3"}
        edited = await client.post(f"/event-archives/kept/update{_DE}", data=edit)
        assert edited.status_code == 303 and edited.headers["location"].endswith(_DE)
        described = await _api(console, keys, "events", "eu-de-1", "DescribeArchive",
                               {"ArchiveName": "kept"})  # fmt: skip
        assert described["RetentionDays"] == 3
        gone = await client.post(
            f"/event-archives/kept/delete{_DE}", data={"csrf": token, "confirm": "yes"}
        )
        assert gone.status_code == 303
        de_listed = await _api(console, keys, "events", "eu-de-1", "ListArchives", {})
        assert de_listed["Archives"] == []
        refused = await client.get("/event-archives?region=us-east-1")
        assert refused.status_code == 404


async def test_pipes_in_the_region_chosen(regions: ConsoleHarness) -> None:
    console = regions
    account, keys = await _tenant(console)
    for name in ("in", "out"):
        await _api(console, keys, "sqs", "eu-de-1", "CreateQueue", {"QueueName": f"de-{name}"})
    await _api(console, keys, "sqs", "eu-fr-1", "CreateQueue", {"QueueName": "fr-in"})
    role = await console.identity.create_role(account, "pipe-role", TRUST)
    await console.identity.put_role_policy(account, "pipe-role", "pipe", PIPE_POLICY)
    async with console.client() as client:
        assert (await log_in(client, "shop", "root")).status_code == 303
        token = await csrf(client, "/pipes")
        de_page = await client.get(f"/pipes{_DE}")
        assert '<option value="eu-de-1" selected>' in form_html(de_page, "region-chooser")
        create = form_html(de_page, "create-pipe-form")
        source = f"arn:aws:sqs:eu-de-1:{account}:de-in"
        target = f"arn:aws:sqs:eu-de-1:{account}:de-out"
        assert source in create and "fr-in" not in create
        assert 'action="/console/pipes?region=eu-de-1"' in de_page.text
        fields = {"csrf": token, "name": "orders", "source": source, "target": target,
                  "role_arn": role.arn, "state": "STOPPED"}  # fmt: skip
        made = await client.post(f"/pipes{_DE}", data=fields)
        assert made.status_code == 303, alert_text(made)
        assert made.headers["location"] == f"/console/pipes/orders{_DE}"
        wires, principal = await console.wires(client)
        in_de = {**WIRE_ORIGIN, TRUSTED_REGION_SCOPE_KEY: "eu-de-1"}
        described = await wires.pipes.describe(in_de, principal, "orders")
        assert described.arn.startswith(f"arn:aws:pipes:eu-de-1:{account}:pipe/")
        with pytest.raises(WireError):
            await wires.pipes.describe(WIRE_ORIGIN, principal, "orders")
        listed = await client.get(f"/pipes{_DE}")
        assert 'href="/console/pipes/orders?region=eu-de-1"' in listed.text
        assert 'id="pipe-orders"' not in (await client.get("/pipes")).text

        page = await client.get(f"/pipes/orders{_DE}")
        assert page.status_code == 200 and described.arn in page.text
        assert 'action="/console/pipes/orders/tag?region=eu-de-1"' in page.text
        assert (await client.get("/pipes/orders")).status_code == 404
        tagged = await client.post(
            f"/pipes/orders/tag{_DE}", data={"csrf": token, "tags": "team=ops"}
        )
        assert tagged.status_code == 303
        assert tagged.headers["location"] == "/console/pipes/orders?saved=tags&region=eu-de-1#tags"
        assert await wires.pipes.tags(in_de, principal, described.arn) == [("team", "ops")]
        gone = await client.post(
            f"/pipes/orders/delete{_DE}", data={"csrf": token, "confirm": "yes"}
        )
        assert gone.status_code == 303 and gone.headers["location"] == f"/console/pipes{_DE}"
        assert (await client.get("/pipes?region=us-east-1")).status_code == 404


async def test_metrics_in_the_region_chosen(regions: ConsoleHarness) -> None:
    console = regions
    _, keys = await _tenant(console)
    running = console.application._running
    assert running is not None
    # A metric put in eu-de-1 only (CloudWatch's own call, signed there: decision 0360).
    put = await signed_json_post(
        running.apis["monitoring"], "GraniteServiceVersion20100801.PutMetricData",
        {"Namespace": "Shop", "MetricData": [
            {"MetricName": "Orders", "Value": 7.0, "Unit": "Count",
             "Dimensions": [{"Name": "Store", "Value": "berlin"}]},
        ]},
        content_type="application/x-amz-json-1.0", credentials=keys, service="monitoring",
        region="eu-de-1",
    )  # fmt: skip
    assert put.status == 200, put.body
    async with console.client() as client:
        assert (await log_in(client, "shop", "root")).status_code == 303
        home = await client.get("/metrics?namespace=Shop")
        assert home.status_code == 200 and "Orders" not in home.text
        de_page = await client.get("/metrics?namespace=Shop&region=eu-de-1")
        assert '<option value="eu-de-1" selected>' in form_html(de_page, "region-chooser")
        assert "Orders" in de_page.text
        filter_form = form_html(de_page, "metrics-filter")
        assert '<input type="hidden" name="region" value="eu-de-1">' in filter_form
        graph = de_page.text.split('<a href="/console/metrics/graph?', 1)[1].split('"', 1)[0]
        assert "region=eu-de-1" in graph
        chart = await client.get(f"/metrics/graph?{graph.replace('&amp;', '&')}")
        assert chart.status_code == 200
        assert '<td class="value">7</td>' in chart.text  # the datapoint of eu-de-1's series
        assert 'id="create-alarm-link"' not in chart.text  # the alarms are eu-fr-1's
        home_chart = await client.get(
            "/metrics/graph?namespace=Shop&name=Orders&dimension=Store%3Dberlin"
        )
        assert '<td class="value">7</td>' not in home_chart.text
        assert 'id="create-alarm-link"' in home_chart.text
        refused = await client.get("/metrics?region=us-east-1")
        assert refused.status_code == 404
        assert (await client.get("/metrics/graph?region=us-east-1")).status_code == 404
