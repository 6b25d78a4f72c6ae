"""The hypervisor hosts' supervised network processes as a Prometheus exposition (decision
0389): ``GET /api/v1/hosts/metrics``, for the platform operators' monitoring to scrape, and for
no one else (403 ``operators-only``: the hosts, and the routers and subnets they run, are the
platform's, shared by every tenant). An operator signs with SigV4; Prometheus, which sends a
bearer token, presents the one of ``api_metrics_token_file``, which opens this route alone.

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

from andromede.api.auth import Caller, context, operator_or_scraper
from andromede.api.context import ApiContext
from andromede.compute.host_processes import HostProcesses
from andromede.errors import ConfigurationError
from andromede.settings import Settings

__all__ = ["EXPOSITION_TYPE", "exposition", "metrics_token", "router"]

EXPOSITION_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
# A token shorter than this could be guessed; longer than this is no bearer token the API takes.
_TOKEN_LENGTHS: Final = range(32, 257)

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
    _who: Annotated[Caller | None, Depends(operator_or_scraper)],
    ctx: Annotated[ApiContext, Depends(context)],
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


def metrics_token(settings: Settings) -> str | None:
    """The scrape token of ``api_metrics_token_file``, read once at start (its surrounding
    white space dropped); a missing, unreadable, too short or too long one stops the start
    rather than leave the monitoring locked out or a weak token in force."""
    path = settings.api_metrics_token_file
    if path is None:
        return None
    try:
        token = path.read_text().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"api_metrics_token_file {path} cannot be read") from exc
    if len(token) not in _TOKEN_LENGTHS or any(c.isspace() for c in token):
        # The token's own length or content is never told: the file's name is enough.
        raise ConfigurationError(
            f"api_metrics_token_file {path} must hold one token of 32 to 256 characters"
        )
    return token


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{key}="{_escaped(value)}"' for key, value in labels.items()) + "}"


def _escaped(value: str) -> str:
    """A label value as the format writes it: backslash, double quote and line feed escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
