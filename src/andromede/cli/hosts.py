"""``andromede admin hosts``: what the operator sees of the hypervisor hosts' supervised network
processes (decisions 0378, 0389) — per host and per kind (a VPC router's ``resolver``,
``responder`` and ``forwarder``, a subnet's ``dhcp`` server), how many times one was found
dead and started again on that host (kept across its agent's restarts), and how many run and
do not now, asked of each host's agent over its wire
(:func:`~andromede.compute.host_processes.read_host_processes`), as the gateways reach them
(``hypervisor_hosts``, or this host's agent socket). Monitoring scrapes the same figures from
the management API (``/api/v1/hosts/metrics``).

A host whose agent does not answer, or refuses the call, is shown with why and the command
exits 1, so a script watching the hosts notices; counts that keep rising mean a process that
keeps dying (its host's log names the router or subnet)."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from andromede.cli.options import ConfigOption, DataDirOption, JsonOption, settings_from
from andromede.settings import Settings

if TYPE_CHECKING:
    from andromede.compute.host_processes import HostProcesses

__all__ = ["host_processes", "hosts"]

out = Console(soft_wrap=True)


async def host_processes(settings: Settings) -> list[HostProcesses]:
    """Each host's supervised processes, or why it has none."""
    from andromede.compute.host_processes import read_host_processes  # late: the compute stack
    from andromede.compute_adapters import hypervisor_drivers

    drivers = hypervisor_drivers(settings)
    try:
        return await read_host_processes(drivers)
    finally:
        await asyncio.gather(*(driver.close() for driver in drivers))


def hosts(
    as_json: JsonOption = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Each hypervisor host's supervised network processes: restarted, running, down."""
    settings = settings_from(config, data_dir)
    found = asyncio.run(host_processes(settings))
    if as_json:
        document = [
            {
                "host": host.host,
                "restarts": {kind: p.restarts for kind, p in host.processes.items()},
                "up": {kind: p.up for kind, p in host.processes.items()},
                "down": {kind: p.down for kind, p in host.processes.items()},
                **({"error": host.error} if host.error is not None else {}),
            }
            for host in found
        ]
        out.print_json(json.dumps({"hosts": document}))
    else:
        table = Table("Host", "Process", "Restarts", "Up", "Down")
        for host in found:
            if host.error is not None:
                table.add_row(host.host, f"({host.error})", "", "", "")
                continue
            for kind, processes in sorted(host.processes.items()):
                table.add_row(
                    host.host,
                    kind,
                    str(processes.restarts),
                    str(processes.up),
                    str(processes.down),
                )
        out.print(table)
    if any(host.error is not None for host in found):
        raise typer.Exit(1)
