"""Problem details (RFC 9457): the one error shape of the management API, and the table that
turns domain errors into it.

Every error leaves as ``application/problem+json`` with ``type``, ``title``, ``status``,
``detail``, ``instance`` (the request path) and ``request_id`` (also in ``x-request-id``). A
problem's ``type`` is a URN naming the kind of error (``urn:andromede:problem:no-such-tenant``):
stable for programs, not a page to fetch. ``detail`` is written for people and never carries a
secret, an input value or an exception's text from outside this table; an unmapped exception
is a 500 whose body says only that, with the request id, and is logged with its traceback.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from andromede.audit.errors import (
    AccessDecisionForbidden,
    AccessRequestLapsed,
    AccessRequestNotGranting,
    EntriesPruned,
    InvalidAccessRequest,
    InvalidAccessTransition,
    InvalidTreeRange,
    NoSuchAccessRequest,
    SigningKeyMismatch,
)
from andromede.billing import errors as billing
from andromede.db.errors import DatabaseUnavailable
from andromede.http.sigv4 import SigV4Error
from andromede.iam import errors as iam

__all__ = [
    "PROBLEM_JSON",
    "ApiProblem",
    "http_status_problem",
    "internal_error",
    "not_authenticated",
    "problem_body",
    "problem_for",
    "validation_problem",
]

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
_URN = "urn:andromede:problem:"


@dataclass(frozen=True, slots=True)
class _Kind:
    slug: str
    status: int
    title: str


class ApiProblem(Exception):
    """An error answer raised from a route or a dependency; the handlers send it as is."""

    def __init__(
        self,
        slug: str,
        status: int,
        title: str,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{slug}: {detail}")
        self.slug = slug
        self.status = status
        self.title = title
        self.detail = detail
        self.headers: dict[str, str] = dict(headers or {})
        self.extra: dict[str, Any] = dict(extra or {})


@dataclass(frozen=True, slots=True)
class _Mapped:
    kind: _Kind
    headers: dict[str, str] = field(default_factory=dict)


_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="andromede"'}
_NOT_AUTHENTICATED = _Kind("not-authenticated", 401, "Not authenticated")

# Domain error → problem. Order matters only for subclasses (the first match wins).
_TABLE: Sequence[tuple[type[Exception], _Mapped]] = (
    (iam.NoSuchTenant, _Mapped(_Kind("no-such-tenant", 404, "No such tenant"))),
    (iam.TenantAlreadyExists, _Mapped(_Kind("tenant-exists", 409, "Tenant already exists"))),
    (
        iam.InvalidTenantTransition,
        _Mapped(_Kind("invalid-tenant-transition", 409, "Tenant status cannot change so")),
    ),
    (iam.InvalidInput, _Mapped(_Kind("invalid-input", 400, "Invalid input"))),
    (InvalidTreeRange, _Mapped(_Kind("invalid-tree-range", 400, "Invalid tree range"))),
    (EntriesPruned, _Mapped(_Kind("entries-pruned", 410, "Entries pruned"))),
    (  # a rotation's new key not yet on this gateway (decision 0140): the operator's to fix
        SigningKeyMismatch,
        _Mapped(_Kind("signing-key-unavailable", 503, "Signing key unavailable")),
    ),
    (
        NoSuchAccessRequest,
        _Mapped(_Kind("no-such-access-request", 404, "No such access request")),
    ),
    (  # before its base class, InvalidAccessTransition
        AccessRequestLapsed,
        _Mapped(_Kind("access-request-lapsed", 409, "Access request lapsed undecided")),
    ),
    (
        InvalidAccessTransition,
        _Mapped(_Kind("invalid-access-transition", 409, "Access request cannot change so")),
    ),
    (
        AccessRequestNotGranting,
        _Mapped(_Kind("access-not-granted", 409, "Access request grants nothing")),
    ),
    (
        AccessDecisionForbidden,
        _Mapped(_Kind("access-decision-forbidden", 403, "Access denied")),
    ),
    (
        InvalidAccessRequest,
        _Mapped(_Kind("invalid-access-request", 400, "Invalid access request")),
    ),
    (billing.UnknownMeter, _Mapped(_Kind("no-such-meter", 404, "No such meter"))),
    (billing.InvalidPrice, _Mapped(_Kind("invalid-price", 400, "Invalid price"))),
    (billing.InvalidPeriod, _Mapped(_Kind("invalid-period", 400, "Invalid period"))),
    (billing.PeriodOpen, _Mapped(_Kind("period-open", 409, "Period not ended"))),
    (billing.NoSuchInvoice, _Mapped(_Kind("no-such-invoice", 404, "No such invoice"))),
    (
        billing.NoSuchCreditNote,
        _Mapped(_Kind("no-such-credit-note", 404, "No such credit note")),
    ),
    (
        billing.NoBillingProfile,
        _Mapped(_Kind("no-billing-profile", 404, "No billing profile")),
    ),
    (billing.InvalidCreditNote, _Mapped(_Kind("invalid-credit-note", 400, "Invalid credit note"))),
    (billing.OverCredit, _Mapped(_Kind("over-credit", 409, "Credit exceeds the invoice"))),
    (billing.NoEInvoice, _Mapped(_Kind("no-e-invoice", 409, "Not an electronic invoice"))),
    (iam.AccessDenied, _Mapped(_Kind("access-denied", 403, "Access denied"))),
    (iam.LoginFailed, _Mapped(_Kind("login-failed", 401, "Login failed"), _CHALLENGE)),
    (iam.InvalidConsoleSession, _Mapped(_NOT_AUTHENTICATED, _CHALLENGE)),
    # Unknown, inactive or suspended keys, wrong or expired session tokens: one answer.
    (iam.InvalidAccessKeyId, _Mapped(_NOT_AUTHENTICATED, _CHALLENGE)),
    (SigV4Error, _Mapped(_NOT_AUTHENTICATED, _CHALLENGE)),
    # The database is down or out of connections: nothing to rely on changed; retry.
    (
        DatabaseUnavailable,
        _Mapped(_Kind("service-unavailable", 503, "Service unavailable"), {"Retry-After": "1"}),
    ),
)


def problem_for(exc: Exception) -> ApiProblem | None:
    """The problem answering a domain or authentication error; None for unexpected ones."""
    if isinstance(exc, ApiProblem):
        return exc
    if isinstance(exc, billing.InvalidBillingProfile):
        # The field named, for a program to point at; its value never echoed.
        return ApiProblem(
            "invalid-billing-profile",
            400,
            "Invalid billing profile",
            str(exc),
            extra={"field": exc.field},
        )
    if isinstance(exc, iam.LoginLocked):
        wait = max(1, math.ceil(exc.retry_after))
        return ApiProblem(
            "login-locked",
            429,
            "Too many failed logins",
            f"Too many failed logins: retry in {wait} s.",
            headers={"Retry-After": str(wait)},
        )
    for error_type, mapped in _TABLE:
        if isinstance(exc, error_type):
            # SigV4Error's message is written to be shown (never a secret); its details (the
            # canonical request we computed) are not repeated here.
            detail = exc.message if isinstance(exc, SigV4Error) else str(exc)
            if isinstance(exc, DatabaseUnavailable):
                detail = "The metadata database cannot be reached right now; retry shortly."
            if isinstance(exc, SigningKeyMismatch):  # its message names the server's folders
                log.error("audit checkpoint not signed: %s", exc)
                detail = "This gateway cannot sign with the region's current key; retry shortly."
            return ApiProblem(
                mapped.kind.slug,
                mapped.kind.status,
                mapped.kind.title,
                detail,
                headers=mapped.headers,
            )
    return None


def not_authenticated(detail: str) -> ApiProblem:
    return ApiProblem(
        _NOT_AUTHENTICATED.slug,
        _NOT_AUTHENTICATED.status,
        _NOT_AUTHENTICATED.title,
        detail,
        headers=_CHALLENGE,
    )


def validation_problem(errors: Sequence[Mapping[str, Any]]) -> ApiProblem:
    """400 for a body that is not JSON, 422 for JSON that does not fit the schema.

    Each error keeps only where (``loc``), what (``msg``) and its ``type``: pydantic's ``input``
    and ``ctx`` could echo what was sent, a password included."""
    if any(error.get("type") == "json_invalid" for error in errors):
        return ApiProblem(
            "malformed-body", 400, "Malformed request body", "The request body is not valid JSON."
        )
    cleaned = [
        {
            "loc": [str(part) for part in error.get("loc", ())],
            "msg": str(error.get("msg", "")),
            "type": str(error.get("type", "")),
        }
        for error in errors
    ]
    return ApiProblem(
        "validation-failed",
        422,
        "Request does not match the schema",
        "One or more fields are missing or invalid; see errors.",
        extra={"errors": cleaned},
    )


def problem_body(problem: ApiProblem, *, instance: str, request_id: str) -> bytes:
    body: dict[str, Any] = {
        "type": _URN + problem.slug,
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "instance": instance,
        "request_id": request_id,
        **problem.extra,
    }
    return json.dumps(body, ensure_ascii=False).encode()


def internal_error() -> ApiProblem:
    return ApiProblem(
        "internal-error",
        500,
        "Internal error",
        "The server failed to answer; the request id identifies it in the server's logs.",
    )


def http_status_problem(status: int, title: str) -> ApiProblem:
    """Routing's own answers (unknown path, method not allowed, body too large…)."""
    slug = title.lower().replace(" ", "-")
    return ApiProblem(slug, status, title, f"{title}.")
