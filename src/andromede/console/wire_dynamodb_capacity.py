"""The DynamoDB calls of a table page's capacity section and of the tables' list's account
limits (decision 0267): UpdateTable's billing mode with the table's and each global index's
provisioned read and write units (``ProvisionedThroughput``, ``GlobalSecondaryIndexUpdates``
``Update``), or their on-demand maximums (``OnDemandThroughput``, -1 unlimited), in one call;
DescribeLimits. In process as the signed-in principal through DynamoDB's JSON protocol, as
``wire_dynamodb``'s calls. Units travel as typed when they are no number: DynamoDB refuses
them in its words.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from andromede.console.wire import JsonWire
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = ["AccountLimits", "CapacityChange", "DynamoCapacityWire", "typed_units"]


def typed_units(typed: str) -> int | str:
    """A number of units as typed: an integer (``-1`` included), else the text itself."""
    typed = typed.strip()
    digits = typed[1:] if typed.startswith("-") else typed
    return int(typed) if digits.isdigit() else typed


@dataclass(frozen=True, slots=True)
class AccountLimits:
    """DescribeLimits: the account's and each table's ceilings of provisioned units."""

    account_read: int
    account_write: int
    table_read: int
    table_write: int


@dataclass(frozen=True, slots=True)
class CapacityChange:
    """What the capacity form asks: the billing mode and, as typed, the table's units (read,
    write) — provisioned capacity, or on-demand maximums — and each global index's by name.
    An empty maximum is not sent (the table keeps its own)."""

    on_demand: bool
    table: tuple[str, str]
    indexes: Mapping[str, tuple[str, str]] = field(default_factory=dict)


def _maxima(units: tuple[str, str]) -> dict[str, Any]:
    return {
        name: typed_units(typed)
        for name, typed in zip(("MaxReadRequestUnits", "MaxWriteRequestUnits"), units, strict=True)
        if typed.strip()
    }


def _provisioned(units: tuple[str, str]) -> dict[str, Any]:
    return {
        "ReadCapacityUnits": typed_units(units[0]),
        "WriteCapacityUnits": typed_units(units[1]),
    }


class DynamoCapacityWire(JsonWire):
    """Capacity and limits (``DynamoDB_20120810`` JSON 1.0)."""

    target_prefix = "DynamoDB_20120810."
    content_type = "application/x-amz-json-1.0"
    internal_error = "InternalServerError"

    async def limits(self, origin: Scope, principal: Principal) -> AccountLimits:
        answer = await self._json(origin, principal, "DescribeLimits", {})

        def units(name: str) -> int:
            value = answer.get(name)
            return value if isinstance(value, int) and not isinstance(value, bool) else 0

        return AccountLimits(
            account_read=units("AccountMaxReadCapacityUnits"),
            account_write=units("AccountMaxWriteCapacityUnits"),
            table_read=units("TableMaxReadCapacityUnits"),
            table_write=units("TableMaxWriteCapacityUnits"),
        )

    async def update(
        self, origin: Scope, principal: Principal, name: str, change: CapacityChange
    ) -> None:
        """One UpdateTable: the billing mode, the table's units and its global indexes'
        (provisioned capacity, or the on-demand maximums typed)."""
        payload: dict[str, Any] = {
            "TableName": name,
            "BillingMode": "PAY_PER_REQUEST" if change.on_demand else "PROVISIONED",
        }
        updates: list[dict[str, Any]] = []
        if change.on_demand:
            if maxima := _maxima(change.table):
                payload["OnDemandThroughput"] = maxima
            for index, units in change.indexes.items():
                if maxima := _maxima(units):
                    updates.append({"IndexName": index, "OnDemandThroughput": maxima})
        else:
            payload["ProvisionedThroughput"] = _provisioned(change.table)
            updates += [
                {"IndexName": index, "ProvisionedThroughput": _provisioned(units)}
                for index, units in change.indexes.items()
            ]
        if updates:
            payload["GlobalSecondaryIndexUpdates"] = [{"Update": u} for u in updates]
        await self._json(origin, principal, "UpdateTable", payload)
