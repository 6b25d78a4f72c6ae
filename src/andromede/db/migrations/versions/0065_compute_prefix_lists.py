"""Customer-managed prefix lists (decision 0149): a compute table of JSON documents, each
list with its current entries and its kept earlier versions. Nothing is backfilled: no rule
stored before references a list (they were refused).

Revision ID: 0065
Revises: 0064
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0065"
# 0065 is another branch's of this session; the lead chains this one after it at merge.
down_revision: str | None = "0064"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "compute_prefix_lists"


def upgrade() -> None:
    op.create_table(
        _TABLE,
        sa.Column("id", key_text(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=True),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"pk_{_TABLE}"),
    )
    op.create_index(f"ix_{_TABLE}_tenant_id_id", _TABLE, ["tenant_id", "id"])


def downgrade() -> None:
    # Security group rules name their lists in the groups' documents: without the lists they
    # would reference nothing, and the hosts would drop what they let through. Refused while
    # a list exists (a list referenced by no rule is deleted first by its owner).
    bind = op.get_bind()
    held = bind.execute(sa.text(f"SELECT COUNT(*) FROM {_TABLE}")).scalar()  # noqa: S608
    if held:
        raise RuntimeError(f"{_TABLE} holds managed prefix lists: the downgrade would lose them")
    op.drop_table(_TABLE)
