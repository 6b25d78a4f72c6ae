"""The access log shared by the wire APIs: one line per request on ``andromede.access``.

A line is built without the caller look-up that :meth:`logging.Logger.log` does for every
record (it walks the stack to name the source file and line, which no formatter here prints):
that look-up was a third of the access log's cost on a small GET
(docs/decisions/0025-small-request-cpu-2.md). Level checks, filters, handlers and formatters
apply as for any record.
"""

from __future__ import annotations

import logging

__all__ = ["log_access"]

_logger = logging.getLogger("andromede.access")


def log_access(level: int, message: str, *args: object) -> None:
    """Log one access line (``message % args``, formatted only if a handler takes it)."""
    if _logger.isEnabledFor(level):
        _logger.handle(_logger.makeRecord(_logger.name, level, "(access)", 0, message, args, None))
