"""Migration 0069 (EC2 Auto Scaling groups, decision 0156): its two tables come and go on
SQLite and on a real PostgreSQL; the downgrade refuses while a group exists (its instances
would be left with nobody to keep them), and goes once the groups are deleted."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from andromede.db.database import create_engine
from support.migrations import has_table, migrate

_BEFORE = "0068"


def _execute(url: str, statement: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(statement))
    finally:
        engine.dispose()


def _check(url: str) -> None:
    migrate(url, _BEFORE)
    assert not has_table(url, "autoscaling_groups")
    migrate(url, "0069")
    assert has_table(url, "autoscaling_groups") and has_table(url, "autoscaling_activities")
    migrate(url, _BEFORE, down=True)
    assert not has_table(url, "autoscaling_groups")
    assert not has_table(url, "autoscaling_activities")
    migrate(url, "0069")
    _execute(
        url,
        "INSERT INTO autoscaling_groups (tenant_id, name, document, format_version, revision) "
        "VALUES ('111111111111', 'web', '{}', 1, 0)",
    )
    with pytest.raises(RuntimeError, match="autoscaling_groups"):
        migrate(url, _BEFORE, down=True)
    assert has_table(url, "autoscaling_groups")
    _execute(url, "DELETE FROM autoscaling_groups")
    migrate(url, _BEFORE, down=True)
    assert not has_table(url, "autoscaling_groups")


def test_on_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 'meta.db'}")


def test_on_postgresql(postgres_empty_url: str) -> None:
    _check(postgres_empty_url)
