"""Server access logging in process (decision 0084): Get/PutBucketLogging and their checks, and
the records delivered into the target bucket — one line per request, in S3's format."""

from __future__ import annotations

import base64
import hashlib
import shlex
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from support.s3app import Client, Reply, in_process_client

SOURCE = "/shop"
TARGET = "/shop-logs"


def md5(body: bytes) -> dict[str, str]:
    digest = hashlib.md5(body, usedforsecurity=False).digest()
    return {"Content-MD5": base64.b64encode(digest).decode()}


def status(target: str = "shop-logs", prefix: str = "access/", extra: str = "") -> bytes:
    return (
        "<BucketLoggingStatus><LoggingEnabled>"
        f"<TargetBucket>{target}</TargetBucket><TargetPrefix>{prefix}</TargetPrefix>{extra}"
        "</LoggingEnabled></BucketLoggingStatus>"
    ).encode()


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with in_process_client(tmp_path) as made:
        for bucket in (SOURCE, TARGET):
            assert (await made.request("PUT", bucket)).status == 200
        yield made


async def put_logging(client: Client, body: bytes) -> Reply:
    return await client.request("PUT", f"{SOURCE}?logging", body)


async def delivered(client: Client, prefix: str = "access/") -> list[list[str]]:
    """The records delivered so far, each split into its fields."""
    assert client.access_logs is not None
    await client.access_logs.deliver()
    listing = (await client.request("GET", f"{TARGET}?list-type=2&prefix={prefix}")).body
    keys = [part.split(b"</Key>")[0].decode() for part in listing.split(b"<Key>")[1:]]
    records = []
    for key in keys:
        body = (await client.request("GET", f"{TARGET}/{key}")).body.decode()
        # Brackets hold the time with a space: make it one field for shlex.
        records.extend(
            shlex.split(line.replace("[", '"').replace("]", '"')) for line in body.splitlines()
        )
    return records


async def test_logging_is_put_read_back_and_turned_off(client: Client) -> None:
    off = await client.request("GET", f"{SOURCE}?logging")
    assert off.status == 200 and b"LoggingEnabled" not in off.body
    assert (await put_logging(client, status())).status == 200
    on = (await client.request("GET", f"{SOURCE}?logging")).body
    assert (
        b"<LoggingEnabled><TargetBucket>shop-logs</TargetBucket><TargetPrefix>access/"
        b"</TargetPrefix><TargetObjectKeyFormat><SimplePrefix></SimplePrefix>"
        b"</TargetObjectKeyFormat></LoggingEnabled>"
    ) in on
    partitioned = (
        "<TargetObjectKeyFormat><PartitionedPrefix><PartitionDateSource>DeliveryTime"
        "</PartitionDateSource></PartitionedPrefix></TargetObjectKeyFormat>"
    )
    assert (await put_logging(client, status(extra=partitioned))).status == 200
    assert partitioned.encode() in (await client.request("GET", f"{SOURCE}?logging")).body
    assert (await put_logging(client, b"<BucketLoggingStatus/>")).status == 200
    assert b"LoggingEnabled" not in (await client.request("GET", f"{SOURCE}?logging")).body


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        (status(target="no-such-bucket"), "InvalidTargetBucketForLogging", "does not exist"),
        (
            status(extra="<TargetGrants><Grant><Permission>READ</Permission></Grant>"
                   "</TargetGrants>"),
            "InvalidArgument",
            "Target grants",
        ),
        (status(prefix="").replace(b"<TargetPrefix></TargetPrefix>", b""), "MalformedXML", ""),
        (b"<Logging/>", "MalformedXML", ""),
    ],
)  # fmt: skip
async def test_bad_targets_are_refused(client: Client, body: bytes, code: str, words: str) -> None:
    reply = await put_logging(client, body)
    assert (reply.status, reply.error_code()) == (400, code)
    assert words.encode() in reply.body
    assert b"LoggingEnabled" not in (await client.request("GET", f"{SOURCE}?logging")).body


async def test_another_accounts_bucket_is_no_target(client: Client) -> None:
    other = await client.other_tenant("elsewhere")
    assert (await other.request("PUT", "/their-logs")).status == 200
    reply = await put_logging(client, status(target="their-logs"))
    assert (reply.status, reply.error_code()) == (400, "InvalidTargetBucketForLogging")
    assert b"must be the same" in reply.body


