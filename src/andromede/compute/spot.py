"""Spot Instances, pure (decision 0202): a request's options and EC2's rules on them, the
Spot Instance request record with its states and status codes (an explicit table), the
interruption an instance carries during its notice, and the Spot price model.

The price model: a Spot price is the on-demand price of its type (the operator's price card)
times a ratio that rises with how full the zone's hosts are::

    ratio = floor + (1 - floor) * used ** 2        (used: the larger of the vCPU and memory
                                                    fractions the hosts' instances hold)

and 1 (the on-demand price) when no host has room for one more instance of the type. It is
rounded to six decimals, as EC2 shows its prices, and recorded at most every
``spot_price_interval`` (by the service, which keeps the history).
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Final

from andromede.compute.driver import HostCapacity
from andromede.compute.errors import InvalidParameterValue, Unsupported
from andromede.compute.launch_request import RunRequest
from andromede.compute.model import ON_HOST, Instance, SpotOptions
from andromede.compute.resource_ids import FORMAT_VERSION, Tags, token_id

__all__ = [
    "BEHAVIORS",
    "LIVE_STATES",
    "PRICE_QUANTUM",
    "REQUEST_TYPES",
    "SpotInstanceRequest",
    "SpotOptions",
    "SpotPrice",
    "SpotRequestState",
    "check_spot_options",
    "new_spot_request_id",
    "parse_max_price",
    "spot_launched",
    "spot_price",
    "spot_ratio",
    "status_message",
    "used_fraction",
    "with_status",
]

REQUEST_TYPES: Final = ("one-time", "persistent")
BEHAVIORS: Final = ("terminate", "stop")
PRICE_QUANTUM: Final = Decimal("0.000001")
# EC2's least maximum price (USD 0.001); below it InvalidParameterValue.
_MIN_MAX_PRICE: Final = Decimal("0.001")
_MAX_MAX_PRICE: Final = Decimal(10) ** 6


class SpotRequestState(enum.StrEnum):
    """EC2's Spot Instance request states."""

    OPEN = "open"
    ACTIVE = "active"
    DISABLED = "disabled"  # a persistent request whose instance was stopped
    CLOSED = "closed"
    CANCELLED = "cancelled"
    FAILED = "failed"


_R = SpotRequestState
# Status code → the state it puts a request in, EC2's table; the codes whose state depends on
# the request's type (an instance gone) are resolved by :func:`with_status`.
_STATUS_STATE: Final[dict[str, SpotRequestState | None]] = {
    "pending-evaluation": _R.OPEN,
    "not-scheduled-yet": _R.OPEN,
    "pending-fulfillment": _R.OPEN,
    "price-too-low": _R.OPEN,
    "capacity-not-available": _R.OPEN,
    "fulfilled": _R.ACTIVE,
    "marked-for-termination": _R.ACTIVE,
    "marked-for-stop": _R.ACTIVE,
    "instance-terminated-by-price": None,
    "instance-terminated-no-capacity": None,
    "instance-terminated-by-user": None,
    "instance-stopped-by-price": _R.DISABLED,
    "instance-stopped-no-capacity": _R.DISABLED,
    "instance-stopped-by-user": _R.DISABLED,
    "request-canceled-and-instance-running": _R.CANCELLED,
    "canceled-before-fulfillment": _R.CANCELLED,
    "instance-terminated-by-schedule": _R.CLOSED,
    "schedule-expired": _R.CLOSED,
    "bad-parameters": _R.FAILED,
}
_MESSAGES: Final = {
    "pending-evaluation": "Your Spot request has been submitted for review, and is pending "
    "evaluation.",
    "pending-fulfillment": "Your Spot request is pending fulfillment.",
    "not-scheduled-yet": "Your Spot request will not be evaluated until the scheduled date.",
    "price-too-low": "Your Spot request price is lower than the minimum required Spot request "
    "fulfillment price.",
    "capacity-not-available": "There is no capacity available that matches your request.",
    "fulfilled": "Your spot request is fulfilled.",
    "marked-for-termination": "Your Spot Instance is marked for termination.",
    "marked-for-stop": "Your Spot Instance is marked to be stopped.",
    "instance-terminated-by-price": "Spot Instance terminated due to price.",
    "instance-terminated-no-capacity": "Spot Instance terminated due to no available capacity.",
    "instance-terminated-by-user": "Spot Instance terminated due to user-initiated termination.",
    "instance-stopped-by-price": "Spot Instance stopped due to price.",
    "instance-stopped-no-capacity": "Spot Instance stopped due to no available capacity.",
    "instance-stopped-by-user": "Spot Instance stopped due to user-initiated stop.",
    "request-canceled-and-instance-running": "Spot Instance request has been canceled but the "
    "Spot Instance is still running.",
    "canceled-before-fulfillment": "Your Spot request was canceled before it was fulfilled.",
    "instance-terminated-by-schedule": "Spot Instance terminated because the request expired.",
    "schedule-expired": "Your Spot request has expired.",
    "bad-parameters": "Your Spot request could not be fulfilled: its launch was refused.",
}
# The states a request holds capacity or waits for it in: counted in the tenant's quota.
LIVE_STATES: Final = frozenset({_R.OPEN, _R.ACTIVE, _R.DISABLED})


