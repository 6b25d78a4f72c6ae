"""The management API's billing bodies (decision 0108). Money and rates are decimal *strings*
("0.0050"), never JSON numbers, which clients read as binary floats."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from andromede.billing.credit_note import AMOUNT_PATTERN, CreditNote
from andromede.billing.invoice import Invoice
from andromede.billing.model import Meter, Price, ReportLine, UsageReport
from andromede.billing.profile import BillingProfile

__all__ = [
    "PRICE_PATTERN",
    "RATE_PATTERN",
    "BillingProfileBody",
    "BillingProfileView",
    "CreditLineRequest",
    "CreditNoteList",
    "CreditNoteRequest",
    "CreditNoteSummary",
    "CreditNoteView",
    "InvoiceIssue",
    "InvoiceList",
    "InvoiceSummary",
    "InvoiceView",
    "MeterList",
    "MeterView",
    "PriceList",
    "PriceUpdate",
    "PriceView",
    "UsageLineView",
    "UsageReportView",
    "VatRateUpdate",
    "VatRateView",
    "VatRates",
]


# What the domain accepts (billing.model.parse_price, parse_vat_rate), said in the schema too:
# a price below a billion with 9 decimals at most, a rate from 0 to 1.
PRICE_PATTERN = r"^[0-9]{1,9}(\.[0-9]{1,9})?$"
RATE_PATTERN = r"^(0(\.[0-9]{1,9})?|1(\.0{1,9})?)$"


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MeterView(BaseModel):
    name: str
    unit: str = Field(description="What the usage quantity counts.")
    price_unit: str = Field(description="What a price is per.")
    description: str

    @classmethod
    def of(cls, meter: Meter) -> MeterView:
        return cls(
            name=meter.name,
            unit=meter.unit,
            price_unit=meter.price_unit,
            description=meter.description,
        )


class MeterList(BaseModel):
    meters: list[MeterView]


class PriceUpdate(_Request):
    unit_price: str = Field(
        pattern=PRICE_PATTERN,
        examples=["0.0050"],
        description="EUR per the meter's price unit, VAT excluded: a decimal string.",
    )


class PriceView(BaseModel):
    region: str
    meter: str
    unit_price: str
    currency: str = "EUR"

    @classmethod
    def of(cls, price: Price) -> PriceView:
        return cls(region=price.region, meter=price.meter, unit_price=str(price.unit_price))


class PriceList(BaseModel):
    prices: list[PriceView]


class VatRateUpdate(_Request):
    rate: str = Field(pattern=RATE_PATTERN, description='A fraction from 0 to 1 ("0.20" for 20 %).')


class VatRateView(BaseModel):
    region: str
    rate: str


class VatRates(BaseModel):
    vat_rates: list[VatRateView]


class UsageLineView(BaseModel):
    region: str
    meter: str
    quantity: int = Field(description="In the meter's unit.")
    unit: str
    usage: str = Field(description="In the price unit, not rounded.")
    price_unit: str
    unit_price: str | None = Field(description="None: the operator set no price.")
    net: str
    vat_rate: str
    vat: str
    total: str

    @classmethod
    def of(cls, line: ReportLine) -> UsageLineView:
        return cls(
            region=line.region,
            meter=line.meter,
            quantity=line.quantity,
            unit=line.unit,
            usage=_plain(line.usage),
            price_unit=line.price_unit,
            unit_price=None if line.unit_price is None else str(line.unit_price),
            net=str(line.net),
            vat_rate=str(line.vat_rate),
            vat=str(line.vat),
            total=str(line.total),
        )


class UsageReportView(BaseModel):
    tenant_id: str
    period: str = Field(examples=["2026-12"])
    start: datetime
    end: datetime
    currency: str
    lines: list[UsageLineView]
    net: str
    vat: str
    total: str

    @classmethod
    def of(cls, report: UsageReport) -> UsageReportView:
        return cls(
            tenant_id=report.tenant_id,
            period=report.period.label,
            start=report.period.start,
            end=report.period.end,
            currency=report.currency,
            lines=[UsageLineView.of(line) for line in report.lines],
            net=str(report.net),
            vat=str(report.vat),
            total=str(report.total),
        )


def _plain(value: object) -> str:
    """A decimal without exponent ("0.000004" rather than "4E-6")."""
    return format(value, "f")


class InvoiceIssue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    month: str = Field(
        pattern=r"^(19[7-9][0-9]|[2-9][0-9]{3})-(0[1-9]|1[0-2])$",
        description="The month invoiced, YYYY-MM (UTC); it must have ended.",
    )


class InvoiceLineView(BaseModel):
    region: str
    meter: str
    description: str
    usage: str
    price_unit: str
    unit_price: str
    net: str
    vat_rate: str
    vat: str


class CreditNoteSummary(BaseModel):
    number: str = Field(examples=["AV-2027-000001"])
    invoice_number: str
    issued_at: datetime
    reason: str
    net: str = Field(description="Negative: what is given back, VAT excluded.")
    vat: str
    total: str

    @classmethod
    def of(cls, note: CreditNote) -> CreditNoteSummary:
        return cls(
            number=note.number,
            invoice_number=note.invoice_number,
            issued_at=note.issued_at,
            reason=note.reason,
            net=_plain(note.net),
            vat=_plain(note.vat),
            total=_plain(note.total),
        )


class InvoiceSummary(BaseModel):
    number: str = Field(examples=["INV-2026-000042"])
    tenant_id: str
    period: str
    issued_at: datetime
    due_at: datetime
    currency: str
    net: str
    vat: str
    total: str
    credited: str = Field(description="What its credit notes give back, VAT included (≥ 0).")
    balance: str = Field(description="The total less what is credited.")

    @classmethod
    def of(cls, invoice: Invoice, notes: list[CreditNote]) -> InvoiceSummary:
        credited = -sum((note.total for note in notes), Decimal("0.00"))
        return cls(
            number=invoice.number,
            tenant_id=invoice.tenant_id,
            period=invoice.period.label,
            issued_at=invoice.issued_at,
            due_at=invoice.due_at,
            currency=invoice.currency,
            net=_plain(invoice.net),
            vat=_plain(invoice.vat),
            total=_plain(invoice.total),
            credited=_plain(credited),
            balance=_plain(invoice.total - credited),
        )


class BillingProfileBody(_Request):
    """Every field is checked by the billing service, which names the first wrong one (400
    ``invalid-billing-profile`` with ``field``)."""

    legal_name: str = Field(description="The customer's legal name (200 characters at most).")
    address_lines: list[str] = Field(description="1 to 4 lines of 100 characters at most.")
    postcode: str = ""
    city: str
    country: str = Field(examples=["FR"], description="ISO 3166-1 alpha-2.")
    vat_number: str = Field(
        default="",
        examples=["FR44732829320"],
        description="An EU number is checked against its member state's format and must be "
        "the country's; no VIES lookup.",
    )
    siret: str = Field(default="", description="A SIREN (9 digits) or SIRET (14), Luhn-checked.")
    purchase_order: str = Field(default="", description="Printed on the invoices.")
    invoice_email: str
    language: str = Field(default="en", description="The invoices' language: en or fr.")


class BillingProfileView(BaseModel):
    tenant_id: str
    legal_name: str
    address_lines: list[str]
    postcode: str
    city: str
    country: str
    vat_number: str
    siret: str
    purchase_order: str
    invoice_email: str
    language: str

    @classmethod
    def of(cls, tenant_id: str, profile: BillingProfile) -> BillingProfileView:
        fields = profile.to_dict()
        del fields["format"]
        return cls(tenant_id=tenant_id, **fields)


class CreditLineRequest(_Request):
    line: int = Field(ge=0, description="The invoice line's index, from 0.")
    net: str | None = Field(
        default=None,
        pattern=AMOUNT_PATTERN,
        examples=["12.50"],
        description="EUR to credit, VAT excluded; absent: all that remains of the line.",
    )


class CreditNoteRequest(_Request):
    reason: str = Field(description="Why the invoice is credited (500 characters at most).")
    lines: list[CreditLineRequest] | None = Field(
        default=None, description="Absent: all that remains of the invoice."
    )


class CreditLineView(BaseModel):
    invoice_line: int
    description: str
    region: str
    net: str
    vat_rate: str
    vat: str


class CreditNoteView(CreditNoteSummary):
    tenant_id: str
    invoice_issued_at: datetime
    currency: str
    vat_treatment: str
    customer_name: str
    customer: BillingProfileView | None
    lines: list[CreditLineView]

    @classmethod
    def of(cls, note: CreditNote) -> CreditNoteView:
        return cls(
            **CreditNoteSummary.of(note).model_dump(),
            tenant_id=note.tenant_id,
            invoice_issued_at=note.invoice_issued_at,
            currency=note.currency,
            vat_treatment=note.vat_treatment.value,
            customer_name=note.customer_name,
            customer=None
            if note.customer is None
            else BillingProfileView.of(note.tenant_id, note.customer),
            lines=[
                CreditLineView(
                    invoice_line=line.invoice_line,
                    description=line.description,
                    region=line.region,
                    net=_plain(line.net),
                    vat_rate=_plain(line.vat_rate),
                    vat=_plain(line.vat),
                )
                for line in note.lines
            ],
        )


class CreditNoteList(BaseModel):
    credit_notes: list[CreditNoteSummary]


class InvoiceView(InvoiceSummary):
    customer_name: str
    customer: BillingProfileView | None = Field(
        description="The customer's billing profile as it was at issue (none set then: null)."
    )
    vat_treatment: str = Field(description="domestic, reverse-charge or outside-eu.")
    issuer_name: str
    issuer_address: str
    issuer_vat_id: str
    issuer_iban: str = Field(
        description="The account to pay by SEPA credit transfer, quoting the invoice's number, as"
        " it was at issue (decision 0136); empty: the invoice names none."
    )
    issuer_bic: str = Field(description="The BIC of that account's bank; empty: none given.")
    lines: list[InvoiceLineView]
    credit_notes: list[CreditNoteSummary]

    @classmethod
    def of(cls, invoice: Invoice, notes: list[CreditNote]) -> InvoiceView:
        return cls(
            **InvoiceSummary.of(invoice, notes).model_dump(),
            customer_name=invoice.customer_name,
            customer=None
            if invoice.customer is None
            else BillingProfileView.of(invoice.tenant_id, invoice.customer),
            vat_treatment=invoice.vat_treatment.value,
            issuer_name=invoice.issuer.name,
            issuer_address=invoice.issuer.address,
            issuer_vat_id=invoice.issuer.vat_id,
            issuer_iban=invoice.issuer.iban,
            issuer_bic=invoice.issuer.bic,
            lines=[
                InvoiceLineView(
                    region=line.region,
                    meter=line.meter,
                    description=line.description,
                    usage=_plain(line.usage),
                    price_unit=line.price_unit,
                    unit_price=_plain(line.unit_price),
                    net=_plain(line.net),
                    vat_rate=_plain(line.vat_rate),
                    vat=_plain(line.vat),
                )
                for line in invoice.lines
            ],
            credit_notes=[CreditNoteSummary.of(note) for note in notes],
        )


class InvoiceList(BaseModel):
    invoices: list[InvoiceSummary]
