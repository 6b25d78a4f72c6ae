"""Spot Instances through the EC2 API in process (decision 0202), botocore's serialisation
and parsing: RunInstances' InstanceMarketOptions and EC2's refusals word for word,
DescribeInstances' lifecycle, RequestSpotInstances, DescribeSpotInstanceRequests (filters,
pages), CancelSpotInstanceRequests and DescribeSpotPriceHistory."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from botocore.credentials import Credentials

from support.ec2app import ApiError, Client, World

ON_DEMAND = {"t3.nano": Decimal("0.0052"), "t3.micro": Decimal("0.0104")}


@pytest.fixture(autouse=True)
def price_card(world: World) -> None:
    async def card() -> Mapping[str, Decimal]:
        return ON_DEMAND

    world.compute.on_demand_prices = card


async def _refused(world: World, operation: str, **params: Any) -> tuple[str, str]:
    status, parsed = await world.root.raw(operation, **params)
    assert status == 400, parsed
    return str(parsed["Error"]["Code"]), str(parsed["Error"]["Message"])


def _run(world: World, **extra: Any) -> dict[str, Any]:
    return {
        "ImageId": world.image.image_id,
        "InstanceType": "t3.nano",
        "MinCount": 1,
        "MaxCount": 1,
        **extra,
    }


async def test_run_instances_spot_market_and_describe_lifecycle(world: World) -> None:
    run = await world.root.call(
        "RunInstances",
        **_run(
            world,
            InstanceMarketOptions={"MarketType": "spot", "SpotOptions": {"MaxPrice": "0.005"}},
        ),
    )
    [spot] = run["Instances"]
    assert spot["InstanceLifecycle"] == "spot"
    request_id = spot["SpotInstanceRequestId"]
    assert request_id.startswith("sir-") and len(request_id) == 12
    on_demand = (await world.root.call("RunInstances", **_run(world)))["Instances"][0]
    assert "InstanceLifecycle" not in on_demand
    await world.compute.settle()
    described = await world.root.call(
        "DescribeInstances", Filters=[{"Name": "instance-lifecycle", "Values": ["spot"]}]
    )
    found = [i for r in described["Reservations"] for i in r["Instances"]]
    assert [i["InstanceId"] for i in found] == [spot["InstanceId"]]
    [request] = (
        await world.root.call("DescribeSpotInstanceRequests", SpotInstanceRequestIds=[request_id])
    )["SpotInstanceRequests"]
    assert request["State"] == "active"
    assert request["Status"]["Code"] == "fulfilled"
    assert request["SpotPrice"] == "0.005000"
    assert request["Type"] == "one-time"
    assert request["InstanceId"] == spot["InstanceId"]
    assert request["InstanceInterruptionBehavior"] == "terminate"
    assert request["ProductDescription"] == "Linux/UNIX"
    assert request["LaunchSpecification"]["ImageId"] == world.image.image_id
    # A one-time request's instance cannot be stopped.
    code, message = await _refused(world, "StopInstances", InstanceIds=[spot["InstanceId"]])
    assert code == "UnsupportedOperation"
    assert "one-time Spot Instance request" in message


@pytest.mark.parametrize(
    ("options", "code", "message"),
    [
        (
            {
                "SpotOptions": {
                    "SpotInstanceType": "one-time",
                    "InstanceInterruptionBehavior": "stop",
                }
            },
            "InvalidParameterValue",
            "The instance interruption behavior 'stop' is supported only for persistent Spot "
            "Instance requests",
        ),
        (
            {"SpotOptions": {"SpotInstanceType": "persistent"}},
            "InvalidParameterValue",
            "For RunInstances, persistent Spot Instance requests are only supported when the "
            "instance interruption behavior is either hibernate or stop",
        ),
        (
            {
                "SpotOptions": {
                    "SpotInstanceType": "persistent",
                    "InstanceInterruptionBehavior": "hibernate",
                }
            },
            "UnsupportedOperation",
            "Hibernation is not supported for Spot Instances on this platform",
        ),
        (
            {"SpotOptions": {"BlockDurationMinutes": 60}},
            "InvalidParameterValue",
            "BlockDurationMinutes is not a valid parameter.",
        ),
        (
            {"SpotOptions": {"MaxPrice": "0.0001"}},
            "InvalidParameterValue",
            "The maximum Spot price 0.0001 must be more than 0.001",
        ),
        (
            {"MarketType": "capacity-block"},
            "InvalidParameterValue",
            "Invalid value 'capacity-block' for MarketType; the valid value is spot",
        ),
    ],
)
async def test_market_options_refused_as_ec2(
    world: World, options: dict[str, Any], code: str, message: str
) -> None:
    market = {"MarketType": "spot", **options}
    refused = await _refused(world, "RunInstances", **_run(world, InstanceMarketOptions=market))
    assert refused == (code, message)
    assert (await world.root.call("DescribeInstances"))["Reservations"] == []


async def test_max_price_below_the_spot_price(world: World) -> None:
    # Empty hosts: the floor (0.3) of the on-demand 0.0052.
    market = {"MarketType": "spot", "SpotOptions": {"MaxPrice": "0.0011"}}
    assert await _refused(world, "RunInstances", **_run(world, InstanceMarketOptions=market)) == (
        "SpotMaxPriceTooLow",
        "Your Spot request price of 0.001100 is lower than the minimum required Spot request "
        "fulfillment price of 0.001560.",
    )


async def test_request_describe_cancel_spot_instance_requests(world: World) -> None:
    made = await world.root.call(
        "RequestSpotInstances",
        InstanceCount=6,
        Type="persistent",
        InstanceInterruptionBehavior="stop",
        ValidFrom=datetime(2020, 1, 1, tzinfo=UTC),
        ValidUntil=datetime.now(UTC) + timedelta(days=1),
        LaunchSpecification={"ImageId": world.image.image_id, "InstanceType": "t3.nano"},
        TagSpecifications=[
            {"ResourceType": "spot-instances-request", "Tags": [{"Key": "team", "Value": "ml"}]}
        ],
    )
    requests = made["SpotInstanceRequests"]
    assert len(requests) == 6
    # 8 vCPUs: four t3.nano fit; the others wait for capacity.
    states = sorted((r["State"], r["Status"]["Code"]) for r in requests)
    assert states == [("active", "fulfilled")] * 4 + [("open", "capacity-not-available")] * 2
    assert all(r["Tags"] == [{"Key": "team", "Value": "ml"}] for r in requests)
    assert requests[0]["SpotPrice"] == "0.005200"  # no MaxPrice: the on-demand price
    assert requests[0]["ValidFrom"] == datetime(2020, 1, 1, tzinfo=UTC)
    first = await world.root.call("DescribeSpotInstanceRequests", MaxResults=5)
    assert len(first["SpotInstanceRequests"]) == 5
    rest = await world.root.call(
        "DescribeSpotInstanceRequests", MaxResults=5, NextToken=first["NextToken"]
    )
    assert len(rest["SpotInstanceRequests"]) == 1 and not rest.get("NextToken")
    waiting = await world.root.call(
        "DescribeSpotInstanceRequests",
        Filters=[
            {"Name": "state", "Values": ["open"]},
            {"Name": "tag:team", "Values": ["ml"]},
        ],
    )
    open_ids = [r["SpotInstanceRequestId"] for r in waiting["SpotInstanceRequests"]]
    assert len(open_ids) == 2
    active = next(r for r in requests if r["State"] == "active")
    cancelled = await world.root.call(
        "CancelSpotInstanceRequests",
        SpotInstanceRequestIds=[open_ids[0], active["SpotInstanceRequestId"]],
    )
    assert [r["State"] for r in cancelled["CancelledSpotInstanceRequests"]] == [
        "cancelled",
        "cancelled",
    ]
    [after] = (
        await world.root.call(
            "DescribeSpotInstanceRequests",
            SpotInstanceRequestIds=[active["SpotInstanceRequestId"]],
        )
    )["SpotInstanceRequests"]
    assert after["Status"]["Code"] == "request-canceled-and-instance-running"
    await world.compute.settle()
    described = await world.root.call("DescribeInstances", InstanceIds=[active["InstanceId"]])
    assert described["Reservations"][0]["Instances"][0]["State"]["Name"] == "running"
    assert await _refused(
        world, "DescribeSpotInstanceRequests", SpotInstanceRequestIds=["sir-00000000"]
    ) == (
        "InvalidSpotInstanceRequestID.NotFound",
        "The Spot Instance request ID 'sir-00000000' does not exist",
    )
    assert (await _refused(world, "CancelSpotInstanceRequests", SpotInstanceRequestIds=["nope"]))[
        0
    ] == "InvalidSpotInstanceRequestID.Malformed"
    # Another account sees none of them.
    _, other = await world.tenant("other")
    assert (await other.call("DescribeSpotInstanceRequests"))["SpotInstanceRequests"] == []


async def test_request_spot_instances_refusals(world: World) -> None:
    spec = {"ImageId": world.image.image_id, "InstanceType": "t3.nano"}
    assert await _refused(
        world, "RequestSpotInstances", LaunchSpecification=spec, BlockDurationMinutes=60
    ) == ("InvalidParameterValue", "BlockDurationMinutes is not a valid parameter.")
    assert (
        await _refused(
            world, "RequestSpotInstances", LaunchSpecification=spec, ValidUntil=datetime.now(UTC)
        )
    )[1] == "ValidUntil is supported only for persistent Spot Instance requests"
    assert (
        await _refused(
            world,
            "RequestSpotInstances",
            LaunchSpecification={**spec, "KeyName": "absent"},
            InstanceCount=2,
        )
    )[0] == "InvalidKeyPair.NotFound"
    assert (await world.root.call("DescribeSpotInstanceRequests"))["SpotInstanceRequests"] == []
    assert (
        await _refused(world, "RequestSpotInstances", LaunchSpecification=spec, LaunchGroup="g")
    )[0] == "UnsupportedOperation"


async def test_describe_spot_price_history(world: World) -> None:
    history = await world.root.call(
        "DescribeSpotPriceHistory", InstanceTypes=["t3.nano", "t3.micro"]
    )
    prices = {p["InstanceType"]: p for p in history["SpotPriceHistory"]}
    assert set(prices) == {"t3.nano", "t3.micro"}
    nano = prices["t3.nano"]
    assert nano["SpotPrice"] == "0.001560"  # 0.3 of 0.0052 on empty hosts
    assert nano["ProductDescription"] == "Linux/UNIX"
    assert nano["AvailabilityZone"] == world.compute.limits.availability_zone
    every = await world.root.call("DescribeSpotPriceHistory", MaxResults=1)
    assert len(every["SpotPriceHistory"]) == 1 and every["NextToken"]
    later = await world.root.call(
        "DescribeSpotPriceHistory", MaxResults=1, NextToken=every["NextToken"]
    )
    assert later["SpotPriceHistory"][0] != every["SpotPriceHistory"][0]
    windows = await world.root.call(
        "DescribeSpotPriceHistory",
        InstanceTypes=["t3.nano"],
        StartTime=datetime.now(UTC) + timedelta(hours=1),
        EndTime=datetime.now(UTC) + timedelta(hours=2),
    )
    # The price in force at the window's start is shown, as EC2 does.
    assert [p["SpotPrice"] for p in windows["SpotPriceHistory"]] == ["0.001560"]
    none = await world.root.call(
        "DescribeSpotPriceHistory", ProductDescriptions=["Windows"], InstanceTypes=["t3.nano"]
    )
    assert none["SpotPriceHistory"] == []
    assert (await _refused(world, "DescribeSpotPriceHistory", InstanceTypes=["z9.huge"]))[
        0
    ] == "InvalidParameterValue"


async def test_spot_actions_authorised_by_iam(world: World) -> None:
    """``ec2:RequestSpotInstances`` and its neighbours are actions of the IAM engine: a user
    allowed to describe only is refused the request and the cancellation, on the request's
    ARN (``spot-instances-request/…``)."""
    await world.identity.create_user(world.tenant_id, "bob")
    created = await world.identity.create_access_key(world.tenant_id, "bob")
    bob = Client(world.app, Credentials(created.key.access_key_id, created.secret_access_key))
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "ec2:DescribeSpot*", "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": "ec2:CancelSpotInstanceRequests",
                "Resource": "arn:aws:ec2:*:*:spot-instances-request/sir-0000000a",
            },
        ],
    }
    await world.identity.put_user_policy(world.tenant_id, "bob", "spot", json.dumps(policy))
    assert (await bob.call("DescribeSpotInstanceRequests"))["SpotInstanceRequests"] == []
    assert (await bob.call("DescribeSpotPriceHistory"))["SpotPriceHistory"]
    spec = {"ImageId": world.image.image_id, "InstanceType": "t3.nano"}
    with pytest.raises(ApiError) as raised:
        await bob.call("RequestSpotInstances", LaunchSpecification=spec)
    assert raised.value.code == "UnauthorizedOperation"
    with pytest.raises(ApiError) as raised:
        await bob.call("CancelSpotInstanceRequests", SpotInstanceRequestIds=["sir-0000000b"])
    assert raised.value.code == "UnauthorizedOperation"
    with pytest.raises(ApiError) as raised:  # allowed, and then not found
        await bob.call("CancelSpotInstanceRequests", SpotInstanceRequestIds=["sir-0000000a"])
    assert raised.value.code == "InvalidSpotInstanceRequestID.NotFound"


async def test_launch_template_keeps_market_options(world: World) -> None:
    market = {
        "MarketType": "spot",
        "SpotOptions": {
            "MaxPrice": "0.005",
            "SpotInstanceType": "persistent",
            "InstanceInterruptionBehavior": "stop",
        },
    }
    created = await world.root.call(
        "CreateLaunchTemplate",
        LaunchTemplateName="batch",
        LaunchTemplateData={
            "ImageId": world.image.image_id,
            "InstanceType": "t3.nano",
            "InstanceMarketOptions": market,
        },
    )
    template_id = created["LaunchTemplate"]["LaunchTemplateId"]
    [version] = (
        await world.root.call("DescribeLaunchTemplateVersions", LaunchTemplateId=template_id)
    )["LaunchTemplateVersions"]
    assert version["LaunchTemplateData"]["InstanceMarketOptions"] == market
    run = await world.root.call(
        "RunInstances",
        LaunchTemplate={"LaunchTemplateId": template_id},
        MinCount=1,
        MaxCount=1,
    )
    [instance] = run["Instances"]
    assert instance["InstanceLifecycle"] == "spot"
    [request] = (
        await world.root.call(
            "DescribeSpotInstanceRequests",
            SpotInstanceRequestIds=[instance["SpotInstanceRequestId"]],
        )
    )["SpotInstanceRequests"]
    assert (request["Type"], request["InstanceInterruptionBehavior"]) == ("persistent", "stop")
    await world.compute.settle()
    data = await world.root.call("GetLaunchTemplateData", InstanceId=instance["InstanceId"])
    assert data["LaunchTemplateData"]["InstanceMarketOptions"] == {
        **market,
        "SpotOptions": {**market["SpotOptions"], "MaxPrice": "0.005000"},
    }
    refused = await _refused(
        world,
        "CreateLaunchTemplate",
        LaunchTemplateName="bad",
        LaunchTemplateData={
            "ImageId": world.image.image_id,
            "InstanceMarketOptions": {"SpotOptions": {"InstanceInterruptionBehavior": "stop"}},
        },
    )
    assert refused[0] == "InvalidParameterValue"


async def test_the_spot_request_quota_is_the_setting(tmp_path: Path) -> None:
    from support.ec2app import ec2_world

    async with ec2_world(tmp_path, max_spot_requests_per_tenant=2) as small:
        spec = {"ImageId": small.image.image_id, "InstanceType": "t3.nano"}
        await small.root.call("RequestSpotInstances", LaunchSpecification=spec, InstanceCount=2)
        status, parsed = await small.root.raw(
            "RequestSpotInstances", LaunchSpecification=spec, InstanceCount=1
        )
        assert (status, parsed["Error"]["Code"]) == (400, "MaxSpotInstanceCountExceeded")
        assert "allows 2" in parsed["Error"]["Message"]
