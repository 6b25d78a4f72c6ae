"""S3 requests through a VPC gateway endpoint (decision 0160), on the in-process S3 app: the
keys ``aws:SourceVpce``, ``aws:SourceVpc`` and ``aws:VpcSourceIp`` are set for them and
absent otherwise, ``aws:SourceIp`` is absent for them, and the endpoint's policy must allow
the request besides the caller's and the bucket's. The origin is set as the endpoint listener
sets it (``through_endpoint``): nothing a client sends can."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.compute.vpc_endpoint import DEFAULT_POLICY
from andromede.s3.endpoint_origin import EndpointOrigin, through_endpoint
from support.s3app import Client, in_process_client
from unit.s3.test_policy_acl_cases import NO_BLOCK, content_md5

B = "/guarded"
KEY = f"{B}/report.csv"
VPCE = "vpce-0aaaaaaaaaaaaaaaa"
VPC = "vpc-0bbbbbbbbbbbbbbbb"
ORIGIN = EndpointOrigin(VPC, VPCE, DEFAULT_POLICY, "10.0.1.10")


def _policy(*statements: dict[str, object]) -> bytes:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}).encode()


@pytest.fixture
async def owner(tmp_path: Path) -> AsyncIterator[Client]:
    async with in_process_client(tmp_path / "data") as client:
        assert (await client.request("PUT", B)).status == 200
        assert (await client.request("PUT", KEY, b"a,b\n")).status == 200
        yield client


async def _get(client: Client, origin: EndpointOrigin | None = None, **extra: str) -> int:
    if origin is None:
        return (await client.request("GET", KEY, source_ip="203.0.113.9")).status
    with through_endpoint(origin):
        return (await client.request("GET", KEY, source_ip="100.65.0.7")).status


async def test_string_not_equals_source_vpce_denies_the_rest(owner: Client) -> None:
    deny = _policy(
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::guarded", "arn:aws:s3:::guarded/*"],
            "Condition": {"StringNotEquals": {"aws:SourceVpce": VPCE}},
        }
    )
    # The owner's root may always put a bucket policy (no lock-out), through the endpoint.
    with through_endpoint(ORIGIN):
        assert (await owner.request("PUT", f"{B}?policy", deny)).status == 204
    assert await _get(owner, ORIGIN) == 200
    assert await _get(owner) == 403  # the key is absent: StringNotEquals holds
    other = EndpointOrigin(VPC, "vpce-0ccccccccccccccccc"[:22], DEFAULT_POLICY, "10.0.1.10")
    assert await _get(owner, other) == 403
    # A header naming the endpoint is no origin.
    reply = await owner.request(
        "GET", KEY, headers={"x-amz-source-vpce": VPCE}, source_ip="203.0.113.9"
    )
    assert reply.status == 403


async def test_source_vpc_and_anonymous_reads_through_the_endpoint(owner: Client) -> None:
    allow = _policy(
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::guarded/*",
            "Condition": {
                "StringEquals": {"aws:SourceVpc": VPC},
                "IpAddress": {"aws:VpcSourceIp": "10.0.1.0/24"},
            },
        }
    )
    assert (await owner.request("PUT", f"{B}?policy", allow)).status == 204
    anonymous = owner.as_anonymous()
    assert await _get(anonymous, ORIGIN) == 200
    assert await _get(anonymous) == 403
    elsewhere = EndpointOrigin("vpc-0dddddddddddddddd", VPCE, DEFAULT_POLICY, "10.0.1.10")
    assert await _get(anonymous, elsewhere) == 403


async def test_source_ip_is_absent_through_an_endpoint(owner: Client) -> None:
    # aws:SourceIp names public addresses: a request through an endpoint has none, so an
    # allow on the guest's (or the host's) address never matches it, and a Null test says so.
    allow = _policy(
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::guarded/*",
            "Condition": {"Null": {"aws:SourceIp": "true"}},
        }
    )
    # A public policy by S3's measure (no key it counts as restricting): Block Public Access
    # off for it.
    reply = await owner.request("PUT", f"{B}?publicAccessBlock", NO_BLOCK, content_md5(NO_BLOCK))
    assert reply.status == 200, reply.body
    assert (await owner.request("PUT", f"{B}?policy", allow)).status == 204
    anonymous = owner.as_anonymous()
    assert await _get(anonymous, ORIGIN) == 200
    assert await _get(anonymous) == 403


async def test_the_endpoint_policy_bounds_every_caller(owner: Client) -> None:
    narrow = json.dumps(
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::other-bucket/*",
                }
            ]
        }
    )
    bounded = EndpointOrigin(VPC, VPCE, narrow, "10.0.1.10")
    # Even the bucket owner's root, whom its own bucket lets do anything.
    assert await _get(owner, bounded) == 403
    with through_endpoint(bounded):
        assert (await owner.request("PUT", f"{B}/new", b"x")).status == 403
    assert await _get(owner, ORIGIN) == 200
    denying = json.dumps(
        {
            "Statement": [
                {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"},
                {
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::guarded/report.csv",
                },
            ]
        }
    )
    assert await _get(owner, EndpointOrigin(VPC, VPCE, denying, "10.0.1.10")) == 403
