"""Amazon Data Firehose in the console (decisions 0223 and 0227): delivery streams listed,
one created into a bucket of the account as one of its roles, its page (destination,
encryption, tags), deleted after a ticked box; Firehose's refusals shown in its words with the
form as typed; a form without the session's token refused; a user Firehose refuses sees its
refusal. And what feeds a stream: a log group's subscription filters (decision 0225) put,
refused by Logs' test record, listed and deleted; a topic's firehose subscription (decision
0226) refused for a role that does not trust SNS, then made, raw. Each the service's own call
as the signed-in user, checked against what it answers apart from the console."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.console import (
    ConsoleHarness,
    console_harness,
    csrf,
    csrf_of,
    log_in,
    sign_in_root,
)


def trust(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )


def alert(page: httpx.Response) -> str:
    return unescape(page.text.split('role="alert">', 1)[1].split("</p>", 1)[0])


def form_of(page: httpx.Response, form_id: str) -> str:
    return page.text.split(f'id="{form_id}"', 1)[1].split("</form>", 1)[0]


async def firehose(
    console: ConsoleHarness, client: httpx.AsyncClient, action: str, params: dict[str, Any]
) -> dict[str, Any]:
    """A Firehose call as the client's signed-in user, apart from the pages."""
    running = console.application._running
    assert running is not None
    wire = running.console.console.firehose
    assert wire is not None
    principal = await console.identity.resolve_console_session(client.cookies["andromede_console"])
    scope = {"client": ("127.0.0.1", 1), "server": ("127.0.0.1", 9001), "scheme": "http"}
    return await wire._json(scope, principal, action, params)


async def described(
    console: ConsoleHarness, client: httpx.AsyncClient, name: str
) -> dict[str, Any]:
    answer = await firehose(console, client, "DescribeDeliveryStream", {"DeliveryStreamName": name})
    return dict(answer["DeliveryStreamDescription"])


async def make_stream(
    console: ConsoleHarness, client: httpx.AsyncClient, tenant: str, name: str = "clicks"
) -> str:
    """A bucket, a role trusting Firehose, and a stream of theirs made from the console, made
    ACTIVE by the deliverer's next pass; the stream's ARN."""
    token = await csrf(client)
    made = await client.post("/buckets", data={"csrf": token, "name": "landing",
                                                "region": "eu-fr-1"})  # fmt: skip
    assert made.status_code == 303, made.text
    role = await console.identity.create_role(tenant, "delivery", trust("firehose.amazonaws.com"))
    created = await client.post(
        "/firehose",
        data={
            "csrf": token, "name": name, "bucket": "landing", "role_arn": role.arn,
            "prefix": "clicks/", "size_mb": "5", "interval_seconds": "300",
        },
    )  # fmt: skip
    assert created.status_code == 303, alert(created)
    for _ in range(200):  # the harness's deliverer passes every 0.05 s
        held = await described(console, client, name)
        if held["DeliveryStreamStatus"] == "ACTIVE":
            return str(held["DeliveryStreamARN"])
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name} never became ACTIVE")


