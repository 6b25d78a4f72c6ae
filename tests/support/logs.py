"""Logging left as a test found it: what ``configure_logging`` installs during a test goes with it.

``configure_logging`` (called by ``create_app``, the CLI's ``agent``, ``serve``) puts a
:class:`~andromede.logconfig.BatchedLineHandler` on the root logger, with a flusher thread
writing to whatever standard error is at the time. Left there, it kept writing lines after
pytest had finished: its last batch at ``logging.shutdown``, to the real standard error, the
noise at the end of CI's output. ``logging_restored`` closes such handlers when the test ends
(their lines written then, into the test's own captured output) and puts the root level back.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from andromede.logconfig import BatchedLineHandler

__all__ = ["logging_restored"]


@contextlib.contextmanager
def logging_restored() -> Iterator[None]:
    root = logging.getLogger()
    before = list(root.handlers)
    level = root.level
    try:
        yield
    finally:
        for handler in list(root.handlers):
            if isinstance(handler, BatchedLineHandler) and handler not in before:
                root.removeHandler(handler)
                handler.close()  # writes what it holds, stops its flusher thread
        # Handlers it replaced are pytest's capture of the current phase, which pytest
        # removes itself at the phase's end: nothing else to put back.
        root.setLevel(level)
