"""The sandboxes Lambda functions run in on the gateway host (decision 0286): bubblewrap
(``bwrap``) with new user, PID, IPC, UTS, cgroup and network namespaces — no network but the
platform's own AWS API, reached through the gateway's relay socket bound in (decision 0303) —,
``/usr`` (the runtime) read-only, the AWS SDK at ``/var/runtime``, the function's unpacked code
at ``/var/task`` read-only, its layers (decision 0302) merged in order at ``/opt``
read-only, the bootstrap at ``/var/runtime``, a private bounded tmpfs
``/tmp``, nothing else of the host: not the data folder, the keys, the database or the
platform's other sockets; a seccomp filter (``functions.seccomp``) refuses the system calls
that reach the kernel's riskier parts. Resource limits are set on the sandbox's processes:
address space from ``MemorySize``, processes, open files, file size; an invocation past its
timeout kills the sandbox.

A sandbox serves one invocation at a time and is kept warm for its version (the key names
the version's code and configuration) for ``idle_seconds``, then stopped; its unpacked code
and layers are removed with it, and every warm one's when the pool closes (``serve``
stopping). A folder is named after the process that made it (``andromede-lambda-<pid>-…``),
so the first sandbox a pool starts sweeps away those a gateway that was killed left behind:
customer code in clear does not outlive its gateway, even in memory.

Provisioned sandboxes (decision 0314) are started ahead of any call and initialised (the
handler's module imported) by :meth:`SandboxPool.provision`, kept under their configuration's
key apart from the on-demand ones, never expired for idleness; an invocation naming that key
takes one when one is free, else runs on demand. The bootstrap
(``functions.bootstrap``) speaks JSON lines: requests on its stdin, answers on its stdout, the
function's log on its stderr up to a marker line; a streamed answer's pieces (decision 0313) are
``{"chunk": …}`` lines on its stdout before the answer (the first with the stream's
``contentType`` when the handler opened it with an HTTP prelude, decision 0337), each handed to
the caller's sink as it comes: a sink that waits holds the pipe, and so the handler, back."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import logging
import os
import resource
import shutil
import signal
import tempfile
import time
import zipfile
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

from andromede.functions.api_relay import SANDBOX_ENDPOINT, SANDBOX_SOCKET
from andromede.functions.bootstrap import MARKER
from andromede.functions.orphan_folders import make_owned_folder, sweep_orphans
from andromede.functions.seccomp import sandbox_filter

__all__ = [
    "RUNTIME_PATH",
    "ChunkSink",
    "InvocationResult",
    "SandboxLimits",
    "SandboxPool",
    "SandboxSpec",
    "StreamCut",
]

log = logging.getLogger(__name__)

BOOTSTRAP: Final = Path(__file__).with_name("bootstrap.py")
SANDBOX_UID: Final = 993  # AWS's sbx_user1051 is not root either
_LINE_LIMIT: Final = 8 * 1024 * 1024  # an answer line: a 6 MB payload, JSON-escaped
_LOG_KEEP: Final = 256 * 1024  # the log an invocation keeps for its caller and Logs
_MIB: Final = 1024 * 1024
_FOLDER_PREFIX: Final = "andromede-lambda-"
_CONTENT_TYPE_MAX: Final = 256  # a streamed answer's content type, as the sandbox gave it
# Where a runtime's interpreter is looked for: the system's, bound read-only into the sandbox
# (``/usr``) — not a user's pyenv or virtualenv, which the sandbox cannot see.
RUNTIME_PATH: Final = "/usr/bin:/usr/local/bin"


class ChunkSink(Protocol):
    """Where a streamed answer's pieces go as they come (decision 0313); the first piece comes
    with the stream's content type when the handler gave one (its HTTP prelude's, decision
    0337), else none is passed."""

    def __call__(self, piece: bytes, /, content_type: str | None = None) -> Awaitable[None]: ...


class StreamCut(Exception):
    """Raised by a :data:`ChunkSink` to end an invocation whose stream must not go on (its
    size past the limit): the sandbox is stopped and the invocation fails with ``error_type``."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.log = ""  # the function's log until it was cut, set by the pool


