"""``andromede serve``: run the application under the configured ASGI server.

SIGTERM and SIGINT stop the server gracefully: it stops accepting connections, waits up to
``shutdown_timeout`` for requests in flight, then cancels the rest. A cancelled upload aborts its
blob writer, so nothing half-written becomes visible.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from typing import Any

from pydantic import SecretStr
from rich.console import Console

from andromede.app import Application, migrate, prepare
from andromede.db.database import describe_url
from andromede.iam.service import BootstrapResult
from andromede.logconfig import configure_logging
from andromede.settings import Settings

__all__ = ["migrate_only", "run"]


def _banner(
    settings: Settings, bootstrap: BootstrapResult | None, port: int, console: Console
) -> None:
    host = settings.s3_host if settings.s3_host not in ("0.0.0.0", "::") else "127.0.0.1"  # noqa: S104
    endpoint = f"{settings.scheme}://{host}:{port}"
    credentials = settings.credentials_path
    state = "created" if bootstrap is not None else "kept from an earlier start"
    console.print(f"[bold]Andromède[/bold] is serving, region [cyan]{settings.region}[/cyan]")
    console.print(
        f"  S3 endpoint      {endpoint} ({settings.server}, {settings.workers} worker(s))"
    )
    console.print("  management API   not yet: arrives with the identity issue")
    console.print("  web console      not yet: arrives with the console issue")
    console.print(f"  data folder      {settings.data_dir}")
    console.print(f"  metadata         {describe_url(settings.effective_database_url)}")
    console.print(f"  admin key        {credentials} ({state}, profile 'andromede')")
    console.print(
        f"  operator key     {settings.operator_credentials_path} (profile 'andromede-operator':"
        " for the management API; reads no tenant data)",
        soft_wrap=True,
    )
    console.print("  try:")
    console.print(
        f"    AWS_SHARED_CREDENTIALS_FILE={credentials} aws --profile andromede "
        f"--region {settings.region} --endpoint-url {endpoint} s3 ls",
        soft_wrap=True,
    )


def _export(settings: Settings) -> None:
    """Worker processes import the app by name: hand them the settings over the environment."""
    for name, value in settings.model_dump().items():
        if isinstance(value, SecretStr):  # the environment is the place for secrets
            value = value.get_secret_value()
        if value is not None:
            text = str(value).lower() if isinstance(value, bool) else str(value)
            os.environ[f"ANDROMEDE_{name.upper()}"] = text


def _ignoring_stop_signals(run: Callable[[], None]) -> None:
    """Run ``run`` with SIGINT/SIGTERM ignored once the server hands them back.

    uvicorn re-raises the signal that stopped it once its shutdown is done; under the default
    handler that would kill the process with -SIGTERM after a clean drain. A graceful stop exits
    0, so the signal is ignored from the moment uvicorn restores the previous handler.
    """

    def ignore(signum: int, frame: object) -> None:
        return None

    previous = {s: signal.signal(s, ignore) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        run()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _uvicorn_options(settings: Settings) -> dict[str, Any]:
    return {
        "host": settings.s3_host,
        "port": settings.s3_port,
        "loop": "uvloop",
        "http": "httptools",
        "lifespan": "on",
        "ssl_certfile": str(settings.tls_cert) if settings.tls_cert else None,
        "ssl_keyfile": str(settings.tls_key) if settings.tls_key else None,
        "timeout_graceful_shutdown": int(settings.shutdown_timeout),
        "timeout_keep_alive": 30,
        "log_config": None,
        "access_log": False,
        "server_header": False,
        # No X-Forwarded-* rewriting: nothing in front of the gateway is trusted by default
        # (a loopback client could otherwise claim any source address), and it saves a
        # middleware call per request.
        "proxy_headers": False,
    }


def _run_uvicorn(settings: Settings, bootstrap: BootstrapResult | None, console: Console) -> int:
    import uvicorn
    import uvloop

    if settings.workers > 1:
        from andromede.cli.workers import run_workers

        _export(settings)
        options = _uvicorn_options(settings)
        del options["host"], options["port"]  # the workers get bound sockets
        return run_workers(
            settings.s3_host,
            settings.s3_port,
            settings.workers,
            options,
            settings.shutdown_timeout,
            announce=lambda port: _banner(settings, bootstrap, port, console),
        )

    server = uvicorn.Server(uvicorn.Config(Application(settings), **_uvicorn_options(settings)))

    async def main() -> None:
        serving = asyncio.create_task(server.serve())
        while not server.started and not serving.done():
            await asyncio.sleep(0.05)
        if server.started:
            port = settings.s3_port
            for listener in server.servers:
                for sock in listener.sockets:
                    port = sock.getsockname()[1]
            _banner(settings, bootstrap, port, console)
        await serving

    # Server.serve() does not install the loop named in the config (only Server.run() does):
    # run it on uvloop explicitly.
    _ignoring_stop_signals(lambda: uvloop.run(main()))
    return 0 if server.started else 1


def _run_granian(settings: Settings, bootstrap: BootstrapResult | None, console: Console) -> int:
    from granian.constants import Interfaces, Loops
    from granian.server import Server

    _export(settings)
    _banner(settings, bootstrap, settings.s3_port, console)
    server = Server(
        "andromede.app:create_app",
        address=settings.s3_host,
        port=settings.s3_port,
        interface=Interfaces.ASGI,
        factory=True,
        workers=settings.workers,
        loop=Loops.uvloop,
        ssl_cert=settings.tls_cert,
        ssl_key=settings.tls_key,
        log_access=False,
        workers_kill_timeout=int(settings.shutdown_timeout) or None,
    )
    server.serve()
    return 0


def migrate_only(settings: Settings, console: Console) -> int:
    """``serve --migrate-only``: the schema migrations alone, for deployments that run them once
    before starting many gateways (which then find nothing to do)."""
    import uvloop

    configure_logging(settings)
    uvloop.run(migrate(settings))
    console.print(
        f"metadata database {describe_url(settings.effective_database_url)} is at the latest schema"
    )
    return 0


def run(settings: Settings, console: Console) -> int:
    import uvloop

    configure_logging(settings)
    # Migrations, the first tenant and its key happen once here, before any worker starts.
    bootstrap = uvloop.run(prepare(settings))
    if settings.server == "granian":
        return _run_granian(settings, bootstrap, console)
    return _run_uvicorn(settings, bootstrap, console)
