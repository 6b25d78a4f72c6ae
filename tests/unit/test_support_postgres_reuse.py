"""A migrated test database a test is done with is given to the next test emptied, as a new copy
of the template would be, or dropped when the test changed more than rows
(tests/support/postgres.py, tests/support/postgres_reset.py, decision 0298)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa

from support.postgres import PostgresCluster


def _connect(url: str) -> psycopg.Connection[tuple[object, ...]]:
    u = sa.make_url(url)
    return psycopg.connect(
        host=u.host,
        port=u.port,
        user=u.username,
        password=u.password,
        dbname=u.database,
        autocommit=True,
    )


@pytest.fixture
def cluster(postgres_cluster: PostgresCluster) -> Iterator[PostgresCluster]:
    """The session's cluster seen afresh: a pool of its own, dropped after the test."""
    own = PostgresCluster(postgres_cluster.url.render_as_string(hide_password=False))
    yield own
    own.close()


def _rows(url: str, table: str) -> int:
    with _connect(url) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
        assert row is not None and isinstance(row[0], int)
        return row[0]


def test_a_released_database_comes_back_empty_and_its_sequences_started_again(
    cluster: PostgresCluster,
) -> None:
    url = cluster.create_database(migrated=True)
    with _connect(url) as conn:
        first = conn.execute("SELECT nextval('audit_events_id_seq')").fetchone()
        conn.execute(
            "INSERT INTO buckets (name, tenant_id, owner_id, region, created_at) "
            "VALUES ('photos', '111111111111', '111111111111', 'eu-fr-1', now())"
        )
    kept = _connect(url)  # a connection the test left open: it goes at the next checkout
    assert _rows(url, "buckets") == 1
    cluster.release_database(url)
    again = cluster.create_database(migrated=True)
    assert again == url  # the same database, given again
    assert _rows(again, "buckets") == 0
    with _connect(again) as conn:
        assert conn.execute("SELECT nextval('audit_events_id_seq')").fetchone() == first
    assert kept.closed or _closed_by_server(kept)
    cluster.release_database(again)


def _closed_by_server(conn: psycopg.Connection[tuple[object, ...]]) -> bool:
    try:
        conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return True
    return False


@pytest.mark.parametrize(
    "change",
    [
        "DROP INDEX ix_parts_blob_id",
        "CREATE TABLE leftover (id integer)",
        "ALTER TABLE buckets ALTER COLUMN object_ownership SET DEFAULT 'ObjectWriter'",
        "UPDATE alembic_version SET version_num = '0001'",
    ],
)
def test_a_database_changed_otherwise_than_by_rows_is_dropped(
    cluster: PostgresCluster, change: str
) -> None:
    url = cluster.create_database(migrated=True)
    with _connect(url) as conn:
        conn.execute(change)
    cluster.release_database(url)
    again = cluster.create_database(migrated=True)
    assert again != url
    with _connect(cluster.url_of("postgres")) as conn:
        gone = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (sa.make_url(url).database,)
        ).fetchone()
    assert gone is None
    cluster.release_database(again)
