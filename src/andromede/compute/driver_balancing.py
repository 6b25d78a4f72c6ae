"""What a host is told of Network Load Balancers, and what it answers (session 51's addendum to
decision 0191): the listeners its VPC routers forward (:class:`BalancedListener`), the health
probes it runs from them (:class:`TargetProbe`) and their outcomes (:class:`ProbeResult`), and
what its routers hold and counted (:class:`BalancerReport`). A TLS listener (decision 0210)
carries what the host's terminator presents (:class:`BalancedTls`): its certificates with their
PEM chains and private keys, which travel only over the agent's authenticated channel (its
unix socket or mutual-TLS listener) and are shown by no ``repr`` — and only to a host whose
previous report named the listener's VPC router: another is told the listener with its keys
withheld (``BalancedTls.withheld``).

The load balancing context's own views (``ForwardingView``, ``Probe``) are not the port's
types: the compute context does not know that one (the two contexts stay independent), so
the gateway's wiring copies them into these and the host copies them back. The fields are
those a host needs: a view's metric dimensions stay with the gateway, which records them.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field, replace

from andromede.compute.driver_network import WIRE_OMITTED_AT_DEFAULT

__all__ = [
    "AccessLogLines",
    "ActiveFlows",
    "BalancedHttp",
    "BalancedListener",
    "BalancedTls",
    "BalancerReport",
    "ListenerCounter",
    "ProbeResult",
    "RequestCounter",
    "ServedCertificate",
    "TargetProbe",
]

_TRANSPORTS = ("tcp", "udp")
# A report's transports: a TLS listener's flows are its terminators' (decision 0210).
_COUNTED = ("tcp", "udp", "tls")
_ALPN_POLICIES = ("None", "HTTP1Only", "HTTP2Only", "HTTP2Optional", "HTTP2Preferred")


@dataclass(frozen=True, slots=True)
class ServedCertificate:
    """A certificate a TLS listener presents: its ARN (what names it), its PEM body and
    chain, and its PEM private key — the key never shown by ``repr`` (nor by an error: the
    checks below name no value)."""

    arn: str
    body: str
    chain: str
    private_key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not self.arn or not self.body.strip() or not self.private_key.strip():
            raise ValueError("a served certificate needs its ARN, body and private key")


@dataclass(frozen=True, slots=True)
class BalancedTls:
    """What a host's TLS terminator needs of a TLS listener (decision 0210): its
    ``certificates`` (the default first, then those offered by SNI), its security policy's
    name and its ALPN policy, whether its target group speaks TLS, and the gateway's bounds
    on it: at most ``max_connections`` connections at once on a host, ``buffer_bytes`` read
    or held a direction at a time (``elb_tls_max_connections``, ``elb_tls_buffer_bytes``).

    ``withheld``: the certificates are not handed to this host (none given), since its
    previous report did not name the listener's VPC router (decision 0210, session 51
    later): its router marks the listener's connections for a terminator it does not start,
    until a hand-over with the keys."""

    certificates: tuple[ServedCertificate, ...]
    ssl_policy: str
    alpn_policy: str = "None"
    target_tls: bool = False
    max_connections: int = 10000
    buffer_bytes: int = 65536
    withheld: bool = field(default=False, metadata={WIRE_OMITTED_AT_DEFAULT: True})
    # Decision 0256: an HTTPS listener's mutual TLS (its mode, its trust store's CA bundle
    # and revocations), a JSON document of the load balancing context's ``trust_stores``
    # ("" for none), withheld with the keys.
    mutual: str = field(default="", repr=False, metadata={WIRE_OMITTED_AT_DEFAULT: True})
    # Decision 0269: an NLB TLS listener's load balancer (``net/NAME/ID``) its access log
    # lines name ("": off), and the lines a terminator holds between two reports at most.
    access_log: str = field(default="", metadata={WIRE_OMITTED_AT_DEFAULT: True})
    access_log_max_lines: int = field(default=100000, metadata={WIRE_OMITTED_AT_DEFAULT: True})

    def __post_init__(self) -> None:
        if self.mutual and not isinstance(json.loads(self.mutual), dict):
            raise ValueError("a listener's mutual TLS is a JSON object")
        if self.withheld and self.certificates:
            raise ValueError("a TLS listener with its keys withheld carries no certificate")
        if not self.withheld and not self.certificates:
            raise ValueError("a TLS listener presents at least one certificate")
        if not (0 < len(self.ssl_policy) <= 128 and self.ssl_policy.isprintable()):
            raise ValueError("bad security policy name")
        if self.alpn_policy not in _ALPN_POLICIES:
            raise ValueError("unknown ALPN policy")
        if self.max_connections < 1 or self.buffer_bytes < 1:
            raise ValueError("bad TLS listener bounds")

    def without_keys(self) -> BalancedTls:
        """The same listener for a host not serving it: its settings, no certificate."""
        return replace(self, certificates=(), withheld=True, mutual="")


@dataclass(frozen=True, slots=True)
class BalancedHttp:
    """What a host's HTTP proxy needs of an Application Load Balancer's HTTP listener
    (decision 0216): its ``rules`` (each a JSON document of the load balancing context's
    ``http_rules``, the default last: this context does not read them), each forwarded
    group's ``groups`` targets (group id, (address, port)…), the load balancer's attributes
    the proxy honours and the gateway's header bound (``elb_http_max_header_bytes``)."""

    rules: tuple[str, ...]
    groups: tuple[tuple[str, tuple[tuple[str, int], ...]], ...] = ()
    idle_timeout: int = 60
    xff_mode: str = "append"
    xff_client_port: bool = False
    drop_invalid_headers: bool = False
    max_header_bytes: int = 65536
    client_keep_alive: int = field(default=3600, metadata={WIRE_OMITTED_AT_DEFAULT: True})
    # HTTPS: the listener's ``tls`` carries the certificates its proxy presents.
    protocol: str = field(default="HTTP", metadata={WIRE_OMITTED_AT_DEFAULT: True})
    # Decision 0231: each forwarded group's policy (protocol, stickiness, algorithm and the
    # secret sealing its cookies), a JSON document of the load balancing context's
    # ``group_routing``; never in a repr (the secret).
    policies: tuple[str, ...] = field(
        default=(), repr=False, metadata={WIRE_OMITTED_AT_DEFAULT: True}
    )
    # Decision 0264: the load balancer (``app/NAME/ID``) its access log lines name ("": its
    # logs are off) and each forwarded group's (id, ARN).
    access_log: str = field(default="", metadata={WIRE_OMITTED_AT_DEFAULT: True})
    group_arns: tuple[tuple[str, str], ...] = field(
        default=(), metadata={WIRE_OMITTED_AT_DEFAULT: True}
    )
    access_log_max_lines: int = field(default=100000, metadata={WIRE_OMITTED_AT_DEFAULT: True})
    # Decision 0287: the desync mitigation mode, and the load balancer (``app/NAME/ID``) its
    # connection log lines name ("": off).
    desync_mode: str = field(default="defensive", metadata={WIRE_OMITTED_AT_DEFAULT: True})
    connection_log: str = field(default="", metadata={WIRE_OMITTED_AT_DEFAULT: True})

    def __post_init__(self) -> None:
        if self.protocol not in ("HTTP", "HTTPS"):
            raise ValueError("an HTTP listener speaks HTTP or HTTPS")
        if self.desync_mode not in ("monitor", "defensive", "strictest"):
            raise ValueError("unknown desync mitigation mode")
        for policy in self.policies:
            if not isinstance(json.loads(policy), dict):
                raise ValueError("a group's policy is a JSON object")
        if not self.rules:
            raise ValueError("an HTTP listener has at least its default rule")
        for rule in self.rules:
            if not isinstance(json.loads(rule), dict):
                raise ValueError("a rule is a JSON object")
        for _, targets in self.groups:
            for address, port in targets:
                ipaddress.IPv4Address(address)
                if not 1 <= port <= 65535:
                    raise ValueError(f"port {port} out of range")
        if self.xff_mode not in ("append", "preserve", "remove"):
            raise ValueError("bad X-Forwarded-For mode")
        if self.idle_timeout < 1 or self.max_header_bytes < 1024:
            raise ValueError("bad HTTP listener bounds")


