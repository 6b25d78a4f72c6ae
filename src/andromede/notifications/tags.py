"""SNS topics' tags (decision 0175): SNS's rules for keys and values, and the count a topic
may hold. Pure: no I/O.

A key is 1 to 128 characters, a value 0 to 256, both of letters, digits, white space and
``_ . : / = + - @``; keys starting with ``aws:`` are AWS's own. A topic holds at most
``sns_max_tags_per_topic`` tags (SNS's 50).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Final

from andromede.notifications.errors import InvalidTopic, TagLimitExceeded

__all__ = ["check_tags", "untagged"]

_TEXT = re.compile(r"[\w\s_.:/=+\-@]*")
_MAX_KEY: Final = 128
_MAX_VALUE: Final = 256


def _check_one(key: str, value: str) -> None:
    if not 1 <= len(key) <= _MAX_KEY or not _TEXT.fullmatch(key):
        raise InvalidTopic(
            "Invalid parameter: Tags Reason: a tag key must be 1 to 128 letters, digits, "
            "spaces or _.:/=+-@"
        )
    if key.lower().startswith("aws:"):
        raise InvalidTopic("Invalid parameter: Tags Reason: keys starting with aws: are reserved")
    if len(value) > _MAX_VALUE or not _TEXT.fullmatch(value):
        raise InvalidTopic(
            "Invalid parameter: Tags Reason: a tag value must be at most 256 letters, digits, "
            "spaces or _.:/=+-@"
        )


def check_tags(
    held: Mapping[str, str], added: Iterable[tuple[str, str]], *, limit: int
) -> dict[str, str]:
    """``held`` with ``added`` set (a key given twice: its last value); InvalidTopic for a key
    or value SNS refuses, TagLimitExceeded past ``limit``."""
    tags = dict(held)
    for key, value in added:
        _check_one(key, value)
        tags[key] = value
    if len(tags) > limit:
        raise TagLimitExceeded(f"Could not complete request: tag quota of {limit} exceeded")
    return tags


def untagged(held: Mapping[str, str], keys: Iterable[str]) -> dict[str, str]:
    """``held`` without ``keys`` (a key not held is no error, as on SNS)."""
    gone = set(keys)
    for key in gone:
        if not 1 <= len(key) <= _MAX_KEY:
            raise InvalidTopic("Invalid parameter: TagKeys Reason: 1 to 128 characters")
    return {k: v for k, v in held.items() if k not in gone}
