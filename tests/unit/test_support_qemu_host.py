"""The e2e hosts' address blocks (tests/support/qemu_host.py): a block whose transit, public
or Elastic IP /24 anything on the machine still claims is never handed out, each host's serve
settings take its block's three ranges (the hosts of a region its server's Elastic IPs), and
clearing a host gives back all it claimed.

A metadata guard left by a host that was never cleared drops every guest's metadata request to
its /24, whichever host takes that /24 next: that is how test_ec2_overlay.py once waited 420 s
for an answer no listener ever saw.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from andromede.hypervisor.tenant_network import NetworkLayout, render_metadata_guard
from andromede.settings import Settings
from support import qemu_host, tenant_networks
from support.tenant_networks import outside_addresses, random_ranges


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_a_block_held_by_a_live_process_is_skipped_and_a_dead_ones_is_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(qemu_host, "_RESERVATIONS", tmp_path)
    monkeypatch.setattr(qemu_host, "_claimed_blocks", lambda: set(range(1, 255)) - {7, 9})
    (tmp_path / "7").write_text(f"{os.getpid()} /tmp/a-live-host\n")
    (tmp_path / "9").write_text(f"{_dead_pid()} /tmp/a-dead-host\n")

    assert qemu_host._reserve_block(tmp_path / "mine") == 9
    assert (tmp_path / "9").read_text() == f"{os.getpid()} {tmp_path / 'mine'}\n"
    assert (tmp_path / "7").read_text() == f"{os.getpid()} /tmp/a-live-host\n"
    with pytest.raises(RuntimeError, match="every transit /24"):
        qemu_host._reserve_block(tmp_path / "another")


def test_clearing_a_host_gives_back_its_reservation_and_only_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(qemu_host, "_RESERVATIONS", tmp_path)
    monkeypatch.setattr(qemu_host, "_claimed_blocks", lambda: set(range(1, 255)) - {12})
    state_dir, env = qemu_host.new_qemu_host("sup")
    assert env["ANDROMEDE_HYPERVISOR_TRANSIT_CIDR"] == "100.64.12.0/24"
    assert (tmp_path / "12").read_text() == f"{os.getpid()} {state_dir}\n"

    qemu_host.clear_qemu_host(state_dir, env)
    assert not (tmp_path / "12").exists()
    assert not state_dir.exists()

    # A host cleared twice, after its block went to another host, leaves that one's alone.
    (tmp_path / "12").write_text(f"{os.getpid()} /tmp/the-next-host\n")
    qemu_host.clear_qemu_host(state_dir, env)
    assert (tmp_path / "12").read_text() == f"{os.getpid()} /tmp/the-next-host\n"


needs_nft = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("nft") is None, reason="nftables rules need root and nft"
)


@needs_nft
def test_a_guard_left_behind_claims_its_block_until_its_host_is_cleared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(qemu_host, "_RESERVATIONS", tmp_path)
    state_dir, env = qemu_host.new_qemu_host("sup")
    prefix = env["ANDROMEDE_HYPERVISOR_LINK_PREFIX"]
    block = int(env["ANDROMEDE_HYPERVISOR_TRANSIT_CIDR"].split(".")[2])
    table = f"andromede_imds_{prefix}"
    # The guard the host's agent wrote, its serve then stopped.
    transit = env["ANDROMEDE_HYPERVISOR_TRANSIT_CIDR"]
    guard = render_metadata_guard(
        NetworkLayout(transit_cidr=transit, imds_port=16925, link_prefix=prefix)
    )
    subprocess.run(["nft", "-f", "-"], input=guard, text=True, check=True)
    try:
        (tmp_path / str(block)).unlink()  # only the rule claims it now
        assert block in qemu_host._claimed_blocks()
        qemu_host.clear_qemu_host(state_dir, env)
        tables = subprocess.run(
            ["nft", "list", "tables"], capture_output=True, text=True, check=True
        ).stdout
        assert table not in tables
    finally:
        subprocess.run(["nft", "delete", "table", "inet", table], capture_output=True)


def test_each_host_has_its_own_elastic_ips_and_a_regions_hosts_take_its_servers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two servers on one machine handing out the same Elastic IP would each route it to their
    own guest (one /32 in the main table, the later ``route replace`` wins): each host's range
    is its block's, and serve reads it (a misspelt variable would leave the default)."""
    monkeypatch.setattr(qemu_host, "_RESERVATIONS", tmp_path)
    monkeypatch.setattr(qemu_host, "_claimed_blocks", lambda: set(range(1, 255)) - {21, 22, 23})
    made = [qemu_host.new_qemu_host("sup") for _ in range(2)]
    try:
        (_, one), (_, two) = made
        blocks = {int(env["ANDROMEDE_HYPERVISOR_TRANSIT_CIDR"].split(".")[2]) for env in (one, two)}
        assert len(blocks) == 2 and blocks <= {21, 22, 23}
        for env in (one, two):
            block = env["ANDROMEDE_HYPERVISOR_TRANSIT_CIDR"].split(".")[2]
            assert env["ANDROMEDE_ELASTIC_IP_CIDR"] == f"100.66.{block}.0/24"
        for name, value in one.items():
            monkeypatch.setenv(name, value)
        settings = Settings()
        assert settings.elastic_ip_cidr == one["ANDROMEDE_ELASTIC_IP_CIDR"]
        assert settings.hypervisor_public_cidr == one["ANDROMEDE_HYPERVISOR_PUBLIC_CIDR"]

        # A host of the region whose server ``one`` is: its own block, the server's pool.
        made.append(qemu_host.new_qemu_host("sup-hv", one))
        host = made[-1][1]
        assert host["ANDROMEDE_ELASTIC_IP_CIDR"] == one["ANDROMEDE_ELASTIC_IP_CIDR"]
        assert host["ANDROMEDE_HYPERVISOR_TRANSIT_CIDR"] not in (
            one["ANDROMEDE_HYPERVISOR_TRANSIT_CIDR"],
            two["ANDROMEDE_HYPERVISOR_TRANSIT_CIDR"],
        )
    finally:
        for state_dir, env in made:
            qemu_host.clear_qemu_host(state_dir, env)


needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None, reason="host routes need root and ip"
)


@needs_root
def test_an_elastic_ip_route_left_behind_claims_its_block(tmp_path: Path) -> None:
    """A killed run's host route to one of its Elastic IPs (its /32 in the main table) keeps its
    block from the next host, as its transit addresses and metadata guard do."""
    block = next(b for b in range(254, 0, -1) if b not in qemu_host._claimed_blocks())
    route = f"100.66.{block}.1/32"
    subprocess.run(["ip", "route", "add", "blackhole", route], check=True)
    try:
        assert block in qemu_host._claimed_blocks()
    finally:
        subprocess.run(["ip", "route", "del", "blackhole", route], check=False)


def test_the_in_process_tests_random_ranges_stay_clear_of_the_e2e_hosts_blocks() -> None:
    """The contract tests' hosts pick their transit and public /24s at random, outside the
    reservation: never in 100.64, 100.65 or 100.66.0.0/16, where an e2e server's transit,
    public and Elastic IP ranges are."""
    reserved = ipaddress.IPv4Network("100.64.0.0/14")
    shared = ipaddress.IPv4Network("100.64.0.0/10")
    for _ in range(2000):
        transit, public = map(ipaddress.IPv4Network, random_ranges())
        for cidr in (transit, public):
            assert cidr.prefixlen == 24 and cidr.subnet_of(shared)
            assert not cidr.overlaps(reserved)
        assert transit != public


def _on_loopback() -> str:
    return subprocess.run(
        ["ip", "-o", "-4", "addr", "show", "dev", "lo"], capture_output=True, text=True, check=True
    ).stdout


@needs_root
def test_an_outside_address_another_test_holds_is_never_taken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The in-process tests' "Internet" addresses on the loopback: one already there (another
    test's, at once) is skipped, and left there after; the one taken is given back."""
    held = next(n for n in range(254, 0, -1) if f" 198.51.100.{n}/32 " not in _on_loopback())
    subprocess.run(["ip", "addr", "add", f"198.51.100.{held}/32", "dev", "lo"], check=True)
    try:
        others = [n for n in range(1, 255) if n != held]
        monkeypatch.setattr(tenant_networks, "_loopback_candidates", lambda: [held, *others])
        with outside_addresses() as (taken,):
            assert taken != f"198.51.100.{held}"
            assert f" {taken}/32 " in _on_loopback()
        assert f" {taken}/32 " not in _on_loopback()
        assert f" 198.51.100.{held}/32 " in _on_loopback()
    finally:
        subprocess.run(["ip", "addr", "del", f"198.51.100.{held}/32", "dev", "lo"], check=False)
