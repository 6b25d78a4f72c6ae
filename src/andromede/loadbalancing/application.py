"""What Application Load Balancers add to the load balancing core (decision 0216), pure: their
listeners' and target groups' protocols, the attributes ELBv2 documents for them with AWS's
defaults, which of those the data plane honours, and the checks of their values.

Honoured by the HTTP proxy (``hypervisor.http_proxies``): ``idle_timeout.timeout_seconds``,
``client_keep_alive.seconds`` (a client connection serves no further request once that old),
``routing.http.xff_header_processing.mode``, ``routing.http.xff_client_port.enabled``,
``routing.http.drop_invalid_header_fields.enabled``, ``deletion_protection.enabled`` (the
service). Stored and shown as AWS's defaults, a change
refused while its behaviour is not here: the access and connection logs, WAF's fail-open,
zonal shift, HTTP/2 towards clients (``routing.http2.enabled``: there is no HTTPS listener
yet, and AWS speaks HTTP/2 to clients over TLS only).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from andromede.loadbalancing.errors import InvalidConfiguration, LbValidationError
from andromede.loadbalancing.http_rules import Rule

__all__ = [
    "ALB_ATTRIBUTES",
    "ALB_LISTENER_PROTOCOLS",
    "ALB_TG_ATTRIBUTES",
    "ALB_TG_PROTOCOLS",
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
    "load_balancing.algorithm.type": "round_robin",
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
    "stickiness.lb_cookie.duration_seconds": (1, 604800),
    "slow_start.duration_seconds": (0, 900),
}
_CHOICES: Final[Mapping[str, tuple[str, ...]]] = {
    "routing.http.desync_mitigation_mode": ("monitor", "defensive", "strictest"),
    "routing.http.xff_header_processing.mode": ("append", "preserve", "remove"),
    "stickiness.type": ("lb_cookie", "app_cookie"),
    "load_balancing.algorithm.type": (
        "round_robin",
        "least_outstanding_requests",
        "weighted_random",
    ),
}
# Values whose behaviour is not here yet: refused, not stored (decision 0216).
_NOT_YET: Final[Mapping[str, str]] = {
    "connection_logs.s3.enabled": "true",
    "waf.fail_open.enabled": "true",
    "routing.http2.enabled": "false",
    "routing.http.x_amzn_tls_version_and_cipher_suite.enabled": "true",
}
_ONLY: Final[Mapping[str, str]] = {
    "load_balancing.algorithm.type": "round_robin",
    "slow_start.duration_seconds": "0",
}


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


def group_keys(protocol: str) -> Mapping[str, str]:
    """The attributes an HTTP/HTTPS group has (others: the NLB's, ``model.TG_ATTRIBUTES``)."""
    return ALB_TG_ATTRIBUTES if protocol in ALB_TG_PROTOCOLS else {}


def check_alb_value(key: str, value: str) -> bool:
    """Check a value of a key only ALBs have; False for a key the NLBs share (checked there)."""
    alb_only = (
        (key in ALB_ATTRIBUTES or key in ALB_TG_ATTRIBUTES)
        and key
        not in (
            "deletion_protection.enabled",
            "access_logs.s3.enabled",
            "access_logs.s3.bucket",
            "access_logs.s3.prefix",
            "zonal_shift.config.enabled",
            "deregistration_delay.timeout_seconds",
            "load_balancing.cross_zone.enabled",
            "stickiness.enabled",
            "stickiness.type",
        )
        and not key.startswith("target_group_health.")
    )
    if key == "stickiness.type":
        alb_only = value != "source_ip"
    if not alb_only:
        return False
    default = ALB_ATTRIBUTES.get(key, ALB_TG_ATTRIBUTES.get(key, ""))
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
    if _NOT_YET.get(key) == value or (key in _ONLY and value != _ONLY[key]):
        raise InvalidConfiguration(
            f"Attribute '{key}' set to '{value[:64]}' is not supported here yet (decision 0216)"
        )
    if key == "stickiness.type" and value == "app_cookie":
        raise InvalidConfiguration(
            "Application-based stickiness is not supported here yet (decision 0216)"
        )
    return True
