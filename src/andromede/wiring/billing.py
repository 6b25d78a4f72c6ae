"""Billing's wiring: the metering service over the database, compute's state changes as
instance runs, and the sampler reading what tenants hold through each context's service
(decision 0108)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from decimal import Decimal

from andromede.billing.invoice import Issuer
from andromede.billing.invoices_store import SqlInvoiceStore
from andromede.billing.model import INSTANCE_METER_PREFIX, payload_requests
from andromede.billing.profiles_store import SqlBillingProfileStore
from andromede.billing.sampler import GroupedAmounts, UsageSampler
from andromede.billing.service import BillingService, RunningInstance
from andromede.billing.store_sql import SqlBillingStore
from andromede.compute.model import Instance, InstanceState
from andromede.compute.service import ComputeService
from andromede.compute.spot_market import OnDemandPrices
from andromede.compute.traffic import INTERNET_OUT, NAT_GATEWAY
from andromede.db.database import Database
from andromede.iam.service import IdentityService
from andromede.kms.customer_keys import CustomerKeyService
from andromede.notifications.delivery import QueueSink
from andromede.notifications.mails import EMAIL_PROTOCOLS
from andromede.notifications.pubsub import Delivery
from andromede.queues.model import parse_queue_arn
from andromede.settings import Settings
from andromede.storage.service import ObjectService

__all__ = [
    "MeteredQueueSink",
    "billing_service",
    "delivery_meter",
    "instance_meter",
    "on_demand_card",
    "traffic_meter",
    "usage_sampler",
]


def billing_service(settings: Settings, db: Database) -> BillingService:
    """Metering and the price catalogue over ``db`` (decision 0108)."""
    return BillingService(
        SqlBillingStore(db),
        region=settings.region,
        instance_types=settings.instance_types,
        flush_interval=settings.billing_flush_interval,
        invoices=SqlInvoiceStore(db),
        issuer=Issuer(
            settings.billing_issuer_name,
            settings.billing_issuer_address,
            settings.billing_issuer_vat_id,
            settings.billing_payment_days,
            settings.billing_issuer_country,
            settings.billing_issuer_siret,
            settings.billing_issuer_iban,
            settings.billing_issuer_bic,
        ),
        invoice_prefix=settings.billing_invoice_prefix,
        profiles=SqlBillingProfileStore(db),
        credit_note_prefix=settings.billing_credit_note_prefix,
    )


def instance_meter(
    billing: BillingService,
) -> Callable[[Instance, Instance, datetime], Awaitable[None]]:
    """Compute's state changes as instance runs: entering running opens one, leaving it
    closes it (billed to then, a minute at least)."""

    async def on_transition(before: Instance, after: Instance, at: datetime) -> None:
        if after.lifecycle == "spot":
            return  # metered at its Spot price by the sampler's ec2.spot (decision 0202)
        if after.state is InstanceState.RUNNING:
            await billing.instance_started(
                after.instance_id,
                after.tenant_id,
                after.instance_type,
                at,
                previous_stop=after.stopped_at,
            )
        elif before.state is InstanceState.RUNNING:
            await billing.instance_stopped(after.instance_id, at)

    return on_transition


def on_demand_card(billing: BillingService, region: str) -> OnDemandPrices:
    """The operator's on-demand prices per instance type (EUR per hour, the catalogue's
    ``ec2.instance.<type>`` meters of the region): what Spot prices are modelled from and
    what a Spot request's maximum price defaults to (decision 0202)."""

    async def card() -> dict[str, Decimal]:
        return {
            price.meter.removeprefix(INSTANCE_METER_PREFIX): price.unit_price
            for price in await billing.prices(region)
            if price.meter.startswith(INSTANCE_METER_PREFIX)
        }

    return card


def delivery_meter(billing: BillingService, region: str) -> Callable[[Delivery], None]:
    """SNS's notifications delivered, by protocol (decision 0169): billed to the topic's
    account, as AWS bills a topic's deliveries to its owner; a subscription's confirmation
    request is no notification, so not counted. A delivery into a queue is also the queue's
    SendMessage, an SQS request of the queue's owner by the message's chunks, as AWS's SQS
    charges apply to what SNS sends it."""

    def delivered(delivery: Delivery) -> None:
        if delivery.headers.get("x-amz-sns-message-type") != "Notification":
            return
        subscription = delivery.subscription
        if subscription.protocol in EMAIL_PROTOCOLS:  # decision 0180
            billing.count(subscription.tenant_id, region, "sns.deliveries.email")
            return
        if subscription.protocol == "firehose":  # decision 0226: priced apart
            billing.count(subscription.tenant_id, region, "sns.deliveries.firehose")
            return
        if subscription.protocol != "sqs":
            billing.count(subscription.tenant_id, region, "sns.deliveries.http")
            return
        billing.count(subscription.tenant_id, region, "sns.deliveries.sqs")
        queue_region, owner, _ = parse_queue_arn(subscription.endpoint)
        payload = len(delivery.body.encode()) + sum(
            len(name.encode()) + len(kind.encode()) + len(value.encode())
            for name, (kind, value) in delivery.attributes.items()
        )
        billing.count(owner, queue_region, "sqs.requests", payload_requests(payload))

    return delivered


