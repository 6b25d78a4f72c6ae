"""A fake upstream resolver for the real-kernel tests of a VPC's resolver (decision 0373): a
DNS server over UDP and TCP on one address's port 53, answering every A query with one
address and recording what each query carried — its EDNS client subnets above all. It runs
in threads of the test's process, not on its event loop: the tests drive their guests with
blocking subprocess calls, which would stall a server on the loop."""

from __future__ import annotations

import socketserver
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import dns.edns
import dns.flags
import dns.message
import dns.rdatatype
import dns.rrset

__all__ = ["Received", "RecordingResolver", "recording_resolver"]

PORT = 53


@dataclass(frozen=True)
class Received:
    """One query the resolver got."""

    transport: str  # "udp" or "tcp"
    name: str
    client_subnets: tuple[str, ...]  # each EDNS client subnet option, "address/prefix"
    dnssec_ok: bool


class RecordingResolver:
    """What the servers got, in order; every A query answered with ``answer``."""

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self._lock = threading.Lock()
        self._received: list[Received] = []

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def reply(self, wire: bytes, transport: str) -> bytes:
        query = dns.message.from_wire(wire)
        subnets = tuple(
            f"{option.address}/{option.srclen}"
            for option in query.options
            if isinstance(option, dns.edns.ECSOption)
        )
        question = query.question[0]
        with self._lock:
            self._received.append(
                Received(
                    transport,
                    question.name.to_text(),
                    subnets,
                    bool(query.ednsflags & dns.flags.DO),
                )
            )
        response = dns.message.make_response(query)
        if question.rdtype == dns.rdatatype.A:
            response.answer.append(dns.rrset.from_text(question.name, 60, "IN", "A", self.answer))
        return response.to_wire()


@contextmanager
def recording_resolver(address: str, answer: str) -> Iterator[RecordingResolver]:
    """A :class:`RecordingResolver` listening on ``address``:53 over UDP and TCP while the
    block runs."""
    resolver = RecordingResolver(answer)

    class Datagram(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            data, sock = self.request
            sock.sendto(resolver.reply(data, "udp"), self.client_address)

    class Stream(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            stream = self.request.makefile("rb")
            while header := stream.read(2):
                (size,) = struct.unpack("!H", header)
                answer = resolver.reply(stream.read(size), "tcp")
                self.request.sendall(struct.pack("!H", len(answer)) + answer)

    class Tcp(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True

    udp = socketserver.UDPServer((address, PORT), Datagram)
    try:
        tcp = Tcp((address, PORT), Stream)
    except OSError:
        udp.server_close()
        raise
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (udp, tcp)]
    for thread in threads:
        thread.start()
    try:
        yield resolver
    finally:
        for server in (udp, tcp):
            server.shutdown()
            server.server_close()
        for thread in threads:
            thread.join()
