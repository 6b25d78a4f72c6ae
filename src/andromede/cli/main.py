"""``andromede`` command line: ``serve`` starts the S3 endpoint on the embedded default;
``admin`` holds the platform operator's commands (tenants, users, operators); ``audit``
downloads, cosigns and verifies the audit trail; ``witness`` runs a transparency-log witness
independent parties keep; ``xks-proxy`` is the External Key Store proxy a customer runs beside
their own HSM."""

# ruff: noqa: E402  (the collector is paused before the imports below: decision 0347)
from __future__ import annotations

import gc

# The collector is paused while the command imports the application, from here to the end of
# this module and again around `serve`'s late import (`_importing`). The import leaves some
# 550,000 objects, nearly all of them alive as long as the process, and fewer than 2,000 in
# cycles to collect; yet it allocates enough to set off several full passes over everything
# made so far, which were a fifth of the import's CPU (0.9 s of 4.5 s, decision 0347). Once
# imported, they are frozen out of the collector's reach (`gc.freeze`, Python's own advice
# before a fork) and the collector resumes for what the process makes from then on.
gc.disable()

import atexit
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from andromede import __version__
from andromede.cli.admin import admin
from andromede.cli.audit import audit
from andromede.cli.witness import witness
from andromede.cli.xks_proxy import xks_proxy
from andromede.errors import ConfigurationError
from andromede.settings import load_settings

__all__ = ["app"]

# At exit, the heap out of the collector's reach: the interpreter's finalisation collected the
# whole application's objects (some 250,000) several times over, 0.5 s of CPU at the end of
# every command and every server's stop, for memory the process hands back as it ends. Objects
# still get their explicit clean-up (atexit handlers registered after this one run before it;
# logging's, registered at its import, after it and still flushes); only a cycle's ``__del__``
# no longer runs at exit, and nothing here relies on one to write anything.
atexit.register(gc.freeze)


@contextmanager
def _importing() -> Iterator[None]:
    """The collector paused during the block (imports), then what it made frozen out of its
    reach, and the collector resumed (see the top of this module)."""
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


app = typer.Typer(no_args_is_help=True, add_completion=False, help="Andromède sovereign cloud.")
console = Console(stderr=True)
app.add_typer(admin, name="admin")
app.add_typer(audit, name="audit")
app.add_typer(xks_proxy, name="xks-proxy")
app.add_typer(witness, name="witness")


@app.callback()
def main() -> None:
    """Andromède: S3-compatible object storage with keys you hold and an audit you can verify."""


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


@app.command()
def serve(
    config: Annotated[
        Path | None, typer.Option(help="TOML settings file (also ANDROMEDE_CONFIG).")
    ] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Data folder (ANDROMEDE_DATA_DIR).")] = None,
    s3_host: Annotated[
        str | None, typer.Option(help="Address to bind (ANDROMEDE_S3_HOST).")
    ] = None,
    s3_port: Annotated[int | None, typer.Option(help="S3 port (ANDROMEDE_S3_PORT).")] = None,
    api_host: Annotated[
        str | None, typer.Option(help="Management API address (ANDROMEDE_API_HOST).")
    ] = None,
    api_port: Annotated[
        int | None, typer.Option(help="Management API port (ANDROMEDE_API_PORT).")
    ] = None,
    region: Annotated[str | None, typer.Option(help="Region served (ANDROMEDE_REGION).")] = None,
    tls_cert: Annotated[
        Path | None, typer.Option(help="PEM certificate (ANDROMEDE_TLS_CERT).")
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option(help="PEM private key (ANDROMEDE_TLS_KEY).")
    ] = None,
    server: Annotated[
        str | None, typer.Option(help="ASGI server: uvicorn or granian (ANDROMEDE_SERVER).")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Server processes (ANDROMEDE_WORKERS).")
    ] = None,
    log_level: Annotated[str | None, typer.Option(help="debug, info, warning, error.")] = None,
    migrate_only: Annotated[
        bool,
        typer.Option(
            "--migrate-only",
            help="Bring the metadata database to the latest schema, then exit (run it once "
            "before starting many gateways).",
        ),
    ] = False,
) -> None:
    """Start the S3 endpoint and the management API; the first start creates the admin tenant
    and its credentials."""
    try:
        settings = load_settings(
            config,
            data_dir=data_dir,
            s3_host=s3_host,
            s3_port=s3_port,
            api_host=api_host,
            api_port=api_port,
            region=region,
            tls_cert=tls_cert,
            tls_key=tls_key,
            server=server,
            workers=workers,
            log_level=log_level,
        )
    except ConfigurationError as exc:
        console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc
    with _importing():
        from andromede.cli import serve as serving  # imported late: the server stack is heavy

    if not migrate_only and settings.server == "uvicorn" and settings.workers > 1:
        from andromede.cli.workers import start_worker_template

        # Now: the application is imported, and nothing unsafe to fork has started yet.
        start_worker_template()
    if migrate_only:
        sys.exit(serving.migrate_only(settings, console))
    sys.exit(serving.run(settings, console))


@app.command()
def agent(
    config: Annotated[
        Path | None, typer.Option(help="TOML settings file (also ANDROMEDE_CONFIG).")
    ] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Data folder (ANDROMEDE_DATA_DIR).")] = None,
    listen: Annotated[
        str | None,
        typer.Option(
            help="HOST:PORT to serve gateways on other machines over mutual TLS "
            "(ANDROMEDE_HYPERVISOR_AGENT_LISTEN; needs the hypervisor_agent_tls_* settings)."
        ),
    ] = None,
) -> None:
    """Run this host's hypervisor agent (the owner of its QEMU guests) in the foreground.
    ``andromede serve`` with ``hypervisor = qemu`` and no ``hypervisor_hosts`` starts one
    itself; one agent per host."""
    try:
        settings = load_settings(config, data_dir=data_dir, hypervisor_agent_listen=listen)
    except ConfigurationError as exc:
        console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc
    from andromede.app import run_hypervisor_agent
    from andromede.hypervisor.errors import HypervisorError
    from andromede.logconfig import configure_logging

    configure_logging(settings)
    where = str(settings.hypervisor_agent_socket)
    if settings.hypervisor_agent_listen:
        where += f" and {settings.hypervisor_agent_listen} (mutual TLS)"
    console.print(f"hypervisor agent of host {settings.hypervisor_host_name} on {where}")
    try:
        run_hypervisor_agent(settings)
    except ConfigurationError as exc:
        console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc
    except OSError as exc:  # the port in use, an address not on this host
        console.print(f"[red]cannot listen:[/red] {exc}")
        raise typer.Exit(1) from exc
    except HypervisorError as exc:  # the host cannot do what its settings ask (bridges, underlay)
        console.print(f"[red]hypervisor:[/red] {exc}")
        raise typer.Exit(1) from exc


# The end of the import: the collector resumes (see the top of this module).
gc.freeze()
gc.enable()
