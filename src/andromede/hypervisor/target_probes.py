"""Network Load Balancers' health checks on a host (decision 0191): a TCP connection to each
target's health port, opened from the VPC router's network namespace (the router is the
gateway of every subnet, so any target of the VPC is reachable from it, and the probe comes
from the router's address on the target's subnet, which the target's security groups must
let in), every ``HealthCheckIntervalSeconds``, given up after ``HealthCheckTimeoutSeconds``.

The socket is made inside the namespace by a thread that enters it (a socket stays in the
namespace it was made in), then connected from the event loop. The outcome goes back to the
load balancing service, whose :func:`~andromede.loadbalancing.model.next_health` moves the
target by the group's thresholds.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from andromede.hypervisor.netns_commands import _in_netns
from andromede.loadbalancing.target_groups import Probe

__all__ = ["HealthChecker", "ProbeOutcome", "probe_target", "socket_in"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ProbeOutcome:
    ok: bool
    timed_out: bool = False


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
    namespace: str | None, address: str, port: int, timeout: float
) -> ProbeOutcome:
    """Whether a TCP connection to ``address:port`` from ``namespace`` opens in time."""
    sock = await socket_in(namespace)
    try:
        loop = asyncio.get_running_loop()
        await asyncio.wait_for(loop.sock_connect(sock, (address, port)), timeout)
    except TimeoutError:
        return ProbeOutcome(False, timed_out=True)
    except OSError:
        return ProbeOutcome(False)
    finally:
        sock.close()
    return ProbeOutcome(True)


Record = Callable[[Probe, bool, bool], Awaitable[None]]


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
            *(probe_target(ns, p.address, p.health_port, p.timeout) for p, ns in due),
            return_exceptions=True,
        )
        for (probe, _), outcome in zip(due, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                log.warning("health probe of %s failed to run: %s", probe.address, outcome)
                continue
            await self._record(probe, outcome.ok, outcome.timed_out)
        return len(due)
