"""A private PostgreSQL for the tests, and a fresh database for each test that asks for one.

The cluster comes from ``ANDROMEDE_TEST_POSTGRES_URL`` when set (``scripts/run-tests.sh``
starts one cluster for the whole run, shared by every xdist worker), else this session starts
its own with ``scripts/postgres-cluster.sh`` in a temporary folder and stops it at the end. With
neither the URL nor Debian's PostgreSQL binaries, the tests that need it skip (and fail under
``ANDROMEDE_TEST_REQUIRE_ALL=1``).

Isolation: each test gets a database of its own, at first ``CREATE DATABASE … TEMPLATE`` of a
database this session migrated once. A migrated database a test is done with is kept by its
process (xdist worker) and given to its next test once emptied of the rows written into it, if
nothing else was changed (tests/support/postgres_reset.py: copying the template had grown to
0.5-1.4 s of a loaded machine, decision 0298); otherwise it is dropped. Names are random, so
workers sharing a cluster never meet.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from andromede.db.migrate import upgrade
from support.postgres_reset import empty_tables_again, state_of, user_tables

__all__ = [
    "PostgresCluster",
    "PrivateCluster",
    "postgres_binaries_present",
    "postgres_cluster",
    "postgres_empty_url",
    "postgres_url",
    "private_postgres",
]

ENV_URL = "ANDROMEDE_TEST_POSTGRES_URL"
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "postgres-cluster.sh"


def postgres_binaries_present() -> bool:
    bindir = os.environ.get("PG_BINDIR")
    if bindir:
        return (Path(bindir) / "initdb").exists()
    return any(Path("/usr/lib/postgresql").glob("*/bin/initdb"))


class PostgresCluster:
    """A running cluster, known by the URL of one of its databases (the role must be allowed
    to create databases)."""

    def __init__(self, url: str) -> None:
        self.url = sa.make_url(url)
        self._template: str | None = None
        self._template_state = ""
        self._tables: list[str] = []
        self._lent: set[str] = set()  # migrated databases a test has
        self._returned: list[str] = []  # migrated databases no test has, rows and all

    def url_of(self, database: str) -> str:
        return self.url.set(database=database).render_as_string(hide_password=False)

    def _connect(self, database: str) -> psycopg.Connection[tuple[object, ...]]:
        u = self.url
        return psycopg.connect(
            host=u.host,
            port=u.port,
            user=u.username,
            password=u.password,
            dbname=database,
            autocommit=True,
        )

    def _admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return self._connect("postgres")

    def create_database(self, *, migrated: bool) -> str:
        """A database of its own for a test: empty, or ``migrated`` to head (one a test of
        this process returned with :meth:`release_database`, emptied again, if it can be)."""
        while migrated and self._returned:
            name = self._returned.pop()
            if self._emptied_again(name):
                self._lent.add(name)
                return self.url_of(name)
            self._drop(name)
        name = f"t_{uuid.uuid4().hex[:16]}"
        template = self._migrated_template() if migrated else "template0"
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        if migrated:
            self._lent.add(name)
        return self.url_of(name)

    def release_database(self, url: str) -> None:
        """The test is done with the database at ``url``: a migrated one is kept for the next
        test (emptied then), another dropped."""
        name = str(sa.make_url(url).database)
        if name in self._lent:
            self._lent.discard(name)
            self._returned.append(name)
            return
        self._drop(name)

    def drop_database(self, url: str) -> None:
        name = str(sa.make_url(url).database)
        self._lent.discard(name)
        self._drop(name)

    def _drop(self, name: str) -> None:
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _emptied_again(self, name: str) -> bool:
        """Whether database ``name`` now holds what its template does (rows emptied again),
        its last test's connections closed; False if the test changed more than rows."""
        with self._admin() as conn:
            # What the test left connected (a pool, a server it stopped late) goes now, as
            # DROP DATABASE … WITH (FORCE) made it go.
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            if conn.execute(
                "SELECT 1 FROM pg_prepared_xacts WHERE database = %s", (name,)
            ).fetchone():
                return False
        try:
            with self._connect(name) as conn:
                if state_of(conn) != self._template_state:
                    return False
                empty_tables_again(conn, self._tables)
        except psycopg.Error:
            return False
        return True

    def _migrated_template(self) -> str:
        if self._template is None:
            name = f"tmpl_{uuid.uuid4().hex[:16]}"
            with self._admin() as conn:
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
            upgrade(self.url_of(name))
            with self._connect(name) as conn:
                self._template_state = state_of(conn)
                self._tables = user_tables(conn)
            self._template = name
        return self._template

    def close(self) -> None:
        for name in [*self._returned, *self._lent]:
            self._drop(name)
        self._returned.clear()
        self._lent.clear()
        if self._template is not None:
            with self._admin() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self._template}" WITH (FORCE)')
            self._template = None


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    given = os.environ.get(ENV_URL)
    if given:
        cluster = PostgresCluster(given)
        yield cluster
        cluster.close()
        return
    if not postgres_binaries_present():
        pytest.skip("PostgreSQL binaries not found (apt-get install postgresql)")
    # Not under pytest's tmp_path: as root the server runs as the `postgres` user, who cannot
    # enter pytest's 0700 base folder.
    folder = tempfile.mkdtemp(prefix="andromede-pg-")
    try:
        started = subprocess.run(
            ["bash", str(SCRIPT), "start", folder],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        cluster = PostgresCluster(started.stdout.strip().splitlines()[-1])
        try:
            yield cluster
        finally:
            cluster.close()
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", folder], capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """A fresh database of its own, migrated to head: its ``postgresql+asyncpg://`` URL."""
    url = postgres_cluster.create_database(migrated=True)
    yield url
    postgres_cluster.release_database(url)


@pytest.fixture
def postgres_empty_url(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """A fresh, empty database (no migration run yet)."""
    url = postgres_cluster.create_database(migrated=False)
    yield url
    postgres_cluster.drop_database(url)


@dataclass
class PrivateCluster:
    """A cluster of one test's own, which the test may stop and start again."""

    folder: str
    url: str

    def _script(self, action: str) -> None:
        subprocess.run(
            ["bash", str(SCRIPT), action, self.folder], check=True, capture_output=True, timeout=120
        )

    def stop(self) -> None:
        self._script("stop")

    def start(self) -> None:
        self._script("start")


@pytest.fixture
def private_postgres() -> Iterator[PrivateCluster]:
    """A cluster started for this test alone (about a second), for tests that stop it."""
    if not postgres_binaries_present():
        pytest.skip("PostgreSQL binaries not found (apt-get install postgresql)")
    folder = tempfile.mkdtemp(prefix="andromede-pg-")
    try:
        started = subprocess.run(
            ["bash", str(SCRIPT), "start", folder],
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
        yield PrivateCluster(folder, started.stdout.strip().splitlines()[-1])
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", folder], capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)
