"""Decision 0389: the supervised processes' restart counts kept under the networks' state
directory (:mod:`andromede.hypervisor.restart_counts`), so that a restarted agent counts on
from where the one before stopped; a missing, damaged or unknown file counts from zero, and
the file names kinds only. (Killed processes counted across a real agent restart:
``tests/contract/test_dhcp_supervision.py``.)"""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path

import pytest

from andromede.compute.driver import SupervisedProcesses
from andromede.hypervisor.dns_supervision import DnsProcess, RestartBackoff
from andromede.hypervisor.restart_counts import FORMAT, load_restarts, save_restarts
from andromede.hypervisor.tenant_network import TenantNetworks

ZERO = dict.fromkeys(DnsProcess, 0)


def test_counts_are_kept_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "net" / "process-restarts.json"
    counts = {**ZERO, DnsProcess.DHCP: 3, DnsProcess.RESPONDER: 1}
    save_restarts(path, counts)
    assert load_restarts(path) == counts
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    document = json.loads(path.read_text())
    assert document == {
        "format": FORMAT,
        "restarts": {"resolver": 0, "responder": 1, "forwarder": 0, "dhcp": 3},
    }
    assert not list(path.parent.glob("*.tmp"))  # written whole, then renamed


def test_no_file_counts_from_zero(tmp_path: Path) -> None:
    assert load_restarts(tmp_path / "process-restarts.json") == ZERO


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        json.dumps([1, 2]),
        json.dumps({"format": FORMAT + 1, "restarts": {"dhcp": 4}}),
        json.dumps({"format": FORMAT, "restarts": "many"}),
    ],
)
def test_a_file_that_cannot_be_read_counts_from_zero_with_a_warning(
    tmp_path: Path, content: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "process-restarts.json"
    path.write_text(content)
    with caplog.at_level(logging.WARNING, "andromede.hypervisor.restart_counts"):
        assert load_restarts(path) == ZERO
    assert "counting from zero" in caplog.text


def test_a_bad_count_is_zero_and_the_others_kept(tmp_path: Path) -> None:
    path = tmp_path / "process-restarts.json"
    kept = {"resolver": -1, "responder": True, "forwarder": "2", "dhcp": 5, "other": 9}
    path.write_text(json.dumps({"format": FORMAT, "restarts": kept}))
    assert load_restarts(path) == {**ZERO, DnsProcess.DHCP: 5}


def test_the_backoff_counts_on_from_the_kept_counts() -> None:
    backoff = RestartBackoff(interval=1.0, restarts={**ZERO, DnsProcess.DHCP: 7})
    backoff.restarting("subnet-1", DnsProcess.DHCP, 0.0)
    assert backoff.restarts == {**ZERO, DnsProcess.DHCP: 8}


def test_a_hosts_networks_read_the_counts_of_the_agent_before(tmp_path: Path) -> None:
    """A new agent's networks over the state directory answer with the counts its
    predecessor kept; nothing is built here, so no process is expected up or down."""
    save_restarts(tmp_path / "process-restarts.json", {**ZERO, DnsProcess.FORWARDER: 2})
    answer = TenantNetworks(tmp_path).supervised_processes()
    assert answer == {
        "resolver": SupervisedProcesses(),
        "responder": SupervisedProcesses(),
        "forwarder": SupervisedProcesses(2),
        "dhcp": SupervisedProcesses(),
    }
