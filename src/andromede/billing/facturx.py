"""Electronic invoices (decision 0131), pure: an issued invoice or credit note as the Cross
Industry Invoice XML (UN/CEFACT CII D16B) of Factur-X / ZUGFeRD at profile EN 16931 — the
document a buyer's software books without reading the PDF, and which the PDF carries as
``factur-x.xml``.

Every amount is the document's own, as kept and printed: line net amounts (BT-131), their
sum (BT-106), the VAT per category and rate (BT-116, BT-117: the sum of the lines' VAT, which
is what the invoice charged), the totals (BT-109 to BT-115). A credit note (type 381) states
its amounts positive, as EN 16931 asks, and names the invoice it credits (BT-25, BT-26).

VAT categories (UNTDID 5305) and exemption reasons (the CEF VATEX list) from the document's
VAT treatment (decision 0126):

- domestic: ``S`` at the line's rate; a line at 0 % (a region whose VAT rate is not set) ``Z``,
  as ``S`` must have a rate above zero (BR-S-05);
- reverse charge: ``AE``, ``VATEX-EU-AE``, both parties' VAT numbers (BR-AE-02);
- outside the EU: ``O`` (services outside the scope of the tax: their place of supply is the
  customer's country, CGI art. 259-1), ``VATEX-EU-O``. ``G`` is the export of goods
  (Directive 2006/112/EC art. 146), not a service's. An ``O`` invoice names no VAT number
  (BR-O-02): the seller is identified by its SIREN (BT-30), the buyer by its name and address.

Payment instructions (BG-16, decision 0136): an invoice whose issuer names an account says
how to pay it — SEPA credit transfer (BT-81, UNTDID 4461 code 58) to that IBAN (BT-84) at that
BIC (BT-86), giving the invoice's number as the remittance information (BT-83) — and its due
date (BT-9). An issuer without an account gives none: BG-16 is optional, the due date and the
terms satisfy BR-CO-25. A credit note gives none either: it asks no payment of the buyer, and
the seller's account there would read as one.

A document without a billing profile (no buyer address, BR-10) or without a line (BR-16)
cannot be an EN 16931 invoice: :class:`NoEInvoice`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from lxml import etree

from andromede.billing.credit_note import CreditNote
from andromede.billing.errors import NoEInvoice
from andromede.billing.invoice import Invoice, Issuer
from andromede.billing.invoice_wording import WORDS, Words
from andromede.billing.profile import BillingProfile, VatTreatment

__all__ = [
    "CONFORMANCE_LEVEL",
    "FILENAME",
    "GUIDELINE",
    "credit_note_xml",
    "has_e_invoice",
    "invoice_xml",
    "vat_category",
]

GUIDELINE: Final = "urn:cen.eu:en16931:2017"  # BT-24: the EN 16931 profile of Factur-X
CONFORMANCE_LEVEL: Final = "EN 16931"  # as the PDF's XMP names the profile
FILENAME: Final = "factur-x.xml"  # the name Factur-X gives the embedded file
_RSM: Final = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
_RAM: Final = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
_UDT: Final = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
_QDT: Final = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
_NSMAP: Final = {"rsm": _RSM, "ram": _RAM, "udt": _UDT, "qdt": _QDT}
_INVOICE: Final = "380"  # UNTDID 1001: commercial invoice
_CREDIT_NOTE: Final = "381"
_SIREN_SCHEME: Final = "0002"  # ISO 6523 ICD of the French SIRENE register
_SIRET_SCHEME: Final = "0009"
_QUANTITY_DECIMALS: Final = 6  # as the PDF prints the usage
_ZERO: Final = Decimal("0.00")
# UN/ECE Recommendation 20 unit codes of the price units; the others are counted in ones
# (C62) and named in the line's description ("s3.requests.class-a (1000 requests)").
_UNIT_CODES: Final = {"hour": "HUR"}
_ADDRESS_LINES: Final = 3  # LineOne to LineThree
_SEPA_CREDIT_TRANSFER: Final = "58"  # UNTDID 4461, as EN 16931 codes payment means


@dataclass(frozen=True, slots=True)
class _Payment:
    """How the buyer pays (BG-16): by SEPA credit transfer to ``iban`` (``bic``'s bank, if
    given), quoting ``reference``."""

    reference: str
    iban: str
    bic: str


@dataclass(frozen=True, slots=True)
class _Line:
    """One line as EN 16931 states it: positive on a credit note."""

    name: str
    quantity: Decimal
    unit_code: str
    price: Decimal
    net: Decimal
    category: str
    rate: Decimal


def vat_category(treatment: VatTreatment, rate: Decimal) -> str:
    """The UNTDID 5305 VAT category of a line at ``rate`` of a document of ``treatment``."""
    if treatment is VatTreatment.REVERSE_CHARGE:
        return "AE"
    if treatment is VatTreatment.OUTSIDE_EU:
        return "O"
    return "S" if rate > 0 else "Z"


def has_e_invoice(document: Invoice | CreditNote) -> bool:
    """Whether ``document`` can be an EN 16931 invoice: issued with a billing profile (the
    buyer's address, BR-10) and with a line at least (BR-16)."""
    return document.customer is not None and bool(document.lines)


def invoice_xml(invoice: Invoice, *, language: str = "en") -> bytes:
    """``invoice`` as Factur-X EN 16931 CII XML (UTF-8), its notes in ``language``;
    NoEInvoice when it has no billing profile or no line."""
    words = WORDS[language]
    customer = _customer(invoice.customer, invoice.lines, invoice.number)
    treatment = invoice.vat_treatment
    lines = [
        _Line(
            line.description,
            line.usage,
            _UNIT_CODES.get(line.price_unit, "C62"),
            line.unit_price,
            line.net,
            vat_category(treatment, line.vat_rate),
            line.vat_rate,
        )
        for line in invoice.lines
    ]
    notes = [(words.no_discount, "AAB"), (words.penalties, "PMT"), (words.indemnity, "PMD")]
    root, transaction = _document(invoice.number, _INVOICE, invoice.issued_at, notes)
    _lines(transaction, lines)
    _parties(transaction, invoice.issuer, customer, treatment)
    issuer = invoice.issuer
    payment = _Payment(invoice.number, issuer.iban, issuer.bic) if issuer.iban else None
    settlement = _settlement(
        transaction,
        invoice.currency,
        invoice.vat_by_rate(),
        treatment,
        words,
        sign=1,
        payment=payment,
    )
    period = _sub(settlement, "BillingSpecifiedPeriod")
    _date(_sub(period, "StartDateTime"), invoice.period.start)
    _date(_sub(period, "EndDateTime"), invoice.period.end - timedelta(days=1))
    terms = _sub(settlement, "SpecifiedTradePaymentTerms")
    _sub(terms, "Description", words.payable.format(days=invoice.issuer.payment_days))
    _date(_sub(terms, "DueDateDateTime"), invoice.due_at)
    _totals(settlement, invoice.currency, invoice.net, invoice.vat, sign=1)
    return _bytes(root)


def credit_note_xml(note: CreditNote, *, language: str = "en") -> bytes:
    """``note`` as Factur-X EN 16931 CII XML of type 381, its amounts positive, naming the
    invoice it credits; NoEInvoice when it has no billing profile."""
    words = WORDS[language]
    customer = _customer(note.customer, note.lines, note.number)
    treatment = note.vat_treatment
    lines = [  # a credit line is an amount: one unit at that price
        _Line(
            line.description,
            Decimal(1),
            "C62",
            -line.net,
            -line.net,
            vat_category(treatment, line.vat_rate),
            line.vat_rate,
        )
        for line in note.lines
    ]
    notes = [(f"{words.reason}: {note.reason}", None)]
    root, transaction = _document(note.number, _CREDIT_NOTE, note.issued_at, notes)
    _lines(transaction, lines)
    _parties(transaction, note.issuer, customer, treatment)
    settlement = _settlement(
        transaction, note.currency, note.vat_by_rate(), treatment, words, sign=-1
    )
    terms = _sub(settlement, "SpecifiedTradePaymentTerms")
    _sub(terms, "Description", words.credit_terms.format(number=note.invoice_number))
    _totals(settlement, note.currency, note.net, note.vat, sign=-1)
    invoice = _sub(settlement, "InvoiceReferencedDocument")
    _sub(invoice, "IssuerAssignedID", note.invoice_number)
    _date(_sub(invoice, "FormattedIssueDateTime"), note.invoice_issued_at, ns=_QDT)
    return _bytes(root)


def _customer(
    customer: BillingProfile | None, lines: tuple[object, ...], number: str
) -> BillingProfile:
    if customer is None:
        raise NoEInvoice(f"{number} has no billing profile: no buyer address (EN 16931 BR-10)")
    if not lines:
        raise NoEInvoice(f"{number} has no line (EN 16931 BR-16)")
    return customer


# -- the document's parts, in the order the schema sets ----------------------------------------


def _document(
    number: str, type_code: str, issued_at: datetime, notes: Sequence[tuple[str, str | None]]
) -> tuple[etree._Element, etree._Element]:
    root = etree.Element(etree.QName(_RSM, "CrossIndustryInvoice"), nsmap=_NSMAP)
    context = etree.SubElement(root, etree.QName(_RSM, "ExchangedDocumentContext"))
    _sub(_sub(context, "GuidelineSpecifiedDocumentContextParameter"), "ID", GUIDELINE)
    document = etree.SubElement(root, etree.QName(_RSM, "ExchangedDocument"))
    _sub(document, "ID", number)
    _sub(document, "TypeCode", type_code)
    _date(_sub(document, "IssueDateTime"), issued_at)
    for text, subject in notes:
        note = _sub(document, "IncludedNote")
        _sub(note, "Content", text)
        if subject is not None:  # UNTDID 4451, as the French mentions are coded
            _sub(note, "SubjectCode", subject)
    transaction = etree.SubElement(root, etree.QName(_RSM, "SupplyChainTradeTransaction"))
    return root, transaction


def _lines(transaction: etree._Element, lines: list[_Line]) -> None:
    for index, line in enumerate(lines, start=1):
        item = _sub(transaction, "IncludedSupplyChainTradeLineItem")
        _sub(_sub(item, "AssociatedDocumentLineDocument"), "LineID", str(index))
        _sub(_sub(item, "SpecifiedTradeProduct"), "Name", line.name)
        agreement = _sub(item, "SpecifiedLineTradeAgreement")
        price = _sub(agreement, "NetPriceProductTradePrice")
        _sub(price, "ChargeAmount", _plain(line.price))
        delivery = _sub(item, "SpecifiedLineTradeDelivery")
        quantity = line.quantity.quantize(
            Decimal(1).scaleb(-_QUANTITY_DECIMALS), rounding=ROUND_HALF_UP
        )
        billed = _sub(delivery, "BilledQuantity", _plain(quantity))
        billed.set("unitCode", line.unit_code)
        settlement = _sub(item, "SpecifiedLineTradeSettlement")
        tax = _sub(settlement, "ApplicableTradeTax")
        _sub(tax, "TypeCode", "VAT")
        _sub(tax, "CategoryCode", line.category)
        if line.category != "O":  # BR-O-05: no rate outside the scope of the tax
            _sub(tax, "RateApplicablePercent", _percent(line.rate))
        summation = _sub(settlement, "SpecifiedTradeSettlementLineMonetarySummation")
        _sub(summation, "LineTotalAmount", _money(line.net))


def _parties(
    transaction: etree._Element,
    issuer: Issuer,
    customer: BillingProfile,
    treatment: VatTreatment,
) -> None:
    # The purchase order is the order reference (BT-13, which Chorus Pro reads as the
    # "engagement juridique"), not the buyer reference (BT-10, its "code service").
    agreement = _sub(transaction, "ApplicableHeaderTradeAgreement")
    with_vat = treatment is not VatTreatment.OUTSIDE_EU  # BR-O-02
    seller = _sub(agreement, "SellerTradeParty")
    _sub(seller, "Name", issuer.name)
    if issuer.siret:
        organisation = _sub(seller, "SpecifiedLegalOrganization")
        _sub(organisation, "ID", issuer.siret[:9]).set("schemeID", _SIREN_SCHEME)
    address = [line.strip() for line in issuer.address.splitlines() if line.strip()]
    _address(seller, address, "", "", issuer.country)
    if with_vat and issuer.vat_id:
        _tax_registration(seller, issuer.vat_id)
    buyer = _sub(agreement, "BuyerTradeParty")
    _sub(buyer, "Name", customer.legal_name)
    if customer.siret:
        organisation = _sub(buyer, "SpecifiedLegalOrganization")
        scheme = _SIREN_SCHEME if len(customer.siret) == 9 else _SIRET_SCHEME
        _sub(organisation, "ID", customer.siret).set("schemeID", scheme)
    _address(
        buyer, list(customer.address_lines), customer.postcode, customer.city, customer.country
    )
    email = _sub(buyer, "URIUniversalCommunication")
    _sub(email, "URIID", customer.invoice_email).set("schemeID", "EM")
    if with_vat and customer.vat_number:
        _tax_registration(buyer, customer.vat_number)
    if customer.purchase_order:
        order = _sub(agreement, "BuyerOrderReferencedDocument")
        _sub(order, "IssuerAssignedID", customer.purchase_order)
    _sub(transaction, "ApplicableHeaderTradeDelivery")


def _address(
    party: etree._Element, lines: list[str], postcode: str, city: str, country: str
) -> None:
    address = _sub(party, "PostalTradeAddress")
    if postcode:
        _sub(address, "PostcodeCode", postcode)
    if len(lines) > _ADDRESS_LINES:  # the last element takes the lines left
        lines = [*lines[: _ADDRESS_LINES - 1], ", ".join(lines[_ADDRESS_LINES - 1 :])]
    for name, line in zip(("LineOne", "LineTwo", "LineThree"), lines, strict=False):
        _sub(address, name, line)
    if city:
        _sub(address, "CityName", city)
    _sub(address, "CountryID", country)


def _tax_registration(party: etree._Element, vat_number: str) -> None:
    _sub(_sub(party, "SpecifiedTaxRegistration"), "ID", vat_number).set("schemeID", "VA")


def _settlement(
    transaction: etree._Element,
    currency: str,
    rates: list[tuple[Decimal, Decimal, Decimal]],
    treatment: VatTreatment,
    words: Words,
    *,
    sign: int,
    payment: _Payment | None = None,
) -> etree._Element:
    """The header settlement up to its VAT breakdown: how to pay, if the buyer pays, then one
    entry per category and rate, its basis and VAT the sums of the document's lines (what it
    charged, as printed)."""
    settlement = _sub(transaction, "ApplicableHeaderTradeSettlement")
    if payment is not None:
        _sub(settlement, "PaymentReference", payment.reference)
    _sub(settlement, "InvoiceCurrencyCode", currency)
    if payment is not None:
        means = _sub(settlement, "SpecifiedTradeSettlementPaymentMeans")
        _sub(means, "TypeCode", _SEPA_CREDIT_TRANSFER)
        _sub(means, "Information", words.transfer)
        _sub(_sub(means, "PayeePartyCreditorFinancialAccount"), "IBANID", payment.iban)
        if payment.bic:
            institution = _sub(means, "PayeeSpecifiedCreditorFinancialInstitution")
            _sub(institution, "BICID", payment.bic)
    by_category: dict[tuple[str, Decimal], tuple[Decimal, Decimal]] = {}
    for rate, net, vat in rates:
        key = (vat_category(treatment, rate), rate if treatment is VatTreatment.DOMESTIC else _ZERO)
        basis, amount = by_category.get(key, (_ZERO, _ZERO))
        by_category[key] = (basis + net, amount + vat)
    reason = {
        VatTreatment.REVERSE_CHARGE: (words.reverse_charge, "VATEX-EU-AE"),
        VatTreatment.OUTSIDE_EU: (words.outside_eu, "VATEX-EU-O"),
    }.get(treatment)
    for (category, rate), (basis, amount) in sorted(by_category.items()):
        tax = _sub(settlement, "ApplicableTradeTax")
        _sub(tax, "CalculatedAmount", _money(sign * amount))
        _sub(tax, "TypeCode", "VAT")
        if reason is not None:
            _sub(tax, "ExemptionReason", reason[0])
        _sub(tax, "BasisAmount", _money(sign * basis))
        _sub(tax, "CategoryCode", category)
        if reason is not None:
            _sub(tax, "ExemptionReasonCode", reason[1])
        if category != "O":
            _sub(tax, "RateApplicablePercent", _percent(rate))
    return settlement


def _totals(
    settlement: etree._Element, currency: str, net: Decimal, vat: Decimal, *, sign: int
) -> None:
    """BT-106 to BT-115: no allowance, charge, prepayment or rounding, so the lines' sum is
    the tax basis and the grand total is what is due."""
    summation = _sub(settlement, "SpecifiedTradeSettlementHeaderMonetarySummation")
    _sub(summation, "LineTotalAmount", _money(sign * net))
    _sub(summation, "TaxBasisTotalAmount", _money(sign * net))
    _sub(summation, "TaxTotalAmount", _money(sign * vat)).set("currencyID", currency)
    _sub(summation, "GrandTotalAmount", _money(sign * (net + vat)))
    _sub(summation, "DuePayableAmount", _money(sign * (net + vat)))


# -- values -------------------------------------------------------------------------------------


def _sub(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, etree.QName(_RAM, name))
    if text is not None:
        element.text = text
    return element


def _date(parent: etree._Element, when: datetime, *, ns: str = _UDT) -> None:
    """A date in format 102 (CCYYMMDD), the only one EN 16931 allows."""
    value = etree.SubElement(parent, etree.QName(ns, "DateTimeString"))
    value.set("format", "102")
    value.text = when.strftime("%Y%m%d")


def _money(amount: Decimal) -> str:
    """Two decimals (BR-DEC): the amounts are in cents already; ``0 - x`` leaves no -0.00."""
    return format(_ZERO + amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP), "f")


def _plain(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros ("0.05", "12", "1.5")."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def _percent(rate: Decimal) -> str:
    return _plain((rate * 100).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))


def _bytes(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
