"""Invoices as PDF documents: every mandatory mention is in the page content, in English and
in French, long tables flow onto further pages under their headings, and the same invoice
gives the same bytes. The text is read per text operation with pypdf, through the embedded
font's ToUnicode map (decision 0131: the PDF/A embeds its font, which writes glyph numbers)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pypdf import PageObject, PdfReader

from andromede.billing.invoice import Invoice, InvoiceLine, Issuer
from andromede.billing.invoice_pdf import invoice_pdf
from andromede.billing.model import parse_month

ISSUER = Issuer(
    name="Andromède SAS",
    address="12 rue de la Paix\n75002 Paris, France",
    vat_id="FR12345678901",
    payment_days=30,
)
STORAGE = InvoiceLine(
    region="eu-west-par",
    meter="s3.storage",
    description="s3.storage (GB-month)",
    usage=Decimal("123.4500000"),
    price_unit="GB-month",
    unit_price=Decimal("0.023000000"),
    net=Decimal("2.84"),
    vat_rate=Decimal("0.20"),
    vat=Decimal("0.57"),
)
INSTANCE = InvoiceLine(
    region="eu-central-lux",
    meter="ec2.instance.t3.micro",
    description="ec2.instance.t3.micro (hour)",
    usage=Decimal("730.0000001234"),
    price_unit="hour",
    unit_price=Decimal("0.000012345"),
    net=Decimal("0.01"),
    vat_rate=Decimal("0.17"),
    vat=Decimal("0.00"),
)
REQUESTS = InvoiceLine(
    region="eu-central-lux",
    meter="s3.requests.tier1",
    description="s3.requests.tier1 (1,000 requests)",
    usage=Decimal("1500"),
    price_unit="1,000 requests",
    unit_price=Decimal("5"),
    net=Decimal("7500.00"),
    vat_rate=Decimal("0.17"),
    vat=Decimal("1275.00"),
)


def make_invoice(lines: tuple[InvoiceLine, ...] = (STORAGE, INSTANCE, REQUESTS)) -> Invoice:
    return Invoice(
        number="INV-2026-000042",
        tenant_id="tenant-7f3a",
        customer_name="Société Éléphant & Fils",
        period=parse_month("2026-11"),
        issued_at=datetime(2026, 12, 1, 6, 0, tzinfo=UTC),
        due_at=datetime(2026, 12, 31, 6, 0, tzinfo=UTC),
        issuer=ISSUER,
        lines=lines,
    )


def page_texts(pdf: bytes) -> list[str]:
    """The text drawn on each page, one line per text operation, in drawing order: decoded by
    pypdf through the embedded font's ToUnicode map (the font writes glyph numbers)."""
    return [_page_text(page) for page in PdfReader(io.BytesIO(pdf)).pages]


def _page_text(page: PageObject) -> str:
    lines: list[str] = []

    def shown(text: str, *_: object) -> None:
        if text.strip():
            lines.append(text.strip())

    page.extract_text(visitor_text=shown)
    return "\n".join(lines)


def metadata_of(pdf: bytes) -> bytes:
    """The document's XMP metadata: a PDF/A keeps its title and dates there (decision 0131)."""
    data: bytes = PdfReader(io.BytesIO(pdf)).trailer["/Root"]["/Metadata"].get_object().get_data()
    return data


def text_of(pdf: bytes) -> str:
    return "\n".join(page_texts(pdf))


def test_an_invoice_is_a_pdf_whose_title_is_its_number() -> None:
    pdf = invoice_pdf(make_invoice())
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")
    assert b'<rdf:li xml:lang="x-default">INV-2026-000042</rdf:li>' in metadata_of(pdf)
    assert b"<pdfaid:part>3</pdfaid:part><pdfaid:conformance>B</pdfaid:conformance>" in (
        metadata_of(pdf)
    )


