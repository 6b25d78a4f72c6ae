"""Outbound HTTPS to a URL a tenant chose, without letting the tenant aim the gateway at the
operator's own network (server-side request forgery).

Used for an OIDC provider's documents (decision 0087) and a KMS external key store's proxy
(decision 0090). The guard, in order:

1. the URL must be ``https``;
2. its host is resolved **once**, here; every address it resolves to must be public
   (``ipaddress``'s ``is_global``) or inside one of the operator's allowed networks — one
   internal address is enough to refuse, since a client may try any of them;
3. the connection then goes to an address that was checked — the URL rewritten to it — never
   to a second resolution, which a rebinding DNS server could answer with another address; TLS
   still checks the certificate against the URL's host name (SNI) and the ``Host`` header
   carries it.

:class:`AddressRefused` (the host is internal) and :class:`NoAddress` (it resolves to nothing)
are the guard's errors; each caller translates them into its own protocol's. :func:`tls_context`
builds the verification context: the system store plus an operator's extra bundle.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from andromede.errors import AndromedeError

__all__ = [
    "AddressRefused",
    "Network",
    "NoAddress",
    "OutboundError",
    "PinnedUrl",
    "networks",
    "pin",
    "tls_context",
]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class OutboundError(AndromedeError):
    """The guard refused a URL (never an error of the remote end)."""


class AddressRefused(OutboundError):
    """The URL's host resolves to an address that is neither public nor allowed."""


class NoAddress(OutboundError):
    """The URL names no host, is not https, or its host has no address."""


def networks(texts: Iterable[str]) -> tuple[Network, ...]:
    """The CIDR networks of a setting (``ValueError`` for one that is not)."""
    return tuple(ipaddress.ip_network(text, strict=False) for text in texts)


def tls_context(ca_bundle: Path | None) -> ssl.SSLContext:
    """Server certificates checked against the system store and ``ca_bundle`` (PEM)."""
    context = ssl.create_default_context()
    if ca_bundle is not None:
        context.load_verify_locations(cafile=str(ca_bundle))
    return context


@dataclass(frozen=True, slots=True)
class PinnedUrl:
    """A URL at each of its host's checked addresses, in the resolver's order, with what the
    request must carry so that TLS and HTTP still see the host's name."""

    targets: tuple[str, ...]
    host: str  # the Host header: the URL's host[:port]
    server_name: str  # SNI and the name the certificate must bear

    @property
    def extensions(self) -> dict[str, Any]:
        """httpx request extensions: the TLS server name of the checked address."""
        return {"sni_hostname": self.server_name}


async def pin(url: str, allowed: Sequence[Network], setting: str) -> PinnedUrl:
    """``url`` at each address of its host, all checked public or in ``allowed``; ``setting``
    names the operator's setting that would allow an internal one (for the error message)."""
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise NoAddress("the URL must be https")
    name = parts.hostname
    if not name:
        raise NoAddress("the URL names no host")
    port = parts.port or 443
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(name, port, type=socket.SOCK_STREAM)
    except OSError as exc:  # socket.gaierror: the name does not resolve
        raise NoAddress("the URL's host does not resolve") from exc
    addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
    if not addresses:
        raise NoAddress("the URL's host has no address")
    for address in addresses:
        if not (address.is_global or any(address in network for network in allowed)):
            raise AddressRefused(
                "the host is not on a network the gateway may reach (an internal address; "
                f"setting {setting})"
            )
    targets = tuple(
        urlunsplit(
            (
                "https",
                f"[{a}]:{port}" if a.version == 6 else f"{a}:{port}",
                parts.path,
                parts.query,
                "",
            )
        )
        for a in addresses
    )
    return PinnedUrl(targets, parts.netloc.rsplit("@", 1)[-1], name)
