"""Migration 0022: a bucket default of ``aws:kms:dsse``, which wrote one layer of SSE-KMS, reads
``aws:kms`` with its key and bucket-key choice; every other default is left as it was. On SQLite
and on a real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import command

from andromede.db import tables
from andromede.db.database import create_engine
from andromede.db.migrate import alembic_config
from andromede.storage.model import BucketEncryption

NOW = datetime(2026, 12, 1, tzinfo=UTC)
KEY = "arn:aws:kms:eu-fr-1:111111111111:key/0b1e4c1e-7b0a-4cc8-9b7a-0f1b2c3d4e5f"
BEFORE = {
    "dual": BucketEncryption("aws:kms:dsse", KEY, True),
    "dual-no-key": BucketEncryption("aws:kms:dsse", None, False),
    "kms": BucketEncryption("aws:kms", KEY, False),
    "s3": BucketEncryption("AES256", None, True),
}


def _migrate(url: str, target: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), target)
    finally:
        engine.dispose()


def _check(url: str) -> None:
    _migrate(url, "0021")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for name, config in [*BEFORE.items(), ("none", None)]:
                conn.execute(
                    tables.buckets.insert().values(
                        name=name, tenant_id="t", owner_id="o", region="r", created_at=NOW,
                        encryption=None if config is None else config.to_json(),
                    )
                )  # fmt: skip
    finally:
        engine.dispose()
    _migrate(url, "head")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = {
                row.name: row.encryption
                for row in conn.execute(
                    sa.select(tables.buckets.c.name, tables.buckets.c.encryption)
                )
            }
    finally:
        engine.dispose()
    after = {
        name: None if text is None else BucketEncryption.from_json(text)
        for name, text in rows.items()
    }
    assert after == {
        "dual": BucketEncryption("aws:kms", KEY, True),
        "dual-no-key": BucketEncryption("aws:kms", None, False),
        "kms": BEFORE["kms"],
        "s3": BEFORE["s3"],
        "none": None,
    }


def test_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite:///{tmp_path / 'meta.db'}")


def test_postgresql(postgres_empty_url: str) -> None:
    _check(postgres_empty_url)
