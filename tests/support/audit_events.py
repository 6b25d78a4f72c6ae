"""The audit events a real server wrote, read from its SQLite database as a test inspects them:
the entries of every transparency log (decision 0105), in the order they were appended."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from andromede.audit.model import AuditEvent, parse_entry

__all__ = ["recorded_events"]


def recorded_events(database: Path) -> list[AuditEvent]:
    """Every event of every log (pruned entries have no text and are left out)."""
    with sqlite3.connect(database) as conn:
        rows = conn.execute(
            "SELECT entry FROM audit_log_entries WHERE entry IS NOT NULL ORDER BY id"
        ).fetchall()
    return [parse_entry(entry) for (entry,) in rows]
