"""``make run``'s choice of hypervisor (scripts/make-run.sh): qemu where QEMU is installed,
memory elsewhere, whatever the settings name kept as is; and it says which.

The script runs with a stand-in for the virtualenv's ``andromede`` that prints what it was
given, and with a PATH that holds a ``qemu-system-x86_64`` or not.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "make-run.sh"


@pytest.fixture
def venv_bin(tmp_path: Path) -> Path:
    """A bin folder whose ``python`` is this one and whose ``andromede`` reports its call."""
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "python").write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    (folder / "andromede").write_text(
        '#!/bin/sh\necho "andromede $* hypervisor=${ANDROMEDE_HYPERVISOR:-unset}"\n'
    )
    for tool in folder.iterdir():
        tool.chmod(0o755)
    return folder


def make_run(venv_bin: Path, tmp_path: Path, *, qemu: bool, **env: str) -> list[str]:
    tools = tmp_path / ("with-qemu" if qemu else "without-qemu")
    tools.mkdir(exist_ok=True)
    if qemu:
        fake = tools / "qemu-system-x86_64"
        fake.write_text("#!/bin/sh\nexit 0\n")
        fake.chmod(0o755)
    environment = {
        "PATH": str(tools),  # the script uses builtins only, and absolute paths
        "PYTHONPATH": os.pathsep.join(sys.path),
        **env,
    }
    done = subprocess.run(
        ["/bin/bash", str(SCRIPT), str(venv_bin), str(tmp_path / "data")],
        capture_output=True, text=True, env=environment, check=True, timeout=60,
    )  # fmt: skip
    return done.stdout.splitlines()


def test_qemu_where_it_is_installed(venv_bin: Path, tmp_path: Path) -> None:
    said, started = make_run(venv_bin, tmp_path, qemu=True)
    assert said.startswith("make run: hypervisor = qemu (qemu-system-x86_64 is installed")
    assert started == f"andromede serve --data-dir {tmp_path / 'data'} hypervisor=qemu"


def test_memory_without_qemu(venv_bin: Path, tmp_path: Path) -> None:
    said, started = make_run(venv_bin, tmp_path, qemu=False)
    assert said.startswith("make run: hypervisor = memory (no qemu-system-x86_64")
    assert started.endswith("hypervisor=memory")


def test_a_choice_in_the_settings_is_kept(venv_bin: Path, tmp_path: Path) -> None:
    said, started = make_run(venv_bin, tmp_path, qemu=True, ANDROMEDE_HYPERVISOR="memory")
    assert said == "make run: hypervisor = memory (as the settings say)"
    assert started.endswith("hypervisor=memory")
    config = tmp_path / "andromede.toml"
    config.write_text('hypervisor = "memory"\n')
    said, started = make_run(venv_bin, tmp_path, qemu=True, ANDROMEDE_CONFIG=str(config))
    assert said == "make run: hypervisor = memory (as the settings say)"
    assert started.endswith("hypervisor=memory")


def test_settings_that_do_not_load_are_left_for_serve_to_report(
    venv_bin: Path, tmp_path: Path
) -> None:
    # Not replaced by a guess: serve refuses the value and says why.
    [started] = make_run(venv_bin, tmp_path, qemu=True, ANDROMEDE_HYPERVISOR="xen")
    assert started.endswith("hypervisor=xen")
