"""The e2e hosts' transit ranges (tests/support/qemu_host.py): a /24 that anything on the
machine still claims is never handed out, and clearing a host gives back all it claimed.

A metadata guard left by a host that was never cleared drops every guest's metadata request to
its /24, whichever host takes that /24 next: that is how test_ec2_overlay.py once waited 420 s
for an answer no listener ever saw.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from andromede.hypervisor.tenant_network import NetworkLayout, render_metadata_guard
from support import qemu_host


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
