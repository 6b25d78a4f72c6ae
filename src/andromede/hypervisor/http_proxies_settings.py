"""What an Application Load Balancer's HTTP listener proxy
(:mod:`~andromede.hypervisor.http_proxies`, decision 0216) is told and what it counts: the
listener's routing (:class:`HttpRouting`), the load balancer's attributes it honours
(:class:`ProxyLimits`), its request counts (:class:`RequestCounts`, ``AWS/ApplicationELB``)
and AWS's own error pages (:func:`error_page`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Final

from andromede.loadbalancing.application import GroupPolicy
from andromede.loadbalancing.http_rules import Rule
from andromede.loadbalancing.trust_stores import MutualTls

__all__ = [
    "REASONS",
    "SERVER",
    "Connector",
    "Headers",
    "HttpRouting",
    "ProxyLimits",
    "RequestCounts",
    "error_page",
    "phrase",
]

SERVER: Final = b"awselb/2.0"
REASONS: Final = {
    400: "Bad Request",
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}

Connector = Callable[[str, int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]
Headers = list[tuple[bytes, bytes]]


@dataclass(frozen=True, slots=True)
class HttpRouting:
    """What one HTTP listener does: its rules (the default last) and each forwarded group's
    targets (address, port)."""

    listener_id: str
    port: int
    rules: tuple[Rule, ...]
    groups: Mapping[str, tuple[tuple[str, int], ...]] = field(default_factory=dict)
    protocol: str = "HTTP"
    # Decision 0231: each group's protocol, stickiness and algorithm (absent: HTTP, none,
    # round robin).
    policies: Mapping[str, GroupPolicy] = field(default_factory=dict)
    # Decision 0256: an HTTPS listener's mutual TLS (None: off).
    mutual: MutualTls | None = None
    # Decision 0264: the load balancer (``app/NAME/ID``) its access log lines name, "" when
    # its access logs are off, and each forwarded group's ARN they give.
    access_log: str = ""
    group_arns: Mapping[str, str] = field(default_factory=dict)
    # Decision 0287: the load balancer its connection log lines name, "" when they are off.
    connection_log: str = ""


@dataclass(frozen=True, slots=True)
class ProxyLimits:
    """The load balancer's attributes the proxy honours, and the gateway's header bound."""

    max_header_bytes: int = 65536
    idle_timeout: float = 60.0  # idle_timeout.timeout_seconds
    connect_timeout: float = 10.0
    xff_mode: str = "append"  # routing.http.xff_header_processing.mode
    xff_client_port: bool = False  # routing.http.xff_client_port.enabled
    drop_invalid_headers: bool = False  # routing.http.drop_invalid_header_fields.enabled
    client_keep_alive: float = 3600.0  # client_keep_alive.seconds
    access_log_max_lines: int = 100000  # elb_access_log_max_buffered_lines (decision 0264)
    desync_mode: str = "defensive"  # routing.http.desync_mitigation_mode (decision 0287)


@dataclass
class RequestCounts:
    """What one proxy answered (``AWS/ApplicationELB``, decision 0216): only grows."""

    requests: int = 0
    elb: list[int] = field(default_factory=lambda: [0, 0, 0, 0])  # 2XX 3XX 4XX 5XX
    elb_5xx: list[int] = field(default_factory=lambda: [0, 0, 0, 0])  # 500 502 503 504
    target: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    target_time: float = 0.0  # seconds, in all
    target_answers: int = 0
    tls_errors: int = 0  # handshakes failed or certificates refused (decision 0287)
    non_compliant: int = 0  # requests desync mitigation classified (decision 0287)

    def answered(self, status: int, *, by_target: bool) -> None:
        index = status // 100 - 2
        if not 0 <= index <= 3:
            return  # 1XX: no class AWS counts
        (self.target if by_target else self.elb)[index] += 1
        if not by_target and status in (500, 502, 503, 504):
            self.elb_5xx[(500, 502, 503, 504).index(status)] += 1

    def as_tuple(self) -> tuple[int, ...]:
        return (
            self.requests,
            *self.elb,
            *self.elb_5xx,
            *self.target,
            round(self.target_time * 1000),
            self.target_answers,
            self.tls_errors,
            self.non_compliant,
        )


def error_page(status: int) -> bytes:
    """AWS's own page for an error the load balancer answers."""
    title = f"{status} {REASONS[status]}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n"
    ).encode()


def phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
