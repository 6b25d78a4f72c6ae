"""``restored_environment``: the servers' variables the benchmarks change are set back, or
removed, as they were, also when the block fails."""

from __future__ import annotations

import os

import pytest

from bench.targets import restored_environment


def test_changed_variables_are_set_back_and_new_ones_removed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BENCH_TEST_SET", "before")
    monkeypatch.delenv("BENCH_TEST_UNSET", raising=False)
    with (
        pytest.raises(RuntimeError),
        restored_environment(("BENCH_TEST_SET", "BENCH_TEST_UNSET")) as saved,
    ):
        assert saved == {"BENCH_TEST_SET": "before", "BENCH_TEST_UNSET": None}
        os.environ["BENCH_TEST_SET"] = "during"
        os.environ["BENCH_TEST_UNSET"] = "during"
        raise RuntimeError("a server failed to start")
    assert os.environ["BENCH_TEST_SET"] == "before"
    assert "BENCH_TEST_UNSET" not in os.environ