@dataclass(frozen=True, slots=True)
class SandboxLimits:
    bwrap: str = "bwrap"
    idle_seconds: float = 300.0
    # A sandbox is not reused past this age: its role session (an hour) must not expire in it.
    max_age_seconds: float = 3000.0
    tmp_bytes: int = 512 * _MIB
    max_processes: int = 1024
    max_files: int = 1024
    # Where code is unpacked. None: memory (``/dev/shm``) where the host has it, so a customer's
    # code is never written to a disk in clear, not even left there by a gateway that crashed
    # (encryption at rest); else the system's temporary folder.
    work_dir: Path | None = None
    seccomp: bool = True  # the filter of ``functions.seccomp``
    # The gateway's API relay (``functions.api_relay``, decision 0303), bound in at
    # /var/runtime/api.sock; None: the sandbox reaches nothing.
    api_socket: Path | None = None
    # Seconds a connection of that relay may stay idle before the bootstrap closes it both ways
    # (``lambda_relay_idle_timeout``, decision 0364); None: never.
    relay_idle_timeout: float | None = None
    # The AWS SDK a runtime carries (host folder or file, its name under /var/runtime).
    runtime_modules: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class SandboxSpec:
    """What a sandbox runs: ``key`` names the version's code and configuration, so a warm
    sandbox is reused only for the same."""

    key: tuple[str, ...]
    runtime: str
    handler: str
    memory_mb: int
    timeout: int
    ephemeral_mb: int = 512


@dataclass(frozen=True, slots=True)
class InvocationResult:
    ok: bool
    payload: bytes  # the result's JSON, or the error's
    log: str
    duration_ms: float
    init_ms: float | None  # the cold start, None for a warm sandbox
    max_memory_mb: int
    error_type: str | None = None
    timed_out: bool = False


@dataclass
class _Sandbox:
    spec: SandboxSpec
    process: asyncio.subprocess.Process
    folder: Path
    started: float
    idle_since: float = field(default_factory=time.monotonic)
    used: bool = False
    provisioned: tuple[str, ...] | None = None  # the configuration's key (decision 0314)


