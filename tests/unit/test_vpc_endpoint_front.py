"""A hypervisor agent's VPC endpoint listener forwarding to a gateway (decision 0160): the
origin attestation (a MAC under a key derived from the secrets key) holds only for the
request it was made for, under that key, while fresh; the gateway's gate serves S3 through
the endpoint for an attested request and refuses a forged, stale or stray one; a guest's own
attestation header never reaches the gateway. The forwarder talks to the gate over httpx's
ASGI transport, the gate to the in-process S3 app (memory twins)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from andromede.compute.vpc_endpoint import DEFAULT_POLICY
from andromede.http.response import Receive, Scope, Send
from andromede.vpc_endpoint_front import (
    ATTESTATION_HEADER,
    EndpointForwarder,
    EndpointGate,
    attest,
    attestation_key,
    verify,
)
from support.s3app import Client, in_process_client

VPC, VPCE, PRIVATE = "vpc-0aaaaaaaaaaaaaaaa", "vpce-0bbbbbbbbbbbbbbbb", "10.0.1.11"
NOW = 1_800_000_000.0
KEY = "/guarded/report.csv"


def test_an_attestation_holds_for_its_request_only(tmp_path: Path) -> None:
    secret = tmp_path / "secrets.key"
    secret.write_bytes(b"k" * 32)
    key = attestation_key(secret)
    value = attest(key, (VPC, VPCE, PRIVATE), "GET", KEY, NOW)
    assert verify(key, value, "GET", KEY, NOW + 30, 60) == (VPC, VPCE, PRIVATE)
    assert verify(key, value, "PUT", KEY, NOW, 60) is None
    assert verify(key, value, "GET", KEY + "?acl", NOW, 60) is None
    assert verify(key, value, "GET", KEY, NOW + 61, 60) is None
    other = tmp_path / "other.key"
    other.write_bytes(b"o" * 32)
    assert verify(attestation_key(other), value, "GET", KEY, NOW, 60) is None
    forged = value.replace(VPCE, "vpce-0cccccccccccccccc")
    assert verify(key, forged, "GET", KEY, NOW, 60) is None
    assert verify(key, "nonsense", "GET", KEY, NOW, 60) is None


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Client]:
    async with in_process_client(tmp_path / "data") as client:
        assert (await client.request("PUT", "/guarded")).status == 200
        assert (await client.request("PUT", KEY, b"q4,42\n")).status == 200
        policy = {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": ["s3:GetObject", "s3:PutObject"],
                    "Resource": "arn:aws:s3:::guarded/*",
                    "Condition": {"StringEquals": {"aws:SourceVpce": VPCE}},
                }
            ]
        }
        reply = await client.request("PUT", "/guarded?policy", json.dumps(policy).encode())
        assert reply.status == 204, reply.body
        yield client


def _gateway(store: Client, gate: EndpointGate) -> Any:
    """The gateway's dispatch as ``Application`` does it: an attested request to the gate."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        attested = EndpointGate.attested(scope)
        if attested is not None:
            await gate.serve(attested, "s3", store.app, scope, receive, send)
            return
        await store.app(scope, receive, send)

    return app


