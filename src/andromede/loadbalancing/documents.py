"""The JSON documents the store keeps for each resource (decision 0191): plain dictionaries,
times as ISO 8601, absent keys read as their defaults so a later release can add some."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from andromede.loadbalancing.http_rules import Forward, action_document, action_from
from andromede.loadbalancing.model import (
    HealthCheck,
    HealthState,
    Listener,
    LoadBalancer,
    NodeMapping,
    Target,
    TargetGroup,
)
from andromede.loadbalancing.trust_stores import MutualAuthentication

__all__ = [
    "forwarded_groups",
    "group_document",
    "group_from",
    "listener_document",
    "listener_from",
    "load_balancer_document",
    "load_balancer_from",
]


def _pairs(raw: Any) -> tuple[tuple[str, str], ...]:
    return tuple((str(k), str(v)) for k, v in raw or ())


def load_balancer_document(lb: LoadBalancer) -> dict[str, Any]:
    return {
        "vpc_id": lb.vpc_id,
        "scheme": lb.scheme,
        "nodes": [[n.subnet_id, n.availability_zone, n.address, n.interface_id] for n in lb.nodes],
        "created_at": lb.created_at.isoformat(),
        "tags": [list(t) for t in lb.tags],
        "attributes": [list(a) for a in lb.attributes],
        "security_groups": list(lb.security_groups),
        "enforce_private_link": lb.enforce_private_link,
        "type": lb.lb_type,
    }


def load_balancer_from(tenant_id: str, lb_id: str, name: str, doc: dict[str, Any]) -> LoadBalancer:
    return LoadBalancer(
        tenant_id=tenant_id,
        lb_id=lb_id,
        name=name,
        vpc_id=doc["vpc_id"],
        scheme=doc["scheme"],
        nodes=tuple(NodeMapping(*n) for n in doc["nodes"]),
        created_at=datetime.fromisoformat(doc["created_at"]),
        tags=_pairs(doc.get("tags")),
        attributes=_pairs(doc.get("attributes")),
        # Absent before session 49: none, "on".
        security_groups=tuple(doc.get("security_groups", ())),
        enforce_private_link=doc.get("enforce_private_link", "on"),
        lb_type=str(doc.get("type") or "network"),  # absent before decision 0216
    )


def _target_document(t: Target) -> dict[str, Any]:
    return {
        "id": t.target_id,
        "port": t.port,
        "address": t.address,
        "zone": t.availability_zone,
        "state": str(t.state),
        "reason": t.reason,
        "streak": t.streak,
        "probed": t.probed,
        "draining_until": t.draining_until.isoformat() if t.draining_until else None,
        "code": t.code,
    }


def _target_from(doc: dict[str, Any]) -> Target:
    until = doc.get("draining_until")
    return Target(
        target_id=doc["id"],
        port=int(doc["port"]),
        address=doc["address"],
        availability_zone=doc.get("zone", ""),
        state=HealthState(doc.get("state", "initial")),
        reason=doc.get("reason", ""),
        streak=int(doc.get("streak", 0)),
        probed=bool(doc.get("probed", False)),
        draining_until=datetime.fromisoformat(until) if until else None,
        code=int(doc.get("code", 0)),  # absent before decision 0198
    )


def group_document(group: TargetGroup) -> dict[str, Any]:
    check = group.health_check
    return {
        "protocol": group.protocol,
        "port": group.port,
        "vpc_id": group.vpc_id,
        "target_type": group.target_type,
        "health_check": {
            "protocol": check.protocol,
            "port": check.port,
            "interval": check.interval,
            "timeout": check.timeout,
            "healthy": check.healthy_threshold,
            "unhealthy": check.unhealthy_threshold,
            "enabled": check.enabled,
            "path": check.path,
            "matcher": check.matcher,
        },
        "created_at": group.created_at.isoformat(),
        "targets": [_target_document(t) for t in group.targets],
        "tags": [list(t) for t in group.tags],
        "attributes": [list(a) for a in group.attributes],
        "lb_id": group.lb_id,
        **({"sticky_key": group.sticky_key} if group.sticky_key else {}),
    }


def group_from(tenant_id: str, tg_id: str, name: str, doc: dict[str, Any]) -> TargetGroup:
    check = doc["health_check"]
    return TargetGroup(
        tenant_id=tenant_id,
        tg_id=tg_id,
        name=name,
        protocol=doc["protocol"],
        port=int(doc["port"]),
        vpc_id=doc["vpc_id"],
        target_type=doc["target_type"],
        health_check=HealthCheck(
            protocol=check["protocol"],
            port=check["port"],
            interval=int(check["interval"]),
            timeout=int(check["timeout"]),
            healthy_threshold=int(check["healthy"]),
            unhealthy_threshold=int(check["unhealthy"]),
            enabled=bool(check.get("enabled", True)),
            # Absent before decision 0198: the defaults.
            path=check.get("path", "/"),
            matcher=check.get("matcher", "200-399"),
        ),
        created_at=datetime.fromisoformat(doc["created_at"]),
        targets=tuple(_target_from(t) for t in doc.get("targets", ())),
        tags=_pairs(doc.get("tags")),
        attributes=_pairs(doc.get("attributes")),
        lb_id=doc.get("lb_id", ""),
        sticky_key=doc.get("sticky_key", ""),
    )


def listener_document(listener: Listener) -> dict[str, Any]:
    return {
        "lb_id": listener.lb_id,
        "protocol": listener.protocol,
        "port": listener.port,
        "tg_id": listener.tg_id,
        "created_at": listener.created_at.isoformat(),
        "tags": [list(t) for t in listener.tags],
        "attributes": [list(a) for a in listener.attributes],
        # Decision 0210 (absent: none, a listener of before TLS).
        "certificates": list(listener.certificates),
        "ssl_policy": listener.ssl_policy,
        "alpn_policy": listener.alpn_policy,
        # Decision 0216: an HTTP listener's default action (absent: forward to tg_id), and
        # every group it forwards to (DeleteTargetGroup's ResourceInUse).
        "default_action": None
        if listener.default_action is None
        else action_document(listener.default_action),
        "groups": forwarded_groups(listener),
        # Decision 0256 (absent: off, a listener of before mutual TLS).
        "mutual": {
            "mode": listener.mutual.mode,
            "trust_store_id": listener.mutual.trust_store_id,
            "ignore_expiry": listener.mutual.ignore_expiry,
            "advertise": listener.mutual.advertise_ca_names,
        },
    }


def listener_from(tenant_id: str, listener_id: str, doc: dict[str, Any]) -> Listener:
    return Listener(
        tenant_id=tenant_id,
        listener_id=listener_id,
        lb_id=doc["lb_id"],
        protocol=doc["protocol"],
        port=int(doc["port"]),
        tg_id=doc["tg_id"],
        created_at=datetime.fromisoformat(doc["created_at"]),
        tags=_pairs(doc.get("tags")),
        attributes=_pairs(doc.get("attributes")),
        certificates=tuple(str(a) for a in doc.get("certificates") or ()),
        ssl_policy=str(doc.get("ssl_policy") or ""),
        alpn_policy=str(doc.get("alpn_policy") or ""),
        default_action=action_from(doc["default_action"]) if doc.get("default_action") else None,
        mutual=_mutual(doc.get("mutual")),
    )


def _mutual(doc: dict[str, Any] | None) -> MutualAuthentication:
    if not doc:
        return MutualAuthentication()
    return MutualAuthentication(
        str(doc["mode"]),
        str(doc.get("trust_store_id") or ""),
        bool(doc.get("ignore_expiry")),
        str(doc.get("advertise") or "off"),
    )


def forwarded_groups(listener: Listener) -> list[str]:
    """The target groups a listener's default action forwards to."""
    action = listener.default_action
    if action is None:
        return [listener.tg_id]
    return [g for g, _ in action.groups] if isinstance(action, Forward) else []
