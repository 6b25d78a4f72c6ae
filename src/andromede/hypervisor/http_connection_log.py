"""What an HTTP or HTTPS listener's proxy notes of each client connection for its Application
Load Balancer's connection logs (decisions 0287 and 0307): the TLS handshake, made by the
proxy itself on each accepted socket and timed — asyncio's TLS server makes it before the
connection's callback and tells nothing of one that failed, which AWS logs —, and the
connection's line (:mod:`andromede.loadbalancing.connection_logs`): established, failed in the
handshake with AWS's reason, or refused after it for a revoked certificate
(``ClientCertCrlHit``); a plain HTTP listener's connection established, its TLS fields ``-``.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from datetime import UTC, datetime

from andromede.loadbalancing.connection_logs import (
    SUCCESS,
    UNMAPPED,
    ConnectionLogEntry,
    connection_log_line,
    failed_status,
    leaf_fields,
)

__all__ = ["established_line", "failed_line", "handshake", "plain_line"]

# Under mutual TLS's verify mode a client that gives no certificate fails the handshake with
# this OpenSSL reason; AWS's codes have none of their own for it.
_NO_CERTIFICATE = "PEER_DID_NOT_RETURN_A_CERTIFICATE"


async def handshake(
    conn: socket.socket, context: ssl.SSLContext, timeout: float
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """The accepted ``conn``'s TLS handshake as the server of ``context``, within
    ``timeout`` seconds; the connection's streams. Raises what failed it (``ssl.SSLError``,
    ``OSError``; asyncio's timeout is a ``ConnectionAbortedError``), the socket closed."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    protocol = asyncio.StreamReaderProtocol(reader)
    try:
        transport, _ = await loop.connect_accepted_socket(
            lambda: protocol, conn, ssl=context, ssl_handshake_timeout=timeout
        )
    except BaseException:
        conn.close()
        raise
    return reader, asyncio.StreamWriter(transport, protocol, reader, loop)


def established_line(
    writer: asyncio.StreamWriter,
    peer: tuple[str, int],
    port: int,
    latency: float,
    conn_trace: str,
    *,
    revoked: bool = False,
) -> str:
    """The line of a connection whose handshake succeeded: its protocol, cipher and
    latency, the client's leaf certificate when it gave one (mutual TLS), ``Success`` —
    ``Failed:ClientCertCrlHit`` when the proxy refused it for a revoked certificate (no
    latency then: AWS counts it a failed handshake)."""
    tls = writer.get_extra_info("ssl_object")
    cipher = tls.cipher() if tls is not None else None
    leaf = tls.getpeercert(binary_form=True) if tls is not None else None
    subject, validity, serial = leaf_fields(leaf) if leaf else ("", "", "")
    entry = ConnectionLogEntry(
        time=datetime.now(UTC),
        client=(str(peer[0]), int(peer[1])),
        listener_port=port,
        verify_status="Failed:ClientCertCrlHit" if revoked else SUCCESS,
        conn_trace_id=conn_trace,
        tls_protocol=cipher[1] if cipher else "",
        tls_cipher=cipher[0] if cipher else "",
        handshake_latency=None if revoked else latency,
        cert_subject=subject,
        cert_validity=validity,
        cert_serial=serial,
    )
    return connection_log_line(entry)


def failed_line(peer: tuple[str, int], port: int, failure: BaseException, conn_trace: str) -> str:
    """The line of a connection whose handshake failed: AWS's reason for a client
    certificate OpenSSL refused, ``UnmappedConnectionError`` for anything else (no shared
    protocol or cipher, a client that left or said nothing in time)."""
    if isinstance(failure, ssl.SSLCertVerificationError):
        status = failed_status(failure.verify_code)
    elif isinstance(failure, ssl.SSLError) and failure.reason == _NO_CERTIFICATE:
        status = "Failed:ClientCertUntrusted"
    else:
        status = UNMAPPED
    entry = ConnectionLogEntry(
        time=datetime.now(UTC),
        client=(str(peer[0]), int(peer[1])),
        listener_port=port,
        verify_status=status,
        conn_trace_id=conn_trace,
    )
    return connection_log_line(entry)


def plain_line(peer: tuple[str, int], port: int, conn_trace: str) -> str:
    """The line of a connection accepted by a plain HTTP listener (decision 0307): AWS's
    ``-`` for its protocol, cipher, handshake latency and certificate fields — there was no
    TLS —, ``Success`` as of any connection established."""
    entry = ConnectionLogEntry(
        time=datetime.now(UTC),
        client=(str(peer[0]), int(peer[1])),
        listener_port=port,
        verify_status=SUCCESS,
        conn_trace_id=conn_trace,
    )
    return connection_log_line(entry)
