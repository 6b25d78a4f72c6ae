"""HttpPutResponseHopLimit (decision 0148): the metadata app asks the server's hop limiter for
the token PUT's answer only, with the instance's limit, and closes that connection; the
listener turns the limit into the socket's IP_TTL, adding the routers between it and the
guest. The real-kernel path is ``tests/contract/test_metadata_hop_limit.py``."""

from __future__ import annotations

import socket
from dataclasses import replace

import httpx
import pytest

from andromede.http.hop_limit import RESPONSE_HOP_LIMIT, response_hop_limiter
from andromede.http.response import Receive, Scope, Send
from andromede.hypervisor.metadata_listeners import ROUTERS_TO_GUEST, _limiter, ip_ttl
from andromede.imds.app import MetadataApp
from support.clock import Clock
from support.metadata import WEB, WEB_ADDRESS, metadata_world

TTL = {"X-aws-ec2-metadata-token-ttl-seconds": "60"}


def test_the_ttl_is_the_hop_limit_plus_the_platforms_routers() -> None:
    assert ROUTERS_TO_GUEST == 1  # the VPC's namespace (measured by the contract test)
    assert ip_ttl(1) == 2
    assert ip_ttl(2) == 3
    assert ip_ttl(64) == 65  # EC2's largest limit
    assert ip_ttl(300) == 255  # never past what an IP header holds
    assert ip_ttl(0) == 1


def test_the_limiter_sets_ip_ttl_on_the_socket() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        _limiter(sock)(3)
        assert sock.getsockopt(socket.IPPROTO_IP, socket.IP_TTL) == 3 + ROUTERS_TO_GUEST
    # A socket already closed: nothing to set, and no error for the request.
    closed = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    closed.close()
    _limiter(closed)(1)


def test_no_extension_no_limiter() -> None:
    assert response_hop_limiter({"type": "http"}) is None
    assert response_hop_limiter({"extensions": {RESPONSE_HOP_LIMIT: "not callable"}}) is None


class Limited:
    """The metadata app behind a server that offers the hop limiter, noting what it is asked."""

    def __init__(self, app: MetadataApp) -> None:
        self.app = app
        self.asked: list[int] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["extensions"] = {RESPONSE_HOP_LIMIT: self.asked.append}
        await self.app(scope, receive, send)


@pytest.mark.parametrize("hop_limit", [1, 2, 64])
async def test_only_the_token_answer_is_limited_and_its_connection_closed(
    clock: Clock, hop_limit: int
) -> None:
    metadata = metadata_world(clock)
    metadata.instances.by_ip[WEB_ADDRESS] = replace(
        WEB, put_response_hop_limit=hop_limit, tokens_required=False
    )
    limited = Limited(metadata.app)
    transport = httpx.ASGITransport(app=limited, client=(WEB_ADDRESS, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://169.254.169.254") as c:
        minted = await c.put("/latest/api/token", headers=TTL)
        assert minted.status_code == 200
        assert limited.asked == [hop_limit]
        assert minted.headers["connection"] == "close"
        # Reads are not limited (EC2 limits the PUT's answer): IMDSv1, and with the token.
        read = await c.get("/latest/meta-data/instance-id")
        assert (read.status_code, read.text) == (200, WEB.instance_id)
        read = await c.get(
            "/latest/meta-data/instance-id", headers={"X-aws-ec2-metadata-token": minted.text}
        )
        assert read.status_code == 200 and "connection" not in read.headers
        # A refused PUT carries no token: nothing to limit.
        assert (await c.put("/latest/api/token")).status_code == 400
        assert limited.asked == [hop_limit]


async def test_without_a_limiter_the_token_is_answered_as_before(clock: Clock) -> None:
    metadata = metadata_world(clock)
    async with metadata.client() as c:
        minted = await c.put("/latest/api/token", headers=TTL)
    assert minted.status_code == 200
    assert "connection" not in minted.headers
