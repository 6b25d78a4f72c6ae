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
builds the verification context: the system store plus an operator's extra bundle;
:class:`TlsContextOnDemand` builds it at its first use; :func:`system_tls_context` is the one
context of the system store alone that the process's clients share.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterable, Sequence
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
    "TlsContextOnDemand",
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


@functools.cache
def system_tls_context() -> ssl.SSLContext:
    """The process's one context of the system store alone, made at its first use.

    Loading the store costs 25-40 ms of CPU; a client made with httpx's ``verify=True`` loads
    certifi's bundle again each time, which a delivery pass building its client did on every
    pass (decision 0325). Nobody changes this context once made: a caller that must add to it
    (a bundle, a client certificate) builds its own with :func:`tls_context`."""
    return tls_context(None)


class TlsContextOnDemand:
    """:func:`tls_context` (plus ``prepare``'s changes), made when a call first needs it.

    Loading the system CA store costs 25-40 ms, and every app builds a context for OIDC and one
    for external key stores though most never call out: the test suite built thousands, a third
    of the time of the isolation tests. A file the operator named (``ca_bundle``, or what
    ``prepare`` loads) is still read at construction, so a bad one stops the start instead of
    failing a tenant's first call."""

    def __init__(
        self,
        ca_bundle: Path | None,
        prepare: Callable[[ssl.SSLContext], None] | None = None,
        *,
        operator_files: bool = False,
    ) -> None:
        """``operator_files``: ``prepare`` reads files the operator named (build at once)."""
        self._ca_bundle = ca_bundle
        self._prepare = prepare
        self._context: ssl.SSLContext | None = None
        if ca_bundle is not None or operator_files:
            self.get()

    def get(self) -> ssl.SSLContext:
        if self._context is None:
            if self._ca_bundle is None and self._prepare is None:
                self._context = system_tls_context()  # nothing of its own: the shared one
                return self._context
            context = tls_context(self._ca_bundle)
            if self._prepare is not None:
                self._prepare(context)
            self._context = context
        return self._context


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


async def pin(
    url: str, allowed: Sequence[Network], setting: str, *, schemes: tuple[str, ...] = ("https",)
) -> PinnedUrl:
    """``url`` at each address of its host, all checked public or in ``allowed``; ``setting``
    names the operator's setting that would allow an internal one (for the error message).
    ``schemes``: those the caller may speak (bucket notifications push over http too)."""
    parts = urlsplit(url)
    if parts.scheme not in schemes:
        raise NoAddress(f"the URL must be {' or '.join(schemes)}")
    name = parts.hostname
    if not name:
        raise NoAddress("the URL names no host")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(name, port, type=socket.SOCK_STREAM)
    except OSError as exc:  # socket.gaierror: the name does not resolve
        raise NoAddress("the URL's host does not resolve") from exc
    addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
    if not addresses:
        raise NoAddress("the URL's host has no address")
    for address in addresses:
        public = address.is_global and not address.is_multicast
        if not (public or any(address in network for network in allowed)):
            raise AddressRefused(
                "the host is not on a network the gateway may reach (an internal address; "
                f"setting {setting})"
            )
    targets = tuple(
        urlunsplit(
            (
                parts.scheme,
                f"[{a}]:{port}" if a.version == 6 else f"{a}:{port}",
                parts.path,
                parts.query,
                "",
            )
        )
        for a in addresses
    )
    return PinnedUrl(targets, parts.netloc.rsplit("@", 1)[-1], name)
