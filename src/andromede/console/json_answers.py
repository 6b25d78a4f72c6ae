"""How the console's pages read the members of an AWS JSON answer (EventBridge's and the
services that answer as it does): a list member's objects, an epoch timestamp as the pages
show one, a member that should be an object, and every page of a list whose answers name
the next page's token. Shared by the wire modules of one protocol so each reads answers
alike."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

__all__ = ["every_page", "listed_objects", "mapping", "minute_text"]


def minute_text(value: object) -> str:
    """A JSON timestamp (epoch seconds) as the pages show one, UTC to the minute; "" for
    anything else (a member missing or of another type)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), UTC).strftime("%Y-%m-%d %H:%M")
    return ""


def listed_objects(answer: dict[str, Any], member: str) -> list[dict[str, Any]]:
    """The objects of a list member of an answer (anything else in it passed over)."""
    return [item for item in answer.get(member, []) if isinstance(item, dict)]


def mapping(value: object) -> dict[str, Any]:
    """A member that should be an object; an empty one where it is anything else."""
    return value if isinstance(value, dict) else {}


async def every_page(
    ask: Callable[[str], Awaitable[dict[str, Any]]],
    member: str,
    *,
    cursor: str,
    pages: int,
) -> list[Any]:
    """The items of the list ``member`` over every page of a listing, up to ``pages`` of
    them: ``ask(token)`` answers the page after ``token`` ("" for the first), whose member
    ``cursor`` names the next one (none after the last)."""
    found: list[Any] = []
    token = ""
    for _ in range(pages):
        answer = await ask(token)
        listed = answer.get(member)
        found.extend(listed if isinstance(listed, list) else [])
        token = str(answer.get(cursor) or "")
        if not token:
            break
    return found
