"""The gateway's folders named by their maker's pid: swept once that process is gone, kept
while it runs (decision 0350: the API relay's folders of gateways killed with -9 piled up)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from andromede.functions.api_relay import RELAY_FOLDER_PREFIX, ApiRelay
from andromede.functions.orphan_folders import make_owned_folder, sweep_orphans


def _dead_pid() -> int:
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    return ended.pid


def test_a_gone_makers_folders_are_removed_a_living_ones_and_others_kept(tmp_path: Path) -> None:
    gone = tmp_path / f"andromede-x-{_dead_pid()}-abc"
    (gone / "inner").mkdir(parents=True)
    mine = make_owned_folder("andromede-x-", tmp_path)
    unnamed = tmp_path / "andromede-x-nopid-abc"
    unnamed.mkdir()
    other_prefix = tmp_path / f"andromede-y-{_dead_pid()}-abc"
    other_prefix.mkdir()
    a_file = tmp_path / f"andromede-x-{_dead_pid()}-file"
    a_file.write_text("not a folder")
    assert sweep_orphans(tmp_path, "andromede-x-") == 1
    assert not gone.exists()
    assert mine.is_dir() and unnamed.is_dir() and other_prefix.is_dir() and a_file.is_file()
    assert sweep_orphans(tmp_path / "missing", "andromede-x-") == 0


def test_the_api_relay_sweeps_its_own_orphans_when_it_serves(tmp_path: Path) -> None:
    left = tmp_path / f"{RELAY_FOLDER_PREFIX}{_dead_pid()}-left"
    left.mkdir()

    async def serve_briefly() -> None:
        relay = ApiRelay("127.0.0.1", 9, tls=False, folder=tmp_path)
        serving = asyncio.create_task(relay.serve())
        for _ in range(500):
            if relay.path.exists():
                break
            await asyncio.sleep(0.01)
        assert relay.path.exists()
        assert not left.exists()
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
        assert not relay.path.parent.exists()  # its own folder goes when it stops

    asyncio.run(serve_briefly())
