"""Network Load Balancers' health checks on a host (decision 0191): a TCP connection to each
target's health port, opened from the VPC router's network namespace (the router is the
gateway of every subnet, so any target of the VPC is reachable from it, and the probe comes
from the router's address on the target's subnet, which the target's security groups must
let in), every ``HealthCheckIntervalSeconds``, given up after ``HealthCheckTimeoutSeconds``.
An ``HTTP`` check (decision 0198) sends a minimal HTTP/1.1 GET of its path over that
connection and passes when the answer's status code is one its matcher accepts; the
connection, the request and the status line all within the timeout. An ``HTTPS`` check
(session 49) does the same over TLS: a handshake without SNI and without verifying the
target's certificate (ELBv2's health checks do not validate it: a self-signed or expired one
passes), then the same GET, the handshake counted in the timeout too.

The socket is made inside the namespace by a thread that enters it (a socket stays in the
namespace it was made in), then connected from the event loop. The outcome goes back to the
load balancing service, whose :func:`~andromede.loadbalancing.model.next_health` moves the
target by the group's thresholds.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Final

from andromede.hypervisor.netns_commands import _in_netns
from andromede.loadbalancing.model import code_matches
from andromede.loadbalancing.target_groups import Probe

__all__ = ["UNVERIFIED_TLS", "HealthChecker", "ProbeOutcome", "probe_target", "socket_in"]

log = logging.getLogger(__name__)


# The most of an answer read for its status line: a longer first line is a failure.
_STATUS_LINE_MAX: Final = 8192
_STATUS: Final = re.compile(rb"HTTP/1\.[01] ([1-5][0-9][0-9])(?: |\r)")


def _tls_context() -> ssl.SSLContext:
    """The client side of a TLS connection to a target: TLS 1.2 or later, the target's
    certificate and name not verified — ELBv2's HTTPS health checks accept any certificate
    (decision 0198), and its ALBs do not verify their HTTPS targets (decision 0231)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


UNVERIFIED_TLS: Final = _tls_context()


@dataclass(frozen=True, slots=True)
class ProbeOutcome:
    ok: bool
    timed_out: bool = False
    # An HTTP check's answer's status code (None: no answer, or a TCP check).
    code: int | None = None


async def socket_in(namespace: str | None) -> socket.socket:
    """A non-blocking TCP socket of ``namespace`` (the host's own when None)."""
    if namespace is None:
        made = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    else:

        def make() -> int:
            return socket.socket(socket.AF_INET, socket.SOCK_STREAM).detach()

        made = socket.socket(
            socket.AF_INET, socket.SOCK_STREAM, fileno=await _in_netns(namespace, make)
        )
    made.setblocking(False)
    return made


async def probe_target(
    namespace: str | None,
    address: str,
    port: int,
    timeout: float,
    *,
    path: str | None = None,
    matcher: str = "200-399",
    tls: bool = False,
) -> ProbeOutcome:
    """Whether a TCP connection to ``address:port`` from ``namespace`` opens in time; with
    ``path`` (an HTTP check), whether a GET of it is answered in time with a code
    ``matcher`` accepts; with ``tls`` too (an HTTPS check), that GET over TLS."""
    sock = await socket_in(namespace)
    try:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout):
            await loop.sock_connect(sock, (address, port))
            if path is None:
                return ProbeOutcome(True)
            if tls:
                code = await _https_status(sock, address, port, path)
            else:
                code = await _http_status(loop, sock, address, port, path)
    except TimeoutError:
        return ProbeOutcome(False, timed_out=True)
    except OSError:
        return ProbeOutcome(False)
    finally:
        sock.close()
    if code is None:  # not an HTTP answer
        return ProbeOutcome(False)
    return ProbeOutcome(code_matches(matcher, code), code=code)


async def _http_status(
    loop: asyncio.AbstractEventLoop, sock: socket.socket, address: str, port: int, path: str
) -> int | None:
    """The status code of the answer to a GET of ``path`` (None: no HTTP status line)."""
    await loop.sock_sendall(sock, _request(address, port, path))
    answer = b""
    while b"\n" not in answer and len(answer) < _STATUS_LINE_MAX:
        chunk = await loop.sock_recv(sock, 4096)
        if not chunk:
            break
        answer += chunk
    return _status_of(answer)


async def _https_status(sock: socket.socket, address: str, port: int, path: str) -> int | None:
    """:func:`_http_status` over TLS on the connected ``sock`` (no SNI: ``server_hostname``
    empty); a failed handshake raises ``ssl.SSLError``, an OSError."""
    reader, writer = await asyncio.open_connection(
        sock=sock, ssl=UNVERIFIED_TLS, server_hostname=""
    )
    try:
        writer.write(_request(address, port, path))
        await writer.drain()
        answer = b""
        while b"\n" not in answer and len(answer) < _STATUS_LINE_MAX:
            chunk = await reader.read(4096)
            if not chunk:
                break
            answer += chunk
        return _status_of(answer)
    finally:
        # No close_notify exchange: a target that never answers it must not hold the probe.
        writer.transport.abort()


def _request(address: str, port: int, path: str) -> bytes:
    """The GET of a check's path; the path was checked printable ASCII without spaces when
    the check was set, so it cannot break the request line."""
    return (
        f"GET {path} HTTP/1.1\r\nHost: {address}:{port}\r\n"
        "User-Agent: ELB-HealthChecker/2.0\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    ).encode("ascii")


def _status_of(answer: bytes) -> int | None:
    found = _STATUS.match(answer)
    return int(found.group(1)) if found else None


Record = Callable[[Probe, ProbeOutcome], Awaitable[None]]


class HealthChecker:
    """Runs the probes due: each target once per its group's interval, all due ones at
    once. ``namespace_of`` names the router namespace of a VPC on this host (None: the VPC
    has no router here, nothing to probe from); ``record`` hands an outcome back."""

    def __init__(
        self,
        namespace_of: Callable[[str], str | None],
        record: Record,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._namespace_of = namespace_of
        self._record = record
        self._clock = clock
        self._last: dict[tuple[str, str, str, int], float] = {}

    async def run_once(self, probes: Sequence[Probe], *, force: bool = False) -> int:
        """Probe the targets due (every one when ``force``); how many were probed."""
        now = self._clock()
        due = []
        for probe in probes:
            key = (probe.tenant_id, probe.tg_id, probe.target_id, probe.port)
            namespace = self._namespace_of(probe.vpc_id)
            if namespace is None:
                continue
            if not force and now - self._last.get(key, float("-inf")) < probe.interval:
                continue
            self._last[key] = now
            due.append((probe, namespace))
        outcomes = await asyncio.gather(
            *(
                probe_target(
                    ns,
                    p.address,
                    p.health_port,
                    p.timeout,
                    path=p.path if p.protocol in ("HTTP", "HTTPS") else None,
                    matcher=p.matcher,
                    tls=p.protocol == "HTTPS",
                )
                for p, ns in due
            ),
            return_exceptions=True,
        )
        for (probe, _), outcome in zip(due, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                log.warning("health probe of %s failed to run: %s", probe.address, outcome)
                continue
            await self._record(probe, outcome)
        return len(due)
