"""A Firehose delivery stream's page beyond its first view (decision 0251): its destination
changed (UpdateDestination: prefixes, buffering hints, compression, a KMS key of the account
for the objects, or the bucket's default encryption again), the version shown guarding a
change made meanwhile; tags added and removed; its own encryption started under Firehose's key
or a customer key and stopped; a test record put and delivered into the bucket. A KMS key for
the objects chosen at creation too. Firehose's refusals shown in its words with the form as
typed; a user Firehose refuses sees the action named. Each the service's own call as the
signed-in user, checked against what it answers apart from the console."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.console import ConsoleHarness, console_harness, csrf, log_in, sign_in_root

_SCOPE = {"client": ("127.0.0.1", 1), "server": ("127.0.0.1", 9001), "scheme": "http"}


def alert(page: httpx.Response) -> str:
    return unescape(page.text.split('role="alert">', 1)[1].split("</p>", 1)[0])


def form_of(page: httpx.Response, form_id: str) -> str:
    return unescape(page.text.split(f'id="{form_id}"', 1)[1].split("</form>", 1)[0])


async def call(
    console: ConsoleHarness, client: httpx.AsyncClient, api: str, action: str, payload: Any
) -> Any:
    """A Firehose or KMS call as the client's signed-in user, apart from the pages."""
    running = console.application._running
    assert running is not None
    principal = await console.identity.resolve_console_session(client.cookies["andromede_console"])
    wire = getattr(running.console.console, api)
    assert wire is not None
    return await wire._json(_SCOPE, principal, action, payload)


async def described(
    console: ConsoleHarness, client: httpx.AsyncClient, name: str = "clicks"
) -> dict[str, Any]:
    answer = await call(console, client, "firehose", "DescribeDeliveryStream",
                        {"DeliveryStreamName": name})  # fmt: skip
    return dict(answer["DeliveryStreamDescription"])


def s3_of(description: dict[str, Any]) -> dict[str, Any]:
    return dict(description["Destinations"][0]["ExtendedS3DestinationDescription"])


async def until(
    console: ConsoleHarness, client: httpx.AsyncClient, field: str, value: str
) -> dict[str, Any]:
    """The stream once the deliverer's passes (every 0.05 s) made ``field`` ``value``."""
    for _ in range(200):
        held = await described(console, client)
        sse = held["DeliveryStreamEncryptionConfiguration"]
        state = sse["Status"] if field == "sse" else held[field]
        if state == value:
            return held
        await asyncio.sleep(0.05)
    raise AssertionError(f"{field} never became {value}")


async def customer_key(console: ConsoleHarness, client: httpx.AsyncClient, alias: str) -> str:
    """A customer key of the account under ``alias``: its ARN."""
    made = await call(console, client, "kms", "CreateKey", {"Description": alias})
    key_id = made["KeyMetadata"]["KeyId"]
    await call(console, client, "kms", "CreateAlias", {"AliasName": alias, "TargetKeyId": key_id})
    return str(made["KeyMetadata"]["Arn"])


def trusting_firehose() -> str:
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "firehose.amazonaws.com"},
                       "Action": "sts:AssumeRole"}],
    })  # fmt: skip


def writing(bucket: str) -> str:
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:PutObject",
                       "Resource": f"arn:aws:s3:::{bucket}/*"}],
    })  # fmt: skip


async def delivered_object(
    console: ConsoleHarness, client: httpx.AsyncClient, prefix: str
) -> bytes:
    """The first object the deliverer wrote under ``prefix`` in ``landing``, downloaded from
    the console once listed (the listing apart from the pages, without a delimiter)."""
    running = console.application._running
    assert running is not None
    principal = await console.identity.resolve_console_session(client.cookies["andromede_console"])
    for _ in range(200):
        listed = await running.console.console.s3.request(
            _SCOPE, principal, "GET", "/landing", {"list-type": "2", "prefix": prefix}
        )
        keys = re.findall(r"<Key>([^<]+)</Key>", listed.body.decode())
        if keys:
            downloaded = await client.get("/buckets/landing/download", params={"key": keys[0]})
            assert downloaded.status_code == 200
            return downloaded.content
        await asyncio.sleep(0.05)
    raise AssertionError("the record was never delivered")


@pytest.fixture
async def quick(tmp_path: Path) -> AsyncIterator[ConsoleHarness]:
    """The console whose Firehose deliverer passes every 0.05 s: a stream is ACTIVE at once,
    an encryption change applied, a record due delivered."""
    async with console_harness(tmp_path, firehose_delivery_poll_interval=0.05) as harness:
        yield harness


