"""EventBridge's edit forms in the console (decision 0111, session 50): a rule edited (pattern
or schedule, description, state; its role kept), an API destination added as a rule's target
with its role (session 53: a Firehose or Kinesis stream too, decision 0238); an archive's
description, pattern and retention updated; a connection's authorization updated (blank fields
keep the stored ones, secrets never shown back); an API destination's endpoint, method and rate
updated — each EventBridge's own call as the signed-in user, its refusals in its words."""

from __future__ import annotations

import json
from html import unescape
from typing import Any

import httpx

from support.console import ConsoleHarness, csrf, sign_in_root

_SCOPE = {"client": ("127.0.0.1", 1), "server": ("127.0.0.1", 9001), "scheme": "http"}
_RULE = "/event-rules/rule?bus=default&name=uploads"
_TRUST = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                   "Action": "sts:AssumeRole"}],
})  # fmt: skip


def _alert(page: httpx.Response) -> str:
    return unescape(page.text.split('role="alert">', 1)[1].split("</p>", 1)[0])


async def _events(
    console: ConsoleHarness, client: httpx.AsyncClient, action: str, payload: dict[str, Any]
) -> Any:
    """An EventBridge call as the client's signed-in user, as the console's are made."""
    running = console.application._running
    assert running is not None
    principal = await console.identity.resolve_console_session(client.cookies["andromede_console"])
    wire = running.console.console.events
    assert wire is not None
    return await wire._json(_SCOPE, principal, action, payload)


async def _destination(console: ConsoleHarness, client: httpx.AsyncClient) -> str:
    """A BASIC connection ``partner`` and its API destination ``hook``; the latter's ARN."""
    made = await _events(console, client, "CreateConnection", {
        "Name": "partner", "AuthorizationType": "BASIC",
        "AuthParameters": {"BasicAuthParameters": {"Username": "robot", "Password": "0ld-Pa55"}},
    })  # fmt: skip
    destination = await _events(console, client, "CreateApiDestination", {
        "Name": "hook", "ConnectionArn": made["ConnectionArn"], "HttpMethod": "POST",
        "InvocationEndpoint": "https://partner.example/hook", "InvocationRateLimitPerSecond": 5,
    })  # fmt: skip
    return str(destination["ApiDestinationArn"])