async def test_a_stream_created_listed_shown_and_deleted(console: ConsoleHarness) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        empty = await client.get("/firehose")
        assert empty.status_code == 200 and "No delivery streams yet." in empty.text
        assert 'id="menu-firehose"' in empty.text
        token = csrf_of(empty)
        assert (
            await client.post(
                "/buckets", data={"csrf": token, "name": "landing", "region": "eu-fr-1"}
            )
        ).status_code == 303
        role = await console.identity.create_role(
            tenant, "delivery", trust("firehose.amazonaws.com")
        )
        page = await client.get("/firehose")
        creating = form_of(page, "create-stream-form")
        assert '<option value="landing">landing</option>' in creating
        assert f'<option value="{role.arn}">delivery</option>' in creating
        assert 'name="size_mb" size="5" value="5"' in creating  # AWS's defaults offered
        assert 'name="interval_seconds" size="5" value="300"' in creating
        made = await client.post(
            "/firehose",
            data={
                "csrf": token, "name": "clicks", "bucket": "landing", "role_arn": role.arn,
                "prefix": "clicks/", "error_prefix": "failed/", "size_mb": "64",
                "interval_seconds": "60", "gzip": "yes", "tags": "team=web\nenv=prod",
            },
        )  # fmt: skip
        assert made.status_code == 303, alert(made)
        assert made.headers["location"] == "/console/firehose/clicks"
        held = await described(console, client, "clicks")
        s3 = held["Destinations"][0]["ExtendedS3DestinationDescription"]
        assert s3["BucketARN"] == "arn:aws:s3:::landing" and s3["RoleARN"] == role.arn
        assert (s3["Prefix"], s3["ErrorOutputPrefix"]) == ("clicks/", "failed/")
        assert s3["BufferingHints"] == {"SizeInMBs": 64, "IntervalInSeconds": 60}
        assert s3["CompressionFormat"] == "GZIP"

        listed = await client.get("/firehose")
        row = listed.text.split('id="stream-clicks"', 1)[1].split("</tr>", 1)[0]
        assert '<a href="/console/firehose/clicks">clicks</a>' in row
        assert f'<td class="status">{held["DeliveryStreamStatus"]}</td>' in row
        assert '<a href="/console/buckets/landing">landing</a>' in row
        assert '<td class="prefix"><code>clicks/</code></td>' in row
        assert '<td class="hints">64 MiB or 60 s</td>' in row
        assert '<td class="compression">GZIP</td>' in row

        shown = await client.get("/firehose/clicks")
        assert shown.status_code == 200
        assert f'<code id="stream-arn">{held["DeliveryStreamARN"]}</code>' in shown.text
        assert '<td id="stream-error-prefix"><code>failed/</code></td>' in shown.text
        assert f'<td id="stream-role"><code>{role.arn}</code></td>' in shown.text
        assert "The bucket&#39;s default encryption" in shown.text
        assert '<td id="stream-sse">DISABLED</td>' in shown.text
        assert "<code>env=prod</code> <code>team=web</code>" in shown.text

        # In French, the same page.
        french = await client.get("/firehose/clicks", headers={"accept-language": "fr"})
        assert "Compartiment de destination" in french.text and "64 Mio ou 60 s" in french.text

        unticked = await client.post("/firehose/clicks/delete", data={"csrf": token})
        assert unticked.status_code == 400
        assert (await firehose(console, client, "ListDeliveryStreams", {}))[
            "DeliveryStreamNames"
        ] == ["clicks"]
        deleted = await client.post("/firehose/clicks/delete", data={"csrf": token,
                                                                     "confirm": "yes"})  # fmt: skip
        assert deleted.status_code == 303 and deleted.headers["location"] == "/console/firehose"
        assert (await firehose(console, client, "ListDeliveryStreams", {}))[
            "DeliveryStreamNames"
        ] == []
        assert "No delivery streams yet." in (await client.get("/firehose")).text
        gone = await client.get("/firehose/nothing")
        assert gone.status_code == 400 and "ResourceNotFoundException" in alert(gone)


async def test_firehoses_refusals_show_with_the_form_as_typed(console: ConsoleHarness) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        token = await csrf(client)
        await client.post("/buckets", data={"csrf": token, "name": "landing", "region": "eu-fr-1"})
        wrong = await console.identity.create_role(tenant, "wrong", trust("sns.amazonaws.com"))
        fields = {
            "csrf": token, "name": "clicks", "bucket": "landing", "role_arn": wrong.arn,
            "prefix": "typed/", "size_mb": "5", "interval_seconds": "300",
        }  # fmt: skip
        refused = await client.post("/firehose", data=fields)
        assert refused.status_code == 400, refused.text
        assert "(InvalidArgumentException)" in alert(refused)
        creating = form_of(refused, "create-stream-form")
        assert 'name="name" maxlength="64" required value="clicks"' in creating
        assert 'value="typed/"' in creating

        role = await console.identity.create_role(tenant, "ok", trust("firehose.amazonaws.com"))
        too_big = await client.post(
            "/firehose", data=fields | {"role_arn": role.arn, "size_mb": "500"}
        )
        assert too_big.status_code == 400
        assert "(ValidationException)" in alert(too_big) and "sizeInMBs" in alert(too_big)
        assert 'name="size_mb" size="5" value="500"' in form_of(too_big, "create-stream-form")
        # An expression in the prefix without an error prefix: Firehose's own words.
        expression = await client.post(
            "/firehose",
            data=fields | {"role_arn": role.arn, "prefix": "y=!{timestamp:yyyy}/"},
        )
        assert expression.status_code == 400 and "ErrorOutputPrefix" in alert(expression)

        forged = await client.post("/firehose", data=fields | {"csrf": "forged",
                                                               "role_arn": role.arn})  # fmt: skip
        assert forged.status_code == 403
        assert (await firehose(console, client, "ListDeliveryStreams", {}))[
            "DeliveryStreamNames"
        ] == []


