"""The public name servers of Route 53 (decision 0289): an authoritative DNS server, over UDP
and TCP on each address of ``route53_dns_listen``, answering every account's public hosted
zones (``route53.public_zones``) with the answers the VPCs' responders give their private
zones (``route53.answers``, ``route53.dns_wire``). No recursion (RA clear, REFUSED outside
the zones), no zone transfer. An address of ``served`` (``route53_name_server_addresses``,
decision 0395) answers only the zones of the name servers it is given, REFUSED for the
others, as a server that is not authoritative for a zone answers; another address answers
every zone.

Bounded, not to be an amplifier nor a target:

- UDP is rate limited per source address (``route53_dns_rate_limit`` a second, as many in a
  burst), as BIND's response rate limiting: beyond it a query is dropped, but every second
  one answered empty with TC set ("slip"), so that a real client sharing a busy address asks
  again over TCP, where a forged source cannot follow — REFUSED would still be a reflected
  packet per forged query. The table of sources keeps the most recent ones.
- A UDP response fits ``route53_dns_max_udp_size`` whatever the client's EDNS payload; TCP
  connections are ``route53_dns_max_tcp_connections`` at most, each closed after
  ``TCP_IDLE`` seconds without a query; queries in flight are bounded too.
- Queries are counted: one ``route53.dns-queries`` for the zone's account for each query a
  zone answered (REFUSED ones are nobody's), as AWS bills queries. A zone with a query
  logging configuration (decision 0305) has each such query kept as a line in
  ``query_logs``, a bounded buffer written into its log group later, never on the answer's
  path. Nothing of a query goes into the gateway's own log."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import struct
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype

from andromede.route53.client_places import ClientGeography
from andromede.route53.dns_sockets import listen_udp_and_tcp
from andromede.route53.dns_wire import wire_reply
from andromede.route53.geoproximity import Point
from andromede.route53.public_zones import PublicZones
from andromede.route53.query_log_lines import QueryLogBuffer

__all__ = ["DnsLimits", "PublicNameServer", "SourceRateLimit", "Verdict", "listen_address"]

log = logging.getLogger(__name__)

TCP_IDLE: Final = 10.0  # seconds a TCP client may keep its connection without a query
MAX_SOURCES: Final = 65536  # source addresses the rate limit remembers (the most recent)
MAX_IN_FLIGHT: Final = 1024  # UDP queries being answered at once; more are dropped
_SLIP: Final = 2  # every second limited query is answered TC, as BIND's default slip


def listen_address(text: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` as (host, port)."""
    host, _, port = text.rpartition(":")
    return host.removeprefix("[").removesuffix("]"), int(port)


@dataclass(frozen=True)
class DnsLimits:
    rate_limit: int = 50  # queries a second per source; 0: none
    max_udp_size: int = 1232
    max_tcp_connections: int = 256


class Verdict(enum.Enum):
    ANSWER = "answer"
    DROP = "drop"
    SLIP = "slip"  # answered empty with TC