async def test_a_rule_edited_and_an_api_destination_target(console: ConsoleHarness) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        role = f"arn:aws:iam::{tenant}:role/invoker"
        pattern = json.dumps({"source": ["aws.s3"]})
        await _events(console, client, "PutRule", {
            "Name": "uploads", "EventPattern": pattern, "Description": "s3", "RoleArn": role,
        })  # fmt: skip
        token = await csrf(client, _RULE)
        page = await client.get(_RULE)
        form = page.text.split('id="edit-rule-form"', 1)[1].split("</form>", 1)[0]
        assert unescape(form).count(pattern) == 1 and 'value="s3"' in form
        edit = {"csrf": token, "bus": "default", "name": "uploads", "edit": "yes",
                "pattern": "", "schedule": "rate(5 minutes)", "description": "every 5",
                "state": "DISABLED"}  # fmt: skip
        forged = await client.post("/event-rules/rule/edit", data={**edit, "csrf": "x"})
        assert forged.status_code == 403
        # A pattern EventBridge cannot read: its refusal, the edit form open as typed.
        bad = await client.post("/event-rules/rule/edit", data={**edit, "pattern": "{nope"})
        assert bad.status_code == 400 and "Exception" in _alert(bad)
        assert '<details id="edit-rule" open>' in bad.text and "{nope</textarea>" in bad.text
        held = await _events(console, client, "DescribeRule", {"Name": "uploads"})
        assert held["EventPattern"] == pattern and held["State"] == "ENABLED"

        edited = await client.post("/event-rules/rule/edit", data=edit)
        assert edited.status_code == 303 and edited.headers["location"] == f"/console{_RULE}"
        held = await _events(console, client, "DescribeRule", {"Name": "uploads"})
        assert held["ScheduleExpression"] == "rate(5 minutes)" and "EventPattern" not in held
        assert held["State"] == "DISABLED" and held["Description"] == "every 5"
        assert held["RoleArn"] == role  # PutRule replaces the rule: the edit gave it again

        # An API destination among the target choices; the role it is invoked as required.
        arn = await _destination(console, client)
        running = console.application._running
        assert running is not None and running.console.console.iam is not None
        principal = await console.identity.resolve_console_session(
            client.cookies["andromede_console"]
        )
        await running.console.console.iam.create_role(_SCOPE, principal, "invoker", _TRUST, "")
        page = await client.get(_RULE)
        assert f'<option value="{arn}">API destination: hook</option>' in page.text
        assert f'<option value="{role}">invoker</option>' in page.text
        target = {"csrf": token, "bus": "default", "name": "uploads", "target_arn": arn,
                  "mode": "matched", "role_arn": ""}  # fmt: skip
        roleless = await client.post("/event-rules/rule/put-target", data=target)
        assert roleless.status_code == 400 and "RoleArn is required" in _alert(roleless)
        added = await client.post("/event-rules/rule/put-target", data={**target, "role_arn": role})
        assert added.status_code == 303
        page = await client.get(_RULE)
        row = page.text.split('class="event-target"', 1)[1].split("</tr>", 1)[0]
        assert arn in row and f'<td class="target-role"><code>{role}</code>' in row
        listed = await _events(console, client, "ListTargetsByRule", {"Rule": "uploads"})
        assert [t["RoleArn"] for t in listed["Targets"]] == [role]

        # A FIFO queue: EventBridge requires its message group; the role is not sent there.
        sqs = running.console.console.sqs
        assert sqs is not None
        queue = {"QueueName": "jobs.fifo", "Attributes": {"FifoQueue": "true"}}
        await sqs._json(_SCOPE, principal, "CreateQueue", queue)
        page = await client.get(_RULE)
        fifo = page.text.split(">SQS: jobs.fifo</option>", 1)[0].rsplit('value="', 1)[1]
        fifo = fifo.split('"', 1)[0]
        target = {**target, "target_arn": fifo, "role_arn": role, "message_group": "g1"}
        ungrouped = await client.post(
            "/event-rules/rule/put-target", data={**target, "message_group": ""}
        )
        assert ungrouped.status_code == 400 and "SqsParameters" in _alert(ungrouped)
        grouped = await client.post("/event-rules/rule/put-target", data=target)
        assert grouped.status_code == 303
        listed = await _events(console, client, "ListTargetsByRule", {"Rule": "uploads"})
        [queued] = [t for t in listed["Targets"] if t["Arn"] == fifo]
        assert queued["SqsParameters"] == {"MessageGroupId": "g1"} and "RoleArn" not in queued
        page = await client.get(_RULE)
        assert '<span class="message-group">Message group g1</span>' in page.text

        # Decision 0238: the account's Firehose streams, with the role EventBridge writes as.
        await client.post("/buckets", data={"csrf": token, "name": "landing", "region": "eu-fr-1"})
        firehose_trust = _TRUST.replace("events.amazonaws.com", "firehose.amazonaws.com")
        delivery = await console.identity.create_role(tenant, "delivery", firehose_trust)
        firehose = running.console.console.firehose
        assert firehose is not None
        made = await firehose._json(_SCOPE, principal, "CreateDeliveryStream", {
            "DeliveryStreamName": "lake", "DeliveryStreamType": "DirectPut",
            "ExtendedS3DestinationConfiguration": {
                "RoleARN": delivery.arn, "BucketARN": "arn:aws:s3:::landing"},
        })  # fmt: skip
        stream = made["DeliveryStreamARN"]
        page = await client.get(_RULE)
        assert f'<option value="{stream}">Firehose: lake</option>' in page.text
        assert "Role EventBridge acts as (API destinations, streams)" in page.text
        lake = {**target, "target_arn": stream, "target_id": "lake", "message_group": "g1"}
        added = await client.post("/event-rules/rule/put-target", data=lake)
        assert added.status_code == 303
        listed = await _events(console, client, "ListTargetsByRule", {"Rule": "uploads"})
        [kept] = [t for t in listed["Targets"] if t["Id"] == "lake"]
        assert (kept["Arn"], kept["RoleArn"]) == (stream, role) and "SqsParameters" not in kept

        # And the account's Kinesis data streams, as Kinesis lists them to the user.
        kinesis = running.console.console.kinesis
        assert kinesis is not None
        await kinesis._json(_SCOPE, principal, "CreateStream", {
            "StreamName": "clicks", "ShardCount": 1})  # fmt: skip
        page = await client.get(_RULE)
        clicks = f"arn:aws:kinesis:eu-fr-1:{tenant}:stream/clicks"
        assert f'<option value="{clicks}">Kinesis: clicks</option>' in page.text


