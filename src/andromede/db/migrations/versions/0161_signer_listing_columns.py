"""The members AWS Signer's listings filter on, as columns (decision 0409): a profile's
``status`` and ``platform_id``; a job's ``status``, ``platform_id``, ``requested_by``,
``expires`` (its signature's expiry, NULL before one) and ``revoked_at`` (NULL while not
revoked), each copied out of the row's JSON ``definition``, where they stay.
ListSigningProfiles and ListSigningJobs filter in the query and page by keyset instead of
reading an account's every row; ``ix_signer_jobs_listing`` (owner, created, id) serves the
owner's jobs newest first (the invoker's have ``ix_signer_jobs_invoker`` since 0160; the
profiles' primary key, account and name, serves theirs).

The downgrade drops the index and the columns: the JSON still holds every value.

Revision ID: 0161
Revises: 0160
Create Date: 2026-12-07
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0161"
down_revision: str | None = "0160"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PROFILES = sa.table(
    "signer_profiles",
    sa.column("tenant_id", sa.Text()),
    sa.column("name", sa.Text()),
    sa.column("definition", sa.Text()),
    sa.column("status", sa.Text()),
    sa.column("platform_id", sa.Text()),
)
_JOBS = sa.table(
    "signer_jobs",
    sa.column("tenant_id", sa.Text()),
    sa.column("job_id", sa.Text()),
    sa.column("definition", sa.Text()),
    sa.column("status", sa.Text()),
    sa.column("platform_id", sa.Text()),
    sa.column("requested_by", sa.Text()),
    sa.column("expires", sa.BigInteger()),
    sa.column("revoked_at", sa.BigInteger()),
)
_JOB_COLUMNS = ("status", "platform_id", "requested_by", "expires", "revoked_at")


def _number(value: object) -> int | None:
    return None if value is None else int(str(value))


def upgrade() -> None:
    with op.batch_alter_table("signer_profiles") as batch:
        batch.add_column(sa.Column("status", key_text(), nullable=False, server_default="Active"))
        batch.add_column(sa.Column("platform_id", key_text(), nullable=False, server_default=""))
    with op.batch_alter_table("signer_jobs") as batch:
        batch.add_column(
            sa.Column("status", key_text(), nullable=False, server_default="InProgress")
        )
        batch.add_column(sa.Column("platform_id", key_text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("requested_by", key_text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("expires", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("revoked_at", sa.BigInteger(), nullable=True))
    connection = op.get_bind()
    profiles = sa.select(_PROFILES.c.tenant_id, _PROFILES.c.name, _PROFILES.c.definition)
    for tenant_id, name, text in connection.execute(profiles).all():
        document = json.loads(text)
        connection.execute(
            _PROFILES.update()
            .where(_PROFILES.c.tenant_id == tenant_id, _PROFILES.c.name == name)
            .values(
                status=str(document.get("status") or "Active"),
                platform_id=str(document.get("platform_id") or ""),
            )
        )
    jobs = sa.select(_JOBS.c.tenant_id, _JOBS.c.job_id, _JOBS.c.definition)
    for tenant_id, job_id, text in connection.execute(jobs).all():
        document = json.loads(text)
        connection.execute(
            _JOBS.update()
            .where(_JOBS.c.tenant_id == tenant_id, _JOBS.c.job_id == job_id)
            .values(
                status=str(document.get("status") or "InProgress"),
                platform_id=str(document.get("platform_id") or ""),
                requested_by=str(document.get("requested_by") or ""),
                expires=_number(document.get("expires")),
                revoked_at=_number(document.get("revoked_at")),
            )
        )
    op.create_index("ix_signer_jobs_listing", "signer_jobs", ["tenant_id", "created", "job_id"])


def downgrade() -> None:
    op.drop_index("ix_signer_jobs_listing", table_name="signer_jobs")
    with op.batch_alter_table("signer_jobs") as batch:
        for column in reversed(_JOB_COLUMNS):
            batch.drop_column(column)
    with op.batch_alter_table("signer_profiles") as batch:
        batch.drop_column("platform_id")
        batch.drop_column("status")