async def test_each_request_is_delivered_as_one_record(client: Client) -> None:
    await put_logging(client, status())
    assert (await client.request("PUT", f"{SOURCE}/cart/1.json", b"{}")).status == 200
    assert (await client.request("GET", f"{SOURCE}/cart/1.json")).status == 200
    assert (await client.request("GET", f"{SOURCE}/missing")).status == 404
    anonymous = client.as_anonymous()
    assert (await anonymous.request("GET", f"{SOURCE}/cart/1.json", sign=False)).status == 403
    assert (await client.request("GET", f"{SOURCE}?list-type=2&prefix=cart/")).status == 200
    # Requests to other buckets are not the source's.
    assert (await client.request("GET", f"{TARGET}?list-type=2")).status == 200
    records = await delivered(client)
    assert [(r[6], r[7], r[9], r[10]) for r in records] == [
        # Effective at once on this gateway: the call that turned it on is the first record.
        ("REST.PUT.LOGGING_STATUS", "-", "200", "-"),
        ("REST.PUT.OBJECT", "cart/1.json", "200", "-"),
        ("REST.GET.OBJECT", "cart/1.json", "200", "-"),
        ("REST.GET.OBJECT", "missing", "404", "NoSuchKey"),
        ("REST.GET.OBJECT", "cart/1.json", "403", "AccessDenied"),
        ("REST.GET.BUCKET", "-", "200", "-"),
    ]
    _, put, get, _, denied, listed = records
    assert all(len(record) == 26 for record in records)
    assert put[1] == "shop" and put[4].startswith(f"arn:aws:iam::{client.tenant_id}:")
    assert put[8] == "PUT /shop/cart/1.json HTTP/1.1"
    assert get[11] == "2" and get[19] == "SigV4" and get[21] == "AuthHeader"
    assert denied[4] == "-" and denied[19] == "-"
    assert listed[8] == "GET /shop?list-type=2&prefix=cart/ HTTP/1.1"
    # Delivered once: a second delivery has nothing new.
    assert len(await delivered(client)) == 6


async def test_partitioned_keys_name_account_region_bucket_and_day(client: Client) -> None:
    partitioned = (
        "<TargetObjectKeyFormat><PartitionedPrefix><PartitionDateSource>EventTime"
        "</PartitionDateSource></PartitionedPrefix></TargetObjectKeyFormat>"
    )
    await put_logging(client, status(extra=partitioned))
    assert (await client.request("HEAD", SOURCE)).status == 200
    assert client.access_logs is not None
    assert await client.access_logs.deliver() == 1
    listing = (await client.request("GET", f"{TARGET}?list-type=2")).body.decode()
    key = listing.split("<Key>")[1].split("</Key>")[0]
    account, region, bucket, year, month, day, name = key.removeprefix("access/").split("/")
    assert (account, region, bucket) == (client.tenant_id, "eu-fr-1", "shop")
    assert name.startswith(f"{year}-{month}-{day}-")


async def test_the_buffer_is_a_setting_and_excess_records_are_dropped(tmp_path: Path) -> None:
    async with in_process_client(tmp_path, server_access_log_buffer=2) as small:
        for bucket in (SOURCE, TARGET):
            assert (await small.request("PUT", bucket)).status == 200
        await put_logging(small, status())
        for _ in range(3):
            assert (await small.request("HEAD", SOURCE)).status == 200
        assert len(await delivered(small)) == 2


async def test_another_gateway_learns_which_buckets_log_from_the_store(client: Client) -> None:
    from andromede.storage.access_log_delivery import AccessLogDelivery

    assert client.objects is not None and client.store is not None
    await put_logging(client, status())
    other = AccessLogDelivery(client.objects, client.store, interval=60, max_buffered_lines=10)
    assert not other.logs("shop")
    await other.refresh()
    assert other.logs("shop") and not other.logs("shop-logs")
    await put_logging(client, b"<BucketLoggingStatus/>")
    await other.refresh()
    assert not other.logs("shop")


async def test_presigned_signatures_and_session_tokens_are_not_logged(client: Client) -> None:
    await put_logging(client, status())
    assert (await client.request("PUT", f"{SOURCE}/shared.txt", b"hello")).status == 200
    target = client.raw_signer().presign("GET", "/shop/shared.txt", expires=300)
    signature = target.split("X-Amz-Signature=")[1].split("&")[0]
    assert (await client.request("GET", target, sign=False)).status == 200
    records = await delivered(client)
    presigned = records[-1]
    assert presigned[21] == "QueryString"
    assert signature not in presigned[8] and "X-Amz-Signature=-" in presigned[8]
    assert "X-Amz-Credential=" in presigned[8]  # the key id is no secret, and says who


async def test_a_websites_readers_are_logged_too(client: Client) -> None:
    await put_logging(client, status())
    index = b"<WebsiteConfiguration><IndexDocument><Suffix>index.html</Suffix></IndexDocument>"
    index += b"</WebsiteConfiguration>"
    assert (await client.request("PUT", f"{SOURCE}?website", index, md5(index))).status == 200
    site = "shop.s3-website.localhost:9000"
    reply = await client.request("GET", "/", sign=False, host=site)
    assert reply.status == 403  # not public: still an access, and logged
    website = [record for record in await delivered(client) if record[6].startswith("WEBSITE")]
    assert [(r[6], r[8], r[9], r[4]) for r in website] == [
        ("WEBSITE.GET.OBJECT", "GET / HTTP/1.1", "403", "-")
    ]
