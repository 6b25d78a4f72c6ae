"""``andromede serve``: run the application under the configured ASGI server.

SIGTERM and SIGINT stop the server gracefully: it stops accepting connections, waits up to
``shutdown_timeout`` for requests in flight, then cancels the rest. A cancelled upload aborts its
blob writer, so nothing half-written becomes visible.
"""

from __future__ import annotations

import asyncio
import os
import signal

from rich.console import Console

from andromede.app import Application
from andromede.logconfig import configure_logging
from andromede.settings import Settings

__all__ = ["run"]


def _banner(settings: Settings, application: Application, port: int, console: Console) -> None:
    host = settings.s3_host if settings.s3_host not in ("0.0.0.0", "::") else "127.0.0.1"  # noqa: S104
    endpoint = f"{settings.scheme}://{host}:{port}"
    credentials = settings.credentials_path
    state = "created" if application.bootstrap is not None else "kept from an earlier start"
    console.print(f"[bold]Andromède[/bold] is serving, region [cyan]{settings.region}[/cyan]")
    console.print(f"  S3 endpoint      {endpoint}")
    console.print("  management API   not yet: arrives with the identity issue")
    console.print("  web console      not yet: arrives with the console issue")
    console.print(f"  data folder      {settings.data_dir}")
    console.print(f"  admin key        {credentials} ({state}, profile 'andromede')")
    console.print("  try:")
    console.print(
        f"    AWS_SHARED_CREDENTIALS_FILE={credentials} aws --profile andromede "
        f"--region {settings.region} --endpoint-url {endpoint} s3 ls",
        soft_wrap=True,
    )


def _run_uvicorn(settings: Settings, application: Application, console: Console) -> int:
    import uvicorn
    import uvloop

    config = uvicorn.Config(
        application,
        host=settings.s3_host,
        port=settings.s3_port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        ssl_certfile=str(settings.tls_cert) if settings.tls_cert else None,
        ssl_keyfile=str(settings.tls_key) if settings.tls_key else None,
        timeout_graceful_shutdown=int(settings.shutdown_timeout),
        timeout_keep_alive=30,
        log_config=None,
        access_log=False,
        server_header=False,
    )
    server = uvicorn.Server(config)

    async def main() -> None:
        serving = asyncio.create_task(server.serve())
        while not server.started and not serving.done():
            await asyncio.sleep(0.05)
        if server.started:
            port = settings.s3_port
            for listener in server.servers:
                for sock in listener.sockets:
                    port = sock.getsockname()[1]
            _banner(settings, application, port, console)
        await serving

    def ignore(signum: int, frame: object) -> None:
        return None

    # uvicorn re-raises the signal that stopped it once its shutdown is done; under the default
    # handler that would kill the process with -SIGTERM after a clean drain. A graceful stop
    # exits 0, so the signal is ignored from the moment uvicorn hands it back.
    previous = {s: signal.signal(s, ignore) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        # Server.serve() does not install the loop named in the config (only Server.run()
        # does): run it on uvloop explicitly.
        uvloop.run(main())
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    return 0 if server.started else 1


def _run_granian(settings: Settings, console: Console) -> int:
    from granian.constants import Interfaces, Loops
    from granian.server import Server

    # Granian imports the app in its own worker process: hand the settings over the environment.
    for name, value in settings.model_dump().items():
        if value is not None:
            os.environ[f"ANDROMEDE_{name.upper()}"] = (
                str(value).lower() if isinstance(value, bool) else str(value)
            )
    console.print(
        f"Andromède (granian) on {settings.scheme}://{settings.s3_host}:{settings.s3_port}"
    )
    server = Server(
        "andromede.app:create_app",
        address=settings.s3_host,
        port=settings.s3_port,
        interface=Interfaces.ASGI,
        factory=True,
        workers=1,
        loop=Loops.uvloop,
        ssl_cert=settings.tls_cert,
        ssl_key=settings.tls_key,
        log_access=False,
        workers_kill_timeout=int(settings.shutdown_timeout) or None,
    )
    server.serve()
    return 0


def run(settings: Settings, console: Console) -> int:
    configure_logging(settings)
    if settings.server == "granian":
        return _run_granian(settings, console)
    return _run_uvicorn(settings, Application(settings), console)
