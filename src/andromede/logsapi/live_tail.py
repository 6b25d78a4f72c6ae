"""StartLiveTail (decision 0186, session 50): its parameters checked as AWS's, the session
opened over :class:`LiveTails`, and the answer an event stream — ``initial-response``,
``sessionStart``, a ``sessionUpdate`` every second with the events stored since, and at the
end ``SessionTimeoutException`` (or ``SessionStreamingException`` for a fault, logged).
Authorised ``logs:StartLiveTail`` on each group's ARN; a control call, audited."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator
from typing import Any, Final

from andromede.awswire.eventstream import CONTENT_TYPE
from andromede.awswire.eventstream import json_event as event
from andromede.awswire.eventstream import json_exception as exception
from andromede.http.response import Receive, Response
from andromede.logs.errors import InvalidParameter
from andromede.logs.filter import compile_pattern
from andromede.logs.live_tail import LiveTailSession, TailUpdate
from andromede.logs.model import check_group_name, check_stream_name
from andromede.logsapi.action_call import LogsCall
from andromede.logsapi.errors import LogsWireError
from andromede.logsapi.params import optional_str, strings

__all__ = ["live_tail_answer", "start_live_tail"]

log = logging.getLogger(__name__)

_MAX_GROUPS: Final = 10
_MAX_STREAMS: Final = 100
_MAX_PATTERN: Final = 1024


def _listed(call: LogsCall, name: str) -> list[str] | None:
    found = strings(call.params, name)
    if found is not None and not 1 <= len(found) <= _MAX_STREAMS:
        raise InvalidParameter(f"{name} must hold between 1 and {_MAX_STREAMS} names")
    for item in found or ():
        check_stream_name(item, name)
    return found


async def start_live_tail(call: LogsCall) -> dict[str, Any]:
    if call.live_tails is None:
        raise LogsWireError(
            "UnsupportedOperationException", "Live tail is not served by this deployment"
        )
    identifiers = strings(call.params, "logGroupIdentifiers")
    if identifiers is None or not 1 <= len(identifiers) <= _MAX_GROUPS:
        raise InvalidParameter(f"logGroupIdentifiers must hold between 1 and {_MAX_GROUPS} groups")
    groups: list[tuple[str, str]] = []
    for identifier in identifiers:
        if identifier.endswith("*"):
            raise InvalidParameter("A log group ARN can't end with an asterisk (*).")
        name = call.name_from_arn(identifier) if identifier.startswith("arn:") else identifier
        groups.append((identifier, check_group_name(name)))
    streams = _listed(call, "logStreamNames")
    prefixes = _listed(call, "logStreamNamePrefixes")
    if streams is not None and prefixes is not None:
        raise InvalidParameter(
            "logStreamNames and logStreamNamePrefixes are mutually exclusive parameters."
        )
    if (streams is not None or prefixes is not None) and len(groups) != 1:
        raise InvalidParameter(
            "logStreamNames and logStreamNamePrefixes need exactly one log group."
        )
    text = optional_str(call.params, "logEventFilterPattern") or ""
    if len(text) > _MAX_PATTERN:
        raise InvalidParameter(f"logEventFilterPattern is longer than {_MAX_PATTERN} characters")
    pattern = compile_pattern(text)
    for _, name in groups:
        await call.allow("StartLiveTail", call.group_arn(name))
    call.live_tail = await call.live_tails.open(call.tenant_id, groups, streams, prefixes, pattern)
    return {}


def live_tail_answer(session: LiveTailSession, request_id: str, receive: Receive) -> Response:
    """The event stream of an opened session; the session's place freed when it ends or
    the client goes (``receive`` answers ``http.disconnect``: a server writing to a gone
    client is not told so)."""
    stream = _stream(session, request_id, receive)
    # A stream never started (the client gone before the status line) runs no ``finally``:
    # its place is freed when it is collected.
    weakref.finalize(stream, session.close)
    return Response(status=200, headers=[("Content-Type", CONTENT_TYPE)], stream=stream)


async def _gone(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _until_gone(
    updates: AsyncIterator[TailUpdate], receive: Receive
) -> AsyncIterator[TailUpdate]:
    """The session's updates, until they end or the client goes."""
    watcher = asyncio.ensure_future(_gone(receive))
    try:
        while True:
            step = asyncio.ensure_future(anext(updates))
            await asyncio.wait({step, watcher}, return_when=asyncio.FIRST_COMPLETED)
            if not step.done():
                step.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    await step
                return
            try:
                yield step.result()
            except StopAsyncIteration:
                return
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


async def _stream(
    session: LiveTailSession, request_id: str, receive: Receive
) -> AsyncIterator[bytes]:
    try:
        yield event("initial-response", {})
        start: dict[str, Any] = {
            "requestId": request_id,
            "sessionId": session.session_id,
            "logGroupIdentifiers": [identifier for identifier, _ in session.groups],
            "logEventFilterPattern": session.pattern.text,
        }
        if session.streams is not None:
            start["logStreamNames"] = session.streams
        if session.prefixes is not None:
            start["logStreamNamePrefixes"] = session.prefixes
        yield event("sessionStart", start)
        try:
            async for update in _until_gone(session.updates(), receive):
                yield event(
                    "sessionUpdate",
                    {
                        "sessionMetadata": {"sampled": update.sampled},
                        "sessionResults": [
                            {
                                "logStreamName": e.stream,
                                "logGroupIdentifier": e.group_identifier,
                                "message": e.message,
                                "timestamp": e.timestamp,
                                "ingestionTime": e.ingestion,
                            }
                            for e in update.events
                        ],
                    },
                )
        except Exception:
            log.exception("live tail session %s failed", session.session_id)
            yield exception("SessionStreamingException", "The live tail session failed.")
            return
        if session.timed_out:
            yield exception(
                "SessionTimeoutException",
                f"The live tail session ended after {session.tails.limits.max_session:g} seconds.",
            )
    finally:
        session.close()
