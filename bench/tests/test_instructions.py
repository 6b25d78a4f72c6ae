"""``bench.instructions``: its readers of callgrind's files and of ``callgrind_annotate``, and a
real run of two servers under callgrind with a few objects, where every operation is counted
and only the encrypted server's GETs run AES-GCM."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from andromede.settings import Settings
from bench.instructions import (
    Counts,
    _annotate,
    _started_together,
    callgrind_servers,
    function_costs,
    measure,
    print_report,
    read_totals,
    server_settings,
    table_agrees,
)

_DUMP = """# callgrind format
version: 1
creator: callgrind-3.19.0
cmd:  andromede serve
events: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw
fn=(1) main
0 5 1 1 0 0 0 0 0 0
summary: 1200 300 200 10 20 30 1 2 3
totals: 1200 300 200 10 20 30 1 2 3
"""

_ANNOTATED = """Events recorded:  Ir
Events shown:     Ir
--------------------------------------------------------------------------------
Ir                   file:function
--------------------------------------------------------------------------------
72,811,641 (21.73%)  /b/Python/ceval.c:_PyEval_EvalFrameDefault'2 [/lib/libpython3.so]
 1,000,000 ( 0.30%)  /b/Python/ceval.c:_PyEval_EvalFrameDefault [/lib/libpython3.so]
 3,062,100 ( 0.91%)  ???:_aesni_ctr32_ghash_6x [/venv/cryptography/_rust.abi3.so]
     2,296  /b/Modules/binascii.c:binascii_a2b_base64

-- Auto-annotated source: /usr/include/x86_64-linux-gnu/bits/byteswap.h
32  return __builtin_bswap16 (__bsx);
32  events annotated
"""


def test_totals_are_read_by_event_name() -> None:
    totals = read_totals(_DUMP)
    assert totals["Ir"] == 1200
    assert totals["D1mr"] == 20
    assert totals["DLmw"] == 3


def test_a_file_without_totals_is_not_read_as_zero() -> None:
    with pytest.raises(ValueError, match="no events or totals"):
        read_totals("events: Ir\nfn=(1) main\n0 5\n")


_ANNOTATED_MISSES = """Events shown:     Ir ILmr DLmr DLmw
--------------------------------------------------------------------------------
Ir                   ILmr             DLmr             DLmw             file:function
--------------------------------------------------------------------------------
95,460,125 (21.8%) 13,450 (2.7%) 265,546 (35.1%) 3,413 (1.3%) /b/ceval.c:_PyEval_EvalFrameDefault'2
   198,820 ( 0.05%)      0           8,155 ( 1.08%)     .         /b/call.c:_PyFunction_Vectorcall
"""


def test_functions_add_up_over_recursion_depths_and_lose_their_paths_source_is_not_read() -> None:
    costs = function_costs(_ANNOTATED)["Ir"]
    assert costs == {
        "ceval.c:_PyEval_EvalFrameDefault": 73_811_641,
        "???:_aesni_ctr32_ghash_6x": 3_062_100,
        "binascii.c:binascii_a2b_base64": 2_296,
    }


def test_every_event_shown_is_read_and_a_dot_is_no_count() -> None:
    costs = function_costs(_ANNOTATED_MISSES)
    assert costs["Ir"]["ceval.c:_PyEval_EvalFrameDefault"] == 95_460_125
    assert costs["DLmr"] == {
        "ceval.c:_PyEval_EvalFrameDefault": 265_546,
        "call.c:_PyFunction_Vectorcall": 8_155,
    }
    assert costs["ILmr"]["call.c:_PyFunction_Vectorcall"] == 0
    assert "call.c:_PyFunction_Vectorcall" not in costs["DLmw"]


def test_a_table_charging_a_threads_entry_frames_twice_is_not_taken() -> None:
    # A real GET run's figures: a thread started before instrumentation had its 13.6 M
    # instructions charged again to each of its five entry frames.
    total = 174_486_272
    entry_frames = dict.fromkeys(
        ("clone.S:clone", "pthread_create.c:start_thread", "_threadmodule.c:thread_run"),
        13_582_353,
    )
    rest = {"ceval.c:_PyEval_EvalFrameDefault": total - 500, "obmalloc.c:_PyObject_Free": 500}
    assert table_agrees(Counts(64, {"Ir": total}, {"Ir": rest}))
    assert not table_agrees(Counts(64, {"Ir": total}, {"Ir": rest | entry_frames}))
    # Rounding in callgrind_annotate's table (functions under its threshold) is not a fault.
    assert table_agrees(Counts(64, {"Ir": total}, {"Ir": {"a": total - total // 200}}))
    # Nor is callgrind's own small disagreement between its summary and its cost lines, as a
    # loaded CI run wrote it in a GET window (summary 80,194,336; cost lines 81,348,648).
    assert table_agrees(Counts(64, {"Ir": 80_194_336}, {"Ir": {"a": 81_348_648}}))


# A thread's entry frame, already running when instrumentation came on: callgrind writes its
# call into the worker as ``calls=0``, followed by that call's inclusive cost.
_CALL_RUNNING_AT_INSTR_ON = """# callgrind format
version: 1
creator: callgrind-3.19.0
positions: line
events: Ir
summary: 1000

