"""Domain errors of billing. No HTTP here; the management API maps them to problems.

AndromedeError
└── BillingError
    ├── UnknownMeter     a meter the catalogue does not have
    ├── InvalidPrice     a negative, non-finite or too precise price or VAT rate
    ├── InvalidPeriod    a month that is not YYYY-MM, or a period that ends before it starts
    ├── PeriodOpen       invoicing a month that has not ended
    └── NoSuchInvoice    an invoice number nobody issued (or the caller may not read)
"""

from __future__ import annotations

from andromede.errors import AndromedeError

__all__ = [
    "BillingError",
    "InvalidPeriod",
    "InvalidPrice",
    "NoSuchInvoice",
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