class SandboxPool:
    def __init__(self, limits: SandboxLimits | None = None) -> None:
        self.limits = limits or SandboxLimits()
        self._idle: dict[tuple[str, ...], list[_Sandbox]] = {}
        self._swept = False
        # Provisioned sandboxes (decision 0314): the free ones, and how many live (free or busy).
        self._ready: dict[tuple[str, ...], list[_Sandbox]] = {}
        self._provisioned: dict[tuple[str, ...], int] = {}

    def available(self) -> bool:
        return shutil.which(self.limits.bwrap) is not None

    async def invoke(
        self,
        spec: SandboxSpec,
        prepare: Callable[[], Awaitable[tuple[bytes, Mapping[str, str]]]],
        request: Mapping[str, Any],
        layers: Callable[[], Awaitable[Sequence[bytes]]] | None = None,
        provisioned: tuple[str, ...] | None = None,
        sink: ChunkSink | None = None,
    ) -> InvocationResult:
        """Run one invocation (``request``: ``id``, ``event`` text, ``arn``) in a free
        provisioned sandbox of the ``provisioned`` key, else a warm sandbox of ``spec`` or a
        new one (``prepare`` gives its zip and environment, ``layers`` its layers' zips in
        order, asked only for a new sandbox). With a ``sink`` a streaming handler's answer goes
        to it piece by piece, the result's payload empty."""
        self._expire()
        ready = self._ready.get(provisioned) if provisioned is not None else None
        warm = ready or self._idle.get(spec.key) or []
        sandbox = warm.pop() if warm else None
        init_ms: float | None = None
        if sandbox is None:
            began = time.monotonic()
            zipped, environment = await prepare()
            layer_zips = () if layers is None else await layers()
            sandbox = await self._start(spec, zipped, environment, layer_zips)
            init_ms = (time.monotonic() - began) * 1000
        began = time.monotonic()
        deadline_ms = int(time.time() * 1000) + spec.timeout * 1000
        asked = {**request, "deadline": deadline_ms, **({"stream": True} if sink else {})}
        line = json.dumps(asked) + "\n"
        # The log as it is read: what a run that times out wrote is kept with the timeout's
        # line, as AWS's log keeps it (decision 0350: a handler's lost calls were invisible).
        logging_so_far = io.StringIO()
        try:
            answer, logged = await asyncio.wait_for(
                self._exchange(sandbox, line, str(request["id"]), sink, logging_so_far),
                timeout=spec.timeout,
            )
        except TimeoutError:
            await self._stop(sandbox)
            seconds = f"{spec.timeout:.2f}"
            message = f"RequestId: {request['id']} Error: Task timed out after {seconds} seconds"
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
            return InvocationResult(
                ok=False,
                payload=json.dumps(
                    {"errorMessage": message, "errorType": "Sandbox.Timedout"}
                ).encode(),
                log=f"{logging_so_far.getvalue()}{stamp}.000Z {request['id']} Task timed out after"
                f" {seconds} seconds\n",
                duration_ms=spec.timeout * 1000.0,
                init_ms=init_ms,
                max_memory_mb=spec.memory_mb,
                error_type="Sandbox.Timedout",
                timed_out=True,
            )
        except StreamCut as cut:
            await self._stop(sandbox)
            return InvocationResult(
                ok=False,
                payload=json.dumps(
                    {"errorMessage": cut.message, "errorType": cut.error_type}
                ).encode(),
                log=f"{cut.log}RequestId: {request['id']} Error: {cut.message}\n",
                duration_ms=(time.monotonic() - began) * 1000,
                init_ms=init_ms,
                max_memory_mb=spec.memory_mb,
                error_type=cut.error_type,
            )
        except asyncio.CancelledError:
            # Left mid-invocation (the gateway stopping): the sandbox is in no state to reuse.
            await self._stop(sandbox)
            raise
        except (ConnectionError, EOFError, ValueError, OSError) as exc:
            await self._stop(sandbox)
            message = f"RequestId: {request['id']} Error: Runtime exited with error: {exc}"
            return InvocationResult(
                ok=False,
                payload=json.dumps(
                    {"errorMessage": message, "errorType": "Runtime.ExitError"}
                ).encode(),
                log=f"{message}\n",
                duration_ms=(time.monotonic() - began) * 1000,
                init_ms=init_ms,
                max_memory_mb=spec.memory_mb,
                error_type="Runtime.ExitError",
            )
        duration = (time.monotonic() - began) * 1000
        memory = max(1, int(answer.get("maxRss", 0)) // 1024)
        if answer.get("exit"):
            await self._stop(sandbox)
        else:
            sandbox.idle_since = time.monotonic()
            await self._park(sandbox)
        if answer.get("ok"):
            raw = answer.get("raw")  # a streaming handler's answer gathered for Invoke
            payload = (
                base64.b64decode(str(raw)) if raw else str(answer.get("payload", "null")).encode()
            )
            return InvocationResult(True, payload, logged, duration, init_ms, memory)
        error = dict(answer.get("error") or {})
        return InvocationResult(
            False,
            json.dumps(error).encode(),
            logged,
            duration,
            init_ms,
            memory,
            error_type=str(error.get("errorType", "Unhandled")),
        )

    async def close(self) -> None:
        for sandboxes in [*self._idle.values(), *self._ready.values()]:
            for sandbox in sandboxes:
                await self._stop(sandbox)
        self._idle.clear()
        self._ready.clear()
        self._provisioned.clear()

    def provisioned(self, key: tuple[str, ...]) -> tuple[int, int]:
        """(live, free) provisioned sandboxes of ``key`` on this gateway."""
        return self._provisioned.get(key, 0), len(self._ready.get(key, ()))

    async def provision(
        self,
        spec: SandboxSpec,
        prepare: Callable[[], Awaitable[tuple[bytes, Mapping[str, str]]]],
        count: int,
        layers: Callable[[], Awaitable[Sequence[bytes]]] | None = None,
    ) -> dict[str, Any] | None:
        """Keep ``count`` sandboxes of ``spec`` (its key the configuration's) started and
        initialised — the handler's module imported — : those past their age replaced, those
        beyond ``count`` stopped when free. None, or the initialisation's error (AWS's
        ``errorType`` and ``errorMessage``), the sandbox that failed stopped."""
        key = spec.key
        free = self._ready.setdefault(key, [])
        now = time.monotonic()
        for sandbox in [s for s in free if now - s.started > self.limits.max_age_seconds]:
            free.remove(sandbox)
            await self._stop(sandbox)
        while self._provisioned.get(key, 0) > count and free:
            await self._stop(free.pop())
        while self._provisioned.get(key, 0) < count:
            zipped, environment = await prepare()
            layer_zips = () if layers is None else await layers()
            sandbox = await self._start(spec, zipped, environment, layer_zips)
            sandbox.provisioned = key
            self._provisioned[key] = self._provisioned.get(key, 0) + 1
            error = await self._initialise(sandbox, spec)
            if error is not None:
                await self._stop(sandbox)
                return error
            free.append(sandbox)
        return None

    async def retain(self, keys: set[tuple[str, ...]]) -> None:
        """Stop the provisioned sandboxes of every configuration but ``keys``' (a busy one
        when its invocation ends)."""
        for key in [k for k in self._provisioned if k not in keys]:
            for sandbox in self._ready.pop(key, []):
                await self._stop(sandbox)
            self._provisioned.pop(key, None)

    async def _initialise(self, sandbox: _Sandbox, spec: SandboxSpec) -> dict[str, Any] | None:
        request_id = f"init-{os.urandom(8).hex()}"
        line = json.dumps({"id": request_id, "init": True}) + "\n"
        try:
            answer, _ = await asyncio.wait_for(
                self._exchange(sandbox, line, request_id), timeout=max(10, spec.timeout)
            )
        except TimeoutError:
            return {"errorType": "Sandbox.Timedout", "errorMessage": "Initialization timed out"}
        except (ConnectionError, EOFError, ValueError, OSError) as exc:
            return {"errorType": "Runtime.ExitError", "errorMessage": f"Runtime exited: {exc}"}
        if answer.get("ok"):
            return None
        return dict(answer.get("error") or {"errorType": "Runtime.Unknown"})

    async def _park(self, sandbox: _Sandbox) -> None:
        """A sandbox whose invocation ended, free again: a provisioned one for its
        configuration while it is kept, else warm for its version."""
        key = sandbox.provisioned
        if key is None:
            self._idle.setdefault(sandbox.spec.key, []).append(sandbox)
        elif key in self._provisioned and key in self._ready:
            self._ready[key].append(sandbox)
        else:  # its configuration went while it ran
            sandbox.provisioned = None
            await self._stop(sandbox)

    def _expire(self) -> None:
        now = time.monotonic()
        limits = self.limits
        for key, sandboxes in list(self._idle.items()):
            for sandbox in [
                s
                for s in sandboxes
                if now - s.idle_since > limits.idle_seconds
                or now - s.started > limits.max_age_seconds
            ]:
                sandboxes.remove(sandbox)
                task = asyncio.ensure_future(self._stop(sandbox))
                task.add_done_callback(lambda t: t.exception())
            if not sandboxes:
                del self._idle[key]

    async def _exchange(
        self,
        sandbox: _Sandbox,
        line: str,
        request_id: str,
        sink: ChunkSink | None = None,
        logged: io.StringIO | None = None,
    ) -> tuple[dict[str, Any], str]:
        process = sandbox.process
        if process.stdin is None or process.stdout is None or process.stderr is None:
            raise EOFError("the sandbox has no pipes")
        process.stdin.write(line.encode())
        await process.stdin.drain()
        # The log is read while the answer's pieces come: a handler writing both must not
        # block on a full stderr pipe while the host waits on its stdout.
        logged = io.StringIO() if logged is None else logged
        marker = (MARKER + request_id + "\n").encode()
        log = asyncio.ensure_future(_read_log(process, marker, logged))
        try:
            while True:
                answer = await process.stdout.readline()
                if not answer:
                    raise EOFError(f"exit status {await process.wait()}")
                found = json.loads(answer)
                if not isinstance(found, dict):
                    raise ValueError("the bootstrap answered no object")
                if "chunk" not in found:
                    return found, await log
                if sink is None:
                    raise ValueError("the bootstrap streamed an answer no one asked for")
                piece = base64.b64decode(str(found["chunk"]))
                content_type = found.get("contentType")
                if isinstance(content_type, str):
                    await sink(piece, content_type[:_CONTENT_TYPE_MAX])
                else:
                    await sink(piece)
        except StreamCut as cut:
            await asyncio.sleep(0)  # the log reader's turn for what it was woken for
            cut.log = logged.getvalue()
            raise
        finally:
            if not log.done():
                log.cancel()
            elif not log.cancelled():
                log.exception()  # retrieved: the answer's own failure is the one raised

    @property
    def work_dir(self) -> Path | None:
        """Where this pool unpacks code: the limits' folder, else memory where there is one."""
        if self.limits.work_dir is not None:
            return self.limits.work_dir
        memory = Path("/dev/shm")  # noqa: S108 — mkdtemp makes a private (0700) folder in it
        return memory if memory.is_dir() and os.access(memory, os.W_OK | os.X_OK) else None

    async def _start(
        self,
        spec: SandboxSpec,
        zipped: bytes,
        environment: Mapping[str, str],
        layer_zips: Sequence[bytes] = (),
    ) -> _Sandbox:
        if not self._swept:
            self._swept = True
            parent = Path(self.work_dir or tempfile.gettempdir())
            await asyncio.to_thread(sweep_orphans, parent, _FOLDER_PREFIX)
        folder = make_owned_folder(_FOLDER_PREFIX, self.work_dir)
        task = folder / "task"
        task.mkdir()
        _unpack([zipped], task)
        # AWS extracts the layers in order into /opt, a later one's files over an earlier's.
        opt = folder / "opt"
        opt.mkdir()
        _unpack(layer_zips, opt)
        interpreter = shutil.which(spec.runtime, path=RUNTIME_PATH)
        if interpreter is None or not interpreter.startswith("/usr/"):
            raise FileNotFoundError(f"no {spec.runtime} interpreter under /usr")
        program_fd = None
        if self.limits.seccomp:
            program_fd, writer = os.pipe()
            os.write(writer, sandbox_filter())  # a few hundred bytes: within a pipe's buffer
            os.close(writer)
        command = self._command(spec, task, interpreter, program_fd, opt)
        # The function's environment (its own variables, the role's session credentials) is
        # bwrap's environment, which it hands to the handler: only the sandbox's owner can read
        # it, where a command line's ``--setenv`` values would be anyone's to read.
        variables = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "LAMBDA_TASK_ROOT": "/var/task",
            "LAMBDA_RUNTIME_DIR": "/var/runtime",
            "_HANDLER": spec.handler,
            # AWS's Python runtime: the layers' packages importable (decision 0302).
            "PYTHONPATH": f"/opt/python/lib/{spec.runtime}/site-packages:/opt/python",
            # The endpoint is a bare loopback address: a host prefix (WriteGetObjectResponse's
            # "{RequestRoute}.", decision 0384) would name a host nobody resolves.
            **(
                {"AWS_ENDPOINT_URL": SANDBOX_ENDPOINT, "AWS_DISABLE_HOST_PREFIX_INJECTION": "true"}
                if self.limits.api_socket
                else {}
            ),
            # MemorySize is the sandbox's address-space limit: glibc's malloc reserves 64 MB
            # for each thread's own arena when it can, which left a 128 MB function with boto3
            # loaded no room for a thread's stack (decision 0350). One arena, as the process's
            # memory is what is bounded; a function may set its own.
            "MALLOC_ARENA_MAX": "1",
            **environment,
        }
        limits = self.limits
        memory = spec.memory_mb * _MIB

        def constrain() -> None:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
            resource.setrlimit(resource.RLIMIT_NPROC, (limits.max_processes,) * 2)
            resource.setrlimit(resource.RLIMIT_NOFILE, (limits.max_files,) * 2)
            resource.setrlimit(resource.RLIMIT_FSIZE, (spec.ephemeral_mb * _MIB,) * 2)
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

        try:
            process = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                preexec_fn=constrain,
                start_new_session=True,
                limit=_LINE_LIMIT,
                env=variables,
                pass_fds=() if program_fd is None else (program_fd,),
            )
        finally:
            if program_fd is not None:
                os.close(program_fd)
        return _Sandbox(spec, process, folder, time.monotonic())

    def _command(
        self,
        spec: SandboxSpec,
        task: Path,
        interpreter: str,
        program_fd: int | None,
        opt: Path | None = None,
    ) -> list[str]:
        """bwrap's command line: no environment value in it, since any local user may read a
        process's arguments (``/proc/<pid>/cmdline``) but only its owner its environment."""
        command = [
            self.limits.bwrap,
            "--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup", "--unshare-net",
            "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
            "--hostname", "sandbox",
            "--die-with-parent", "--new-session",
            "--ro-bind", "/usr", "/usr",
            "--symlink", "usr/lib", "/lib",
            "--symlink", "usr/lib64", "/lib64",
            "--symlink", "usr/bin", "/bin",
            "--proc", "/proc",
            "--dev", "/dev",
            "--size", str(spec.ephemeral_mb * _MIB), "--tmpfs", "/tmp",  # noqa: S108 — the sandbox's own tmpfs
            "--ro-bind", str(task), "/var/task",
            *(() if opt is None else ("--ro-bind", str(opt), "/opt")),
            "--ro-bind", str(BOOTSTRAP), "/var/runtime/bootstrap.py",
            "--chdir", "/var/task",
        ]  # fmt: skip
        if self.limits.api_socket is not None:
            command += ["--ro-bind", str(self.limits.api_socket), SANDBOX_SOCKET]
        for host_path, name in self.limits.runtime_modules:
            command += ["--ro-bind", host_path, f"/var/runtime/{name}"]
        if program_fd is not None:
            command += ["--seccomp", str(program_fd)]
        bootstrap = [interpreter, "-I", "-u", "/var/runtime/bootstrap.py"]
        if self.limits.api_socket is not None and self.limits.relay_idle_timeout is not None:
            bootstrap.append(repr(float(self.limits.relay_idle_timeout)))  # not a secret
        return [*command, *bootstrap]

    async def _stop(self, sandbox: _Sandbox) -> None:
        key = sandbox.provisioned
        if key is not None and self._provisioned.get(key, 0) > 0:
            self._provisioned[key] -= 1
        sandbox.provisioned = None
        process = sandbox.process
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
        shutil.rmtree(sandbox.folder, ignore_errors=True)


