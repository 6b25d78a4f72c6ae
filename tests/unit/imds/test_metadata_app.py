"""The metadata server as a guest's tools see it: IMDSv2 tokens (bound to the instance, with a
bounded lifetime, refused through a proxy), EC2's paths and listings, the role's credentials in
EC2's JSON (refreshed before expiry, not before), 404 for what an instance lacks, and nothing at
all for an address that is no instance's."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

import httpx
import pytest

from andromede.imds.app import ImdsLimits, MetadataApp
from andromede.imds.credentials import CredentialsCache
from andromede.imds.instances import InstanceMetadata
from andromede.imds.tokens import TokenAuthority
from support.metadata import DB_ADDRESS, PROFILE_ARN, WEB, WEB_ADDRESS, Metadata

TTL = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN = "X-aws-ec2-metadata-token"


async def test_the_token_comes_back_with_its_ttl(metadata: Metadata) -> None:
    async with metadata.client() as client:
        answer = await client.put("/latest/api/token", headers={TTL: "60"})
    assert answer.status_code == 200
    assert answer.headers[TTL] == "60"
    assert answer.headers["content-type"] == "text/plain"
    assert 40 <= len(answer.text) <= 100


@pytest.mark.parametrize(
    "ttl", [None, "", "0", "21601", "-5", "abc", "1e3", "99999999999", "\u0661\u0662".encode()]
)
async def test_a_token_needs_a_ttl_between_1_and_21600(
    metadata: Metadata, ttl: str | bytes | None
) -> None:
    headers = {} if ttl is None else {TTL: ttl}
    async with metadata.client() as client:
        answer = await client.put("/latest/api/token", headers=headers)
    assert answer.status_code == 400


async def test_no_token_through_a_proxy(metadata: Metadata) -> None:
    async with metadata.client() as client:
        answer = await client.put(
            "/latest/api/token", headers={TTL: "60", "X-Forwarded-For": "203.0.113.9"}
        )
    assert answer.status_code == 403
    assert "token" not in answer.text.lower()


async def test_every_read_needs_a_valid_token_of_the_same_instance(metadata: Metadata) -> None:
    path = "/latest/meta-data/instance-id"
    async with metadata.client() as client:
        assert (await client.get(path)).status_code == 401
        assert (await client.get(path, headers={TOKEN: "not-a-token"})).status_code == 401
        assert (await client.get(path, headers={TOKEN: "A" * 56})).status_code == 401
        other = await metadata.token(DB_ADDRESS)
        assert (await client.get(path, headers={TOKEN: other})).status_code == 401
        own = await metadata.token(WEB_ADDRESS)
        tampered = own[:-2] + ("AA" if own[-2:] != "AA" else "BB")
        assert (await client.get(path, headers={TOKEN: tampered})).status_code == 401
        answer = await client.get(path, headers={TOKEN: own})
    assert (answer.status_code, answer.text) == (200, WEB.instance_id)


async def test_a_token_expires_after_its_ttl(metadata: Metadata) -> None:
    token = await metadata.token(ttl=60)
    path = "/latest/meta-data/instance-id"
    async with metadata.client() as client:
        metadata.clock.now += 59
        assert (await client.get(path, headers={TOKEN: token})).status_code == 200
        metadata.clock.now += 1
        assert (await client.get(path, headers={TOKEN: token})).status_code == 401


async def test_an_unknown_address_learns_nothing(metadata: Metadata) -> None:
    async with metadata.client("100.65.9.9") as client:
        minted = await client.put("/latest/api/token", headers={TTL: "60"})
        read = await client.get("/latest/meta-data/instance-id")
    assert minted.status_code == read.status_code == 403
    for answer in (minted, read):
        assert "i-0" not in answer.text and "123456789012" not in answer.text


async def test_methods_other_than_get_and_put_token_are_refused(metadata: Metadata) -> None:
    token = await metadata.token()
    async with metadata.client() as client:
        get_token = await client.get("/latest/api/token", headers={TOKEN: token})
        put_data = await client.put("/latest/meta-data/", headers={TOKEN: token})
        post = await client.post("/latest/meta-data/", headers={TOKEN: token})
        head = await client.head("/latest/meta-data/instance-id", headers={TOKEN: token})
    assert (get_token.status_code, get_token.headers["allow"]) == (405, "PUT")
    assert put_data.status_code == post.status_code == 405
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(WEB.instance_id))


async def test_the_meta_data_listing_and_values(metadata: Metadata) -> None:
    listing = await metadata.get("/latest/meta-data/")
    assert listing.text.split("\n") == [
        "ami-id",
        "hostname",
        "iam/",
        "instance-id",
        "instance-type",
        "local-hostname",
        "local-ipv4",
        "mac",
        "placement/",
        "public-ipv4",
        "public-keys/",
    ]
    assert (await metadata.get("/latest/meta-data")).text == listing.text
    expected = {
        "ami-id": WEB.image_id,
        "hostname": WEB.local_hostname,
        "instance-id": WEB.instance_id,
        "instance-type": "t3.micro",
        "local-hostname": WEB.local_hostname,
        "local-ipv4": "10.0.0.7",
        "mac": WEB.mac,
        "public-ipv4": WEB_ADDRESS,
        "placement/availability-zone": "eu-fr-1a",
        "placement/availability-zone/": "eu-fr-1a",  # botocore's region lookup asks this
        "placement/region": "eu-fr-1",
        "placement/": "availability-zone\nregion",
        "public-keys/": "0=deploy",
        "public-keys/0/": "openssh-key",
        "public-keys/0/openssh-key": "ssh-ed25519 AAAAC3Nza deploy",
    }
    for path, value in expected.items():
        answer = await metadata.get(f"/latest/meta-data/{path}")
        assert (answer.status_code, answer.text) == (200, value), path


async def test_the_top_levels_user_data_and_identity_document(metadata: Metadata) -> None:
    assert (await metadata.get("/")).text == "latest/"
    assert (await metadata.get("/latest/")).text == "dynamic/\nmeta-data/\nuser-data"
    user_data = await metadata.get("/latest/user-data")
    assert user_data.content == b"#!/bin/sh\necho hello\n"
    assert (await metadata.get("/latest/dynamic/instance-identity/")).text == "document"
    document = json.loads((await metadata.get("/latest/dynamic/instance-identity/document")).text)
    assert document == {
        "accountId": "123456789012",
        "architecture": "x86_64",
        "availabilityZone": "eu-fr-1a",
        "billingProducts": None,
        "devpayProductCodes": None,
        "marketplaceProductCodes": None,
        "imageId": WEB.image_id,
        "instanceId": WEB.instance_id,
        "instanceType": "t3.micro",
        "kernelId": None,
        "pendingTime": "2026-11-29T09:00:00Z",
        "privateIp": "10.0.0.7",
        "ramdiskId": None,
        "region": "eu-fr-1",
        "version": "2017-09-30",
    }


@pytest.mark.parametrize(
    "path",
    [
        "/latest/meta-data/nothing",
        "/latest/meta-data/public-keys/1/openssh-key",
        "/latest/meta-data//instance-id",
        "/latest/meta-data/%2e%2e/user-data",
        "/2009-04-04/meta-data/",
        "/latest/dynamic/instance-identity/signature",
    ],
)
async def test_unknown_paths_answer_404(metadata: Metadata, path: str) -> None:
    answer = await metadata.get(path)
    assert answer.status_code == 404
    assert "404 - Not Found" in answer.text


async def test_reading_other_paths_issues_no_credentials(metadata: Metadata) -> None:
    for path in ("/latest/meta-data/instance-id", "/latest/user-data", "/latest/dynamic/"):
        assert (await metadata.get(path)).status_code == 200
    assert metadata.issuer.issued == []


async def test_what_an_instance_lacks_is_absent(metadata: Metadata) -> None:
    listing = (await metadata.get("/latest/meta-data/", DB_ADDRESS)).text.split("\n")
    assert "iam/" not in listing and "public-ipv4" not in listing and "public-keys/" not in listing
    for path in (
        "/latest/user-data",
        "/latest/meta-data/public-ipv4",
        "/latest/meta-data/public-keys/",
        "/latest/meta-data/iam/",
        "/latest/meta-data/iam/security-credentials/",
    ):
        assert (await metadata.get(path, DB_ADDRESS)).status_code == 404, path
    assert metadata.issuer.issued == []  # nothing asked for an instance without a profile


async def test_the_role_credentials_in_ec2_s_shape(metadata: Metadata) -> None:
    assert (await metadata.get("/latest/meta-data/iam/")).text == "info\nsecurity-credentials/"
    info = json.loads((await metadata.get("/latest/meta-data/iam/info")).text)
    assert info == {
        "Code": "Success",
        "LastUpdated": "2027-01-15T08:00:00Z",
        "InstanceProfileArn": PROFILE_ARN,
        "InstanceProfileId": "AIPAEXAMPLE",
    }
    roles = await metadata.get("/latest/meta-data/iam/security-credentials/")
    assert roles.text == "web-role"
    credentials = json.loads(
        (await metadata.get("/latest/meta-data/iam/security-credentials/web-role")).text
    )
    assert credentials == {
        "Code": "Success",
        "LastUpdated": "2027-01-15T08:00:00Z",
        "Type": "AWS-HMAC",
        "AccessKeyId": "ASIAEXAMPLE00001",
        "SecretAccessKey": "secret-1",
        "Token": "token-1",
        "Expiration": "2027-01-15T09:00:00Z",
    }
    missing = await metadata.get("/latest/meta-data/iam/security-credentials/other-role")
    assert missing.status_code == 404
    assert metadata.issuer.issued == [WEB.instance_id]  # issued once, then served from memory


async def test_credentials_are_renewed_within_the_refresh_margin(metadata: Metadata) -> None:
    path = "/latest/meta-data/iam/security-credentials/web-role"
    first = json.loads((await metadata.get(path)).text)
    metadata.clock.now += 1799  # 30 min + 1 s left: still the same
    assert json.loads((await metadata.get(path)).text) == first
    metadata.clock.now += 1  # 30 min left: renewed, with an expiry an hour away
    renewed = json.loads((await metadata.get(path)).text)
    assert renewed["AccessKeyId"] == "ASIAEXAMPLE00002"
    assert renewed["Expiration"] == "2027-01-15T09:30:00Z"
    assert len(metadata.issuer.issued) == 2


async def test_no_iam_paths_when_the_role_gives_nothing(metadata: Metadata) -> None:
    metadata.issuer.refusing = True  # profile without a role, or a role that refuses EC2
    listing = (await metadata.get("/latest/meta-data/")).text.split("\n")
    assert "iam/" not in listing
    assert (await metadata.get("/latest/meta-data/iam/info")).status_code == 404
    metadata.issuer.refusing = False  # a role was added: asked again, not cached as absent
    assert (await metadata.get("/latest/meta-data/iam/info")).status_code == 200


async def test_a_new_profile_gets_new_credentials(metadata: Metadata) -> None:
    path = "/latest/meta-data/iam/security-credentials/web-role"
    await metadata.get(path)
    metadata.instances.by_ip[WEB_ADDRESS] = replace(WEB, instance_profile="another")
    renewed = json.loads((await metadata.get(path)).text)
    assert renewed["AccessKeyId"] == "ASIAEXAMPLE00002"


async def test_a_burst_of_reads_issues_once(metadata: Metadata) -> None:
    metadata.issuer.delay = 0.05
    path = "/latest/meta-data/iam/security-credentials/web-role"
    answers = await asyncio.gather(*(metadata.get(path) for _ in range(10)))
    assert {answer.text for answer in answers} == {answers[0].text}
    assert metadata.issuer.issued == [WEB.instance_id]


class BrokenDirectory:
    async def by_address(self, address: str) -> InstanceMetadata | None:
        raise OSError("database unreachable at postgresql://user:hunter2@db")


async def test_a_failing_directory_is_a_bare_500(
    metadata: Metadata, caplog: pytest.LogCaptureFixture
) -> None:
    cache = CredentialsCache(metadata.issuer, refresh_margin=1800)
    app = MetadataApp(BrokenDirectory(), cache, TokenAuthority(), ImdsLimits())
    transport = httpx.ASGITransport(app=app, client=(WEB_ADDRESS, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://imds") as client:
        answer = await client.get("/latest/meta-data/")
    assert answer.status_code == 500
    assert "hunter2" not in answer.text and "database" not in answer.text
    assert "failed" in caplog.text


async def test_one_access_line_per_request_without_secrets(
    metadata: Metadata, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="andromede.access")
    answer = await metadata.get("/latest/meta-data/iam/security-credentials/web-role")
    lines = [r.getMessage() for r in caplog.records if r.name == "andromede.access"]
    assert len(lines) == 2  # the token, then the read
    assert WEB.instance_id in lines[1] and " 200 " in lines[1]
    for secret in ("secret-1", "token-1", answer.request.headers["X-aws-ec2-metadata-token"]):
        assert secret not in caplog.text
