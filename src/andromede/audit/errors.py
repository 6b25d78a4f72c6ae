"""Domain errors of the audit trail. No HTTP here; the management API maps them to problems.

AndromedeError
└── AuditError
    ├── InvalidTreeRange     a size, index or range past the log's tree, or inverted
    └── SigningKeyMismatch   this gateway's signing key is not the one the region registered
"""

from __future__ import annotations

from andromede.errors import AndromedeError

__all__ = ["AuditError", "InvalidTreeRange", "SigningKeyMismatch"]


class AuditError(AndromedeError):
    """Base class of the audit trail's errors."""


class InvalidTreeRange(AuditError):
    """A tree size, leaf index or range that the log cannot answer for."""


class SigningKeyMismatch(AuditError):
    """The log signing key in this gateway's data folder is not the region's registered key."""
