"""An Application Load Balancer's target group as its proxies route to it (decision 0231), pure:
the checks of an HTTP or HTTPS group's attributes (ModifyTargetGroupAttributes), AWS's words
and codes, and the group's :class:`~andromede.loadbalancing.application.GroupPolicy` — what
the hosts' proxies are handed of it — with its document for the hypervisor port.

What each attribute does here:
- ``stickiness.enabled``, ``stickiness.type`` ``lb_cookie`` (``AWSALB``/``AWSALBCORS``, for
  ``stickiness.lb_cookie.duration_seconds``) or ``app_cookie`` (``AWSALBAPP-0`` issued when the
  target sets ``stickiness.app_cookie.cookie_name``, stale after
  ``stickiness.app_cookie.duration_seconds``): honoured by the proxy.
- ``load_balancing.algorithm.type``: ``round_robin`` and ``least_outstanding_requests``
  honoured (each proxy counts its own requests in flight, as each of AWS's nodes does);
  ``weighted_random`` and its ``anomaly_mitigation`` refused (not here yet).
- ``deregistration_delay.timeout_seconds``: honoured by the service (a deregistered target
  drains: no new request, those under way finish, decision 0191).
- ``slow_start.duration_seconds``: checked (0, or 30 to 900) and refused when not 0 — a
  target would need its time of joining carried to every proxy (not done).
- ``load_balancing.cross_zone.enabled`` and ``target_group_health.*``: the Region has one zone
  (decision 0021), so they change nothing; stored and shown as the NLBs' (decision 0191).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from typing import Any, Final

from andromede.loadbalancing.application import ALB_TG_ATTRIBUTES, GroupPolicy
from andromede.loadbalancing.errors import InvalidConfiguration, LbValidationError
from andromede.loadbalancing.model import TG_ATTRIBUTES, TargetGroup, check_attributes

__all__ = [
    "RESERVED_COOKIE_PREFIXES",
    "check_group_attributes",
    "new_sticky_key",
    "policy_document",
    "policy_from",
    "policy_of",
]

# ELBv2: an application cookie's name may not start with the load balancer's own names.
RESERVED_COOKIE_PREFIXES: Final = ("AWSALB", "AWSALBAPP", "AWSALBTG")
# RFC 6265's cookie-name: an RFC 7230 token.
_TOKEN: Final = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,256}$")
_ALGORITHMS: Final = ("round_robin", "least_outstanding_requests", "weighted_random")
_HONOURED_ALGORITHMS: Final = ("round_robin", "least_outstanding_requests")
_DURATIONS: Final = (
    "stickiness.lb_cookie.duration_seconds",
    "stickiness.app_cookie.duration_seconds",
)
# The keys an HTTP group shares with an NLB's, checked as the NLBs' (decision 0191).
_SHARED: Final = tuple(k for k in ALB_TG_ATTRIBUTES if k in TG_ATTRIBUTES and "stickiness" not in k)


def new_sticky_key() -> str:
    """A group's secret for its stickiness cookies (256 bits, hex)."""
    return secrets.token_hex(32)


def check_group_attributes(
    changes: Mapping[str, str], held: tuple[tuple[str, str], ...]
) -> tuple[tuple[str, str], ...]:
    """An HTTP or HTTPS group's attributes ``held`` with ``changes`` applied: each key one of
    ELBv2's for such a group, each value within AWS's bounds, the whole consistent."""
    for key, value in changes.items():
        if key not in ALB_TG_ATTRIBUTES:
            raise LbValidationError(f"Attribute key '{key[:128]}' is not recognized")
        if key in _SHARED:
            check_attributes(TG_ATTRIBUTES, {key: value}, ())
        else:
            _check_value(key, value)
    merged = dict(held) | dict(changes)
    now = {**ALB_TG_ATTRIBUTES, **merged}
    sticky = now["stickiness.enabled"] == "true"
    if sticky and now["stickiness.type"] == "app_cookie":
        if not now["stickiness.app_cookie.cookie_name"]:
            raise LbValidationError(
                "The application cookie name must be specified when application-based "
                "stickiness is enabled ('stickiness.app_cookie.cookie_name')"
            )
    return tuple(sorted(merged.items()))


