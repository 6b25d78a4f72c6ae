"""The TLS contexts of the hypervisor agent's network listener and of the gateways dialling it.

Both sides authenticate each other with certificates of one CA (``hypervisor_agent_tls_ca``):
the agent requires a client certificate (no certificate, or one of another CA, fails the
handshake before a byte of HTTP is read); the gateway checks the agent's certificate against the
same CA and the address it dialled. TLS 1.2 at least on both sides. See decision 0022.
"""

from __future__ import annotations

import ssl
from pathlib import Path

__all__ = ["agent_client_context", "agent_server_context"]


def agent_server_context(cert: Path, key: Path, ca: Path) -> ssl.SSLContext:
    """The agent's side: present ``cert``, accept only clients with a certificate of ``ca``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    context.load_verify_locations(cafile=ca)
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def agent_client_context(cert: Path, key: Path, ca: Path) -> ssl.SSLContext:
    """A gateway's side: present ``cert``, trust only agents with a certificate of ``ca`` that
    names the address dialled (not the system's CAs: a public certificate is no agent)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the peer and its name
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_verify_locations(cafile=ca)
    context.load_cert_chain(cert, key)
    return context
