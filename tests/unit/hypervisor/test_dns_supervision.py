"""Decisions 0375 and 0378's restart backoff (:mod:`andromede.hypervisor.dns_supervision`): a dead
process restarted at once, again after twice the wait each time it dies at once, never
beyond the cap, a burst ended by the process found running, and one log line a burst; and
the setting of the supervision's interval."""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

import pytest

from andromede.compute_adapters import hypervisor_host_driver
from andromede.hypervisor.dns_supervision import DnsProcess, RestartBackoff
from andromede.hypervisor.network_layout import NetworkLayout
from andromede.settings import Settings

RESPONDER, RESOLVER = DnsProcess.RESPONDER, DnsProcess.RESOLVER


def _restart_times(backoff: RestartBackoff, until: float, step: float = 0.5) -> list[float]:
    """When a process found dead at every check, every ``step`` seconds, is restarted."""
    times, now = [], 0.0
    while now < until:
        if backoff.due("vpc-1", RESPONDER, now):
            backoff.restarting("vpc-1", RESPONDER, now)
            times.append(now)
        now += step
    return times


def test_a_process_dying_at_once_waits_twice_as_long_each_time_up_to_the_cap() -> None:
    backoff = RestartBackoff(interval=2.0, cap=16.0)
    times = _restart_times(backoff, until=80.0)
    assert times[:6] == [0.0, 2.0, 6.0, 14.0, 30.0, 46.0]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert max(gaps) == 16.0  # bounded: never given up, never a hot loop
    assert backoff.restarts[RESPONDER] == len(times)


def test_a_process_found_running_ends_its_burst() -> None:
    backoff = RestartBackoff(interval=2.0)
    assert backoff.restarting("vpc-1", RESPONDER, 0.0)  # the first of a burst: logged
    assert not backoff.due("vpc-1", RESPONDER, 1.0)
    assert not backoff.restarting("vpc-1", RESPONDER, 2.0)  # the same burst: not logged
    assert not backoff.due("vpc-1", RESPONDER, 5.0)
    backoff.running("vpc-1", RESPONDER)
    assert backoff.due("vpc-1", RESPONDER, 5.0)
    assert backoff.restarting("vpc-1", RESPONDER, 5.0)  # a new burst: logged again
    counted = {RESPONDER: 3, RESOLVER: 0, DnsProcess.FORWARDER: 0, DnsProcess.DHCP: 0}
    assert backoff.restarts == counted


def test_bursts_are_per_router_and_process_and_forgotten_with_the_router() -> None:
    backoff = RestartBackoff(interval=2.0)
    backoff.restarting("vpc-1", RESPONDER, 0.0)
    assert backoff.due("vpc-1", RESOLVER, 0.5)
    assert backoff.due("vpc-2", RESPONDER, 0.5)
    assert not backoff.due("vpc-1", RESPONDER, 0.5)
    backoff.forget("vpc-1")
    assert backoff.due("vpc-1", RESPONDER, 0.5)


def test_a_subnets_dhcp_server_has_bursts_of_its_own_gone_with_the_subnet() -> None:
    """Decision 0378: a DHCP server's owner is its subnet, so two subnets of one router back
    off apart, and a subnet no longer built here takes its burst with it."""
    backoff = RestartBackoff(interval=2.0)
    backoff.restarting("subnet-1", DnsProcess.DHCP, 0.0)
    assert not backoff.due("subnet-1", DnsProcess.DHCP, 0.5)
    assert backoff.due("subnet-2", DnsProcess.DHCP, 0.5)
    backoff.restarting("vpc-1", RESPONDER, 0.0)
    backoff.keep({"vpc-1", "subnet-2"})
    assert backoff.due("subnet-1", DnsProcess.DHCP, 0.5)
    assert not backoff.due("vpc-1", RESPONDER, 0.5)
    assert backoff.restarts[DnsProcess.DHCP] == 1


def test_the_interval_setting_reaches_the_hosts_routers(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).hypervisor_dns_supervise_interval == 5.0
    for bad in (0.1, 301):
        with pytest.raises(ValueError, match="hypervisor_dns_supervise_interval"):
            Settings(data_dir=tmp_path, hypervisor_dns_supervise_interval=bad)
    # A short state folder: QMP's socket paths under it must fit in 107 bytes.
    with tempfile.TemporaryDirectory(prefix="andromede-ds-", dir="/tmp") as short:
        settings = Settings(
            data_dir=tmp_path / "host",
            hypervisor_state_dir=Path(short),
            hypervisor_dns_supervise_interval=2.5,
        )
        layout = hypervisor_host_driver(settings)._config.network_layout
        assert layout.dns_supervise_interval == 2.5
    with pytest.raises(ValueError, match="dns_supervise_interval"):
        NetworkLayout(dns_supervise_interval=0)
