"""``andromede admin hosts``: what the operator sees of the hypervisor hosts' supervised network
processes (decision 0378) — per host, how many times each kind (a VPC router's ``resolver``,
``responder`` and ``forwarder``, a subnet's ``dhcp`` server) was found dead and started again
since that host's agent started, asked of each host's agent over its wire
(:meth:`~andromede.compute.driver.HypervisorDriver.process_restarts`), as the gateways reach
them (``hypervisor_hosts``, or this host's agent socket).

A host whose agent does not answer, or refuses the call, is shown with why and the command
exits 1, so a script watching the hosts notices; counts that keep rising mean a process that
keeps dying (its host's log names the router or subnet)."""

from __future__ import annotations

import asyncio
import json

import typer
from rich.console import Console
from rich.table import Table

from andromede.cli.options import ConfigOption, DataDirOption, JsonOption, settings_from
from andromede.settings import Settings

__all__ = ["host_restarts", "hosts"]

out = Console(soft_wrap=True)


async def host_restarts(settings: Settings) -> list[tuple[str, dict[str, int] | str]]:
    """Each host's restart counts by kind, or why it has none: its agent did not answer, or
    refused the call (an agent older than the command has no such call)."""
    from andromede.compute.errors import HostUnreachable  # late: the compute stack
    from andromede.compute_adapters import hypervisor_drivers
    from andromede.hypervisor.errors import HypervisorError

    drivers = hypervisor_drivers(settings)
    try:
        # Asked together: a silent host costs one connect timeout, not one per host.
        answers = await asyncio.gather(
            *(driver.process_restarts() for driver in drivers), return_exceptions=True
        )
    finally:
        await asyncio.gather(*(driver.close() for driver in drivers))
    found: list[tuple[str, dict[str, int] | str]] = []
    for driver, answer in zip(drivers, answers, strict=True):
        if isinstance(answer, HostUnreachable):
            found.append((driver.host, "the agent did not answer"))
        elif isinstance(answer, HypervisorError):
            found.append((driver.host, f"the agent refused the call: {answer}"))
        elif isinstance(answer, BaseException):
            raise answer
        else:
            found.append((driver.host, answer))
    return found


def hosts(
    as_json: JsonOption = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Each hypervisor host's supervised network processes restarted since its agent started."""
    settings = settings_from(config, data_dir)
    found = asyncio.run(host_restarts(settings))
    if as_json:
        document = [
            {"host": host, "restarts": counts}
            if isinstance(counts, dict)
            else {"host": host, "restarts": {}, "error": counts}
            for host, counts in found
        ]
        out.print_json(json.dumps({"hosts": document}))
    else:
        table = Table("Host", "Process", "Restarts")
        for host, counts in found:
            if isinstance(counts, str):
                table.add_row(host, f"({counts})", "")
                continue
            for kind, count in sorted(counts.items()):
                table.add_row(host, kind, str(count))
        out.print(table)
    if any(isinstance(counts, str) for _, counts in found):
        raise typer.Exit(1)
