"""Access point tags in a column of their own (decision 0392's addendum): ``access_points.tags``,
a JSON list of ``[key, value]`` pairs in their order as the other tables keep tag sets, not
null, ``[]`` by default.

Decision 0392 kept an access point's tags inside its ``public_access_block`` column, the row's
format 2: the settings document ``{"block": [...], "tags": [[key, value], ...]}``. The upgrade
moves the tags of every format-2 row into the column and writes ``public_access_block`` back in
its format-1 shape (Block Public Access's four switches alone, as ``PublicAccessBlock`` writes
them), ``format_version`` 1 again: the column says what it holds, and every release reads the
row — the one before 0392 parses that column as a list of four switches and nothing else.

The downgrade folds the tags back: a row with tags becomes format 2 again, a row without stays
format 1, then the column goes. The release that runs on revision 0158 last is 0392's, which
reads both formats; dropping the tags instead would lose them for it — the customer's tags,
which its ``aws:ResourceTag`` conditions decide on (a ``Deny`` on a tag would stop denying).
Going further back, to the release before 0392, was 0392's own question: that release reads
a format-2 row's Block Public Access as all four switches on (it takes the document for the
list), which refuses more, never less, until the row is upgraded again.

The rows are read and written as the table stores them; nothing is imported from the code: a
migration must not change when the code does. Run again, the upgrade finds no format-2 row.

Revision ID: 0159
Revises: 0158
Create Date: 2026-12-07
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0159"
down_revision: str | None = "0158"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_POINTS = sa.table(
    "access_points",
    sa.column("tenant_id", sa.Text()),
    sa.column("name", sa.Text()),
    sa.column("public_access_block", sa.Text()),
    sa.column("format_version", sa.Integer()),
    sa.column("tags", sa.Text()),
)


def _switches(block: Any) -> str:
    """Block Public Access in its format-1 text: ``[true, false, ...]`` as json.dumps writes
    a list of four booleans (``PublicAccessBlock.to_json``)."""
    return json.dumps([bool(flag) for flag in block])


def _pairs(tags: Any) -> str:
    return json.dumps([[str(k), str(v)] for k, v in tags])


def upgrade() -> None:
    with op.batch_alter_table("access_points") as batch:
        batch.add_column(sa.Column("tags", sa.Text(), nullable=False, server_default="[]"))
    connection = op.get_bind()
    key = (_POINTS.c.tenant_id, _POINTS.c.name, _POINTS.c.public_access_block)
    rows = connection.execute(sa.select(*key).where(_POINTS.c.format_version >= 2)).all()
    for tenant_id, name, text in rows:
        document = json.loads(text)
        connection.execute(
            _POINTS.update()
            .where(_POINTS.c.tenant_id == tenant_id, _POINTS.c.name == name)
            .values(
                public_access_block=_switches(document["block"]),
                format_version=1,
                tags=_pairs(document.get("tags") or []),
            )
        )


def _merged(column: list[list[str]], document: list[list[str]]) -> list[list[str]]:
    """The column's tags, then a format-2 document's over them key by key: what a gateway of
    0392's release tagged while the upgraded release already served (the store reads it so)."""
    merged = {str(k): str(v) for k, v in column}
    merged.update((str(k), str(v)) for k, v in document)
    return [[k, v] for k, v in merged.items()]


def downgrade() -> None:
    # The tags go back into the settings document, the only place 0392's release reads them
    # (the module's docstring says why they are not dropped).
    connection = op.get_bind()
    columns = (
        _POINTS.c.tenant_id,
        _POINTS.c.name,
        _POINTS.c.public_access_block,
        _POINTS.c.format_version,
        _POINTS.c.tags,
    )
    for tenant_id, name, text, version, tags in connection.execute(sa.select(*columns)).all():
        settings = json.loads(text)
        if version >= 2:  # written by a gateway of 0392's release since the upgrade
            block, pairs = settings["block"], _merged(json.loads(tags), settings["tags"])
        else:
            block, pairs = settings, json.loads(tags)
        if not pairs:
            continue  # no tags: the row stays as it is (format 1, or 2 as 0392 wrote it)
        document = {"block": [bool(flag) for flag in block], "tags": pairs}
        connection.execute(
            _POINTS.update()
            .where(_POINTS.c.tenant_id == tenant_id, _POINTS.c.name == name)
            .values(public_access_block=json.dumps(document), format_version=2)
        )
    with op.batch_alter_table("access_points") as batch:
        batch.drop_column("tags")
