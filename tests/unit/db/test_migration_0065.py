"""Migration 0065 (customer-managed prefix lists, decision 0149): its table comes and goes on
SQLite and on a real PostgreSQL; the downgrade refuses while a list exists (rules reference
lists by id), and goes once they are deleted."""

from __future__ import annotations

import json
from pathlib import Path

from support.migrations import check_tables_come_and_go, document_row

_TABLE = "compute_prefix_lists"
_ID = "pl-0123456789abcdef0"


def _check(url: str) -> None:
    row = document_row(_TABLE, _ID, json.dumps({"prefix_list_id": _ID, "entries": []}))
    check_tables_come_and_go(url, "0065", [_TABLE], guarded=_TABLE, row=row)


def test_on_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 'meta.db'}")


def test_on_postgresql(postgres_empty_url: str) -> None:
    _check(postgres_empty_url)
