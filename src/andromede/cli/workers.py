"""Worker processes for ``andromede serve``, each with its own listening sockets (SO_REUSEPORT).

uvicorn's own multi-worker mode shares one listening socket: whichever worker wakes first takes
the connection, and a handful of keep-alive clients often all land on one worker while the other
idles (the benchmark's LIST of 1,000 keys swung between 170 and 320 lists/s from run to run).
Here every worker has its own socket bound to the same port with SO_REUSEPORT, and the kernel
spreads new connections across them by their addresses.

Each worker listens on every listener of the deployment (the S3 endpoint and the management
API): one socket per listener per worker, and the application tells them apart by port.
The parent binds the sockets (so the ports are known, and taken, before anything starts), has the
workers forked from its template (``cli.worker_template``, decision 0115), and on SIGTERM or SIGINT
asks each to stop (uvicorn drains its requests), then exits 0. A worker that dies takes its socket
with it: the kernel stops sending it connections, the others keep serving, and the parent stops
everything and exits 1 so a supervisor restarts it."""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import os
import select
import signal
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import uvicorn

    from andromede.cli.worker_template import WorkerTemplate

_log = logging.getLogger(__name__)

__all__ = [
    "bind_listener",
    "bind_reuseport",
    "claim_port",
    "run_workers",
    "serve",
    "serve_sockets",
    "start_worker_template",
]


def bind_listener(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    return sock


def bind_reuseport(host: str, port: int) -> socket.socket:
    return bind_listener(host, port, reuse_port=True)


def claim_port(host: str, port: int) -> None:
    """Refuse a port another process listens on, with SO_REUSEPORT or without (OSError,
    ``Address already in use``). The workers' sockets set SO_REUSEPORT, and the kernel lets
    any later socket of the same user that sets it too join them: a second server started on
    the port by mistake (or a test picking it at the same moment) would be given a share of
    the connections, silently. A bind without SO_REUSEPORT fails while anyone listens there;
    it is released at once, before the workers' sockets take the port. (SO_REUSEADDR: an
    earlier run's connections in TIME_WAIT do not count.) Port 0: the kernel's choice, free."""
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


def _ignore(signum: int, frame: object) -> None:
    return None


async def serve(
    server: uvicorn.Server,
    sockets: list[socket.socket],
    on_started: Callable[[], None] = lambda: None,
) -> None:
    """Run ``server`` on ``sockets``; once it has started (the application's start-up done),
    call ``on_started`` and freeze the heap made so far out of the garbage collector's reach.

    Start-up leaves some 150,000 objects that live as long as the process (modules, the
    settings, SQLAlchemy's and pydantic's structures, the clients of PostgreSQL and Ceph). The
    collector's full passes walk every one of them, some 70 ms each, whenever requests have
    left a quarter as many survivors again (caches filling, statements prepared): 5 % of the
    samples of a GET run on PostgreSQL + RADOS where one landed, and a pause of the event loop
    each time (decision 0029). ``gc.freeze`` moves them to a generation the collector does
    not visit; the young generations, where a request's garbage dies, are collected as before.
    """
    serving = asyncio.ensure_future(server.serve(sockets=sockets))
    while not server.started and not serving.done():
        await asyncio.sleep(0.05)
    if server.started:
        on_started()
        gc.freeze()
    await serving


def start_worker_template() -> None:
    """Start the process the workers are forked from; call it right after importing the
    application, before anything starts a thread, opens a connection or a session.

    The template is a fork of this process taken at that moment (``cli.worker_template``): the
    application is already imported there, once for both, and nothing that is unsafe to fork
    exists yet — no thread (the log flusher, SQLite's writer), no database connection, no
    PKCS#11 session (which a forked child may not use), no event loop. A fork is only safe
    with one thread, so a thread already running (an import that started one) makes this fall
    back to ``multiprocessing``'s fork server, a fresh interpreter that imports the application
    again (decision 0096), and says so in the log once logging is configured."""
    global _template
    # httpcore: imported by each worker at its first httpx client (the Route 53 health prober's,
    # made as the application starts), 5 % of a worker's start-up CPU (decision 0421).
    import httpcore  # noqa: F401
    import uvicorn.lifespan.on
    import uvicorn.loops.uvloop
    import uvicorn.protocols.http.httptools_impl  # noqa: F401  (what a worker's uvicorn loads)

    from andromede.cli import worker_template

    running = _threads()
    if len(running) == 1:
        _template = worker_template.fork_template()
        return
    _template = None
    _fallback_reasons.append(
        "workers come from multiprocessing's fork server (one more import of the application):"
        f" {len(running)} threads were running when the template was to be forked:"
        f" {', '.join(running)}"
    )
    from multiprocessing import forkserver

    forkserver.set_forkserver_preload([_WORKER_TEMPLATE])
    forkserver.ensure_running()


def _threads() -> list[str]:
    """The names of this process's threads: Python's, and on Linux also those a library
    started in C, which ``threading`` does not know of (the kernel's list of tasks)."""
    names = [thread.name for thread in threading.enumerate()]
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return names
    return names + ["(not a Python thread)"] * (len(tasks) - len(names))


_WORKER_TEMPLATE = "andromede.cli.fork_server_preload"
_template: WorkerTemplate | None = None
_fallback_reasons: list[str] = []


def serve_sockets(
    sockets: list[socket.socket],
    options: dict[str, Any],
    environment: dict[str, str] | None = None,
    serving_pid: int | None = None,
) -> None:
    """A worker process's body: uvicorn running the application on ``sockets``.

    ``environment`` is the parent's at the time it started the worker: a child of the template
    or of a fork server has theirs, from before the parent exported its settings and bound its
    ports.
    With ``serving_pid`` the worker stops when that process ends, however it ends."""
    if environment is not None:
        os.environ.clear()
        os.environ.update(environment)
    import uvicorn

    config = uvicorn.Config("andromede.app:create_app", factory=True, **options)
    # uvicorn re-raises the signal that stopped it once its shutdown is done; under the default
    # handler that killed the worker before logging.shutdown wrote its last batch of log lines
    # (andromede.logconfig). Ignored, the worker ends through a clean exit, as `serve` does.
    # A Python handler rather than SIG_IGN, which the programs a worker runs would inherit.
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, _ignore)
    if serving_pid is not None:
        _stop_when_ended(serving_pid)
    try:
        with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
            runner.run(serve(uvicorn.Server(config), sockets))
    finally:
        # A forked worker leaves through os._exit (multiprocessing's), which runs no atexit
        # handler: the last batch of log lines is written here.
        logging.shutdown()