@pytest.mark.parametrize("compress", [True, False])
@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_same_invoice_gives_the_same_bytes(language: str, compress: bool) -> None:
    first = invoice_pdf(make_invoice(), language=language, compress=compress)
    second = invoice_pdf(make_invoice(), language=language, compress=compress)
    assert first == second
    assert b"<xmp:CreateDate>2026-12-01T06:00:00+00:00</xmp:CreateDate>" in metadata_of(first)


def test_an_english_invoice_shows_every_mandatory_mention() -> None:
    text = text_of(invoice_pdf(make_invoice(), language="en", compress=False))
    for expected in [
        "Invoice",
        "Invoice number: INV-2026-000042",
        "Issue date: 2026-12-01",
        "Due date: 2026-12-31",
        "Billing period: 2026-11 (2026-11-01 to 2026-11-30)",
        # The issuer, its two-line address and VAT id; the customer and its account.
        "Andromède SAS",
        "12 rue de la Paix",
        "75002 Paris, France",
        "VAT ID: FR12345678901",
        "Société Éléphant & Fils",
        "Account: tenant-7f3a",
        # Each line: description, region, usage (6 decimals at most), unit price (9 at most,
        # 2 at least), net, VAT rate, VAT.
        "s3.storage (GB-month)\neu-west-par\n123.45\n0.023\n2.84\n20 %\n0.57",
        "ec2.instance.t3.micro (hour)\neu-central-lux\n730\n0.000012345\n0.01\n17 %\n0.00",
        "s3.requests.tier1 (1,000 requests)\neu-central-lux\n1500\n5.00\n7500.00\n17 %\n1275.00",
        # VAT per rate (ascending), then the totals.
        "17 %\n7500.01\n1275.00\n20 %\n2.84\n0.57",
        "Total excl. VAT\n7502.85 EUR",
        "VAT\n1275.57 EUR",
        "Total incl. VAT\n8778.42 EUR",
        "Currency: EUR",
        # Payment terms and the late-payment mentions of the French Commercial Code.
        "Payable within 30 days",
        "Late payment penalties",
        "Fixed compensation for recovery costs: EUR 40",
        "INV-2026-000042 — Page 1/1",
    ]:
        assert expected in text, expected
    paragraphs = " ".join(text.split())  # as a reader reads across the lines' breaks
    assert "its most recent refinancing operation plus 10 percentage points" in paragraphs


def test_a_french_invoice_shows_every_mandatory_mention_in_french() -> None:
    text = text_of(invoice_pdf(make_invoice(), language="fr", compress=False))
    for expected in [
        "Facture",
        "N° de facture: INV-2026-000042",
        "Date d’émission: 2026-12-01",  # noqa: RUF001 - French apostrophe
        "Date d’échéance: 2026-12-31",  # noqa: RUF001
        "Période de facturation : 2026-11 (du 2026-11-01 au 2026-11-30)",
        "Andromède SAS",
        "12 rue de la Paix",
        "75002 Paris, France",
        "N° TVA intracommunautaire: FR12345678901",
        "Société Éléphant & Fils",
        "Compte: tenant-7f3a",
        # French decimal commas.
        "s3.storage (GB-month)\neu-west-par\n123,45\n0,023\n2,84\n20 %\n0,57",
        "ec2.instance.t3.micro (hour)\neu-central-lux\n730\n0,000012345\n0,01\n17 %\n0,00",
        "s3.requests.tier1 (1,000 requests)\neu-central-lux\n1500\n5,00\n7500,00\n17 %\n1275,00",
        "Détail de la TVA",
        "17 %\n7500,01\n1275,00\n20 %\n2,84\n0,57",
        "Total HT\n7502,85 EUR",
        "TVA\n1275,57 EUR",
        "Total TTC\n8778,42 EUR",
        "Payable sous 30 jours",
        "Pas d’escompte pour paiement anticipé.",  # noqa: RUF001
        "Pénalités de retard",
        "Indemnité forfaitaire pour frais de recouvrement : 40 €",
    ]:
        assert expected in text, expected
    paragraphs = " ".join(text.split())
    assert "refinancement la plus récente, majoré de 10 points de pourcentage" in paragraphs
    assert "Invoice" not in text


