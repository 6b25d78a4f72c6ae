"""How customers pay (decision 0136): an invoice whose issuer names an account carries the
EN 16931 payment instructions — SEPA credit transfer (58) to that IBAN at that BIC, the
invoice's number as the reference — valid against the Factur-X EN 16931 XSD, and its PDF a
payment block with the due date, the IBAN in groups of four, the BIC, the reference and the
late-payment mentions, in English and French; without an account neither says how to pay and
the invoice stays valid; a credit note never does; an issued invoice keeps the account it was
issued with when the operator's settings change."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import facturx
import pytest

from andromede.app import billing_service
from andromede.billing.facturx import credit_note_xml, invoice_xml
from andromede.billing.invoice import Invoice, Issuer, issue
from andromede.billing.invoice_pdf import credit_note_pdf, invoice_pdf
from andromede.billing.model import UsageReport, parse_month
from andromede.billing.profile import BillingProfile
from andromede.db.database import open_database
from andromede.settings import Settings
from support.schema import migrated_sqlite
from unit.billing.test_credit_note_pdf import FRENCH, GERMAN, SWISS
from unit.billing.test_facturx import ISSUER, NS, REPORT, _credit, _tree, check_en16931_rules
from unit.billing.test_invoice_pdf import text_of

IBAN = "FR7630006000011234567890189"  # a valid French IBAN: mod 97 leaves 1
BIC = "AGRIFRPP882"
PAYING = dataclasses.replace(ISSUER, iban=IBAN, bic=BIC)
ISSUED = datetime(2026, 12, 1, 6, tzinfo=UTC)
MEANS = "//ram:ApplicableHeaderTradeSettlement/ram:SpecifiedTradeSettlementPaymentMeans"


def _invoice(issuer: Issuer = PAYING, report: UsageReport = REPORT) -> Invoice:
    return issue(report, "INV-2026-000042", "tenant-7f3a", issuer, ISSUED, FRENCH)


def test_the_due_date_is_the_issue_date_plus_the_payment_days() -> None:
    assert _invoice().due_at == datetime(2026, 12, 31, 6, tzinfo=UTC)
    later = _invoice(dataclasses.replace(PAYING, payment_days=45))
    assert later.due_at == datetime(2027, 1, 15, 6, tzinfo=UTC)  # across the year's end
    cash = _invoice(dataclasses.replace(PAYING, payment_days=0))
    assert cash.due_at == cash.issued_at
    tree = _tree(invoice_xml(later))
    due = "//ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString/text()"
    assert tree.xpath(due, namespaces=NS) == ["20270115"]  # BT-9


@pytest.mark.parametrize("customer", [FRENCH, GERMAN, SWISS], ids=["fr", "de", "ch"])
@pytest.mark.parametrize("language", ["en", "fr"])
def test_an_invoice_says_how_to_pay_and_validates(customer: BillingProfile, language: str) -> None:
    invoice = issue(REPORT, "INV-2026-000042", "tenant-7f3a", PAYING, ISSUED, customer)
    xml = invoice_xml(invoice, language=language)
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")
    tree = _tree(xml)
    check_en16931_rules(tree)
    settlement = tree.xpath("//ram:ApplicableHeaderTradeSettlement", namespaces=NS)[0]
    assert settlement.findtext("ram:PaymentReference", namespaces=NS) == "INV-2026-000042"
    (means,) = tree.xpath(MEANS, namespaces=NS)
    assert means.findtext("ram:TypeCode", namespaces=NS) == "58"  # SEPA credit transfer
    account = "ram:PayeePartyCreditorFinancialAccount/ram:IBANID"
    assert means.findtext(account, namespaces=NS) == IBAN  # electronic form, no spaces
    bic = "ram:PayeeSpecifiedCreditorFinancialInstitution/ram:BICID"
    assert means.findtext(bic, namespaces=NS) == BIC
    information = {"en": "SEPA credit transfer", "fr": "virement SEPA"}[language]
    assert means.findtext("ram:Information", namespaces=NS) == information


def test_a_transfer_without_its_account_fails_the_rules() -> None:
    """The rules checked above do catch a credit transfer that names no account."""
    tree = _tree(invoice_xml(_invoice()))
    (account,) = tree.xpath(f"{MEANS}/ram:PayeePartyCreditorFinancialAccount", namespaces=NS)
    account.getparent().remove(account)
    with pytest.raises(AssertionError, match="BR-61"):
        check_en16931_rules(tree)


def test_without_a_bic_the_account_alone_is_given() -> None:
    xml = invoice_xml(_invoice(dataclasses.replace(PAYING, bic="")))
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")
    (means,) = _tree(xml).xpath(MEANS, namespaces=NS)
    assert means.findtext("ram:PayeePartyCreditorFinancialAccount/ram:IBANID", namespaces=NS)
    assert means.find("ram:PayeeSpecifiedCreditorFinancialInstitution", namespaces=NS) is None


def test_without_an_account_the_invoice_gives_no_payment_instructions_and_stays_valid() -> None:
    xml = invoice_xml(_invoice(ISSUER))
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")
    tree = _tree(xml)
    check_en16931_rules(tree)
    assert not tree.xpath(MEANS, namespaces=NS)
    assert not tree.xpath("//ram:PaymentReference", namespaces=NS)
    # BR-CO-25: an amount due has its due date (and terms) all the same.
    assert tree.xpath("//ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime", namespaces=NS)
    text = text_of(invoice_pdf(_invoice(ISSUER), compress=False))
    assert "Payment\nDue date: 2026-12-31\nPayable within 30 days" in text
    assert "IBAN" not in text and "Reference to give" not in text
    assert "Fixed compensation for recovery costs: EUR 40" in text


def test_a_credit_note_asks_no_payment() -> None:
    note = _credit(_invoice())
    assert note.issuer.iban == IBAN  # the invoice's issuer, as it was
    xml = credit_note_xml(note)
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")
    tree = _tree(xml)
    assert not tree.xpath(MEANS, namespaces=NS)
    assert not tree.xpath("//ram:PaymentReference", namespaces=NS)
    text = text_of(credit_note_pdf(note, compress=False))
    assert "IBAN" not in text and "Payment\n" not in text


def test_the_pdf_shows_the_payment_block_in_english() -> None:
    text = text_of(invoice_pdf(_invoice(), language="en", compress=False))
    assert (
        "Payment\n"
        "Due date: 2026-12-31\n"
        "Payment means: SEPA credit transfer\n"
        "IBAN: FR76 3000 6000 0112 3456 7890 189\n"
        "BIC: AGRIFRPP882\n"
        "Reference to give with the transfer: INV-2026-000042\n"
        "Payable within 30 days of the issue date, by the due date above.\n"
        "No discount for early payment.\n"
        "Late payment penalties"
    ) in text
    paragraphs = " ".join(text.split())
    assert "European Central Bank applies to its most recent refinancing operation plus 10" in (
        paragraphs
    )
    assert "Fixed compensation for recovery costs: EUR 40" in text


def test_the_pdf_shows_the_payment_block_in_french() -> None:
    text = text_of(invoice_pdf(_invoice(), language="fr", compress=False))
    assert (
        "Règlement\n"
        "Date d’échéance: 2026-12-31\n"  # noqa: RUF001 - French apostrophe
        "Mode de paiement: virement SEPA\n"
        "IBAN: FR76 3000 6000 0112 3456 7890 189\n"
        "BIC: AGRIFRPP882\n"
        "Référence à indiquer sur le virement: INV-2026-000042\n"
        "Payable sous 30 jours"
    ) in text
    assert "Pénalités de retard" in text
    assert "Indemnité forfaitaire pour frais de recouvrement : 40 €" in text


def test_the_pdf_with_payment_means_gives_the_same_bytes() -> None:
    invoice = _invoice()
    for language in ("en", "fr"):
        assert invoice_pdf(invoice, language=language) == invoice_pdf(invoice, language=language)
    assert invoice_pdf(invoice) != invoice_pdf(_invoice(ISSUER))


def test_an_invoice_issued_before_payment_means_reads_as_naming_no_account() -> None:
    stored = _invoice(ISSUER).to_json().replace(',"iban":"","bic":""', "")
    assert '"iban"' not in stored  # the document as issued before decision 0136
    assert Invoice.from_json(stored) == _invoice(ISSUER)
    assert Invoice.from_json(_invoice().to_json()).issuer == PAYING


async def test_settings_changed_after_issue_change_no_issued_invoice(tmp_path: Path) -> None:
    """The app's wiring: the account is the settings' at issue, frozen in the stored
    document; a gateway started with other bank details serves the invoice unchanged and
    issues the next one with its own."""
    url = migrated_sqlite(tmp_path / "meta.db")
    first = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    last_month = parse_month((first - timedelta(days=1)).strftime("%Y-%m"))
    month_before = parse_month((last_month.start - timedelta(days=1)).strftime("%Y-%m"))
    other_iban = "DE89370400440532013000"
    db = open_database(url)
    try:
        before = billing_service(
            Settings(billing_issuer_iban=f"{IBAN[:4]} {IBAN[4:]}", billing_issuer_bic=BIC), db
        )
        issued, made = await before.issue_invoice("tenant-7f3a", "Acme", last_month)
        assert made and (issued.issuer.iban, issued.issuer.bic) == (IBAN, BIC)
        after = billing_service(Settings(billing_issuer_iban=other_iban), db)
        kept = await after.invoice("tenant-7f3a", issued.number)
        assert kept == issued
        assert "IBAN: FR76 3000 6000 0112 3456 7890 189" in text_of(
            invoice_pdf(kept, compress=False)
        )
        again, made = await after.issue_invoice("tenant-7f3a", "Acme", last_month)
        assert not made and again.issuer.iban == IBAN
        newer, made = await after.issue_invoice("tenant-7f3a", "Acme", month_before)
        assert made and (newer.issuer.iban, newer.issuer.bic) == (other_iban, "")
    finally:
        await db.close()
