"""The metadata service's lookups by index: an instance by its host and public address, a key
pair by its tenant and name. Both were filters over every instance (of every tenant) and every
key pair of the tenant, at each request of each guest.

The fields live in each record's JSON document; they are copied into columns of their own, and
the rows written before this revision get them from their documents here.

Revision ID: 0015
Revises: 0012
Create Date: 2026-11-29
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0015"
# 0013 and 0014 are being written on other branches: whoever merges them after this one makes
# this revision follow the last of them.
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table -> the document fields copied into columns of the same name, and the index over them
_LOOKUPS = {
    "compute_instances": (("host", "public_ip"), ("public_ip", "host")),
    "compute_key_pairs": (("name",), ("tenant_id", "name")),
}


def upgrade() -> None:
    connection = op.get_bind()
    for table_name, (fields, indexed) in _LOOKUPS.items():
        with op.batch_alter_table(table_name) as batch:
            for field in fields:
                batch.add_column(sa.Column(field, key_text(), nullable=True))
        table = sa.table(
            table_name, sa.column("id"), sa.column("document"), *(sa.column(f) for f in fields)
        )
        rows = connection.execute(sa.select(table.c.id, table.c.document)).all()
        for row in rows:
            document = json.loads(row.document)
            connection.execute(
                table.update()
                .where(table.c.id == row.id)
                .values({field: document.get(field) for field in fields})
            )
        op.create_index(f"ix_{table_name}_{'_'.join(indexed)}", table_name, list(indexed))


def downgrade() -> None:
    for table_name, (fields, indexed) in _LOOKUPS.items():
        op.drop_index(f"ix_{table_name}_{'_'.join(indexed)}", table_name=table_name)
        with op.batch_alter_table(table_name) as batch:
            for field in fields:
                batch.drop_column(field)
