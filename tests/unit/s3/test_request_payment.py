"""Requester Pays buckets (decision 0133), in process: the configuration's wire form, what such
a bucket refuses (anonymous callers, other accounts that did not agree to pay), the
``x-amz-request-charged`` answer, and whose tenant the meters count."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from andromede.billing.model import parse_month
from andromede.billing.service import BillingService
from andromede.billing.store import MemoryBillingStore
from support.s3app import REGION, Client, in_process_client

B = "/open-data"
K = f"{B}/atlas.csv"
BODY = b"lat,lon\n48.85,2.35\n"
PAYER = {"x-amz-request-payer": "requester"}
CHARGED = "x-amz-request-charged"
NO_BLOCK = (
    b"<PublicAccessBlockConfiguration><BlockPublicAcls>false</BlockPublicAcls>"
    b"<IgnorePublicAcls>false</IgnorePublicAcls><BlockPublicPolicy>false</BlockPublicPolicy>"
    b"<RestrictPublicBuckets>false</RestrictPublicBuckets></PublicAccessBlockConfiguration>"
)


def payment(payer: str) -> bytes:
    return (
        b"<RequestPaymentConfiguration xmlns='http://s3.amazonaws.com/doc/2006-03-01/'>"
        + f"<Payer>{payer}</Payer>".encode()
        + b"</RequestPaymentConfiguration>"
    )


def md5(body: bytes) -> dict[str, str]:
    digest = hashlib.md5(body, usedforsecurity=False).digest()
    return {"Content-MD5": base64.b64encode(digest).decode()}


@dataclass
class World:
    owner: Client
    other: Client
    billing: BillingService


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    billing = BillingService(MemoryBillingStore(), region=REGION, instance_types=[])
    async with in_process_client(tmp_path, billing=billing) as owner:
        assert (await owner.request("PUT", B)).status == 200
        assert (await owner.request("PUT", K, BODY)).status == 200
        other = await owner.other_tenant("reader")
        # The owner shares the data with the other account, as open data sets do.
        grant = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{other.tenant_id}:root"},
                    "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
                    "Resource": ["arn:aws:s3:::open-data", "arn:aws:s3:::open-data/*"],
                }
            ],
        }
        reply = await owner.request("PUT", f"{B}?policy", json.dumps(grant).encode())
        assert reply.status == 204, reply.body
        await set_payer(owner, "Requester")
        yield World(owner, other, billing)


async def set_payer(owner: Client, payer: str) -> None:
    body = payment(payer)
    reply = await owner.request("PUT", f"{B}?requestPayment", body, md5(body))
    assert reply.status == 200, reply.body


async def payer_of(client: Client) -> bytes:
    reply = await client.request("GET", f"{B}?requestPayment")
    assert reply.status == 200, reply.body
    return reply.body


# -- the configuration ---------------------------------------------------------------------------
async def test_the_payer_is_kept_with_the_bucket_and_answered(world: World) -> None:
    assert b"<Payer>Requester</Payer>" in await payer_of(world.owner)
    await set_payer(world.owner, "BucketOwner")
    assert b"<Payer>BucketOwner</Payer>" in await payer_of(world.owner)
    assert world.owner.objects is not None
    assert not (await world.owner.objects.get_bucket("open-data")).requester_pays


@pytest.mark.parametrize(
    "body",
    [
        payment("Nobody"),
        payment(""),
        b"<RequestPaymentConfiguration/>",
        b"<RequestPaymentConfiguration><Payer>Requester</Payer><Payer>BucketOwner</Payer>"
        b"</RequestPaymentConfiguration>",
        b"<Payment><Payer>Requester</Payer></Payment>",
        b"<RequestPaymentConfiguration><Payer>Requester",
        b"",
    ],
)
async def test_a_malformed_configuration_is_refused_and_changes_nothing(
    world: World, body: bytes
) -> None:
    await set_payer(world.owner, "BucketOwner")
    reply = await world.owner.request("PUT", f"{B}?requestPayment", body, md5(body))
    assert (reply.status, reply.error_code()) == (400, "MalformedXML")
    assert b"<Payer>BucketOwner</Payer>" in await payer_of(world.owner)


async def test_only_the_owner_reads_and_sets_the_payer(world: World) -> None:
    for reply in (
        await world.other.request("GET", f"{B}?requestPayment", headers=PAYER),
        await world.other.request("PUT", f"{B}?requestPayment", payment("BucketOwner"), PAYER),
    ):
        assert (reply.status, reply.error_code()) == (403, "AccessDenied")
    assert b"<Payer>Requester</Payer>" in await payer_of(world.owner)


# -- who may ask, and who pays ---------------------------------------------------------------------
async def test_the_owner_needs_no_header_and_is_not_told_it_was_charged(world: World) -> None:
    got = await world.owner.request("GET", K)
    assert (got.status, got.body) == (200, BODY)
    assert CHARGED not in got.headers
    listed = await world.owner.request("GET", f"{B}?list-type=2")
    assert listed.status == 200 and CHARGED not in listed.headers


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", K, b""),
        ("HEAD", K, b""),
        ("GET", f"{B}?list-type=2", b""),
        ("GET", B, b""),
        ("PUT", f"{B}/contributed.csv", b"x,y\n"),
    ],
)
async def test_another_account_must_agree_to_pay(
    world: World, method: str, path: str, body: bytes
) -> None:
    refused = await world.other.request(method, path, body)
    assert refused.status == 403
    if method != "HEAD":
        assert refused.error_code() == "AccessDenied"
    assert CHARGED not in refused.headers
    accepted = await world.other.request(method, path, body, PAYER)
    assert accepted.status == 200, accepted.body
    assert accepted.headers[CHARGED] == "requester"


async def test_the_header_is_consent_not_permission(world: World) -> None:
    # With the header, the bucket policy still decides: it grants no delete.
    denied = await world.other.request("DELETE", K, headers=PAYER)
    assert (denied.status, denied.error_code()) == (403, "AccessDenied")
    assert CHARGED not in denied.headers
    assert (await world.owner.request("HEAD", K)).status == 200


async def test_a_missing_key_is_the_requesters_to_pay(world: World) -> None:
    missing = await world.other.request("GET", f"{B}/absent", headers=PAYER)
    assert (missing.status, missing.error_code()) == (404, "NoSuchKey")
    assert missing.headers[CHARGED] == "requester"


async def test_without_requester_pays_the_header_changes_nothing(world: World) -> None:
    await set_payer(world.owner, "BucketOwner")
    plain = await world.other.request("GET", K)
    assert (plain.status, plain.body) == (200, BODY)
    with_header = await world.other.request("GET", K, headers=PAYER)
    assert with_header.status == 200 and CHARGED not in with_header.headers


async def test_anonymous_callers_are_refused_whatever_the_policy_grants(world: World) -> None:
    owner, anonymous = world.owner, world.owner.as_anonymous()
    reply = await owner.request("PUT", f"{B}?publicAccessBlock", NO_BLOCK, md5(NO_BLOCK))
    assert reply.status == 200, reply.body
    public = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::open-data/*",
            }
        ],
    }
    assert (await owner.request("PUT", f"{B}?policy", json.dumps(public).encode())).status == 204
    await set_payer(owner, "BucketOwner")
    assert (await anonymous.request("GET", K, sign=False)).status == 200  # public, owner pays
    await set_payer(owner, "Requester")
    for headers in (None, PAYER):
        refused = await anonymous.request("GET", K, headers=headers, sign=False)
        assert (refused.status, refused.error_code()) == (403, "AccessDenied")


async def test_a_presigned_url_agrees_in_its_query(world: World) -> None:
    signer = world.other.raw_signer()
    agreed = signer.presign("GET", K, "x-amz-request-payer=requester", expires=300)
    got = await world.other.request("GET", agreed, sign=False)
    assert (got.status, got.body) == (200, BODY)
    assert got.headers[CHARGED] == "requester"
    silent = await world.other.request("GET", signer.presign("GET", K, expires=300), sign=False)
    assert (silent.status, silent.error_code()) == (403, "AccessDenied")


async def test_a_copy_from_a_requester_pays_source_needs_the_header_too(world: World) -> None:
    other = world.other
    assert (await other.request("PUT", "/reader-own")).status == 200
    source = {"x-amz-copy-source": "open-data/atlas.csv"}
    refused = await other.request("PUT", "/reader-own/copy.csv", headers=source)
    assert (refused.status, refused.error_code()) == (403, "AccessDenied")
    copied = await other.request("PUT", "/reader-own/copy.csv", headers={**source, **PAYER})
    assert copied.status == 200, copied.body
    assert copied.headers[CHARGED] == "requester"
    assert (await other.request("GET", "/reader-own/copy.csv")).body == BODY


async def test_a_requester_pays_bucket_is_no_log_target(world: World) -> None:
    owner = world.owner
    assert (await owner.request("PUT", "/logged")).status == 200
    body = (
        b"<BucketLoggingStatus><LoggingEnabled><TargetBucket>open-data</TargetBucket>"
        b"<TargetPrefix>logs/</TargetPrefix></LoggingEnabled></BucketLoggingStatus>"
    )
    reply = await owner.request("PUT", "/logged?logging", body, md5(body))
    assert (reply.status, reply.error_code()) == (400, "InvalidTargetBucketForLogging")


def logging_into(target: str) -> bytes:
    return (
        f"<BucketLoggingStatus><LoggingEnabled><TargetBucket>{target}</TargetBucket>"
        "<TargetPrefix>logs/</TargetPrefix></LoggingEnabled></BucketLoggingStatus>"
    ).encode()


async def put_logging(client: Client, source: str, body: bytes) -> None:
    reply = await client.request("PUT", f"/{source}?logging", body, md5(body))
    assert reply.status == 200, reply.body


async def refused_as_log_target(owner: Client) -> None:
    body = payment("Requester")
    reply = await owner.request("PUT", f"{B}?requestPayment", body, md5(body))
    assert (reply.status, reply.error_code()) == (400, "InvalidRequest"), reply.body
    assert b"server access logs" in reply.body
    assert b"<RequestId>" in reply.body
    assert b"<Payer>BucketOwner</Payer>" in await payer_of(owner)


async def test_a_log_target_cannot_become_requester_pays(world: World) -> None:
    owner = world.owner
    await set_payer(owner, "BucketOwner")
    for source in ("/logged", "/also-logged", "/unrelated", "/elsewhere"):
        assert (await owner.request("PUT", source)).status == 200
    await put_logging(owner, "elsewhere", logging_into("unrelated"))
    # Only buckets that log elsewhere: nothing stands in the way.
    await set_payer(owner, "Requester")
    await set_payer(owner, "BucketOwner")
    await put_logging(owner, "logged", logging_into("open-data"))
    await put_logging(owner, "also-logged", logging_into("open-data"))
    await refused_as_log_target(owner)
    # The owner may still say the owner pays, as it already does.
    await set_payer(owner, "BucketOwner")
    await put_logging(owner, "logged", b"<BucketLoggingStatus/>")
    await refused_as_log_target(owner)  # one source still logs into it
    await put_logging(owner, "also-logged", logging_into("unrelated"))
    await set_payer(owner, "Requester")
    assert b"<Payer>Requester</Payer>" in await payer_of(owner)


async def test_a_bucket_logging_into_itself_cannot_become_requester_pays(world: World) -> None:
    owner = world.owner
    await set_payer(owner, "BucketOwner")
    await put_logging(owner, "open-data", logging_into("open-data"))
    await refused_as_log_target(owner)
    await put_logging(owner, "open-data", b"<BucketLoggingStatus/>")
    await set_payer(owner, "Requester")


async def test_a_deleted_source_no_longer_holds_its_target_back(world: World) -> None:
    owner = world.owner
    await set_payer(owner, "BucketOwner")
    assert (await owner.request("PUT", "/logged")).status == 200
    await put_logging(owner, "logged", logging_into("open-data"))
    await refused_as_log_target(owner)
    assert (await owner.request("DELETE", "/logged")).status == 204
    await set_payer(owner, "Requester")


async def test_another_accounts_logging_does_not_hold_a_bucket_back(world: World) -> None:
    # Another account's bucket still names a target it deleted, whose name this owner then
    # took: that configuration is not this bucket's business (only the owner's buckets count).
    owner, other = world.owner, world.other
    for name in ("/reader-logs", "/recycled"):
        assert (await other.request("PUT", name)).status == 200
    await put_logging(other, "reader-logs", logging_into("recycled"))
    assert (await other.request("DELETE", "/recycled")).status == 204
    assert (await owner.request("PUT", "/recycled")).status == 200
    body = payment("Requester")
    reply = await owner.request("PUT", "/recycled?requestPayment", body, md5(body))
    assert reply.status == 200, reply.body
    # And another account cannot log into the owner's bucket in the first place.
    body = logging_into("open-data")
    reply = await other.request("PUT", "/reader-logs?logging", body, md5(body))
    assert (reply.status, reply.error_code()) == (400, "InvalidTargetBucketForLogging")


# -- metering (decision 0108) ---------------------------------------------------------------------
async def usage(billing: BillingService, tenant: str) -> dict[str, int]:
    await billing.flush()
    month = parse_month(datetime.now(UTC).strftime("%Y-%m"))
    report = await billing.usage_report(tenant, month)
    return {line.meter: line.quantity for line in report.lines}


async def test_the_requester_is_billed_for_its_requests_and_bytes(world: World) -> None:
    owner, other, billing = world.owner, world.other, world.billing
    before = await usage(billing, owner.tenant_id)
    assert (await other.request("GET", K, headers=PAYER)).status == 200
    assert (await other.request("PUT", f"{B}/added.csv", b"1,2\n", PAYER)).status == 200
    theirs = await usage(billing, other.tenant_id)
    assert theirs["s3.requests.class-b"] == 1 and theirs["s3.requests.class-a"] == 1
    assert theirs["s3.transfer.out"] == len(BODY)
    assert theirs["s3.transfer.in"] == len(b"1,2\n")
    assert await usage(billing, owner.tenant_id) == before  # the owner paid nothing for them
    # The owner's own reads are the owner's, as on any bucket.
    assert (await owner.request("GET", K)).status == 200
    after = await usage(billing, owner.tenant_id)
    assert after["s3.requests.class-b"] == before.get("s3.requests.class-b", 0) + 1
    assert after["s3.transfer.out"] == before.get("s3.transfer.out", 0) + len(BODY)


async def test_without_requester_pays_the_owner_is_billed_as_before(world: World) -> None:
    owner, other, billing = world.owner, world.other, world.billing
    await set_payer(owner, "BucketOwner")
    before = await usage(billing, owner.tenant_id)
    assert (await other.request("GET", K, headers=PAYER)).status == 200
    after = await usage(billing, owner.tenant_id)
    assert after["s3.requests.class-b"] == before.get("s3.requests.class-b", 0) + 1
    assert after["s3.transfer.out"] == before.get("s3.transfer.out", 0) + len(BODY)
    assert "s3.requests.class-b" not in await usage(billing, other.tenant_id)
