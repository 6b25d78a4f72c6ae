"""``andromede admin hosts`` (decisions 0378, 0389): the operator reads each hypervisor host's
supervised network processes (a router's resolver, responder and forwarder, a subnet's DHCP
server), restarted, running and down, through the host's agent, over the agent's wire as the
gateways reach it; a host whose agent does not answer is shown as such and the command exits
1. The agent runs on its socket in a thread of its own, over a memory host told what a real
one would have counted."""

from __future__ import annotations

import asyncio
import json
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from andromede.cli.main import app
from andromede.compute.driver import SupervisedProcesses
from andromede.compute.driver_memory import MemoryDriver
from andromede.compute_adapters import hypervisor_host_driver
from andromede.hypervisor.agent import agent_ready, serve_agent
from andromede.settings import Settings

COUNTED = {
    "resolver": SupervisedProcesses(1, up=2, down=0),
    "responder": SupervisedProcesses(0, up=1, down=0),
    "forwarder": SupervisedProcesses(2, up=1, down=1),
    "dhcp": SupervisedProcesses(3, up=5, down=0),
}


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        if name.startswith("hypervisor"):
            monkeypatch.delenv(f"ANDROMEDE_{name.upper()}", raising=False)


@contextmanager
def _agent(socket_path: Path, driver: MemoryDriver) -> Iterator[None]:
    """The host's agent serving ``driver`` on ``socket_path`` until the block ends."""
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(
        target=loop.run_until_complete, args=(serve_agent(driver, socket_path, stop),)
    )
    thread.start()
    try:
        assert agent_ready(socket_path, 20.0)
        yield
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        loop.close()


def _hosts(state_dir: Path, *args: str) -> tuple[int, str]:
    env = {
        "ANDROMEDE_HYPERVISOR": "qemu",
        "ANDROMEDE_HYPERVISOR_STATE_DIR": str(state_dir),
        "ANDROMEDE_HYPERVISOR_HOST_NAME": "host-a",
    }
    result = CliRunner().invoke(
        app, ["admin", "hosts", "--data-dir", str(state_dir / "data"), *args], env=env
    )
    return result.exit_code, result.stdout


def test_the_operator_reads_each_kinds_restarts_through_the_hosts_agent() -> None:
    # A short folder: the agent's socket path must fit in 107 bytes.
    with tempfile.TemporaryDirectory(prefix="andromede-ah-", dir="/tmp") as short:
        state_dir = Path(short)
        driver = MemoryDriver("host-a")
        driver.supervised = dict(COUNTED)
        with _agent(state_dir / "agent.sock", driver):
            code, shown = _hosts(state_dir, "--json")
            assert code == 0, shown
            host = {
                "host": "host-a",
                "restarts": {kind: p.restarts for kind, p in COUNTED.items()},
                "up": {kind: p.up for kind, p in COUNTED.items()},
                "down": {kind: p.down for kind, p in COUNTED.items()},
            }
            assert json.loads(shown) == {"hosts": [host]}
            code, table = _hosts(state_dir)
        assert code == 0, table
        rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in table.splitlines()]
        shown_rows = {tuple(row[1:]) for row in rows if row and row[0] == "host-a"}
        assert shown_rows == {
            (kind, str(p.restarts), str(p.up), str(p.down)) for kind, p in COUNTED.items()
        }


def test_a_host_whose_agent_does_not_answer_is_shown_and_the_command_fails() -> None:
    with tempfile.TemporaryDirectory(prefix="andromede-ah-", dir="/tmp") as short:
        code, shown = _hosts(Path(short), "--json")
    assert code == 1
    unanswered = {
        "host": "host-a",
        "restarts": {},
        "up": {},
        "down": {},
        "error": "the agent did not answer",
    }
    assert json.loads(shown) == {"hosts": [unanswered]}


class _Failing(MemoryDriver):
    async def supervised_processes(self) -> dict[str, SupervisedProcesses]:
        raise RuntimeError("no supervision here")


def test_an_agent_refusing_the_call_is_shown_with_why() -> None:
    with tempfile.TemporaryDirectory(prefix="andromede-ah-", dir="/tmp") as short:
        state_dir = Path(short)
        with _agent(state_dir / "agent.sock", _Failing("host-a")):
            code, table = _hosts(state_dir)
    assert code == 1
    assert "host-a" in table
    assert "the agent refused the call" in table


async def test_a_qemu_host_answers_with_its_networks_supervision(tmp_path: Path) -> None:
    """The QEMU driver answers with what its tenant networks' supervision counted: every
    kind, none restarted nor expected on a host that built nothing."""
    with tempfile.TemporaryDirectory(prefix="andromede-ah-", dir="/tmp") as short:
        settings = Settings(data_dir=tmp_path, hypervisor_state_dir=Path(short))
        driver = hypervisor_host_driver(settings)
        assert await driver.supervised_processes() == dict.fromkeys(COUNTED, SupervisedProcesses())
