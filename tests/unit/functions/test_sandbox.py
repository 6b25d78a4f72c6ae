"""Decision 0286's sandbox against the real ``bwrap`` with real handler zips: an answer, a
handler's exception in AWS's shape, a timeout that kills the sandbox, the memory limit, no
network, no host file readable, the environment AWS sets, a warm sandbox reused."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.functions.sandbox import SandboxLimits, SandboxPool, SandboxSpec
from andromede.functions.seccomp import DENIED_SYSCALLS, sandbox_filter

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None,
    reason="bubblewrap is not installed (scripts/install-system-deps.sh installs it)",
)

HANDLERS = """
import json, os, socket, time

def echo(event, context):
    print("seen", event)
    return {"event": event, "name": context.function_name, "id": context.aws_request_id,
            "left": context.get_remaining_time_in_millis(), "memory": context.memory_limit_in_mb,
            "arn": context.invoked_function_arn, "region": os.environ.get("AWS_REGION"),
            "secret": os.environ.get("SECRET"), "uid": os.getuid(), "cwd": os.getcwd()}

def fail(event, context):
    raise ValueError("bad input")

def sleep(event, context):
    time.sleep(30)

def talk_then_sleep(event, context):
    print("about to wait", flush=True)
    time.sleep(60)

def hog(event, context):
    block = bytearray(512 * 1024 * 1024)
    return len(block)

def network(event, context):
    try:
        socket.create_connection(("1.1.1.1", 53), timeout=2)
    except OSError as exc:
        return "refused: " + type(exc).__name__
    return "connected"

def host_files(event, context):
    found = {}
    for path in event["paths"]:
        try:
            with open(path, "rb") as opened:
                opened.read(1)
            found[path] = "read"
        except OSError as exc:
            found[path] = type(exc).__name__
    return found

def counter(event, context):
    global COUNT
    COUNT = globals().get("COUNT", 0) + 1
    return COUNT

def unserialisable(event, context):
    return {1, 2}
"""


def zipped(source: str = HANDLERS) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


@pytest.fixture
async def pool(tmp_path: Path) -> AsyncIterator[SandboxPool]:
    made = SandboxPool(SandboxLimits(work_dir=tmp_path, idle_seconds=60))
    try:
        yield made
    finally:
        await made.close()


def spec(handler: str, *, timeout: int = 10, memory: int = 128) -> SandboxSpec:
    return SandboxSpec(
        key=("t", "fn", handler, str(timeout), str(memory)),
        runtime="python3.11",
        handler=f"app.{handler}",
        memory_mb=memory,
        timeout=timeout,
    )


async def invoke(pool: SandboxPool, handler: str, event: object = None, **kw: int) -> object:
    async def prepare() -> tuple[bytes, dict[str, str]]:
        environment = {"AWS_REGION": "eu-fr-1", "AWS_LAMBDA_FUNCTION_NAME": "fn", "SECRET": "x1"}
        return zipped(), environment

    return await pool.invoke(
        spec(handler, **kw), prepare, {"id": "req-1", "event": json.dumps(event), "arn": "arn:fn"}
    )


async def test_an_answer_with_lambdas_context(pool: SandboxPool) -> None:
    result = await invoke(pool, "echo", {"a": 1})
    assert result.ok, result
    answer = json.loads(result.payload)
    assert answer["event"] == {"a": 1} and answer["name"] == "fn" and answer["id"] == "req-1"
    assert 0 < answer["left"] <= 10_000 and answer["memory"] == "128"
    assert (answer["region"], answer["secret"], answer["arn"]) == ("eu-fr-1", "x1", "arn:fn")
    assert answer["uid"] != 0 and answer["cwd"] == "/var/task"
    assert "seen {'a': 1}" in result.log
    assert result.init_ms is not None and result.max_memory_mb > 0


async def test_a_warm_sandbox_is_reused(pool: SandboxPool, tmp_path: Path) -> None:
    first = await invoke(pool, "counter")
    second = await invoke(pool, "counter")
    assert (json.loads(first.payload), json.loads(second.payload)) == (1, 2)
    assert second.init_ms is None
    (tmp_path / "aged").mkdir()
    aged = SandboxPool(SandboxLimits(work_dir=tmp_path / "aged", max_age_seconds=0.0))
    try:
        await invoke(aged, "counter")
        assert json.loads((await invoke(aged, "counter")).payload) == 1  # a new one
    finally:
        await aged.close()
    assert list((tmp_path / "aged").iterdir()) == []  # the stopped sandboxes' code removed


async def test_an_exception_in_aws_shape(pool: SandboxPool) -> None:
    result = await invoke(pool, "fail")
    assert not result.ok and result.error_type == "ValueError"
    error = json.loads(result.payload)
    assert error["errorMessage"] == "bad input" and error["errorType"] == "ValueError"
    assert any('raise ValueError("bad input")' in line for line in error["stackTrace"])
    assert "[ERROR] ValueError: bad input" in result.log
    marshal = await invoke(pool, "unserialisable")
    assert marshal.error_type == "Runtime.MarshalError"


async def test_a_timeout_kills_the_sandbox(pool: SandboxPool) -> None:
    result = await invoke(pool, "sleep", timeout=1)
    assert result.timed_out and result.error_type == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in json.loads(result.payload)["errorMessage"]
    assert pool._idle.get(spec("sleep", timeout=1).key) in (None, [])


async def test_a_timed_out_run_keeps_what_it_logged(pool: SandboxPool) -> None:
    # Decision 0350: the log of a run that timed out was only the timeout's line, so a
    # handler's failing calls, printed as they failed, were never seen.
    result = await invoke(pool, "talk_then_sleep", timeout=4)
    assert result.timed_out
    lines = result.log.splitlines()
    assert lines[0] == "about to wait", result.log
    assert lines[-1].endswith("Task timed out after 4.00 seconds")


async def test_the_memory_limit(pool: SandboxPool) -> None:
    result = await invoke(pool, "hog", memory=128)
    assert not result.ok and result.error_type == "Runtime.OutOfMemory"
    enough = await invoke(pool, "hog", memory=1024)
    assert enough.ok and json.loads(enough.payload) == 512 * 1024 * 1024


async def test_no_network(pool: SandboxPool) -> None:
    result = await invoke(pool, "network")
    assert json.loads(result.payload).startswith("refused: ")


async def test_the_hosts_files_are_not_there(pool: SandboxPool, tmp_path: Path) -> None:
    secret = tmp_path / "keys.bin"
    secret.write_bytes(b"root key")
    paths = [str(secret), "/etc/shadow", "/etc/passwd", "/root/.bashrc", "/var/task/app.py"]
    result = await invoke(pool, "host_files", {"paths": paths})
    found = json.loads(result.payload)
    assert found.pop("/var/task/app.py") == "read"
    assert set(found.values()) == {"FileNotFoundError"}, found


SYSCALLS = """
import ctypes, os, threading, subprocess

