"""AWS Signer and Lambda's code signing (decision 0386, migration 0156): ``signer_profiles``
(one row per account and profile name, the private key sealed under the account's key ring),
``signer_jobs`` (one row per signing job; migration 0160 adds its invoker and client token as
columns, the token unique per owner and invoker, and indexes its id and its invoker: decision
0403; migration 0161 the members the listings filter on, and the owner's listing order:
decision 0409), ``lambda_code_signing_configs`` (one row per code
signing configuration) and ``lambda_function_code_signing`` (the configuration a function
uses). The members of each as one JSON ``definition``. Part of the one ``MetaData``;
``andromede.db.tables`` re-exports them.
"""

from __future__ import annotations

import sqlalchemy as sa

from andromede.db.metadata import metadata
from andromede.db.types import key_text

__all__ = [
    "lambda_code_signing_configs",
    "lambda_function_code_signing",
    "signer_jobs",
    "signer_profiles",
]

signer_profiles = sa.Table(
    "signer_profiles",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("name", key_text(), primary_key=True),
    sa.Column("definition", sa.Text, nullable=False),  # JSON: version, validity, status…
    sa.Column("sealed_key", sa.LargeBinary, nullable=False),  # PKCS#8, sealed
    sa.Column("format_version", sa.Integer, nullable=False),
    # ListSigningProfiles' filters (decision 0409), copies of the definition's members.
    sa.Column("status", key_text(), nullable=False, server_default="Active"),
    sa.Column("platform_id", key_text(), nullable=False, server_default=""),
)

signer_jobs = sa.Table(
    "signer_jobs",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("job_id", key_text(), primary_key=True),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("definition", sa.Text, nullable=False),  # JSON: source, destination, status…
    sa.Column("format_version", sa.Integer, nullable=False),
    # The account that started the job with another account's profile ("": the owner).
    sa.Column("invoker", key_text(), nullable=False, server_default=""),
    # StartSigningJob's clientRequestToken (NULL: none): one job per owner, invoker and token.
    sa.Column("client_token", key_text(), nullable=True),
    # ListSigningJobs' filters (decision 0409), copies of the definition's members, written
    # with each change of the job: its status, platform, requester, signature's expiry and
    # revocation time (NULL: none).
    sa.Column("status", key_text(), nullable=False, server_default="InProgress"),
    sa.Column("platform_id", key_text(), nullable=False, server_default=""),
    sa.Column("requested_by", key_text(), nullable=False, server_default=""),
    sa.Column("expires", sa.BigInteger, nullable=True),
    sa.Column("revoked_at", sa.BigInteger, nullable=True),
    sa.Index("ix_signer_jobs_job_id", "job_id"),
    # The owner's listing, newest first, paged by (created, job_id).
    sa.Index("ix_signer_jobs_listing", "tenant_id", "created", "job_id"),
    sa.Index("ix_signer_jobs_invoker", "invoker", "created"),
    sa.Index("uq_signer_jobs_token", "tenant_id", "invoker", "client_token", unique=True),
)

lambda_code_signing_configs = sa.Table(
    "lambda_code_signing_configs",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("config_id", key_text(), primary_key=True),
    sa.Column("definition", sa.Text, nullable=False),  # JSON: publishers, policy…
    sa.Column("format_version", sa.Integer, nullable=False),
)

lambda_function_code_signing = sa.Table(
    "lambda_function_code_signing",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("name", key_text(), primary_key=True),
    sa.Column("config_id", key_text(), nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
)
