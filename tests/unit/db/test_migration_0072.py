"""Migration 0072 (VPC gateway endpoints, decision 0160): its table comes and goes on
SQLite and on a real PostgreSQL; the downgrade refuses while an endpoint exists (routes
would name nothing), and goes once they are deleted."""

from __future__ import annotations

import json
from pathlib import Path

from support.migrations import check_tables_come_and_go, document_row

_TABLE = "compute_vpc_endpoints"
_ID = "vpce-0123456789abcdef0"


def _check(url: str) -> None:
    row = document_row(_TABLE, _ID, json.dumps({"vpc_endpoint_id": _ID}))
    check_tables_come_and_go(url, "0072", [_TABLE], guarded=_TABLE, row=row)


def test_on_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 'meta.db'}")


def test_on_postgresql(postgres_empty_url: str) -> None:
    _check(postgres_empty_url)
