"""The launcher ("zygote") the test suite forks its ``andromede serve`` processes from, and its
aws CLI calls (``support.aws_cli``).

Exec'ing ``andromede serve`` costs a fresh interpreter that imports the whole application
(2.4 to 6 s of a loaded CI core) before the server migrates and bootstraps. The launcher is one
small process per test process (so one per xdist worker), started on first use, that imports
once what ``andromede serve`` imports, while it is still single-threaded, and then forks a
child per server. The child makes itself what ``subprocess.Popen`` made of a fresh
``andromede serve`` (``_become_server``) and calls the console script's own entry function.

The test process talks to the launcher over a unix socketpair: a request carries the
arguments, environment and working directory, with the log's descriptor alongside
(``SCM_RIGHTS``); the answer carries the child's pid and a pidfd of it. The test process
signals and polls the child through the pidfd (no pid can be reused under it); the launcher,
the child's parent, reaps it and sends its exit status. ``LaunchedServer`` wraps that in what
the tests use of ``subprocess.Popen``.

What the launcher must not freeze or leak into a child (decision 0116 lists what was checked):
the environment, the working directory, ``tempfile``'s cached folder and the time zone are
set afresh in the child; a module whose import is a side effect (``cli.fork_server_preload``
ignores SIGTERM) is left for the server's own import to run; the child keeps no descriptor
but 0-2; and a request whose interpreter settings (``PYTHON*``, the locale) differ from the
launcher's is exec'd instead.

A launcher serves one program, named as it starts: ``andromede`` (the application's console
script) or ``aws`` (awscli v1's script: the launcher imports its driver and every plugin, and a
child runs the script itself by its path, as the interpreter the script names would; decision
0382). A test process has one launcher per program it asked for.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import importlib.metadata
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NoReturn

__all__ = [
    "LaunchedServer",
    "Launcher",
    "LauncherGone",
    "launcher",
    "run_command",
    "start_command",
]

# A request carries the whole environment (some 5 KiB): room for a far larger one, in one
# datagram (a SOCK_SEQPACKET message is bounded by the socket's send buffer, 208 KiB).
_MESSAGE_BYTES = 1 << 18
# How long the launcher may take to answer once it is up: a fork, or reaping a child the
# pidfd already says has exited. Its first answer also waits for its imports (start_timeout).
_ANSWER_SECONDS = 30.0

# What the interpreter reads only as it starts (sys.path, hash seed, warnings, I/O encoding,
# the locale): a child forked from the launcher has the launcher's, so a request that asks
# for other values of them is exec'd (Launcher.forks_like_exec).
_INTERPRETER_START_PREFIXES = ("PYTHON", "LC_")
_INTERPRETER_START_NAMES = frozenset({"LANG", "LANGUAGE"})


def _interpreter_start_env(env: Mapping[str, str]) -> dict[str, str]:
    return {
        name: value
        for name, value in env.items()
        if name.startswith(_INTERPRETER_START_PREFIXES) or name in _INTERPRETER_START_NAMES
    }


# ---------------------------------------------------------------------------------------------
# The launcher process


def _console_entry() -> Callable[[], Any]:
    """The function the ``andromede`` console script calls (``andromede.cli.main:app``)."""
    (entry,) = importlib.metadata.entry_points(group="console_scripts", name="andromede")
    loaded: Callable[[], Any] = entry.load()
    return loaded


# What ``andromede serve`` imports before it serves: the application, then (imported late by
# ``cli.main``) the serving modules, the worker template and what a worker's uvicorn loads.
_PRELOADED = (
    "andromede.app",
    "andromede.cli.serve",
    "andromede.cli.workers",
    "andromede.cli.worker_template",
    "uvloop",
    "uvicorn.lifespan.on",
    "uvicorn.loops.uvloop",
    "uvicorn.protocols.http.httptools_impl",
    # What each worker imports as its application starts: httpx's transport imports httpcore
    # at its first client (the Route 53 health prober's), 0.1 s of a server's start (0412).
    "httpcore",
)
# Never kept imported: its body ignores SIGTERM in the process that imports it, which is meant
# to be multiprocessing's fork server only (the fallback of cli.workers.start_worker_template).
_SIDE_EFFECT_MODULES = ("andromede.cli.fork_server_preload",)


# What the aws script imports (its driver) and what the driver loads as it starts on every call
# (the plugins: every customization, which import the rest of botocore and s3transfer).
_AWS_CLI_PRELOADED = ("awscli.clidriver", "awscli.handlers")
# HOME while the aws launcher imports: botocore and awscli derive paths from the home folder as
# they are imported (the user's models folder ~/.aws/models, the alias file, the credential
# caches…), in module constants, class attributes and argument defaults. Each call has a HOME
# of its own, so every value holding this one is found after the imports and given the call's.
_IMPORT_HOME = "/nonexistent/andromede-aws-launcher-home"
# The other variables a program's imports read (botocore.compat: whether to use the CRT): a
# call that sets them otherwise than the launcher's environment is exec'd.
_IMPORT_TIME_VARIABLES = {"aws": ("BOTO_DISABLE_CRT",)}


def _home_derived_values() -> list[Callable[[str], None]]:
    """For each value the imports derived from ``_IMPORT_HOME`` (a module's global, a class's
    attribute, a function's default, or a string inside a list or dict of these), a function
    that sets it as it would have been with another home folder."""
    setters: list[Callable[[str], None]] = []

    def found(value: object, assign: Callable[[Any], None], depth: int) -> None:
        if isinstance(value, str):
            if _IMPORT_HOME in value:
                setters.append(lambda home: assign(value.replace(_IMPORT_HOME, home)))
        elif depth < 4 and isinstance(value, list):
            for index, item in enumerate(value):
                found(item, lambda new, c=value, i=index: c.__setitem__(i, new), depth + 1)
        elif depth < 4 and isinstance(value, dict):
            for key, item in list(value.items()):
                found(item, lambda new, c=value, k=key: c.__setitem__(k, new), depth + 1)

    def defaults(function: types.FunctionType) -> None:
        for index, item in enumerate(function.__defaults__ or ()):

            def replace(new: Any, f: types.FunctionType = function, i: int = index) -> None:
                old = f.__defaults__ or ()
                f.__defaults__ = (*old[:i], new, *old[i + 1 :])

            found(item, replace, 1)
        if function.__kwdefaults__:
            found(function.__kwdefaults__, lambda new: None, 0)

    # Read through __dict__ only: an attribute read may import (six's lazy modules do).
    modules = [module for module in sys.modules.values() if isinstance(module, types.ModuleType)]
    for module in modules:
        for name, value in list(vars(module).items()):
            found(value, lambda new, m=module, n=name: setattr(m, n, new), 0)
            if isinstance(value, types.FunctionType):
                defaults(value)
            elif isinstance(value, type) and value.__module__ == module.__name__:
                for attribute, item in list(vars(value).items()):
                    found(item, lambda new, c=value, a=attribute: setattr(c, a, new), 1)
                    if isinstance(item, (staticmethod, classmethod)):
                        item = item.__func__
                    if isinstance(item, types.FunctionType):
                        defaults(item)
    return setters


def _import_aws_cli() -> Callable[[], Any]:
    home = os.environ.get("HOME")
    os.environ["HOME"] = _IMPORT_HOME
    try:
        for name in _AWS_CLI_PRELOADED:
            importlib.import_module(name)
    finally:
        if home is None:
            del os.environ["HOME"]
        else:
            os.environ["HOME"] = home
    home_derived = _home_derived_values()

    def run_aws_script() -> Any:
        """In the child: the venv's ``aws`` script (``sys.argv[0]``) run as ``__main__``,
        exactly as exec'd: its own ``LC_CTYPE`` fix-up, then ``sys.exit(main())``. What the
        imports derived from the environment is derived again from the child's: the home
        folder's paths, and ``AWS_DATA_PATH``, which ``awscli``'s package body turns into the
        path botocore searches, in ``os.environ`` (a reload keeps the imported submodules)."""
        import runpy

        child_home = os.path.expanduser("~")
        for set_value in home_derived:
            set_value(child_home)
        importlib.reload(sys.modules["awscli"])
        return runpy.run_path(sys.argv[0], run_name="__main__")

    return run_aws_script


def _import_program(program: str) -> Callable[[], Any]:
    """Import what ``program`` (``andromede`` or ``aws``) imports; the function a child calls.

    The collector is paused while the launcher imports and what the imports made is frozen
    after (``gc.freeze``), as ``andromede``'s own ``cli.main`` does around its imports: left
    in the collector's reach, the first full pass of every child walked the hundreds of
    thousands of objects imported (a forked server's argument parsing met one: 0.17 s of its
    start, decision 0412), and wrote to their pages, which a fork otherwise shares."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        if program == "aws":
            entry = _import_aws_cli()
        else:
            entry = _console_entry()
            gc.disable()  # again: cli.main resumes the collector at the end of its import
            for name in _PRELOADED:
                with contextlib.suppress(ModuleNotFoundError):  # a module a later tree renamed
                    importlib.import_module(name)
            for name in _SIDE_EFFECT_MODULES:  # none today; the server's own import runs it
                sys.modules.pop(name, None)
    finally:
        gc.freeze()
        if collecting:
            gc.enable()
    # What a fresh interpreter starts with, whatever an import did.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # A fork copies one thread: any other would leave its locks held in every server.
    threads = os.listdir("/proc/self/task")
    if len(threads) != 1:
        raise RuntimeError(f"the launcher's imports started threads ({threads}): cannot fork")
    return entry


def serve_requests(channel_fd: int, program: str = "andromede") -> None:
    """The launcher's body: import, then fork a server per request until the test process
    closes its end. Single-threaded throughout, so a fork copies no thread's half-held lock.

    A child leaves through ``_become_server``, which raises ``SystemExit`` up through this
    function into the interpreter's own exit (non-daemon threads joined, ``atexit`` handlers,
    stdio flushed), as the console script's ``sys.exit(app())`` does: nothing on that path may
    be a ``with`` or ``finally`` of the launcher's."""
    entry = _import_program(program)
    channel = socket.socket(fileno=channel_fd)
    children: dict[int, int] = {}  # pidfd -> pid, each reaped when its pidfd turns readable
    while True:
        ready, _, _ = select.select([channel.fileno(), *children], [], [])
        for pidfd in [fd for fd in ready if fd in children]:
            pid = children.pop(pidfd)
            os.close(pidfd)
            _, status = os.waitpid(pid, 0)
            returncode = os.waitstatus_to_exitcode(status)
            channel.send(json.dumps({"exited": pid, "returncode": returncode}).encode())
        if channel.fileno() not in ready:
            continue
        message, fds, _, _ = socket.recv_fds(channel, _MESSAGE_BYTES, 3)
        if not message:
            return  # the test process has gone: its servers live on, as exec'd ones would
        # The log (standard error, and standard output unless a second descriptor came), then
        # standard input when a third came.
        log, output = fds[0], fds[min(1, len(fds) - 1)]
        stdin = fds[2] if len(fds) > 2 else None
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            pid = os.fork()
        except OSError as exc:
            for fd in fds:
                os.close(fd)
            channel.send(json.dumps({"error": f"fork: {exc}"}).encode())
            continue
        if pid == 0:
            _become_server(json.loads(message), (log, output, stdin), channel, entry)
        for fd in fds:
            os.close(fd)
        pidfd = os.pidfd_open(pid)
        children[pidfd] = pid
        socket.send_fds(channel, [json.dumps({"started": pid}).encode()], [pidfd])


def _become_server(
    request: dict[str, Any],
    streams: tuple[int, int, int | None],
    channel: socket.socket,
    entry: Callable[[], Any],
) -> NoReturn:
    """In the child: what ``subprocess.Popen(argv, stdin=stdin, stdout=output, stderr=log,
    env=env, cwd=cwd, start_new_session=new_session)`` does between its fork and its exec, then
    the program. Without a ``stdin`` the child keeps the launcher's (``/dev/null``)."""
    log, output, stdin = streams
    channel.detach()  # closed below with the rest: the socket object must not close it again
    if request.get("new_session", True):
        os.setsid()
    if stdin is not None:
        os.dup2(stdin, 0)
    os.dup2(output, 1)
    os.dup2(log, 2)
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))  # the log, the channel, the other pidfds
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    time.tzset()  # TZ as the child's environment says
    tempfile.tempdir = None  # TMPDIR likewise, were gettempdir() called in the launcher
    _forget_launcher_secrets()
    sys.argv = list(request["argv"])
    # The console script's own folder heads sys.path, as for the script run by its path
    # (``python -c``, the launcher, put the working folder there).
    if sys.path and sys.path[0] == "":
        sys.path[0] = str(Path(sys.argv[0]).parent)
    sys.argv[0] = sys.argv[0].removesuffix(".exe")
    sys.exit(entry())


