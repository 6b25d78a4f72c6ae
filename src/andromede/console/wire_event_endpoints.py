"""EventBridge's global endpoint calls (decision 0355) the console's endpoint pages make
(decision 0366), through :class:`wire_events.EventsWire` as the signed-in principal:
ListEndpoints, DescribeEndpoint, CreateEndpoint, UpdateEndpoint and DeleteEndpoint, each
authorised, checked and audited by EventBridge. Each answer is read into the row the pages
show; nothing here decides what EventBridge allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from andromede.console.json_answers import listed_objects, minute_text
from andromede.console.wire_events import EventsWire
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = ["EndpointCalls", "EndpointRow", "EndpointSettings"]

_LISTED: Final = 100  # ListEndpoints' MaxResults bound (AWS's)


@dataclass(frozen=True, slots=True)
class EndpointRow:
    name: str
    arn: str
    description: str
    state: str
    endpoint_id: str
    url: str
    health_check: str  # the Route 53 health check's ARN (the primary's)
    secondary: str  # the Region events go to while the check is unhealthy
    replication: str  # ENABLED or DISABLED
    role_arn: str
    bus_arns: tuple[str, ...]
    created: str
    modified: str

    @property
    def primary(self) -> str:
        """The endpoint's home Region (its ARN's), the primary."""
        parts = self.arn.split(":")
        return parts[3] if len(parts) > 3 else ""

    @property
    def bus_name(self) -> str:
        return self.bus_arns[0].rsplit("event-bus/", 1)[-1] if self.bus_arns else ""

    @property
    def primary_bus_arn(self) -> str:
        return next((a for a in self.bus_arns if a.split(":")[3:4] == [self.primary]), "")

    @property
    def health_check_id(self) -> str:
        return self.health_check.rsplit("/", 1)[-1]


@dataclass(frozen=True, slots=True)
class EndpointSettings:
    """What the create and the failover forms send: the primary's bus (its ARN, as
    ListEventBuses gives it; the secondary's is the bus of that name in the secondary
    Region), the secondary Region, the health check's ARN, replication and its role."""

    bus_arn: str
    secondary: str
    health_check: str
    replication: bool
    role_arn: str
    description: str

    def payload(self) -> dict[str, Any]:
        """The members CreateEndpoint and UpdateEndpoint both take. The secondary's bus is
        the primary's ARN in the secondary Region, as AWS's console fills it in (not
        editable there); EventBridge checks both buses exist."""
        parts = self.bus_arn.split(":")
        if len(parts) > 3:
            parts[3] = self.secondary
        buses = [{"EventBusArn": self.bus_arn}, {"EventBusArn": ":".join(parts)}]
        payload: dict[str, Any] = {
            "RoutingConfig": {
                "FailoverConfig": {
                    "Primary": {"HealthCheck": self.health_check},
                    "Secondary": {"Route": self.secondary},
                }
            },
            "ReplicationConfig": {"State": "ENABLED" if self.replication else "DISABLED"},
            "EventBuses": buses,
            "Description": self.description,
        }
        if self.role_arn:
            payload["RoleArn"] = self.role_arn
        return payload


def _row(item: dict[str, Any]) -> EndpointRow:
    failover = item.get("RoutingConfig", {}).get("FailoverConfig", {})
    return EndpointRow(
        name=str(item.get("Name", "")),
        arn=str(item.get("Arn", "")),
        description=str(item.get("Description") or ""),
        state=str(item.get("State", "")),
        endpoint_id=str(item.get("EndpointId") or ""),
        url=str(item.get("EndpointUrl") or ""),
        health_check=str(failover.get("Primary", {}).get("HealthCheck") or ""),
        secondary=str(failover.get("Secondary", {}).get("Route") or ""),
        replication=str(item.get("ReplicationConfig", {}).get("State") or ""),
        role_arn=str(item.get("RoleArn") or ""),
        bus_arns=tuple(str(b.get("EventBusArn", "")) for b in listed_objects(item, "EventBuses")),
        created=minute_text(item.get("CreationTime")),
        modified=minute_text(item.get("LastModifiedTime")),
    )


class EndpointCalls:
    """The endpoint calls the console makes, as ``principal``, through ``wire``."""

    def __init__(self, wire: EventsWire) -> None:
        self._wire = wire

    async def page(
        self, origin: Scope, principal: Principal, *, token: str, limit: int
    ) -> tuple[list[EndpointRow], str]:
        """One page of ListEndpoints (the console's Region's) after ``token``, and the next
        page's token ("" for none)."""
        payload: dict[str, Any] = {"MaxResults": max(1, min(limit, _LISTED))}
        if token:
            payload["NextToken"] = token
        answer = await self._wire._json(origin, principal, "ListEndpoints", payload)
        rows = [_row(item) for item in listed_objects(answer, "Endpoints")]
        return rows, str(answer.get("NextToken") or "")

    async def get(self, origin: Scope, principal: Principal, name: str) -> EndpointRow:
        answer = await self._wire._json(origin, principal, "DescribeEndpoint", {"Name": name})
        return _row(answer)

    async def create(
        self,
        origin: Scope,
        principal: Principal,
        name: str,
        settings: EndpointSettings,
    ) -> None:
        payload = {"Name": name, **settings.payload()}
        await self._wire._json(origin, principal, "CreateEndpoint", payload)

    async def update(
        self,
        origin: Scope,
        principal: Principal,
        name: str,
        settings: EndpointSettings,
    ) -> None:
        """UpdateEndpoint with every member the failover form shows: a role left empty is
        not sent, so EventBridge keeps the endpoint's (and refuses ENABLED without one)."""
        payload = {"Name": name, **settings.payload()}
        await self._wire._json(origin, principal, "UpdateEndpoint", payload)

    async def delete(self, origin: Scope, principal: Principal, name: str) -> None:
        await self._wire._json(origin, principal, "DeleteEndpoint", {"Name": name})
