"""The tables, declared by concern in ``db/tables_*.py``: what the split promised.

``andromede.db.tables`` still holds every table of the one ``metadata`` under its own name (the
stores use ``tables.objects``, the migrations ``tables.metadata``), each table is declared in
exactly one module of the split, and each module stays under STYLE.md's 800 lines with a
docstring saying what it owns. That the tables themselves are unchanged is
``test_migrations.py``'s: the migrated schema must still equal ``metadata``.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import sqlalchemy as sa

from andromede.db import metadata as metadata_module
from andromede.db import tables

DB = Path(tables.__file__).parent
SPLIT = sorted(path.stem for path in DB.glob("tables_*.py"))


def test_every_table_is_an_attribute_of_tables() -> None:
    assert tables.metadata is metadata_module.metadata
    assert [n for n, t in tables.metadata.tables.items() if getattr(tables, n, None) is not t] == []
    exported = {name: getattr(tables, name) for name in tables.__all__}
    assert {n for n, v in exported.items() if isinstance(v, sa.Table)} == set(
        tables.metadata.tables
    )


def test_each_table_is_declared_in_one_module() -> None:
    homes: dict[str, list[str]] = {}
    for stem in SPLIT:
        module = importlib.import_module(f"andromede.db.{stem}")
        for name in module.__all__:
            table = getattr(module, name)
            assert isinstance(table, sa.Table)
            assert table.metadata is tables.metadata
            homes.setdefault(name, []).append(stem)
    assert {n: h for n, h in homes.items() if len(h) != 1} == {}
    assert set(homes) == set(tables.metadata.tables)


@pytest.mark.parametrize("stem", [*SPLIT, "tables", "metadata"])
def test_modules_are_small_and_say_what_they_own(stem: str) -> None:
    module = importlib.import_module(f"andromede.db.{stem}")
    assert module.__doc__
    assert len((DB / f"{stem}.py").read_text().splitlines()) < 800
