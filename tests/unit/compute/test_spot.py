"""Spot Instances (decision 0202): the price model, the options' rules, the request's status
table, and the service's requests, interruptions and capacity taken back over the in-memory
store and driver, on a clock the tests move."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from andromede.compute.driver import Accelerator, HostCapacity
from andromede.compute.driver_memory import MemoryDriver
from andromede.compute.errors import (
    IdempotentParameterMismatch,
    InvalidParameterValue,
    MaxSpotInstanceCountExceeded,
    NotFound,
    SpotMaxPriceTooLow,
    Unsupported,
)
from andromede.compute.images import ImageFiles
from andromede.compute.model import Image, Instance, InstanceState, SpotOptions
from andromede.compute.service import ComputeService, RunRequest
from andromede.compute.spot import (
    SpotInstanceRequest,
    SpotPrice,
    SpotRequestState,
    check_spot_options,
    parse_max_price,
    spot_price,
    spot_ratio,
    used_fraction,
    with_status,
)
from andromede.compute.store_memory import MemoryComputeStore
from support.computekit import OTHER, TENANT, MemoryDiskKeys, limits

S = InstanceState
R = SpotRequestState
START = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
ON_DEMAND = {"t3.nano": Decimal("0.010000"), "t3.micro": Decimal("0.020000")}


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def driver() -> MemoryDriver:
    return MemoryDriver(vcpus=8, memory_mib=4096)  # four t3.nano


@pytest.fixture
async def compute(
    tmp_path: Path, driver: MemoryDriver, clock: Clock
) -> AsyncIterator[ComputeService]:
    service = ComputeService(
        MemoryComputeStore(),
        [driver],
        MemoryDiskKeys(),
        limits(spot_interruption_notice=120.0, spot_price_interval=300.0),
        ImageFiles(tmp_path / "images", max_size=1024**3),
        clock=clock,
    )

    async def card() -> Mapping[str, Decimal]:
        return ON_DEMAND

    service.on_demand_prices = card
    yield service
    await service.close()


@pytest.fixture
async def image(compute: ComputeService, tmp_path: Path) -> Image:
    source = tmp_path / "disk.raw"
    source.write_bytes(b"\0" * 4096)
    return await compute.import_image_file(source, name="debian-test", owner_id=None)


def launch(image: Image, **changes: object) -> RunRequest:
    return replace(RunRequest(image.image_id, "t3.nano"), **changes)  # type: ignore[arg-type]


async def one(compute: ComputeService, instance_id: str) -> Instance:
    [instance] = await compute.describe_instances(TENANT, [instance_id])
    return instance


async def request_of(compute: ComputeService, request_id: str) -> SpotInstanceRequest:
    [request] = await compute.describe_spot_instance_requests(TENANT, [request_id])
    return request


# -- the pure parts ------------------------------------------------------------------------------


def test_price_model_rises_with_fill_from_the_floor() -> None:
    assert spot_ratio(0.0, 0.3) == Decimal("0.3")
    assert spot_ratio(0.5, 0.3) == Decimal("0.475")
    assert spot_ratio(1.0, 0.3) == Decimal(1)
    assert spot_ratio(0.1, 0.3, fits=False) == Decimal(1)
    assert spot_price(Decimal("0.0416"), Decimal("0.475")) == Decimal("0.019760")
    hosts = [
        HostCapacity("h1", 8, 4096, Accelerator.TCG),
        HostCapacity("h2", 8, 4096, Accelerator.TCG),
    ]
    assert used_fraction(hosts, []) == 0.0
    assert used_fraction([], []) == 0.0
    running = Instance(
        "i-0123456789abcdef0", TENANT, "r-1", "ami-1", "t3.micro", S.RUNNING, "h1", START,
        "vol-1", "eu-fr-1a", vcpus=2, memory_mib=2048,
    )  # fmt: skip
    # The larger of the vCPU (2/16) and memory (2048/8192) fractions; a stopped one holds none.
    assert used_fraction(hosts, [running]) == 0.25
    assert used_fraction(hosts, [replace(running, state=S.STOPPED)]) == 0.0


def test_options_follow_ec2s_rules() -> None:
    now = START
    with pytest.raises(InvalidParameterValue, match="persistent"):
        check_spot_options(SpotOptions(interruption_behavior="stop"), run_instances=False, now=now)
    with pytest.raises(InvalidParameterValue, match="RunInstances"):
        check_spot_options(SpotOptions(request_type="persistent"), run_instances=True, now=now)
    check_spot_options(SpotOptions(request_type="persistent"), run_instances=False, now=now)
    with pytest.raises(Unsupported, match="Hibernation"):
        check_spot_options(
            SpotOptions(request_type="persistent", interruption_behavior="hibernate"),
            run_instances=False,
            now=now,
        )
    with pytest.raises(InvalidParameterValue, match="ValidUntil"):
        check_spot_options(SpotOptions(valid_until=now + timedelta(1)), run_instances=True, now=now)
    with pytest.raises(InvalidParameterValue, match="future"):
        check_spot_options(
            SpotOptions(request_type="persistent", interruption_behavior="stop", valid_until=now),
            run_instances=True,
            now=now,
        )
    with pytest.raises(InvalidParameterValue, match="SpotInstanceType"):
        check_spot_options(SpotOptions(request_type="fleet"), run_instances=False, now=now)
    assert parse_max_price("0.05") == Decimal("0.050000")
    for bad in ("0.0001", "abc", "-1", "NaN"):
        with pytest.raises(InvalidParameterValue):
            parse_max_price(bad)


def test_status_table_puts_each_request_in_ec2s_state(image_request: SpotInstanceRequest) -> None:
    one_time = image_request
    persistent = replace(one_time, options=SpotOptions(request_type="persistent"))
    assert with_status(one_time, "instance-terminated-by-price", START).state is R.CLOSED
    assert with_status(persistent, "instance-terminated-by-price", START).state is R.OPEN
    assert with_status(persistent, "instance-stopped-no-capacity", START).state is R.DISABLED
    assert with_status(one_time, "marked-for-termination", START).state is R.ACTIVE
    cancelled = with_status(one_time, "request-canceled-and-instance-running", START)
    assert cancelled.state is R.CANCELLED
    assert with_status(one_time, "capacity-not-available", START).message.startswith("There is")
    assert with_status(one_time, "bad-parameters", START).state is R.FAILED


@pytest.fixture
def image_request() -> SpotInstanceRequest:
    return SpotInstanceRequest(
        "sir-12345678",
        TENANT,
        SpotOptions(),
        RunRequest("ami-0123456789abcdef0", "t3.nano"),
        R.OPEN,
        "pending-evaluation",
        START,
        START,
    )


# -- RunInstances' market options ------------------------------------------------------------------


async def test_spot_launch_makes_a_fulfilled_request_and_a_spot_instance(
    compute: ComputeService, image: Image
) -> None:
    [instance] = await compute.run_instances(TENANT, launch(image, spot=SpotOptions()))
    assert instance.lifecycle == "spot"
    request = await request_of(compute, instance.spot_request_id or "")
    assert (request.state, request.status_code) == (R.ACTIVE, "fulfilled")
    assert request.instance_id == instance.instance_id and request.by_run_instances
    assert await compute.describe_spot_instance_requests(OTHER, []) == []
    with pytest.raises(NotFound):
        await compute.describe_spot_instance_requests(OTHER, [request.spot_instance_request_id])
    await compute.settle()
    # A one-time request's instance cannot be stopped, as on EC2.
    with pytest.raises(Unsupported, match="one-time"):
        await compute.stop_instances(TENANT, [instance.instance_id])
    # Its owner terminates it: the request closes so.
    await compute.terminate_instances(TENANT, [instance.instance_id])
    await compute.settle()
    await compute.spot_upkeep()
    closed = await request_of(compute, request.spot_instance_request_id)
    assert (closed.state, closed.status_code) == (R.CLOSED, "instance-terminated-by-user")


async def test_max_price_below_the_spot_price_is_refused(
    compute: ComputeService, image: Image
) -> None:
    # The floor: 0.3 of the on-demand 0.01 with an empty host.
    with pytest.raises(SpotMaxPriceTooLow, match=r"0\.002 is lower .* 0\.003000"):
        await compute.run_instances(
            TENANT, launch(image, spot=SpotOptions(max_price=Decimal("0.002")))
        )
    assert await compute.describe_instances(TENANT, []) == []
    assert await compute.describe_spot_instance_requests(TENANT, []) == []


async def test_quota_of_spot_requests(compute: ComputeService, image: Image) -> None:
    compute.limits = replace(compute.limits, max_spot_requests_per_tenant=1)
    await compute.run_instances(TENANT, launch(image, spot=SpotOptions()))
    with pytest.raises(MaxSpotInstanceCountExceeded):
        await compute.run_instances(TENANT, launch(image, spot=SpotOptions()))
    with pytest.raises(MaxSpotInstanceCountExceeded):
        await compute.request_spot_instances(TENANT, launch(image), SpotOptions(), 1)
    await compute.run_instances(TENANT, launch(image))  # on-demand: not counted


# -- prices and interruptions ------------------------------------------------------------------


async def test_price_changes_at_most_every_interval_and_interrupts_above_max_price(
    compute: ComputeService, image: Image, clock: Clock
) -> None:
    warned: list[tuple[str, datetime]] = []

    async def warning(instance: Instance, at: datetime) -> None:
        warned.append((instance.instance_id, at))

    compute.spot_warning = warning
    ceiling = Decimal("0.004")
    [instance] = await compute.run_instances(
        TENANT, launch(image, spot=SpotOptions(max_price=ceiling))
    )
    await compute.settle()
    await compute.spot_upkeep()
    assert instance.spot_interruption is None
    # The operator's floor rises: the price follows at the next interval, not before.
    compute.limits = replace(compute.limits, spot_price_floor_ratio=0.5)
    clock.advance(100)
    await compute.spot_upkeep()
    assert (await compute.spot_prices())["t3.nano"] == Decimal("0.003000")
    clock.advance(200)
    await compute.spot_upkeep()
    assert (await compute.spot_prices())["t3.nano"] > ceiling
    marked = await one(compute, instance.instance_id)
    assert marked.spot_interruption is not None
    assert marked.spot_interruption.action == "terminate"
    assert marked.spot_interruption.time == clock.now + timedelta(seconds=120)
    assert warned == [(instance.instance_id, clock.now + timedelta(seconds=120))]
    request = await request_of(compute, instance.spot_request_id or "")
    assert request.status_code == "marked-for-termination"
    assert marked.state is S.RUNNING  # through its notice
    clock.advance(60)
    await compute.spot_upkeep()
    assert (await one(compute, instance.instance_id)).state is S.RUNNING
    clock.advance(60)
    await compute.spot_upkeep()
    await compute.settle()
    gone = await one(compute, instance.instance_id)
    assert gone.state is S.TERMINATED
    assert gone.state_reason.startswith("Server.SpotInstanceTermination")
    request = await request_of(compute, request.spot_instance_request_id)
    assert (request.state, request.status_code) == (R.CLOSED, "instance-terminated-by-price")
    history = [p for p in await compute.spot_price_history() if p.instance_type == "t3.nano"]
    assert [p.price for p in history] == [Decimal("0.003000"), Decimal("0.005313")]
    assert all(isinstance(p, SpotPrice) for p in history)


async def test_on_demand_takes_spot_capacity_back(
    compute: ComputeService, image: Image, clock: Clock
) -> None:
    spot = await compute.run_instances(
        TENANT, launch(image, spot=SpotOptions(), min_count=4, max_count=4)
    )
    await compute.settle()
    # The host is full of Spot Instances; an on-demand launch still succeeds.
    [on_demand] = await compute.run_instances(OTHER, launch(image))
    assert on_demand.lifecycle is None
    marked = [i for i in await compute.store.list(Instance, TENANT) if i.spot_interruption]
    assert len(marked) == 1
    assert marked[0].spot_interruption is not None
    assert marked[0].spot_interruption.reason == "capacity"
    assert {i.instance_id for i in spot} >= {marked[0].instance_id}
    # A second launch during the notice does not count the first's room again.
    await compute.run_instances(OTHER, launch(image))
    marked = [i for i in await compute.store.list(Instance, TENANT) if i.spot_interruption]
    assert len(marked) == 2
    clock.advance(120)
    await compute.spot_upkeep()
    await compute.settle()
    for gone in marked:
        request = await request_of(compute, gone.spot_request_id or "")
        assert request.status_code == "instance-terminated-no-capacity"
        assert (await one(compute, gone.instance_id)).state is S.TERMINATED


# -- RequestSpotInstances ----------------------------------------------------------------------


async def test_persistent_request_stopped_then_started_again(
    compute: ComputeService, image: Image, clock: Clock
) -> None:
    options = SpotOptions(
        max_price=Decimal("0.004"), request_type="persistent", interruption_behavior="stop"
    )
    [request] = await compute.request_spot_instances(TENANT, launch(image), options, 1)
    assert (request.state, request.status_code) == (R.ACTIVE, "fulfilled")
    instance_id = request.instance_id or ""
    await compute.settle()
    [change] = await compute.stop_instances(TENANT, [instance_id])  # allowed: persistent/stop
    await compute.settle()
    await compute.spot_upkeep()
    assert (await request_of(compute, request.spot_instance_request_id)).status_code == (
        "instance-stopped-by-user"
    )
    await compute.start_instances(TENANT, [instance_id])
    await compute.settle()
    await compute.spot_upkeep()
    assert (await request_of(compute, request.spot_instance_request_id)).status_code == "fulfilled"
    # The price passes its maximum: stopped after the notice, its request disabled.
    compute.limits = replace(compute.limits, spot_price_floor_ratio=0.5)
    clock.advance(300)
    await compute.spot_upkeep()
    assert (await request_of(compute, request.spot_instance_request_id)).status_code == (
        "marked-for-stop"
    )
    clock.advance(120)
    await compute.spot_upkeep()
    await compute.settle()
    stopped = await request_of(compute, request.spot_instance_request_id)
    assert (stopped.state, stopped.status_code) == (R.DISABLED, "instance-stopped-by-price")
    assert (await one(compute, instance_id)).state is S.STOPPED
    # The price falls back: the same instance is started again.
    compute.limits = replace(compute.limits, spot_price_floor_ratio=0.3)
    clock.advance(300)
    await compute.spot_upkeep()
    await compute.settle()
    again = await request_of(compute, request.spot_instance_request_id)
    assert (again.state, again.status_code, again.instance_id) == (
        R.ACTIVE,
        "fulfilled",
        instance_id,
    )
    restarted = await one(compute, instance_id)
    assert restarted.state is S.RUNNING and restarted.spot_interruption is None
    assert change.current is S.STOPPING


async def test_open_request_waits_for_capacity_and_cancel(
    compute: ComputeService, image: Image
) -> None:
    held = await compute.run_instances(OTHER, launch(image, min_count=4, max_count=4))
    await compute.settle()
    [waiting, later] = await compute.request_spot_instances(TENANT, launch(image), SpotOptions(), 2)
    assert (waiting.state, waiting.status_code) == (R.OPEN, "capacity-not-available")
    [cancelled] = await compute.cancel_spot_instance_requests(
        TENANT, [later.spot_instance_request_id]
    )
    assert (cancelled.state, cancelled.status_code) == (
        R.CANCELLED,
        "canceled-before-fulfillment",
    )
    await compute.terminate_instances(OTHER, [held[0].instance_id])
    await compute.settle()
    await compute.spot_upkeep()
    fulfilled = await request_of(compute, waiting.spot_instance_request_id)
    assert (fulfilled.state, fulfilled.status_code) == (R.ACTIVE, "fulfilled")
    assert (await request_of(compute, later.spot_instance_request_id)).state is R.CANCELLED
    # Cancelling a fulfilled request leaves its instance running, as on EC2.
    [running] = await compute.cancel_spot_instance_requests(
        TENANT, [waiting.spot_instance_request_id]
    )
    assert running.status_code == "request-canceled-and-instance-running"
    await compute.settle()
    assert (await one(compute, fulfilled.instance_id or "")).state is S.RUNNING


async def test_request_with_bad_parameters_keeps_nothing(
    compute: ComputeService, image: Image
) -> None:
    with pytest.raises(NotFound):
        await compute.request_spot_instances(
            TENANT, launch(image, key_name="absent"), SpotOptions(), 2
        )
    assert await compute.describe_spot_instance_requests(TENANT, []) == []
    token = "same-token"
    first = await compute.request_spot_instances(
        TENANT, launch(image), SpotOptions(), 1, client_token=token
    )
    again = await compute.request_spot_instances(
        TENANT, launch(image), SpotOptions(), 1, client_token=token
    )
    assert [r.spot_instance_request_id for r in again] == [
        r.spot_instance_request_id for r in first
    ]
    assert len(await compute.describe_instances(TENANT, [])) == 1
    with pytest.raises(IdempotentParameterMismatch):
        await compute.request_spot_instances(
            TENANT,
            launch(image),
            SpotOptions(max_price=Decimal("0.5")),
            1,
            client_token=token,
        )


async def test_spot_charges_by_tenant_at_the_current_spot_price(
    compute: ComputeService, image: Image
) -> None:
    await compute.run_instances(TENANT, launch(image, spot=SpotOptions()))
    await compute.run_instances(TENANT, launch(image))  # on-demand: not a Spot charge
    await compute.settle()
    price = (await compute.spot_prices())["t3.nano"]
    assert await compute.spot_charges_by_tenant() == {TENANT: int(price * 1_000_000)}


async def test_billing_wiring_prices_spot_from_the_card_and_meters_it_apart(
    compute: ComputeService, image: Image
) -> None:
    """The on-demand card is the catalogue's ``ec2.instance.<type>`` prices; a Spot
    Instance opens no on-demand run (the ``ec2.spot`` sampler meters it)."""
    from andromede.billing.service import BillingService
    from andromede.billing.store import MemoryBillingStore
    from andromede.wiring.billing import instance_meter, on_demand_card

    store = MemoryBillingStore()
    billing = BillingService(store, region="eu-fr-1", instance_types=["t3.nano", "t3.micro"])
    await billing.set_price("eu-fr-1", "ec2.instance.t3.nano", "0.0104")
    await billing.set_price("eu-fr-1", "ec2.volume", "0.08")
    compute.on_demand_prices = on_demand_card(billing, "eu-fr-1")
    assert await compute.on_demand_price("t3.nano") == Decimal("0.0104")
    assert await compute.on_demand_price("t3.micro") == Decimal(0)
    compute.on_transition = instance_meter(billing)
    [spot] = await compute.run_instances(TENANT, launch(image, spot=SpotOptions()))
    [on_demand] = await compute.run_instances(TENANT, launch(image))
    await compute.settle()
    assert [run.resource_id for run in await store.open_runs()] == [on_demand.instance_id]
    assert spot.lifecycle == "spot"


async def test_ended_requests_are_forgotten_after_the_retention(
    compute: ComputeService, image: Image, clock: Clock
) -> None:
    held = await compute.run_instances(OTHER, launch(image, min_count=4, max_count=4))
    await compute.settle()
    [waiting] = await compute.request_spot_instances(TENANT, launch(image), SpotOptions(), 1)
    await compute.cancel_spot_instance_requests(TENANT, [waiting.spot_instance_request_id])
    clock.advance(3599)
    await compute.spot_upkeep()
    assert len(await compute.describe_spot_instance_requests(TENANT, [])) == 1
    clock.advance(2)
    await compute.spot_upkeep()
    assert await compute.describe_spot_instance_requests(TENANT, []) == []
    assert all(i.lifecycle is None for i in held)


async def test_an_on_demand_start_takes_spot_capacity_back(
    compute: ComputeService, image: Image
) -> None:
    [stopped] = await compute.run_instances(OTHER, launch(image))
    await compute.settle()
    await compute.stop_instances(OTHER, [stopped.instance_id])
    await compute.settle()
    await compute.run_instances(TENANT, launch(image, spot=SpotOptions(), min_count=4, max_count=4))
    await compute.settle()
    [change] = await compute.start_instances(OTHER, [stopped.instance_id])
    assert change.current is S.PENDING
    marked = [i for i in await compute.store.list(Instance, TENANT) if i.spot_interruption]
    assert len(marked) == 1


async def test_valid_from_holds_a_request_until_its_date(
    compute: ComputeService, image: Image, clock: Clock
) -> None:
    options = SpotOptions(valid_from=START + timedelta(hours=1))
    [request] = await compute.request_spot_instances(TENANT, launch(image), options, 1)
    assert (request.state, request.status_code) == (R.OPEN, "not-scheduled-yet")
    assert await compute.describe_instances(TENANT, []) == []
    clock.advance(3599)
    await compute.spot_upkeep()
    assert (await request_of(compute, request.spot_instance_request_id)).instance_id is None
    clock.advance(1)
    await compute.spot_upkeep()
    fulfilled = await request_of(compute, request.spot_instance_request_id)
    assert (fulfilled.state, fulfilled.status_code) == (R.ACTIVE, "fulfilled")
    with pytest.raises(InvalidParameterValue, match="after ValidFrom"):
        check_spot_options(
            SpotOptions(
                request_type="persistent", valid_from=START, valid_until=START - timedelta(1)
            ),
            run_instances=False,
            now=START - timedelta(2),
        )
