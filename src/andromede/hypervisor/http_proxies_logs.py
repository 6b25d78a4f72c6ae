"""What an Application Load Balancer's HTTP listener proxy notes of each request for the access
logs (decision 0264): the exchange a request starts (:func:`exchange_for`: AWS's request field,
user agent, trace id and desync classification, and the connection's TLS cipher, protocol,
SNI name and certificate), the names of the actions it took, and the trace id a request
without one is given.
"""

from __future__ import annotations

import asyncio
import secrets
import ssl
import time
from collections.abc import Mapping
from typing import Final

import h11

from andromede.hypervisor.http_access_log import Exchange
from andromede.hypervisor.http_proxies_settings import HttpRouting
from andromede.hypervisor.tls_terminators import presented
from andromede.loadbalancing.http_rules import FixedResponse, Forward, Redirect

__all__ = ["ACTION_NAMES", "exchange_for", "handshake_choice", "header_bytes", "trace_id"]


def header_bytes(request: h11.Request) -> int:
    """The request line's and headers' size, as received (h11 bounds an incomplete one
    only)."""
    line = len(request.method) + len(request.target) + 11
    return line + sum(len(k) + len(v) + 4 for k, v in request.headers)


def trace_id() -> bytes:
    return f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)}".encode()


ACTION_NAMES: Final[Mapping[type, str]] = {
    Forward: "forward",
    FixedResponse: "fixed-response",
    Redirect: "redirect",
}


def exchange_for(
    request: h11.Request,
    peer: tuple[str, int],
    routing: HttpRouting,
    writer: asyncio.StreamWriter,
    conn_trace: str,
    classified: tuple[str, str] = ("", ""),
) -> Exchange:
    """A request's access log record as it starts (decision 0264): AWS's request field
    (``METHOD scheme://host:port/path HTTP/1.1``), its user agent and trace id, and the
    desync classification and reason the proxy ``classified`` it with."""
    headers = dict(request.headers)
    given = headers.get(b"host", b"").decode("latin-1")
    host = given.rsplit(":", 1)[0] if given.rfind(":") > given.rfind("]") else given
    scheme = routing.protocol.lower()
    line = (
        f"{request.method.decode('latin-1')} {scheme}://{host}:{routing.port}"
        f"{request.target.decode('latin-1')} HTTP/{request.http_version.decode('latin-1')}"
    )
    tls = writer.get_extra_info("ssl_object")
    cipher = tls.cipher() if tls is not None else None
    domain, certificate = handshake_choice(tls)
    classification, reason = classified
    incoming = headers.get(b"x-amzn-trace-id", b"").decode("latin-1")
    return Exchange(
        kind=scheme,
        client=(str(peer[0]), int(peer[1])),
        request=line,
        user_agent=headers.get(b"user-agent", b"").decode("latin-1"),
        trace_id=incoming or trace_id().decode(),
        conn_trace_id=conn_trace,
        received=header_bytes(request),
        ssl_cipher=cipher[0] if cipher else "",
        ssl_protocol=cipher[1] if cipher else "",
        domain_name=domain,
        chosen_cert_arn=certificate,
        classification=classification,
        classification_reason=reason,
    )


def handshake_choice(tls: ssl.SSLObject | None) -> tuple[str, str]:
    """An HTTPS connection's ``domain_name`` and ``chosen_cert_arn`` as AWS logs them
    (decision 0269): the client's SNI name when a certificate's names matched it ("" when
    the default was presented for want of one), and the certificate's ARN —
    ``session-reused`` for a resumed session, which presented none."""
    chosen = presented(tls)
    if tls is None or chosen is None:
        return "", ""
    domain = chosen.server_name if chosen.matched else ""
    return domain, "session-reused" if tls.session_reused else chosen.certificate_arn
