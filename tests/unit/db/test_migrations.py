"""The migrations reproduce ``tables.metadata`` exactly, on SQLite and on PostgreSQL, and running
them again changes nothing. An empty database is created from the models instead of through the
migrations (decision 0115): the two make the same schema, to the column order, the defaults,
the indexes, the constraints and each engine's own objects."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from andromede.db.database import create_engine
from andromede.db.migrate import _head_revision, alembic_config, upgrade
from andromede.db.tables import metadata
from andromede.db.types import UtcDateTime
from support.postgres import PostgresCluster

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


def _schema(connection: Connection) -> dict[str, Any]:
    inspector = sa.inspect(connection)
    return {
        name: (
            [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(name)],
            sorted(ix["name"] or "" for ix in inspector.get_indexes(name)),
        )
        for name in inspector.get_table_names()
    }


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database of each kind."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_empty_url"))
    return f"sqlite:///{tmp_path / 'meta.db'}"


def _schema_of(url: str) -> dict[str, Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return _schema(conn)
    finally:
        engine.dispose()


def _inspect(url: str) -> tuple[list[Any], dict[str, Any], str | None]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            diff = _diff(conn)
            schema = _schema(conn)
            version = conn.scalar(sa.text("SELECT version_num FROM alembic_version"))
    finally:
        engine.dispose()
    return diff, schema, version


def _whole_schema(connection: Connection) -> dict[str, Any]:
    """Everything of a schema that either way of making it could get wrong: each table's
    columns in order (the stores decode some rows by position) with their types, nullability,
    defaults and identity, its keys, indexes (partial ones' conditions included) and
    constraints; SQLite's triggers, views and pragmas; PostgreSQL's sequences, enums, views,
    triggers and column storage. Names the engine generated itself are left out."""
    inspector = sa.inspect(connection)
    schema: dict[str, Any] = {}
    for name in sorted(inspector.get_table_names()):
        schema[name] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], c.get("default"), c.get("identity"))
                for c in inspector.get_columns(name)
            ],
            "primary key": inspector.get_pk_constraint(name)["constrained_columns"],
            "foreign keys": sorted(
                (
                    tuple(fk["constrained_columns"]),
                    fk["referred_table"],
                    tuple(fk["referred_columns"]),
                    sorted(fk.get("options", {}).items()),
                )
                for fk in inspector.get_foreign_keys(name)
            ),
            "indexes": sorted(
                (
                    ix["name"] or "",
                    tuple(str(c) for c in ix["column_names"]),
                    bool(ix["unique"]),
                    sorted((k, str(v)) for k, v in ix.get("dialect_options", {}).items()),
                    tuple(str(e) for e in ix.get("expressions", []) or []),
                )
                for ix in inspector.get_indexes(name)
            ),
            "unique": sorted(
                (u["name"] or "", tuple(u["column_names"]))
                for u in inspector.get_unique_constraints(name)
            ),
            "checks": sorted(
                (c["name"] or "", str(c["sqltext"])) for c in inspector.get_check_constraints(name)
            ),
        }
    query = _ENGINE_OBJECTS[connection.dialect.name]
    for kind, sql in query.items():
        schema[kind] = sorted(tuple(row) for row in connection.execute(sa.text(sql)))
    return schema


_ENGINE_OBJECTS = {
    "sqlite": {
        "triggers and views": "SELECT type, name, sql FROM sqlite_master "
        "WHERE type IN ('trigger', 'view')",
        "indexes' sql": "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index'",
        "user_version": "PRAGMA user_version",
        "application_id": "PRAGMA application_id",
    },
    "postgresql": {
        "sequences": "SELECT sequencename, data_type::text, start_value, increment_by "
        "FROM pg_sequences WHERE schemaname = 'public'",
        "enums": "SELECT t.typname, e.enumlabel, e.enumsortorder FROM pg_type t "
        "JOIN pg_enum e ON e.enumtypid = t.oid",
        "views": "SELECT viewname, definition FROM pg_views WHERE schemaname = 'public'",
        "triggers": "SELECT tgrelid::regclass::text, tgname FROM pg_trigger WHERE NOT tgisinternal",
        "column storage": "SELECT c.relname, a.attname, a.attstorage FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 "
        "AND NOT a.attisdropped",
        "functions": "SELECT p.proname FROM pg_proc p JOIN pg_namespace n "
        "ON n.oid = p.pronamespace WHERE n.nspname = 'public'",
    },
}


@pytest.fixture(scope="module")
def replayed_sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('replayed') / 'meta.db'}"
    upgrade(url, replay=True)
    return url


@pytest.fixture(scope="module")
def replayed_postgresql_url(postgres_cluster: PostgresCluster) -> Iterator[str]:
    url = str(postgres_cluster.create_database(migrated=False))
    upgrade(url, replay=True)
    yield url
    postgres_cluster.drop_database(url)


@pytest.fixture
def replayed_url(request: pytest.FixtureRequest, empty_url: str) -> str:
    """A database of the same kind as ``empty_url`` taken through every migration, once per
    kind and module: replaying the ~140 migrations was most of this file's time (25 s of CPU
    a run) when four tests of each kind replayed their own. Its tests only read it."""
    kind = "sqlite" if empty_url.startswith("sqlite") else "postgresql"
    return str(request.getfixturevalue(f"replayed_{kind}_url"))


def _whole_schema_of(url: str) -> dict[str, Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return _whole_schema(conn)
    finally:
        engine.dispose()


def test_a_fresh_database_is_the_migrated_schema(empty_url: str, replayed_url: str) -> None:
    upgrade(empty_url)  # created from the models, stamped at head
    created = _whole_schema_of(empty_url)
    migrated = _whole_schema_of(replayed_url)  # through every migration
    assert set(created) == set(migrated)
    for part in sorted(migrated):
        assert created[part] == migrated[part], part
    assert _inspect(empty_url)[2] == HEAD


def test_alembic_reads_the_stamp_of_a_created_database(empty_url: str) -> None:
    # upgrade writes the version table of a database it creates itself, without Alembic: Alembic
    # must read it as its own, and find nothing to do.
    from alembic.runtime.migration import MigrationContext

    upgrade(empty_url)
    engine = create_engine(empty_url)
    try:
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == HEAD
    finally:
        engine.dispose()
    upgrade(empty_url, replay=True)  # Alembic's own upgrade from that stamp: a no-op
    diff, _, version = _inspect(empty_url)
    assert diff == []
    assert version == HEAD


def test_the_whole_schema_comparison_sees_a_missing_index(empty_url: str) -> None:
    # Guard against a comparison that cannot fail (the test above compares with it). The
    # database is created from the models: what is checked is the comparison, not the history.
    upgrade(empty_url)
    before = _whole_schema_of(empty_url)
    engine = create_engine(empty_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP INDEX ix_parts_blob_id"))
    finally:
        engine.dispose()
    assert _whole_schema_of(empty_url)["parts"] != before["parts"]


def test_upgrade_matches_metadata(replayed_url: str) -> None:
    diff, schema, version = _inspect(replayed_url)
    assert diff == []
    assert version == HEAD
    assert set(schema) == set(metadata.tables) | {"alembic_version"}


def test_upgrade_twice_is_a_no_op(empty_url: str) -> None:
    url = empty_url
    upgrade(url)
    before = _schema_of(url)  # the comparison with the models is made once, after
    upgrade(url)
    diff, after, version = _inspect(url)
    assert diff == []
    assert after == before
    assert version == HEAD


def test_a_diff_is_detected(empty_url: str) -> None:
    # Guard against a comparison that cannot fail: a schema missing a column must show up (on
    # a database created from the models: what is checked is the comparison, not the history).
    url = empty_url
    upgrade(url)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP INDEX ix_parts_blob_id"))
            diff = _diff(conn)
    finally:
        engine.dispose()
    assert diff and diff[0][0] == "add_index"


def test_gateways_starting_together_migrate_once(empty_url: str) -> None:
    # Several gateways run the migrations at the same moment: all succeed, the schema is whole.
    errors: list[BaseException] = []

    def migrate() -> None:
        try:
            upgrade(empty_url)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=migrate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    diff, _, version = _inspect(empty_url)
    assert diff == []
    assert version == HEAD


def test_timestamps_are_timestamptz_on_postgresql(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            columns = {c["name"]: c["type"] for c in sa.inspect(conn).get_columns("objects")}
    finally:
        engine.dispose()
    assert isinstance(columns["last_modified"], sa.DateTime)
    assert columns["last_modified"].timezone is True


def test_inline_bytes_are_never_compressed_on_postgresql(postgres_url: str) -> None:
    # Ciphertext does not compress; EXTERNAL spares PostgreSQL the attempt (decision 0028),
    # for current objects (migration 0016) and noncurrent versions (migration 0045) alike.
    engine = create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            storage = dict(
                conn.execute(
                    sa.text(
                        "SELECT attrelid::regclass::text, attstorage FROM pg_attribute "
                        "WHERE attrelid IN ('objects'::regclass, 'object_versions'::regclass) "
                        "AND attname = 'inline_data'"
                    )
                ).all()
            )
    finally:
        engine.dispose()
    assert storage == {"objects": "e", "object_versions": "e"}


# The buckets table as migration 0001 left it (tables.py has moved on).
buckets_0001 = sa.Table(
    "buckets",
    sa.MetaData(),
    sa.Column("name", sa.Text),
    sa.Column("tenant_id", sa.Text),
    sa.Column("owner_id", sa.Text),
    sa.Column("region", sa.Text),
    sa.Column("created_at", UtcDateTime),
)


def test_buckets_made_before_0002_keep_acls_disabled_and_no_public_access_block(
    empty_url: str,
) -> None:
    url = empty_url
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0001")
            conn.execute(
                sa.insert(buckets_0001).values(
                    name="old",
                    tenant_id="t",
                    owner_id="o",
                    region="eu",
                    created_at=datetime(2026, 1, 1, tzinfo=UTC),
                )
            )
        upgrade(url)
        with engine.connect() as conn:
            row = conn.execute(
                sa.text(
                    "SELECT object_ownership, policy_digest, public_access_block FROM buckets "
                    "WHERE name = 'old'"
                )
            ).one()
    finally:
        engine.dispose()
    assert tuple(row) == ("BucketOwnerEnforced", None, None)


def test_bucket_policies_move_out_of_the_bucket_row_in_0017_and_back_on_downgrade(
    empty_url: str,
) -> None:
    url = empty_url
    engine = create_engine(url)
    buckets_0016 = sa.table(
        "buckets",
        sa.column("name", sa.Text()),
        sa.column("tenant_id", sa.Text()),
        sa.column("owner_id", sa.Text()),
        sa.column("region", sa.Text()),
        sa.column("created_at", UtcDateTime()),
        sa.column("policy", sa.Text()),
    )
    policy = '{"Version": "2012-10-17", "Statement": [], "Id": "é' + "x" * 6000 + '"}'
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0016")
            for name, text in (("with", policy), ("without", None)):
                conn.execute(
                    sa.insert(buckets_0016).values(
                        name=name,
                        tenant_id="t",
                        owner_id="o",
                        region="eu",
                        created_at=datetime(2026, 1, 1, tzinfo=UTC),
                        policy=text,
                    )
                )
        upgrade(url)
        with engine.connect() as conn:
            digests = {
                name: digest
                for name, digest in conn.execute(sa.text("SELECT name, policy_digest FROM buckets"))
            }
            moved = conn.execute(sa.text("SELECT bucket, policy FROM bucket_policies")).all()
        with engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0016")
        with engine.connect() as conn:
            back = {
                name: text
                for name, text in conn.execute(sa.text("SELECT name, policy FROM buckets"))
            }
            tables = sa.inspect(conn).get_table_names()
    finally:
        engine.dispose()
    assert digests == {"with": hashlib.sha256(policy.encode()).hexdigest(), "without": None}
    assert [tuple(row) for row in moved] == [("with", policy)]
    assert back == {"with": policy, "without": None}
    assert "bucket_policies" not in tables


def test_subnets_made_before_0013_get_distinct_vxlan_ids_and_new_ones_cannot_reuse_them(
    empty_url: str,
) -> None:
    url = empty_url
    engine = create_engine(url)
    subnets_0012 = sa.table(
        "compute_subnets",
        sa.column("id", sa.Text()),
        sa.column("tenant_id", sa.Text()),
        sa.column("document", sa.Text()),
        sa.column("format_version", sa.Integer()),
        sa.column("revision", sa.BigInteger()),
    )
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "0012")
            for number in range(3):
                conn.execute(
                    sa.insert(subnets_0012).values(
                        id=f"subnet-{number:017x}",
                        tenant_id="t",
                        document="{}",
                        format_version=1,
                        revision=0,
                    )
                )
        upgrade(url)
        with engine.connect() as conn:
            vnis = conn.execute(sa.text("SELECT vni FROM compute_subnets ORDER BY id")).scalars()
            found = list(vnis)
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO compute_subnets (id, tenant_id, document, format_version,"
                    " revision, vni) VALUES ('subnet-new', 't', '{}', 1, 0, :vni)"
                ),
                {"vni": found[0]},
            )
    finally:
        engine.dispose()
    assert len(set(found)) == 3 and all(1 <= vni < 2**24 for vni in found)


def test_the_head_read_from_the_file_names_is_alembics() -> None:
    # upgrade() skips Alembic when a database is at this head: it must be Alembic's own.
    assert _head_revision() == HEAD


def test_a_database_at_head_is_checked_without_importing_alembic(tmp_path: Path) -> None:
    # Most starts find the schema at head: they need neither Alembic (0.2 s of imports) nor
    # the migration scripts. A fresh interpreter: this one has imported Alembic already. It
    # imports the migrator alone: that the platform's own import (andromede.app, 3.6 s of CPU)
    # pulls in neither Alembic nor mako is tests/unit/cli/test_start_imports.py's check.
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    upgrade(url)
    script = (
        "import sys\n"
        "from andromede.db.migrate import upgrade\n"
        f"upgrade({url!r})\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]"
