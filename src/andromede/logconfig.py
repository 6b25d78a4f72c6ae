"""Logging set-up: JSON lines for machines or plain text for people, on standard error.

Secrets never reach a log record: handlers log ids and codes, never headers or bodies.

Lines are written in batches (:class:`BatchedLineHandler`): one write per request to standard
error, with its flush, was most of the access log's cost on a small GET
(docs/decisions/0025-small-request-cpu-2.md). A batch is written when ``log_flush_interval``
has passed, when it holds ``log_buffer_lines`` lines, at once for a WARNING or worse (with the
lines before it, in order), and when the handler is closed: ``logging.shutdown`` closes it at a
clean exit, which is how ``andromede serve`` ends on SIGTERM or SIGINT. Only a process killed
outright (SIGKILL, a crash of the interpreter) loses the last interval's lines.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
import weakref
from datetime import UTC, datetime
from typing import TextIO

from andromede.settings import Settings

__all__ = ["BatchedLineHandler", "TextFormatter", "configure_logging"]


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``%(asctime)s %(levelname)s %(name)s: %(message)s``, as :class:`logging.Formatter`
    writes it, built directly: the generic path (``usesTime`` searching the format, a
    ``%``-format over the record's dictionary, ``strftime`` for every line) was a third of
    an access line's cost. The date and time to the second is formatted once per second."""

    _FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

    def __init__(self) -> None:
        super().__init__(self._FORMAT)
        self._second = -1
        self._second_text = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        second = int(record.created)
        if second != self._second:  # formatters run under their handler's lock
            self._second_text = time.strftime(self.default_time_format, self.converter(second))
            self._second = second
        return f"{self._second_text},{int(record.msecs):03d}"

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        record.asctime = self.formatTime(record)
        line = f"{record.asctime} {record.levelname} {record.name}: {record.message}"
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line = f"{line}\n{record.exc_text}"
        if record.stack_info:
            line = f"{line}\n{self.formatStack(record.stack_info)}"
        return line


# Handlers whose flusher thread a fork leaves behind in the parent: the child starts its own.
_handlers: weakref.WeakSet[BatchedLineHandler] = weakref.WeakSet()


def _forget_flushers_in_child() -> None:
    for handler in _handlers:
        handler._flusher = None


os.register_at_fork(after_in_child=_forget_flushers_in_child)


class BatchedLineHandler(logging.Handler):
    """Formats each record as it arrives and writes the lines to ``stream`` in batches.

    ``stream`` ``None`` means whatever ``sys.stderr`` is at the time of the write (so a redirect
    or a test's capture is honoured). The batch is bounded by ``capacity`` lines; a background
    thread writes it every ``interval`` seconds. Formatting stays with the caller (as
    ``QueueHandler`` does) so that a record's arguments are read before they can change.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        capacity: int,
        interval: float,
        flush_level: int = logging.WARNING,
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least one line")
        if interval <= 0:
            raise ValueError("interval must be positive")
        super().__init__()
        self._stream = stream
        self.capacity = capacity
        self.interval = interval
        self.flush_level = flush_level
        self._lines: list[str] = []
        self._closed = False
        self._stopping = threading.Event()
        self._flusher: threading.Thread | None = None
        _handlers.add(self)

    @property
    def buffered(self) -> int:
        """Lines formatted but not yet written."""
        return len(self._lines)

    def emit(self, record: logging.LogRecord) -> None:  # called with self.lock held
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self._lines.append(line)
        if (
            record.levelno >= self.flush_level
            or len(self._lines) >= self.capacity
            or self._closed  # nothing would write it later
        ):
            self._write()
        elif self._flusher is None:
            self._start_flusher()

    def flush(self) -> None:
        self.acquire()
        try:
            self._write()
        finally:
            self.release()

    def close(self) -> None:
        # logging.shutdown calls this with self.lock held: the flusher thread may be waiting
        # for that lock, so it is told to stop but not joined; it finds nothing left to write.
        self._stopping.set()
        self.acquire()
        try:
            self._closed = True
            self._write()
        finally:
            self.release()
        super().close()

    def _write(self) -> None:
        if not self._lines:
            return
        text = "\n".join(self._lines) + "\n"
        self._lines = []
        stream = self._stream if self._stream is not None else sys.stderr
        try:
            stream.write(text)
            stream.flush()
        except (OSError, ValueError):
            # Standard error gone (a closed pipe, a closed file at exit): nowhere left to say
            # so, as for logging.StreamHandler, whose handleError writes to the same stream.
            pass

    def _start_flusher(self) -> None:
        self._stopping.clear()
        self._flusher = threading.Thread(
            target=self._flush_periodically, name="andromede-log-flush", daemon=True
        )
        self._flusher.start()

    def _flush_periodically(self) -> None:
        while not self._stopping.wait(self.interval):
            self.flush()


def configure_logging(settings: Settings) -> None:
    handler = BatchedLineHandler(
        capacity=settings.log_buffer_lines, interval=settings.log_flush_interval
    )
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter())
    # No formatter here prints the thread, the process or its name: a record need not look
    # them up (the logging cookbook's "Optimization"; a tenth of an access line's cost).
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    for previous in root.handlers:
        if isinstance(previous, BatchedLineHandler):
            previous.close()  # its lines written before the new handler's
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    # Quiet libraries' own per-request chatter: Andromède writes its own access log.
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # httpx logs each request's full URL at INFO: a tenant's push endpoint (decision 0132) or
    # an OIDC document URL may carry a token in its query, which must never reach the logs.
    logging.getLogger("httpx").setLevel(logging.WARNING)
