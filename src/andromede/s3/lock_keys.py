"""The Object Lock condition keys of a request (decision 0104), as AWS's Service Authorization
Reference gives them to policies: ``s3:object-lock-mode`` and ``s3:object-lock-legal-hold``
(strings), ``s3:object-lock-retain-until-date`` (a date) and
``s3:object-lock-remaining-retention-days`` (a number).

They come from what the request asks for — the lock headers of a write (PutObject,
CopyObject, CreateMultipartUpload, the fields of a PostObject form) or the body of
PutObjectRetention / PutObjectLegalHold — never from the version's stored lock, and only those
each action carries: PutObject all four, PutObjectRetention the three of a retention,
PutObjectLegalHold the hold's. A value the handler will refuse (an unknown mode, a malformed
date) gives no key: the request fails on its own error after authorisation.

Remaining days are counted up: a part of a day is a day, so a policy bounding retentions to
30 days refuses 30 days and a minute rather than reading it as 30. A date already past counts
0 (the handler refuses it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final

from andromede.iam.policy import ContextValue

__all__ = [
    "ALL_KEYS",
    "HOLD_KEY",
    "HOLD_KEYS",
    "MODE_KEY",
    "REMAINING_DAYS_KEY",
    "RETAIN_UNTIL_KEY",
    "RETENTION_KEYS",
    "header_lock_keys",
    "lock_condition_keys",
    "parse_lock_date",
]

MODE_KEY: Final = "s3:object-lock-mode"
RETAIN_UNTIL_KEY: Final = "s3:object-lock-retain-until-date"
REMAINING_DAYS_KEY: Final = "s3:object-lock-remaining-retention-days"
HOLD_KEY: Final = "s3:object-lock-legal-hold"
RETENTION_KEYS: Final = frozenset({MODE_KEY, RETAIN_UNTIL_KEY, REMAINING_DAYS_KEY})
HOLD_KEYS: Final = frozenset({HOLD_KEY})
ALL_KEYS: Final = RETENTION_KEYS | HOLD_KEYS
_DAY_SECONDS: Final = 86400


def parse_lock_date(text: str) -> datetime | None:
    """A retain-until date as S3 takes it (ISO 8601, ``Z`` or an offset; UTC without one),
    in UTC; None if it is not one."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def lock_condition_keys(
    *,
    mode: str | None,
    retain_until: str | None,
    legal_hold: str | None,
    now: datetime,
    wanted: frozenset[str] = ALL_KEYS,
) -> dict[str, ContextValue]:
    """The keys for what a request asks: ``mode`` / ``retain_until`` / ``legal_hold`` as sent
    (None: not sent), limited to ``wanted`` (the keys the action carries)."""
    keys: dict[str, ContextValue] = {}
    if mode is not None and mode.strip() in ("GOVERNANCE", "COMPLIANCE"):
        keys[MODE_KEY] = mode.strip()
    if retain_until is not None:
        moment = parse_lock_date(retain_until)
        if moment is not None:
            keys[RETAIN_UNTIL_KEY] = moment
            remaining = (moment - now).total_seconds()
            keys[REMAINING_DAYS_KEY] = max(0, math.ceil(remaining / _DAY_SECONDS))
    if legal_hold is not None and legal_hold.strip() in ("ON", "OFF"):
        keys[HOLD_KEY] = legal_hold.strip()
    return {name: value for name, value in keys.items() if name in wanted}


def header_lock_keys(
    headers: Mapping[str, str], now: datetime, wanted: frozenset[str]
) -> dict[str, ContextValue]:
    """The keys of a write's lock headers."""
    return lock_condition_keys(
        mode=headers.get("x-amz-object-lock-mode"),
        retain_until=headers.get("x-amz-object-lock-retain-until-date"),
        legal_hold=headers.get("x-amz-object-lock-legal-hold"),
        now=now,
        wanted=wanted,
    )
