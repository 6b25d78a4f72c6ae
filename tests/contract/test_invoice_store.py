"""Invoices on every store (decision 0123): the in-memory twin, SQLite and PostgreSQL (both
migrated with Alembic). Numbers come from one sequence per year with no gap and no repeat —
under issues at once, and when an invoice cannot be built —, and a tenant's month is issued
once. Credit notes (decision 0126): their own gapless sequence, under credit notes at once on
one invoice and on several, and what is credited never above the invoice, concurrent credit
notes included; billing profiles kept whole and replaced."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from andromede.billing.credit_note import CreditNote, CreditRequest, credit, parse_request
from andromede.billing.errors import NoSuchInvoice, OverCredit
from andromede.billing.invoice import Invoice, Issuer, invoice_number, issue
from andromede.billing.invoices_store import (
    CreditBuild,
    InvoiceStore,
    MemoryInvoiceStore,
    SqlInvoiceStore,
)
from andromede.billing.model import ReportLine, UsageReport, parse_month
from andromede.billing.profile import BillingProfile
from andromede.billing.profiles_store import (
    BillingProfileStore,
    MemoryBillingProfileStore,
    SqlBillingProfileStore,
)
from support.store_backends import BACKENDS, backend_database

ISSUED = datetime(2027, 1, 3, 9, 30, tzinfo=UTC)
ISSUER = Issuer(
    "Opérateur SAS",
    "1 rue de la Paix\n75002 Paris",
    "FR12345678901",
    30,
    iban="FR7630006000011234567890189",
    bic="AGRIFRPP882",
)


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[InvoiceStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryInvoiceStore() if db is None else SqlInvoiceStore(db)


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
    # Kept whole: the lines, the issuer (its bank account too), the dates, exact decimals.
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


# -- credit notes and billing profiles (decision 0126) ------------------------------------------

CREDITED = datetime(2027, 2, 1, 8, 0, tzinfo=UTC)


def _crediting(request: CreditRequest, year: int = 2027) -> CreditBuild:
    def build(sequence: int, invoice: Invoice, earlier: list[CreditNote]) -> CreditNote:
        return credit(invoice, earlier, request, invoice_number("AV", year, sequence), CREDITED)

    return build


def _big_report(tenant: str) -> UsageReport:
    line = ReportLine(
        region="eu-fr-1", meter="s3.storage", quantity=1, unit="byte-hours",
        usage=Decimal("100"), price_unit="GiB-month", unit_price=Decimal("1"),
        net=Decimal("100.00"), vat_rate=Decimal("0.20"), vat=Decimal("20.00"),
    )  # fmt: skip
    return UsageReport(tenant, parse_month("2026-12"), (line,))


async def _invoice_of_100(store: InvoiceStore, tenant: str) -> Invoice:
    def build(sequence: int) -> Invoice:
        return issue(_big_report(tenant), invoice_number("INV", 2027, sequence), "Acme",
                     ISSUER, ISSUED)  # fmt: skip

    invoice, _ = await store.issue(tenant, "2026-12", 2027, build)
    return invoice


async def test_credit_notes_are_kept_as_issued_and_never_exceed_the_invoice(
    store: InvoiceStore,
) -> None:
    tenant = "111111111111"
    invoice = await _invoice_of_100(store, tenant)
    first = await store.credit(
        tenant, invoice.number, 2027, _crediting(parse_request("rebate", [(0, "30.00")]))
    )
    assert first.number == "AV-2027-000001" and first.total == Decimal("-36.00")
    # More than remains is refused, and takes no number.
    with pytest.raises(OverCredit):
        await store.credit(
            tenant, invoice.number, 2027, _crediting(parse_request("too much", [(0, "70.01")]))
        )
    rest = await store.credit(tenant, invoice.number, 2027, _crediting(parse_request("rest", None)))
    assert rest.number == "AV-2027-000002" and rest.total == Decimal("-84.00")
    with pytest.raises(OverCredit):
        await store.credit(tenant, invoice.number, 2027, _crediting(parse_request("more", None)))
    # Another tenant's invoice, or no invoice, is not found.
    for owner, number in (("222222222222", invoice.number), (tenant, "INV-2027-000099")):
        with pytest.raises(NoSuchInvoice):
            await store.credit(owner, number, 2027, _crediting(parse_request("x", None)))
    assert await store.credit_notes(tenant, invoice.number) == [first, rest]
    assert await store.credit_notes(tenant) == [first, rest]
    assert await store.credit_notes("222222222222") == []
    assert await store.credit_note(first.number) == first
    assert await store.credit_note("AV-2027-000009") is None
    kept = await store.credit_note(rest.number)
    assert kept is not None and kept.reason == "rest" and kept.issuer == ISSUER
    # Another year starts its own sequence; the invoices' sequence is apart.
    other = await _invoice_of_100(store, "333333333333")
    assert other.number == "INV-2027-000002"
    next_year = await store.credit(
        "333333333333", other.number, 2028, _crediting(parse_request("x", [(0, "1")]), 2028)
    )
    assert next_year.number == "AV-2028-000001"


async def test_credit_notes_at_once_take_consecutive_numbers_and_never_over_credit(
    store: InvoiceStore,
) -> None:
    """Six credit notes of 40.00 on one invoice of 100.00 net, and one on each of six other
    invoices, all at once: two of the first six are issued (a third would exceed the
    invoice), the six others are, and the eight take AV-…-000001 to 000008."""
    tenants = [f"{n:012d}" for n in range(1, 8)]
    invoices = [await _invoice_of_100(store, t) for t in tenants]
    forty = parse_request("forty", [(0, "40.00")])
    results = await asyncio.gather(
        *(store.credit(tenants[0], invoices[0].number, 2027, _crediting(forty)) for _ in range(6)),
        *(
            store.credit(t, i.number, 2027, _crediting(forty))
            for t, i in zip(tenants[1:], invoices[1:], strict=True)
        ),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(refused) == 4 and all(isinstance(r, OverCredit) for r in refused), refused
    notes = [r for r in results if isinstance(r, CreditNote)]
    assert sorted(n.number for n in notes) == [f"AV-2027-{n:06d}" for n in range(1, 9)]
    on_first = await store.credit_notes(tenants[0], invoices[0].number)
    assert len(on_first) == 2
    assert -sum((n.total for n in on_first), Decimal(0)) <= invoices[0].total


@pytest.fixture(params=BACKENDS)
async def profiles(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[BillingProfileStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryBillingProfileStore() if db is None else SqlBillingProfileStore(db)


async def test_a_profile_is_kept_whole_and_replaced(profiles: BillingProfileStore) -> None:
    first = BillingProfile(
        "Société Éléphant & Fils", ("12 rue de la Paix", "Bât. B"), "Paris", "FR",
        "factures@elephant.example", postcode="75002", vat_number="FR44732829320",
        siret="73282932000074", purchase_order="PO-1", language="fr",
    )  # fmt: skip
    assert await profiles.profile("111111111111") is None
    await profiles.put_profile("111111111111", first, CREDITED)
    assert await profiles.profile("111111111111") == first
    assert await profiles.profile("222222222222") is None
    moved = BillingProfile("Éléphant SA", ("1 quai",), "Lyon", "FR", "ap@elephant.example")
    await profiles.put_profile("111111111111", moved, CREDITED)
    assert await profiles.profile("111111111111") == moved
