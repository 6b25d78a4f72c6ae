"""The one ``MetaData`` every table of Andromède is declared on (``tables_*.py``), with the
naming convention that gives constraints deterministic names."""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["metadata"]

# Deterministic constraint names, so migrations can name what they alter or drop.
metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
