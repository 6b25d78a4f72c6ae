"""Invoices on every store (decision 0123): the in-memory twin, SQLite and PostgreSQL (both
migrated with Alembic). Numbers come from one sequence per year with no gap and no repeat —
under issues at once, and when an invoice cannot be built —, and a tenant's month is issued
once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from andromede.billing.invoice import Invoice, Issuer, invoice_number, issue
from andromede.billing.invoices_store import InvoiceStore, MemoryInvoiceStore, SqlInvoiceStore
from andromede.billing.model import ReportLine, UsageReport, parse_month
from andromede.db.database import open_database
from support.schema import migrated_sqlite

ISSUED = datetime(2027, 1, 3, 9, 30, tzinfo=UTC)
ISSUER = Issuer("Opérateur SAS", "1 rue de la Paix\n75002 Paris", "FR12345678901", 30)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[InvoiceStore]:
    if request.param == "memory":
        yield MemoryInvoiceStore()
        return
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        url = migrated_sqlite(tmp_path / "meta.db")
    db = open_database(url)
    try:
        yield SqlInvoiceStore(db)
    finally:
        await db.close()


def _report(tenant: str, month: str = "2026-12") -> UsageReport:
    line = ReportLine(
        region="eu-fr-1", meter="s3.requests.class-a", quantity=2500, unit="request",
        usage=Decimal("2.5"), price_unit="1000 requests", unit_price=Decimal("0.005"),
        net=Decimal("0.01"), vat_rate=Decimal("0.20"), vat=Decimal("0.00"),
    )  # fmt: skip
    return UsageReport(tenant, parse_month(month), (line,))


def _builder(tenant: str, month: str = "2026-12", year: int = 2027) -> Callable[[int], Invoice]:
    issued_at = ISSUED.replace(year=year)

    def build(sequence: int) -> Invoice:
        return issue(_report(tenant, month), invoice_number("INV", year, sequence), "Acme",
                     ISSUER, issued_at)  # fmt: skip

    return build


async def test_a_month_is_issued_once_and_kept_as_issued(store: InvoiceStore) -> None:
    first, made = await store.issue("111111111111", "2026-12", 2027, _builder("111111111111"))
    assert made and first.number == "INV-2027-000001"
    again, made = await store.issue("111111111111", "2026-12", 2027, _builder("111111111111"))
    assert not made and again == first
    other, _ = await store.issue("222222222222", "2026-12", 2027, _builder("222222222222"))
    assert other.number == "INV-2027-000002"
    assert await store.invoice("INV-2027-000001") == first
    assert await store.invoice("INV-2027-000099") is None
    assert await store.invoice_of("111111111111", "2026-12") == first
    assert await store.invoice_of("111111111111", "2026-10") is None
    assert await store.invoice_of("333333333333", "2026-12") is None
    earlier, _ = await store.issue(
        "111111111111", "2026-11", 2027, _builder("111111111111", "2026-11")
    )
    assert [i.period.label for i in await store.invoices("111111111111")] == ["2026-11", "2026-12"]
    assert earlier.number == "INV-2027-000003"
    # Kept whole: the lines, the issuer, the dates, exact decimals.
    kept = await store.invoice(first.number)
    assert kept is not None and kept.lines[0].unit_price == Decimal("0.005")
    assert kept.issuer == ISSUER and kept.issued_at == ISSUED and kept.total == Decimal("0.01")
    # Another year starts its own sequence.
    next_year, _ = await store.issue(
        "111111111111", "2027-12", 2028, _builder("111111111111", "2027-12", 2028)
    )
    assert next_year.number == "INV-2028-000001"


async def test_numbers_have_no_gap_nor_repeat(store: InvoiceStore) -> None:
    """Issues at once take consecutive numbers; an invoice that cannot be built takes none."""
    tenants = [f"{n:012d}" for n in range(1, 13)]

    def failing(sequence: int) -> Invoice:
        raise RuntimeError("the report could not be made")

    with pytest.raises(RuntimeError):
        await store.issue("999999999999", "2026-12", 2027, failing)
    made = await asyncio.gather(
        *(store.issue(t, "2026-12", 2027, _builder(t)) for t in tenants),
        # The same tenant's month asked twice at once: one invoice.
        store.issue(tenants[0], "2026-12", 2027, _builder(tenants[0])),
    )
    numbers = sorted({invoice.number for invoice, _ in made})
    assert numbers == [f"INV-2027-{n:06d}" for n in range(1, 13)]
    assert sum(1 for _, new in made if new) == 12