async def stream(console: ConsoleHarness, client: httpx.AsyncClient, tenant: str) -> str:
    """A bucket, a role allowed to write into it, and the ``clicks`` stream into it made from
    the console, its objects under a customer key; the CSRF token."""
    token = await csrf(client)
    made = await client.post("/buckets", data={"csrf": token, "name": "landing",
                                                "region": "eu-fr-1"})  # fmt: skip
    assert made.status_code == 303, made.text
    role = await console.identity.create_role(tenant, "delivery", trusting_firehose())
    await console.identity.put_role_policy(tenant, "delivery", "write", writing("landing"))
    key = await customer_key(console, client, "alias/objects")
    page = await client.get("/firehose")
    assert '<option value="">The bucket&#39;s default encryption</option>' in page.text
    assert f'<option value="{key}">{key.rsplit("/", 1)[1]}</option>' in page.text
    created = await client.post(
        "/firehose",
        data={"csrf": token, "name": "clicks", "bucket": "landing", "role_arn": role.arn,
              "prefix": "clicks/", "size_mb": "5", "interval_seconds": "300", "kms_key": key},
    )  # fmt: skip
    assert created.status_code == 303, alert(created)
    held = await until(console, client, "DeliveryStreamStatus", "ACTIVE")
    assert s3_of(held)["EncryptionConfiguration"] == {"KMSEncryptionConfig": {"AWSKMSKeyARN": key}}
    return token


async def test_a_streams_destination_changed(quick: ConsoleHarness) -> None:
    console = quick
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        token = await stream(console, client, tenant)
        key = s3_of(await described(console, client))["EncryptionConfiguration"][
            "KMSEncryptionConfig"]["AWSKMSKeyARN"]  # fmt: skip
        page = await client.get("/firehose/clicks")
        editing = form_of(page, "destination-form")
        assert 'name="version" value="1"' in editing
        assert 'name="destination_id" value="destinationId-000000000001"' in editing
        assert 'name="prefix" maxlength="1024" size="40" value="clicks/"' in editing
        assert '<option value="UNCOMPRESSED" selected>' in editing
        assert f'<option value="{key}" selected>' in editing

        fields = {
            "csrf": token, "version": "1", "destination_id": "destinationId-000000000001",
            "prefix": "web/", "error_prefix": "failed/", "size_mb": "64",
            "interval_seconds": "60", "compression": "GZIP", "kms_key": "",
        }  # fmt: skip
        changed = await client.post("/firehose/clicks/destination", data=fields)
        assert changed.status_code == 303, alert(changed)
        location = changed.headers["location"]
        assert location == "/console/firehose/clicks?saved=destination#destination"
        held = await described(console, client)
        s3 = s3_of(held)
        assert (s3["Prefix"], s3["ErrorOutputPrefix"]) == ("web/", "failed/")
        assert s3["BufferingHints"] == {"SizeInMBs": 64, "IntervalInSeconds": 60}
        assert s3["CompressionFormat"] == "GZIP"
        assert s3["EncryptionConfiguration"] == {"NoEncryptionConfig": "NoEncryption"}
        assert held["VersionId"] == "2"
        shown = await client.get(location.removeprefix("/console"))
        assert 'id="saved"' in shown.text
        assert '<td id="stream-prefix"><code>web/</code>' in shown.text
        assert "The bucket&#39;s default encryption</td>" in shown.text

        # The version the page showed, changed meanwhile: Firehose's words, the form as typed.
        stale = await client.post("/firehose/clicks/destination",
                                  data=fields | {"prefix": "late/"})  # fmt: skip
        assert stale.status_code == 400 and "(ConcurrentModificationException)" in alert(stale)
        assert 'name="prefix" maxlength="1024" size="40" value="late/"' in form_of(
            stale, "destination-form"
        )
        too_big = await client.post("/firehose/clicks/destination",
                                    data=fields | {"version": "2", "size_mb": "500"})  # fmt: skip
        assert too_big.status_code == 400 and "sizeInMBs" in alert(too_big)
        assert 'name="size_mb" size="5" value="500"' in form_of(too_big, "destination-form")
        back = await client.post(
            "/firehose/clicks/destination",
            data=fields | {"version": "2", "kms_key": key, "compression": "UNCOMPRESSED"},
        )
        assert back.status_code == 303, alert(back)
        s3 = s3_of(await described(console, client))
        assert s3["EncryptionConfiguration"] == {"KMSEncryptionConfig": {"AWSKMSKeyARN": key}}
        assert s3["CompressionFormat"] == "UNCOMPRESSED"
        french = await client.get("/firehose/clicks", headers={"accept-language": "fr"})
        assert "Enregistrer la destination" in french.text


