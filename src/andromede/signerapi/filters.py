"""ListSigningProfiles' and ListSigningJobs' query members read into the store's filters
(decisions 0403, 0409): each member checked against its shape in the API model, a value out
of it a ValidationException (botocore checks few of them itself: an enum, a pattern, a
boolean's spelling reach the server as typed)."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any, Final

from andromede.signer.listing import JobFilter, ProfileFilter
from andromede.signer.model import JobStatus, ProfileStatus
from andromede.signerapi.errors import SignerWireError

__all__ = ["job_filter", "profile_filter"]

_ACCOUNT: Final = re.compile(r"[0-9]{12}")


def _refused(message: str) -> SignerWireError:
    return SignerWireError("ValidationException", message)


def _boolean(value: object, name: str) -> bool | None:
    if value is None:
        return None
    text = str(value).lower()
    if text not in ("true", "false"):
        raise _refused(f"{name} must be true or false")
    return text == "true"


def _text(value: object, name: str) -> str | None:
    if value is None:
        return None
    # NUL is no character PostgreSQL's text holds: refused here, not a driver's error later.
    if not isinstance(value, str) or not 1 <= len(value) <= 2048 or "\x00" in value:
        raise _refused(f"{name} must be a string of 1 to 2048 characters")
    return value


def profile_filter(params: dict[str, Any]) -> ProfileFilter:
    """``statuses`` (SigningProfileStatus values), ``includeCanceled``, ``platformId``."""
    statuses = params.get("statuses") or []
    if not isinstance(statuses, list) or not all(s in set(ProfileStatus) for s in statuses):
        raise _refused("statuses must list Active, Canceled or Revoked")
    return ProfileFilter(
        statuses=frozenset(ProfileStatus(s) for s in statuses),
        include_canceled=bool(_boolean(params.get("includeCanceled"), "includeCanceled")),
        platform_id=_text(params.get("platformId"), "platformId"),
    )


def job_filter(params: dict[str, Any]) -> JobFilter:
    """``status``, ``platformId``, ``requestedBy``, ``isRevoked``, ``jobInvoker`` (an
    account id, the model's AccountId) and ``signatureExpiresBefore`` / ``After``."""
    status = params.get("status")
    if status is not None and status not in set(JobStatus):
        raise _refused("status must be InProgress, Failed or Succeeded")
    invoker = params.get("jobInvoker")
    if invoker is not None and (not isinstance(invoker, str) or not _ACCOUNT.fullmatch(invoker)):
        raise _refused("jobInvoker must be an account id")
    return JobFilter(
        status=None if status is None else JobStatus(status),
        platform_id=_text(params.get("platformId"), "platformId"),
        requested_by=_text(params.get("requestedBy"), "requestedBy"),
        revoked=_boolean(params.get("isRevoked"), "isRevoked"),
        invoker=invoker,
        expires_before=_timestamp(params.get("signatureExpiresBefore"), "signatureExpiresBefore"),
        expires_after=_timestamp(params.get("signatureExpiresAfter"), "signatureExpiresAfter"),
    )


def _timestamp(value: object, name: str) -> float | None:
    """A query string's timestamp: ISO 8601, as botocore sends it, or epoch seconds; a
    finite one."""
    if value is None:
        return None
    text = str(value)
    try:
        found = float(text)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise _refused(f"{name} must be a timestamp") from None
        found = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    if not math.isfinite(found):
        raise _refused(f"{name} must be a timestamp")
    return found
