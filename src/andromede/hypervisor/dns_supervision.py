"""When a VPC router's dead DNS process (decision 0375) or a subnet's dead DHCP server
(decision 0378) may be started again: the restart backoff of each (owner, process) — the
owner is the router's id for its DNS processes, the subnet's network id for its DHCP server —
and the restarts counted by kind, pure (no process, no clock of its own: the caller gives
``now``).

A process found dead is restarted at once the first time; found dead again at the next
check, it died soon after its start (a bad configuration, memory it cannot get), so each
further restart of the burst waits twice as long as the one before, up to
:data:`MAX_BACKOFF`: never a hot loop, and never given up (what killed it may pass). A
process found running ends its burst. One warning a burst (:meth:`RestartBackoff.restarting`
says when it is the first), carrying the owner's id and the process's kind only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Final

__all__ = ["MAX_BACKOFF", "DnsProcess", "RestartBackoff"]

MAX_BACKOFF: Final = 300.0  # seconds at most between two restarts of one process


class DnsProcess(Enum):
    """The supervised processes of a VPC router: its DNS processes (decisions 0143, 0284,
    0373) and its subnets' DHCP servers (one dnsmasq per subnet, decision 0378)."""

    RESOLVER = "resolver"
    RESPONDER = "zone responder"
    FORWARDER = "upstream forwarder"
    DHCP = "DHCP server"


@dataclass
class _Burst:
    failures: int  # restarts since the process was last found running
    next_at: float  # monotonic seconds before which it is not restarted again


class RestartBackoff:
    """The restart bursts of a host's routers' DNS and DHCP processes, and their restarts
    counted by kind: from ``restarts``, what the host counted before (kept across the
    agent's restarts, decision 0389), else from zero."""

    def __init__(
        self,
        interval: float,
        cap: float = MAX_BACKOFF,
        restarts: Mapping[DnsProcess, int] | None = None,
    ) -> None:
        self._interval = interval
        self._cap = max(cap, interval)
        self._bursts: dict[tuple[str, DnsProcess], _Burst] = {}
        self.restarts: dict[DnsProcess, int] = dict.fromkeys(DnsProcess, 0)
        self.restarts.update(restarts or {})

    def running(self, owner: str, process: DnsProcess) -> None:
        """``process`` was found running: its burst, if any, is over."""
        self._bursts.pop((owner, process), None)

    def due(self, owner: str, process: DnsProcess, now: float) -> bool:
        """Whether ``process``, found dead at ``now``, may be restarted now."""
        burst = self._bursts.get((owner, process))
        return burst is None or now >= burst.next_at

    def restarting(self, owner: str, process: DnsProcess, now: float) -> bool:
        """Count a restart of ``process`` at ``now`` and set when the next one may come;
        true for the first of a burst (the one to log)."""
        burst = self._bursts.setdefault((owner, process), _Burst(0, now))
        burst.failures += 1
        delay = min(self._interval * 2 ** (burst.failures - 1), self._cap)
        burst.next_at = now + delay
        self.restarts[process] += 1
        return burst.failures == 1

    def forget(self, owner: str) -> None:
        """The router or subnet is gone: nothing of it is restarted any more."""
        for key in [key for key in self._bursts if key[0] == owner]:
            del self._bursts[key]

    def keep(self, owners: set[str]) -> None:
        """Only ``owners`` are still built here: the bursts of the others go with them."""
        for key in [key for key in self._bursts if key[0] not in owners]:
            del self._bursts[key]
