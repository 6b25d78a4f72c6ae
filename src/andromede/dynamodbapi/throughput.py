"""A table's throughput as CreateTable and UpdateTable set it (decision 0267): the bounds of
provisioned capacity (``dynamodb_table_max_*_capacity`` a table or global index,
``dynamodb_account_max_*_capacity`` an account's tables together: ``LimitExceededException``
beyond, DescribeLimits answers them), ``OnDemandThroughput`` (``MaxReadRequestUnits`` /
``MaxWriteRequestUnits``, -1 for none, at most ``dynamodb_on_demand_max_*``) and AWS's rule
for decreases (``LastDecreaseDateTime``, ``NumberOfDecreasesToday``); what enforces them on
each call is ``dynamodb.throttling``."""

from __future__ import annotations

import time
from typing import Any, Final

from andromede.dynamodb.errors import ValidationError
from andromede.dynamodb.model import BillingMode, Table
from andromede.dynamodb.throttling import ThroughputLimits, decrease_refusal, decreases_today
from andromede.dynamodbapi.errors import DynamoWireError
from andromede.dynamodbapi.params import DynamoCall

__all__ = [
    "UNBOUNDED",
    "check_account",
    "check_capacity",
    "describe_limits",
    "on_demand",
    "provisioned",
    "throughput_changes",
    "with_decreases",
]

# The API model bounds the units only by the type; the limits are the settings' own check.
UNBOUNDED: Final = 2**63 - 1
_PAGE: Final = 1000


def limits(call: DynamoCall) -> ThroughputLimits:
    gate = call.dynamodb.throttle
    return ThroughputLimits() if gate is None else gate.limits


def check_capacity(call: DynamoCall, read: int, write: int) -> None:
    """A table's or global index's provisioned capacity within the per-table maximums."""
    bounds = limits(call)
    for units, maximum, kind in (
        (read, bounds.table_max_read, "read"),
        (write, bounds.table_max_write, "write"),
    ):
        if units > maximum:
            raise DynamoWireError(
                "LimitExceededException",
                "Subscriber limit exceeded: Provisioned throughput for a table or global "
                f"secondary index cannot exceed the table level {kind} throughput limit of "
                f"{maximum} capacity units",
            )


def provisioned(table: Table) -> tuple[int, int]:
    """A table's provisioned (read, write) capacity, its global indexes' with it."""
    if table.billing_mode is not BillingMode.PROVISIONED:
        return 0, 0
    indexes = [i for i in table.indexes if not i.local]
    return (
        table.read_capacity + sum(i.read_capacity for i in indexes),
        table.write_capacity + sum(i.write_capacity for i in indexes),
    )


async def check_account(call: DynamoCall, table_name: str, read: int, write: int) -> None:
    """The account's provisioned capacity, the table ``table_name`` with (``read``,
    ``write``) in all, within the account's maximums (read when a table's capacity grows)."""
    bounds = limits(call)
    if read <= 0 and write <= 0:
        return
    after: str | None = None
    while True:
        names = await call.dynamodb.table_names(call.tenant_id, after, _PAGE)
        for name in names:
            if name == table_name:
                continue
            other_read, other_write = provisioned(await call.dynamodb.table(call.tenant_id, name))
            read, write = read + other_read, write + other_write
        if len(names) < _PAGE:
            break
        after = names[-1]
    for units, maximum, kind in (
        (read, bounds.account_max_read, "read"),
        (write, bounds.account_max_write, "write"),
    ):
        if units > maximum:
            raise DynamoWireError(
                "LimitExceededException",
                "Subscriber limit exceeded: Provisioned throughput for the account cannot "
                f"exceed the account level {kind} throughput limit of {maximum} capacity units "
                f"(requested {units} in all)",
            )


def on_demand(
    call: DynamoCall,
    mode: BillingMode,
    held: tuple[int, int] = (-1, -1),
    source: dict[str, Any] | None = None,
) -> tuple[int, int]:
    """``OnDemandThroughput``'s (read, write) maximums, of the call or of ``source`` (an
    index's definition or update); -1: none; a field not given keeps ``held``'s."""
    given = call.mapping("OnDemandThroughput", source=source)
    if not given:
        return held
    if mode is not BillingMode.PAY_PER_REQUEST:
        raise ValidationError(
            "One or more parameter values were invalid: OnDemandThroughput can only be "
            "specified when BillingMode is PAY_PER_REQUEST"
        )
    bounds = limits(call)
    chosen = list(held)
    for position, (name, ceiling) in enumerate(
        (
            ("MaxReadRequestUnits", bounds.on_demand_max_read),
            ("MaxWriteRequestUnits", bounds.on_demand_max_write),
        )
    ):
        units = call.integer(name, minimum=-1, maximum=UNBOUNDED, source=given)
        if units is None:
            continue
        if units == 0 or units < -1:
            raise ValidationError(
                f"One or more parameter values were invalid: {name} must be -1 or greater than 0"
            )
        if units > ceiling:
            raise DynamoWireError(
                "LimitExceededException",
                f"Subscriber limit exceeded: {name} cannot exceed the table level limit of "
                f"{ceiling}",
            )
        chosen[position] = units
    return chosen[0], chosen[1]


def throughput_changes(table: Table, mode: BillingMode, read: int, write: int) -> dict[str, object]:
    """UpdateTable's changes for a new provisioned capacity: an increase is dated
    (``LastIncreaseDateTime``), a decrease too and counted, refused past AWS's limit."""
    if (read, write) == (table.read_capacity, table.write_capacity):
        return {}
    now = int(time.time() * 1000)
    changes: dict[str, object] = {"read_capacity": read, "write_capacity": write}
    if BillingMode.PAY_PER_REQUEST in (table.billing_mode, mode):  # a change of mode: neither
        return changes
    if read > table.read_capacity or write > table.write_capacity:
        changes["throughput_changed"] = now
    if read < table.read_capacity or write < table.write_capacity:
        refused = decrease_refusal(table, now)
        if refused is not None:
            raise DynamoWireError("LimitExceededException", refused)
        changes["decreases_today"] = decreases_today(table, now) + 1
        changes["last_decrease"] = now
    return changes


def with_decreases(table: Table, description: dict[str, Any]) -> dict[str, Any]:
    """DescribeTable's ``NumberOfDecreasesToday`` of the current UTC day."""
    throughput = description.get("ProvisionedThroughput")
    if isinstance(throughput, dict):
        throughput["NumberOfDecreasesToday"] = decreases_today(table, int(time.time() * 1000))
    return description


def describe_limits(call: DynamoCall) -> dict[str, Any]:
    bounds = limits(call)
    return {
        "AccountMaxReadCapacityUnits": bounds.account_max_read,
        "AccountMaxWriteCapacityUnits": bounds.account_max_write,
        "TableMaxReadCapacityUnits": bounds.table_max_read,
        "TableMaxWriteCapacityUnits": bounds.table_max_write,
    }
