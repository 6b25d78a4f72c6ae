"""Networked hypervisor hosts for the e2e tests: ``andromede agent`` processes over mutual TLS,
their throw-away PKI, and underlay networks between them.

- :class:`AgentProcess` runs one host's agent on a free 127.0.0.1 port (decision 0022);
- :func:`issue_pem` writes a certificate of a ``trustme`` CA and its key as the agents and the
  gateway read them; :class:`AgentPki` is a test region's CA with the settings it gives the
  agents and the gateway;
- :func:`underlay_pair` builds two network namespaces joined by a veth pair, each holding one
  host's underlay address — two machines on a LAN, on one machine (decision 0024: with both
  VXLAN endpoints in one namespace the kernel hands frames across with the sender's
  connection-tracking state, and stateful rules drop the replies). Every namespace and link it
  made is deleted when the block ends, on failure too.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import trustme

from andromede.hypervisor.agent import agent_ready
from support.launcher import LaunchedServer, start_command
from support.server import ANDROMEDE, free_port

__all__ = ["AgentPki", "AgentProcess", "Underlay", "issue_pem", "stop_agents", "underlay_pair"]

AGENT_START_TIMEOUT = 120.0  # a loaded 2-core machine


class AgentPki:
    """A test region's agents' CA in ``folder``, and the TLS settings it gives each side."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._folder = folder
        self._ca = trustme.CA()
        self.ca_path = folder / "ca.pem"
        self._ca.cert_pem.write_to_path(str(self.ca_path))

    def agent_env(self, name: str) -> dict[str, str]:
        """The settings of agent ``name``, listening on 127.0.0.1."""
        cert, key = issue_pem(self._folder, name, self._ca.issue_cert("127.0.0.1"))
        return {
            "ANDROMEDE_HYPERVISOR_AGENT_TLS_CERT": str(cert),
            "ANDROMEDE_HYPERVISOR_AGENT_TLS_KEY": str(key),
            "ANDROMEDE_HYPERVISOR_AGENT_TLS_CA": str(self.ca_path),
        }

    def gateway_env(self) -> dict[str, str]:
        """The settings of a gateway driving the agents."""
        cert, key = issue_pem(
            self._folder, "gateway", self._ca.issue_cert("gateway.andromede.test")
        )
        return {
            "ANDROMEDE_HYPERVISOR_CLIENT_TLS_CERT": str(cert),
            "ANDROMEDE_HYPERVISOR_CLIENT_TLS_KEY": str(key),
            "ANDROMEDE_HYPERVISOR_AGENT_TLS_CA": str(self.ca_path),
        }


@dataclass
class AgentProcess:
    """One host's ``andromede agent``, listening on 127.0.0.1:port over mutual TLS."""

    name: str
    data_dir: Path
    state_dir: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | LaunchedServer | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir.parent / f"agent-{self.name}.log"

    def start(self) -> None:
        env = {**os.environ, "ANDROMEDE_LOG_LEVEL": "info", **self.env}
        # A killed agent leaves its socket file: gone, so readiness means the new one.
        (self.state_dir / "agent.sock").unlink(missing_ok=True)
        with self.log_path.open("ab") as log:
            self.process = start_command(
                [str(ANDROMEDE), "agent", "--data-dir", str(self.data_dir),
                 "--listen", f"127.0.0.1:{self.port}"],
                env=env, log=log.fileno(),
            )  # fmt: skip
        if not agent_ready(self.state_dir / "agent.sock", AGENT_START_TIMEOUT):
            self.stop()
            raise RuntimeError(f"agent {self.name} did not start:\n{self.log_path.read_text()}")

    def kill(self) -> None:
        """SIGKILL, as a crash or a cut cable looks to the gateway; its guests live on."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 30 s; its guests live on (clear_qemu_host ends them)."""
        self.terminate()
        self.wait()

    def terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait(self) -> None:
        """Until it exits after :meth:`terminate`: SIGKILL after 30 s."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.kill()


def stop_agents(agents: Iterable[AgentProcess]) -> None:
    """Stop them all at once: each waits out its graceful shutdown (idle TLS connections of
    the gateways, decision 0022), so one after the other would add those waits up."""
    agents = list(agents)
    for agent in agents:
        agent.terminate()
    for agent in agents:
        agent.wait()


def issue_pem(folder: Path, name: str, leaf: trustme.LeafCert) -> tuple[Path, Path]:
    """``<name>.pem`` (the chain) and ``<name>-key.pem`` (0600) in ``folder``."""
    cert, key = folder / f"{name}.pem", folder / f"{name}-key.pem"
    cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(key))
    key.chmod(0o600)
    return cert, key


@dataclass(frozen=True)
class Underlay:
    """One host's end of the LAN between hosts: the namespace holding it, and its address."""

    netns: str
    address: str

    def links(self) -> list[str]:
        """The names of the links in the namespace now."""
        listed = subprocess.run(
            ["ip", "-n", self.netns, "-o", "link", "show"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        return [line.split(": ", 2)[1].split("@", 1)[0] for line in listed.splitlines()]

    def udp_ports(self) -> set[int]:
        """The UDP ports sockets of the namespace listen on (the VXLAN devices' included)."""
        listed = subprocess.run(
            ["ip", "netns", "exec", self.netns, "ss", "-Hlun"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        return {int(line.split()[3].rsplit(":", 1)[1]) for line in listed.splitlines()}


@contextmanager
def underlay_pair() -> Iterator[tuple[Underlay, Underlay]]:
    """Two underlay namespaces joined by a veth pair (``lan`` in each), on a random /30 of the
    benchmarking range 198.18.0.0/15, which no real network routes."""
    tag = secrets.token_hex(3)
    base = f"198.18.{secrets.randbelow(250)}"
    low = secrets.randbelow(63) * 4
    one = Underlay(f"u{tag}a", f"{base}.{low + 1}")
    two = Underlay(f"u{tag}b", f"{base}.{low + 2}")
    try:
        for command in (
            ["ip", "netns", "add", one.netns],
            ["ip", "netns", "add", two.netns],
            ["ip", "-n", one.netns, "link", "add", "lan", "type", "veth", "peer", "name", "lan",
             "netns", two.netns],
            ["ip", "-n", one.netns, "addr", "add", f"{one.address}/30", "dev", "lan"],
            ["ip", "-n", two.netns, "addr", "add", f"{two.address}/30", "dev", "lan"],
            ["ip", "-n", one.netns, "link", "set", "lan", "up"],
            ["ip", "-n", two.netns, "link", "set", "lan", "up"],
            ["ip", "-n", one.netns, "link", "set", "lo", "up"],
            ["ip", "-n", two.netns, "link", "set", "lo", "up"],
        ):  # fmt: skip
            subprocess.run(command, check=True, capture_output=True)
        yield one, two
    finally:
        # Deleting a namespace deletes its links, the veth's other end with them.
        for underlay in (one, two):
            subprocess.run(["ip", "netns", "del", underlay.netns], capture_output=True, check=False)
