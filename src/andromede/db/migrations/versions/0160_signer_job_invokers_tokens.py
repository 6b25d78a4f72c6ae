"""Signing jobs' invoker and client token as columns (decision 0403): ``signer_jobs.invoker``
(the account that started the job with another account's profile, "" for the owner's own
jobs) and ``signer_jobs.client_token`` (StartSigningJob's ``clientRequestToken``, NULL for
none), both copied out of the row's JSON ``definition``, where they stay.

``uq_signer_jobs_token`` makes one job per owner, invoker and token: two first calls made at
once with the same token can no longer each start a job (decision 0394 looked the token up,
then wrote). ``ix_signer_jobs_job_id`` finds a job by its id alone (DescribeSigningJob of an
invoker, who does not know the owner); ``ix_signer_jobs_invoker`` lists the jobs an account
started with others' profiles (ListSigningJobs).

Rows written before this revision may hold the same token twice: that race's trace. The
oldest job keeps its token, the later ones are backfilled NULL (each still answers under its
id; a retry answers the oldest, as the first call did).

The downgrade drops the indexes and columns: the JSON still holds both values.

Revision ID: 0160
Revises: 0159
Create Date: 2026-12-07
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0160"
down_revision: str | None = "0159"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JOBS = sa.table(
    "signer_jobs",
    sa.column("tenant_id", sa.Text()),
    sa.column("job_id", sa.Text()),
    sa.column("created", sa.BigInteger()),
    sa.column("definition", sa.Text()),
    sa.column("invoker", sa.Text()),
    sa.column("client_token", sa.Text()),
)


def upgrade() -> None:
    with op.batch_alter_table("signer_jobs") as batch:
        batch.add_column(sa.Column("invoker", key_text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("client_token", key_text(), nullable=True))
    connection = op.get_bind()
    query = sa.select(_JOBS.c.tenant_id, _JOBS.c.job_id, _JOBS.c.definition).order_by(
        _JOBS.c.created, _JOBS.c.job_id
    )
    seen: set[tuple[str, str, str]] = set()
    for tenant_id, job_id, text in connection.execute(query).all():
        document = json.loads(text)
        invoker = str(document.get("invoker") or "")
        token = str(document.get("client_token") or "")
        key = (tenant_id, invoker, token)
        kept = token if token and key not in seen else None
        seen.add(key)
        connection.execute(
            _JOBS.update()
            .where(_JOBS.c.tenant_id == tenant_id, _JOBS.c.job_id == job_id)
            .values(invoker=invoker, client_token=kept)
        )
    op.create_index("ix_signer_jobs_job_id", "signer_jobs", ["job_id"])
    op.create_index("ix_signer_jobs_invoker", "signer_jobs", ["invoker", "created"])
    op.create_index(
        "uq_signer_jobs_token",
        "signer_jobs",
        ["tenant_id", "invoker", "client_token"],
        unique=True,
    )


def downgrade() -> None:
    for index in ("uq_signer_jobs_token", "ix_signer_jobs_invoker", "ix_signer_jobs_job_id"):
        op.drop_index(index, table_name="signer_jobs")
    with op.batch_alter_table("signer_jobs") as batch:
        batch.drop_column("client_token")
        batch.drop_column("invoker")
