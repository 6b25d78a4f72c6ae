"""S3 Object Lock's pure rules (decision 0102): a bucket's lock configuration, a version's
retention and legal hold, and what they forbid.

No I/O here. A bucket with Object Lock is versioned (Enabled) for good and keeps its
configuration for good; only its default retention changes. Each version carries its own
lock (``ObjectRecord.lock``): a retention (mode and retain-until date) and a legal hold, set
when the version is written (request headers or the bucket's default) or later by
PutObjectRetention / PutObjectLegalHold. A version under retention or hold cannot be removed;
the stores check it in the removal's own transaction (``removal_refused``), whoever asks.

- COMPLIANCE: nobody removes the version or shortens or lifts the retention before its date,
  the tenant's root user and the operator included; the date may be extended.
- GOVERNANCE: the same, unless the request says ``x-amz-bypass-governance-retention: true``
  and the caller is allowed ``s3:BypassGovernanceRetention`` (checked by the S3 layer, which
  then passes ``bypass_governance``).
- Legal hold: no date; the version stays until the hold is lifted (``s3:PutObjectLegalHold``),
  whatever its retention.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from andromede.storage.errors import ObjectLocked

__all__ = [
    "LOCKED",
    "LOCK_NEEDS_VERSIONING",
    "MAX_RETENTION_DAYS",
    "VERSIONING_LOCKED",
    "DefaultRetention",
    "LockChange",
    "LockMode",
    "ObjectLock",
    "ObjectLockConfiguration",
    "check_removal",
    "removal_refused",
]

# AWS accepts a default retention of up to 100 years (36,500 days); the same bound here, so
# that a mistyped figure does not lock data for millennia.
MAX_RETENTION_DAYS: Final = 36500
_MAX_YEARS: Final = 100
# AWS's message for a removal or change a lock forbids (its code is AccessDenied).
LOCKED: Final = "Access Denied because object protected by object lock."
# AWS's messages for the two changes a bucket's stores refuse, each checked in the change's
# own statement so that the two cannot race past each other (decision 0104): suspending the
# versioning of a bucket with Object Lock, and Object Lock on a bucket not versioned Enabled.
VERSIONING_LOCKED: Final = (
    "An Object Lock configuration is present on this bucket, so the versioning state "
    "cannot be changed."
)
LOCK_NEEDS_VERSIONING: Final = (
    "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration"
)


class LockMode(enum.StrEnum):
    GOVERNANCE = "GOVERNANCE"
    COMPLIANCE = "COMPLIANCE"


@dataclass(frozen=True, slots=True)
class DefaultRetention:
    """A bucket's default retention: each new version without lock headers gets it. Exactly
    one of ``days`` and ``years`` is set (AWS's rule)."""

    mode: LockMode
    days: int | None = None
    years: int | None = None

    def __post_init__(self) -> None:
        if (self.days is None) == (self.years is None):
            raise ValueError("exactly one of days and years")
        if self.days is not None and not 0 < self.days <= MAX_RETENTION_DAYS:
            raise ValueError("days out of range")
        if self.years is not None and not 0 < self.years <= _MAX_YEARS:
            raise ValueError("years out of range")

    def retain_until(self, now: datetime) -> datetime:
        """The retain-until date of a version written at ``now``. A year is 365 days, as AWS
        counts it for a default retention."""
        days = self.days if self.days is not None else 365 * (self.years or 0)
        return now + timedelta(days=days)


@dataclass(frozen=True, slots=True)
class ObjectLockConfiguration:
    """A bucket's Object Lock configuration: present means enabled, for good."""

    default: DefaultRetention | None = None

    def to_json(self) -> str:
        rule = self.default
        if rule is None:
            return json.dumps({"v": 1})
        return json.dumps({"v": 1, "mode": rule.mode.value, "days": rule.days, "years": rule.years})

    @classmethod
    def from_json(cls, text: str) -> ObjectLockConfiguration:
        data = json.loads(text)
        if "mode" not in data:
            return cls()
        return cls(DefaultRetention(LockMode(data["mode"]), data["days"], data["years"]))


@dataclass(frozen=True, slots=True)
class ObjectLock:
    """One version's lock: a retention (``mode`` and ``retain_until`` both set, or neither)
    and a legal hold: ON (True), OFF (False), or never set (None). AWS tells the last two
    apart: GetObjectLegalHold answers ``OFF`` for a hold set and lifted (or written OFF), and
    NoSuchObjectLockConfiguration for a version that never had one (decision 0104)."""

    mode: LockMode | None = None
    retain_until: datetime | None = None
    legal_hold: bool | None = None

    def __post_init__(self) -> None:
        if (self.mode is None) != (self.retain_until is None):
            raise ValueError("a retention has both a mode and a date")

    @property
    def is_empty(self) -> bool:
        """Neither a retention nor a legal hold ever set: the version has no lock."""
        return self.mode is None and self.legal_hold is None

    @property
    def has_retention(self) -> bool:
        return self.mode is not None and self.retain_until is not None

    def retained_at(self, now: datetime) -> bool:
        return self.retain_until is not None and self.retain_until > now

    def to_json(self) -> str:
        until = None if self.retain_until is None else self.retain_until.isoformat()
        mode = None if self.mode is None else self.mode.value
        return json.dumps([mode, until, self.legal_hold])

    @classmethod
    def from_json(cls, text: str) -> ObjectLock:
        # Rows written before decision 0104 say false for a hold never set: read as OFF.
        mode, until, hold = json.loads(text)
        return cls(
            None if mode is None else LockMode(mode),
            None if until is None else datetime.fromisoformat(until).astimezone(UTC),
            None if hold is None else bool(hold),
        )

    def with_default(self, default: ObjectLock | None) -> ObjectLock | None:
        """This lock, asked for by a write, completed by the bucket's default retention when
        it asks for no retention of its own (explicit settings win, as on AWS); None when
        neither gives anything."""
        if self.has_retention or default is None:
            return None if self.is_empty else self
        merged = ObjectLock(default.mode, default.retain_until, self.legal_hold)
        return None if merged.is_empty else merged


def check_removal(lock: ObjectLock | None, now: datetime, *, bypass_governance: bool) -> None:
    """ObjectLocked unless a version with ``lock`` may be removed at ``now``."""
    if removal_refused(lock, now, bypass_governance=bypass_governance):
        raise ObjectLocked(LOCKED)


def removal_refused(lock: ObjectLock | None, now: datetime, *, bypass_governance: bool) -> bool:
    """Whether a version with ``lock`` may not be removed at ``now``."""
    if lock is None:
        return False
    if lock.legal_hold is True:
        return True
    if not lock.retained_at(now):
        return False
    return not (lock.mode is LockMode.GOVERNANCE and bypass_governance)


@dataclass(frozen=True, slots=True)
class LockChange:
    """A change to one version's lock (PutObjectRetention or PutObjectLegalHold), applied by
    the store to the version as it is in the change's own transaction (``apply``)."""

    set_retention: bool = False
    mode: LockMode | None = None
    retain_until: datetime | None = None
    legal_hold: bool | None = None  # None: left as it is
    bypass_governance: bool = False

    @classmethod
    def retention(
        cls, mode: LockMode | None, retain_until: datetime | None, *, bypass_governance: bool
    ) -> LockChange:
        return cls(True, mode, retain_until, None, bypass_governance)

    @classmethod
    def hold(cls, on: bool) -> LockChange:
        return cls(legal_hold=on)

    def apply(self, old: ObjectLock | None, now: datetime) -> ObjectLock | None:
        """The version's new lock (None: none left); ObjectLocked when the change would
        weaken a retention that forbids it."""
        old = old or ObjectLock()
        if not self.set_retention:
            hold = old.legal_hold if self.legal_hold is None else self.legal_hold
            new = ObjectLock(old.mode, old.retain_until, hold)
            return None if new.is_empty else new
        if old.retained_at(now) and _weakens(old, self.mode, self.retain_until):
            if old.mode is LockMode.COMPLIANCE or not self.bypass_governance:
                raise ObjectLocked(LOCKED)
        new = ObjectLock(self.mode, self.retain_until, old.legal_hold)
        return None if new.is_empty else new


def _weakens(old: ObjectLock, mode: LockMode | None, until: datetime | None) -> bool:
    """Whether replacing ``old``'s retention by (mode, until) lifts, shortens or relaxes it
    (COMPLIANCE to GOVERNANCE); the same or a longer one, in the same mode or a stricter
    one, does not."""
    if mode is None or until is None or old.retain_until is None:
        return True
    if until < old.retain_until:
        return True
    return old.mode is LockMode.COMPLIANCE and mode is LockMode.GOVERNANCE
