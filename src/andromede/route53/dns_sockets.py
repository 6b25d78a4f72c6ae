"""The UDP and TCP sockets of one DNS server on one address and port, shared by a VPC's zone
responder (decision 0284, ``hypervisor.zone_responder``) and Route 53's public name servers
(decision 0289, ``route53api.public_dns``), which answer over both on the same port."""

from __future__ import annotations

import asyncio
import errno
from collections.abc import Awaitable, Callable
from typing import Final, cast

__all__ = ["PORT_DRAWS", "DatagramReceiver", "listen_udp_and_tcp"]

PORT_DRAWS: Final = 8  # ports tried for UDP and TCP together when the kernel chooses

# A query's datagram, with the transport to answer on and the client's address.
DatagramReceiver = Callable[[asyncio.DatagramTransport, bytes, tuple[str, int]], None]


class _Datagrams(asyncio.DatagramProtocol):
    transport: asyncio.DatagramTransport

    def __init__(self, received: DatagramReceiver) -> None:
        self._received = received

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self._received(self.transport, data, addr)


async def listen_udp_and_tcp(
    host: str,
    port: int,
    datagram: DatagramReceiver,
    stream: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
    *,
    reuse_port: bool = False,
) -> tuple[asyncio.DatagramTransport, asyncio.Server]:
    """Listen on ``host``:``port`` over UDP (each datagram to ``datagram``) and TCP
    (``stream``).

    Port 0 (tests): TCP takes the port UDP was given, which another process may hold over
    TCP already (a CI run caught one): then both are given up and another port is drawn,
    :data:`PORT_DRAWS` at most. Any other failure, or the last draw's, is raised."""
    loop = asyncio.get_running_loop()
    draws = PORT_DRAWS if port == 0 else 1
    for draw in range(1, draws + 1):
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Datagrams(datagram), local_addr=(host, port), reuse_port=reuse_port
        )
        chosen = transport.get_extra_info("sockname")[1]
        try:
            server = await asyncio.start_server(stream, host, chosen, reuse_port=reuse_port)
        except OSError as exc:
            transport.close()  # never left open behind a failed start
            await asyncio.sleep(0)  # the close is done at the loop's next turn
            if exc.errno != errno.EADDRINUSE or draw == draws:
                raise
            continue
        return transport, server
    raise AssertionError("unreachable: the last draw returns or raises")
