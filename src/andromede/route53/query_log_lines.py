"""The public name servers' DNS query logs (decision 0305): each query a zone with a query
logging configuration answered, one line in AWS's format, buffered in memory and written into
the configuration's log group every few seconds — never on the answer's path.

The line, as AWS documents it (fields separated by a space, ``-`` for a missing value)::

    1.0 2017-12-13T08:16:02.130Z Z123412341234 example.com A NOERROR UDP FRA6-C1 192.0.2.1 -

the log format version, the query's time (ISO 8601, UTC, milliseconds), the hosted zone's id,
the name asked (as asked, without the final dot), its type, the response code, the transport
(UDP or TCP), the edge location that answered, the resolver's address and the EDNS client
subnet (``address/prefix`` the resolver sent, else ``-``). AWS writes one log stream per
edge location, named ``<hosted zone id>/<edge location>``; this gateway is one location,
named after its Region (``stream_name``).

The buffer holds at most ``capacity`` lines; one more is dropped and counted, a WARNING told
at most once between two flushes. A flush takes every line held and hands each (account,
group, stream)'s lines to the writer in their order; a writer's failure is logged and those
lines are lost, the name servers never waiting for it."""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

__all__ = ["FORMAT_VERSION", "QueryLogBuffer", "QueryLogTarget", "log_line", "stream_name"]

log = logging.getLogger(__name__)

FORMAT_VERSION: Final = "1.0"
# (account, group name, stream) -> its lines as (timestamp ms, message), in order.
Batches = Mapping[tuple[str, str, str], Sequence[tuple[int, str]]]
Writer = Callable[[str, str, str, Sequence[tuple[int, str]]], Awaitable[None]]


def stream_name(zone_id: str, edge_location: str) -> str:
    return f"{zone_id}/{edge_location}"


def _field(value: str) -> str:
    """A value as one field: never empty, never with a space or a line break inside."""
    cleaned = "".join("_" if c.isspace() else c for c in value)
    return cleaned or "-"


def log_line(
    at_ms: int,
    zone_id: str,
    query_name: str,
    query_type: str,
    response_code: str,
    protocol: str,
    edge_location: str,
    resolver_ip: str,
    client_subnet: str | None,
) -> str:
    moment = datetime.fromtimestamp(at_ms / 1000, UTC)
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at_ms % 1000:03d}Z"
    name = query_name[:-1] if query_name.endswith(".") and query_name != "." else query_name
    return " ".join(
        _field(v)
        for v in (
            FORMAT_VERSION,
            stamp,
            zone_id,
            name,
            query_type,
            response_code,
            protocol,
            edge_location,
            resolver_ip,
            client_subnet or "-",
        )
    )


@dataclass(frozen=True, slots=True)
class QueryLogTarget:
    tenant_id: str
    group_name: str


class QueryLogBuffer:
    def __init__(
        self, capacity: int, edge_location: str, clock: Callable[[], float] = time.time
    ) -> None:
        self._capacity = capacity
        self._edge = edge_location
        self._clock = clock
        self._lines: list[tuple[str, str, str, int, str]] = []
        self._targets: dict[str, QueryLogTarget] = {}  # zone id -> where its queries go
        self.dropped = 0
        self._warned = False

    @property
    def held(self) -> int:
        return len(self._lines)

    def set_targets(self, targets: Mapping[str, QueryLogTarget]) -> None:
        self._targets = dict(targets)

    def logs(self, zone_id: str) -> bool:
        return zone_id in self._targets

    def record(
        self,
        zone_id: str,
        query_name: str,
        query_type: str,
        response_code: str,
        protocol: str,
        resolver_ip: str,
        client_subnet: str | None,
    ) -> None:
        """One query a zone answered: kept when the zone logs its queries and there is room."""
        target = self._targets.get(zone_id)
        if target is None:
            return
        if len(self._lines) >= self._capacity:
            self.dropped += 1
            if not self._warned:
                self._warned = True
                log.warning(
                    "Route 53 query logs: the buffer holds %d lines, queries are not logged"
                    " until the next flush (%d dropped so far)",
                    self._capacity,
                    self.dropped,
                )
            return
        at = int(self._clock() * 1000)
        line = log_line(at, zone_id, query_name, query_type, response_code, protocol,
                        self._edge, resolver_ip, client_subnet)  # fmt: skip
        stream = stream_name(zone_id, self._edge)
        self._lines.append((target.tenant_id, target.group_name, stream, at, line))

    def take(self) -> dict[tuple[str, str, str], list[tuple[int, str]]]:
        """Every line held, by (account, group, stream), the buffer emptied."""
        lines, self._lines, self._warned = self._lines, [], False
        batches: dict[tuple[str, str, str], list[tuple[int, str]]] = defaultdict(list)
        for tenant_id, group, stream, at, line in lines:
            batches[(tenant_id, group, stream)].append((at, line))
        return dict(batches)

    async def flush(self, write: Writer) -> int:
        """Write every line held; the lines written."""
        written = 0
        for (tenant_id, group, stream), lines in self.take().items():
            try:
                await write(tenant_id, group, stream, lines)
            except Exception:  # the lines are lost; the name servers go on
                log.exception("Route 53 query logs: %d lines not written", len(lines))
                continue
            written += len(lines)
        return written