@dataclass(frozen=True, slots=True)
class BalancedListener:
    """One listener as a VPC's routers forward it: its node ``addresses`` and ``port``, the
    ``targets`` flows go to (address, port), the transports it carries (``tcp``, ``udp`` or
    both), and its load balancer's security groups' ingress as (protocol, from port, to port,
    CIDR), None when it has no groups (every client reaches it); a TLS listener's ``tls``
    (its flows accepted by the router's TLS terminator, not translated)."""

    listener_id: str
    vpc_id: str
    addresses: tuple[str, ...]
    port: int
    targets: tuple[tuple[str, int], ...] = ()
    allowed: tuple[tuple[str, int, int, str], ...] | None = None
    protocols: tuple[str, ...] = ("tcp",)
    tls: BalancedTls | None = None
    # Decision 0216: an HTTP listener's (its connections accepted by the host's HTTP proxy).
    http: BalancedHttp | None = field(default=None, metadata={WIRE_OMITTED_AT_DEFAULT: True})

    def __post_init__(self) -> None:
        # Every field goes into the router's ruleset: nothing but addresses and numbers.
        for address in (*self.addresses, *(a for a, _ in self.targets)):
            ipaddress.IPv4Address(address)  # raises ValueError on a bad address
        for port in (self.port, *(p for _, p in self.targets)):
            if not 1 <= port <= 65535:
                raise ValueError(f"port {port} out of range")
        for protocol, from_port, to_port, cidr in self.allowed or ():
            ipaddress.IPv4Network(cidr)
            if protocol not in ("tcp", "udp", "icmp", "-1") or not (
                -1 <= from_port <= 65535 and -1 <= to_port <= 65535
            ):
                raise ValueError(f"bad security group rule {protocol} {from_port}-{to_port}")
        if not self.protocols or set(self.protocols) - set(_TRANSPORTS):
            raise ValueError(f"bad transports {self.protocols!r}")


