"""Domain errors of billing. No HTTP here; the management API maps them to problems.

AndromedeError
└── BillingError
    ├── UnknownMeter     a meter the catalogue does not have
    ├── InvalidPrice     a negative, non-finite or too precise price or VAT rate
    ├── InvalidPeriod    a month that is not YYYY-MM, or a period that ends before it starts
    ├── PeriodOpen       invoicing a month that has not ended
    ├── NoSuchInvoice    an invoice number nobody issued (or the caller may not read)
    ├── NoSuchCreditNote a credit note number nobody issued on that invoice
    ├── NoBillingProfile a tenant whose billing profile was never set
    ├── InvalidBillingProfile  a profile field that cannot be one (the field is named)
    ├── InvalidCreditNote      a credit note asked with no reason, an unknown line, a bad amount
    ├── OverCredit       a credit note that would credit more than the invoice's remaining total
    └── NoEInvoice       a document that cannot be an EN 16931 e-invoice (no buyer, no line)
"""

from __future__ import annotations

from andromede.errors import AndromedeError

__all__ = [
    "BillingError",
    "InvalidBillingProfile",
    "InvalidCreditNote",
    "InvalidPeriod",
    "InvalidPrice",
    "NoBillingProfile",
    "NoEInvoice",
    "NoSuchCreditNote",
    "NoSuchInvoice",
    "OverCredit",
    "PeriodOpen",
    "UnknownMeter",
]


class BillingError(AndromedeError):
    """Base class of billing's errors."""


class UnknownMeter(BillingError):
    """A meter name the catalogue does not know."""


class InvalidPrice(BillingError):
    """A price or VAT rate that cannot be one."""


class InvalidPeriod(BillingError):
    """A billing period that cannot be one."""


class PeriodOpen(BillingError):
    """A month is invoiced once it has ended."""


class NoSuchInvoice(BillingError):
    """No invoice of that number (for this caller)."""


class NoSuchCreditNote(BillingError):
    """No credit note of that number on that invoice (for this caller)."""


class NoBillingProfile(BillingError):
    """The tenant's billing profile was never set."""


class InvalidBillingProfile(BillingError):
    """A billing profile field that cannot be one; ``field`` names it (never its value)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field


class InvalidCreditNote(BillingError):
    """A credit note asked without a reason, on a line the invoice does not have, or for an
    amount that is not a positive number of cents."""


class OverCredit(BillingError):
    """A credit note would bring what is credited on an invoice above its total."""


class NoEInvoice(BillingError):
    """A document that cannot be an EN 16931 electronic invoice: issued without a billing
    profile (no buyer address) or without a line. Its PDF is still served, without XML."""