def _stop_when_ended(pid: int) -> None:
    """SIGTERM this worker when process ``pid`` (the serving process) has ended — a ``kill -9``
    included, which leaves it no chance to stop its workers.

    The kernel's parent-death signal (``app._end_with_parent``) names the worker's parent: the
    template, which ends with the serving process but only once it reads end-of-file, or the
    fallback's fork server, which lives as long as any worker does (each holds its end of the
    pipe that keeps it alive), so neither would end. The serving process's pidfd becomes
    readable when it ends. The signal is sent again every few seconds: one that arrives before
    uvicorn has put in its handlers is ignored, and uvicorn takes a second one as "now"."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        os.kill(os.getpid(), signal.SIGTERM)
        return

    def watch() -> None:
        select.select([pidfd], [], [])
        while True:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(_RESIGNAL_INTERVAL)

    threading.Thread(target=watch, name="andromede-serving-watch", daemon=True).start()


_RESIGNAL_INTERVAL = 5.0


class _Worker(Protocol):
    """A worker process as ``run_workers`` handles it: a ``multiprocessing.Process`` or a
    :class:`~andromede.cli.worker_template.ForkedWorker`."""

    def start(self) -> None: ...
    def is_alive(self) -> bool: ...
    def terminate(self) -> None: ...
    def kill(self) -> None: ...
    def join(self, timeout: float | None = None) -> None: ...


def run_workers(
    listeners: list[tuple[str, int]],
    count: int,
    options: dict[str, Any],
    grace: float,
    announce: Callable[[list[int]], None],
) -> int:
    """Serve ``listeners`` (host, port) with ``count`` worker processes until SIGTERM/SIGINT (0)
    or a worker dies (1).

    ``announce`` gets the ports once they are bound (the ones chosen where a port is 0), before
    any worker starts: the place to hand them to the workers through the environment."""
    for host, port in listeners:
        claim_port(host, port)
    first = [bind_reuseport(host, port) for host, port in listeners]
    bound = [
        (host, sock.getsockname()[1]) for (host, _), sock in zip(listeners, first, strict=True)
    ]
    announce([port for _, port in bound])
    per_worker = [first] + [
        [bind_reuseport(host, port) for host, port in bound] for _ in range(count - 1)
    ]
    sockets = [sock for group in per_worker for sock in group]
    environment = dict(os.environ)
    processes: list[_Worker]
    if _template is not None:
        template = _template
        processes = [
            template.worker(group, options, environment, os.getpid()) for group in per_worker
        ]
    else:
        for reason in _fallback_reasons:
            _log.warning(reason)
        context = multiprocessing.get_context("forkserver")
        processes = [
            context.Process(
                target=serve_sockets,
                args=(group, options, environment, os.getpid()),
                name=f"andromede-worker-{n}",
            )
            for n, group in enumerate(per_worker)
        ]
    stop = threading.Event()
    previous = {
        s: signal.signal(s, lambda signum, frame: stop.set())
        for s in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        for process in processes:
            process.start()
        for sock in sockets:  # the workers hold their own copies now
            sock.close()
        while not stop.wait(0.5):
            if any(not p.is_alive() for p in processes):
                break
        requested = stop.is_set()
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn drains, then exits
        for process in processes:
            process.join(grace + 5)
            if process.is_alive():
                process.kill()
                process.join(5)
        return 0 if requested else 1
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