async def _read_log(process: asyncio.subprocess.Process, marker: bytes, logged: io.StringIO) -> str:
    """The invocation's log: the sandbox's stderr up to ``marker``, its first
    :data:`_LOG_KEEP` characters kept in ``logged`` as they come."""
    if process.stderr is None:
        raise EOFError("the sandbox has no stderr")
    kept = 0
    while True:
        got = await process.stderr.readline()
        if not got:
            raise EOFError(f"exit status {await process.wait()}")
        if got == marker:
            return logged.getvalue()
        if kept < _LOG_KEEP:
            text = got.decode("utf-8", "replace")
            logged.write(text)
            kept += len(text)


def _unpack(zips: Sequence[bytes], task: Path) -> None:
    """The zips, in order, into ``task`` (a later one's files over an earlier's), readable by
    the sandbox's user (its files' executable bits kept); zipfile refuses absolute paths and
    ``..``, and makes no links."""
    executable: set[str] = set()
    for zipped in zips:
        with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
            archive.extractall(task)
            for info in archive.infolist():
                if (info.external_attr >> 16) & 0o111:
                    executable.add(info.filename)
                else:
                    executable.discard(info.filename)
    # Readable by the sandbox's user, which the host maps to no one: the folder itself stays
    # the host's private temporary one (0700), only ``task`` is bound into the sandbox.
    os.chmod(task, 0o755)  # noqa: S103
    for root, dirs, files in os.walk(task):
        for name in dirs:
            os.chmod(Path(root, name), 0o755)  # noqa: S103
        for name in files:
            path = Path(root, name)
            relative = path.relative_to(task).as_posix()
            mode = 0o755 if relative in executable else 0o644
            os.chmod(path, mode)
