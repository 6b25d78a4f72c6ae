"""Loopback ports for the tests of the DNS servers' port draws (``route53.dns_sockets``,
decision 0357): whether a UDP port is free again, and ``asyncio.start_server`` refusing its
first ports as a port another process holds over TCP would be."""

from __future__ import annotations

import asyncio
import errno
import os
import socket

import pytest

__all__ = ["tcp_refusing", "udp_port_free"]


def udp_port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def tcp_refusing(
    monkeypatch: pytest.MonkeyPatch, refusals: int, code: int = errno.EADDRINUSE
) -> list[int]:
    """``asyncio.start_server`` refusing its first ``refusals`` ports with ``code``; the ports
    it was asked for, in order."""
    real_start = asyncio.start_server
    tried: list[int] = []

    async def refusing(*args: object, **kwargs: object) -> asyncio.Server:
        tried.append(int(str(args[2])))
        if len(tried) <= refusals:
            raise OSError(code, os.strerror(code))
        return await real_start(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(asyncio, "start_server", refusing)
    return tried
