"""Statistics over workload runs: medians of rates, pooled nearest-rank percentiles, errors."""

from __future__ import annotations

import math

from bench.workloads import KIB, Op, RunResult, WorkloadSpec, summarise

SPEC = WorkloadSpec("PUT 4 KiB", Op.PUT, 4 * KIB, 16, 1.0, 100)


def _run(
    ops: int, elapsed: float, latencies: tuple[float, ...], errors: dict[str, int]
) -> RunResult:
    return RunResult(ops, ops * 4 * KIB, elapsed, latencies, errors, 0.1, 0.5, None)


def test_summary_takes_median_rates_and_pooled_percentiles() -> None:
    runs = [
        _run(100, 1.0, tuple(float(i) for i in range(1, 101)), {}),
        _run(300, 1.0, (), {"HTTP 503 SlowDown": 2}),
        _run(200, 1.0, (), {"HTTP 503 SlowDown": 1, "GET ETag mismatch": 1}),
    ]
    result = summarise(SPEC, runs)
    assert result.ops_s == 200.0
    assert math.isclose(result.mib_s, 200 * 4 / 1024)
    assert (result.p50_ms, result.p99_ms) == (50.0, 99.0)
    assert result.errors == 4
    assert result.error_kinds == {"HTTP 503 SlowDown": 3, "GET ETag mismatch": 1}
    assert result.server_cpu_ms_per_op is not None
    assert math.isclose(result.server_cpu_ms_per_op, 1000 * 1.5 / 600)


def test_summary_without_successes_has_no_percentiles() -> None:
    result = summarise(SPEC, [_run(0, 1.0, (), {"ConnectionRefusedError": 5})])
    assert math.isnan(result.p50_ms) and math.isnan(result.p99_ms)
    assert result.ops_s == 0.0 and result.errors == 5
