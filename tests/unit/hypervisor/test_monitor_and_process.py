"""Keys stay out of qemu.qmp's debug log; an instance's files answer after a restart."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from andromede.compute.driver import PortForward
from andromede.hypervisor import HypervisorError, QemuDriver
from andromede.hypervisor.monitor import Monitor
from andromede.hypervisor.process import QemuProcess


def test_qmp_message_dumps_are_dropped_from_the_log(caplog: pytest.LogCaptureFixture) -> None:
    monitor = Monitor(Path("/nonexistent/qmp.sock"), timeout=1)
    qmp_logger = monitor._client.logger
    with caplog.at_level(logging.DEBUG, logger=qmp_logger.name):
        qmp_logger.debug("--> %s", '{"execute": "object-add", "data": "c2VjcmV0"}')
        qmp_logger.debug("<-- %s", '{"return": {}}')
        qmp_logger.debug("Transitioning from 'IDLE' to 'CONNECTING'.")
    assert "c2VjcmV0" not in caplog.text
    assert "CONNECTING" in caplog.text
    # One filter however many monitors are made.
    Monitor(Path("/nonexistent/qmp.sock"), timeout=1)
    assert len(qmp_logger.filters) == 1


async def test_a_monitor_without_qemu_says_the_instance_is_not_running(tmp_path: Path) -> None:
    with pytest.raises(HypervisorError, match="no QMP monitor"):
        async with Monitor(tmp_path / "qmp.sock", timeout=1):
            pass


def test_the_console_tail_spans_the_previous_boot(tmp_path: Path) -> None:
    process = QemuProcess(tmp_path / "i-1")
    process.prepare()
    process.console.write_bytes(b"a" * 100 + b"first boot\n")
    process.prepare()  # the next start keeps the last boot's tail
    assert not process.console.exists()
    process.console.write_bytes(b"second boot\n")
    assert process.console_tail(64) == (b"a" * 100 + b"first boot\nsecond boot\n")[-64:]
    process.console.write_bytes(b"x" * 100)
    assert process.console_tail(64) == b"x" * 64


def test_a_console_file_past_its_limit_keeps_only_its_tail(tmp_path: Path) -> None:
    process = QemuProcess(tmp_path / "i-1")
    process.prepare()
    with open(process.console, "ab") as console:  # as QEMU writes it, append=on
        console.write(b"old" * 1000 + b"x" * (70 * 1024) + b"END")
        process.bound_console(64 * 1024)
        assert process.console.stat().st_size == 0
        console.write(b"after")
    assert process.console.read_bytes() == b"after"
    tail = process.console_tail(64 * 1024)
    assert tail.endswith(b"xEND" + b"after") and len(tail) == 64 * 1024
    process.bound_console(64 * 1024)  # under the limit: untouched
    assert process.console.read_bytes() == b"after"


def test_forwards_and_attached_volumes_are_kept_beside_the_process(tmp_path: Path) -> None:
    process = QemuProcess(tmp_path / "i-1")
    process.prepare()
    forwards = (PortForward("127.0.0.1", 40022, 22),)
    process.write_forwards(forwards)
    process.write_attached(["vol-1", "vol-2"])
    again = QemuProcess(tmp_path / "i-1")
    assert again.forwards() == forwards
    assert again.attached() == ["vol-1", "vol-2"]
    assert QemuProcess(tmp_path / "i-absent").forwards() == ()


def _stand_in_qemu(process: QemuProcess) -> subprocess.Popen[bytes]:
    """A process whose command line names ``process``'s socket, filed in its pidfile, once
    ``process`` sees it."""
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)", str(process.socket)]
    )
    process.pidfile.write_text(str(child.pid))
    # A process just spawned on a loaded machine may not show its final command line at once
    # (seen in CI): give it a moment.
    deadline = time.monotonic() + 10
    while process.pid() != child.pid and time.monotonic() < deadline:
        time.sleep(0.05)
    return child


def test_a_pidfile_counts_only_for_a_process_naming_the_socket(tmp_path: Path) -> None:
    process = QemuProcess(tmp_path / "i-1")
    process.prepare()
    process.pidfile.write_text(str(os.getpid()))  # alive, but not this instance's QEMU
    assert not process.alive()
    child = _stand_in_qemu(process)
    try:
        assert process.pid() == child.pid
    finally:
        child.kill()
        child.wait()
    assert not process.alive()
    process.forget_runtime()
    assert not process.pidfile.exists()


def test_a_qemu_that_removed_its_pidfile_is_alive_until_it_is_gone(tmp_path: Path) -> None:
    # QEMU unlinks its pidfile as it begins to exit; the process lives on for a moment, and
    # a stop must not report it gone while it still holds the instance's files.
    process = QemuProcess(tmp_path / "i-1")
    process.prepare()
    child = _stand_in_qemu(process)
    try:
        assert process.pid() == child.pid
        process.pidfile.unlink()
        assert process.alive()  # still running: followed without its pidfile
        assert QemuProcess(tmp_path / "i-1").pid() is None  # a fresh look has only the file
    finally:
        child.kill()
        child.wait()
    assert not process.alive()
    assert process.pid() is None


def test_the_state_directory_must_leave_room_for_socket_paths(tmp_path: Path) -> None:
    with pytest.raises(HypervisorError, match="too long"):
        QemuDriver(tmp_path / ("d" * 90))


async def test_ids_that_are_not_plain_names_are_refused() -> None:
    with tempfile.TemporaryDirectory(prefix="hv-", dir="/tmp") as short:
        driver = QemuDriver(Path(short))
        for bad in ("../etc", "vol/1", "", "vol 1"):
            with pytest.raises(HypervisorError):
                await driver.delete_volume(bad)
            with pytest.raises(HypervisorError):
                await driver.state(bad)