def status_message(code: str) -> str:
    return _MESSAGES[code]


def parse_max_price(value: str) -> Decimal:
    """A Spot maximum price as EC2 takes it: a decimal above USD 0.001."""
    try:
        price = Decimal(value.strip())
    except InvalidOperation:
        raise InvalidParameterValue(
            f"Invalid value '{value[:32]}' for the maximum Spot price"
        ) from None
    if not price.is_finite() or price < _MIN_MAX_PRICE or price >= _MAX_MAX_PRICE:
        raise InvalidParameterValue(
            f"The maximum Spot price {value[:32]} must be more than {_MIN_MAX_PRICE}"
        )
    return price.quantize(PRICE_QUANTUM, rounding=ROUND_HALF_UP)


def check_spot_options(options: SpotOptions, *, run_instances: bool, now: datetime) -> SpotOptions:
    """EC2's rules on Spot options: ``stop`` only for a persistent request; RunInstances'
    persistent requests only with ``stop`` (hibernate is not offered here); ``ValidUntil``
    only for a persistent request, and in the future."""
    if options.request_type not in REQUEST_TYPES:
        raise InvalidParameterValue(
            f"Invalid value '{options.request_type[:32]}' for SpotInstanceType; valid values "
            "are one-time and persistent"
        )
    if options.interruption_behavior == "hibernate":
        raise Unsupported("Hibernation is not supported for Spot Instances on this platform")
    if options.interruption_behavior not in BEHAVIORS:
        raise InvalidParameterValue(
            f"Invalid value '{options.interruption_behavior[:32]}' for "
            "InstanceInterruptionBehavior; valid values are terminate, stop and hibernate"
        )
    persistent = options.request_type == "persistent"
    if options.interruption_behavior == "stop" and not persistent:
        raise InvalidParameterValue(
            "The instance interruption behavior 'stop' is supported only for persistent Spot "
            "Instance requests"
        )
    if run_instances and persistent and options.interruption_behavior == "terminate":
        raise InvalidParameterValue(
            "For RunInstances, persistent Spot Instance requests are only supported when the "
            "instance interruption behavior is either hibernate or stop"
        )
    if options.valid_from is not None and run_instances:
        raise InvalidParameterValue("ValidFrom is not supported by RunInstances")
    if (
        options.valid_from is not None
        and options.valid_until is not None
        and options.valid_until <= options.valid_from
    ):
        raise InvalidParameterValue("ValidUntil must be after ValidFrom")
    if options.valid_until is not None:
        if not persistent:
            raise InvalidParameterValue(
                "ValidUntil is supported only for persistent Spot Instance requests"
            )
        if options.valid_until <= now:
            raise InvalidParameterValue("ValidUntil must be in the future")
    return options


@dataclass(frozen=True, slots=True)
class SpotInstanceRequest:
    """A Spot Instance request, one instance each (EC2's ``sir-…``). ``launch``: what each
    fulfilment launches, a RunInstances request for one instance without its caller (a
    persistent request launches it again after an interruption)."""

    spot_instance_request_id: str
    tenant_id: str
    options: SpotOptions
    launch: RunRequest
    state: SpotRequestState
    status_code: str
    status_updated_at: datetime
    created_at: datetime
    instance_id: str | None = None
    tags: Tags = ()
    # Made by RunInstances' InstanceMarketOptions (EC2 says so in its launch group: none),
    # or by RequestSpotInstances.
    by_run_instances: bool = False
    # The maximum price the request was refused at last (price-too-low's message).
    fault_message: str = ""
    # RequestSpotInstances' ClientToken: a digest of what it asked (the same token with
    # other parameters is IdempotentParameterMismatch).
    request_digest: str = ""
    format_version: int = FORMAT_VERSION
    revision: int = 0

    @property
    def resource_id(self) -> str:
        return self.spot_instance_request_id

    @property
    def persistent(self) -> bool:
        return self.options.request_type == "persistent"

    @property
    def message(self) -> str:
        return self.fault_message or status_message(self.status_code)