async def test_tags_encryption_and_a_test_record(quick: ConsoleHarness) -> None:
    console = quick
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        token = await stream(console, client, tenant)
        # Tags added, one removed; aws: keys refused in Firehose's words.
        tagged = await client.post("/firehose/clicks/tag",
                                   data={"csrf": token, "tags": "team=web\nenv=prod"})  # fmt: skip
        assert tagged.status_code == 303, alert(tagged)
        untagged = await client.post("/firehose/clicks/untag", data={"csrf": token, "key": "team"})
        assert untagged.status_code == 303, alert(untagged)
        tags = await call(console, client, "firehose", "ListTagsForDeliveryStream",
                          {"DeliveryStreamName": "clicks"})  # fmt: skip
        assert tags["Tags"] == [{"Key": "env", "Value": "prod"}]
        reserved = await client.post("/firehose/clicks/tag",
                                     data={"csrf": token, "tags": "aws:owner=me"})  # fmt: skip
        assert reserved.status_code == 400 and "Exception)" in alert(reserved)
        assert "aws:owner=me" in form_of(reserved, "tag-form")

        # The stream's own encryption: Firehose's key, then a customer key, then stopped.
        started = await client.post("/firehose/clicks/start-encryption",
                                    data={"csrf": token, "key_type": "AWS_OWNED_CMK"})  # fmt: skip
        assert started.status_code == 303, alert(started)
        await until(console, client, "sse", "ENABLED")
        page = await client.get("/firehose/clicks")
        assert '<td id="stream-sse">ENABLED (AWS_OWNED_CMK)</td>' in page.text
        assert 'id="stop-encryption-form"' in page.text
        customer_only = {"csrf": token, "key_type": "CUSTOMER_MANAGED_CMK"}
        no_key = await client.post("/firehose/clicks/start-encryption", data=customer_only)
        assert no_key.status_code == 400 and "Choose the customer key" in alert(no_key)
        key = await customer_key(console, client, "alias/stream")
        bogus = key.rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000"
        unknown = await client.post(
            "/firehose/clicks/start-encryption",
            data={"csrf": token, "key_type": "CUSTOMER_MANAGED_CMK", "sse_key": bogus},
        )
        assert unknown.status_code == 400 and "(InvalidKMSResourceException)" in alert(unknown)
        assert '<option value="CUSTOMER_MANAGED_CMK" selected>' in form_of(
            unknown, "start-encryption-form"
        )
        customer = await client.post(
            "/firehose/clicks/start-encryption",
            data={"csrf": token, "key_type": "CUSTOMER_MANAGED_CMK", "sse_key": key},
        )
        assert customer.status_code == 303, alert(customer)
        held = await until(console, client, "sse", "ENABLED")
        assert held["DeliveryStreamEncryptionConfiguration"]["KeyARN"] == key
        page = await client.get("/firehose/clicks")
        assert f"ENABLED (CUSTOMER_MANAGED_CMK) · <code>{key}</code>" in page.text

        # A test record, encrypted by the stream, delivered into the bucket once due.
        due = {"csrf": token, "version": held["VersionId"],
               "destination_id": "destinationId-000000000001", "prefix": "web/",
               "error_prefix": "", "size_mb": "1", "interval_seconds": "0",
               "compression": "UNCOMPRESSED", "kms_key": ""}  # fmt: skip
        assert (await client.post("/firehose/clicks/destination", data=due)).status_code == 303
        record = {"csrf": token, "data": '{"click": 1}', "newline": "yes"}
        put = await client.post("/firehose/clicks/put-record", data=record)
        assert put.status_code == 303, alert(put)
        assert put.headers["location"].endswith("&encrypted=yes#put-record")
        shown = await client.get(put.headers["location"].removeprefix("/console"))
        assert "Record put: " in shown.text and "Firehose encrypted it." in shown.text
        delivered = await delivered_object(console, client, "web/")
        assert delivered == b'{"click": 1}\n'

        stopped = await client.post("/firehose/clicks/stop-encryption", data={"csrf": token})
        assert stopped.status_code == 303, alert(stopped)
        await until(console, client, "sse", "DISABLED")
        page = await client.get("/firehose/clicks")
        assert 'id="stop-encryption-form"' not in page.text
        forged = await client.post("/firehose/clicks/put-record", data={"csrf": "x", "data": "a"})
        assert forged.status_code == 403


async def test_a_user_firehose_refuses_an_edit_sees_the_action(quick: ConsoleHarness) -> None:
    console = quick
    tenant = console.admin_tenant_id
    async with console.client() as root:
        await sign_in_root(console, root)
        await stream(console, root, tenant)
    reading = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Resource": "*",
                       "Action": ["firehose:DescribeDeliveryStream",
                                  "firehose:ListTagsForDeliveryStream"]}],
    }  # fmt: skip
    await console.user_with_password(tenant, "reader")
    await console.identity.put_user_policy(tenant, "reader", "read", json.dumps(reading))
    async with console.client() as client:
        assert (await log_in(client, "admin", "reader")).status_code == 303
        page = await client.get("/firehose/clicks")
        assert page.status_code == 200
        token = await csrf(client, "/firehose/clicks")
        put = await client.post("/firehose/clicks/put-record", data={"csrf": token, "data": "x"})
        assert put.status_code == 400 and "firehose:PutRecord" in alert(put)
        assert 'id="put-record-form"' in put.text and ">x</textarea>" in put.text
        tag = await client.post("/firehose/clicks/tag", data={"csrf": token, "tags": "a=b"})
        assert tag.status_code == 400 and "firehose:TagDeliveryStream" in alert(tag)