@dataclass(frozen=True, slots=True)
class TargetProbe:
    """One health probe of a target from its VPC's router: ``address`` at ``health_port``,
    given up after ``timeout`` seconds, due every ``interval`` seconds; an ``HTTP`` or
    ``HTTPS`` check asks ``path`` and passes on a code ``matcher`` accepts. The tenant, group,
    target and port name the target whose health the outcome moves."""

    tenant_id: str
    tg_id: str
    vpc_id: str
    target_id: str
    port: int
    address: str
    health_port: int
    timeout: int
    interval: int
    protocol: str = "TCP"
    path: str = "/"
    matcher: str = "200-399"

    def __post_init__(self) -> None:
        ipaddress.IPv4Address(self.address)  # raises ValueError on a bad address
        if not 1 <= self.health_port <= 65535 or self.timeout < 1 or self.interval < 1:
            raise ValueError("bad health check port, timeout or interval")
        if self.protocol not in ("TCP", "HTTP", "HTTPS"):
            raise ValueError(f"unsupported health check protocol {self.protocol!r}")

    @property
    def key(self) -> tuple[str, str, str, int]:
        """What names the target probed: (tenant, target group, target, port)."""
        return (self.tenant_id, self.tg_id, self.target_id, self.port)


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """The outcome of one probe the host ran: ``ok``, whether it gave up on the timeout, and
    an HTTP check's answer's status code (None: no answer, or a TCP check)."""

    probe: TargetProbe
    ok: bool
    timed_out: bool = False
    code: int | None = None


