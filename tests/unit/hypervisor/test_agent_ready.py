"""agent_ready waits for the agent's socket without leaking one of its own: a socket file that
exists but does not listen yet (between bind and listen) is asked with a socket that is closed
whatever the answer, so no ResourceWarning surfaces later in an unrelated test."""

from __future__ import annotations

import gc
import socket
import warnings
from pathlib import Path

from andromede.hypervisor.agent import agent_ready


def test_a_socket_bound_but_not_listening_is_not_ready_and_nothing_leaks(
    tmp_path: Path,
) -> None:
    path = tmp_path / "agent.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as bound:
        bound.bind(str(path))  # the file exists; connecting is refused until listen()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert not agent_ready(path, 0.5)
            gc.collect()  # an unclosed socket would warn when collected
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_a_missing_socket_is_not_ready(tmp_path: Path) -> None:
    assert not agent_ready(tmp_path / "absent.sock", 0.3)
