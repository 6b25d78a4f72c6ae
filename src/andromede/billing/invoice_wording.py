"""The wording of invoices and credit notes as PDF documents (decisions 0123, 0126 and
0136), in English and French: every label and mandatory mention the layout (``invoice_pdf``)
prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# ruff: noqa: RUF001

__all__ = ["EN", "FR", "LANGUAGES", "WORDS", "Words"]


@dataclass(frozen=True, slots=True)
class Words:
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
    # Decision 0126: the customer's profile, the VAT treatment, credit notes.
    siret: str
    purchase_order: str
    reverse_charge: str
    outside_eu: str
    credit_note: str
    credit_number: str
    credit_of: str  # {number} {date}
    reason: str
    credit_terms: str  # {number}
    # Decision 0136: how to pay.
    payment: str
    means: str
    transfer: str
    reference: str


EN: Final = Words(
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
    siret="SIRET",
    purchase_order="Purchase order",
    reverse_charge="Reverse charge — Article 196 of Directive 2006/112/EC",
    outside_eu="VAT not applicable, Article 259-1 of the French General Tax Code",
    credit_note="Credit note",
    credit_number="Credit note number",
    credit_of="Credits invoice {number} of {date}",
    reason="Reason",
    credit_terms=(
        "This credit note is deducted from the amount due on invoice {number}, or refunded"
        " if that invoice has been paid."
    ),
    payment="Payment",
    means="Payment means",
    transfer="SEPA credit transfer",
    reference="Reference to give with the transfer",
)

FR: Final = Words(
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
    siret="SIRET",
    purchase_order="Bon de commande",
    reverse_charge="Autoliquidation — article 196 de la directive 2006/112/CE",
    outside_eu="TVA non applicable, art. 259-1 du CGI",
    credit_note="Avoir",
    credit_number="N° d’avoir",
    credit_of="Avoir sur la facture n° {number} du {date}",
    reason="Motif",
    credit_terms=(
        "Cet avoir vient en déduction du montant dû au titre de la facture {number}, ou est"
        " remboursé si cette facture a été réglée."
    ),
    payment="Règlement",
    means="Mode de paiement",
    transfer="virement SEPA",
    reference="Référence à indiquer sur le virement",
)

WORDS: Final = {"en": EN, "fr": FR}
LANGUAGES: Final = tuple(WORDS)