@dataclass(frozen=True, slots=True)
class ListenerCounter:
    """What a host's routers counted for one listener's node address and transport since the
    host's previous report (whichever gateway it went to: each count is reported once): the
    new flows, and the bytes processed (``AWS/NetworkELB``). Every listener of a router here
    is listed, 0 when nothing was counted. A TLS listener's (transport ``tls``) are its
    terminators' counts, with the TLS handshakes that failed with clients and with targets
    (``ClientTLSNegotiationErrorCount``, ``TargetTLSNegotiationErrorCount``)."""

    vpc_id: str
    address: str
    port: int
    transport: str
    flows: int
    processed_bytes: int
    client_tls_errors: int = field(default=0, metadata={WIRE_OMITTED_AT_DEFAULT: True})
    target_tls_errors: int = field(default=0, metadata={WIRE_OMITTED_AT_DEFAULT: True})

    def __post_init__(self) -> None:
        if self.transport not in _COUNTED:
            raise ValueError(f"bad transport {self.transport!r}")


@dataclass(frozen=True, slots=True)
class ActiveFlows:
    """The flows a host's routers track now for one listener's node address and transport
    (``tls``: the connections its TLS terminators hold)."""

    vpc_id: str
    address: str
    port: int
    transport: str
    count: int


@dataclass(frozen=True, slots=True)
class RequestCounter:
    """What a host's HTTP proxy counted on one HTTP listener's node address since the host's
    previous report (decision 0216, ``AWS/ApplicationELB``): the requests, the load
    balancer's own answers by class (``elb`` 2XX, 3XX, 4XX, 5XX) and its 500/502/503/504,
    the targets' answers by class, and the targets' response time in all (milliseconds)
    over ``target_answers`` answers."""

    vpc_id: str
    address: str
    port: int
    requests: int = 0
    elb: tuple[int, int, int, int] = (0, 0, 0, 0)
    elb_5xx: tuple[int, int, int, int] = (0, 0, 0, 0)  # 500, 502, 503, 504
    target: tuple[int, int, int, int] = (0, 0, 0, 0)
    target_time_ms: int = 0
    target_answers: int = 0
    # Decision 0287: HTTPS handshakes that failed (``ClientTLSNegotiationErrorCount``, a
    # refused client certificate included) and requests not compliant with RFC 7230
    # (``DesyncMitigationMode_NonCompliant_Request_Count``); omitted at 0.
    client_tls_errors: int = field(default=0, metadata={WIRE_OMITTED_AT_DEFAULT: True})
    non_compliant: int = field(default=0, metadata={WIRE_OMITTED_AT_DEFAULT: True})


@dataclass(frozen=True, slots=True)
class AccessLogLines:
    """The access log lines a host's HTTP proxy wrote on one HTTP listener's node address
    since the host's previous report (decision 0264), each a line of AWS's ALB format — or
    its TLS terminator on an NLB TLS listener's, in AWS's NLB format (decision 0269)."""

    vpc_id: str
    address: str
    port: int
    lines: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BalancerReport:
    """A host's answer to the listeners it was handed: the VPCs whose router is built here
    (the hosts that may probe them), and its routers' counters and tracked flows."""

    routers: tuple[str, ...] = ()
    counters: tuple[ListenerCounter, ...] = ()
    active: tuple[ActiveFlows, ...] = ()
    # Decision 0216: the HTTP proxies' counts (omitted when none: an older gateway reads on).
    requests: tuple[RequestCounter, ...] = field(
        default=(), metadata={WIRE_OMITTED_AT_DEFAULT: True}
    )
    # Decision 0264: the HTTP proxies' access log lines (omitted when none).
    access_logs: tuple[AccessLogLines, ...] = field(
        default=(), metadata={WIRE_OMITTED_AT_DEFAULT: True}
    )
    # Decision 0287: their connection log lines, one per client connection (omitted when
    # none).
    connection_logs: tuple[AccessLogLines, ...] = field(
        default=(), metadata={WIRE_OMITTED_AT_DEFAULT: True}
    )