async def test_a_user_firehose_refuses_sees_its_refusal(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    await console.user_with_password(tenant, "reader")
    async with console.client() as client:
        assert (await log_in(client, "admin", "reader")).status_code == 303
        page = await client.get("/firehose")
        assert page.status_code == 400  # Firehose answers its refusals 400, as AWS
        assert "(AccessDeniedException)" in alert(page)
        assert "firehose:ListDeliveryStreams" in alert(page)


async def test_streams_in_pages_and_one_a_user_may_list_not_describe(tmp_path: Path) -> None:
    async with (
        console_harness(tmp_path, console_page_size=1) as console,
        console.client() as root,
    ):
        tenant = await sign_in_root(console, root)
        token = await csrf(root)
        await root.post("/buckets", data={"csrf": token, "name": "landing", "region": "eu-fr-1"})
        role = await console.identity.create_role(tenant, "ok", trust("firehose.amazonaws.com"))
        for name in ("alpha", "beta"):
            made = await root.post(
                "/firehose",
                data={"csrf": token, "name": name, "bucket": "landing", "role_arn": role.arn,
                      "size_mb": "5", "interval_seconds": "300"},
            )  # fmt: skip
            assert made.status_code == 303, alert(made)
        first = await root.get("/firehose")
        assert 'id="stream-alpha"' in first.text and 'id="stream-beta"' not in first.text
        assert 'href="/console/firehose?after=alpha" rel="next"' in first.text
        second = await root.get("/firehose", params={"after": "alpha"})
        assert 'id="stream-beta"' in second.text and 'id="stream-alpha"' not in second.text
        assert 'id="streams-next"' not in second.text

        listing_only = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "firehose:ListDeliveryStreams", "Resource": "*"}
            ],
        }
        await console.user_with_password(tenant, "lister")
        await console.identity.put_user_policy(tenant, "lister", "list", json.dumps(listing_only))
        async with console.client() as client:
            assert (await log_in(client, "admin", "lister")).status_code == 303
            page = await client.get("/firehose")
            assert page.status_code == 200
            row = page.text.split('id="stream-alpha"', 1)[1].split("</tr>", 1)[0]
            assert "firehose:DescribeDeliveryStream" in row and "(AccessDeniedException)" in row
            creating = form_of(page, "create-stream-form")
            # No bucket, role, key nor secret this user may list: only the bucket's default
            # encryption, and no secret for an HTTP endpoint's key.
            selects = {
                part.split('"', 1)[0]: part.split("</select>", 1)[0]
                for part in creating.split('<select name="')[1:]
            }
            assert "<option" not in selects["bucket"] + selects["role_arn"]
            assert selects["kms_key"].count("<option") == 1 and '<option value="">' in creating
            assert selects["secret_arn"].count("<option") == 1


@pytest.fixture
async def quick(tmp_path: Path) -> AsyncIterator[ConsoleHarness]:
    """The console whose Firehose deliverer passes every 0.05 s: a stream made is ACTIVE at
    once, as CloudWatch Logs requires of a subscription's destination."""
    async with console_harness(tmp_path, firehose_delivery_poll_interval=0.05) as harness:
        yield harness


def put_records_policy(stream_arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["firehose:PutRecord", "firehose:PutRecordBatch"],
                    "Resource": stream_arn,
                }
            ],
        }
    )


