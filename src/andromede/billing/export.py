"""A usage report as CSV, for the management API's export and ``andromede admin usage``."""

from __future__ import annotations

import csv
import io

from andromede.billing.model import UsageReport

__all__ = ["CSV_HEADER", "usage_csv_text"]

CSV_HEADER = (
    "period",
    "tenant_id",
    "region",
    "meter",
    "quantity",
    "unit",
    "usage",
    "price_unit",
    "unit_price_eur",
    "net_eur",
    "vat_rate",
    "vat_eur",
    "total_eur",
)


def usage_csv_text(report: UsageReport) -> str:
    """One row per line, then a total row (quantities blank)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for line in report.lines:
        writer.writerow(
            (
                report.period.label,
                report.tenant_id,
                line.region,
                line.meter,
                line.quantity,
                line.unit,
                format(line.usage, "f"),
                line.price_unit,
                "" if line.unit_price is None else line.unit_price,
                line.net,
                line.vat_rate,
                line.vat,
                line.total,
            )
        )
    writer.writerow(
        (
            report.period.label,
            report.tenant_id,
            "",
            "total",
            "",
            "",
            "",
            "",
            "",
            report.net,
            "",
            report.vat,
            report.total,
        )
    )
    return out.getvalue()
