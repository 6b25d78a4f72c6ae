"""The XKS client's network rules (decision 0090): a tenant's proxy endpoint never makes the
gateway reach an internal address unless ``xks_allowed_networks`` allows it, TLS is checked
against the system store and ``xks_ca_bundle`` with the endpoint's name, and ``xks_timeout``
bounds a call that gets no answer. Over real sockets and a real TLS server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import pytest
import trustme

from andromede.kms.xks_client import (
    XksClient,
    XksEndpoint,
    XksFailure,
    XksProxyFailure,
    XksRequestMetadata,
)
from support.oidc import https_idp, write_ca

METADATA = XksRequestMetadata(kms_operation="ConnectCustomKeyStore", kms_request_id="r-1")
LOCAL = ("127.0.0.0/8", "::1/128")


def endpoint(url: str) -> XksEndpoint:
    return XksEndpoint(url + "/kms/xks/v1", "A" * 20, "s" * 43)


async def failure_of(client: XksClient, url: str) -> XksProxyFailure:
    with pytest.raises(XksProxyFailure) as caught:
        await client.health(endpoint(url), METADATA)
    return caught.value


@pytest.mark.parametrize("url", ["https://localhost:9", "https://localhost"])
async def test_an_internal_proxy_address_is_refused_before_any_connection(url: str) -> None:
    client = XksClient(region="eu-fr-1", timeout=2.0)
    refused = await failure_of(client, url)
    assert refused.failure is XksFailure.REFUSED_ADDRESS
    assert "xks_allowed_networks" in str(refused)


async def test_the_operators_networks_are_reached_and_tls_is_checked(tmp_path: Path) -> None:
    ca = trustme.CA()
    bundle = write_ca(ca, tmp_path / "ca.pem")
    with https_idp(ca, host="localhost") as served:
        url = served.issuer
        refused = XksClient(region="eu-fr-1", timeout=5.0, ca_bundle=bundle)
        assert (await failure_of(refused, url)).failure is XksFailure.REFUSED_ADDRESS
        allowed = XksClient(region="eu-fr-1", timeout=5.0, ca_bundle=bundle, allowed_networks=LOCAL)
        # TLS passed with the bundle: the server (a GET-only IdP) answers what no proxy would.
        assert (await failure_of(allowed, url)).failure is XksFailure.MALFORMED
        untrusted = XksClient(region="eu-fr-1", timeout=5.0, allowed_networks=LOCAL)
        assert (await failure_of(untrusted, url)).failure is XksFailure.TLS
        # The certificate names localhost, not the address connected to.
        by_address = await failure_of(allowed, url.replace("localhost", "127.0.0.1"))
        assert by_address.failure is XksFailure.TLS


async def test_a_closed_port_is_unreachable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = XksClient(region="eu-fr-1", timeout=2.0, allowed_networks=LOCAL)
    assert (await failure_of(client, f"https://localhost:{port}")).failure is (
        XksFailure.UNREACHABLE
    )


async def test_a_silent_proxy_times_out_within_xks_timeout() -> None:
    """A listener that accepts and never answers: the call ends at the timeout, not later."""
    held: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = XksClient(region="eu-fr-1", timeout=0.3, allowed_networks=LOCAL)
    started = time.monotonic()
    try:
        assert (await failure_of(client, f"https://localhost:{port}")).failure is (
            XksFailure.TIMEOUT
        )
    finally:
        for writer in held:
            writer.close()
            await writer.wait_closed()
        server.close()
        await server.wait_closed()
    assert time.monotonic() - started < 2.0


def test_the_secret_stays_out_of_reprs() -> None:
    assert "s" * 43 not in repr(endpoint("https://xks.example.com"))