async def test_a_log_groups_subscription_filter_put_listed_and_deleted(
    quick: ConsoleHarness,
) -> None:
    console = quick
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        stream_arn = await make_stream(console, client, tenant)
        token = await csrf(client, "/log-groups")
        made = await client.post("/log-groups", data={"csrf": token, "name": "/app/web"})
        assert made.status_code == 303, made.text
        unallowed = await console.identity.create_role(tenant, "bare", trust("logs.amazonaws.com"))
        role = await console.identity.create_role(tenant, "cwl", trust("logs.amazonaws.com"))
        await console.identity.put_role_policy(tenant, "cwl", "put", put_records_policy(stream_arn))
        page = await client.get("/log-groups/group", params={"name": "/app/web"})
        assert 'id="no-subscriptions"' in page.text
        putting = form_of(page, "put-subscription-form")
        assert f'<option value="{stream_arn}">clicks</option>' in putting
        assert f'<option value="{role.arn}">cwl</option>' in putting

        fields = {
            "csrf": token, "name": "/app/web", "subscription_name": "errors",
            "subscription_pattern": "ERROR", "destination_arn": stream_arn,
            "role_arn": unallowed.arn,
        }  # fmt: skip
        # A role that may not put records: Logs' test record is refused, so is the filter.
        refused = await client.post("/log-groups/group/put-subscription", data=fields)
        assert refused.status_code == 400, refused.text
        assert "Could not deliver test message" in alert(refused)
        again = form_of(refused, "put-subscription-form")
        assert 'name="subscription_name" maxlength="512" required value="errors"' in again
        assert 'value="ERROR"' in again and f'<option value="{unallowed.arn}" selected>' in again

        put = await client.post(
            "/log-groups/group/put-subscription", data=fields | {"role_arn": role.arn}
        )
        assert put.status_code == 303, alert(put)
        assert put.headers["location"] == "/console/log-groups/group?name=%2Fapp%2Fweb"
        listed = await client.get("/log-groups/group", params={"name": "/app/web"})
        row = listed.text.split('id="subscription-filter-1"', 1)[1].split("</tr>", 1)[0]
        assert '<td class="name">errors</td>' in row
        assert '<td class="pattern"><code>ERROR</code></td>' in row
        assert '<a href="/console/firehose/clicks">clicks</a>' in row
        assert f'<td class="role"><code>{role.arn}</code></td>' in row

        forged = await client.post(
            "/log-groups/group/delete-subscription",
            data={"name": "/app/web", "subscription_name": "errors", "confirm": "yes"},
        )
        assert forged.status_code == 403
        delete = {"csrf": token, "name": "/app/web", "subscription_name": "errors"}
        unticked = await client.post("/log-groups/group/delete-subscription", data=delete)
        assert unticked.status_code == 400
        assert 'id="subscription-filter-1"' in unticked.text
        deleted = await client.post(
            "/log-groups/group/delete-subscription", data=delete | {"confirm": "yes"}
        )
        assert deleted.status_code == 303, alert(deleted)
        after = await client.get("/log-groups/group", params={"name": "/app/web"})
        assert 'id="no-subscriptions"' in after.text

        # An Infrequent Access group takes none: the section says so, nothing is asked.
        await client.post("/log-groups", data={"csrf": token, "name": "/cold",
                                               "log_class": "INFREQUENT_ACCESS"})  # fmt: skip
        cold = await client.get("/log-groups/group", params={"name": "/cold"})
        assert cold.status_code == 200 and 'id="no-subscription-filters"' in cold.text


async def test_a_topic_subscribes_a_firehose_stream(quick: ConsoleHarness) -> None:
    console = quick
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        stream_arn = await make_stream(console, client, tenant)
        token = await csrf(client, "/topics")
        assert (
            await client.post("/topics", data={"csrf": token, "name": "orders"})
        ).status_code == 303
        firehose_role = await console.identity.get_role(tenant, "delivery")
        role = await console.identity.create_role(tenant, "sns", trust("sns.amazonaws.com"))
        page = await client.get("/topics/orders")
        subscribing = form_of(page, "subscribe-form")
        assert '<option value="firehose">A Firehose stream of the account (firehose)' in subscribing
        assert f'<option value="{stream_arn}">clicks</option>' in subscribing
        assert f'<option value="{role.arn}">sns</option>' in subscribing

        fields = {
            "csrf": token, "protocol": "firehose", "stream_arn": stream_arn,
            "role_arn": firehose_role.arn, "raw": "yes",
        }  # fmt: skip
        # A role that does not trust SNS: SNS's refusal, the form as typed.
        refused = await client.post("/topics/orders/subscribe", data=fields)
        assert refused.status_code == 400, refused.text
        assert "(InvalidParameter)" in alert(refused)
        again = form_of(refused, "subscribe-form")
        assert '<option value="firehose" selected>' in again
        assert f'<option value="{firehose_role.arn}" selected>' in again
        assert 'name="raw" value="yes" checked' in again

        made = await client.post("/topics/orders/subscribe", data=fields | {"role_arn": role.arn})
        assert made.status_code == 303, alert(made)
        shown = await client.get("/topics/orders")
        row = shown.text.split('id="subscription-1"', 1)[1].split("</tr>", 1)[0]
        assert '<td class="protocol">firehose</td>' in row
        assert f"<code>{stream_arn}</code>" in row
        assert f'<span class="role">Role: <code>{role.arn}</code></span>' in row
        assert '<span class="raw">Raw message delivery</span>' in row
        assert "Pending confirmation" not in row  # confirmed at once, as SNS does
