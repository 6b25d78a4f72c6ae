"""The XKS proxy's audit log: one JSON line per request, hash-chained, in a file of its own.

Owns what the spec's "Logging" section asks and nothing more: per request the time, the
proxy's request id, the operation, the externalKeyId, the ``requestMetadata`` fields the spec
names (``kmsRequestId`` first among them, to correlate with CloudTrail), the SigV4 access key
id that signed it (never the secret), the client address, the HTTP status, ``outcome``
(``success``/``failure``), ``errorName``, ``reason`` (why authentication or secondary
authorization refused, which rule denied) and the processing time. Never a plaintext, a
ciphertext, an AAD, key material or a secret: the fields are listed here and nowhere else.

Integrity (the spec's "appropriate measures"): each line carries ``prev``, the SHA-256 of the
previous line's bytes (64 zeros for the first line of a file), so removing, reordering or
editing a line breaks the chain, which :func:`verify_chain` checks. A restarted proxy continues
the chain from the file's last line. The file is created 0600; each line is written with one
``write`` and flushed.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

__all__ = ["GENESIS", "AuditLog", "verify_chain"]

GENESIS = "0" * 64
_TAIL = 64 * 1024  # enough to hold the last line of any record written here


class AuditLog:
    """Appends records to ``path`` (created 0600 if missing)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._file: IO[bytes] = os.fdopen(fd, "ab")
        self._lock = threading.Lock()
        self._prev = _last_hash(path)

    def record(self, **fields: Any) -> None:
        """Write one record: ``fields`` with None values left out, then ``time`` and ``prev``."""
        entry = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            **{name: value for name, value in fields.items() if value is not None},
        }
        with self._lock:
            entry["prev"] = self._prev
            line = json.dumps(entry, ensure_ascii=True, separators=(",", ":")).encode() + b"\n"
            self._file.write(line)
            self._file.flush()
            self._prev = hashlib.sha256(line).hexdigest()

    def close(self) -> None:
        with self._lock:
            self._file.close()


def _last_hash(path: Path) -> str:
    with path.open("rb") as file:
        file.seek(0, os.SEEK_END)
        size = file.tell()
        file.seek(max(0, size - _TAIL))
        tail = file.read()
    lines = tail.splitlines(keepends=True)
    if not lines:
        return GENESIS
    last = lines[-1]
    if not last.endswith(b"\n"):  # a line cut short by a crash: chain from the cut bytes
        last += b"\n"
    return hashlib.sha256(last).hexdigest()


def verify_chain(lines: Iterable[bytes]) -> int:
    """Check the chain of a log's lines (as read, newlines included); return how many.

    Raises ValueError naming the first line whose ``prev`` is not its predecessor's hash."""
    prev = GENESIS
    count = 0
    for number, line in enumerate(lines, start=1):
        try:
            claimed = json.loads(line)["prev"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"line {number} is not an audit record") from exc
        if claimed != prev:
            raise ValueError(f"line {number} does not follow line {number - 1}")
        prev = hashlib.sha256(line if line.endswith(b"\n") else line + b"\n").hexdigest()
        count += 1
    return count
