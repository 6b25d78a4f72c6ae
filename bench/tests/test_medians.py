"""Medians over several runs' JSON: spreads, goals on the medians, scaling, gateway CPU."""

from __future__ import annotations

from typing import Any

from bench.medians import Spread, markdown, spreads


def _document(ops: dict[str, dict[str, float]], failed: tuple[str, ...] = ()) -> dict[str, Any]:
    targets: list[dict[str, Any]] = [
        {
            "name": name,
            "failure": None,
            "workloads": [
                {
                    "name": workload,
                    "ops_s": value,
                    "client_cpu_pct": 10.0,
                    "server_cpu_ms_per_op": 1000 / value,
                    "cores_by_part": {"gateway 1": 0.5},
                }
                for workload, value in by_workload.items()
            ],
        }
        for name, by_workload in ops.items()
    ]
    targets += [{"name": name, "failure": "did not start", "workloads": []} for name in failed]
    return {"targets": targets}


RUNS = [
    _document({"rgw": {"GET 4 KiB": 1000.0}, "andromede-rados": {"GET 4 KiB": 900.0}}),
    _document({"rgw": {"GET 4 KiB": 1200.0}, "andromede-rados": {"GET 4 KiB": 1300.0}}),
    _document({"rgw": {"GET 4 KiB": 800.0}, "andromede-rados": {"GET 4 KiB": 1100.0}}),
    _document({"rgw": {"GET 4 KiB": 5.0}}, failed=("andromede-rados",)),
]


def test_spreads_are_median_low_high_over_the_runs_that_measured() -> None:
    table = spreads(RUNS)
    assert table["rgw"]["GET 4 KiB"] == Spread(900.0, 5.0, 1200.0, 4)
    assert table["andromede-rados"]["GET 4 KiB"] == Spread(1100.0, 900.0, 1300.0, 3)


def test_goals_are_checked_on_the_ratio_of_medians() -> None:
    text = markdown(RUNS)
    # 1100 / 900: at least RGW's 4 KiB GET.
    assert "| andromede-rados | rgw | GET 4 KiB | 1.22x | >= 1.0x | met |" in text
    assert "| GET 4 KiB | 900.0 (5.0 to 1,200.0) | 1,100.0 (900.0 to 1,300.0) |" in text
    assert "| rgw | GET 4 KiB | 0.10 | 0.50 |" in text  # client cores, gateway cores
    slower = markdown(RUNS[:1])
    assert "| andromede-rados | rgw | GET 4 KiB | 0.90x | >= 1.0x | not met |" in slower