async def test_archive_connection_and_destination_updated(console: ConsoleHarness) -> None:
    async with console.client() as client:
        await sign_in_root(console, client)
        bus = (await _events(console, client, "DescribeEventBus", {}))["Arn"]
        pattern = json.dumps({"source": ["shop"]})
        await _events(console, client, "CreateArchive", {
            "ArchiveName": "orders", "EventSourceArn": bus, "EventPattern": pattern,
            "Description": "first", "RetentionDays": 3,
        })  # fmt: skip
        token = await csrf(client, "/event-archives")
        listed = await client.get("/event-archives")
        assert 'href="/console/event-archives?edit=orders"' in listed.text
        assert 'id="edit-archive-form"' not in listed.text
        page = await client.get("/event-archives", params={"edit": "orders"})
        form = page.text.split('id="edit-archive-form"', 1)[1].split("</form>", 1)[0]
        assert 'value="first"' in form and 'value="3"' in form and pattern in unescape(form)
        update = {"csrf": token, "archive": "orders", "description": "orders only",
                  "pattern": json.dumps({"source": ["shop"], "detail-type": ["order"]}),
                  "retention": "7"}  # fmt: skip
        unreadable = await client.post(
            "/event-archives/orders/update", data={**update, "retention": "a week"},
            headers={"accept-language": "fr"},
        )  # fmt: skip
        assert unreadable.status_code == 400 and 'id="edit-archive-form"' in unreadable.text
        assert 'value="a week"' in unreadable.text
        url = "/event-archives/orders/update"
        refused = await client.post(url, data={**update, "pattern": "["})
        assert refused.status_code == 400 and "Exception" in _alert(refused)
        assert "[</textarea>" in refused.text
        assert (await client.post(url, data=update)).status_code == 303
        held = await _events(console, client, "DescribeArchive", {"ArchiveName": "orders"})
        assert held["Description"] == "orders only" and held["RetentionDays"] == 7
        assert json.loads(held["EventPattern"])["detail-type"] == ["order"]
        forever = {**update, "retention": "", "pattern": ""}  # the pattern kept
        assert (await client.post(url, data=forever)).status_code == 303
        held = await _events(console, client, "DescribeArchive", {"ArchiveName": "orders"})
        assert held.get("RetentionDays", 0) == 0 and "order" in held["EventPattern"]

        # A connection's authorization: a blank field keeps the stored one.
        await _destination(console, client)
        page = await client.get("/event-connections")
        assert 'id="update-connection-partner"' in page.text
        basic = {"csrf": token, "kind": "connection", "row": "partner", "auth_type": "BASIC",
                 "username": "", "password": "N3w-Pa55", "description": "rotated"}  # fmt: skip
        url = "/event-connections/partner/update"
        assert (await client.post(url, data=basic)).status_code == 303
        held = await _events(console, client, "DescribeConnection", {"Name": "partner"})
        assert held["AuthParameters"]["BasicAuthParameters"]["Username"] == "robot"
        assert held["Description"] == "rotated" and held["ConnectionState"] == "AUTHORIZED"
        # Deauthorized, its credentials are gone: a password alone is refused in EventBridge's
        # words, the row's form open again without it; both given authorize it again.
        await _events(console, client, "DeauthorizeConnection", {"Name": "partner"})
        alone = await client.post(url, data=basic)
        assert alone.status_code == 400 and "Exception" in _alert(alone)
        assert "N3w-Pa55" not in alone.text
        assert '<details class="update-connection" open>' in alone.text
        both = {**basic, "username": "robot2"}
        assert (await client.post(url, data=both)).status_code == 303
        held = await _events(console, client, "DescribeConnection", {"Name": "partner"})
        assert held["AuthParameters"]["BasicAuthParameters"]["Username"] == "robot2"
        assert held["ConnectionState"] == "AUTHORIZED"
        page = await client.get("/event-connections")
        assert "N3w-Pa55" not in page.text and "0ld-Pa55" not in page.text

        # An API destination's endpoint, method and rate.
        destination = {"csrf": token, "kind": "destination", "row": "hook", "method": "PUT",
                       "endpoint": "https://partner.example/v2", "rate": "10"}  # fmt: skip
        plain = await client.post(
            "/event-connections/destinations/hook/update",
            data={**destination, "endpoint": "ftp://partner.example/v2"},
        )
        assert plain.status_code == 400 and "ValidationException" in _alert(plain)
        assert 'value="ftp://partner.example/v2"' in plain.text
        changed = await client.post("/event-connections/destinations/hook/update", data=destination)
        assert changed.status_code == 303
        held = await _events(console, client, "DescribeApiDestination", {"Name": "hook"})
        assert held["InvocationEndpoint"] == "https://partner.example/v2"
        assert held["HttpMethod"] == "PUT" and held["InvocationRateLimitPerSecond"] == 10
