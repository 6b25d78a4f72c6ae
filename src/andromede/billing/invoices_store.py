"""Where invoices are kept (decision 0123): issued once per tenant and month, numbered in the
transaction that keeps them, never changed after.

:meth:`InvoiceStore.issue` takes the number the year's sequence gives next and keeps the
invoice built under it in one transaction: the sequence row is locked (``SELECT … FOR
UPDATE`` on PostgreSQL; SQLite's writer is one transaction at a time), so two gateways
issuing at once take consecutive numbers, and an invoice that cannot be kept (the month of
that tenant issued meanwhile) rolls its number back with it — the sequence has no gap. A
tenant's month issued already answers the invoice kept, not a new one.

Credit notes (decision 0126) are kept here too, since issuing one reads the invoice it
credits: :meth:`InvoiceStore.credit` locks the invoice's row (``FOR UPDATE``), then the
credit notes' own sequence row of the year, reads the invoice's earlier credit notes and keeps
the one built from them in one transaction. Two credit notes of one invoice at once are
therefore built one after the other, each seeing the other's amounts — the total credited
never exceeds the invoice's —, credit notes of different invoices take consecutive numbers,
and one refused (over-credit) takes no number. The lock order (invoice, then sequence) is the
same for every credit, and an invoice's issue locks no existing invoice row: no deadlock.

:class:`MemoryInvoiceStore` (tests) and :class:`SqlInvoiceStore` (migration 0049), held to one
contract suite.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.billing.credit_note import CreditNote
from andromede.billing.errors import NoSuchInvoice
from andromede.billing.invoice import Invoice
from andromede.db import tables
from andromede.db.database import Database
from andromede.db.statements import InsertIgnoringConflict

__all__ = ["Build", "CreditBuild", "InvoiceStore", "MemoryInvoiceStore", "SqlInvoiceStore"]

# Builds the invoice under the number given (pure: no await, no I/O).
Build = Callable[[int], Invoice]
# Builds a credit note under the number given, of the invoice with its earlier credit notes
# (pure; raises to refuse, which takes no number).
CreditBuild = Callable[[int, Invoice, list[CreditNote]], CreditNote]


class InvoiceStore(Protocol):
    async def issue(
        self, tenant_id: str, period: str, year: int, build: Build
    ) -> tuple[Invoice, bool]:
        """The tenant's invoice of ``period`` (``YYYY-MM``): the one kept, with False, or the
        one ``build`` makes under the next number of ``year``'s sequence, kept, with True."""
        ...

    async def invoices(self, tenant_id: str) -> list[Invoice]:
        """The tenant's invoices, oldest period first."""
        ...

    async def invoice(self, number: str) -> Invoice | None: ...

    async def invoice_of(self, tenant_id: str, period: str) -> Invoice | None:
        """The tenant's invoice of ``period``, if issued (one indexed read)."""
        ...

    async def credit(
        self, tenant_id: str, invoice_number: str, year: int, build: CreditBuild
    ) -> CreditNote:
        """The credit note ``build`` makes of the tenant's invoice ``invoice_number`` and its
        credit notes so far, under the next number of ``year``'s credit note sequence, kept;
        NoSuchInvoice when the tenant has no such invoice."""
        ...

    async def credit_notes(
        self, tenant_id: str, invoice_number: str | None = None
    ) -> list[CreditNote]:
        """The tenant's credit notes (of one invoice if given), in the order issued."""
        ...

    async def credit_note(self, number: str) -> CreditNote | None: ...


class MemoryInvoiceStore:
    def __init__(self) -> None:
        self._by_number: dict[str, Invoice] = {}
        self._last: dict[int, int] = {}
        self._credits: dict[str, CreditNote] = {}  # by number, in the order issued
        self._last_credit: dict[int, int] = {}
        self._lock = asyncio.Lock()

    async def issue(
        self, tenant_id: str, period: str, year: int, build: Build
    ) -> tuple[Invoice, bool]:
        async with self._lock:
            for kept in self._by_number.values():
                if kept.tenant_id == tenant_id and kept.period.label == period:
                    return kept, False
            invoice = build(self._last.get(year, 0) + 1)
            self._last[year] = self._last.get(year, 0) + 1
            self._by_number[invoice.number] = invoice
            return invoice, True

    async def invoices(self, tenant_id: str) -> list[Invoice]:
        return sorted(
            (i for i in self._by_number.values() if i.tenant_id == tenant_id),
            key=lambda i: i.period.start,
        )

    async def invoice(self, number: str) -> Invoice | None:
        return self._by_number.get(number)

    async def invoice_of(self, tenant_id: str, period: str) -> Invoice | None:
        return next(
            (
                i
                for i in self._by_number.values()
                if i.tenant_id == tenant_id and i.period.label == period
            ),
            None,
        )

    async def credit(
        self, tenant_id: str, invoice_number: str, year: int, build: CreditBuild
    ) -> CreditNote:
        async with self._lock:
            invoice = self._by_number.get(invoice_number)
            if invoice is None or invoice.tenant_id != tenant_id:
                raise NoSuchInvoice(f"no invoice {invoice_number[:40]}")
            earlier = [c for c in self._credits.values() if c.invoice_number == invoice_number]
            note = build(self._last_credit.get(year, 0) + 1, invoice, earlier)
            self._last_credit[year] = self._last_credit.get(year, 0) + 1
            self._credits[note.number] = note
            return note

    async def credit_notes(
        self, tenant_id: str, invoice_number: str | None = None
    ) -> list[CreditNote]:
        return [
            c
            for c in self._credits.values()
            if c.tenant_id == tenant_id and invoice_number in (None, c.invoice_number)
        ]

    async def credit_note(self, number: str) -> CreditNote | None:
        return self._credits.get(number)


