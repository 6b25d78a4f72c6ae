"""What a host's HTTP proxy notes of each request for its load balancer's access logs
(decision 0264): the exchange under way on a client connection, filled in as the proxy parses,
routes, forwards and answers, and the lines of the answered ones until the host's next report
carries them to the platform (which batches and writes them: the hosts hold no credentials).

An exchange is the connection task's (a context variable): the proxy's helpers that send or
read for the client add to it without it being passed through every call.
"""

from __future__ import annotations

import contextvars
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from andromede.loadbalancing.access_logs import AccessLogEntry, log_line

__all__ = [
    "MAX_BUFFERED_LINES",
    "AccessLogBuffer",
    "Exchange",
    "connection_trace",
    "current",
    "render",
]

# Lines a proxy keeps between two reports by default (the gateway hands each listener's
# ``elb_access_log_max_buffered_lines``); beyond it the oldest are dropped — AWS's access
# logs are best effort too.
MAX_BUFFERED_LINES: Final = 100_000

_CURRENT: contextvars.ContextVar[Exchange | None] = contextvars.ContextVar(
    "andromede_http_exchange", default=None
)


def connection_trace() -> str:
    """A client connection's ``conn_trace_id`` (AWS's ``TID_`` and hex digits)."""
    return f"TID_{secrets.token_hex(16)}"


@dataclass
class Exchange:
    """One request's facts, as the proxy learns them. Monotonic instants time the phases;
    ``created`` is the request's wall clock time."""

    kind: str
    client: tuple[str, int]
    request: str
    user_agent: str
    trace_id: str
    conn_trace_id: str
    received: int = 0
    sent: int = 0
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    parsed: float = field(default_factory=time.monotonic)
    forwarded: float | None = None  # the request sent to the target
    answered: float | None = None  # the target's response headers came
    relayed: float | None = None  # the response's headers went to the client
    target: tuple[str, int] | None = None
    group: str = ""
    elb_status: int | None = None
    target_status: int | None = None
    rule_priority: str = "-"
    actions: tuple[str, ...] = ()
    redirect_url: str = ""
    ssl_cipher: str = ""
    ssl_protocol: str = ""
    domain_name: str = ""  # the client's SNI, when a certificate matched it (decision 0269)
    chosen_cert_arn: str = ""
    classification: str = ""  # desync's, "" for a compliant request (decision 0269)
    classification_reason: str = ""

    def begin(self) -> contextvars.Token[Exchange | None]:
        return _CURRENT.set(self)

    def entry(self, group_arns: dict[str, str]) -> AccessLogEntry:
        forwarded, answered = self.forwarded, self.answered
        request_time = target_time = response_time = None
        if forwarded is not None:
            request_time = forwarded - self.parsed
            if answered is not None:
                target_time = answered - forwarded
                response_time = (self.relayed or time.monotonic()) - answered
        return AccessLogEntry(
            kind=self.kind,
            time=datetime.now(UTC),
            client=self.client,
            target=self.target,
            request_time=request_time,
            target_time=target_time,
            response_time=response_time,
            elb_status=self.elb_status if self.elb_status is not None else self.target_status,
            target_status=self.target_status,
            received_bytes=self.received,
            sent_bytes=self.sent,
            request=self.request,
            user_agent=self.user_agent,
            trace_id=self.trace_id,
            created=self.created,
            actions=self.actions,
            conn_trace_id=self.conn_trace_id,
            target_group_arn=group_arns.get(self.group, ""),
            ssl_cipher=self.ssl_cipher,
            ssl_protocol=self.ssl_protocol,
            domain_name=self.domain_name,
            chosen_cert_arn=self.chosen_cert_arn,
            classification=self.classification,
            classification_reason=self.classification_reason,
            rule_priority=self.rule_priority,
            redirect_url=self.redirect_url,
        )


def current() -> Exchange | None:
    """The exchange of the connection task running, None outside one (or logs off)."""
    return _CURRENT.get()


class AccessLogBuffer:
    """The lines a proxy answered since the host's last report, at most ``limit`` (the
    oldest dropped)."""

    def __init__(self, limit: int = MAX_BUFFERED_LINES) -> None:
        self.lines: deque[str] = deque(maxlen=limit)

    def bound(self, limit: int) -> None:
        """A new bound (the listener's settings changed), the newest lines kept."""
        if limit != self.lines.maxlen:
            self.lines = deque(self.lines, maxlen=limit)

    def add(self, line: str) -> None:
        self.lines.append(line)

    def drain(self) -> tuple[str, ...]:
        taken = tuple(self.lines)
        self.lines.clear()
        return taken


def render(exchange: Exchange, elb: str, group_arns: dict[str, str]) -> str:
    """The exchange's line for the load balancer ``elb`` (``app/NAME/ID``)."""
    return log_line(elb, exchange.entry(group_arns))
