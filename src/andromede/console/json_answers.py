"""How the console's pages read the members of an AWS JSON answer (EventBridge's and the
services that answer as it does): a list member's objects and an epoch timestamp as the
pages show one. Shared by the wire modules of one protocol so each reads answers alike."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

__all__ = ["listed_objects", "minute_text"]


def minute_text(value: object) -> str:
    """A JSON timestamp (epoch seconds) as the pages show one, UTC to the minute; "" for
    anything else (a member missing or of another type)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), UTC).strftime("%Y-%m-%d %H:%M")
    return ""


def listed_objects(answer: dict[str, Any], member: str) -> list[dict[str, Any]]:
    """The objects of a list member of an answer (anything else in it passed over)."""
    return [item for item in answer.get(member, []) if isinstance(item, dict)]
