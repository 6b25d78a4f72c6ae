"""BillingService: the one public entry of metering and billing (decision 0108).

Request meters (S3, KMS) are counted in memory on the request path — a dictionary addition,
no I/O — per tenant, region, meter and hour, and written by a background task every
``flush_interval`` in one transaction that adds each total to its row (as the audit service
batches its events). ``close()`` flushes what is pending; a crash loses at most the last
interval's counts. Samplers (stored bytes, volume and snapshot sizes, KMS keys, public
addresses, NAT gateways) and instance runs are
written through the store's watermarks instead, billed once whichever gateway samples.

The catalogue: a unit price in EUR per region and meter, a VAT rate per region, set by the
operator. A usage report prices a tenant's usage over a period (see ``model.report``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from andromede.billing.credit_note import CreditNote, CreditRequest, credit
from andromede.billing.errors import NoBillingProfile, NoSuchCreditNote, NoSuchInvoice, PeriodOpen
from andromede.billing.invoice import Invoice, Issuer, invoice_number, issue
from andromede.billing.invoices_store import InvoiceStore, MemoryInvoiceStore
from andromede.billing.model import (
    INSTANCE_METER_PREFIX,
    Meter,
    Period,
    Price,
    Run,
    UsageIncrement,
    UsageReport,
    byte_hours_by_hour,
    catalogue,
    check_meter,
    ended_before,
    parse_month,
    parse_price,
    parse_vat_rate,
    report,
    seconds_by_hour,
)
from andromede.billing.profile import BillingProfile, parse_profile
from andromede.billing.profiles_store import BillingProfileStore, MemoryBillingProfileStore
from andromede.billing.store import BillingStore
from andromede.db.errors import DatabaseUnavailable

__all__ = ["BillingService", "RunningInstance", "RunningInstances"]

log = logging.getLogger(__name__)

_Key = tuple[str, str, str, int]  # tenant, region, meter, hour (epoch seconds)
# Sampler names: each has its watermark in the store.
STORAGE_SAMPLER = "s3.storage"
VOLUME_SAMPLER = "ec2.volume"
KMS_KEY_SAMPLER = "kms.keys"
# Decision 0169: snapshot GiB, public IPv4 addresses and NAT gateways held, per second.
SNAPSHOT_SAMPLER = "ec2.snapshot"
PUBLIC_IPV4_SAMPLER = "ec2.public-ipv4"
NAT_GATEWAY_SAMPLER = "ec2.nat-gateway"
# Decision 0191: Network Load Balancers held, per second.
LOAD_BALANCER_SAMPLER = "elb.network-load-balancer"
APPLICATION_LB_SAMPLER = "elb.application-load-balancer"  # decision 0216's addendum
# Decision 0175: SNS FIFO topics' archived bytes, byte-hours as storage.
SNS_ARCHIVE_SAMPLER = "sns.archive"
# Decision 0224: CloudWatch Logs' stored bytes, byte-hours as storage.
LOGS_STORAGE_SAMPLER = "logs.storage"
SECRETS_SAMPLER = "secretsmanager.secrets"  # decision 0190, session 49
SSM_ADVANCED_SAMPLER = "ssm.advanced-parameters"  # decision 0241
# Decision 0202: the Spot Instances' Spot prices held (millionths of EUR per hour), per second.
SPOT_SAMPLER = "ec2.spot"
# Decision 0255: Kinesis Data Streams' holdings, all read in one pass (``KINESIS_RETAINED``:
# byte-hours as storage; the others unit-seconds).
KINESIS_RETAINED = ("kinesis.on-demand.extended-retention", "kinesis.long-term-retention")
KINESIS_SAMPLERS = (
    "kinesis.shard-hours",
    "kinesis.extended-retention",
    "kinesis.on-demand.stream-hours",
    "kinesis.fan-out.consumer-shard-hours",
    "kinesis.shard-level-metrics",
    *KINESIS_RETAINED,
)
_BYTE_HOURS = frozenset(
    {STORAGE_SAMPLER, SNS_ARCHIVE_SAMPLER, LOGS_STORAGE_SAMPLER, *KINESIS_RETAINED}
)
# Each sampler's meter (its own name): storage is byte-hours, the others unit-seconds.
_SAMPLED_METERS = frozenset(
    {
        STORAGE_SAMPLER,
        VOLUME_SAMPLER,
        KMS_KEY_SAMPLER,
        SNAPSHOT_SAMPLER,
        PUBLIC_IPV4_SAMPLER,
        NAT_GATEWAY_SAMPLER,
        SNS_ARCHIVE_SAMPLER,
        LOGS_STORAGE_SAMPLER,
        LOAD_BALANCER_SAMPLER,
        APPLICATION_LB_SAMPLER,
        SECRETS_SAMPLER,
        SSM_ADVANCED_SAMPLER,
        SPOT_SAMPLER,
        *KINESIS_SAMPLERS,
    }
)


@dataclass(frozen=True, slots=True)
class RunningInstance:
    instance_id: str
    tenant_id: str
    instance_type: str
    running_since: datetime  # its latest start (EC2's LaunchTime)
    stopped_at: datetime | None = None  # when it last left the running state, if ever


# Reads the instances running now (compute's records).
RunningInstances = Callable[[], Awaitable[Sequence[RunningInstance]]]


class BillingService:
    def __init__(
        self,
        store: BillingStore,
        *,
        region: str,
        instance_types: Iterable[str],
        flush_interval: float = 10.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        invoices: InvoiceStore | None = None,
        issuer: Issuer | None = None,
        invoice_prefix: str = "INV",
        profiles: BillingProfileStore | None = None,
        credit_note_prefix: str = "AV",
    ) -> None:
        self._store = store
        self._invoices = invoices or MemoryInvoiceStore()
        self._profiles = profiles or MemoryBillingProfileStore()
        self.issuer = issuer or Issuer("Andromède")
        self._invoice_prefix = invoice_prefix
        self._credit_note_prefix = credit_note_prefix
        self.region = region
        self.meters: dict[str, Meter] = catalogue(instance_types)
        self._flush_interval = flush_interval
        self._clock = clock
        self._pending: dict[_Key, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._unavailable = False
        self._reconciled_at: datetime | None = None  # the last bill_instances, this process

    # -- request meters (the hot path) -----------------------------------------------------

    def count(self, tenant_id: str, region: str, meter: str, quantity: int = 1) -> None:
        """Add ``quantity`` to the meter's count of this hour; never blocks, never fails."""
        if quantity <= 0:
            return
        now = int(time.time())
        key = (tenant_id, region, meter, now - now % 3600)
        pending = self._pending
        pending[key] = pending.get(key, 0) + quantity

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="billing-flush")

    async def flush(self) -> None:
        """Write every count pending, in one transaction."""
        if not self._pending:
            return
        batch, self._pending = self._pending, {}
        increments = [
            UsageIncrement(t, r, m, datetime.fromtimestamp(h, UTC), q)
            for (t, r, m, h), q in batch.items()
        ]
        try:
            await self._store.add_usage(increments)
        except BaseException:
            # Put them back, with what came meanwhile: counts are kept until written.
            for key, quantity in batch.items():
                self._pending[key] = self._pending.get(key, 0) + quantity
            raise

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        await self.flush()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._flush_interval)
            try:
                await self.flush()
            except DatabaseUnavailable:
                if not self._unavailable:
                    log.warning("billing flush: database unavailable; counts kept until it is back")
                    self._unavailable = True
                continue
            except Exception:
                log.exception("billing flush failed; counts kept for the next attempt")
                continue
            if self._unavailable:
                log.warning("billing flush: database back; kept counts written")
                self._unavailable = False

    # -- samplers ----------------------------------------------------------------------------

    async def sample_amounts(self, sampler: str, amounts: Mapping[tuple[str, str], int]) -> bool:
        """Bill ``amounts`` (per tenant and region: bytes stored, GiB of volumes or
        snapshots, keys, addresses or NAT gateways held) as held since the sampler's last
        sample; the first sample only starts the clock."""
        if sampler not in _SAMPLED_METERS:
            raise ValueError(f"no sampler {sampler!r}")
        meter = sampler
        per_seconds = meter not in _BYTE_HOURS

        def increments(previous: datetime, now: datetime) -> list[UsageIncrement]:
            made: list[UsageIncrement] = []
            for (tenant_id, region), amount in sorted(amounts.items()):
                if not amount:
                    continue  # nothing held: no row of zeros
                if per_seconds:
                    pieces = [(h, amount * s) for h, s in seconds_by_hour(previous, now)]
                else:
                    pieces = byte_hours_by_hour(amount, previous, now)
                made.extend(UsageIncrement(tenant_id, region, meter, h, q) for h, q in pieces)
            return made

        return await self._store.advance_sampler(sampler, self._clock(), increments)

    # -- instance runs -------------------------------------------------------------------------

    async def instance_started(
        self,
        instance_id: str,
        tenant_id: str,
        instance_type: str,
        at: datetime,
        *,
        previous_stop: datetime | None = None,
    ) -> None:
        """The instance entered the running state at ``at``; ``previous_stop`` is when it
        last left it (compute's record): a run still open from before that stop ends there."""
        meter = INSTANCE_METER_PREFIX + instance_type
        await self._store.start_run(
            Run(instance_id, tenant_id, self.region, meter, at, at), previous_stop=previous_stop
        )

    async def instance_stopped(self, instance_id: str, at: datetime) -> None:
        """The instance left the running state at ``at``: bill it to then, a minute at least."""
        await self._store.end_run(instance_id, at)

    async def bill_instances(self, running: RunningInstances) -> None:
        """Bill every open run up to now, after bringing the runs in line with what runs:
        a run whose instance no longer runs ends now (its stop was missed); a run open from
        before the running instance's last stop ends at that stop (a stop then a start both
        missed) and the instance gets a new run; and an instance running without a run
        (started before metering, or its start was missed) gets one from its
        ``running_since``, its latest start — but not before this service's previous
        reconciliation: it had no run then either, so it was not running then.

        The open runs are read *before* what runs (``running`` is called after): an instance
        stopped between the two readings then shows as a run to end (which compute's change
        ended already, or which ends now, moments after its stop) rather than as an instance
        running without a run, which would open a second run and bill its minute twice."""
        open_runs = {run.resource_id: run for run in await self._store.open_runs()}
        open_ids = open_runs.keys()
        running_by_id = {i.instance_id: i for i in await running()}
        now = self._clock()
        not_before, self._reconciled_at = self._reconciled_at, now
        for resource_id in sorted(open_ids - running_by_id.keys()):
            await self._store.end_run(resource_id, now)
        for instance_id in sorted(open_ids & running_by_id.keys()):
            instance = running_by_id[instance_id]
            stop = instance.stopped_at
            if stop is not None and ended_before(open_runs[instance_id], stop):
                await self.instance_started(
                    instance_id,
                    instance.tenant_id,
                    instance.instance_type,
                    min(max(instance.running_since, stop), now),
                    previous_stop=stop,
                )
        for instance_id in sorted(running_by_id.keys() - open_ids):
            instance = running_by_id[instance_id]
            since = (
                instance.running_since
                if not_before is None
                else max(instance.running_since, not_before)
            )
            await self.instance_started(
                instance_id, instance.tenant_id, instance.instance_type, min(since, now)
            )
        await self._store.bill_runs(now)

    # -- catalogue -----------------------------------------------------------------------------

    async def set_price(self, region: str, meter: str, unit_price: object) -> Price:
        check_meter(meter, self.meters)
        price = Price(region, meter, parse_price(unit_price))
        await self._store.set_price(price)
        return price

    async def delete_price(self, region: str, meter: str) -> bool:
        return await self._store.delete_price(region, meter)

    async def prices(self, region: str | None = None) -> list[Price]:
        return [p for p in await self._store.prices() if region is None or p.region == region]

    async def set_vat_rate(self, region: str, rate: object) -> Decimal:
        parsed = parse_vat_rate(rate)
        await self._store.set_vat_rate(region, parsed)
        return parsed

    async def vat_rates(self) -> dict[str, Decimal]:
        return await self._store.vat_rates()

    # -- reports -------------------------------------------------------------------------------

    async def usage_report(self, tenant_id: str, period: Period) -> UsageReport:
        totals = await self._store.usage(tenant_id, period.start, period.end)
        prices = {(p.region, p.meter): p.unit_price for p in await self._store.prices()}
        return report(tenant_id, period, totals, self.meters, prices, await self._store.vat_rates())

    async def usage_by_hour(self, tenant_id: str, period: Period) -> list[UsageIncrement]:
        return await self._store.usage_by_hour(tenant_id, period.start, period.end)

    # -- invoices (decision 0123) --------------------------------------------------------------

    async def issue_invoice(
        self, tenant_id: str, customer_name: str, period: Period
    ) -> tuple[Invoice, bool]:
        """The tenant's invoice of ``period``, issued now if it was not (True), under the next
        number of this year's sequence: the month's usage report as it stands now, which no
        later change alters. PeriodOpen before the month has ended. The metering of the month
        must have been flushed by then: hour rows come in within ``billing_flush_interval``
        and instance runs within ``billing_sample_interval`` of the month's end."""
        now = self._clock()
        if now < period.end:
            raise PeriodOpen(
                f"{period.label} has not ended: it is invoiced from {period.end:%Y-%m-%d}"
            )
        kept = await self._invoices.invoice_of(tenant_id, period.label)
        if kept is not None:
            return kept, False  # no report made again for a month issued already
        usage = await self.usage_report(tenant_id, period)
        # Copied into the invoice as it is now: a later change of the profile alters no
        # invoice issued (decision 0126).
        customer = await self._profiles.profile(tenant_id)

        def build(sequence: int) -> Invoice:
            number = invoice_number(self._invoice_prefix, now.year, sequence)
            return issue(usage, number, customer_name, self.issuer, now, customer)

        return await self._invoices.issue(tenant_id, period.label, now.year, build)

    async def issue_due_invoices(
        self, tenants: Sequence[tuple[str, str]], delay: timedelta
    ) -> list[Invoice]:
        """Every tenant's invoice of the last ended month, once ``delay`` has passed since its
        end (the month's metering flushed): those issued now, not those issued before. Each
        gateway may run it: a tenant's month is issued once, whoever asks (the store)."""
        now = self._clock()
        this_month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        period = parse_month((this_month - timedelta(days=1)).strftime("%Y-%m"))
        if now < period.end + delay:
            return []
        issued = []
        for tenant_id, name in tenants:
            invoice, new = await self.issue_invoice(tenant_id, name, period)
            if new:
                issued.append(invoice)
        return issued

    async def invoices(self, tenant_id: str) -> list[Invoice]:
        return await self._invoices.invoices(tenant_id)

    async def invoice(self, tenant_id: str, number: str) -> Invoice:
        """NoSuchInvoice for a number not issued to that tenant (another's is not found)."""
        found = await self._invoices.invoice(number)
        if found is None or found.tenant_id != tenant_id:
            raise NoSuchInvoice(f"no invoice {number[:40]}")
        return found

    # -- billing profiles and credit notes (decision 0126) -------------------------------------

    async def billing_profile(self, tenant_id: str) -> BillingProfile:
        """NoBillingProfile for a tenant whose profile was never set."""
        found = await self._profiles.profile(tenant_id)
        if found is None:
            raise NoBillingProfile("no billing profile is set for this tenant")
        return found

    async def set_billing_profile(
        self, tenant_id: str, fields: Mapping[str, object]
    ) -> BillingProfile:
        """Check ``fields`` (InvalidBillingProfile naming the first wrong one) and make them
        the tenant's profile, replacing the one it had; invoices issued keep theirs."""
        profile = parse_profile(fields)
        await self._profiles.put_profile(tenant_id, profile, self._clock())
        return profile

    async def issue_credit_note(
        self, tenant_id: str, number: str, request: CreditRequest
    ) -> CreditNote:
        """A credit note of the tenant's invoice ``number`` (NoSuchInvoice if it has none),
        issued now under the next number of this year's credit note sequence; OverCredit when
        it would credit more than what remains of the invoice, credit notes issued meanwhile
        by other gateways counted."""
        now = self._clock()

        def build(sequence: int, invoice: Invoice, earlier: list[CreditNote]) -> CreditNote:
            credit_number = invoice_number(self._credit_note_prefix, now.year, sequence)
            return credit(invoice, earlier, request, credit_number, now)

        return await self._invoices.credit(tenant_id, number, now.year, build)

    async def credit_notes(
        self, tenant_id: str, invoice_number: str | None = None
    ) -> list[CreditNote]:
        """The tenant's credit notes, of one invoice if given, in the order issued."""
        return await self._invoices.credit_notes(tenant_id, invoice_number)

    async def credit_note(self, tenant_id: str, invoice: str, number: str) -> CreditNote:
        """NoSuchCreditNote for a number not issued on that invoice of that tenant."""
        found = await self._invoices.credit_note(number)
        if found is None or found.tenant_id != tenant_id or found.invoice_number != invoice:
            raise NoSuchCreditNote(f"no credit note {number[:40]} on {invoice[:40]}")
        return found
