"""Batched log lines: bounded, written on a timer, at once for warnings, and never lost at a
clean stop (close, interpreter exit, SIGTERM to ``andromede serve``)."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import pytest

from andromede.logconfig import BatchedLineHandler, TextFormatter
from andromede.settings import Settings


class CountingStream(io.StringIO):
    """A stream that counts its writes (one per batch is the point of the handler)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


@pytest.fixture
def stream() -> CountingStream:
    return CountingStream()


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    logger = logging.getLogger("andromede.test-batched")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    yield logger
    for handler in logger.handlers:
        handler.close()
    logger.handlers.clear()


def _attach(logger: logging.Logger, handler: BatchedLineHandler) -> BatchedLineHandler:
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger.addHandler(handler)
    return handler


def test_lines_wait_for_the_batch(logger: logging.Logger, stream: CountingStream) -> None:
    handler = _attach(logger, BatchedLineHandler(stream, capacity=100, interval=60))
    for n in range(3):
        logger.info("line %d", n)
    assert stream.getvalue() == ""
    assert handler.buffered == 3
    handler.flush()
    assert stream.getvalue() == "INFO line 0\nINFO line 1\nINFO line 2\n"
    assert stream.writes == 1


def test_the_batch_is_bounded(logger: logging.Logger, stream: CountingStream) -> None:
    handler = _attach(logger, BatchedLineHandler(stream, capacity=4, interval=60))
    for n in range(10):
        logger.info("line %d", n)
        assert handler.buffered < 4
    assert stream.getvalue().splitlines() == [f"INFO line {n}" for n in range(8)]
    assert stream.writes == 2
    assert handler.buffered == 2


def test_a_warning_is_written_at_once_after_the_lines_before_it(
    logger: logging.Logger, stream: CountingStream
) -> None:
    handler = _attach(logger, BatchedLineHandler(stream, capacity=100, interval=60))
    logger.info("served")
    logger.warning("failed")
    assert stream.getvalue() == "INFO served\nWARNING failed\n"
    assert handler.buffered == 0


def test_the_timer_writes_the_batch(logger: logging.Logger, stream: CountingStream) -> None:
    _attach(logger, BatchedLineHandler(stream, capacity=100, interval=0.05))
    logger.info("late")
    deadline = time.monotonic() + 10
    while not stream.getvalue() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stream.getvalue() == "INFO late\n"


def test_close_writes_what_is_left_and_later_lines_at_once(
    logger: logging.Logger, stream: CountingStream
) -> None:
    handler = _attach(logger, BatchedLineHandler(stream, capacity=100, interval=60))
    logger.info("before stop")
    handler.close()
    assert stream.getvalue() == "INFO before stop\n"
    logger.info("after stop")
    assert stream.getvalue() == "INFO before stop\nINFO after stop\n"


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError, match="capacity"):
        BatchedLineHandler(capacity=0, interval=1)
    with pytest.raises(ValueError, match="interval"):
        BatchedLineHandler(capacity=1, interval=0)


_CHILD = textwrap.dedent(
    """
    import logging, os, signal, sys, threading
    from andromede.logconfig import configure_logging
    from andromede.settings import Settings

    configure_logging(Settings(log_flush_interval=60, log_buffer_lines=1000))
    log = logging.getLogger("andromede.access")
    for n in range(5):
        log.info("line %d", n)
    if sys.argv[1] == "sigterm":
        # As andromede serve (uvicorn) does: SIGTERM ends the process through a clean exit.
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        os.kill(os.getpid(), signal.SIGTERM)
        stop.wait(30)
    sys.exit(0)
    """
)


@pytest.mark.parametrize("how", ["exit", "sigterm"])
def test_no_line_is_lost_at_a_clean_stop(how: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, how], capture_output=True, text=True, timeout=60, check=True
    )
    lines = [line for line in done.stderr.splitlines() if "andromede.access" in line]
    assert [line.rsplit(": ", 1)[1] for line in lines] == [f"line {n}" for n in range(5)]


def _records() -> list[logging.LogRecord]:
    def record(created: float, level: int, message: str, *args: object) -> logging.LogRecord:
        made = logging.LogRecord("andromede.x", level, __file__, 1, message, args, None)
        made.created, made.msecs = created, int((created - int(created)) * 1000) + 0.0
        return made

    try:
        raise ValueError("boom")
    except ValueError:
        failed = logging.LogRecord(
            "andromede.y", logging.ERROR, __file__, 2, "failed %s", ("x",), sys.exc_info()
        )
        failed.created, failed.msecs = 1_800_000_002.0, 0.0
    stacked = record(1_800_000_000.5, logging.INFO, "with stack")
    stacked.stack_info = "Stack (most recent call last):\n  here"
    return [
        record(1_800_000_000.0, logging.INFO, "%s %d", "RID", 200),
        record(1_800_000_000.999, logging.WARNING, "same second"),
        record(1_800_000_001.004, logging.INFO, "next second, 100%% sure"),
        record(1_700_000_000.25, logging.DEBUG, "earlier"),
        failed,
        stacked,
    ]


def test_the_text_formatter_writes_what_the_standard_one_does() -> None:
    standard = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    fast = TextFormatter()
    for record, again in zip(_records(), _records(), strict=True):
        assert fast.format(record) == standard.format(again)


def test_a_test_that_configures_logging_leaves_no_flusher_behind(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from andromede.logconfig import configure_logging
    from support.logs import logging_restored

    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    with logging_restored():
        configure_logging(Settings(log_flush_interval=60, log_buffer_lines=1000))
        (handler,) = [h for h in root.handlers if isinstance(h, BatchedLineHandler)]
        logging.getLogger("andromede.access").info("held until the test ends")
        flusher = handler._flusher
        assert flusher is not None and flusher.is_alive()
        assert handler.buffered == 1
    assert handler not in root.handlers
    assert all(h in before for h in root.handlers if isinstance(h, BatchedLineHandler))
    assert root.level == level
    # Its line was written then, into the test's own output, and its thread ended.
    assert "held until the test ends" in capsys.readouterr().err
    flusher.join(timeout=10)
    assert not flusher.is_alive()
