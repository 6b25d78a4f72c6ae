"""Invoices as PDF documents (decision 0123), pure: the layout and the wording, in English or
French, of an issued :class:`~andromede.billing.invoice.Invoice` made an A4 PDF with the
mentions an EU/French invoice must carry — number, dates, the billing period, the issuer and its
VAT id, the customer, the lines, the VAT broken down per rate, the totals, the payment terms,
the late-payment penalties and the fixed recovery indemnity — on an invoice in a payment block
with the due date and, when the issuer names an account, the IBAN in groups of four, the BIC
and the reference to give with the transfer (decision 0136).

The PDF is a rendering of the invoice, not the invoice: the JSON the store keeps is the record.
Amounts are formatted from their ``Decimal`` (never through ``float``), and the same invoice
gives the same bytes (the PDF's creation date is the invoice's issue date).

Since decision 0131 the PDF is a PDF/A-3B (its font embedded) and a Factur-X invoice: it
carries the document's EN 16931 XML (``facturx``) as ``factur-x.xml``, in the same language,
unless the document cannot be one (issued without a billing profile, or without a line): then
it is the PDF/A alone.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path
from typing import Any, Final

from fpdf import FPDF
from fpdf.enums import Align, TableBordersLayout, XPos, YPos
from fpdf.fonts import FontFace

from andromede.billing.credit_note import CreditNote
from andromede.billing.errors import NoEInvoice
from andromede.billing.facturx import credit_note_xml, invoice_xml
from andromede.billing.facturx_pdf import attach, metadata
from andromede.billing.invoice import Invoice, Issuer
from andromede.billing.invoice_wording import LANGUAGES, WORDS, Words
from andromede.billing.profile import BillingProfile, VatTreatment

# ruff: noqa: RUF001

__all__ = ["LANGUAGES", "credit_note_pdf", "invoice_pdf"]

# Liberation Sans (SIL OFL, shipped in fonts/; Arial's metrics, which are Helvetica's)
# embedded, as PDF/A asks of every font (decision 0131; Helvetica, a core font, was not
# embedded before). What is printed stays within Windows-1252, which holds é, €, — and the
# typographic apostrophe French is written with (hence RUF001 off in this file), as before.
_FONT: Final = "liberation-sans"
_FONT_FILES: Final = Path(__file__).with_name("fonts")
_ENCODING: Final = "windows-1252"
# PDF/A-3 (level B): embedded fonts, an sRGB output intent, XMP metadata, which fpdf2 checks
# and writes; PDF/A-3 is the PDF/A that may carry other files (the Factur-X XML).
_COMPLIANCE: Final = "PDFA_3B"
_MARGIN: Final = 15.0  # mm
_USAGE_DECIMALS: Final = 6
_PRICE_DECIMALS: Final = 9
_RATE_DECIMALS: Final = 4
# Letters no decomposition brings into Windows-1252 (Polish, Croatian, Turkish, Maltese names).
_TRANSLITERATIONS: Final = {"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "ı": "i", "Ħ": "H", "ħ": "h"}


def invoice_pdf(invoice: Invoice, *, language: str = "en", compress: bool = True) -> bytes:
    """``invoice`` as an A4 PDF in ``language`` ("en" or "fr"); ``compress=False`` leaves the
    content streams readable (tests search them)."""
    words = _words(language)
    pdf = _start(invoice.number, invoice.issuer.name, invoice.issued_at, words, language)
    pdf.set_compression(compress)
    last_day = (invoice.period.end - timedelta(days=1)).date().isoformat()
    _heading(
        pdf,
        invoice.issuer,
        words.invoice,
        (
            f"{words.number}: {invoice.number}",
            f"{words.issued}: {invoice.issued_at.date().isoformat()}",
            f"{words.due}: {invoice.due_at.date().isoformat()}",
            words.period.format(
                label=invoice.period.label,
                first=invoice.period.start.date().isoformat(),
                last=last_day,
            ),
        ),
        words,
    )
    _customer(pdf, invoice.customer_name, invoice.tenant_id, invoice.customer, words)
    _lines(pdf, invoice, words)
    _totals(pdf, invoice.vat_by_rate(), (invoice.net, invoice.vat, invoice.total), words)
    _vat_mention(pdf, invoice.vat_treatment, words)
    _payment(pdf, invoice, words)
    _attach_xml(pdf, lambda: invoice_xml(invoice, language=language), invoice.number,
                invoice.issuer.name, invoice.issued_at)  # fmt: skip
    return bytes(pdf.output())


def credit_note_pdf(note: CreditNote, *, language: str = "en", compress: bool = True) -> bytes:
    """``note`` as an A4 PDF in ``language``: titled "Credit note" ("Avoir"), referring to the
    invoice it credits by number and date, its amounts negative, with the invoice's
    mentions."""
    words = _words(language)
    pdf = _start(note.number, note.issuer.name, note.issued_at, words, language)
    pdf.set_compression(compress)
    _heading(
        pdf,
        note.issuer,
        words.credit_note,
        (
            f"{words.credit_number}: {note.number}",
            f"{words.issued}: {note.issued_at.date().isoformat()}",
            words.credit_of.format(
                number=note.invoice_number, date=note.invoice_issued_at.date().isoformat()
            ),
        ),
        words,
    )
    _customer(pdf, note.customer_name, note.tenant_id, note.customer, words)
    pdf.set_font(_FONT, "B", 9)
    pdf.cell(0, 4.5, words.reason, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(_FONT, size=9)
    pdf.multi_cell(0, 4.5, _text(note.reason), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    _credit_lines(pdf, note, words)
    _totals(pdf, note.vat_by_rate(), (note.net, note.vat, note.total), words)
    _vat_mention(pdf, note.vat_treatment, words)
    _terms(pdf, words.credit_terms.format(number=note.invoice_number), words)
    _attach_xml(pdf, lambda: credit_note_xml(note, language=language), note.number,
                note.issuer.name, note.issued_at)  # fmt: skip
    return bytes(pdf.output())


def _attach_xml(
    pdf: FPDF, xml: Callable[[], bytes], number: str, issuer: str, issued_at: datetime
) -> None:
    """The document's Factur-X XML in ``pdf`` when it can have one, and its PDF/A metadata
    (decision 0131)."""
    try:
        document: bytes | None = xml()
    except NoEInvoice:
        document = None
    if document is not None:
        attach(pdf, document, created=issued_at)
    pdf.set_xmp_metadata(metadata(number, issuer, issued_at, e_invoice=document is not None))


def _words(language: str) -> Words:
    words = WORDS.get(language)
    if words is None:
        raise ValueError(f"no invoice wording in {language!r}: one of {LANGUAGES}")
    return words


class _Document(FPDF):
    """An A4 page in millimetres whose footer names the document and the page."""

    def __init__(self, number: str, words: Words) -> None:
        super().__init__(
            orientation="portrait", unit="mm", format="A4", enforce_compliance=_COMPLIANCE
        )
        self.add_font(_FONT, "", _FONT_FILES / "LiberationSans-Regular.ttf")
        self.add_font(_FONT, "B", _FONT_FILES / "LiberationSans-Bold.ttf")
        self.set_margins(_MARGIN, _MARGIN, _MARGIN)
        self.set_auto_page_break(auto=True, margin=_MARGIN + 5)
        self.set_font(_FONT, size=9)
        self._number = number
        self._words = words

    def footer(self) -> None:
        self.set_y(-_MARGIN)
        self.set_font(_FONT, size=7)
        page = self._words.page.format(page=self.page_no(), pages=self.str_alias_nb_pages)
        self.cell(0, 4, f"{self._number} — {page}", align=Align.R)


def _start(number: str, author: str, created: datetime, words: Words, language: str) -> FPDF:
    pdf = _Document(number, words)
    pdf.set_creation_date(created)
    pdf.set_title(number)
    pdf.set_author(_text(author))
    pdf.set_lang(language)
    pdf.add_page()
    return pdf


def _heading(pdf: FPDF, issuer: Issuer, title: str, facts: tuple[str, ...], words: Words) -> None:
    """The issuer on the left, the document's title and facts on the right."""
    top = pdf.get_y()
    half = (pdf.epw - 10) / 2
    pdf.set_font(_FONT, "B", 11)
    pdf.multi_cell(half, 5, _text(issuer.name), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(_FONT, size=9)
    for line in issuer.address.splitlines():
        if line.strip():
            pdf.multi_cell(half, 4.5, _text(line), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if issuer.vat_id:
        text = _text(f"{words.vat_id}: {issuer.vat_id}")
        pdf.multi_cell(half, 4.5, text, new_x=XPos.LMARGIN)
    left_bottom = pdf.get_y()

    right = pdf.l_margin + half + 10
    pdf.set_xy(right, top)
    pdf.set_font(_FONT, "B", 18)
    pdf.cell(half, 9, title, align=Align.R, new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_font(_FONT, size=9)
    for text in facts:
        pdf.cell(half, 4.5, _text(text), align=Align.R, new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_xy(pdf.l_margin, max(left_bottom, pdf.get_y()) + 8)


def _customer(
    pdf: FPDF, name: str, account: str, profile: BillingProfile | None, words: Words
) -> None:
    """The customer block: its billing profile's name, address and identifiers when the
    invoice copied one (decision 0126), its account always."""
    lines = [profile.legal_name if profile is not None else name]
    if profile is not None:
        lines += profile.postal_lines()
        if profile.vat_number:
            lines.append(f"{words.vat_id}: {profile.vat_number}")
        if profile.siret:
            lines.append(f"{words.siret}: {profile.siret}")
        if profile.purchase_order:
            lines.append(f"{words.purchase_order}: {profile.purchase_order}")
    lines.append(f"{words.account}: {account}")
    pdf.set_font(_FONT, "B", 9)
    pdf.cell(0, 4.5, words.customer, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(_FONT, size=9)
    for line in lines:
        pdf.multi_cell(0, 4.5, _text(line), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(6)


def _table(pdf: FPDF, widths: tuple[int, ...]) -> Any:
    pdf.set_font(_FONT, size=8)
    return pdf.table(
        col_widths=widths,
        text_align=("LEFT", "LEFT", *("RIGHT",) * (len(widths) - 2)),
        headings_style=FontFace(emphasis="BOLD", fill_color=(230, 230, 230)),
        borders_layout=TableBordersLayout.HORIZONTAL_LINES,
        repeat_headings=1,
        line_height=5,
    )


def _lines(pdf: FPDF, invoice: Invoice, words: Words) -> None:
    point = words.decimal_point
    with _table(pdf, (34, 14, 14, 14, 12, 9, 11)) as table:
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


def _credit_lines(pdf: FPDF, note: CreditNote, words: Words) -> None:
    point = words.decimal_point
    with _table(pdf, (48, 20, 14, 9, 11)) as table:
        table.row((words.description, words.region, words.net, words.vat_rate, words.vat))
        for line in note.lines:
            table.row(
                (
                    _text(line.description),
                    _text(line.region),
                    _money(line.net, point),
                    _percent(line.vat_rate, point),
                    _money(line.vat, point),
                )
            )


def _totals(
    pdf: FPDF,
    rates: list[tuple[Decimal, Decimal, Decimal]],
    amounts: tuple[Decimal, Decimal, Decimal],
    words: Words,
) -> None:
    point = words.decimal_point
    pdf.ln(6)
    width = 90.0
    if rates:  # no lines, no rate to break down
        _vat_breakdown(pdf, rates, words, width)
        pdf.ln(3)
    net, vat, total = amounts
    for label, amount, bold in (
        (words.total_net, net, False),
        (words.total_vat, vat, False),
        (words.total, total, True),
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
    pdf: FPDF, rates: list[tuple[Decimal, Decimal, Decimal]], words: Words, width: float
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


def _vat_mention(pdf: FPDF, treatment: VatTreatment, words: Words) -> None:
    """Why no VAT is invoiced, as the law asks the invoice to say (decision 0126)."""
    mention = {
        VatTreatment.REVERSE_CHARGE: words.reverse_charge,
        VatTreatment.OUTSIDE_EU: words.outside_eu,
    }.get(treatment)
    if mention is not None:
        pdf.ln(4)
        pdf.set_font(_FONT, "B", 9)
        pdf.multi_cell(0, 4.5, mention, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _payment(pdf: FPDF, invoice: Invoice, words: Words) -> None:
    """The payment block (decision 0136): when, and — when the issuer names an account — how
    to pay and what to quote, then what paying late costs."""
    issuer = invoice.issuer
    facts = [f"{words.due}: {invoice.due_at.date().isoformat()}"]
    if issuer.iban:
        facts += [f"{words.means}: {words.transfer}", f"IBAN: {_grouped(issuer.iban)}"]
        if issuer.bic:
            facts.append(f"BIC: {issuer.bic}")
        facts.append(f"{words.reference}: {invoice.number}")
    pdf.ln(8)
    pdf.set_font(_FONT, "B", 10)
    pdf.cell(0, 5, words.payment, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(_FONT, size=9)
    for text in facts:
        pdf.multi_cell(0, 4.5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    _terms(pdf, words.payable.format(days=issuer.payment_days), words, space=2)


def _grouped(iban: str) -> str:
    """An IBAN in its paper form (ISO 13616): groups of four, the last one shorter."""
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def _terms(pdf: FPDF, payable: str, words: Words, *, space: float = 8) -> None:
    pdf.ln(space)
    pdf.set_font(_FONT, "B", 9)
    pdf.multi_cell(0, 4.5, payable, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
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
    """``text`` in the characters the layout prints (Windows-1252): a name or an address in another
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