def _forget_launcher_secrets() -> None:
    """Random state made at import that a fork would share with the launcher and every
    sibling: ``random`` reseeds itself after a fork, ``multiprocessing``'s authentication key
    (drawn as ``multiprocessing.process`` is imported) does not."""
    process = sys.modules.get("multiprocessing.process")
    if process is not None:
        process.current_process().authkey = os.urandom(32)


# ---------------------------------------------------------------------------------------------
# The test process's end

# The launcher's program: this file, loaded by its path (not as ``support.launcher``, so the
# tests' folder stays off the servers' sys.path), then its body.
_BOOT = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("_andromede_launcher", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
module.serve_requests(int(sys.argv[2]), sys.argv[3])
"""


class LauncherGone(RuntimeError):
    """The launcher process ended while a child of it ran: that child's exit status is lost."""


class Launcher:
    """The test process's handle on its launcher process for ``program`` (``andromede`` or
    ``aws``): started on first use, restarted when found dead."""

    def __init__(self, log_dir: Path | None = None, program: str = "andromede") -> None:
        self._log_dir = log_dir
        self.program = program
        self._process: subprocess.Popen[bytes] | None = None
        self._channel: socket.socket | None = None
        self._returncodes: dict[int, int] = {}
        self.owner = os.getpid()
        self.log_path: Path | None = None
        self._started_with: dict[str, str] = {}
        # Which launcher process (the first, a restarted one…) forked a child: only that one
        # can report its exit.
        self._generation = 0

    def forks_like_exec(self, env: Mapping[str, str]) -> bool:
        """Whether a server forked from the launcher is what one exec'd with ``env`` would be:
        the launcher's interpreter settings are those of the environment it was started with
        (this process's, when none runs yet)."""
        started_with = self._started_with if self._channel is not None else os.environ
        if _interpreter_start_env(env) != _interpreter_start_env(started_with):
            return False
        # And what the program's imports read from the environment, beyond HOME.
        read = _IMPORT_TIME_VARIABLES.get(self.program, ())
        return all(env.get(name) == started_with.get(name) for name in read)

    @property
    def pid(self) -> int | None:
        """The launcher process's pid, while one runs."""
        return self._process.pid if self._process is not None else None

    def spawn(
        self,
        argv: list[str],
        env: Mapping[str, str],
        cwd: Path,
        log: int,
        start_timeout: float,
        output: int | None = None,
        *,
        stdin: int | None = None,
        new_session: bool = True,
    ) -> LaunchedServer:
        """A server forked from the launcher; one restart if the launcher is found dead.
        ``log`` takes its standard error, and its standard output unless ``output`` does;
        ``stdin``, when given, its standard input. ``new_session`` as ``Popen``'s
        ``start_new_session``."""
        fds = [log] if output is None else [log, output]
        if stdin is not None:
            fds = [log, log if output is None else output, stdin]
        for attempt in (1, 2):
            channel = self._running()
            request = {"argv": argv, "env": dict(env), "cwd": str(cwd), "new_session": new_session}
            request_bytes = json.dumps(request).encode()
            try:
                socket.send_fds(channel, [request_bytes], fds)
                pid, pidfd = self._started(channel, start_timeout)
            except (OSError, LauncherGone):
                self.close()
                if attempt == 2:
                    raise
                continue
            return LaunchedServer(self, self._generation, argv, pid, pidfd)
        raise AssertionError("unreachable")

    def _running(self) -> socket.socket:
        if self._process is not None and self._process.poll() is not None:
            self.close()
        if self._channel is None:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            handle, name = tempfile.mkstemp(
                prefix=f"{self.program}-launcher-", suffix=".log", dir=self._log_dir
            )
            self.log_path = Path(name)
            self._started_with = dict(os.environ)
            with theirs, os.fdopen(handle, "ab") as launcher_log:
                self._process = subprocess.Popen(
                    [sys.executable, "-c", _BOOT, __file__, str(theirs.fileno()), self.program],
                    stdin=subprocess.DEVNULL,
                    stdout=launcher_log,
                    stderr=launcher_log,
                    pass_fds=[theirs.fileno()],
                    env=self._started_with,
                )
            self._channel = ours
            self._generation += 1
        return self._channel

    def _started(self, channel: socket.socket, timeout: float) -> tuple[int, int]:
        deadline = time.monotonic() + timeout
        while True:
            answer, fds = self._receive(channel, deadline)
            if "started" in answer:
                return int(answer["started"]), fds[0]
            if "error" in answer:
                raise RuntimeError(f"the launcher could not start a server: {answer['error']}")

    def _receive(self, channel: socket.socket, deadline: float) -> tuple[dict[str, Any], list[int]]:
        """The launcher's next message; an exit status is also kept for ``returncode_of``."""
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([channel], [], [], left)[0]:
            raise LauncherGone(f"the launcher did not answer in time{self._log_text()}")
        message, fds, _, _ = socket.recv_fds(channel, _MESSAGE_BYTES, 1)
        if not message:
            raise LauncherGone(f"the launcher process ended{self._log_text()}")
        answer: dict[str, Any] = json.loads(message)
        if "exited" in answer:
            self._returncodes[int(answer["exited"])] = int(answer["returncode"])
        return answer, fds

    def returncode_of(self, pid: int, generation: int) -> int:
        """The exit status of a child whose pidfd says it has exited (the launcher that forked
        it reaps it as soon as it wakes)."""
        deadline = time.monotonic() + _ANSWER_SECONDS
        while pid not in self._returncodes:
            if self._channel is None or generation != self._generation:
                raise LauncherGone(f"the launcher ended before it reported pid {pid}'s exit")
            try:
                self._receive(self._channel, deadline)
            except LauncherGone:
                self.close()
                raise
        return self._returncodes.pop(pid)

    def _log_text(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return f":\n{self.log_path.read_text(errors='replace')[-4000:]}"

    def close(self) -> None:
        """Let the launcher go (it exits when its channel closes); its children live on."""
        if self.owner != os.getpid():
            return  # a forked copy of the test process: the launcher is not its child
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(10)
            if self._process.poll() is None:
                self._process.kill()
                self._process.wait()
            log = self.log_path
            if log is not None and (self._process.returncode == 0 or _is_empty(log)):
                log.unlink(missing_ok=True)  # kept when it has a crash to tell
            self._process = None


def _is_empty(path: Path) -> bool:
    try:
        return path.stat().st_size == 0
    except FileNotFoundError:
        return True


class LaunchedServer:
    """A server forked from the launcher, with what the tests use of ``subprocess.Popen``:
    ``pid``, ``returncode``, ``poll``, ``wait``, ``send_signal``, ``terminate``, ``kill``.
    Its parent is the launcher, not the test process: ``/proc/<test pid>/…/children`` does
    not list it."""

    def __init__(
        self, launcher: Launcher, generation: int, args: list[str], pid: int, pidfd: int
    ) -> None:
        self.args = args
        self.pid = pid
        self.returncode: int | None = None
        self._launcher = launcher
        self._generation = generation
        self._pidfd: int | None = pidfd

    def poll(self) -> int | None:
        return self._finished(0.0)

    def wait(self, timeout: float | None = None) -> int:
        returncode = self._finished(timeout)
        if returncode is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
        return returncode

    def _finished(self, timeout: float | None) -> int | None:
        if self.returncode is not None or self._pidfd is None:
            return self.returncode
        if not select.select([self._pidfd], [], [], timeout)[0]:
            return None
        os.close(self._pidfd)
        self._pidfd = None
        self.returncode = self._launcher.returncode_of(self.pid, self._generation)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None and self._pidfd is not None:
            with contextlib.suppress(ProcessLookupError):  # exited since the poll
                signal.pidfd_send_signal(self._pidfd, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def run_command(
    argv: list[str],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    check: bool = False,
) -> subprocess.CompletedProcess[str]:
    """``subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout,
    check=check)`` of an ``andromede`` command (``argv[0]`` the console script), forked from
    the launcher where a fork is what the exec would be: an exec'd command paid its
    interpreter and the application's imports, 3.7 to 4.4 s of CPU on a loaded machine, for
    work that took 0.2 to 0.3 s (an image import). Its standard input is empty."""
    environment = dict(os.environ if env is None else env)
    if not launcher().forks_like_exec(environment):
        return subprocess.run(
            argv,
            env=environment,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
        )
    with tempfile.TemporaryFile() as output, tempfile.TemporaryFile() as errors:
        child = launcher().spawn(
            argv,
            environment,
            Path.cwd(),
            errors.fileno(),
            start_timeout=timeout,
            output=output.fileno(),
        )
        try:
            returncode = child.wait(timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(30)
            raise
        output.seek(0)
        errors.seek(0)
        stdout = output.read().decode(errors="replace")
        stderr = errors.read().decode(errors="replace")
    if check and returncode != 0:
        raise subprocess.CalledProcessError(returncode, argv, stdout, stderr)
    return subprocess.CompletedProcess(argv, returncode, stdout, stderr)


def start_command(
    argv: list[str], *, env: Mapping[str, str], log: int
) -> subprocess.Popen[bytes] | LaunchedServer:
    """``subprocess.Popen(argv, stdout=log, stderr=log, env=env, start_new_session=True)`` of
    a long-running ``andromede`` command (an agent, an XKS proxy), forked from the launcher
    where a fork is what the exec would be (:func:`run_command`)."""
    if launcher().forks_like_exec(env):
        return launcher().spawn(argv, env, Path.cwd(), log, start_timeout=_ANSWER_SECONDS)
    return subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        env=dict(env),
        start_new_session=True,
    )


_LAUNCHER: Launcher | None = None


def launcher() -> Launcher:
    """This process's launcher (a forked test process gets its own)."""
    global _LAUNCHER
    if _LAUNCHER is None or _LAUNCHER.owner != os.getpid():
        _LAUNCHER = Launcher()
        # Ended with the test process: waited for, so no "still running" warning at exit.
        atexit.register(_LAUNCHER.close)
    return _LAUNCHER
