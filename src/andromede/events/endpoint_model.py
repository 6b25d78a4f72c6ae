"""EventBridge global endpoints (decision 0355): what an endpoint is, and AWS's rules on the
members of CreateEndpoint and UpdateEndpoint. Pure: no I/O.

An endpoint lives in its home Region (the Region of the call that made it, its primary): it
names a Route 53 health check (the primary's), a secondary Region, the two buses of one name
in those two Regions, and whether events are replicated between them through a role. Its
``EndpointId`` (``abcdefghij.xyz``, AWS's shape) is what PutEvents names; the failover reads
the health check when each PutEvents arrives. With replication, each of the two buses has a
managed rule (decision 0332) sending every custom event to the other bus as the role.
"""

from __future__ import annotations

import dataclasses
import json
import re
import secrets
import string
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from andromede.events.errors import ValidationError
from andromede.events.model import bus_of_target

__all__ = [
    "ENDPOINT_MANAGER",
    "REPLICATION_PATTERN",
    "REPLICATION_TARGET_ID",
    "Endpoint",
    "EndpointSettings",
    "EndpointState",
    "ReplicationState",
    "check_endpoint_name",
    "endpoint_settings",
    "health_check_id",
    "new_endpoint_id",
    "replication_rule_name",
]

_NAME: Final = re.compile(r"[\.\-_A-Za-z0-9]+")
_HEALTH_CHECK: Final = re.compile(r"arn:aws([a-z]|\-)*:route53:::healthcheck/[\-a-z0-9]+")
_REGION: Final = re.compile(r"[\-a-z0-9]+")
_BUS_ARN: Final = re.compile(r"arn:aws[a-z-]*:events:[a-z]+-[a-z-]+-\d+:\d{12}:event-bus/[\w.-]+")
_ROLE_ARN: Final = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+")
_ID_ALPHABET: Final = string.ascii_lowercase + string.digits

# The managed rules replicating a bus's custom events to the other bus (decision 0332's
# ManagedBy: EventBridge's principal; AWS documents "managed rules" without their names).
ENDPOINT_MANAGER: Final = "events.amazonaws.com"
REPLICATION_TARGET_ID: Final = "EventBridgeGlobalEndpointReplication"
# "Event replication sends all custom events": an ``aws.`` source is a service's event.
REPLICATION_PATTERN: Final = json.dumps(
    {"source": [{"anything-but": {"prefix": "aws."}}]}, separators=(",", ":")
)


class EndpointState(StrEnum):
    ACTIVE = "ACTIVE"
    CREATING = "CREATING"
    UPDATING = "UPDATING"
    DELETING = "DELETING"


class ReplicationState(StrEnum):
    ENABLED = "ENABLED"
    DISABLED = "DISABLED"


def _invalid(value: object, member: str, constraint: str) -> ValidationError:
    # AWS's shape of a model constraint's failure.
    shown = str(value)[:300]
    return ValidationError(
        f"1 validation error detected: Value '{shown}' at '{member}' failed to satisfy "
        f"constraint: {constraint}"
    )


def check_endpoint_name(name: object) -> str:
    if not isinstance(name, str) or not 1 <= len(name) <= 64:
        raise _invalid(name, "name", "Member must have length between 1 and 64")
    if not _NAME.fullmatch(name):
        raise _invalid(
            name, "name", "Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+"
        )
    return name


@dataclass(frozen=True, slots=True)
class EndpointSettings:
    """What CreateEndpoint and UpdateEndpoint set."""

    health_check: str
    secondary: str
    replication: ReplicationState
    bus_arns: tuple[str, str]
    role_arn: str | None
    description: str | None

    @property
    def bus_name(self) -> str:
        return _bus(self.bus_arns[0])[2]


