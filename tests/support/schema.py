"""Fresh SQLite databases at the latest schema: migrated once per test process, copied after.

Running every migration on an empty SQLite file took 0.3 to 0.5 s on an idle CI core, over a second
when the machine is loaded, and each SQL store contract case made one: hundreds a run.
:func:`andromede.db.migrate.upgrade` now creates an empty database from the models instead
(decision 0115), and a copy is cheaper still. The copy is of what ``upgrade`` itself made from an
empty file, so a test starts from the same schema and rows; the migrations keep their own tests
(tests/unit/db), which replay them and compare the result with a created database. PostgreSQL
databases come from a migrated template already (tests/support/postgres.py)."""

from __future__ import annotations

import atexit
import shutil
import sqlite3
import tempfile
from pathlib import Path

from andromede.db.migrate import upgrade

__all__ = ["migrated_sqlite"]

_template: Path | None = None


def _migrated_template() -> Path:
    global _template
    if _template is None:
        folder = Path(tempfile.mkdtemp(prefix="andromede-schema-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        path = folder / "template.sqlite3"
        upgrade(f"sqlite:///{path}")
        # Everything into the main file, so that copying that one file copies the database.
        with sqlite3.connect(path) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        _template = path
    return _template


def migrated_sqlite(path: Path) -> str:
    """The URL of a new SQLite database at ``path`` (which must not exist), at head."""
    if path.exists():
        raise FileExistsError(path)
    shutil.copyfile(_migrated_template(), path)
    return f"sqlite:///{path}"
