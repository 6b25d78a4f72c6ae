"""Migration 0069 (EC2 Auto Scaling groups, decision 0156): its two tables come and go on
SQLite and on a real PostgreSQL; the downgrade refuses while a group exists (its instances
would be left with nobody to keep them), and goes once the groups are deleted."""

from __future__ import annotations

from pathlib import Path

from support.migrations import check_tables_come_and_go


def _check(url: str) -> None:
    check_tables_come_and_go(
        url,
        "0069",
        ["autoscaling_groups", "autoscaling_activities"],
        guarded="autoscaling_groups",
        row=(
            "INSERT INTO autoscaling_groups (tenant_id, name, document, format_version, revision) "
            "VALUES ('111111111111', 'web', '{}', 1, 0)",
            {},
        ),
    )


def test_on_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 'meta.db'}")


def test_on_postgresql(postgres_empty_url: str) -> None:
    _check(postgres_empty_url)