async def _through(
    forwarder: EndpointForwarder, method: str, path: str, body: bytes = b"", **headers: str
) -> tuple[int, bytes]:
    scope = {
        "type": "http", "method": method, "path": path, "raw_path": path.encode(),
        "query_string": b"", "scheme": "http", "server": ("100.64.0.1", 16926),
        "client": ("100.65.0.7", 40001),
        "headers": [(b"host", b"192.0.2.80"), (b"content-length", str(len(body)).encode())]
        + [(k.encode(), v.encode()) for k, v in headers.items()],
    }  # fmt: skip
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await forwarder(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


async def test_the_agent_forwards_and_the_gateway_serves_through_the_endpoint(
    store: Client, tmp_path: Path
) -> None:
    secret = tmp_path / "secrets.key"
    secret.write_bytes(b"s" * 32)
    key = attestation_key(secret)
    endpoints = {VPCE: (VPC, DEFAULT_POLICY, "s3")}

    async def lookup(endpoint_id: str) -> tuple[str, str, str] | None:
        return endpoints.get(endpoint_id)

    gate = EndpointGate(key, lookup, max_age=60, clock=lambda: NOW)
    gateway = _gateway(store, gate)

    def resolve(server_ip: str, client_ip: str, client_port: int) -> tuple[str, str, str] | None:
        return (
            (VPC, VPCE, PRIVATE) if (server_ip, client_ip) == ("100.64.0.1", "100.65.0.7") else None
        )

    forwarder = EndpointForwarder(
        resolve, key, "http://gateway", clock=lambda: NOW,
        transport=httpx.ASGITransport(app=gateway),
    )  # fmt: skip
    try:
        assert await _through(forwarder, "GET", KEY) == (200, b"q4,42\n")
        # A body goes through, streamed.
        status, _ = await _through(forwarder, "PUT", "/guarded/new.csv", b"x" * 70_000)
        assert status == 200
        assert (await _through(forwarder, "GET", "/guarded/new.csv"))[1] == b"x" * 70_000
        # A guest's own attestation header is dropped: the agent's alone reaches the gateway.
        forged = attest(key, (VPC, "vpce-0dddddddddddddddd", PRIVATE), "GET", KEY, NOW)
        assert (await _through(forwarder, "GET", KEY, **{ATTESTATION_HEADER: forged}))[0] == 200
        # The endpoint gone: refused at the gateway.
        endpoints.clear()
        assert (await _through(forwarder, "GET", KEY))[0] == 403
    finally:
        await forwarder.aclose()
    # Straight to the gateway: without an attestation S3 sees no endpoint; a made-up or a
    # stale one is refused, not ignored.
    endpoints[VPCE] = (VPC, DEFAULT_POLICY, "s3")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway)) as direct:
        assert (await direct.get(f"http://gateway{KEY}")).status_code == 403
        fake = attest(b"not the key", (VPC, VPCE, PRIVATE), "GET", KEY, NOW)
        answer = await direct.get(f"http://gateway{KEY}", headers={ATTESTATION_HEADER: fake})
        assert answer.status_code == 403
        stale = attest(key, (VPC, VPCE, PRIVATE), "GET", KEY, NOW - 120)
        answer = await direct.get(f"http://gateway{KEY}", headers={ATTESTATION_HEADER: stale})
        assert answer.status_code == 403
        fresh = attest(key, (VPC, VPCE, PRIVATE), "GET", KEY, NOW)
        answer = await direct.get(f"http://gateway{KEY}", headers={ATTESTATION_HEADER: fresh})
        assert answer.status_code == 200


async def test_a_connection_the_agent_cannot_place_is_refused(tmp_path: Path) -> None:
    async def nowhere(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError("nothing is forwarded")

    forwarder = EndpointForwarder(
        lambda server, client, port: None, b"k" * 32, "http://gateway",
        transport=httpx.ASGITransport(app=nowhere),
    )  # fmt: skip
    try:
        status, body = await _through(forwarder, "GET", KEY)
        assert status == 403 and b"<Code>AccessDenied</Code>" in body
    finally:
        await forwarder.aclose()


async def test_the_gateways_gate_takes_its_settings(tmp_path: Path) -> None:
    """``vpc_endpoint_origin_max_age`` bounds an attestation's age at the gateway, whose key
    is the data folder's; without compute no endpoint is found, so nothing is let through."""
    from andromede.settings import Settings
    from andromede.wiring.compute import endpoint_gate

    keys = tmp_path / "data" / "keys"
    keys.mkdir(parents=True)
    (keys / "secrets.key").write_bytes(b"g" * 32)
    gate = endpoint_gate(Settings(data_dir=tmp_path / "data", vpc_endpoint_origin_max_age=5), None)
    key = attestation_key(keys / "secrets.key")
    scope: Scope = {"type": "http", "method": "GET", "path": KEY, "raw_path": KEY.encode()}
    fresh = attest(key, (VPC, VPCE, PRIVATE), "GET", KEY, time.time())
    assert gate._key == key and gate._max_age == 5
    assert await gate.origin(scope, fresh) is None  # no compute, no endpoint
    with pytest.raises(ValueError, match="vpc_endpoint_origin_max_age"):
        Settings(vpc_endpoint_origin_max_age=0)
    assert Settings(vpc_endpoint_gateway_url="http://10.0.0.2:9000").vpc_endpoint_gateway_url
