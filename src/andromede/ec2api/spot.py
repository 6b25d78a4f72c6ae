"""EC2 Spot actions (decision 0202): RequestSpotInstances, DescribeSpotInstanceRequests
(ids, filters, pages), CancelSpotInstanceRequests and DescribeSpotPriceHistory (types, zones,
product descriptions, a time window, pages). RunInstances' ``InstanceMarketOptions`` is read
by :func:`andromede.ec2api.launch_parameters.market_options`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Final

from andromede.compute.model import SecurityGroup
from andromede.compute.spot import SpotInstanceRequest, SpotPrice
from andromede.ec2api.errors import Ec2Error
from andromede.ec2api.filters import Filters, matches
from andromede.ec2api.instances import launch_request_of
from andromede.ec2api.launch_parameters import RUN_HANDLED, RUN_HARMLESS, spot_options
from andromede.ec2api.protocol import (
    Action,
    Call,
    Params,
    iso8601,
    page_after,
    page_token,
    paged,
)
from andromede.ec2api.xml import write_tags

__all__ = ["SPOT_ACTIONS"]

# The only platform here: EC2's product description of Linux instances in a VPC.
PRODUCT: Final = "Linux/UNIX"
_PRODUCTS: Final = frozenset({"Linux/UNIX", "Linux/UNIX (Amazon VPC)"})
_MOST_REQUESTS: Final = 1000
_MOST_PRICES: Final = 1000
_MOST_INSTANCES: Final = 100  # InstanceCount: EC2 takes what the quota allows
_REQUEST_HANDLED: Final = frozenset(
    {
        "SpotPrice", "InstanceCount", "Type", "ValidFrom", "ValidUntil",
        "InstanceInterruptionBehavior",
        "ClientToken", "LaunchSpecification", "TagSpecification",
        # Every instance of a request in one zone: what this one-zone region does anyway.
        "AvailabilityZoneGroup",
    }
)  # fmt: skip
# A launch specification is RunInstances' parameters under another prefix, less these.
_SPEC_HANDLED: Final = RUN_HANDLED - {
    "MinCount", "MaxCount", "ClientToken", "LaunchTemplate", "TagSpecification",
    "InstanceMarketOptions", "DisableApiTermination", "DisableApiStop",
    "InstanceInitiatedShutdownBehavior", "MetadataOptions", "CreditSpecification",
    "AdditionalInfo",
}  # fmt: skip
_SPEC_HARMLESS: Final = {**RUN_HARMLESS, "AddressingType": frozenset({"public", ""})}


def _request_ids(call: Call) -> list[str]:
    return call.params.values("SpotInstanceRequestId")


def _request_arns(call: Call) -> list[str]:
    ids = _request_ids(call)
    return [call.arn("spot-instances-request", i) for i in ids] or [
        call.arn("spot-instances-request")
    ]


# -- serialisation ---------------------------------------------------------------------------


async def _write_requests(call: Call, requests: Sequence[SpotInstanceRequest]) -> None:
    xml = call.result
    groups = {
        g.group_id: g.name for g in await call.compute.store.list(SecurityGroup, call.tenant_id)
    }
    card: dict[str, Decimal] = {}
    xml.open("spotInstanceRequestSet")
    for request in requests:
        launch = request.launch
        price = request.options.max_price
        if price is None:
            if launch.instance_type not in card:
                card[launch.instance_type] = await call.compute.on_demand_price(
                    launch.instance_type
                )
            price = card[launch.instance_type]
        xml.open("item")
        xml.element("spotInstanceRequestId", request.spot_instance_request_id)
        xml.element("spotPrice", f"{price:.6f}")
        xml.element("type", request.options.request_type)
        xml.element("state", request.state.value)
        xml.open("status")
        xml.element("code", request.status_code)
        xml.element("updateTime", iso8601(request.status_updated_at))
        xml.element("message", request.message)
        xml.close("status")
        if request.options.valid_from is not None:
            xml.element("validFrom", iso8601(request.options.valid_from))
        if request.options.valid_until is not None:
            xml.element("validUntil", iso8601(request.options.valid_until))
        xml.open("launchSpecification")
        xml.element("imageId", launch.image_id)
        xml.element("keyName", launch.key_name)
        xml.open("groupSet")
        for group_id in launch.security_group_ids:
            xml.open("item")
            xml.element("groupId", group_id)
            xml.element("groupName", groups.get(group_id, ""))
            xml.close("item")
        xml.close("groupSet")
        xml.element("instanceType", launch.instance_type)
        xml.open("placement")
        xml.element(
            "availabilityZone", launch.availability_zone or call.compute.limits.availability_zone
        )
        xml.element("tenancy", "default")
        xml.close("placement")
        xml.element("subnetId", launch.subnet_id)
        if launch.iam_instance_profile is not None:
            xml.open("iamInstanceProfile")
            xml.element("arn", launch.iam_instance_profile.arn)
            xml.close("iamInstanceProfile")
        xml.open("monitoring")
        xml.element("enabled", launch.monitoring)
        xml.close("monitoring")
        xml.close("launchSpecification")
        xml.element("instanceId", request.instance_id)
        xml.element("createTime", iso8601(request.created_at))
        xml.element("productDescription", PRODUCT)
        write_tags(xml, request.tags)
        if request.instance_id is not None:
            xml.element("launchedAvailabilityZone", call.compute.limits.availability_zone)
        xml.element("instanceInterruptionBehavior", request.options.interruption_behavior)
        xml.close("item")
    xml.close("spotInstanceRequestSet")


# -- RequestSpotInstances ----------------------------------------------------------------------


async def request_spot_instances(call: Call) -> None:
    p = call.params
    if p.get("BlockDurationMinutes") is not None:
        raise Ec2Error("InvalidParameterValue", "BlockDurationMinutes is not a valid parameter.")
    p.refuse_unhandled("RequestSpotInstances", _REQUEST_HANDLED)
    spec = p.view("LaunchSpecification.")
    spec.refuse_unhandled("RequestSpotInstances LaunchSpecification", _SPEC_HANDLED, _SPEC_HARMLESS)
    run_params = {name: spec.get(name) or "" for name in spec.names() if name != "AddressingType"}
    launch, further = await launch_request_of(
        call, Params({**run_params, "MinCount": "1", "MaxCount": "1"})
    )
    if further:
        raise Ec2Error(
            "UnsupportedOperation",
            "RequestSpotInstances: further network interfaces (device index 1 or more) are not "
            "supported here yet; attach them once the instance runs",
        )
    options = spot_options(
        p,
        call.compute.clock(),
        run_instances=False,
        names=("SpotPrice", "Type", "InstanceInterruptionBehavior", "ValidUntil"),
    )
    count = p.integer("InstanceCount", default=1, minimum=1, maximum=_MOST_INSTANCES) or 1
    for kind in {s.required("ResourceType") for s in p.structs("TagSpecification")}:
        if kind != "spot-instances-request":
            raise Ec2Error(
                "InvalidParameterValue",
                f"'{kind[:64]}' is not a valid taggable resource type for this operation.",
            )
    requests = await call.compute.request_spot_instances(
        call.tenant_id,
        launch,
        options,
        count,
        tags=p.tag_specifications("spot-instances-request"),
        client_token=p.get("ClientToken"),
    )
    call.context["resources"] = [
        call.arn("spot-instances-request", r.spot_instance_request_id) for r in requests
    ]
    await _write_requests(call, requests)


# -- DescribeSpotInstanceRequests ------------------------------------------------------------


def _request_filter(name: str) -> Callable[[SpotInstanceRequest], list[str]] | None:
    simple: dict[str, Callable[[SpotInstanceRequest], list[str]]] = {
        "spot-instance-request-id": lambda r: [r.spot_instance_request_id],
        "state": lambda r: [r.state.value],
        "status-code": lambda r: [r.status_code],
        "status-message": lambda r: [r.message],
        "type": lambda r: [r.options.request_type],
        "instance-id": lambda r: [r.instance_id] if r.instance_id else [],
        "spot-price": lambda r: [f"{r.options.max_price:.6f}"] if r.options.max_price else [],
        "launch.image-id": lambda r: [r.launch.image_id],
        "launch.instance-type": lambda r: [r.launch.instance_type],
        "launch.key-name": lambda r: [r.launch.key_name] if r.launch.key_name else [],
        "launch.group-id": lambda r: list(r.launch.security_group_ids),
        "product-description": lambda r: [PRODUCT],
        "create-time": lambda r: [iso8601(r.created_at)],
        "tag-key": lambda r: [k for k, _ in r.tags],
        "tag-value": lambda r: [v for _, v in r.tags],
    }
    if name.startswith("tag:"):
        key = name[4:]
        return lambda r: [v for k, v in r.tags if k == key]
    return simple.get(name)


async def describe_spot_instance_requests(call: Call) -> None:
    p = call.params
    filters = Filters(p.filters(), _request_filter)
    requests = await call.compute.describe_spot_instance_requests(
        call.tenant_id, _request_ids(call)
    )
    chosen = [r for r in requests if matches(filters, r)]
    page, next_token = paged(
        p,
        chosen,
        lambda r: r.spot_instance_request_id,
        most=_MOST_REQUESTS,
        ids="SpotInstanceRequestId",
    )
    await _write_requests(call, page)
    call.result.element("nextToken", next_token)


# -- CancelSpotInstanceRequests ------------------------------------------------------------------


async def cancel_spot_instance_requests(call: Call) -> None:
    ids = _request_ids(call)
    if not ids:
        raise Ec2Error(
            "MissingParameter", "The request must contain the parameter SpotInstanceRequestId"
        )
    cancelled = await call.compute.cancel_spot_instance_requests(call.tenant_id, ids)
    xml = call.result
    xml.open("spotInstanceRequestSet")
    for request in cancelled:
        xml.open("item")
        xml.element("spotInstanceRequestId", request.spot_instance_request_id)
        xml.element("state", request.state.value)
        xml.close("item")
    xml.close("spotInstanceRequestSet")


# -- DescribeSpotPriceHistory ------------------------------------------------------------------


def _moment(p: Params, name: str) -> datetime | None:
    raw = p.get(name)
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise Ec2Error("InvalidParameterValue", f"Invalid value '{raw[:40]}' for {name}") from None
    if moment.tzinfo is None:
        raise Ec2Error("InvalidParameterValue", f"{name} must be a UTC timestamp")
    return moment


def _price_filter(name: str) -> Callable[[SpotPrice], list[str]] | None:
    return {
        "availability-zone": lambda s: [s.availability_zone],
        "instance-type": lambda s: [s.instance_type],
        "product-description": lambda s: list(_PRODUCTS),
        "spot-price": lambda s: [f"{s.price:.6f}"],
        "timestamp": lambda s: [iso8601(s.at)],
    }.get(name)


async def describe_spot_price_history(call: Call) -> None:
    """The recorded prices, newest first as EC2 lists them. With a window (StartTime,
    EndTime), each type's price in force at its start is included (EC2 shows the price that
    held then, whenever it was set)."""
    p = call.params
    filters = Filters(p.filters(), _price_filter)
    types = set(p.values("InstanceType"))
    for name in types:
        call.compute.instance_type(name)
    products = set(p.values("ProductDescription"))
    zone = p.get("AvailabilityZone")
    start, end = _moment(p, "StartTime"), _moment(p, "EndTime")
    if start is not None and end is not None and end < start:
        raise Ec2Error("InvalidParameterValue", "EndTime must not be before StartTime")
    history = await call.compute.spot_price_history()
    if products and not products & _PRODUCTS:
        history = []
    chosen: list[SpotPrice] = []
    held_at_start: dict[tuple[str, str], SpotPrice] = {}
    for point in history:
        if types and point.instance_type not in types:
            continue
        if zone and point.availability_zone != zone:
            continue
        if not matches(filters, point):
            continue
        if end is not None and point.at > end:
            continue
        if start is not None and point.at < start:
            held_at_start[(point.availability_zone, point.instance_type)] = point
            continue
        chosen.append(point)
    chosen.extend(held_at_start.values())
    # Newest first: the key sorts by the time's complement, then zone and type.
    epoch = datetime.fromisoformat("2000-01-01T00:00:00+00:00")

    def newest_first(point: SpotPrice) -> str:
        age = (timedelta(days=100_000) - (point.at - epoch)).total_seconds()
        return f"{age:020.6f}|{point.availability_zone}|{point.instance_type}"

    # Pages as EC2's: MaxResults 1 to 1000 with InstanceType given or not.
    most = p.integer("MaxResults", minimum=1, maximum=_MOST_PRICES)
    chosen.sort(key=newest_first)
    after = page_after(p.get("NextToken"))
    if after is not None:
        chosen = [point for point in chosen if newest_first(point) > after]
    page, next_token = chosen, None
    if most is not None and len(chosen) > most:
        page = chosen[:most]
        next_token = page_token(newest_first(page[-1]))
    xml = call.result
    xml.open("spotPriceHistorySet")
    for point in page:
        xml.open("item")
        xml.element("instanceType", point.instance_type)
        xml.element("productDescription", PRODUCT)
        xml.element("spotPrice", f"{point.price:.6f}")
        xml.element("timestamp", iso8601(point.at))
        xml.element("availabilityZone", point.availability_zone)
        xml.close("item")
    xml.close("spotPriceHistorySet")
    xml.element("nextToken", next_token or "")


SPOT_ACTIONS: Final = {
    "RequestSpotInstances": Action(request_spot_instances, mutating=True, resources=_request_arns),
    "DescribeSpotInstanceRequests": Action(describe_spot_instance_requests, mutating=False),
    "CancelSpotInstanceRequests": Action(
        cancel_spot_instance_requests, mutating=True, resources=_request_arns
    ),
    "DescribeSpotPriceHistory": Action(describe_spot_price_history, mutating=False),
}
