"""A VPC's zone responder (decision 0284): a small authoritative DNS server answering the
Route 53 private zones associated with the VPC (:class:`~andromede.route53.answers.
ZoneAnswers`), over UDP and TCP on one address and port, run in the VPC router's namespace
beside the resolver. The resolver (dnsmasq) forwards each private zone to it
(``--server=/<zone>/<address>#<port>``), so the most specific zone still wins and a name of
a zone is never asked of the upstream resolvers.

Run as ``python -m andromede.hypervisor.zone_responder --document F --pid-file P --listen
A --port N [--daemon]``: it reads the document, binds, writes its pid file
(``--daemon``: in a child of its own session, the parent returning once the child listens),
re-reads the document on SIGHUP, and stops on SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import struct
import sys
from pathlib import Path
from typing import Final

from andromede.route53.answers import ZoneAnswers
from andromede.route53.dns_sockets import listen_udp_and_tcp
from andromede.route53.dns_wire import wire_reply

__all__ = ["ZoneResponder", "main"]

log = logging.getLogger(__name__)

TCP_IDLE: Final = 10.0  # seconds a TCP client may keep the connection without a query


class ZoneResponder:
    """The answers served, swapped whole when the document changes."""

    def __init__(self, answers: ZoneAnswers) -> None:
        self.answers = answers

    def reply(self, wire: bytes, udp: bool, source: str | None = None) -> bytes | None:
        """The response's wire form to one query's (``dns_wire``), None: nothing to send;
        ``source`` the address it came from (IP-based sets answer it, or the client subnet
        the VPC's resolver adds: decision 0353)."""
        return wire_reply(self.answers, wire, udp, source=source)[0]

    async def serve(self, host: str, port: int) -> tuple[asyncio.DatagramTransport, asyncio.Server]:
        """Listen on ``host``:``port`` over UDP and TCP."""

        def datagram(
            transport: asyncio.DatagramTransport, data: bytes, addr: tuple[str, int]
        ) -> None:
            answer = self.reply(data, udp=True, source=addr[0])
            if answer is not None:
                transport.sendto(answer, addr)

        return await listen_udp_and_tcp(host, port, datagram, self._stream)

    async def _stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                size = struct.unpack("!H", await asyncio.wait_for(reader.readexactly(2), TCP_IDLE))
                answer = self.reply(await reader.readexactly(size[0]), udp=False)
                if answer is None:
                    break
                writer.write(struct.pack("!H", len(answer)) + answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


def _answers(document: Path) -> ZoneAnswers:
    return ZoneAnswers(document.read_text())


async def _run(args: argparse.Namespace, ready: int | None) -> None:
    responder = ZoneResponder(_answers(args.document))
    transport, server = await responder.serve(args.listen, args.port)
    args.pid_file.write_text(f"{os.getpid()}\n")
    if ready is not None:
        os.write(ready, b"1")
        os.close(ready)
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()

    def reload() -> None:
        try:
            responder.answers = _answers(args.document)
        except (OSError, ValueError, KeyError):
            log.exception("zone responder: the document could not be read again")

    loop.add_signal_handler(signal.SIGHUP, reload)
    loop.add_signal_handler(signal.SIGTERM, stopped.set)
    await stopped.wait()
    transport.close()
    server.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="zone_responder")
    parser.add_argument("--document", type=Path, required=True)
    parser.add_argument("--pid-file", type=Path, required=True)
    parser.add_argument("--listen", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--daemon", action="store_true")
    args = parser.parse_args(argv)
    ready = None
    if args.daemon:
        read_end, ready = os.pipe()
        if os.fork():
            os.close(ready)
            with os.fdopen(read_end, "rb") as pipe:
                told = pipe.read(1)  # empty when the child failed before listening
            return 0 if told == b"1" else 1
        os.close(read_end)
        os.setsid()
        # Nothing of the caller's kept open: it waits for its pipes' end.
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
    asyncio.run(_run(args, ready))
    return 0


if __name__ == "__main__":
    sys.exit(main())