def with_status(
    request: SpotInstanceRequest, code: str, now: datetime, *, message: str = ""
) -> SpotInstanceRequest:
    """The request in status ``code`` and the state EC2's table gives it: an instance
    terminated closes a one-time request and re-opens a persistent one."""
    state = _STATUS_STATE[code]
    if state is None:
        state = _R.OPEN if request.persistent else _R.CLOSED
    return replace(
        request, state=state, status_code=code, status_updated_at=now, fault_message=message
    )


@dataclass(frozen=True, slots=True)
class SpotPrice:
    """One point of the Spot price history: the price of a type in a zone from ``at``."""

    availability_zone: str
    instance_type: str
    price: Decimal
    at: datetime
    tenant_id: str | None = None  # the platform's: no tenant owns a price
    format_version: int = FORMAT_VERSION
    revision: int = 0

    @property
    def resource_id(self) -> str:
        # Ordered by zone, type, then time (ISO 8601 in UTC sorts chronologically).
        return f"{self.availability_zone}|{self.instance_type}|{self.at.isoformat()}"


def used_fraction(capacities: Iterable[HostCapacity], instances: Iterable[Instance]) -> float:
    """How full the hosts are: the larger of the vCPU and memory fractions the instances on
    them hold (0 with no host)."""
    hosts = {c.host: c for c in capacities}
    total_vcpus = sum(c.vcpus for c in hosts.values())
    total_memory = sum(c.memory_mib for c in hosts.values())
    if not total_vcpus or not total_memory:
        return 0.0
    vcpus = memory = 0
    for instance in instances:
        if instance.host in hosts and instance.state in ON_HOST:
            vcpus += instance.vcpus
            memory += instance.memory_mib
    return min(1.0, max(vcpus / total_vcpus, memory / total_memory))


def spot_ratio(used: float, floor: float, *, fits: bool = True) -> Decimal:
    """The Spot price's share of the on-demand price (see the module's docstring)."""
    if not fits:
        return Decimal(1)
    used = min(max(used, 0.0), 1.0)
    ratio = Decimal(str(floor)) + (1 - Decimal(str(floor))) * Decimal(str(used)) ** 2
    return min(Decimal(1), max(Decimal(str(floor)), ratio))


def spot_price(on_demand: Decimal, ratio: Decimal) -> Decimal:
    return (on_demand * ratio).quantize(PRICE_QUANTUM, rounding=ROUND_HALF_UP)


def new_spot_request_id(tenant_id: str, token: str | None, index: int) -> str:
    """EC2's short form ``sir-`` and 8 hex digits; derived from the account and client token
    when there is one (a retry writes the same row)."""
    if token is not None:
        return token_id("sir", tenant_id, token, str(index))[:12]
    return f"sir-{secrets.token_hex(4)}"


def spot_launched(
    tenant_id: str, request: RunRequest, instances: Sequence[Instance], now: datetime
) -> tuple[list[Instance], list[SpotInstanceRequest]]:
    """A launch's instances marked as Spot Instances, and the requests RunInstances makes
    with them (one each, fulfilled), when it is a Spot launch: none when it fulfils a request
    made before (RequestSpotInstances, a persistent request fulfilled again)."""
    if request.spot is None:
        return list(instances), []
    if request.spot_request_id is not None:
        marked = [
            replace(i, lifecycle="spot", spot_request_id=request.spot_request_id) for i in instances
        ]
        return marked, []
    launch = replace(request, caller=None, min_count=1, max_count=1, client_token=None, spot=None)
    made: list[SpotInstanceRequest] = []
    marked = []
    for instance in instances:
        request_id = new_spot_request_id(tenant_id, request.client_token, instance.launch_index)
        made.append(
            SpotInstanceRequest(
                spot_instance_request_id=request_id,
                tenant_id=tenant_id,
                options=request.spot,
                launch=launch,
                state=_R.ACTIVE,
                status_code="fulfilled",
                status_updated_at=now,
                created_at=now,
                instance_id=instance.instance_id,
                by_run_instances=True,
            )
        )
        marked.append(replace(instance, lifecycle="spot", spot_request_id=request_id))
    return marked, made
