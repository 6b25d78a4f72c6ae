"""Billing: the issuer named on invoices (with IBAN and BIC checks), numbering and metering.

One group of ``andromede.settings.Settings``, which is composed of them all; the fields keep
their ``ANDROMEDE_<NAME>`` environment variables and TOML keys.
Its rules across several of its fields are plain methods, which ``Settings`` runs in a fixed
order once every field is valid.
"""

from __future__ import annotations

import re

from pydantic import (
    BaseModel,
    Field,
    field_validator,
)

# ISO 13616: country, check digits, the national account number (BBAN) of up to 30 characters.
_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")
# ISO 9362 (2014 on): party prefix, country, party suffix, optional branch.
_BIC = re.compile(r"[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?")


class BillingSettings(BaseModel):
    """Invoices, credit notes and usage metering."""

    billing_issuer_name: str = Field(
        default="Andromède",
        min_length=1,
        max_length=200,
        description="Who issues the invoices: the operator's legal name (decision 0123).",
    )
    billing_issuer_address: str = Field(
        default="",
        max_length=500,
        description="The issuer's postal address on the invoices (lines separated by newlines).",
    )
    billing_issuer_vat_id: str = Field(
        default="",
        pattern=r"^[A-Z0-9]{0,20}$",
        description="The issuer's VAT identification number on the invoices (FR…), if any.",
    )
    billing_issuer_siret: str = Field(
        default="",
        pattern=r"^([0-9]{9}|[0-9]{14})?$",
        description="The issuer's SIREN or SIRET: its legal registration in the electronic "
        "invoices (decision 0131), if any.",
    )
    billing_issuer_iban: str = Field(
        default="",
        description="The issuer's bank account (IBAN, ISO 13616, checked by its mod-97 digits; "
        "spaces allowed) customers pay the invoices to by SEPA credit transfer (decision 0136); "
        "none: the invoices name no account.",
    )
    billing_issuer_bic: str = Field(
        default="",
        description="The BIC (ISO 9362, 8 or 11 characters) of the bank holding "
        "billing_issuer_iban, printed beside it, if any.",
    )
    billing_invoice_prefix: str = Field(
        default="INV",
        pattern=r"^[A-Z0-9]{1,16}$",
        description="The invoice numbers' prefix: <prefix>-<year>-<sequence>, one gapless "
        "sequence per calendar year.",
    )
    billing_issuer_country: str = Field(
        default="FR",
        pattern=r"^[A-Z]{2}$",
        description="Where the issuer is established (ISO 3166-1 alpha-2): decides reverse "
        "charge and export VAT on invoices (decision 0126).",
    )
    billing_credit_note_prefix: str = Field(
        default="AV",
        pattern=r"^[A-Z0-9]{1,16}$",
        description="The credit note numbers' prefix (AV: avoir): <prefix>-<year>-<sequence>, "
        "a gapless sequence per calendar year of its own; not the invoices' prefix.",
    )
    billing_auto_invoice_delay: float | None = Field(
        default=None,
        ge=0,
        le=31 * 86400,
        description="Seconds after a month's end when every tenant's invoice of that month is "
        "issued by the gateways themselves (decision 0123); none: operators issue them.",
    )
    billing_payment_days: int = Field(
        default=30,
        ge=0,
        le=60,
        description="Days from an invoice's issue to its due date (French law: 60 at most).",
    )
    billing_flush_interval: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="Seconds request meters (S3, KMS, SQS, SNS) are counted in memory before"
        " being added to the usage table in one write (a crash loses at most this much"
        " metering).",
    )
    billing_sample_interval: float = Field(
        default=300.0,
        ge=1,
        le=3600,
        description="Seconds between two samples of what tenants hold (stored bytes, volumes,"
        " snapshots, KMS keys, public IPv4 addresses, NAT gateways) and two billings of"
        " running instances.",
    )

    @field_validator("billing_issuer_iban")
    @classmethod
    def _iban(cls, value: str) -> str:
        # Kept in ISO 13616's electronic form (no spaces), which the e-invoice carries; the
        # PDF prints it in groups of four, its paper form.
        iban = "".join(value.split()).upper()
        if not iban:
            return iban
        if not _IBAN.fullmatch(iban):
            raise ValueError(
                "billing_issuer_iban: not an IBAN (ISO 13616: a country code, two check digits,"
                " then 11 to 30 letters and digits)"
            )
        # ISO 7064 mod 97-10: the first four characters moved to the end, letters as 10 to
        # 35, the number leaves 1. Check digits 00, 01 and 99 are never issued.
        digits = "".join(str(int(char, 36)) for char in iban[4:] + iban[:4])
        if int(digits) % 97 != 1 or not 2 <= int(iban[2:4]) <= 98:
            raise ValueError(
                "billing_issuer_iban: its check digits do not match (ISO 13616 mod 97):"
                " a character is wrong"
            )
        return iban

    @field_validator("billing_issuer_bic")
    @classmethod
    def _bic(cls, value: str) -> str:
        bic = value.strip().upper()
        if bic and not _BIC.fullmatch(bic):
            raise ValueError(
                "billing_issuer_bic: not a BIC (ISO 9362: a 4-character party prefix, a country"
                " code, a 2-character suffix, then an optional 3-character branch)"
            )
        return bic

    def _bic_names_the_ibans_bank(self) -> None:
        if self.billing_issuer_bic and not self.billing_issuer_iban:
            raise ValueError(
                "billing_issuer_bic needs billing_issuer_iban: a BIC alone is no account"
            )

    def _billing_documents_apart(self) -> None:
        # A number names one document: an invoice's and a credit note's never look alike.
        if self.billing_credit_note_prefix == self.billing_invoice_prefix:
            raise ValueError("billing_credit_note_prefix must differ from billing_invoice_prefix")