@dataclass(frozen=True, slots=True)
class Endpoint:
    tenant_id: str
    region: str  # its home Region, the primary
    name: str
    endpoint_id: str
    settings: EndpointSettings
    created: float  # epoch seconds
    modified: float
    state: EndpointState = EndpointState.ACTIVE

    @property
    def arn(self) -> str:
        return f"arn:aws:events:{self.region}:{self.tenant_id}:endpoint/{self.name}"

    def bus_arn_in(self, region: str) -> str:
        return next(a for a in self.settings.bus_arns if _bus(a)[0] == region)

    def replaced(self, **changes: Any) -> Endpoint:
        return dataclasses.replace(self, **changes)

    def document(self) -> str:
        s = self.settings
        return json.dumps(
            {
                "HealthCheck": s.health_check,
                "Secondary": s.secondary,
                "Replication": s.replication.value,
                "EventBuses": list(s.bus_arns),
                "RoleArn": s.role_arn,
                "Description": s.description,
                "Modified": self.modified,
                "State": self.state.value,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_document(
        cls, tenant_id: str, region: str, name: str, endpoint_id: str, created: float, doc: str
    ) -> Endpoint:
        d = json.loads(doc)
        buses = d["EventBuses"]
        settings = EndpointSettings(
            health_check=d["HealthCheck"],
            secondary=d["Secondary"],
            replication=ReplicationState(d["Replication"]),
            bus_arns=(buses[0], buses[1]),
            role_arn=d.get("RoleArn"),
            description=d.get("Description"),
        )
        return cls(
            tenant_id,
            region,
            name,
            endpoint_id,
            settings,
            created,
            float(d["Modified"]),
            EndpointState(d["State"]),
        )


def _bus(arn: str) -> tuple[str, str, str]:
    """(Region, account, name) of a bus ARN the model's pattern admitted."""
    found = bus_of_target(arn)
    if found is None:
        raise ValidationError(f"{arn[:300]} is not an event bus ARN.")
    return found


def new_endpoint_id() -> str:
    """AWS's shape (``abcde.veo``): ten letters or digits, a dot, three more."""
    first = "".join(secrets.choice(_ID_ALPHABET) for _ in range(10))
    return f"{first}.{''.join(secrets.choice(string.ascii_lowercase) for _ in range(3))}"


def health_check_id(arn: str) -> str:
    return arn.rsplit("/", 1)[1]


def replication_rule_name(endpoint_id: str) -> str:
    """The managed rule of an endpoint on each of its buses (an id fits a rule's 64)."""
    return "GlobalEndpointManagedRule-" + endpoint_id.replace(".", "-")


def _member(params: Mapping[str, Any], name: str, path: str) -> Mapping[str, Any]:
    value = params.get(name)
    if not isinstance(value, Mapping):
        raise ValidationError(
            f"1 validation error detected: Value null at '{path}' failed to satisfy "
            "constraint: Member must not be null"
        )
    return value


def endpoint_settings(
    params: Mapping[str, Any],
    *,
    tenant_id: str,
    region: str,
    declared: Collection[str],
    held: EndpointSettings | None = None,
) -> EndpointSettings:
    """The settings CreateEndpoint's (``held`` None) or UpdateEndpoint's members give an
    endpoint of ``tenant_id`` whose home is ``region``; ``declared``: the deployment's
    Regions. An UpdateEndpoint keeps what it does not name."""
    description = params.get("Description", held.description if held else None)
    if description is not None and (not isinstance(description, str) or len(description) > 512):
        raise _invalid(
            description, "description", "Member must have length less than or equal to 512"
        )
    if "RoutingConfig" in params or held is None:
        failover = _member(
            _member(params, "RoutingConfig", "routingConfig"),
            "FailoverConfig",
            "routingConfig.failoverConfig",
        )
        primary = _member(failover, "Primary", "routingConfig.failoverConfig.primary")
        secondary = _member(failover, "Secondary", "routingConfig.failoverConfig.secondary")
        health_check = primary.get("HealthCheck")
        route = secondary.get("Route")
    else:
        health_check, route = held.health_check, held.secondary
    if not isinstance(health_check, str) or not _HEALTH_CHECK.fullmatch(health_check):
        raise _invalid(
            health_check,
            "routingConfig.failoverConfig.primary.healthCheck",
            "Member must satisfy regular expression pattern: "
            "^arn:aws([a-z]|\\-)*:route53:::healthcheck/[\\-a-z0-9]+$",
        )
    # AWS's model says 9 to 20 characters (us-east-1); this deployment's Region names may
    # be shorter (eu-fr-1), and a declared Region is what counts below.
    if not isinstance(route, str) or len(route) > 20 or not _REGION.fullmatch(route):
        raise _invalid(
            route,
            "routingConfig.failoverConfig.secondary.route",
            "Member must satisfy regular expression pattern: ^[\\-a-z0-9]+$",
        )
    if route == region:
        raise ValidationError(
            f"The secondary Region {route} must differ from the endpoint's Region {region}."
        )
    if route not in declared:
        raise ValidationError(
            f"Region {route} is not served by this deployment; its Regions are "
            f"{', '.join(sorted(declared))}."
        )
    replication = _replication(params, held)
    bus_arns = _buses(params, held, tenant_id=tenant_id, regions=(region, route))
    role_arn = params.get("RoleArn", held.role_arn if held else None)
    if role_arn is not None:
        if not isinstance(role_arn, str) or not _ROLE_ARN.fullmatch(role_arn):
            raise _invalid(
                role_arn,
                "roleArn",
                "Member must satisfy regular expression pattern: "
                "^arn:aws[a-z-]*:iam::\\d{12}:role\\/[\\w+=,.@/-]+$",
            )
        if role_arn.split(":")[4] != tenant_id:
            raise ValidationError(f"The role {role_arn} must be of account {tenant_id}.")
    if replication is ReplicationState.ENABLED and role_arn is None:
        raise ValidationError(
            "ReplicationConfig is ENABLED: a RoleArn is required (set ReplicationConfig "
            "State to DISABLED to go without one)."
        )
    return EndpointSettings(health_check, route, replication, bus_arns, role_arn, description)


def _replication(params: Mapping[str, Any], held: EndpointSettings | None) -> ReplicationState:
    config = params.get("ReplicationConfig")
    if config is None:
        # AWS: "The default state is ENABLED which means you must supply a RoleArn."
        return held.replication if held else ReplicationState.ENABLED
    if not isinstance(config, Mapping):
        raise ValidationError("ReplicationConfig must be an object.")
    state = config.get("State", ReplicationState.ENABLED.value)
    if state not in {s.value for s in ReplicationState}:
        raise _invalid(
            state,
            "replicationConfig.state",
            "Member must satisfy enum value set: [ENABLED, DISABLED]",
        )
    return ReplicationState(state)


def _buses(
    params: Mapping[str, Any],
    held: EndpointSettings | None,
    *,
    tenant_id: str,
    regions: tuple[str, str],
) -> tuple[str, str]:
    given = params.get("EventBuses")
    if given is None and held is not None:
        arns: list[Any] = list(held.bus_arns)
    else:
        if not isinstance(given, list) or len(given) != 2:
            raise _invalid(
                "[...]" if given is not None else "null",
                "eventBuses",
                "Member must have length less than or equal to 2 and greater than or equal to 2",
            )
        arns = [b.get("EventBusArn") if isinstance(b, Mapping) else None for b in given]
    for arn in arns:
        if not isinstance(arn, str) or not _BUS_ARN.fullmatch(arn):
            raise _invalid(
                arn,
                "eventBuses.member.eventBusArn",
                "Member must satisfy regular expression pattern: "
                "^arn:aws[a-z-]*:events:[a-z]+-[a-z-]+-\\d+:\\d{12}:event-bus/[\\w.-]+$",
            )
    parsed = [_bus(arn) for arn in arns]
    if any(owner != tenant_id for _, owner, _ in parsed):
        raise ValidationError(f"The event buses must be of account {tenant_id}.")
    if parsed[0][2] != parsed[1][2]:
        raise ValidationError("The names of the event buses must be identical in each Region.")
    if sorted(r for r, _, _ in parsed) != sorted(regions):
        raise ValidationError(
            f"The event buses must be one in the endpoint's Region {regions[0]} and one in "
            f"its secondary Region {regions[1]}."
        )
    by_region = {r: arn for (r, _, _), arn in zip(parsed, arns, strict=True)}
    return by_region[regions[0]], by_region[regions[1]]
