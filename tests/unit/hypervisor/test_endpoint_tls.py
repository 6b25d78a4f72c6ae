"""TLS at the VPC endpoints' listeners (decision 0160's addendum): the settings where they act
(the TLS port in the hosts' layout, their guard and the driver's certificate only with a
certificate; the certificate and its key together; the ports apart), the router's port-443
line before the plain one, and a listener terminating TLS with the certificate given — a
client trusting its CA reads the app through it, by the store's name."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import httpx
import pytest
import trustme
from pydantic import ValidationError

from andromede.compute_adapters import hypervisor_host_driver
from andromede.http.response import Receive, Scope, Send
from andromede.hypervisor.endpoint_redirect import endpoint_dnats
from andromede.hypervisor.metadata_listeners import ListenerTls, MetadataListeners
from andromede.hypervisor.network_guards import render_metadata_guard
from andromede.hypervisor.network_layout import NetworkLayout
from andromede.settings import Settings


def _pem(tmp_path: Path, *names: str) -> tuple[Path, Path, Path]:
    ca = trustme.CA()
    leaf = ca.issue_cert(*names)
    cert, key, authority = tmp_path / "s3.pem", tmp_path / "s3-key.pem", tmp_path / "ca.pem"
    cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(authority))
    return cert, key, authority


def test_the_tls_listener_only_with_a_certificate(tmp_path: Path) -> None:
    plain = hypervisor_host_driver(Settings(hypervisor_vpce_tls_port=17002))
    assert plain._config.network_layout.vpce_tls_port == 0
    assert "tcp dport 0" not in render_metadata_guard(plain._config.network_layout)
    cert, key, _ = _pem(tmp_path, "s3.example")
    settings = Settings(
        hypervisor_vpce_tls_port=17002, vpc_endpoint_tls_cert=cert, vpc_endpoint_tls_key=key
    )
    driver = hypervisor_host_driver(settings)
    layout = driver._config.network_layout
    assert layout.vpce_tls_port == 17002
    assert (driver._config.vpce_tls_certfile, driver._config.vpce_tls_keyfile) == (
        str(cert),
        str(key),
    )
    guard = render_metadata_guard(layout)
    assert f'tcp dport 17002 iifname != "{layout.link_prefix}t*" drop' in guard
    with pytest.raises(ValidationError, match="go together"):
        Settings(vpc_endpoint_tls_cert=cert)
    with pytest.raises(ValidationError, match="hypervisor_vpce_tls_port"):
        Settings(
            hypervisor_vpce_tls_port=16926, vpc_endpoint_tls_cert=cert, vpc_endpoint_tls_key=key
        )
    with pytest.raises(ValueError, match="vpce_tls_port"):
        NetworkLayout(vpce_port=17001, vpce_tls_port=17001)


def test_the_router_sends_port_443_to_the_tls_listener() -> None:
    lines = endpoint_dnats(
        {"br1": ("192.0.2.80/32",)}, host_transit_ip="100.64.0.1", port=17001, tls_port=17002
    )
    assert lines == [
        '    iifname "br1" ip daddr 192.0.2.80/32 tcp dport 443 dnat to 100.64.0.1:17002',
        '    iifname "br1" ip daddr 192.0.2.80/32 meta l4proto tcp dnat to 100.64.0.1:17001',
    ]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _app(scope: Scope, receive: Receive, send: Send) -> None:
    body = f"{scope['scheme']} {scope['server'][1]}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


async def test_a_listener_terminates_tls_with_the_stores_certificate(tmp_path: Path) -> None:
    cert, key, authority = _pem(tmp_path, "s3.example", "127.0.0.1")
    plain_port, tls_port = _free_port(), _free_port()
    listeners = MetadataListeners(_app, plain_port, ListenerTls(tls_port, str(cert), str(key)))
    await listeners.network_up("127.0.0.1")
    try:
        trusted = ssl.create_default_context(cafile=str(authority))
        async with httpx.AsyncClient(verify=trusted) as client:
            answer = await client.get(f"https://127.0.0.1:{tls_port}/")
            assert (answer.status_code, answer.text) == (200, f"https {tls_port}")
            answer = await client.get(f"http://127.0.0.1:{plain_port}/")
            assert (answer.status_code, answer.text) == (200, f"http {plain_port}")
        # A client that does not trust the certificate's CA is refused the handshake.
        async with httpx.AsyncClient() as client:
            with pytest.raises(httpx.ConnectError):
                await client.get(f"https://127.0.0.1:{tls_port}/")
    finally:
        await listeners.close()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{plain_port}/")
