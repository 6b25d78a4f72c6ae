"""The worker template of ``andromede serve`` (uvicorn, ``workers > 1``): a fork of the serving
process taken right after it imported the application, from which each worker is forked
(decision 0115).

A start used to import the application twice: the serving process, to migrate and bootstrap,
and ``multiprocessing``'s fork server, a fresh interpreter (decision 0096). Forking the workers
from the serving process once it has prepared is unsafe (its threads, database connections, an
HSM session); forking it *before* it prepares is not, and costs no import. The template is that
fork, kept idle until the serving process has bound the ports and asks for the workers.

This is what ``multiprocessing``'s fork server does, reduced to what the workers need — it
cannot be handed a process that is already running. The serving process keeps one end of a
``SOCK_SEQPACKET`` socketpair. For each worker it sends one message: the pickled arguments of
:func:`~andromede.cli.workers.serve_sockets`, the worker's listening sockets attached
(``SCM_RIGHTS``); the template forks and answers with the worker's pid. The serving process
then follows the worker through its pidfd, which also signals, kills and waits for it.

The template ends when its end of the socketpair reads end-of-file: the serving process has
ended, however it ended (only it holds the other end; the workers close the template's end).
It ignores SIGTERM and SIGINT: a supervisor's stop reaches every process of the service
(systemd's default, a process group's kill, Ctrl-C), and the template must outlive the workers'
drain. The kernel reaps the workers (SIGCHLD ignored); the serving process needs no exit code.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import socket
import sys
import traceback
from collections.abc import Callable
from typing import Any, NoReturn

__all__ = ["ForkedWorker", "WorkerTemplate", "fork_template"]

# One message carries a worker's arguments, the serving process's environment among them.
_MAX_MESSAGE = 1 << 20
_MAX_SOCKETS = 64
_PID_BYTES = 8


def fork_template() -> WorkerTemplate:
    """Fork the template now. The caller has checked that this process runs one thread."""
    serving_end, template_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:
        serving_end.close()
        _exit_after(_serve_forks, template_end)
    template_end.close()
    return WorkerTemplate(pid, serving_end)


def _serve_forks(channel: socket.socket) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    while True:
        message, fds, _, _ = socket.recv_fds(channel, _MAX_MESSAGE, _MAX_SOCKETS)
        if not message:  # the serving process has ended
            return
        pid = os.fork()
        if pid == 0:
            channel.close()
            _exit_after(_run_worker, message, fds)
        for fd in fds:
            os.close(fd)
        channel.send(pid.to_bytes(_PID_BYTES, "little"))


def _run_worker(message: bytes, fds: list[int]) -> None:
    from andromede.cli.workers import serve_sockets

    # The template's dispositions are not the worker's, nor those of the programs it runs (a
    # SIGCHLD ignored would make their own children unwaitable).
    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
        signal.signal(number, signal.SIG_DFL)
    arguments: dict[str, Any] = pickle.loads(message)  # noqa: S301  (from the serving process)
    serve_sockets([socket.socket(fileno=fd) for fd in fds], **arguments)


def _exit_after(body: Callable[..., None], *arguments: Any) -> NoReturn:
    """Run ``body(*arguments)`` in a forked child, then leave through ``os._exit``: the child
    must not return into its parent's stack (nor run its ``atexit`` handlers)."""
    code = 1
    try:
        body(*arguments)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)


class WorkerTemplate:
    """The serving process's handle on its template."""

    def __init__(self, pid: int, channel: socket.socket) -> None:
        self.pid = pid
        self._channel = channel

    def worker(
        self,
        sockets: list[socket.socket],
        options: dict[str, Any],
        environment: dict[str, str],
        serving_pid: int,
    ) -> ForkedWorker:
        arguments = {"options": options, "environment": environment, "serving_pid": serving_pid}
        return ForkedWorker(self, sockets, arguments)

    def fork(self, sockets: list[socket.socket], arguments: dict[str, Any]) -> int:
        socket.send_fds(
            self._channel, [pickle.dumps(arguments)], [sock.fileno() for sock in sockets]
        )
        answer = self._channel.recv(_PID_BYTES)
        if len(answer) != _PID_BYTES:
            raise ChildProcessError(f"the worker template (pid {self.pid}) has ended")
        return int.from_bytes(answer, "little")


class ForkedWorker:
    """A worker forked by the template, as ``run_workers`` handles a ``multiprocessing``
    process. Not this process's child: it is followed through its pidfd, which cannot name
    another process once the pid is reused."""

    def __init__(
        self, template: WorkerTemplate, sockets: list[socket.socket], arguments: dict[str, Any]
    ) -> None:
        self._template = template
        self._sockets = sockets
        self._arguments = arguments
        self.pid: int | None = None
        self._pidfd: int | None = None
        self._ended = False

    def start(self) -> None:
        self.pid = self._template.fork(self._sockets, self._arguments)
        try:
            self._pidfd = os.pidfd_open(self.pid)
        except ProcessLookupError:  # already ended, and reaped
            self._ended = True

    def is_alive(self) -> bool:
        return self._wait(0.0) is False

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def join(self, timeout: float | None = None) -> None:
        self._wait(timeout)

    def _signal(self, number: int) -> None:
        if self._pidfd is not None and not self._ended:
            try:
                signal.pidfd_send_signal(self._pidfd, number)
            except ProcessLookupError:
                pass

    def _wait(self, timeout: float | None) -> bool | None:
        """True once the worker has ended, False while it runs; None before it started."""
        if self._ended:
            return True
        if self._pidfd is None:
            return None
        readable, _, _ = select.select([self._pidfd], [], [], timeout)
        if readable:
            self._ended = True
            os.close(self._pidfd)
            self._pidfd = None
        return self._ended