def test_payment_terms_follow_the_issuer() -> None:
    invoice = make_invoice()
    issuer = Issuer(ISSUER.name, ISSUER.address, ISSUER.vat_id, payment_days=45)
    invoice = Invoice(
        invoice.number,
        invoice.tenant_id,
        invoice.customer_name,
        invoice.period,
        invoice.issued_at,
        invoice.due_at,
        issuer,
        invoice.lines,
    )
    assert "Payable within 45 days" in text_of(invoice_pdf(invoice, compress=False))


def test_an_issuer_without_vat_id_shows_none() -> None:
    invoice = make_invoice()
    issuer = Issuer(ISSUER.name, ISSUER.address)
    invoice = Invoice(
        invoice.number,
        invoice.tenant_id,
        invoice.customer_name,
        invoice.period,
        invoice.issued_at,
        invoice.due_at,
        issuer,
        invoice.lines,
    )
    assert "VAT ID" not in text_of(invoice_pdf(invoice, compress=False))


@pytest.mark.parametrize(("language", "heading"), [("en", "Description"), ("fr", "Désignation")])
def test_a_long_table_flows_onto_more_pages_under_its_headings(language: str, heading: str) -> None:
    lines = tuple(
        InvoiceLine(
            region=("eu-west-par", "eu-central-lux")[i % 2],
            meter=f"meter.{i:02d}",
            description=f"meter.{i:02d} (GB-month)",
            usage=Decimal(i) + Decimal("0.5"),
            price_unit="GB-month",
            unit_price=Decimal("0.02"),
            net=Decimal(i) / 100,
            vat_rate=(Decimal("0.20"), Decimal("0.17"))[i % 2],
            vat=Decimal("0.00"),
        )
        for i in range(80)
    )
    pages = page_texts(invoice_pdf(make_invoice(lines), language=language, compress=False))
    assert len(pages) > 1
    for page in pages[:-1] or pages:
        assert heading in page  # the table's headings, repeated on every page it runs over
    text = "\n".join(pages)
    for i in range(80):
        assert f"meter.{i:02d} (GB-month)" in text
    total = sum((line.net for line in lines), Decimal("0.00"))
    assert f"{total:.2f}".replace(".", "," if language == "fr" else ".") in text
    assert f"Page {len(pages)}/{len(pages)}" in pages[-1]


def test_an_invoice_without_lines_still_renders() -> None:
    pdf = invoice_pdf(make_invoice(()), compress=False)
    assert pdf.startswith(b"%PDF-")
    text = text_of(pdf)
    assert "No usage this period" in text
    assert "Total excl. VAT\n0.00 EUR" in text
    assert "VAT\n0.00 EUR" in text
    assert "Total incl. VAT\n0.00 EUR" in text
    assert "Fixed compensation for recovery costs: EUR 40" in text
    french = text_of(invoice_pdf(make_invoice(()), language="fr", compress=False))
    assert "Aucune consommation sur la période" in french
    assert "Total TTC\n0,00 EUR" in french


def test_a_name_the_core_font_cannot_print_loses_only_its_accents() -> None:
    invoice = make_invoice()
    invoice = Invoice(
        invoice.number,
        invoice.tenant_id,
        "Łódź Chmura Sp. z o.o.",
        invoice.period,
        invoice.issued_at,
        invoice.due_at,
        invoice.issuer,
        invoice.lines,
    )
    assert "Lódz Chmura Sp. z o.o." in text_of(invoice_pdf(invoice, compress=False))


@pytest.mark.parametrize("language", ["de", "EN", "", "en-GB"])
def test_an_unknown_language_is_refused(language: str) -> None:
    with pytest.raises(ValueError, match="no invoice wording"):
        invoice_pdf(make_invoice(), language=language)
