"""Domain errors of the audit trail. No HTTP here; the management API maps them to problems.

AndromedeError
└── AuditError
    ├── InvalidTreeRange         a size, index or range past the log's tree, or inverted
    ├── EntriesPruned            entries asked for that retention removed (their hashes stay)
    ├── SigningKeyMismatch       this gateway's signing key is not the one the region registered
    ├── NoSuchAccessRequest      no operator access request of that id the caller may see
    ├── InvalidAccessTransition  approving a refused request, revoking a pending one…
    ├── AccessDecisionForbidden  a decision by an operator, or by no tenant's principal
    ├── AccessRequestNotGranting credentials asked for a request not approved, or ended
    └── InvalidAccessRequest     a scope, reason or duration outside the settings' bounds
"""

from __future__ import annotations

from andromede.errors import AndromedeError

__all__ = [
    "AccessDecisionForbidden",
    "AccessRequestLapsed",
    "AccessRequestNotGranting",
    "AuditError",
    "EntriesPruned",
    "InvalidAccessRequest",
    "InvalidAccessTransition",
    "InvalidTreeRange",
    "NoSuchAccessRequest",
    "NotCosigned",
    "SigningKeyMismatch",
]


class AuditError(AndromedeError):
    """Base class of the audit trail's errors."""


class InvalidTreeRange(AuditError):
    """A tree size, leaf index or range that the log cannot answer for."""


class EntriesPruned(AuditError):
    """Entries older than the retention were pruned: their text is gone, their hashes stay."""


class NotCosigned(AuditError):
    """No witness has cosigned the log yet (decision 0122)."""


class SigningKeyMismatch(AuditError):
    """The log signing key in this gateway's data folder is not the region's registered key."""


class NoSuchAccessRequest(AuditError):
    """No access request of that id, or not one the caller may see."""


class InvalidAccessTransition(AuditError):
    """The request's state does not allow it (decision 0107's transition table)."""


class AccessRequestLapsed(InvalidAccessTransition):
    """The tenant did not decide on the request within ``operator_access_request_ttl``: it
    expired undecided and can no longer be approved or refused (decision 0114)."""


class AccessDecisionForbidden(AuditError):
    """A tenant opens no request and decides on them (its principals as IAM allows them,
    decision 0113); operators the reverse."""


class AccessRequestNotGranting(AuditError):
    """The request grants nothing now: pending, refused, revoked or expired."""


class InvalidAccessRequest(AuditError):
    """A request outside the bounds the settings give (duration, reason, buckets)."""
