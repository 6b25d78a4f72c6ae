"""Billing tables (decision 0108): metered usage, samplers, running instances, prices and VAT
rates, invoices and credit notes with their gapless sequences, billing profiles.

Part of the one ``MetaData`` (``andromede.db.metadata``); ``andromede.db.tables`` re-exports
every table, which the stores and the migrations import from there.
"""

from __future__ import annotations

import sqlalchemy as sa

from andromede.db.metadata import metadata
from andromede.db.types import UtcDateTime

__all__ = [
    "billing_credit_note_sequences",
    "billing_credit_notes",
    "billing_invoice_sequences",
    "billing_invoices",
    "billing_prices",
    "billing_profiles",
    "billing_runs",
    "billing_samplers",
    "billing_usage",
    "billing_vat_rates",
]

# Usage per tenant, hour, region and meter, in the meter's stored unit; only ever added to
# (INSERT … ON CONFLICT DO UPDATE quantity = quantity + excluded), so gateways add up.
billing_usage = sa.Table(
    "billing_usage",
    metadata,
    sa.Column("tenant_id", sa.Text, primary_key=True),
    sa.Column("hour", UtcDateTime, primary_key=True),
    sa.Column("region", sa.Text, primary_key=True),
    sa.Column("meter", sa.Text, primary_key=True),
    sa.Column("quantity", sa.BigInteger, nullable=False),
)
# Each sampler's watermark: the interval before it has been billed.
billing_samplers = sa.Table(
    "billing_samplers",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("sampled_at", UtcDateTime, nullable=False),
)
# Instances running now, billed up to billed_until.
billing_runs = sa.Table(
    "billing_runs",
    metadata,
    sa.Column("resource_id", sa.Text, primary_key=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("region", sa.Text, nullable=False),
    sa.Column("meter", sa.Text, nullable=False),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("billed_until", UtcDateTime, nullable=False),
)
# Prices and rates as decimal text: SQLite has no exact decimal type, and money is never float.
billing_prices = sa.Table(
    "billing_prices",
    metadata,
    sa.Column("region", sa.Text, primary_key=True),
    sa.Column("meter", sa.Text, primary_key=True),
    sa.Column("unit_price", sa.Text, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)
billing_vat_rates = sa.Table(
    "billing_vat_rates",
    metadata,
    sa.Column("region", sa.Text, primary_key=True),
    sa.Column("rate", sa.Text, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# Invoices (decision 0123): the document as issued, never changed, one per tenant and month;
# numbered from one gapless sequence per calendar year, whose last number the sequence row
# holds (locked by the transaction that issues the next).
billing_invoices = sa.Table(
    "billing_invoices",
    metadata,
    sa.Column("number", sa.Text, primary_key=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("period", sa.Text, nullable=False),
    sa.Column("issued_at", UtcDateTime, nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.UniqueConstraint("tenant_id", "period"),
)
billing_invoice_sequences = sa.Table(
    "billing_invoice_sequences",
    metadata,
    sa.Column("year", sa.Integer, primary_key=True),
    sa.Column("last_number", sa.BigInteger, nullable=False),
)
# Billing profiles and credit notes (migration 0051, decision 0126): a tenant's profile as
# JSON, the credit notes of each invoice, kept as issued, and their own gapless sequence.
billing_profiles = sa.Table(
    "billing_profiles",
    metadata,
    sa.Column("tenant_id", sa.Text, primary_key=True),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("document", sa.Text, nullable=False),
)
billing_credit_notes = sa.Table(
    "billing_credit_notes",
    metadata,
    sa.Column("number", sa.Text, primary_key=True),
    sa.Column("invoice_number", sa.Text, nullable=False),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("issued_at", UtcDateTime, nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Index(None, "invoice_number"),
    sa.Index(None, "tenant_id"),
)
billing_credit_note_sequences = sa.Table(
    "billing_credit_note_sequences",
    metadata,
    sa.Column("year", sa.Integer, primary_key=True),
    sa.Column("last_number", sa.BigInteger, nullable=False),
)
