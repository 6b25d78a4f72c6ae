"""CloudWatch Logs Insights and the tail's reads (decisions 0186 served, 0111 shown) made in
process as the signed-in principal over the Logs wire: StartQuery, GetQueryResults,
StopQuery, DescribeQueries, and FilterLogEvents from a start time for the tail view. Logs'
authorisation, checks, audit and errors answer them; the answers are read into small rows.

Results are the customer's data: handed to the templates as text, which autoescape.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from andromede.console.wire_logs import EventRow, LogsWire, event_row
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = [
    "QueryResults",
    "describe_query",
    "get_results",
    "start_query",
    "stop_query",
    "tail_events",
]

_RUNNING: Final = frozenset({"Scheduled", "Running"})
_DESCRIBED: Final = 100  # DescribeQueries' page searched for a query's text (AWS's max 1000)
_TAIL_PAGES: Final = 10  # FilterLogEvents pages a tail read follows (each at most 100)


@dataclass(frozen=True, slots=True)
class QueryResults:
    """GetQueryResults' answer: the status, the fields in the order first seen (``@ptr``
    left out: a pointer for GetLogRecord, not a column), the rows by field, the statistics."""

    status: str
    fields: list[str]
    rows: list[dict[str, str]]
    statistics: dict[str, float] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        return self.status in _RUNNING


async def start_query(
    logs: LogsWire,
    origin: Scope,
    principal: Principal,
    groups: Sequence[str],
    window: tuple[int, int],
    query: str,
) -> str:
    """StartQuery over ``groups`` for ``window`` (epoch seconds); the query's id."""
    payload = {
        "logGroupNames": list(groups),
        "startTime": window[0],
        "endTime": window[1],
        "queryString": query,
    }
    answer = await logs._json(origin, principal, "StartQuery", payload)
    return str(answer.get("queryId", ""))


async def get_results(
    logs: LogsWire, origin: Scope, principal: Principal, query_id: str
) -> QueryResults:
    answer = await logs._json(origin, principal, "GetQueryResults", {"queryId": query_id})
    fields: list[str] = []
    rows: list[dict[str, str]] = []
    for result in answer.get("results", []):
        row: dict[str, str] = {}
        for cell in result if isinstance(result, list) else []:
            if not isinstance(cell, dict) or cell.get("field") == "@ptr":
                continue
            name = str(cell.get("field", ""))
            row[name] = str(cell.get("value", ""))
            if name not in fields:
                fields.append(name)
        rows.append(row)
    statistics: dict[str, Any] = answer.get("statistics") or {}
    return QueryResults(
        status=str(answer.get("status", "")),
        fields=fields,
        rows=rows,
        statistics={k: float(v) for k, v in statistics.items() if isinstance(v, int | float)},
    )


async def stop_query(logs: LogsWire, origin: Scope, principal: Principal, query_id: str) -> None:
    await logs._json(origin, principal, "StopQuery", {"queryId": query_id})


async def describe_query(
    logs: LogsWire, origin: Scope, principal: Principal, query_id: str
) -> tuple[str, str]:
    """A recent query's text and (first) log group, from DescribeQueries' latest
    ``_DESCRIBED``; ("", "") for an older one (its results still read)."""
    answer = await logs._json(origin, principal, "DescribeQueries", {"maxResults": _DESCRIBED})
    for query in answer.get("queries", []):
        if isinstance(query, dict) and query.get("queryId") == query_id:
            return str(query.get("queryString", "")), str(query.get("logGroupName", ""))
    return "", ""


async def tail_events(
    logs: LogsWire,
    origin: Scope,
    principal: Principal,
    group: str,
    *,
    pattern: str,
    since_ms: int,
    keep: int,
) -> tuple[list[EventRow], bool]:
    """The group's latest ``keep`` events stored since ``since_ms`` matching ``pattern``
    (FilterLogEvents, oldest first, its pages followed up to ``_TAIL_PAGES``), oldest first;
    and whether the pages ran out before the window did (more events than were read)."""
    payload: dict[str, Any] = {"logGroupName": group, "startTime": since_ms, "limit": 100}
    if pattern:
        payload["filterPattern"] = pattern
    events: list[EventRow] = []
    for _ in range(_TAIL_PAGES):
        answer = await logs._json(origin, principal, "FilterLogEvents", payload)
        events.extend(event_row(e) for e in answer.get("events", []) if isinstance(e, dict))
        events = events[-keep:]
        token = answer.get("nextToken")
        if not token:
            return events, False
        payload["nextToken"] = token
    return events, True
