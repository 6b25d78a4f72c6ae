"""Invoices as PDF documents (decision 0123), pure: the layout and the wording, in English or
French, of an issued :class:`~andromede.billing.invoice.Invoice` made an A4 PDF with the
mentions an EU/French invoice must carry — number, dates, the billing period, the issuer and its
VAT id, the customer, the lines, the VAT broken down per rate, the totals, the payment terms,
the late-payment penalties and the fixed recovery indemnity.

The PDF is a rendering of the invoice, not the invoice: the JSON the store keeps is the record.
Amounts are formatted from their ``Decimal`` (never through ``float``), and the same invoice
gives the same bytes (the PDF's creation date is the invoice's issue date).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Final

from fpdf import FPDF
from fpdf.enums import Align, TableBordersLayout, XPos, YPos
from fpdf.fonts import FontFace

from andromede.billing.invoice import Invoice

# ruff: noqa: RUF001

__all__ = ["LANGUAGES", "invoice_pdf"]

# Helvetica is one of the PDF's core fonts: nothing to embed, nothing to find on the host. Its
# encoding in fpdf2 (WinAnsiEncoding) is Windows-1252, which holds é, €, — and the
# typographic apostrophe French is written with (hence RUF001 off in this file).
_FONT: Final = "helvetica"
_ENCODING: Final = "windows-1252"
_MARGIN: Final = 15.0  # mm
_USAGE_DECIMALS: Final = 6
_PRICE_DECIMALS: Final = 9
_RATE_DECIMALS: Final = 4
# Letters no decomposition brings into Windows-1252 (Polish, Croatian, Turkish, Maltese names).
_TRANSLITERATIONS: Final = {"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "ı": "i", "Ħ": "H", "ħ": "h"}


@dataclass(frozen=True, slots=True)
class _Words:
    decimal_point: str
    invoice: str
    number: str
    issued: str
    due: str
    period: str  # {label} {first} {last}
    vat_id: str
    customer: str
    account: str
    description: str
    region: str
    usage: str
    unit_price: str
    net: str
    vat_rate: str
    vat: str
    no_usage: str
    vat_breakdown: str
    total_net: str
    total_vat: str
    total: str
    currency: str
    payable: str  # {days}
    no_discount: str
    penalties: str
    indemnity: str
    page: str  # {page} {pages}


_EN: Final = _Words(
    decimal_point=".",
    invoice="Invoice",
    number="Invoice number",
    issued="Issue date",
    due="Due date",
    period="Billing period: {label} ({first} to {last})",
    vat_id="VAT ID",
    customer="Customer",
    account="Account",
    description="Description",
    region="Region",
    usage="Usage",
    unit_price="Unit price (EUR)",
    net="Net (EUR)",
    vat_rate="VAT rate",
    vat="VAT (EUR)",
    no_usage="No usage this period",
    vat_breakdown="VAT breakdown",
    total_net="Total excl. VAT",
    total_vat="VAT",
    total="Total incl. VAT",
    currency="Currency: EUR",
    payable="Payable within {days} days of the issue date, by the due date above.",
    no_discount="No discount for early payment.",
    penalties=(
        "Late payment penalties: interest at the rate the European Central Bank applies to its"
        " most recent refinancing operation plus 10 percentage points, due from the day after"
        " the due date (French Commercial Code, art. L441-10)."
    ),
    indemnity=(
        "Fixed compensation for recovery costs: EUR 40, due to the creditor in case of late"
        " payment (art. D441-5)."
    ),
    page="Page {page}/{pages}",
)

_FR: Final = _Words(
    decimal_point=",",
    invoice="Facture",
    number="N° de facture",
    issued="Date d’émission",
    due="Date d’échéance",
    period="Période de facturation : {label} (du {first} au {last})",
    vat_id="N° TVA intracommunautaire",
    customer="Client",
    account="Compte",
    description="Désignation",
    region="Région",
    usage="Quantité",
    unit_price="Prix unitaire HT (€)",
    net="Montant HT (€)",
    vat_rate="Taux de TVA",
    vat="TVA (€)",
    no_usage="Aucune consommation sur la période",
    vat_breakdown="Détail de la TVA",
    total_net="Total HT",
    total_vat="TVA",
    total="Total TTC",
    currency="Devise : EUR",
    payable="Payable sous {days} jours à compter de la date d’émission, à l’échéance ci-dessus.",
    no_discount="Pas d’escompte pour paiement anticipé.",
    penalties=(
        "Pénalités de retard : taux d’intérêt appliqué par la Banque centrale européenne à son"
        " opération de refinancement la plus récente, majoré de 10 points de pourcentage,"
        " exigibles dès le lendemain de l’échéance (Code de commerce, art. L441-10)."
    ),
    indemnity=(
        "Indemnité forfaitaire pour frais de recouvrement : 40 €, due au créancier en cas de"
        " retard de paiement (art. D441-5)."
    ),
    page="Page {page}/{pages}",
)

_WORDS: Final = {"en": _EN, "fr": _FR}
LANGUAGES: Final = tuple(_WORDS)


def invoice_pdf(invoice: Invoice, *, language: str = "en", compress: bool = True) -> bytes:
    """``invoice`` as an A4 PDF in ``language`` ("en" or "fr"); ``compress=False`` leaves the
    content streams readable (tests search them)."""
    words = _WORDS.get(language)
    if words is None:
        raise ValueError(f"no invoice wording in {language!r}: one of {LANGUAGES}")
    pdf = _Document(invoice, words)
    pdf.set_compression(compress)
    pdf.set_creation_date(invoice.issued_at)
    pdf.set_title(invoice.number)
    pdf.set_author(_text(invoice.issuer.name))
    pdf.set_lang(language)
    pdf.add_page()
    _heading(pdf, invoice, words)
    _lines(pdf, invoice, words)
    _totals(pdf, invoice, words)
    _terms(pdf, invoice, words)
    return bytes(pdf.output())


class _Document(FPDF):
    """An A4 page in millimetres whose footer names the invoice and the page."""

    def __init__(self, invoice: Invoice, words: _Words) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.core_fonts_encoding = _ENCODING
        self.set_margins(_MARGIN, _MARGIN, _MARGIN)
        self.set_auto_page_break(auto=True, margin=_MARGIN + 5)
        self.set_font(_FONT, size=9)
        self._number = invoice.number
        self._words = words

    def footer(self) -> None:
        self.set_y(-_MARGIN)
        self.set_font(_FONT, size=7)
        page = self._words.page.format(page=self.page_no(), pages=self.str_alias_nb_pages)
        self.cell(0, 4, f"{self._number} — {page}", align=Align.R)


def _heading(pdf: FPDF, invoice: Invoice, words: _Words) -> None:
    issuer = invoice.issuer
    top = pdf.get_y()
    half = (pdf.epw - 10) / 2
    pdf.set_font(_FONT, "B", 11)
    pdf.multi_cell(half, 5, _text(issuer.name), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(_FONT, size=9)
    for line in issuer.address.splitlines():
        if line.strip():
            pdf.multi_cell(half, 4.5, _text(line), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if issuer.vat_id:
        pdf.multi_cell(half, 4.5, _text(f"{words.vat_id}: {issuer.vat_id}"), new_x=XPos.LMARGIN)
    left_bottom = pdf.get_y()

    right = pdf.l_margin + half + 10
    pdf.set_xy(right, top)
    pdf.set_font(_FONT, "B", 18)
    pdf.cell(half, 9, words.invoice, align=Align.R, new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_font(_FONT, size=9)
    last_day = (invoice.period.end - timedelta(days=1)).date().isoformat()
    for text in (
        f"{words.number}: {invoice.number}",
        f"{words.issued}: {invoice.issued_at.date().isoformat()}",
        f"{words.due}: {invoice.due_at.date().isoformat()}",
        words.period.format(
            label=invoice.period.label,
            first=invoice.period.start.date().isoformat(),
            last=last_day,
        ),
    ):
        pdf.cell(half, 4.5, _text(text), align=Align.R, new_x=XPos.LEFT, new_y=YPos.NEXT)

    pdf.set_xy(pdf.l_margin, max(left_bottom, pdf.get_y()) + 8)
    pdf.set_font(_FONT, "B", 9)
    pdf.cell(0, 4.5, words.customer, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(_FONT, size=9)
    pdf.multi_cell(0, 4.5, _text(invoice.customer_name), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.cell(
        0,
        4.5,
        _text(f"{words.account}: {invoice.tenant_id}"),
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.ln(6)


def _lines(pdf: FPDF, invoice: Invoice, words: _Words) -> None:
    point = words.decimal_point
    pdf.set_font(_FONT, size=8)
    with pdf.table(
        col_widths=(34, 14, 14, 14, 12, 9, 11),
        text_align=("LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"),
        headings_style=FontFace(emphasis="BOLD", fill_color=(230, 230, 230)),
        borders_layout=TableBordersLayout.HORIZONTAL_LINES,
        repeat_headings=1,
        line_height=5,
    ) as table:
        table.row(
            (
                words.description,
                words.region,
                words.usage,
                words.unit_price,
                words.net,
                words.vat_rate,
                words.vat,
            )
        )
        if not invoice.lines:
            row = table.row()
            row.cell(words.no_usage, colspan=4)
            row.cell(_money(Decimal(0), point))
            row.cell("")
            row.cell(_money(Decimal(0), point))
        for line in invoice.lines:
            table.row(
                (
                    _text(line.description),
                    _text(line.region),
                    _decimal(line.usage, point, most=_USAGE_DECIMALS),
                    _decimal(line.unit_price, point, most=_PRICE_DECIMALS, least=2),
                    _money(line.net, point),
                    _percent(line.vat_rate, point),
                    _money(line.vat, point),
                )
            )


def _totals(pdf: FPDF, invoice: Invoice, words: _Words) -> None:
    point = words.decimal_point
    pdf.ln(6)
    width = 90.0
    rates = invoice.vat_by_rate()
    if rates:  # no lines, no rate to break down
        _vat_breakdown(pdf, rates, words, width)
        pdf.ln(3)
    for label, amount, bold in (
        (words.total_net, invoice.net, False),
        (words.total_vat, invoice.vat, False),
        (words.total, invoice.total, True),
    ):
        pdf.set_font(_FONT, "B" if bold else "", 10 if bold else 9)
        pdf.set_x(pdf.w - pdf.r_margin - width)
        pdf.cell(width - 35, 6, label)
        pdf.cell(
            35,
            6,
            f"{_money(amount, point)} EUR",
            align=Align.R,
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
    pdf.set_font(_FONT, size=8)
    pdf.set_x(pdf.w - pdf.r_margin - width)
    pdf.cell(width, 5, words.currency, align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _vat_breakdown(
    pdf: FPDF, rates: list[tuple[Decimal, Decimal, Decimal]], words: _Words, width: float
) -> None:
    point = words.decimal_point
    pdf.set_font(_FONT, "B", 9)
    pdf.set_x(pdf.w - pdf.r_margin - width)
    pdf.cell(width, 5, words.vat_breakdown, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(_FONT, size=8)
    with pdf.table(
        width=width,
        align=Align.R,
        col_widths=(1, 1, 1),
        text_align=("RIGHT", "RIGHT", "RIGHT"),
        headings_style=FontFace(emphasis="BOLD", fill_color=(230, 230, 230)),
        borders_layout=TableBordersLayout.HORIZONTAL_LINES,
        line_height=5,
    ) as table:
        table.row((words.vat_rate, words.net, words.vat))
        for rate, net, vat in rates:
            table.row((_percent(rate, point), _money(net, point), _money(vat, point)))


def _terms(pdf: FPDF, invoice: Invoice, words: _Words) -> None:
    pdf.ln(8)
    pdf.set_font(_FONT, "B", 9)
    pdf.multi_cell(
        0,
        4.5,
        words.payable.format(days=invoice.issuer.payment_days),
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.set_font(_FONT, size=8)
    for text in (words.no_discount, words.penalties, words.indemnity):
        pdf.multi_cell(0, 4, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


# -- numbers ------------------------------------------------------------------------------------


def _decimal(value: Decimal, point: str, *, most: int, least: int = 0) -> str:
    """``value`` rounded half up to ``most`` decimals, trailing zeros stripped down to
    ``least`` decimals, with ``point`` as the decimal separator."""
    with localcontext() as context:
        context.prec = 60  # enough for any amount below 10**50 at 9 decimals
        rounded = value.quantize(Decimal(1).scaleb(-most), rounding=ROUND_HALF_UP)
    text = format(rounded, "f")
    if "." in text:
        whole, fraction = text.split(".")
        fraction = fraction.rstrip("0").ljust(least, "0")
    else:
        whole, fraction = text, "0" * least
    if whole == "-0" and not fraction.strip("0"):
        whole = "0"  # no "-0.00" for an amount that rounds to zero
    return f"{whole}{point}{fraction}" if fraction else whole


def _money(value: Decimal, point: str) -> str:
    return _decimal(value, point, most=2, least=2)


def _percent(rate: Decimal, point: str) -> str:
    return f"{_decimal(rate * 100, point, most=_RATE_DECIMALS)} %"


# -- text ---------------------------------------------------------------------------------------


def _text(text: str) -> str:
    """``text`` in the characters the core font can print: a name or an address in another
    script loses its accents (``ź`` -> ``z``) or becomes ``?`` on the PDF only; the invoice
    itself keeps it whole."""
    out = []
    for char in text:
        try:
            char.encode(_ENCODING)
        except UnicodeEncodeError:
            char = _TRANSLITERATIONS.get(char) or _base(char)
        out.append(char)
    return "".join(out)


def _base(char: str) -> str:
    stripped = "".join(
        c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
    )
    try:
        stripped.encode(_ENCODING)
    except UnicodeEncodeError:
        return "?"
    return stripped or "?"