ob=(1) /usr/lib/x86_64-linux-gnu/libc.so.6
fl=(1) clone.S
fn=(1) clone
10 5
cfl=(2) worker.c
cfn=(2) work
calls=0 20
10 995

fl=(2)
fn=(2)
20 995

totals: 1000
"""


@pytest.mark.skipif(shutil.which("callgrind_annotate") is None, reason="valgrind is not installed")
def test_a_call_running_when_instrumentation_began_is_not_its_callers_own_cost(
    tmp_path: Path,
) -> None:
    # callgrind_annotate alone charged the worker's 995 to clone as well (a CI run's GET table
    # summed 30 % past its total, three attempts in a row): the table is read as calls counted
    # from one, and adds up to the file's total.
    dump = tmp_path / "callgrind.out.1"
    dump.write_text(_CALL_RUNNING_AT_INSTR_ON)
    costs = _annotate(dump, cache_sim=False)
    assert costs["Ir"] == {"clone.S:clone": 5, "worker.c:work": 995}
    assert table_agrees(Counts(1, read_totals(dump.read_text()), costs))


def test_servers_start_side_by_side_and_a_failed_start_stops_the_others() -> None:
    # Each start waits until every other one has begun: one after the other, it would wait
    # in vain (the barrier breaks after its timeout).
    barrier = threading.Barrier(3, timeout=10)
    events: list[str] = []

    @contextlib.contextmanager
    def server(name: str, fails: bool = False) -> Iterator[str]:
        barrier.wait()
        if fails:
            raise RuntimeError(f"{name} did not start")
        events.append(f"{name} up")
        try:
            yield name
        finally:
            events.append(f"{name} stopped")

    with contextlib.ExitStack() as stack:
        started = _started_together(stack, [server("a"), server("b"), server("c")])
        assert started == ["a", "b", "c"]
        assert sorted(events) == ["a up", "b up", "c up"]
    assert sorted(events[3:]) == ["a stopped", "b stopped", "c stopped"]

    events.clear()
    barrier.reset()
    with pytest.raises(RuntimeError, match="b did not start"), contextlib.ExitStack() as stack:
        _started_together(stack, [server("a"), server("b", fails=True), server("c")])
    assert sorted(events) == ["a stopped", "a up", "c stopped", "c up"]


_OBJECTS = 8
_READS = 2


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_two_servers_are_counted_and_only_the_encrypted_one_runs_aes_gcm(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Few objects: starting the two servers under valgrind is most of the test's CPU (about 32 s
    # each, side by side: decision 0299), and each counted request about 0.1 s more; eight
    # objects read twice still give every assertion below a margin of twice or more (32 objects
    # took 21 s more CPU: 83 s).
    with callgrind_servers(tmp_path, None, cache_sim=False) as servers:
        results = asyncio.run(measure(servers, objects=_OBJECTS, reads=_READS, size=4096))
    gets = _OBJECTS * _READS
    for name in ("encrypted", "plain"):
        for op, operations in (("PUT", _OBJECTS), ("GET", gets)):
            counts = results[name][op]
            assert counts.operations == operations
            # A request through the HTTP server is hundreds of thousands of instructions.
            assert counts.per_operation("Ir") > 100_000
            # The listing by function accounts for the whole count.
            assert table_agrees(counts)
    # Each encrypted GET opens a 4 KiB body with OpenSSL's AES-NI code (valgrind offers no
    # AVX-512, so it is the AES-NI path), more than a thousand instructions per KiB; the
    # unencrypted server never runs it. Totals are not compared: a server slowed by a loaded
    # machine does more clock-driven work per request, which can outweigh 4 %.
    # AES-GCM's own functions only: a bare "aesni" also matches the AES-CTR of OpenSSL's random
    # generator, which a loaded CI run once caught 357 instructions of in the plain server's
    # window (a background task drawing random bytes), though it seals and opens nothing.
    aes = {
        name: sum(v for f, v in results[name]["GET"].functions["Ir"].items() if _is_aes_gcm(f))
        for name in ("encrypted", "plain")
    }
    assert aes["encrypted"] / gets > 4_000
    # The plain server opens no body, so all its GETs together stay under what one encrypted
    # GET spends. Not zero: the platform's background loops seal small records of their own
    # (log events, queued events) whatever the buckets' setting, and a CI run once caught such a
    # seal, 560 instructions, in the plain server's GET window.
    assert aes["plain"] < aes["encrypted"] / gets
    print_report(results, top=3, cache_sim=False, baseline=False)
    printed = capsys.readouterr().out
    assert "encrypted ÷ plain: PUT x" in printed
    assert "GET: encrypted - plain, instructions per operation by function" in printed


def test_remember_bounds_every_per_object_state_the_servers_keep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "ANDROMEDE_DATA_KEY_CACHE_SIZE" not in server_settings()
    for name, value in server_settings(64).items():
        monkeypatch.setenv(name, value)
    settings = Settings(data_dir=tmp_path)
    assert settings.data_key_cache_size == settings.opened_headers_cache_size == 64
    assert settings.audit_flush_interval == 0.2 * 50  # the steady settings still apply


def _is_aes_gcm(function: str) -> bool:
    """OpenSSL's AES-GCM code (GHASH and the GCM128 mode), never CPython's ``gcmodule.c``."""
    return any(part in function for part in ("ghash", "gcm128", "aesni_gcm"))
