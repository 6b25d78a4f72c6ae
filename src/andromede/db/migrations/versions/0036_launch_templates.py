"""EC2 launch templates and their versions (decision 0092): each kind its compute table, a
template's name unique in its tenant, a version's number unique in its template.

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0036"
down_revision: str | None = "0035"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEMPLATES = "compute_launch_templates"
_VERSIONS = "compute_launch_template_versions"


def _columns() -> list[sa.Column[object]]:
    return [
        sa.Column("id", key_text(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=True),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        _TEMPLATES,
        *_columns(),
        sa.Column("name", key_text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"pk_{_TEMPLATES}"),
        sa.UniqueConstraint("tenant_id", "name", name=f"uq_{_TEMPLATES}_tenant_id_name"),
    )
    op.create_index(f"ix_{_TEMPLATES}_tenant_id_id", _TEMPLATES, ["tenant_id", "id"])
    op.create_table(
        _VERSIONS,
        *_columns(),
        sa.Column("template_id", key_text(), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"pk_{_VERSIONS}"),
        sa.UniqueConstraint("template_id", "number", name=f"uq_{_VERSIONS}_template_id_number"),
    )
    op.create_index(f"ix_{_VERSIONS}_tenant_id_id", _VERSIONS, ["tenant_id", "id"])


def downgrade() -> None:
    op.drop_table(_VERSIONS)
    op.drop_table(_TEMPLATES)
