"""AWS Certificate Manager (decision 0230, migration 0111): ``acm_certificates`` (each
account's imported certificates: the PEM body and chain, the private key sealed under the
account's key ring, what ACM read of the certificate as JSON, its tags, and the day its expiry
was last checked, which one gateway a day claims) and ``acm_configurations`` (each account's
``ExpiryEvents.DaysBeforeExpiry``) and ``acm_imports`` (each account's imports of the last
365 days, for AWS's quota on them).

Part of the one ``MetaData`` (``andromede.db.metadata``); ``andromede.db.tables`` re-exports
every table.
"""

from __future__ import annotations

import sqlalchemy as sa

from andromede.db.metadata import metadata
from andromede.db.types import big_id, key_text

__all__ = ["acm_certificates", "acm_configurations", "acm_imports"]

acm_certificates = sa.Table(
    "acm_certificates",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("certificate_id", key_text(), primary_key=True),
    sa.Column("region", key_text(), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("chain", sa.Text, nullable=True),
    sa.Column("sealed_key", sa.LargeBinary, nullable=False),
    sa.Column("facts", sa.Text, nullable=False),  # JSON
    sa.Column("not_after", sa.BigInteger, nullable=False),  # ms
    sa.Column("created_at", sa.BigInteger, nullable=False),  # ms
    sa.Column("imported_at", sa.BigInteger, nullable=False),  # ms
    sa.Column("tags", sa.Text, nullable=False),  # JSON list of pairs
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    # The day (since the epoch, UTC) its expiry was last checked: one gateway a day takes it.
    sa.Column("expiry_checked_day", sa.Integer, nullable=False, server_default="0"),
    # IMPORTED or PRIVATE, and the private CA that issued it.
    sa.Column("kind", key_text(), nullable=False, server_default="IMPORTED"),
    sa.Column("authority_arn", sa.Text, nullable=True),
    sa.Index("ix_acm_certificates_expiry", "region", "expiry_checked_day"),
)

acm_configurations = sa.Table(
    "acm_configurations",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("days_before_expiry", sa.Integer, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
)

acm_imports = sa.Table(
    "acm_imports",
    metadata,
    sa.Column("seq", big_id(), primary_key=True, autoincrement=True),
    sa.Column("tenant_id", key_text(), nullable=False),
    sa.Column("imported_at", sa.BigInteger, nullable=False),  # ms
    sa.Index("ix_acm_imports_tenant", "tenant_id", "imported_at"),
)
