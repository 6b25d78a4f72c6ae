"""Migration 0068 (S3 Batch Operations, decision 0152's addendum): its two tables come and go
on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from support.migrations import check_tables_come_and_go


def _check(url: str) -> None:
    check_tables_come_and_go(url, "0068", ["batch_jobs", "batch_job_tasks"])


def test_on_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 'meta.db'}")


def test_on_postgresql(postgres_empty_url: str) -> None:
    _check(postgres_empty_url)
