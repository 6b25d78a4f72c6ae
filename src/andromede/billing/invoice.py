"""Invoices (decision 0123), pure: a tenant's usage report of a closed month made a document
that never changes once issued — its number in one gapless sequence per calendar year of
issue, the issuer's and the customer's identity, the lines with their quantities, unit prices
and VAT, the totals and the due date — kept as JSON with a format version.

Numbers are ``<prefix>-<year>-<sequence>`` (``INV-2026-000042``): French and EU rules ask for
a unique, continuous sequence without gaps, which may restart each year when the year is part
of the number. The store assigns the sequence in the transaction that keeps the invoice, so
no number is skipped or given twice, across gateways.

Since format 2 (decision 0126) an invoice keeps a copy of the customer's billing profile as it
was at issue (a later change of the profile alters no issued invoice) and the VAT treatment
the seller's and the customer's countries gave it: an EU customer of another member state
with a VAT number is reverse-charged and one outside the EU is invoiced without VAT, every
line at a rate of 0. Format 1 documents (no profile, the region's VAT) are read as they were.

The issuer is frozen with the invoice too, the account it is paid to included (decision
0136): a later change of the operator's bank details alters no issued invoice's. The due date
is the issue date plus the issuer's payment days; the reference to give with the payment is
the invoice's number.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from andromede.billing.model import CURRENCY, Period, ReportLine, UsageReport, parse_month
from andromede.billing.profile import BillingProfile, VatTreatment, vat_treatment

__all__ = [
    "FORMAT_VERSION",
    "Invoice",
    "InvoiceLine",
    "Issuer",
    "invoice_number",
    "issue",
]

FORMAT_VERSION: Final = 2  # 2: the customer's profile and the VAT treatment (decision 0126)
_NUMBER: Final = re.compile(r"^[A-Z0-9]{1,16}-[0-9]{4}-[0-9]{6,}$")
_ZERO: Final = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class Issuer:
    """Who invoices: the operator, as its settings name it."""

    name: str
    address: str = ""
    vat_id: str = ""
    payment_days: int = 30
    country: str = "FR"  # ISO 3166-1 alpha-2: where the seller is established, for VAT
    siret: str = ""  # the seller's SIREN or SIRET: its legal registration (decision 0131)
    # Where customers pay (decision 0136): the account, electronic form (no spaces), and its
    # bank's BIC; none, the invoice names no account.
    iban: str = ""
    bic: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "address": self.address,
            "vat_id": self.vat_id,
            "payment_days": self.payment_days,
            "country": self.country,
            "siret": self.siret,
            "iban": self.iban,
            "bic": self.bic,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Issuer:
        # Format 1 invoices did not say the country: it was not needed then, and is now only
        # to decide the VAT treatment of invoices yet to issue. Nor did they, or format 2
        # before decision 0131, keep the seller's SIRET; nor any before decision 0136 an
        # account to pay to: they name none, as they were issued.
        return cls(
            data["name"],
            data["address"],
            data["vat_id"],
            int(data["payment_days"]),
            data.get("country", ""),
            data.get("siret", ""),
            data.get("iban", ""),
            data.get("bic", ""),
        )


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    region: str
    meter: str
    description: str  # "<meter> (<price unit>)"
    usage: Decimal  # in the price unit
    price_unit: str
    unit_price: Decimal  # EUR per price unit, VAT excluded (0: no price was set)
    net: Decimal
    vat_rate: Decimal
    vat: Decimal

    @property
    def total(self) -> Decimal:
        return self.net + self.vat


@dataclass(frozen=True, slots=True)
class Invoice:
    number: str
    tenant_id: str
    customer_name: str
    period: Period
    issued_at: datetime
    due_at: datetime
    issuer: Issuer
    lines: tuple[InvoiceLine, ...]
    currency: str = CURRENCY
    format_version: int = FORMAT_VERSION
    customer: BillingProfile | None = None  # the profile as it was at issue
    vat_treatment: VatTreatment = VatTreatment.DOMESTIC

    @property
    def net(self) -> Decimal:
        return sum((line.net for line in self.lines), Decimal("0.00"))

    @property
    def vat(self) -> Decimal:
        return sum((line.vat for line in self.lines), Decimal("0.00"))

    @property
    def total(self) -> Decimal:
        return self.net + self.vat

    def vat_by_rate(self) -> list[tuple[Decimal, Decimal, Decimal]]:
        """(rate, net, VAT) per VAT rate, as an invoice must break the VAT down."""
        by_rate: dict[Decimal, tuple[Decimal, Decimal]] = {}
        for line in self.lines:
            net, vat = by_rate.get(line.vat_rate, (Decimal("0.00"), Decimal("0.00")))
            by_rate[line.vat_rate] = (net + line.net, vat + line.vat)
        return [(rate, net, vat) for rate, (net, vat) in sorted(by_rate.items())]

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": self.format_version,
                "number": self.number,
                "tenant_id": self.tenant_id,
                "customer_name": self.customer_name,
                "period": self.period.label,
                "issued_at": self.issued_at.isoformat(),
                "due_at": self.due_at.isoformat(),
                "issuer": self.issuer.to_dict(),
                "customer": None if self.customer is None else self.customer.to_dict(),
                "vat_treatment": self.vat_treatment.value,
                "currency": self.currency,
                "lines": [
                    {
                        "region": line.region,
                        "meter": line.meter,
                        "description": line.description,
                        "usage": str(line.usage),
                        "price_unit": line.price_unit,
                        "unit_price": str(line.unit_price),
                        "net": str(line.net),
                        "vat_rate": str(line.vat_rate),
                        "vat": str(line.vat),
                    }
                    for line in self.lines
                ],
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> Invoice:
        data: dict[str, Any] = json.loads(text)
        customer = data.get("customer")
        return cls(
            number=data["number"],
            tenant_id=data["tenant_id"],
            customer_name=data["customer_name"],
            period=parse_month(data["period"]),
            issued_at=datetime.fromisoformat(data["issued_at"]),
            due_at=datetime.fromisoformat(data["due_at"]),
            issuer=Issuer.from_dict(data["issuer"]),
            lines=tuple(
                InvoiceLine(
                    region=line["region"],
                    meter=line["meter"],
                    description=line["description"],
                    usage=Decimal(line["usage"]),
                    price_unit=line["price_unit"],
                    unit_price=Decimal(line["unit_price"]),
                    net=Decimal(line["net"]),
                    vat_rate=Decimal(line["vat_rate"]),
                    vat=Decimal(line["vat"]),
                )
                for line in data["lines"]
            ),
            currency=data["currency"],
            format_version=int(data["format"]),
            customer=None if customer is None else BillingProfile.from_dict(customer),
            vat_treatment=VatTreatment(data.get("vat_treatment", VatTreatment.DOMESTIC.value)),
        )


def invoice_number(prefix: str, year: int, sequence: int) -> str:
    number = f"{prefix}-{year:04d}-{sequence:06d}"
    if not _NUMBER.match(number):
        raise ValueError(f"not an invoice number: {number!r}")
    return number


def _line(line: ReportLine, treatment: VatTreatment) -> InvoiceLine:
    # Reverse charge and export: the customer accounts for the VAT, none is invoiced.
    domestic = treatment is VatTreatment.DOMESTIC
    return InvoiceLine(
        region=line.region,
        meter=line.meter,
        description=f"{line.meter} ({line.price_unit})",
        usage=line.usage,
        price_unit=line.price_unit,
        unit_price=line.unit_price if line.unit_price is not None else Decimal(0),
        net=line.net,
        vat_rate=line.vat_rate if domestic else Decimal(0),
        vat=line.vat if domestic else _ZERO,
    )


def issue(
    report: UsageReport,
    number: str,
    customer_name: str,
    issuer: Issuer,
    issued_at: datetime,
    customer: BillingProfile | None = None,
) -> Invoice:
    """The invoice of ``report`` (a closed month's) under ``number``, issued at ``issued_at``
    and due ``issuer.payment_days`` later, to ``customer`` (its billing profile, copied) with
    the VAT treatment the issuer's and the customer's countries give."""
    if issued_at < report.period.end:
        raise ValueError("a month is invoiced once it has ended")
    treatment = vat_treatment(issuer.country, customer)
    return Invoice(
        number=number,
        tenant_id=report.tenant_id,
        customer_name=customer.legal_name if customer is not None else customer_name,
        period=report.period,
        issued_at=issued_at,
        due_at=issued_at + timedelta(days=issuer.payment_days),
        issuer=issuer,
        lines=tuple(_line(line, treatment) for line in report.lines),
        currency=report.currency,
        customer=customer,
        vat_treatment=treatment,
    )
