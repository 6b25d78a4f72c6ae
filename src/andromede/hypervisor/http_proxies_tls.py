"""What an HTTPS listener's proxy tells its targets of the client's certificate (decision
0256): nothing with mutual TLS off; in ``verify`` mode the leaf's headers, the connection
refused when a revocation list of the trust store names the leaf (the handshake checked the
rest); in ``passthrough`` mode the certificate the client presented.
"""

from __future__ import annotations

import asyncio

from andromede.hypervisor.http_proxies_settings import Headers
from andromede.loadbalancing.trust_stores import (
    MutualTls,
    client_certificate_headers,
    is_revoked,
)

__all__ = ["client_certificate"]


def client_certificate(mutual: MutualTls | None, writer: asyncio.StreamWriter) -> Headers | None:
    """What the targets are told of the client's certificate; None when the connection is
    refused: in ``verify`` mode, a certificate a revocation list of the trust store names."""
    if mutual is None:
        return []
    tls = writer.get_extra_info("ssl_object")
    leaf = tls.getpeercert(binary_form=True) if tls is not None else None
    if mutual.mode == "verify" and (leaf is None or is_revoked(mutual, leaf)):
        return None
    return client_certificate_headers(mutual.mode, leaf)
