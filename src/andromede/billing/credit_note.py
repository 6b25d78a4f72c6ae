"""Credit notes (decision 0126), pure: an issued invoice is never edited; what it charged too
much is given back by a credit note ("avoir") that refers to it — the whole invoice, or
chosen lines for chosen amounts — with its reason, numbered in a gapless sequence of its own
per calendar year of issue (``AV-2027-000001``), kept as JSON with a format version.

Amounts are the invoice's own, negated: each credited line takes a net amount (VAT
excluded) and the VAT at the invoice line's rate, rounded half up to the cent, never more
than what remains of that line once the invoice's earlier credit notes are deducted; the
last amount of a line takes the VAT that remains of it exactly. What is credited on an
invoice therefore never exceeds its total, line by line and in all.

The issuer, the customer (the invoice's copy of its billing profile) and the VAT treatment
are the invoice's: a credit note corrects that invoice, as it was issued.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final

from andromede.billing.errors import InvalidCreditNote, OverCredit
from andromede.billing.invoice import Invoice, Issuer
from andromede.billing.model import CENT, CURRENCY
from andromede.billing.profile import BillingProfile, VatTreatment

__all__ = [
    "AMOUNT_PATTERN",
    "FORMAT_VERSION",
    "MAX_CREDIT_LINES",
    "MAX_REASON",
    "CreditLine",
    "CreditNote",
    "CreditRequest",
    "credit",
    "parse_request",
    "remaining",
]

FORMAT_VERSION: Final = 1
MAX_REASON: Final = 500  # characters: a sentence or two, printed whole on the credit note
MAX_CREDIT_LINES: Final = 1000  # amounts asked in one credit note (an invoice has fewer lines)
_ZERO: Final = Decimal("0.00")
AMOUNT_PATTERN: Final = r"^[0-9]{1,12}(\.[0-9]{1,2})?$"  # euros and cents, below 10^12
_AMOUNT: Final = re.compile(AMOUNT_PATTERN)


@dataclass(frozen=True, slots=True)
class CreditLine:
    invoice_line: int  # the credited line's index in the invoice, from 0
    description: str
    region: str
    net: Decimal  # negative: what is given back, VAT excluded
    vat_rate: Decimal
    vat: Decimal  # negative

    @property
    def total(self) -> Decimal:
        return self.net + self.vat


@dataclass(frozen=True, slots=True)
class CreditNote:
    number: str
    invoice_number: str
    invoice_issued_at: datetime
    tenant_id: str
    customer_name: str
    issued_at: datetime
    reason: str
    issuer: Issuer
    lines: tuple[CreditLine, ...]
    customer: BillingProfile | None = None
    vat_treatment: VatTreatment = VatTreatment.DOMESTIC
    currency: str = CURRENCY
    format_version: int = FORMAT_VERSION

    @property
    def net(self) -> Decimal:
        return sum((line.net for line in self.lines), _ZERO)

    @property
    def vat(self) -> Decimal:
        return sum((line.vat for line in self.lines), _ZERO)

    @property
    def total(self) -> Decimal:
        return self.net + self.vat

    def vat_by_rate(self) -> list[tuple[Decimal, Decimal, Decimal]]:
        """(rate, net, VAT) per VAT rate, negative as the lines."""
        by_rate: dict[Decimal, tuple[Decimal, Decimal]] = {}
        for line in self.lines:
            net, vat = by_rate.get(line.vat_rate, (_ZERO, _ZERO))
            by_rate[line.vat_rate] = (net + line.net, vat + line.vat)
        return [(rate, net, vat) for rate, (net, vat) in sorted(by_rate.items())]

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": self.format_version,
                "number": self.number,
                "invoice_number": self.invoice_number,
                "invoice_issued_at": self.invoice_issued_at.isoformat(),
                "tenant_id": self.tenant_id,
                "customer_name": self.customer_name,
                "issued_at": self.issued_at.isoformat(),
                "reason": self.reason,
                "issuer": self.issuer.to_dict(),
                "customer": None if self.customer is None else self.customer.to_dict(),
                "vat_treatment": self.vat_treatment.value,
                "currency": self.currency,
                "lines": [
                    {
                        "invoice_line": line.invoice_line,
                        "description": line.description,
                        "region": line.region,
                        "net": str(line.net),
                        "vat_rate": str(line.vat_rate),
                        "vat": str(line.vat),
                    }
                    for line in self.lines
                ],
            },
            separators=(",", ":"),
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str) -> CreditNote:
        data: dict[str, Any] = json.loads(text)
        customer = data["customer"]
        return cls(
            number=data["number"],
            invoice_number=data["invoice_number"],
            invoice_issued_at=datetime.fromisoformat(data["invoice_issued_at"]),
            tenant_id=data["tenant_id"],
            customer_name=data["customer_name"],
            issued_at=datetime.fromisoformat(data["issued_at"]),
            reason=data["reason"],
            issuer=Issuer.from_dict(data["issuer"]),
            lines=tuple(
                CreditLine(
                    invoice_line=int(line["invoice_line"]),
                    description=line["description"],
                    region=line["region"],
                    net=Decimal(line["net"]),
                    vat_rate=Decimal(line["vat_rate"]),
                    vat=Decimal(line["vat"]),
                )
                for line in data["lines"]
            ),
            customer=None if customer is None else BillingProfile.from_dict(customer),
            vat_treatment=VatTreatment(data["vat_treatment"]),
            currency=data["currency"],
            format_version=int(data["format"]),
        )


@dataclass(frozen=True, slots=True)
class CreditRequest:
    """What an operator asks to credit: ``amounts`` None for all that remains of the invoice,
    else (line index, net amount or None for all that remains of that line)."""

    reason: str
    amounts: tuple[tuple[int, Decimal | None], ...] | None = None


def parse_request(reason: object, amounts: Sequence[tuple[object, object]] | None) -> CreditRequest:
    """The request as the API or the command line give it, checked: InvalidCreditNote for no
    reason or a too long one, a line index that is no integer, a line asked twice, or an
    amount that is not a positive number of cents."""
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidCreditNote("reason: required (why the invoice is credited)")
    text = reason.strip()
    if len(text) > MAX_REASON:
        raise InvalidCreditNote(f"reason: {MAX_REASON} characters at most")
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in text):
        raise InvalidCreditNote("reason: one line, no control characters")
    if amounts is None:
        return CreditRequest(text)
    if not amounts:
        raise InvalidCreditNote("lines: one at least (or none given, for the whole invoice)")
    if len(amounts) > MAX_CREDIT_LINES:
        raise InvalidCreditNote(f"lines: {MAX_CREDIT_LINES} at most")
    parsed: list[tuple[int, Decimal | None]] = []
    for index, amount in amounts:
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise InvalidCreditNote("lines: a line is its index in the invoice, from 0")
        if any(index == seen for seen, _ in parsed):
            raise InvalidCreditNote(f"lines: line {index} asked twice")
        parsed.append((index, None if amount is None else _amount(amount)))
    return CreditRequest(text, tuple(parsed))


def _amount(value: object) -> Decimal:
    """Euros and cents as a plain decimal string ("12.50") or a whole number: never a float,
    never an exponent."""
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not _AMOUNT.fullmatch(text):
        raise InvalidCreditNote(
            'lines: an amount is a positive number of euros and cents, below 10^12 ("12.50")'
        )
    amount = Decimal(text).quantize(CENT)
    if amount <= 0:
        raise InvalidCreditNote("lines: an amount is positive")
    return amount


def remaining(invoice: Invoice, credited: Sequence[CreditNote]) -> list[tuple[Decimal, Decimal]]:
    """(net, VAT) of each invoice line not yet credited by ``credited``."""
    left = [(line.net, line.vat) for line in invoice.lines]
    for note in credited:
        for line in note.lines:
            net, vat = left[line.invoice_line]
            left[line.invoice_line] = (net + line.net, vat + line.vat)  # line amounts < 0
    return left


def credit(
    invoice: Invoice,
    credited: Sequence[CreditNote],
    request: CreditRequest,
    number: str,
    issued_at: datetime,
) -> CreditNote:
    """The credit note ``request`` asks of ``invoice``, whose credit notes so far are
    ``credited``: InvalidCreditNote for a line the invoice does not have, OverCredit when an
    amount exceeds what remains of its line, or nothing remains to credit."""
    left = remaining(invoice, credited)
    asked = request.amounts
    if asked is None:
        asked = tuple((i, None) for i, (net, vat) in enumerate(left) if net > 0 or vat > 0)
        if not asked:
            raise OverCredit(f"{invoice.number} is credited in full already")
    lines = []
    for index, amount in asked:
        if index >= len(invoice.lines):
            raise InvalidCreditNote(f"lines: {invoice.number} has no line {index}")
        line = invoice.lines[index]
        net_left, vat_left = left[index]
        if amount is None or amount == net_left:
            net, vat = net_left, vat_left
        elif amount > net_left:
            raise OverCredit(f"line {index} of {invoice.number} has {net_left} EUR left to credit")
        else:
            vat = min((amount * line.vat_rate).quantize(CENT, rounding=ROUND_HALF_UP), vat_left)
            net = amount
        if net <= 0 and vat <= 0:
            raise OverCredit(f"line {index} of {invoice.number} has nothing left to credit")
        lines.append(  # _ZERO - x: no "-0.00" for a line without VAT
            CreditLine(
                index, line.description, line.region, _ZERO - net, line.vat_rate, _ZERO - vat
            )
        )
    return CreditNote(
        number=number,
        invoice_number=invoice.number,
        invoice_issued_at=invoice.issued_at,
        tenant_id=invoice.tenant_id,
        customer_name=invoice.customer_name,
        issued_at=issued_at,
        reason=request.reason,
        issuer=invoice.issuer,
        lines=tuple(lines),
        customer=invoice.customer,
        vat_treatment=invoice.vat_treatment,
        currency=invoice.currency,
    )
