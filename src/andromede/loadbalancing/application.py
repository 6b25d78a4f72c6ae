"""What Application Load Balancers add to the load balancing core (decision 0216), pure: their
listeners' and target groups' protocols, the attributes ELBv2 documents for them with AWS's
defaults, which of those the data plane honours, and the checks of their values.

Honoured by the HTTP proxy (``hypervisor.http_proxies``): ``idle_timeout.timeout_seconds``,
``client_keep_alive.seconds`` (a client connection serves no further request once that old),
``routing.http.xff_header_processing.mode``, ``routing.http.xff_client_port.enabled``,
``routing.http.drop_invalid_header_fields.enabled``, ``deletion_protection.enabled`` (the
service), the ``access_logs.s3.*`` keys (decision 0264,
:mod:`andromede.loadbalancing.access_logs`), the ``connection_logs.s3.*`` keys and
``routing.http.desync_mitigation_mode`` (decision 0287). Stored and shown as AWS's defaults,
a change refused while its behaviour is not here: WAF's fail-open,
zonal shift, HTTP/2 towards clients (``routing.http2.enabled``: AWS speaks HTTP/2 to clients
over TLS only, and the proxy speaks HTTP/1.1). An HTTP or HTTPS target group's attributes
are :mod:`andromede.loadbalancing.group_routing`'s (decision 0231).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from andromede.loadbalancing.errors import InvalidConfiguration, LbValidationError
from andromede.loadbalancing.http_rules import Rule

__all__ = [
    "ALB_ATTRIBUTES",
    "ALB_LISTENER_PROTOCOLS",
    "ALB_TG_ATTRIBUTES",
    "ALB_TG_PROTOCOLS",
    "GroupPolicy",
    "HttpSettings",
    "check_alb_value",
    "group_keys",
]

ALB_LISTENER_PROTOCOLS: Final = ("HTTP", "HTTPS")
ALB_TG_PROTOCOLS: Final = ("HTTP", "HTTPS")

# ELBv2's attributes of an application load balancer and their defaults.
ALB_ATTRIBUTES: Final[Mapping[str, str]] = {
    "deletion_protection.enabled": "false",
    "access_logs.s3.enabled": "false",
    "access_logs.s3.bucket": "",
    "access_logs.s3.prefix": "",
    "connection_logs.s3.enabled": "false",
    "connection_logs.s3.bucket": "",
    "connection_logs.s3.prefix": "",
    "idle_timeout.timeout_seconds": "60",
    "client_keep_alive.seconds": "3600",
    "routing.http.desync_mitigation_mode": "defensive",
    "routing.http.drop_invalid_header_fields.enabled": "false",
    "routing.http.preserve_host_header.enabled": "false",
    "routing.http.x_amzn_tls_version_and_cipher_suite.enabled": "false",
    "routing.http.xff_client_port.enabled": "false",
    "routing.http.xff_header_processing.mode": "append",
    "routing.http2.enabled": "true",
    "waf.fail_open.enabled": "false",
    "zonal_shift.config.enabled": "false",
}

# An HTTP or HTTPS target group's.
ALB_TG_ATTRIBUTES: Final[Mapping[str, str]] = {
    "deregistration_delay.timeout_seconds": "300",
    "slow_start.duration_seconds": "0",
    "stickiness.enabled": "false",
    "stickiness.type": "lb_cookie",
    "stickiness.lb_cookie.duration_seconds": "86400",
    "stickiness.app_cookie.cookie_name": "",
    "stickiness.app_cookie.duration_seconds": "86400",
    "load_balancing.algorithm.type": "round_robin",
    "load_balancing.algorithm.anomaly_mitigation": "off",
    "load_balancing.cross_zone.enabled": "use_load_balancer_configuration",
    "target_group_health.dns_failover.minimum_healthy_targets.count": "1",
    "target_group_health.dns_failover.minimum_healthy_targets.percentage": "off",
    "target_group_health.unhealthy_state_routing.minimum_healthy_targets.count": "1",
    "target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage": "off",
}

_BOOLEAN: Final = ("true", "false")
_RANGES: Final[Mapping[str, tuple[int, int]]] = {
    "idle_timeout.timeout_seconds": (1, 4000),
    "client_keep_alive.seconds": (60, 604800),
}
_CHOICES: Final[Mapping[str, tuple[str, ...]]] = {
    "routing.http.desync_mitigation_mode": ("monitor", "defensive", "strictest"),
    "routing.http.xff_header_processing.mode": ("append", "preserve", "remove"),
}
# Values whose behaviour is not here yet: refused, not stored (decision 0216).
_NOT_YET: Final[Mapping[str, str]] = {
    "waf.fail_open.enabled": "true",
    "routing.http2.enabled": "false",
    "routing.http.x_amzn_tls_version_and_cipher_suite.enabled": "true",
}


@dataclass(frozen=True, slots=True)
class GroupPolicy:
    """How the proxy picks among a forwarded group's targets and speaks to them (decision
    0231): the group's ``protocol`` (HTTPS: re-encrypted to the target), its stickiness
    (``lb_cookie`` or ``app_cookie``, "" when off) with its ``duration`` in seconds and the
    application's ``cookie_name``, its ``algorithm`` (``round_robin`` or
    ``least_outstanding_requests``) and ``key``, the group's own secret (hex) sealing its
    stickiness cookies."""

    protocol: str = "HTTP"
    stickiness: str = ""
    duration: int = 86400
    cookie_name: str = ""
    algorithm: str = "round_robin"
    key: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """What a host's HTTP proxy needs of an HTTP listener (its view's ``http``): the rules
    (the default last), each forwarded group's targets (the healthy ones, every registered
    one when none is), the load balancer's attributes the proxy honours and the gateway's
    header bound (``elb_http_max_header_bytes``)."""

    rules: tuple[Rule, ...]
    groups: tuple[tuple[str, tuple[tuple[str, int], ...]], ...] = ()
    idle_timeout: int = 60
    xff_mode: str = "append"
    xff_client_port: bool = False
    drop_invalid_headers: bool = False
    max_header_bytes: int = 65536
    client_keep_alive: int = 3600
    # HTTPS: the view's ``tls`` gives the certificates the proxy presents.
    protocol: str = "HTTP"
    # Decision 0231: each forwarded group's policy (group id, policy), absent at the default.
    policies: tuple[tuple[str, GroupPolicy], ...] = ()
    # Decision 0264: the load balancer (``app/NAME/ID``) the access log lines name, "" when
    # its access logs are off, and each forwarded group's (id, ARN) they give.
    access_log: str = ""
    group_arns: tuple[tuple[str, str], ...] = ()
    access_log_max_lines: int = 100000  # elb_access_log_max_buffered_lines
    # Decision 0287: routing.http.desync_mitigation_mode, and the load balancer
    # (``app/NAME/ID``) the connection log lines name, "" when its connection logs are off.
    desync_mode: str = "defensive"
    connection_log: str = ""


def group_keys(protocol: str) -> Mapping[str, str]:
    """The attributes an HTTP/HTTPS group has (others: the NLB's, ``model.TG_ATTRIBUTES``)."""
    return ALB_TG_ATTRIBUTES if protocol in ALB_TG_PROTOCOLS else {}


def check_alb_value(key: str, value: str) -> bool:
    """Check a value of a key only ALBs have; False for a key the NLBs share (checked there).
    A target group's keys are checked by ``group_routing.check_group_attributes``."""
    alb_only = key in ALB_ATTRIBUTES and key not in (
        "deletion_protection.enabled",
        "access_logs.s3.enabled",
        "access_logs.s3.bucket",
        "access_logs.s3.prefix",
        "zonal_shift.config.enabled",
    )
    if not alb_only:
        return False
    default = ALB_ATTRIBUTES[key]
    if default in _BOOLEAN and value not in _BOOLEAN:
        raise LbValidationError(f"The value of attribute '{key}' must be 'true' or 'false'")
    if key in _RANGES:
        low, high = _RANGES[key]
        if not (value.isdigit() and low <= int(value) <= high):
            raise LbValidationError(f"The value of '{key}' must be between {low} and {high}")
    if key in _CHOICES and value not in _CHOICES[key]:
        raise LbValidationError(
            f"The value of attribute '{key}' must be one of [{', '.join(_CHOICES[key])}]"
        )
    if _NOT_YET.get(key) == value:
        raise InvalidConfiguration(
            f"Attribute '{key}' set to '{value[:64]}' is not supported here yet (decision 0216)"
        )
    return True
