"""The hypervisor hosts' supervised network processes as a Prometheus exposition (decision
0389): ``GET /api/v1/hosts/metrics``, for the platform operators' monitoring to scrape, and for
no one else (403 ``operators-only``: the hosts, and the routers and subnets they run, are the
platform's, shared by every tenant).

The text format 0.0.4 (Prometheus's, which OpenMetrics scrapers read too), one family each:

- ``andromede_host_agent_up{host}`` (gauge): 1 when the host's agent answered this scrape,
  0 when it did not or refused the call (an agent older than the gateway); such a host has no
  other sample, as a target that does not answer has none.
- ``andromede_host_process_restarts_total{host,kind}`` (counter): how many times a process of
  the kind (``resolver``, ``responder``, ``forwarder``, ``dhcp``) was found dead and started
  again on the host, kept across its agent's restarts: ``increase()`` over it is the alert.
- ``andromede_host_processes{host,kind,state}`` (gauge, ``state`` ``up`` or ``down``): how
  many of the processes of the kind that should run on the host run, and do not, now.

Kinds and host names only: no router, subnet, address nor tenant is named, so the exposition
tells nothing of any tenant's networks (which routers restart is in the host's log).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Final

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from andromede.api.auth import Caller, context, operator
from andromede.api.context import ApiContext
from andromede.compute.host_processes import HostProcesses

__all__ = ["EXPOSITION_TYPE", "exposition", "router"]

EXPOSITION_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"

router = APIRouter(tags=["hosts"])

_AGENT_UP: Final = "andromede_host_agent_up"
_RESTARTS: Final = "andromede_host_process_restarts_total"
_PROCESSES: Final = "andromede_host_processes"
_HELP: Final = {
    _AGENT_UP: "Whether the host's agent answered this scrape (1) or not (0).",
    _RESTARTS: "Supervised network processes found dead and started again on the host.",
    _PROCESSES: "Supervised network processes that should run on the host, by state now.",
}


@router.get(
    "/hosts/metrics",
    summary="The hosts' supervised network processes, for Prometheus (operators only)",
    responses={200: {"content": {"text/plain": {}}, "description": "The exposition"}},
    response_class=Response,
)
async def host_metrics(
    _who: Annotated[Caller, Depends(operator)], ctx: Annotated[ApiContext, Depends(context)]
) -> Response:
    found = await ctx.hosts() if ctx.hosts is not None else []
    return Response(exposition(found), media_type=EXPOSITION_TYPE)


def exposition(hosts: Sequence[HostProcesses]) -> str:
    """The hosts' answers in the text format, each family's samples together."""
    up: list[str] = []
    restarts: list[str] = []
    states: list[str] = []
    for host in hosts:
        up.append(f"{_AGENT_UP}{_labels(host=host.host)} {int(host.error is None)}")
        if host.error is not None:
            continue
        for kind, processes in sorted(host.processes.items()):
            restarts.append(f"{_RESTARTS}{_labels(host=host.host, kind=kind)} {processes.restarts}")
            for state, count in (("up", processes.up), ("down", processes.down)):
                states.append(
                    f"{_PROCESSES}{_labels(host=host.host, kind=kind, state=state)} {count}"
                )
    lines: list[str] = []
    for name, family, samples in (
        (_AGENT_UP, "gauge", up),
        (_RESTARTS, "counter", restarts),
        (_PROCESSES, "gauge", states),
    ):
        lines += [f"# HELP {name} {_HELP[name]}", f"# TYPE {name} {family}", *samples]
    return "\n".join(lines) + "\n"


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{key}="{_escaped(value)}"' for key, value in labels.items()) + "}"


def _escaped(value: str) -> str:
    """A label value as the format writes it: backslash, double quote and line feed escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
