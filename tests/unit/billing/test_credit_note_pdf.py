"""The customer's block and the VAT mentions on invoices, and credit notes as PDF documents
(decision 0126): read from the uncompressed content streams as test_invoice_pdf.py does —
the customer's name, address, VAT number, SIRET and purchase order; the reverse-charge and
export mentions in both languages (none for VAT at home); a credit note titled "Credit note"
or "Avoir", referring to the invoice's number and date, its reason, its amounts negative per
VAT rate and the invoice's mentions; the same bytes twice."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from andromede.billing.credit_note import CreditNote, credit, parse_request
from andromede.billing.invoice import Invoice
from andromede.billing.invoice_pdf import credit_note_pdf, invoice_pdf
from andromede.billing.profile import BillingProfile, VatTreatment
from unit.billing.test_invoice_pdf import make_invoice, metadata_of, text_of

GERMAN = BillingProfile(
    legal_name="Kunde GmbH",
    address_lines=("Hauptstraße 1", "Hinterhaus"),
    postcode="10115",
    city="Berlin",
    country="DE",
    vat_number="DE123456789",
    purchase_order="BE-4711",
    invoice_email="rechnung@kunde.example",
)
FRENCH = BillingProfile(
    legal_name="Société Éléphant & Fils",
    address_lines=("12 rue de la Paix",),
    postcode="75002",
    city="Paris",
    country="FR",
    vat_number="FR44732829320",
    siret="73282932000074",
    invoice_email="factures@elephant.example",
    language="fr",
)
SWISS = BillingProfile("Acme AG", ("Bahnhofstrasse 1",), "Zürich", "CH", "ap@acme.example",
                       postcode="8001")  # fmt: skip


def _invoice(customer: BillingProfile, treatment: VatTreatment) -> Invoice:
    return dataclasses.replace(
        make_invoice(), customer=customer, customer_name=customer.legal_name,
        vat_treatment=treatment,
    )  # fmt: skip


def _credit(invoice: Invoice, amounts: object = None) -> CreditNote:
    request = parse_request("Service outage, 2026-11-12 to 2026-11-14", amounts)  # type: ignore[arg-type]
    return credit(invoice, [], request, "AV-2027-000003", datetime(2027, 1, 5, 8, tzinfo=UTC))


def test_the_customer_block_shows_the_profile() -> None:
    text = text_of(invoice_pdf(_invoice(GERMAN, VatTreatment.REVERSE_CHARGE), compress=False))
    block = text.split("Customer", 1)[1].split("Description", 1)[0]
    for expected in (
        "Kunde GmbH",
        "Hauptstraße 1",
        "Hinterhaus",
        "10115 Berlin",
        "DE",
        "VAT ID: DE123456789",
        "Purchase order: BE-4711",
        "Account: tenant-7f3a",
    ):
        assert expected in block, expected
    assert "SIRET" not in block
    french = text_of(
        invoice_pdf(_invoice(FRENCH, VatTreatment.DOMESTIC), language="fr", compress=False)
    )
    block = french.split("Client", 1)[1].split("Désignation", 1)[0]
    for expected in ("N° TVA intracommunautaire: FR44732829320", "SIRET: 73282932000074"):
        assert expected in block, expected


@pytest.mark.parametrize(
    ("customer", "treatment", "english", "french"),
    [
        (
            GERMAN,
            VatTreatment.REVERSE_CHARGE,
            "Reverse charge — Article 196 of Directive 2006/112/EC",
            "Autoliquidation — article 196 de la directive 2006/112/CE",
        ),
        (
            SWISS,
            VatTreatment.OUTSIDE_EU,
            "VAT not applicable, Article 259-1 of the French General Tax Code",
            "TVA non applicable, art. 259-1 du CGI",
        ),
    ],
)
def test_an_invoice_without_vat_says_why(
    customer: BillingProfile, treatment: VatTreatment, english: str, french: str
) -> None:
    invoice = _invoice(customer, treatment)
    assert english in text_of(invoice_pdf(invoice, language="en", compress=False))
    assert french in text_of(invoice_pdf(invoice, language="fr", compress=False))
    note = _credit(invoice)
    assert english in text_of(credit_note_pdf(note, language="en", compress=False))
    assert french in text_of(credit_note_pdf(note, language="fr", compress=False))


def test_vat_at_home_has_no_such_mention() -> None:
    for invoice in (make_invoice(), _invoice(FRENCH, VatTreatment.DOMESTIC)):
        for language in ("en", "fr"):
            text = text_of(invoice_pdf(invoice, language=language, compress=False))
            for mention in ("Reverse charge", "Autoliquidation", "259-1"):
                assert mention not in text


def test_an_english_credit_note() -> None:
    note = _credit(_invoice(FRENCH, VatTreatment.DOMESTIC))
    pdf = credit_note_pdf(note, compress=False)
    assert b'<rdf:li xml:lang="x-default">AV-2027-000003</rdf:li>' in metadata_of(pdf)
    text = text_of(pdf)
    for expected in [
        "Credit note",
        "Credit note number: AV-2027-000003",
        "Issue date: 2027-01-05",
        "Credits invoice INV-2026-000042 of 2026-12-01",
        "Andromède SAS",
        "VAT ID: FR12345678901",
        "Société Éléphant & Fils",
        "VAT ID: FR44732829320",
        "Reason",
        "Service outage, 2026-11-12 to 2026-11-14",
        # The lines, negative; VAT per rate, negative; the totals.
        "s3.storage (GB-month)\neu-west-par\n-2.84\n20 %\n-0.57",
        "s3.requests.tier1 (1,000 requests)\neu-central-lux\n-7500.00\n17 %\n-1275.00",
        "17 %\n-7500.01\n-1275.00\n20 %\n-2.84\n-0.57",
        "Total excl. VAT\n-7502.85 EUR",
        "Total incl. VAT\n-8778.42 EUR",
        "deducted from the amount due on invoice INV-2026-000042",
        "Late payment penalties",
        "Fixed compensation for recovery costs: EUR 40",
        "AV-2027-000003 — Page 1/1",
    ]:
        assert expected in text, expected
    assert "Invoice number" not in text and "Due date" not in text


def test_a_french_credit_note_of_one_line() -> None:
    note = _credit(_invoice(FRENCH, VatTreatment.DOMESTIC), [(2, "1000.00")])
    text = text_of(credit_note_pdf(note, language="fr", compress=False))
    for expected in [
        "Avoir",
        "N° d’avoir: AV-2027-000003",  # noqa: RUF001 - French apostrophe
        "Avoir sur la facture n° INV-2026-000042 du 2026-12-01",
        "Motif",
        "s3.requests.tier1 (1,000 requests)\neu-central-lux\n-1000,00\n17 %\n-170,00",
        "17 %\n-1000,00\n-170,00",
        "Total HT\n-1000,00 EUR",
        "TVA\n-170,00 EUR",
        "Total TTC\n-1170,00 EUR",
        "vient en déduction du montant dû au titre de la facture INV-2026-000042",
        "Indemnité forfaitaire pour frais de recouvrement : 40 €",
    ]:
        assert expected in text, expected
    assert "s3.storage" not in text and "Credit note" not in text


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_same_credit_note_gives_the_same_bytes(language: str) -> None:
    note = _credit(_invoice(GERMAN, VatTreatment.REVERSE_CHARGE))
    first = credit_note_pdf(note, language=language)
    assert first == credit_note_pdf(note, language=language)
    assert b"<xmp:CreateDate>2027-01-05T08:00:00+00:00</xmp:CreateDate>" in metadata_of(first)


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="no invoice wording"):
        credit_note_pdf(_credit(make_invoice()), language="de")