def _check_value(key: str, value: str) -> None:
    if key == "stickiness.enabled" and value not in ("true", "false"):
        raise LbValidationError(f"The value of attribute '{key}' must be 'true' or 'false'")
    if key == "stickiness.type" and value not in ("lb_cookie", "app_cookie"):
        raise LbValidationError(
            f"The stickiness type '{value[:32]}' is not valid for a target group of an "
            "Application Load Balancer; it must be one of [lb_cookie, app_cookie]"
        )
    if key in _DURATIONS and not (value.isdigit() and 1 <= int(value) <= 604800):
        raise LbValidationError(f"The value of '{key}' must be between 1 and 604800")
    if key == "stickiness.app_cookie.cookie_name" and value:
        if not _TOKEN.match(value):
            raise LbValidationError(
                f"The application cookie name '{value[:64]}' is not a valid cookie name"
            )
        if value.upper().startswith(RESERVED_COOKIE_PREFIXES):
            raise LbValidationError(
                f"The application cookie name '{value[:64]}' cannot start with AWSALB, "
                "AWSALBAPP or AWSALBTG: those are reserved for the load balancer"
            )
    if key == "slow_start.duration_seconds":
        if not (value.isdigit() and (int(value) == 0 or 30 <= int(value) <= 900)):
            raise LbValidationError(
                "The value of 'slow_start.duration_seconds' must be 0 or between 30 and 900"
            )
        if int(value) != 0:
            raise InvalidConfiguration(
                "Slow start mode is not supported here yet (decision 0231): "
                "'slow_start.duration_seconds' must be 0"
            )
    if key == "load_balancing.algorithm.type":
        if value not in _ALGORITHMS:
            raise LbValidationError(
                f"The value of attribute '{key}' must be one of [{', '.join(_ALGORITHMS)}]"
            )
        if value not in _HONOURED_ALGORITHMS:
            raise InvalidConfiguration(
                f"The load balancing algorithm '{value}' is not supported here yet; "
                "round_robin and least_outstanding_requests are (decision 0231)"
            )
    if key == "load_balancing.algorithm.anomaly_mitigation":
        if value not in ("on", "off"):
            raise LbValidationError(f"The value of attribute '{key}' must be 'on' or 'off'")
        if value == "on":
            raise InvalidConfiguration(
                "Anomaly mitigation is available only with the weighted_random algorithm, "
                "which is not supported here yet (decision 0231)"
            )


def policy_of(group: TargetGroup) -> GroupPolicy:
    """What the proxies need of ``group``."""
    sticky = group.attribute("stickiness.enabled") == "true"
    kind = group.attribute("stickiness.type") if sticky else ""
    return GroupPolicy(
        protocol=group.protocol,
        stickiness=kind,
        duration=int(group.attribute(f"stickiness.{kind}.duration_seconds")) if kind else 86400,
        cookie_name=group.attribute("stickiness.app_cookie.cookie_name") if kind else "",
        algorithm=group.attribute("load_balancing.algorithm.type"),
        key=group.sticky_key,
    )


def policy_document(tg_id: str, policy: GroupPolicy) -> dict[str, Any]:
    return {
        "tg_id": tg_id,
        "protocol": policy.protocol,
        "stickiness": policy.stickiness,
        "duration": policy.duration,
        "cookie_name": policy.cookie_name,
        "algorithm": policy.algorithm,
        "key": policy.key,
    }


def policy_from(doc: Mapping[str, Any]) -> tuple[str, GroupPolicy]:
    return str(doc["tg_id"]), GroupPolicy(
        protocol=str(doc.get("protocol", "HTTP")),
        stickiness=str(doc.get("stickiness", "")),
        duration=int(doc.get("duration", 86400)),
        cookie_name=str(doc.get("cookie_name", "")),
        algorithm=str(doc.get("algorithm", "round_robin")),
        key=str(doc.get("key", "")),
    )
