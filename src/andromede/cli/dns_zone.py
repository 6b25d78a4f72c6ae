"""``andromede admin dns``: the instances' public DNS names for the operator's authoritative
DNS (decision 0151).

Inside a VPC its router's resolver answers an instance's public name with its private
address; outside, the operator's own name servers answer it with the public address, from
what ``andromede admin dns zone`` prints: the A records under
``<region>.compute.<public_dns_domain>`` in RFC 1035's master file form (with ``--ns``, a
whole zone with its SOA and NS records; else records to ``$INCLUDE`` in the operator's zone),
or with ``--reverse`` the PTR records of the public addresses. Run again (a timer, or after
associations change), it prints the names as the records stand then.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

import typer

from andromede.cli.options import ConfigOption, DataDirOption, err, settings_from
from andromede.compute.public_dns import (
    DEFAULT_TTL,
    public_dns_suffix,
    render_reverse_records,
    render_zone,
)

__all__ = ["dns_app"]

dns_app = typer.Typer(no_args_is_help=True, help="Public DNS names of the instances.")


@dns_app.command("zone")
def zone(
    reverse: Annotated[
        bool, typer.Option("--reverse", help="PTR records of the public addresses instead.")
    ] = False,
    name_servers: Annotated[
        list[str] | None,
        typer.Option("--ns", help="A name server of the zone (repeat): print a whole zone."),
    ] = None,
    ttl: Annotated[
        int, typer.Option("--ttl", min=1, max=86400, help="The records' TTL in seconds.")
    ] = DEFAULT_TTL,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Print the public DNS names of every instance that has one, as a zone file."""
    settings = settings_from(config, data_dir)
    suffix = public_dns_suffix(settings.region, settings.public_dns_domain)
    if not suffix:
        err.print("[red]public_dns_domain is not set: instances have no public DNS names[/red]")
        raise typer.Exit(2)
    from andromede.app import open_image_library  # late: the application stack is heavy

    async def main() -> list[tuple[str, str]]:
        async with open_image_library(settings) as (compute, _):
            return await compute.public_dns_records()

    records = asyncio.run(main())
    if reverse:
        typer.echo(render_reverse_records(records, ttl=ttl), nl=False)
        return
    text = render_zone(
        records, suffix, ttl=ttl, name_servers=name_servers or (), serial=int(time.time())
    )
    typer.echo(text, nl=False)
    err.print(f"{len(records)} public name(s) under {suffix}")
