"""EventBridge's archive and replay actions (decision 0196): CreateArchive, DescribeArchive,
ListArchives, UpdateArchive, DeleteArchive on the archive's ARN; StartReplay on the archive's
ARN it replays; DescribeReplay and CancelReplay on the replay's ARN; the lists on ``*`` — each
``events:<Action>``, calling :class:`andromede.events.archives.ArchiveService` and answering
in EventBridge's members.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Final

from andromede.events.archive_model import Archive, ArchiveState, Replay, replay_arn
from andromede.events.archives import ArchiveService
from andromede.eventsapi.actions import EventsCall
from andromede.eventsapi.errors import EventsWireError

__all__ = ["ARCHIVE_ACTIONS"]


def _service(call: EventsCall) -> ArchiveService:
    if call.archives is None:
        raise EventsWireError("UnsupportedOperation", "Archives are not served here.")
    return call.archives


def _time(call: EventsCall, member: str) -> datetime:
    value = call.params.get(member)
    if value is None:
        call.text(member, required=True)
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise EventsWireError("ValidationException", f"{member} must be a timestamp.")
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise EventsWireError("ValidationException", f"{member} is out of range.") from exc


def _key(call: EventsCall) -> str | None:
    """KmsKeyIdentifier (decision 0204): a key id, key ARN, alias or alias ARN."""
    return call.text("KmsKeyIdentifier", limit=2048)


def _retention(call: EventsCall) -> int | None:
    value = call.params.get("RetentionDays")
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 2**31 - 1:
        raise EventsWireError(
            "ValidationException", "RetentionDays must be an integer of at least 0."
        )
    return value


def _archive_shape(archive: Archive, *, full: bool) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "ArchiveName": archive.name,
        "EventSourceArn": archive.source_arn,
        "State": archive.state,
        "RetentionDays": archive.retention_days,
        "SizeBytes": archive.size_bytes,
        "EventCount": archive.event_count,
        "CreationTime": archive.created.timestamp(),
    }
    if full:
        shape["ArchiveArn"] = archive.arn
        if archive.description is not None:
            shape["Description"] = archive.description
        if archive.event_pattern is not None:
            shape["EventPattern"] = archive.event_pattern
        if archive.kms_key is not None:
            shape["KmsKeyIdentifier"] = archive.kms_key
    return shape


def _replay_shape(replay: Replay, *, full: bool) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "ReplayName": replay.name,
        "EventSourceArn": replay.source_arn,
        "State": replay.state,
        "EventStartTime": replay.start.timestamp(),
        "EventEndTime": replay.end.timestamp(),
        "ReplayStartTime": replay.created.timestamp(),
    }
    if replay.state_reason is not None:
        shape["StateReason"] = replay.state_reason
    if replay.last_replayed is not None:
        shape["EventLastReplayedTime"] = replay.last_replayed.timestamp()
    if replay.ended is not None:
        shape["ReplayEndTime"] = replay.ended.timestamp()
    if full:
        shape["ReplayArn"] = replay.arn
        destination: dict[str, Any] = {"Arn": replay.destination}
        if replay.filter_arns:
            destination["FilterArns"] = list(replay.filter_arns)
        shape["Destination"] = destination
        if replay.description is not None:
            shape["Description"] = replay.description
    return shape


async def create_archive(call: EventsCall) -> dict[str, Any]:
    archives = _service(call)
    name = call.text("ArchiveName", required=True, limit=64) or ""
    await call.allow("CreateArchive", archives.archive_arn(call.tenant_id, name))
    archive = await archives.create_archive(
        call.tenant_id,
        name,
        call.text("EventSourceArn", required=True, limit=1600) or "",
        event_pattern=call.text("EventPattern", limit=1 << 20),
        description=call.text("Description", limit=1024),
        retention_days=_retention(call),
        kms_key=_key(call),
    )
    return {
        "ArchiveArn": archive.arn,
        "State": archive.state,
        "CreationTime": archive.created.timestamp(),
    }


async def describe_archive(call: EventsCall) -> dict[str, Any]:
    archives = _service(call)
    name = call.text("ArchiveName", required=True, limit=64) or ""
    await call.allow("DescribeArchive", archives.archive_arn(call.tenant_id, name))
    return _archive_shape(await archives.describe_archive(call.tenant_id, name), full=True)


async def list_archives(call: EventsCall) -> dict[str, Any]:
    archives = _service(call)
    await call.allow("ListArchives", "*")
    state = call.text("State", limit=64)
    if state is not None and state not in ArchiveState.ALL:
        raise EventsWireError(
            "ValidationException",
            f"1 validation error detected: Value '{state}' at 'state' failed to satisfy "
            "constraint: Member must satisfy enum value set: ["
            + ", ".join(sorted(ArchiveState.ALL))
            + "]",
        )
    after, limit = call.page()
    found = await archives.list_archives(
        call.tenant_id,
        prefix=call.text("NamePrefix", limit=64) or "",
        source_arn=call.text("EventSourceArn", limit=1600),
        state=state,
        after=after,
        limit=limit + 1,
    )
    answer: dict[str, Any] = {"Archives": [_archive_shape(a, full=False) for a in found[:limit]]}
    if len(found) > limit:
        answer["NextToken"] = found[limit - 1].name
    return answer


async def update_archive(call: EventsCall) -> dict[str, Any]:
    archives = _service(call)
    name = call.text("ArchiveName", required=True, limit=64) or ""
    await call.allow("UpdateArchive", archives.archive_arn(call.tenant_id, name))
    archive = await archives.update_archive(
        call.tenant_id,
        name,
        event_pattern=call.text("EventPattern", limit=1 << 20),
        description=call.text("Description", limit=1024),
        retention_days=_retention(call),
        kms_key=_key(call),
    )
    return {
        "ArchiveArn": archive.arn,
        "State": archive.state,
        "CreationTime": archive.created.timestamp(),
    }


async def delete_archive(call: EventsCall) -> dict[str, Any]:
    archives = _service(call)
    name = call.text("ArchiveName", required=True, limit=64) or ""
    await call.allow("DeleteArchive", archives.archive_arn(call.tenant_id, name))
    await archives.delete_archive(call.tenant_id, name)
    return {}


async def start_replay(call: EventsCall) -> dict[str, Any]:
    archives = _service(call)
    name = call.text("ReplayName", required=True, limit=128) or ""
    source = call.text("EventSourceArn", required=True, limit=1600) or ""
    start, end = _time(call, "EventStartTime"), _time(call, "EventEndTime")
    destination = call.params.get("Destination")
    if not isinstance(destination, dict) or not isinstance(destination.get("Arn"), str):
        raise EventsWireError("ValidationException", "Destination must hold an Arn.")
    filters = destination.get("FilterArns") or []
    if (
        not isinstance(filters, list)
        or len(filters) > 100
        or not all(isinstance(arn, str) and len(arn) <= 1600 for arn in filters)
    ):
        raise EventsWireError("ValidationException", "FilterArns must be a list of rule ARNs.")
    await call.allow("StartReplay", source)
    call.resources.append(replay_arn(archives.region, call.tenant_id, name))
    replay = await archives.start_replay(
        call.tenant_id,
        name,
        source,
        start,
        end,
        destination["Arn"],
        filter_arns=filters,
        description=call.text("Description", limit=1024),
    )
    return {
        "ReplayArn": replay.arn,
        "State": replay.state,
        "ReplayStartTime": replay.created.timestamp(),
    }


async def describe_replay(call: EventsCall) -> dict[str, Any]:
    archives = _service(call)
    name = call.text("ReplayName", required=True, limit=128) or ""
    await call.allow("DescribeReplay", replay_arn(archives.region, call.tenant_id, name))
    return _replay_shape(await archives.describe_replay(call.tenant_id, name), full=True)


async def list_replays(call: EventsCall) -> dict[str, Any]:
    archives = _service(call)
    await call.allow("ListReplays", "*")
    after, limit = call.page()
    found = await archives.list_replays(
        call.tenant_id,
        prefix=call.text("NamePrefix", limit=64) or "",
        source_arn=call.text("EventSourceArn", limit=1600),
        state=call.text("State", limit=64),
        after=after,
        limit=limit + 1,
    )
    answer: dict[str, Any] = {"Replays": [_replay_shape(r, full=False) for r in found[:limit]]}
    if len(found) > limit:
        answer["NextToken"] = found[limit - 1].name
    return answer


async def cancel_replay(call: EventsCall) -> dict[str, Any]:
    archives = _service(call)
    name = call.text("ReplayName", required=True, limit=128) or ""
    await call.allow("CancelReplay", replay_arn(archives.region, call.tenant_id, name))
    replay = await archives.cancel_replay(call.tenant_id, name)
    return {"ReplayArn": replay.arn, "State": replay.state}


ARCHIVE_ACTIONS: Final[dict[str, Callable[[EventsCall], Awaitable[dict[str, Any]]]]] = {
    "CreateArchive": create_archive,
    "DescribeArchive": describe_archive,
    "ListArchives": list_archives,
    "UpdateArchive": update_archive,
    "DeleteArchive": delete_archive,
    "StartReplay": start_replay,
    "DescribeReplay": describe_replay,
    "ListReplays": list_replays,
    "CancelReplay": cancel_replay,
}
