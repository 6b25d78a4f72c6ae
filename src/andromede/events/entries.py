"""A PutEvents entry as EventBridge checks it (decision 0192): its required members, its
``Detail`` (a JSON object), ``Resources``, ``Time`` and its size as AWS counts it, and
:class:`EntryRefused`, an entry's own ErrorCode (the others of the call go on). Pure; the
service (``events.service``) places the event on its bus."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

__all__ = ["EntryRefused", "checked_entry", "customers", "entry_size", "moment_of"]

# Time takes 14 bytes of an entry's size, as AWS counts it ("Calculating PutEvents entry size").
_TIME_SIZE: Final = 14


def checked_entry(entry: Mapping[str, Any]) -> tuple[str, str, dict[str, Any], list[str]]:
    """(Source, DetailType, the parsed Detail, Resources) of an entry; EntryRefused as
    EventBridge refuses it (a missing member, an ``aws.`` source, a malformed Detail)."""
    source = _required(entry, "Source")
    detail_type = _required(entry, "DetailType")
    detail = _required(entry, "Detail")
    if source.startswith("aws."):
        # AWS's services' sources are theirs alone (decision 0192).
        raise EntryRefused("NotAuthorizedForSourceException", "Not authorized for the source.")
    try:
        parsed = json.loads(detail)
    except (ValueError, RecursionError):
        parsed = None
    if not isinstance(parsed, dict):
        raise EntryRefused("MalformedDetail", "Detail is malformed.")
    resources = entry.get("Resources") or []
    if not isinstance(resources, list) or not all(isinstance(r, str) for r in resources):
        raise EntryRefused("InvalidArgument", "Parameter Resources is not valid.")
    return source, detail_type, parsed, list(resources)


def customers(event: Mapping[str, Any]) -> bool:
    """Whether an event is a customer's (PutEvents'), not one of the platform's services'."""
    return not str(event.get("source", "")).startswith("aws.")


def _required(entry: Mapping[str, Any], member: str) -> str:
    value = entry.get(member)
    if not isinstance(value, str) or not value:
        raise EntryRefused(
            "InvalidArgument",
            f"Parameter {member} is not valid. Reason: {member} is a required argument.",
        )
    return value


class EntryRefused(Exception):
    """An entry of PutEvents refused, with its ErrorCode: a signal within PutEvents."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)


def moment_of(value: Any) -> datetime | None:
    """An entry's ``Time``: epoch seconds as botocore sends them, or ISO 8601."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def entry_size(entry: Mapping[str, Any]) -> int:
    """An entry's size as AWS counts it: Time's 14 bytes, and the UTF-8 of Source,
    DetailType, Detail and each of Resources."""
    size = _TIME_SIZE if entry.get("Time") is not None else 0
    for member in ("Source", "DetailType", "Detail"):
        value = entry.get(member)
        if isinstance(value, str):
            size += len(value.encode())
    for resource in entry.get("Resources") or []:
        if isinstance(resource, str):
            size += len(resource.encode())
    return size