_I = tables.billing_invoices
_Q = tables.billing_invoice_sequences
_NEW_YEAR = InsertIgnoringConflict(_Q, ["year"])
_C = tables.billing_credit_notes
_CQ = tables.billing_credit_note_sequences
_NEW_CREDIT_YEAR = InsertIgnoringConflict(_CQ, ["year"])


class SqlInvoiceStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def issue(
        self, tenant_id: str, period: str, year: int, build: Build
    ) -> tuple[Invoice, bool]:
        kept = sa.select(_I.c.document).where(_I.c.tenant_id == tenant_id, _I.c.period == period)
        lock = sa.select(_Q.c.last_number).where(_Q.c.year == year).with_for_update()

        def work(conn: Connection) -> tuple[Invoice, bool]:
            _NEW_YEAR(conn, {"year": year, "last_number": 0})
            # The year's row first: two issues of one tenant's month wait here for each other,
            # so the second finds the first's invoice below instead of failing on its insert.
            last = int(conn.execute(lock).scalar_one())
            found = conn.execute(kept).scalar_one_or_none()
            if found is not None:
                return Invoice.from_json(found), False
            invoice = build(last + 1)
            conn.execute(_Q.update().where(_Q.c.year == year).values(last_number=last + 1))
            conn.execute(
                _I.insert().values(
                    number=invoice.number,
                    tenant_id=tenant_id,
                    period=period,
                    issued_at=invoice.issued_at,
                    document=invoice.to_json(),
                )
            )
            return invoice, True

        result: tuple[Invoice, bool] = await self._db.write(work)
        return result

    async def invoices(self, tenant_id: str) -> list[Invoice]:
        query = sa.select(_I.c.document).where(_I.c.tenant_id == tenant_id).order_by(_I.c.period)

        def work(conn: Connection) -> list[Any]:
            return list(conn.execute(query).scalars())

        return [Invoice.from_json(text) for text in await self._db.read(work)]

    async def invoice(self, number: str) -> Invoice | None:
        query = sa.select(_I.c.document).where(_I.c.number == number)

        def work(conn: Connection) -> Any:
            return conn.execute(query).scalar_one_or_none()

        found = await self._db.read(work)
        return None if found is None else Invoice.from_json(found)

    async def invoice_of(self, tenant_id: str, period: str) -> Invoice | None:
        query = sa.select(_I.c.document).where(_I.c.tenant_id == tenant_id, _I.c.period == period)

        def work(conn: Connection) -> Any:
            return conn.execute(query).scalar_one_or_none()

        found = await self._db.read(work)
        return None if found is None else Invoice.from_json(found)

    async def credit(
        self, tenant_id: str, invoice_number: str, year: int, build: CreditBuild
    ) -> CreditNote:
        invoice_row = (
            sa.select(_I.c.document)
            .where(_I.c.number == invoice_number, _I.c.tenant_id == tenant_id)
            .with_for_update()
        )
        lock = sa.select(_CQ.c.last_number).where(_CQ.c.year == year).with_for_update()
        earlier = (
            sa.select(_C.c.document)
            .where(_C.c.invoice_number == invoice_number)
            .order_by(_C.c.issued_at, _C.c.number)
        )

        def work(conn: Connection) -> CreditNote:
            # The invoice's row first: two credit notes of one invoice are built one after
            # the other, the second seeing the first's amounts.
            found = conn.execute(invoice_row).scalar_one_or_none()
            if found is None:
                raise NoSuchInvoice(f"no invoice {invoice_number[:40]}")
            _NEW_CREDIT_YEAR(conn, {"year": year, "last_number": 0})
            last = int(conn.execute(lock).scalar_one())
            notes = [CreditNote.from_json(text) for text in conn.execute(earlier).scalars()]
            note = build(last + 1, Invoice.from_json(found), notes)
            conn.execute(_CQ.update().where(_CQ.c.year == year).values(last_number=last + 1))
            conn.execute(
                _C.insert().values(
                    number=note.number,
                    invoice_number=invoice_number,
                    tenant_id=tenant_id,
                    issued_at=note.issued_at,
                    document=note.to_json(),
                )
            )
            return note

        result: CreditNote = await self._db.write(work)
        return result

    async def credit_notes(
        self, tenant_id: str, invoice_number: str | None = None
    ) -> list[CreditNote]:
        query = sa.select(_C.c.document).where(_C.c.tenant_id == tenant_id)
        if invoice_number is not None:
            query = query.where(_C.c.invoice_number == invoice_number)
        query = query.order_by(_C.c.issued_at, _C.c.number)

        def work(conn: Connection) -> list[Any]:
            return list(conn.execute(query).scalars())

        return [CreditNote.from_json(text) for text in await self._db.read(work)]

    async def credit_note(self, number: str) -> CreditNote | None:
        query = sa.select(_C.c.document).where(_C.c.number == number)

        def work(conn: Connection) -> Any:
            return conn.execute(query).scalar_one_or_none()

        found = await self._db.read(work)
        return None if found is None else CreditNote.from_json(found)