class SourceRateLimit:
    """A token bucket per source address: ``rate`` tokens a second, ``rate`` at most."""

    def __init__(self, rate: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = rate
        self._clock = clock
        self._buckets: dict[str, tuple[float, float, int]] = {}  # tokens, at, limited

    def judge(self, source: str) -> Verdict:
        if self._rate <= 0:
            return Verdict.ANSWER
        now = self._clock()
        tokens, at, limited = self._buckets.pop(source, (float(self._rate), now, 0))
        tokens = min(float(self._rate), tokens + (now - at) * self._rate)
        if tokens >= 1:
            tokens, limited, verdict = tokens - 1, 0, Verdict.ANSWER
        else:
            limited += 1
            verdict = Verdict.SLIP if limited % _SLIP == 0 else Verdict.DROP
        self._buckets[source] = (tokens, now, limited)  # re-inserted: the most recent last
        if len(self._buckets) > MAX_SOURCES:
            del self._buckets[next(iter(self._buckets))]
        return verdict


def _client_subnet(query: dns.message.Message) -> str | None:
    """The EDNS client subnet a resolver sent (RFC 7871), as ``address/prefix``."""
    for option in query.options:
        if isinstance(option, dns.edns.ECSOption):
            return f"{option.address}/{option.srclen}"
    return None


def _slipped(wire: bytes) -> bytes | None:
    try:
        query = dns.message.from_wire(wire)
    except dns.exception.DNSException:
        return None
    if query.flags & dns.flags.QR:
        return None
    response = dns.message.make_response(query)
    response.flags |= dns.flags.TC
    response.flags &= ~dns.flags.RA
    return response.to_wire()


class PublicNameServer:
    def __init__(
        self,
        zones: PublicZones,
        limits: DnsLimits,
        count_query: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        query_logs: QueryLogBuffer | None = None,
        locate: Callable[[str | None], Point | None] | None = None,
        served: Mapping[str, frozenset[str]] | None = None,
        geography: ClientGeography | None = None,
    ) -> None:
        self._geography = geography
        self._zones = zones
        self._served = dict(served or {})  # listen address -> its name servers' names
        self._locate = locate
        self._limits = limits
        self._count = count_query
        self._query_logs = query_logs
        self._rate = SourceRateLimit(limits.rate_limit, clock)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._connections = 0
        self._closing: list[asyncio.BaseTransport | asyncio.Server] = []

    @property
    def served(self) -> Mapping[str, frozenset[str]]:
        """The names each listen address serves (the others serve every name)."""
        return self._served

    async def answer(
        self, wire: bytes, udp: bool, source: str = "-", served: frozenset[str] | None = None
    ) -> bytes | None:
        """The response to one query's wire form (``source`` the client's address, ``served``
        the names of the name servers the address it came to serves, None: all), None:
        nothing to send."""
        view = await self._zones.view(served)

        def origin(query: dns.message.Message) -> Point | None:
            # Decision 0339: the resolver's client subnet when it sends one (RFC 7871), else
            # the resolver itself; a network declared nowhere: the gateway's region.
            if self._locate is None:
                return None
            return self._locate(_client_subnet(query) or source)

        reply, query = wire_reply(
            view.answers,
            wire,
            udp,
            self._limits.max_udp_size,
            view.signer,
            origin,
            source,
            self._geography,
        )
        if reply is None or query is None or not query.question:
            return reply
        rcode = reply[3] & 0x0F
        if rcode == dns.rcode.REFUSED:
            return reply
        question = query.question[0]
        # The zone that answered: a child apex's DS is the parent's (decision 0324).
        asked = dns.rdatatype.to_text(question.rdtype)
        zone = view.answers.zone_answering(question.name.to_text().lower(), asked)
        owner = None if zone is None else view.owners.get(zone)
        if owner is None:
            return reply
        if self._count is not None:
            self._count(owner[0])
        if self._query_logs is not None and self._query_logs.logs(owner[1]):
            self._query_logs.record(
                owner[1],
                question.name.to_text(),
                asked,
                dns.rcode.to_text(dns.rcode.Rcode.make(rcode)),
                "UDP" if udp else "TCP",
                source,
                _client_subnet(query),
            )
        return reply

    async def start(self, addresses: tuple[str, ...]) -> list[tuple[str, int]]:
        """Listen on each ``host:port`` (UDP and TCP; port 0: one chosen, the same for
        both); the addresses bound."""
        bound = []
        for text in addresses:
            host, port = listen_address(text)
            bound.append(await self._listen(host, port, self._served.get(text)))
        return bound

    def close(self) -> None:
        for closing in self._closing:
            closing.close()
        self._closing.clear()
        for task in list(self._in_flight):
            task.cancel()

    async def _listen(self, host: str, port: int, served: frozenset[str] | None) -> tuple[str, int]:
        def datagram(
            transport: asyncio.DatagramTransport, data: bytes, addr: tuple[str, int]
        ) -> None:
            self._datagram(transport, data, addr, served)

        async def stream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._stream(reader, writer, served)

        # A port is shared (SO_REUSEPORT) by the workers of one ``serve``, each started alike:
        # the kernel spreads the queries over them, where only the first worker used to listen.
        transport, tcp = await listen_udp_and_tcp(
            host, port, datagram, stream, reuse_port=bool(port)
        )
        self._closing += [transport, tcp]
        return host, transport.get_extra_info("sockname")[1]

    def _datagram(
        self,
        transport: asyncio.DatagramTransport,
        data: bytes,
        addr: tuple[str, int],
        served: frozenset[str] | None,
    ) -> None:
        verdict = self._rate.judge(addr[0])
        if verdict is Verdict.SLIP:
            slipped = _slipped(data)
            if slipped is not None:
                transport.sendto(slipped, addr)
            return
        if verdict is Verdict.DROP or len(self._in_flight) >= MAX_IN_FLIGHT:
            return
        task = asyncio.get_running_loop().create_task(self._reply(transport, data, addr, served))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _reply(
        self,
        transport: asyncio.DatagramTransport,
        data: bytes,
        addr: tuple[str, int],
        served: frozenset[str] | None,
    ) -> None:
        try:
            answer = await self.answer(data, udp=True, source=addr[0], served=served)
        except Exception:  # the zones could not be read: no answer, the client asks again
            log.exception("Route 53 public DNS: the zones could not be read")
            return
        if answer is not None and not transport.is_closing():
            transport.sendto(answer, addr)

    async def _stream(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        served: frozenset[str] | None,
    ) -> None:
        if self._connections >= self._limits.max_tcp_connections:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            return
        self._connections += 1
        peer = writer.get_extra_info("peername")
        source = str(peer[0]) if isinstance(peer, tuple) and peer else "-"
        try:
            while True:
                size = struct.unpack("!H", await asyncio.wait_for(reader.readexactly(2), TCP_IDLE))
                wire = await reader.readexactly(size[0])
                answer = await self.answer(wire, udp=False, source=source, served=served)
                if answer is None:
                    break
                writer.write(struct.pack("!H", len(answer)) + answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass
        except Exception:  # the zones could not be read: the connection ends
            log.exception("Route 53 public DNS: the zones could not be read")
        finally:
            self._connections -= 1
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
