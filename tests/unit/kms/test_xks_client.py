"""The XKS client's network rules (decision 0090): a tenant's proxy endpoint never makes the
gateway reach an internal address unless ``xks_allowed_networks`` allows it, TLS is checked
against the system store and ``xks_ca_bundle`` with the endpoint's name, and ``xks_timeout``
bounds a call that gets no answer. Its kept connections (decision 0101): one handshake for many
calls, a pool per endpoint name, none shared across a fork or an event loop, closed by
``aclose``; and its client certificate for proxies that ask for one. Over real sockets and a
real TLS server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import socket
import ssl
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme

from andromede.http import outbound
from andromede.kms import xks_client
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
    await client.aclose()
    return caught.value


HEALTH = json.dumps(
    {"xksProxyFleetSize": 1, "xksProxyVendor": "test", "xksProxyModel": "test",
     "ekmVendor": "test", "ekmFleetDetails": [{"id": "1", "model": "t", "healthStatus": "ACTIVE"}]}
).encode()  # fmt: skip


@dataclass
class TlsProxy:
    """A GetHealthStatus answerer over HTTPS with HTTP/1.1 keep-alive, counting connections."""

    port: int
    connections: list[tuple[str, int]] = field(default_factory=list)
    peer_certificates: list[dict[str, Any] | None] = field(default_factory=list)

    def url(self, host: str = "localhost") -> str:
        return f"https://{host}:{self.port}"


@contextmanager
def tls_proxy(
    ca: trustme.CA, *names: str, client_ca: trustme.CA | None = None
) -> Iterator[TlsProxy]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*(names or ("localhost",))).configure_cert(context)
    if client_ca is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        client_ca.configure_trust(context)
    holder: dict[str, TlsProxy] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            holder["proxy"].connections.append(self.client_address)
            holder["proxy"].peer_certificates.append(self.request.getpeercert() or None)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(HEALTH)))
            self.end_headers()
            self.wfile.write(HEALTH)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    holder["proxy"] = TlsProxy(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder["proxy"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


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
    """A listener that never answers: the call ends at the timeout, not later. The kernel
    completes the TCP handshake and queues the connection; nothing accepts it, so the test
    holds no socket of the peer's (an asyncio server accepting one after the test's cleanup had
    closed those it knew of left it open: a ResourceWarning in a later test)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        client = XksClient(region="eu-fr-1", timeout=0.3, allowed_networks=LOCAL)
        started = time.monotonic()
        assert (await failure_of(client, f"https://localhost:{port}")).failure is (
            XksFailure.TIMEOUT
        )
    assert time.monotonic() - started < 2.0


@dataclass
class MuteTlsPeer:
    """One connection accepted, its first TLS bytes read, never answered: a handshake that
    hangs. A thread of its own with blocking sockets, each closed by that thread, so the peer
    leaves nothing for a garbage collection to find."""

    port: int
    hello: threading.Event = field(default_factory=threading.Event)
    hung_up: threading.Event = field(default_factory=threading.Event)


@contextmanager
def mute_tls_peer() -> Iterator[MuteTlsPeer]:
    listener = socket.create_server(("127.0.0.1", 0))
    peer = MuteTlsPeer(listener.getsockname()[1])
    accepted: list[socket.socket] = []

    def serve() -> None:
        with contextlib.suppress(OSError):  # the listener or the connection closed under it
            connection, _ = listener.accept()
            accepted.append(connection)
            with connection:
                if connection.recv(1):  # the ClientHello: the client is in its handshake
                    peer.hello.set()
                while connection.recv(4096):  # until the client closes its end
                    pass
                peer.hung_up.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield peer
    finally:
        for connection in accepted:  # a client that never hung up: the test failed
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        listener.close()
        thread.join(timeout=10)