class MeteredQueueSink:
    """S3's event notifications into queues (decision 0158), each event a queue took counted
    as the queue's SendMessage: SQS requests of the queue's owner, by the event's 64 KiB
    chunks, as AWS's SQS charges apply to what S3 sends (decision 0169)."""

    def __init__(self, sink: QueueSink, billing: BillingService) -> None:
        self._sink = sink
        self._billing = billing

    async def deliver(
        self, tenant_id: str, queue_arn: str, message: str, trace: str | None = None
    ) -> bool:
        sent = await self._sink.deliver(tenant_id, queue_arn, message, trace)
        if sent:
            region, owner, _ = parse_queue_arn(queue_arn)
            requests = payload_requests(len(message.encode()))
            self._billing.count(owner, region, "sqs.requests", requests)
        return sent


# Decision 0176: the kinds of the hosts' network meters, as billing's meters.
_TRAFFIC_METERS = {INTERNET_OUT: "ec2.transfer.out", NAT_GATEWAY: "ec2.nat-gateway.bytes"}


def traffic_meter(
    billing: BillingService, region: str
) -> Callable[[Mapping[tuple[str, str], int]], None]:
    """The hosts' network bytes per (tenant, kind), as the flow logs' pass gathers them
    (decision 0176), counted like requests: in memory, written by the next flush, in the
    gateway's region (compute's meters are its region's, decision 0108)."""

    def counted(bytes_by_tenant: Mapping[tuple[str, str], int]) -> None:
        for (tenant_id, kind), quantity in sorted(bytes_by_tenant.items()):
            meter = _TRAFFIC_METERS.get(kind)
            if meter is not None:
                billing.count(tenant_id, region, meter, quantity)

    return counted


def usage_sampler(
    settings: Settings,
    billing: BillingService,
    objects: ObjectService,
    compute: ComputeService,
    customer_keys: CustomerKeyService,
    identity: IdentityService,
    sns_archive_bytes: Callable[[], Awaitable[dict[str, int]]] | None = None,
    load_balancers: Callable[[str], Awaitable[dict[str, int]]] | None = None,
    secrets: Callable[[], Awaitable[dict[tuple[str, str], int]]] | None = None,
    logs_stored_bytes: Callable[[], Awaitable[dict[str, int]]] | None = None,
    advanced_parameters: Callable[[], Awaitable[dict[tuple[str, str], int]]] | None = None,
    kinesis_holdings: GroupedAmounts | None = None,
) -> UsageSampler:
    """What tenants hold, read through each context's service, sampled for billing;
    ``sns_archive_bytes``: each tenant's archived SNS bytes (decision 0175);
    ``load_balancers``: each tenant's load balancers of a type (``network``, decision 0191;
    ``application``, decision 0216); ``secrets``:
    the secrets each (tenant, region) holds, those marked for deletion not counted (decision
    0190; a secret carries its region, so no gateway's region is assumed);
    ``logs_stored_bytes``: each tenant's CloudWatch Logs stored bytes (decision 0224);
    ``advanced_parameters``: the advanced parameters each (tenant, region) holds (decision
    0241); ``kinesis_holdings``: Kinesis streams' held meters in one reading (decision 0255)."""
    region = settings.region

    async def stored_bytes() -> dict[tuple[str, str], int]:
        return await objects.stored_bytes_by_tenant_and_region()

    async def volume_gib() -> dict[tuple[str, str], int]:
        return {(t, region): g for t, g in (await compute.volume_gib_by_tenant()).items()}

    async def kms_keys() -> dict[tuple[str, str], int]:
        held: dict[tuple[str, str], int] = {}
        for tenant in await identity.list_tenants():
            for key_region, count in (await customer_keys.billable_keys(tenant.id)).items():
                held[(tenant.id, key_region)] = count
        return held

    def in_region(
        reading: Callable[[], Awaitable[dict[str, int]]],
    ) -> Callable[[], Awaitable[dict[tuple[str, str], int]]]:
        # Compute serves the gateway's own region (decision 0108's limit).
        async def read() -> dict[tuple[str, str], int]:
            return {(t, region): n for t, n in (await reading()).items()}

        return read

    def of_type(lb_type: str) -> Callable[[], Awaitable[dict[str, int]]] | None:
        counted = load_balancers
        if counted is None:
            return None

        async def read() -> dict[str, int]:
            return await counted(lb_type)

        return read

    def held_in_region(
        reading: Callable[[], Awaitable[dict[str, int]]] | None,
    ) -> Callable[[], Awaitable[dict[tuple[str, str], int]]] | None:
        return None if reading is None else in_region(reading)

    async def running_instances() -> list[RunningInstance]:
        return [
            RunningInstance(
                i.instance_id, i.tenant_id, i.instance_type, i.last_launch_time, i.stopped_at
            )
            for i in await compute.running_instances()
            if i.lifecycle != "spot"  # the ec2.spot sampler's (decision 0202)
        ]

    return UsageSampler(
        billing,
        interval=settings.billing_sample_interval,
        stored_bytes=stored_bytes,
        volume_gib=volume_gib,
        kms_keys=kms_keys,
        snapshot_gib=in_region(compute.snapshot_gib_by_tenant),
        public_ipv4=in_region(compute.public_ipv4_by_tenant),
        nat_gateways=in_region(compute.nat_gateways_by_tenant),
        sns_archive_bytes=held_in_region(sns_archive_bytes),
        logs_stored_bytes=held_in_region(logs_stored_bytes),
        load_balancers=held_in_region(of_type("network")),
        application_load_balancers=held_in_region(of_type("application")),
        secrets=secrets,
        advanced_parameters=advanced_parameters,
        spot_charges=in_region(compute.spot_charges_by_tenant),
        grouped=() if kinesis_holdings is None else (kinesis_holdings,),
        running_instances=running_instances,
    )
