"""The management API's billing bodies (decision 0108). Money and rates are decimal *strings*
("0.0050"), never JSON numbers, which clients read as binary floats."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from andromede.billing.invoice import Invoice
from andromede.billing.model import Meter, Price, ReportLine, UsageReport

__all__ = [
    "PRICE_PATTERN",
    "RATE_PATTERN",
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

    @classmethod
    def of(cls, invoice: Invoice) -> InvoiceSummary:
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
        )


class InvoiceView(InvoiceSummary):
    customer_name: str
    issuer_name: str
    issuer_address: str
    issuer_vat_id: str
    lines: list[InvoiceLineView]

    @classmethod
    def of(cls, invoice: Invoice) -> InvoiceView:
        return cls(
            **InvoiceSummary.of(invoice).model_dump(),
            customer_name=invoice.customer_name,
            issuer_name=invoice.issuer.name,
            issuer_address=invoice.issuer.address,
            issuer_vat_id=invoice.issuer.vat_id,
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
        )


class InvoiceList(BaseModel):
    invoices: list[InvoiceSummary]
