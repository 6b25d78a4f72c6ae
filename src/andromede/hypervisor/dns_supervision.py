"""When a VPC router's dead DNS process may be started again (decision 0375): the restart
backoff of each (router, process) and the restarts counted, pure (no process, no clock of its
own: the caller gives ``now``).

A process found dead is restarted at once the first time; found dead again at the next
check, it died soon after its start (a bad configuration, memory it cannot get), so each
further restart of the burst waits twice as long as the one before, up to
:data:`MAX_BACKOFF`: never a hot loop, and never given up (what killed it may pass). A
process found running ends its burst. One warning a burst (:meth:`RestartBackoff.restarting`
says when it is the first), carrying the router's id and the process's kind only.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Final

__all__ = ["MAX_BACKOFF", "DnsProcess", "RestartBackoff"]

MAX_BACKOFF: Final = 300.0  # seconds at most between two restarts of one process


class DnsProcess(Enum):
    """The DNS processes of a VPC router (decisions 0143, 0284, 0373)."""

    RESOLVER = "resolver"
    RESPONDER = "zone responder"
    FORWARDER = "upstream forwarder"


@dataclass
class _Burst:
    failures: int  # restarts since the process was last found running
    next_at: float  # monotonic seconds before which it is not restarted again


class RestartBackoff:
    """The restart bursts of a host's routers' DNS processes, and their restarts counted."""

    def __init__(self, interval: float, cap: float = MAX_BACKOFF) -> None:
        self._interval = interval
        self._cap = max(cap, interval)
        self._bursts: dict[tuple[str, DnsProcess], _Burst] = {}
        self.restarts: dict[DnsProcess, int] = dict.fromkeys(DnsProcess, 0)

    def running(self, router: str, process: DnsProcess) -> None:
        """``process`` was found running: its burst, if any, is over."""
        self._bursts.pop((router, process), None)

    def due(self, router: str, process: DnsProcess, now: float) -> bool:
        """Whether ``process``, found dead at ``now``, may be restarted now."""
        burst = self._bursts.get((router, process))
        return burst is None or now >= burst.next_at

    def restarting(self, router: str, process: DnsProcess, now: float) -> bool:
        """Count a restart of ``process`` at ``now`` and set when the next one may come;
        true for the first of a burst (the one to log)."""
        burst = self._bursts.setdefault((router, process), _Burst(0, now))
        burst.failures += 1
        delay = min(self._interval * 2 ** (burst.failures - 1), self._cap)
        burst.next_at = now + delay
        self.restarts[process] += 1
        return burst.failures == 1

    def forget(self, router: str) -> None:
        """The router is gone: nothing of it is restarted any more."""
        for key in [key for key in self._bursts if key[0] == router]:
            del self._bursts[key]
