"""A bucket's lifecycle configuration: its rules and when they make an object or an upload due
(decision 0082). The pass that applies them is ``storage/lifecycle_runner.py``.

S3's rules for a bucket that is not versioned, which is what every bucket here is:
- a rule applies to the objects its filter selects: a key prefix, tags (all of them), and
  bounds on the size, together;
- ``Expiration`` deletes an object once it is due: ``Days`` after its last modification,
  rounded up to the next midnight UTC, or from a ``Date`` (a midnight UTC) on;
- ``AbortIncompleteMultipartUpload`` aborts an upload ``DaysAfterInitiation`` days after it was
  started, rounded the same way;
- the noncurrent-version actions and ``ExpiredObjectDeleteMarker`` are kept and shown, and
  find nothing to act on: an unversioned bucket has no noncurrent version and no delete marker.

When a rule expires an object is ``LifecycleRule.expiry_of`` (with ``tags_hold`` for its tags),
and the earliest of a bucket's rules ``earliest_expiry``: the pass deletes by the one, and the
``x-amz-expiration`` header (decision 0086) answers the other, so the two cannot disagree.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

__all__ = [
    "LIFECYCLE_DOCUMENT",
    "Expiry",
    "LifecycleConfiguration",
    "LifecycleRule",
    "due_at",
    "earliest_expiry",
]

# The kind under which the configuration is stored among the bucket's documents.
LIFECYCLE_DOCUMENT: Final = "lifecycle"


def due_at(start: datetime, days: int) -> datetime:
    """S3's due time: ``days`` after ``start``, rounded up to the next midnight UTC."""
    moment = start.astimezone(UTC) + timedelta(days=days)
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight if midnight == moment else midnight + timedelta(days=1)


@dataclass(frozen=True, slots=True)
class LifecycleRule:
    rule_id: str | None
    enabled: bool
    prefix: str = ""
    tags: tuple[tuple[str, str], ...] = ()
    size_greater_than: int | None = None
    size_less_than: int | None = None
    # How the filter was written, to be shown back as it was put: the old top-level
    # ``<Prefix>``, or ``<Filter>`` (with ``<And>`` when it combined several conditions).
    legacy_prefix: bool = False
    filter_and: bool = False
    expiration_days: int | None = None
    expiration_date: datetime | None = None
    expired_object_delete_marker: bool | None = None
    abort_after_days: int | None = None
    noncurrent_days: int | None = None
    newer_noncurrent_versions: int | None = None

    def selects(self, key: str, size: int) -> bool:
        """Whether the filter's prefix and size bounds hold (tags are checked apart)."""
        return (
            key.startswith(self.prefix)
            and (self.size_greater_than is None or size > self.size_greater_than)
            and (self.size_less_than is None or size < self.size_less_than)
        )

    def tags_hold(self, object_tags: tuple[tuple[str, str], ...]) -> bool:
        held = set(object_tags)
        return all(tag in held for tag in self.tags)

    @property
    def expires(self) -> bool:
        return self.expiration_days is not None or self.expiration_date is not None

    def expiry(self, last_modified: datetime) -> datetime | None:
        """When an object last modified then is due to expire under this rule."""
        if self.expiration_date is not None:
            return self.expiration_date
        if self.expiration_days is not None:
            return due_at(last_modified, self.expiration_days)
        return None

    def expiry_of(self, key: str, size: int, last_modified: datetime) -> datetime | None:
        """When this rule expires the object of this key, size and last modification, its
        tags aside (``tags_hold``): None when it never does (the rule disabled, without an
        ``Expiration`` by ``Days`` or ``Date``, or its prefix or size bounds leaving the object
        out). What both the pass and the ``x-amz-expiration`` header ask."""
        if not self.enabled or not self.selects(key, size):
            return None
        return self.expiry(last_modified)

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.rule_id,
            "enabled": self.enabled,
            "prefix": self.prefix,
            "tags": [list(tag) for tag in self.tags],
            "gt": self.size_greater_than,
            "lt": self.size_less_than,
            "legacy": self.legacy_prefix,
            "and": self.filter_and,
            "days": self.expiration_days,
            "date": None if self.expiration_date is None else self.expiration_date.isoformat(),
            "marker": self.expired_object_delete_marker,
            "abort": self.abort_after_days,
            "noncurrent": self.noncurrent_days,
            "newer": self.newer_noncurrent_versions,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> LifecycleRule:
        def number(name: str) -> int | None:
            value = data.get(name)
            return None if value is None else int(str(value))

        date = data.get("date")
        marker = data.get("marker")
        tags = data.get("tags") or []
        if not isinstance(tags, list):
            raise ValueError("a stored lifecycle rule's tags are not a list")
        rule_id = data.get("id")
        return cls(
            rule_id=None if rule_id is None else str(rule_id),
            enabled=bool(data["enabled"]),
            prefix=str(data.get("prefix") or ""),
            tags=tuple((str(key), str(value)) for key, value in tags),
            size_greater_than=number("gt"),
            size_less_than=number("lt"),
            legacy_prefix=bool(data.get("legacy")),
            filter_and=bool(data.get("and")),
            expiration_days=number("days"),
            expiration_date=None if date is None else datetime.fromisoformat(str(date)),
            expired_object_delete_marker=None if marker is None else bool(marker),
            abort_after_days=number("abort"),
            noncurrent_days=number("noncurrent"),
            newer_noncurrent_versions=number("newer"),
        )


@dataclass(frozen=True, slots=True)
class Expiry:
    """When an object is due to expire, and the rule that expires it."""

    at: datetime
    rule_id: str | None


def earliest_expiry(
    rules: Iterable[LifecycleRule],
    key: str,
    size: int,
    last_modified: datetime,
    tags: tuple[tuple[str, str], ...],
) -> Expiry | None:
    """The earliest expiry of an object under ``rules`` (None: no rule expires it). Among
    rules due at the same time, the first in the configuration: the one the pass, going
    through the rules in order, deletes the object under."""
    earliest: Expiry | None = None
    for rule in rules:
        at = rule.expiry_of(key, size, last_modified)
        if at is None or (earliest is not None and at >= earliest.at):
            continue
        if rule.tags_hold(tags):
            earliest = Expiry(at, rule.rule_id)
    return earliest


@dataclass(frozen=True, slots=True)
class LifecycleConfiguration:
    rules: tuple[LifecycleRule, ...]
    # x-amz-transition-default-minimum-object-size, as put (shown back on GET).
    transition_minimum_size: str | None = None

    def to_text(self) -> str:
        return json.dumps(
            {
                "rules": [rule.to_json() for rule in self.rules],
                "transition_minimum_size": self.transition_minimum_size,
            },
            separators=(",", ":"),
        )

    @property
    def expirations(self) -> tuple[LifecycleRule, ...]:
        """The rules that can expire an object: enabled, with an ``Expiration`` by ``Days`` or
        ``Date`` (not ``ExpiredObjectDeleteMarker`` alone, nor a noncurrent or abort action)."""
        return tuple(rule for rule in self.rules if rule.enabled and rule.expires)

    @classmethod
    def from_text(cls, text: str) -> LifecycleConfiguration:
        data = json.loads(text)
        minimum = data.get("transition_minimum_size")
        return cls(
            tuple(LifecycleRule.from_json(rule) for rule in data["rules"]),
            None if minimum is None else str(minimum),
        )
