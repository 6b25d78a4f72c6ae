"""How many of an account's rows count toward one of EventBridge's limits, read in the SQL
transaction that would pass it: the buses' (decision 0349), the archives' and replays', the
connections' and API destinations' (decision 0402).

A Region's view of a store shared by the deployment's Regions counts only its own rows, by
their stored names (``~<region>~<name>``, :mod:`andromede.regional_names`): AWS's quotas
are an account's in a Region. Which names are its is the view's to say (``counted``), so
the names are read and judged here; the rows an account may hold are bounded by that very
limit, a few thousand at most (``events_max_api_destinations``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

__all__ = ["held_rows"]


def held_rows(
    conn: Connection, names: sa.Select[Any], counted: Callable[[str], bool] | None
) -> int:
    """How many of ``names`` (a select of one column, the stored names of the account's
    rows that may count) ``counted`` keeps; all of them when it is None."""
    if counted is None:
        every = sa.select(sa.func.count()).select_from(names.subquery())
        return int(conn.scalar(every) or 0)
    return sum(1 for name in conn.execute(names).scalars() if counted(name))
