"""What the operator reads of the hypervisor hosts' supervised network processes (decisions
0378, 0389): each host asked through its driver
(:meth:`~andromede.compute.driver.HypervisorDriver.supervised_processes`), all together, and
its answer or why it has none. Read by ``andromede admin hosts`` and by the management API's
``/api/v1/hosts/metrics``; never by a tenant's call (the hosts are the platform's).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from andromede.compute.driver import HypervisorDriver, SupervisedProcesses
from andromede.compute.errors import HostUnreachable
from andromede.errors import AndromedeError

__all__ = ["HostProcesses", "read_host_processes"]


@dataclass(frozen=True, slots=True)
class HostProcesses:
    """One host's supervised processes by kind, or ``error``: why its agent gave none."""

    host: str
    processes: dict[str, SupervisedProcesses] = field(default_factory=dict)
    error: str | None = None


async def read_host_processes(drivers: Sequence[HypervisorDriver]) -> list[HostProcesses]:
    """Each host's answer, in the order of ``drivers``. Asked together: a silent host costs
    one connect (or query) timeout, not one per host. A host whose agent does not answer, or
    refuses the call (an agent older than the caller has no such call), is reported with
    why; anything else is a fault of the caller's and raised."""
    answers = await asyncio.gather(
        *(driver.supervised_processes() for driver in drivers), return_exceptions=True
    )
    found: list[HostProcesses] = []
    for driver, answer in zip(drivers, answers, strict=True):
        if isinstance(answer, HostUnreachable):
            found.append(HostProcesses(driver.host, error="the agent did not answer"))
        elif isinstance(answer, AndromedeError):
            found.append(HostProcesses(driver.host, error=f"the agent refused the call: {answer}"))
        elif isinstance(answer, BaseException):
            raise answer
        else:
            found.append(HostProcesses(driver.host, dict(answer)))
    return found
