"""What an HTTPS listener's proxy tells its targets of the client's certificate (decision
0256): nothing with mutual TLS off; in ``verify`` mode the leaf's headers, the connection
refused when a revocation list of the trust store names the leaf (the handshake checked the
rest); in ``passthrough`` mode the certificates the client presented, its leaf then the chain
it sent (decision 0269).

The chain a client sent is OpenSSL's ``SSL_get_peer_cert_chain``, which CPython 3.11's ``ssl``
reads (``_SSLSocket.get_unverified_chain``, public as ``SSLObject.get_unverified_chain`` from
3.13) but does not yet show on its ``SSLObject``: it is taken where it is, and without it the
leaf alone is told, as before.
"""

from __future__ import annotations

import _ssl
import asyncio
import ssl

from andromede.hypervisor.http_proxies_settings import Headers
from andromede.loadbalancing.trust_stores import (
    MutualTls,
    client_certificate_headers,
    is_revoked,
)

__all__ = ["client_certificate", "presented_chain"]


def presented_chain(tls: ssl.SSLObject | ssl.SSLSocket, leaf: bytes) -> list[bytes]:
    """The certificates (DER) the client presented after its ``leaf``, in its order."""
    public = getattr(tls, "get_unverified_chain", None)  # Python 3.13
    inner = getattr(tls, "_sslobj", None)
    unverified = public or getattr(inner, "get_unverified_chain", None)
    if unverified is None:
        return []
    presented = []
    for certificate in unverified() or ():
        der = certificate if isinstance(certificate, bytes) else None
        if der is None:
            der = certificate.public_bytes(_ssl.ENCODING_DER)
        presented.append(bytes(der))
    # A server's OpenSSL leaves the leaf out of the peer's chain; CPython puts it first.
    if presented and presented[0] == leaf:
        presented = presented[1:]
    return presented


def client_certificate(mutual: MutualTls | None, writer: asyncio.StreamWriter) -> Headers | None:
    """What the targets are told of the client's certificate; None when the connection is
    refused: in ``verify`` mode, a certificate a revocation list of the trust store names."""
    if mutual is None:
        return []
    tls = writer.get_extra_info("ssl_object")
    leaf = tls.getpeercert(binary_form=True) if tls is not None else None
    if mutual.mode == "verify" and (leaf is None or is_revoked(mutual, leaf)):
        return None
    if mutual.mode == "passthrough" and leaf is not None:
        return client_certificate_headers(mutual.mode, leaf, presented_chain(tls, leaf))
    return client_certificate_headers(mutual.mode, leaf)