def handler(event, context):
    libc = ctypes.CDLL(None, use_errno=True)
    found = {}
    for name, number, args in (("unshare", 272, (0x10000000,)), ("ptrace", 101, (0, 1, 0, 0)),
                               ("keyctl", 250, (0, 0)), ("mount", 165, (0, 0, 0, 0, 0)),
                               ("bpf", 321, (0, 0, 0))):
        result = libc.syscall(number, *args)
        found[name] = os.strerror(ctypes.get_errno()) if result == -1 else "allowed"
    thread = threading.Thread(target=lambda: None)
    thread.start()
    thread.join()
    found["thread"] = "ran"
    found["child"] = subprocess.run(["/usr/bin/true"]).returncode
    return found
"""


async def test_the_seccomp_filter(pool: SandboxPool) -> None:
    async def prepare() -> tuple[bytes, dict[str, str]]:
        return zipped(SYSCALLS), {}

    result = await pool.invoke(
        spec("handler"), prepare, {"id": "req-2", "event": "{}", "arn": "arn:fn"}
    )
    assert result.ok, result
    found = json.loads(result.payload)
    assert found.pop("thread") == "ran" and found.pop("child") == 0
    assert set(found.values()) == {"Operation not permitted"}, found


def test_the_filter_program() -> None:
    program = sandbox_filter()
    assert len(program) % 8 == 0 and len(program) // 8 == 8 + 2 * len(DENIED_SYSCALLS) + 5


async def test_the_environment_is_never_on_a_command_line(pool: SandboxPool) -> None:
    """Any local user reads every process's arguments: the function's variables (and the
    role's session credentials among them) must reach the handler another way."""
    canary = os.urandom(12).hex()

    async def prepare() -> tuple[bytes, dict[str, str]]:
        return zipped(), {"AWS_REGION": "eu-fr-1", "SECRET": canary}

    result = await pool.invoke(spec("echo"), prepare, {"id": "r", "event": "{}", "arn": "arn"})
    assert json.loads(result.payload)["secret"] == canary  # the handler has it
    seen = []  # the warm sandbox (bwrap and the interpreter) still runs
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                arguments = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if canary.encode() in arguments:
                seen.append(entry.name)
    assert seen == []


def test_code_is_unpacked_in_memory_by_default(tmp_path: Path) -> None:
    """A customer's code in clear never on a disk: ``/dev/shm`` unless a folder is given."""
    assert SandboxPool(SandboxLimits(work_dir=tmp_path)).work_dir == tmp_path
    default = SandboxPool(SandboxLimits()).work_dir
    if Path("/dev/shm").is_dir():
        assert default == Path("/dev/shm")
    else:
        assert default is None


async def test_a_killed_gateways_sandbox_folders_are_swept_and_live_ones_kept(
    tmp_path: Path,
) -> None:
    """A gateway killed with warm sandboxes leaves their unpacked code behind; the next pool to
    start a sandbox in that folder removes what a process no longer running made, and nothing
    of a process still running (another gateway's warm sandboxes)."""
    gone = subprocess.Popen(["true"])
    gone.wait()
    orphan = tmp_path / f"andromede-lambda-{gone.pid}-abc"
    (orphan / "task").mkdir(parents=True)
    (orphan / "task" / "app.py").write_text("secret = 1\n")
    live = tmp_path / f"andromede-lambda-{os.getppid()}-def"
    live.mkdir()
    foreign = tmp_path / "andromede-lambda-notapid"
    foreign.mkdir()
    made = SandboxPool(SandboxLimits(work_dir=tmp_path, idle_seconds=60))
    try:
        assert json.loads((await invoke(made, "counter")).payload) == 1
        assert not orphan.exists() and live.is_dir() and foreign.is_dir()
        ours = [
            p for p in tmp_path.iterdir() if p.name.startswith(f"andromede-lambda-{os.getpid()}-")
        ]
        assert len(ours) == 1  # the warm sandbox's folder, named after this process
    finally:
        await made.close()
    assert not any(
        p.name.startswith(f"andromede-lambda-{os.getpid()}-") for p in tmp_path.iterdir()
    )