def _unclosed_to(port: int) -> list[str]:
    """The sockets and transports to ``port`` that a garbage collection finds unclosed."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        gc.collect()
    return [
        str(w.message)
        for w in caught
        if issubclass(w.category, ResourceWarning) and str(port) in str(w.message)
    ]


async def _hung_up(peer: MuteTlsPeer) -> bool:
    return await asyncio.to_thread(peer.hung_up.wait, 10)


async def test_a_call_cancelled_during_the_tls_handshake_closes_its_connection() -> None:
    """httpcore closes a connection whose handshake failed, not one whose handshake was
    cancelled (the caller gone, or the call's outer bound): that socket stayed open until a
    later garbage collection warned about it, in whatever test ran then."""
    with mute_tls_peer() as peer:
        client = XksClient(region="eu-fr-1", timeout=30.0, allowed_networks=LOCAL)
        call = asyncio.create_task(
            client.health(endpoint(f"https://localhost:{peer.port}"), METADATA)
        )
        try:
            assert await asyncio.to_thread(peer.hello.wait, 10)
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
            assert _unclosed_to(peer.port) == []
            assert await _hung_up(peer)
        finally:
            await client.aclose()


async def test_a_handshake_cut_by_the_calls_outer_bound_closes_its_connection() -> None:
    """The name resolved slowly: the handshake starts with less of the call's outer bound
    (twice xks_timeout) left than its own xks_timeout, and the outer bound ends it."""
    timeout = 0.5

    async def slow(
        url: str, allowed: Sequence[outbound.Network], setting: str
    ) -> outbound.PinnedUrl:
        await asyncio.sleep(timeout * 1.5)
        return await outbound.pin(url, allowed, setting)

    with mute_tls_peer() as peer:
        client = XksClient(region="eu-fr-1", timeout=timeout, allowed_networks=LOCAL, resolver=slow)
        try:
            failed = await failure_of(client, f"https://localhost:{peer.port}")
            assert failed.failure is XksFailure.TIMEOUT
            assert _unclosed_to(peer.port) == []
            assert await _hung_up(peer)
        finally:
            await client.aclose()


def test_the_secret_stays_out_of_reprs() -> None:
    assert "s" * 43 not in repr(endpoint("https://xks.example.com"))


async def test_calls_to_a_proxy_reuse_one_connection_and_one_handshake(tmp_path: Path) -> None:
    ca = trustme.CA()
    bundle = write_ca(ca, tmp_path / "ca.pem")
    with tls_proxy(ca) as proxy:
        client = XksClient(region="eu-fr-1", timeout=5.0, ca_bundle=bundle, allowed_networks=LOCAL)
        try:
            for _ in range(20):
                await client.health(endpoint(proxy.url()), METADATA)
            assert client.handshakes == 1
            assert len(proxy.connections) == 1
        finally:
            await client.aclose()


async def test_concurrent_calls_open_at_most_xks_max_connections(tmp_path: Path) -> None:
    ca = trustme.CA()
    bundle = write_ca(ca, tmp_path / "ca.pem")
    with tls_proxy(ca) as proxy:
        client = XksClient(
            region="eu-fr-1", timeout=5.0, ca_bundle=bundle, allowed_networks=LOCAL,
            max_connections=2,
        )  # fmt: skip
        try:
            for _ in range(3):
                await asyncio.gather(
                    *(client.health(endpoint(proxy.url()), METADATA) for _ in range(8))
                )
            assert 1 <= client.handshakes <= 2
            assert len(proxy.connections) == client.handshakes
        finally:
            await client.aclose()


async def test_two_names_of_one_address_never_share_a_connection(tmp_path: Path) -> None:
    """A connection is kept for the name its certificate was checked for: another tenant's
    name for the same address gets a connection (and a certificate check) of its own."""
    ca = trustme.CA()
    bundle = write_ca(ca, tmp_path / "ca.pem")

    async def both_local(url: str, allowed: object, setting: str) -> outbound.PinnedUrl:
        pinned = await outbound.pin(url.replace("://other.test", "://localhost"), LOCAL_NETS, "")
        host = url.split("://", 1)[1].split("/", 1)[0]
        return outbound.PinnedUrl(pinned.targets, host, host.split(":", 1)[0])

    with tls_proxy(ca, "localhost", "other.test") as proxy:
        client = XksClient(
            region="eu-fr-1", timeout=5.0, ca_bundle=bundle, allowed_networks=LOCAL,
            resolver=both_local,
        )  # fmt: skip
        try:
            for _ in range(3):
                await client.health(endpoint(proxy.url("localhost")), METADATA)
                await client.health(endpoint(proxy.url("other.test")), METADATA)
            assert client.handshakes == 2
            assert len(proxy.connections) == 2
        finally:
            await client.aclose()


LOCAL_NETS = outbound.networks(LOCAL)


async def test_a_pool_is_never_used_across_a_fork(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In another process (as a worker forked from a parent that had called a proxy) the
    connections are the parent's: set aside, never used nor closed; the child opens its own."""
    ca = trustme.CA()
    bundle = write_ca(ca, tmp_path / "ca.pem")
    with tls_proxy(ca) as proxy:
        client = XksClient(region="eu-fr-1", timeout=5.0, ca_bundle=bundle, allowed_networks=LOCAL)
        await client.health(endpoint(proxy.url()), METADATA)
        parent = os.getpid()
        set_aside = len(xks_client._SET_ASIDE)
        monkeypatch.setattr(xks_client.os, "getpid", lambda: parent + 1)
        try:
            await client.health(endpoint(proxy.url()), METADATA)
            assert (client.handshakes, len(proxy.connections)) == (2, 2)
            assert len(xks_client._SET_ASIDE) == set_aside + 1
        finally:
            await client.aclose()
            monkeypatch.undo()
            inherited = xks_client._SET_ASIDE.pop()
            await inherited.aclose()  # the test's own "parent" connection


async def test_aclose_closes_the_kept_connections(tmp_path: Path) -> None:
    ca = trustme.CA()
    bundle = write_ca(ca, tmp_path / "ca.pem")
    with tls_proxy(ca) as proxy:
        client = XksClient(region="eu-fr-1", timeout=5.0, ca_bundle=bundle, allowed_networks=LOCAL)
        await client.health(endpoint(proxy.url()), METADATA)
        await client.aclose()
        await client.health(endpoint(proxy.url()), METADATA)  # a new pool after a close
        assert (client.handshakes, len(proxy.connections)) == (2, 2)
        await client.aclose()


async def test_a_proxy_asking_for_a_client_certificate_gets_the_gateways(tmp_path: Path) -> None:
    ca, client_ca = trustme.CA(), trustme.CA()
    bundle = write_ca(ca, tmp_path / "ca.pem")
    issued = client_ca.issue_cert("cks.kms.eu-fr-1.example.com")
    certificate, key = tmp_path / "gateway.pem", tmp_path / "gateway-key.pem"
    issued.cert_chain_pems[0].write_to_path(str(certificate))
    issued.private_key_pem.write_to_path(str(key))
    with tls_proxy(ca, client_ca=client_ca) as proxy:
        without = XksClient(region="eu-fr-1", timeout=5.0, ca_bundle=bundle, allowed_networks=LOCAL)
        assert (await failure_of(without, proxy.url())).failure is XksFailure.TLS
        with_certificate = XksClient(
            region="eu-fr-1", timeout=5.0, ca_bundle=bundle, allowed_networks=LOCAL,
            client_certificate=(certificate, key),
        )  # fmt: skip
        try:
            await with_certificate.health(endpoint(proxy.url()), METADATA)
        finally:
            await with_certificate.aclose()
        presented = proxy.peer_certificates[-1]
        assert presented is not None
        assert (("commonName", "cks.kms.eu-fr-1.example.com"),) in presented["subject"] or any(
            "cks.kms.eu-fr-1.example.com" in str(v) for v in presented.values()
        )
    assert key.read_text() not in repr(with_certificate)
