"""``andromede serve``: run the application under the configured ASGI server.

SIGTERM and SIGINT stop the server gracefully: it stops accepting connections, waits up to
``shutdown_timeout`` for requests in flight, then cancels the rest. A cancelled upload aborts its
blob writer, so nothing half-written becomes visible.
"""

from __future__ import annotations

import json
import multiprocessing
import multiprocessing.process
import os
import signal
from collections.abc import Callable
from typing import Any

from pydantic import SecretStr
from rich.console import Console

from andromede.app import Application, migrate, prepare
from andromede.db.database import describe_url
from andromede.errors import ConfigurationError
from andromede.iam.service import BootstrapResult
from andromede.logconfig import configure_logging
from andromede.settings import Settings

__all__ = ["migrate_only", "run", "start_hypervisor_agent", "stop_hypervisor_agent"]


def _url(settings: Settings, host: str, port: int) -> str:
    shown = host if host not in ("0.0.0.0", "::") else "127.0.0.1"  # noqa: S104
    return f"{settings.scheme}://{shown}:{port}"


def _banner(
    settings: Settings,
    bootstrap: BootstrapResult | None,
    ports: tuple[int, int],
    console: Console,
) -> None:
    s3_port, api_port = ports
    endpoint = _url(settings, settings.s3_host, s3_port)
    credentials = settings.credentials_path
    state = "created" if bootstrap is not None else "kept from an earlier start"
    console.print(f"[bold]Andromède[/bold] is serving, region [cyan]{settings.region}[/cyan]")
    console.print(
        f"  S3 endpoint      {endpoint} ({settings.server}, {settings.workers} worker(s))"
    )
    api = _url(settings, settings.api_host, api_port)
    console.print(
        f"  management API   {api}/api/v1 (OpenAPI: {api}/api/v1/openapi.json)", soft_wrap=True
    )
    console.print(
        f"  web console      {api}/console/ (a tenant user with a console password)",
        soft_wrap=True,
    )
    served = sorted(settings.served_region_names)
    if len(settings.declared_regions) > 1:
        console.print(f"  regions served   {', '.join(served)} (default {settings.region})")
    if settings.hypervisor_hosts:
        hosts = ", ".join(f"{h.name} ({h.url})" for h in settings.hypervisor_hosts)
        console.print(f"  hypervisor hosts {hosts}", soft_wrap=True)
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
            if isinstance(value, bool):
                text = str(value).lower()
            elif isinstance(value, dict | list | tuple):  # complex settings travel as JSON
                text = json.dumps(value)
            else:
                text = str(value)
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
    """uvicorn's options; the listening sockets are bound here, not by uvicorn (two listeners)."""
    return {
        "loop": "uvloop",
        "http": "httptools",
        "lifespan": "on",
        # With TLS on, both listeners (S3 and the management API) use the same certificate.
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


def _with_ports(settings: Settings, s3_port: int, api_port: int) -> Settings:
    """The settings with the ports actually bound (where 0 asked the kernel to pick): the
    application tells its two listeners apart by port."""
    if s3_port == api_port:
        raise ConfigurationError(
            f"the S3 endpoint and the management API were both given port {s3_port}: "
            "set distinct s3_port and api_port"
        )
    return settings.model_copy(update={"s3_port": s3_port, "api_port": api_port})


def _run_uvicorn(settings: Settings, bootstrap: BootstrapResult | None, console: Console) -> int:
    import uvicorn
    import uvloop

    from andromede.cli.workers import bind_listener, run_workers, serve

    listeners = [(settings.s3_host, settings.s3_port), (settings.api_host, settings.api_port)]
    if settings.workers > 1:
        _export(settings)

        def bound(ports: list[int]) -> None:
            s3_port, api_port = ports
            _with_ports(settings, s3_port, api_port)
            # The workers read their settings from the environment (spawned after this).
            os.environ["ANDROMEDE_S3_PORT"] = str(s3_port)
            os.environ["ANDROMEDE_API_PORT"] = str(api_port)
            _banner(settings, bootstrap, (s3_port, api_port), console)

        return run_workers(
            listeners,
            settings.workers,
            _uvicorn_options(settings),
            settings.shutdown_timeout,
            announce=bound,
        )

    sockets = []
    try:
        for host, port in listeners:
            sockets.append(bind_listener(host, port))
        s3_port, api_port = (sock.getsockname()[1] for sock in sockets)
        settings = _with_ports(settings, s3_port, api_port)
    except (OSError, ConfigurationError):
        for sock in sockets:
            sock.close()
        raise
    server = uvicorn.Server(uvicorn.Config(Application(settings), **_uvicorn_options(settings)))

    def started() -> None:
        _banner(settings, bootstrap, (s3_port, api_port), console)

    # Server.serve() does not install the loop named in the config (only Server.run() does):
    # run it on uvloop explicitly.
    try:
        _ignoring_stop_signals(lambda: uvloop.run(serve(server, sockets, started)))
    finally:
        for sock in sockets:
            sock.close()
    return 0 if server.started else 1


def _run_granian(settings: Settings, bootstrap: BootstrapResult | None, console: Console) -> int:
    import multiprocessing

    from granian.constants import Interfaces, Loops
    from granian.server import Server

    from andromede.cli.workers import bind_listener, serve_sockets

    # granian binds one address; the management API gets a uvicorn process of its own, running
    # the same application on the API socket alone (see decision 0010).
    api_socket = bind_listener(settings.api_host, settings.api_port)
    api_port = api_socket.getsockname()[1]
    _export(settings)
    os.environ["ANDROMEDE_API_PORT"] = str(api_port)
    _banner(settings, bootstrap, (settings.s3_port, api_port), console)
    api_process = multiprocessing.get_context("spawn").Process(
        target=serve_sockets,
        args=([api_socket], _uvicorn_options(settings)),
        name="andromede-api",
    )
    api_process.start()
    api_socket.close()  # the API process holds its own copy
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
    try:
        server.serve()
    finally:
        api_process.terminate()  # SIGTERM: uvicorn drains, then exits
        api_process.join(settings.shutdown_timeout + 5)
        if api_process.is_alive():
            api_process.kill()
            api_process.join(5)
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


def _agent_main(settings: Settings) -> None:
    from andromede.app import run_hypervisor_agent

    configure_logging(settings)
    run_hypervisor_agent(settings)


def start_hypervisor_agent(settings: Settings) -> multiprocessing.process.BaseProcess:
    """Start this host's hypervisor agent (``hypervisor = qemu``) and wait until it answers:
    the workers reconcile their instances with it as they start. Its guests outlive it."""
    from andromede.hypervisor.agent import agent_ready

    process = multiprocessing.get_context("spawn").Process(
        target=_agent_main, args=(settings,), name="andromede-agent", daemon=False
    )
    process.start()
    if not agent_ready(settings.hypervisor_agent_socket, settings.hypervisor_agent_timeout):
        stop_hypervisor_agent(process)
        raise ConfigurationError(
            f"the hypervisor agent did not answer on {settings.hypervisor_agent_socket} within"
            f" {settings.hypervisor_agent_timeout:g} s (see its log lines above)"
        )
    return process


def stop_hypervisor_agent(process: multiprocessing.process.BaseProcess) -> None:
    if process.pid is not None and process.is_alive():
        os.kill(process.pid, signal.SIGTERM)  # graceful: QMP let go, guests keep running
    process.join(timeout=15)
    if process.is_alive():
        process.kill()
        process.join()


def run(settings: Settings, console: Console) -> int:
    import uvloop

    configure_logging(settings)
    # Migrations, the first tenant and its key happen once here, before any worker starts.
    bootstrap = uvloop.run(prepare(settings))
    agent = None
    try:
        # With hypervisor_hosts the agents run on their hosts; this gateway only dials them.
        if settings.hypervisor == "qemu" and not settings.hypervisor_hosts:
            agent = start_hypervisor_agent(settings)
        if settings.server == "granian":
            return _run_granian(settings, bootstrap, console)
        return _run_uvicorn(settings, bootstrap, console)
    except OSError as exc:  # a port in use, an address not on this host
        console.print(f"[red]cannot listen:[/red] {exc}")
        return 1
    except ConfigurationError as exc:
        console.print(f"[red]configuration error:[/red] {exc}")
        return 2
    finally:
        if agent is not None:
            stop_hypervisor_agent(agent)
