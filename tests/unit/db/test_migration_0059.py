"""Migration 0059 (the audit log signing key's rotations, decision 0140): its two tables come
and go on SQLite and on a real PostgreSQL; the downgrade is refused once a key was rotated
(verifiers pinning the earlier key need the transitions), and allowed again without one."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from andromede.db.database import create_engine
from support.migrations import has_table, migrate

_TABLES = ("audit_key_transitions", "audit_key_transition_checkpoints")


def _execute(url: str, statement: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(statement))
    finally:
        engine.dispose()


def _check(url: str) -> None:
    migrate(url, "0058")
    assert not any(has_table(url, table) for table in _TABLES)
    migrate(url, "0059")
    assert all(has_table(url, table) for table in _TABLES)
    migrate(url, "0058", down=True)
    assert not any(has_table(url, table) for table in _TABLES)
    migrate(url, "0059")
    _execute(
        url,
        "INSERT INTO audit_key_transitions (key_name, generation, old_public_key,"
        " new_public_key, reason, statement, created_at) VALUES ('k', 1, X'00', X'01',"
        " 'scheduled', 's', '2026-12-05 00:00:00+00:00')"
        if url.startswith("sqlite")
        else "INSERT INTO audit_key_transitions (key_name, generation, old_public_key,"
        " new_public_key, reason, statement, created_at) VALUES ('k', 1, '\\x00', '\\x01',"
        " 'scheduled', 's', '2026-12-05 00:00:00+00:00')",
    )
    with pytest.raises(RuntimeError, match="rotated"):
        migrate(url, "0058", down=True)
    assert all(has_table(url, table) for table in _TABLES)
    _execute(url, "DELETE FROM audit_key_transitions")
    migrate(url, "0058", down=True)
    assert not any(has_table(url, table) for table in _TABLES)


def test_on_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 'meta.db'}")


def test_on_postgresql(postgres_empty_url: str) -> None:
    _check(postgres_empty_url)
