"""Billing's pure core: the meters, hour buckets, instance runs and the pricing arithmetic.

Usage is kept as integers per tenant, region, meter and hour (the hour's start, UTC), in the
meter's *stored unit* (requests, bytes, byte-hours, seconds, GiB-seconds, key-seconds); a
price is in EUR per the meter's *price unit* (1,000 requests, GiB, GiB-month, hour…), and
``divisor`` stored units make one price unit. Money is :class:`~decimal.Decimal`, never float:
each report line's net amount and its VAT are rounded to the cent, half up (decision 0108).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation, localcontext
from typing import Final

from andromede.billing.errors import InvalidPeriod, InvalidPrice, UnknownMeter

__all__ = [
    "CENT",
    "CURRENCY",
    "FIXED_METERS",
    "HOURS_PER_MONTH",
    "INSTANCE_METER_PREFIX",
    "MINIMUM_RUN_SECONDS",
    "PAYLOAD_CHUNK",
    "Meter",
    "Period",
    "Price",
    "ReportLine",
    "Run",
    "UsageIncrement",
    "UsageReport",
    "UsageTotal",
    "byte_hours_by_hour",
    "catalogue",
    "check_meter",
    "ended_before",
    "hour_of",
    "instance_meter",
    "line_amounts",
    "parse_month",
    "parse_price",
    "parse_vat_rate",
    "payload_requests",
    "report",
    "run_increments",
    "s3_request_meter",
    "seconds_by_hour",
]

CURRENCY: Final = "EUR"
CENT: Final = Decimal("0.01")
HOURS_PER_MONTH: Final = 730  # AWS's month for GB-month and key-month prices (8,760 h / 12)
MINIMUM_RUN_SECONDS: Final = 60  # an instance run is billed a minute at least (EC2 Linux)
INSTANCE_METER_PREFIX: Final = "ec2.instance."
_GIB: Final = 2**30
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
# Prices and rates: at most 9 decimals (a fraction of a cent per request), below a billion.
_MAX_PRICE: Final = Decimal(10) ** 9
_PRICE_EXPONENT: Final = -9
_WIDE: Final = Context(prec=60)  # quantities reach 1e19: never round before the last step


@dataclass(frozen=True, slots=True)
class Meter:
    name: str
    unit: str  # what the stored quantity counts
    price_unit: str  # what a price is per
    divisor: int  # stored units in one price unit
    description: str


_PER_MONTH_SECONDS = HOURS_PER_MONTH * 3600
FIXED_METERS: Final[tuple[Meter, ...]] = (
    Meter("s3.requests.class-a", "requests", "1000 requests", 1000,
          "S3 PUT, COPY, POST and LIST requests"),
    Meter("s3.requests.class-b", "requests", "1000 requests", 1000,
          "S3 GET, HEAD and other reads"),
    Meter("s3.transfer.in", "bytes", "GiB", _GIB, "Bytes received by S3 (request bodies)"),
    Meter("s3.transfer.out", "bytes", "GiB", _GIB, "Bytes sent by S3 (response bodies)"),
    # Decision 0234: S3 Select's scanned and returned bytes, priced apart as on AWS.
    Meter("s3.select.scanned", "bytes", "GiB", _GIB, "Bytes S3 Select read from objects"),
    Meter("s3.select.returned", "bytes", "GiB", _GIB, "Bytes S3 Select returned as records"),
    Meter("s3.storage", "byte-hours", "GiB-month", _GIB * HOURS_PER_MONTH,
          "Bytes stored, noncurrent versions included, over time"),
    Meter("ec2.volume", "GiB-seconds", "GiB-month", _PER_MONTH_SECONDS,
          "EBS volume size over time"),
    Meter("kms.keys", "key-seconds", "key-month", _PER_MONTH_SECONDS,
          "Customer-managed KMS keys over time (pro rata)"),
    Meter("kms.requests", "requests", "10000 requests", 10_000, "KMS API requests"),
    # Decision 0169: queues, topics, snapshots, public addresses and NAT gateways.
    Meter("sqs.requests", "requests", "1000000 requests", 1_000_000,
          "SQS API requests, one per 64 KiB chunk of payload begun"),
    Meter("sns.requests", "requests", "1000000 requests", 1_000_000,
          "SNS API requests, publishes one per 64 KiB chunk of payload begun"),
    Meter("sns.deliveries.http", "deliveries", "1000000 deliveries", 1_000_000,
          "SNS notifications delivered to HTTP/S endpoints"),
    Meter("sns.deliveries.sqs", "deliveries", "1000000 deliveries", 1_000_000,
          "SNS notifications delivered to SQS queues"),
    # Decision 0180: mails through the operator's SMTP relay.
    Meter("sns.deliveries.email", "deliveries", "100000 deliveries", 100_000,
          "SNS notifications mailed to email and email-json subscriptions"),
    # Decision 0226: notifications put into Amazon Data Firehose streams.
    Meter("sns.deliveries.firehose", "deliveries", "1000000 deliveries", 1_000_000,
          "SNS notifications delivered to Amazon Data Firehose delivery streams"),
    # Decision 0172: CloudWatch's metric calls.
    Meter("cloudwatch.requests", "requests", "1000 requests", 1000,
          "CloudWatch API requests (PutMetricData, GetMetricStatistics, GetMetricData, "
          "ListMetrics)"),
    # Decision 0233: the datapoints metric streams put into Firehose (AWS: per 1,000 updates).
    Meter("cloudwatch.metric-stream-updates", "updates", "1000 updates", 1000,
          "CloudWatch metric stream updates: datapoints put into Firehose streams"),
    # Decision 0272: Contributor Insights, as AWS bills it (rules per month, matched events).
    Meter("cloudwatch.insight-rules", "rule-hours", "rule-month", HOURS_PER_MONTH,
          "CloudWatch Contributor Insights rules enabled, over time (pro rata)"),
    Meter("cloudwatch.insight-rule-events", "events", "1000000 events", 1_000_000,
          "Log events matched by CloudWatch Contributor Insights rules"),
    # Decision 0186: CloudWatch Logs' calls, and the bytes PutLogEvents ingests.
    Meter("logs.requests", "requests", "1000 requests", 1000, "CloudWatch Logs API requests"),
    Meter("logs.ingested", "bytes", "GiB", _GIB,
          "Bytes of log events ingested (each message and 26 bytes, as AWS counts them)"),
    # Decision 0222: into Infrequent Access groups, apart so the operator prices it (AWS: half).
    Meter("logs.ingested.infrequent-access", "bytes", "GiB", _GIB,
          "Bytes of log events ingested into Infrequent Access log groups (each message and "
          "26 bytes)"),
    # Decision 0224: the log groups' stored events (AWS's "archived" logs), as S3 storage.
    Meter("logs.storage", "byte-hours", "GiB-month", _GIB * HOURS_PER_MONTH,
          "Bytes of log events stored, over time (each message and 26 bytes)"),
    Meter("logs.scanned", "bytes", "GiB", _GIB,
          "Bytes of log events Logs Insights queries read (each message and 26 bytes)"),
    Meter("ec2.snapshot", "GiB-seconds", "GiB-month", _PER_MONTH_SECONDS,
          "EBS snapshots (AMIs' included) by their volume's size over time"),
    Meter("ec2.public-ipv4", "address-seconds", "hour", 3600,
          "Public IPv4 addresses held: Elastic IPs, in use or idle, and running instances' own"),
    Meter("ec2.nat-gateway", "gateway-seconds", "hour", 3600,
          "NAT gateways not deleted nor failed, over time"),
    # Decision 0176: the hosts' kernel counters, gathered with the flow logs' pass.
    Meter("ec2.nat-gateway.bytes", "bytes", "GiB", _GIB,
          "Bytes NAT gateways processed, both directions"),
    Meter("ec2.transfer.out", "bytes", "GiB", _GIB,
          "Bytes instances sent to the internet (outside the platform's own ranges)"),
    # Decision 0190: Secrets Manager's calls (AWS prices them per 10,000).
    Meter("secretsmanager.requests", "requests", "10000 requests", 10_000,
          "Secrets Manager API requests"),
    # Decision 0190 (session 49): AWS's secret-month, pro rata.
    Meter("secretsmanager.secrets", "secret-seconds", "secret-month", _PER_MONTH_SECONDS,
          "Secrets held, those marked for deletion not counted, over time (pro rata)"),
    # Decision 0241: Parameter Store's advanced parameters, AWS's parameter-month, pro rata.
    Meter("ssm.advanced-parameters", "parameter-seconds", "parameter-month", _PER_MONTH_SECONDS,
          "Advanced Parameter Store parameters held, over time (pro rata)"),
    # Decision 0192: EventBridge's custom events.
    Meter("events.published", "events", "1000000 events", 1_000_000,
          "EventBridge events published by PutEvents, one per 64 KiB chunk begun"),
    # Decision 0191: Network Load Balancers held (their LCUs: not yet).
    Meter("elb.application-load-balancer", "lb-seconds", "hour", 3600,
          "Application Load Balancers held, over time (decision 0216's addendum)"),
    Meter("elb.network-load-balancer", "lb-seconds", "hour", 3600,
          "Network Load Balancers held, over time"),
    # Decision 0202: Spot Instances, at the Spot price of each sampled period. Its usage is
    # already money (millionths of EUR per hour, over seconds): the operator prices it 1.
    Meter("ec2.spot", "micro-EUR-per-hour-seconds", "EUR", 3600 * 1_000_000,
          "Spot Instances' running time at the Spot price of each period, in EUR (price 1)"),
    # Decision 0258: EventBridge Pipes' requests (the events past the filters), as AWS bills.
    # Decision 0280: Route 53's hosted zones, as AWS bills them (a zone-month, not pro rata).
    Meter("route53.hosted-zones", "zone-months", "zone-month", 1,
          "Route 53 hosted zones: each billed once for each month it is held in"),
    # Decision 0289: the queries the public name servers answered, as AWS bills them.
    Meter("route53.dns-queries", "queries", "1000000 queries", 1_000_000,
          "Route 53 DNS queries a public hosted zone answered"),
    Meter("pipes.requests", "requests", "1000000 requests", 1_000_000,
          "EventBridge Pipes requests: one per 64 KiB chunk begun of each event sent"),
    # Decision 0271: Step Functions' standard workflows, billed per state transition as AWS's.
    Meter("stepfunctions.state-transitions", "transitions", "1000 transitions", 1000,
          "Step Functions state transitions: each state an execution entered"),
    # Decision 0286: Lambda's requests and compute, as AWS bills them.
    Meter("lambda.requests", "requests", "1000000 requests", 1_000_000,
          "Lambda invocations run: each Invoke, synchronous or queued"),
    Meter("lambda.gb-seconds", "MB-milliseconds", "GB-second", 1_024_000,
          "Lambda compute: each invocation's memory size times its billed milliseconds"),
    # Decision 0314: provisioned concurrency, billed for the time it is kept as AWS's.
    Meter("lambda.provisioned-gb-seconds", "MB-milliseconds", "GB-second", 1_024_000,
          "Lambda provisioned concurrency: memory size times the milliseconds kept initialised"),
    # Decision 0223: Firehose's Direct PUT ingestion, as AWS bills it.
    Meter("firehose.ingested", "bytes", "GiB", _GIB,
          "Bytes Firehose delivery streams took, each record rounded up to 5 KiB"),
    # Decision 0228: Kinesis Data Streams' PUT payload units, as AWS bills them.
    Meter("kinesis.put-units", "units", "1000000 units", 1_000_000,
          "Kinesis records put into provisioned streams, one unit per 25 KiB begun of each"),
    # Decision 0255: the rest of Kinesis Data Streams' prices, provisioned and on-demand.
    Meter("kinesis.shard-hours", "shard-seconds", "shard-hour", 3600,
          "Open shards of provisioned Kinesis streams, over time (pro rata)"),
    Meter("kinesis.extended-retention", "shard-seconds", "shard-hour", 3600,
          "Open shards of provisioned Kinesis streams retaining records past 24 hours"),
    Meter("kinesis.on-demand.extended-retention", "byte-hours", "GiB-month",
          _GIB * HOURS_PER_MONTH,
          "Bytes on-demand Kinesis streams hold aged 24 hours to 7 days, over time"),
    Meter("kinesis.long-term-retention", "byte-hours", "GiB-month", _GIB * HOURS_PER_MONTH,
          "Bytes Kinesis streams hold aged past 7 days, over time"),
    Meter("kinesis.on-demand.stream-hours", "stream-seconds", "stream-hour", 3600,
          "On-demand Kinesis streams held, over time (pro rata)"),
    Meter("kinesis.on-demand.ingested", "bytes", "GiB", _GIB,
          "Bytes put into on-demand Kinesis streams, each record rounded up to 1 KiB"),
    Meter("kinesis.on-demand.retrieved", "bytes", "GiB", _GIB,
          "Bytes GetRecords read from on-demand Kinesis streams"),
    Meter("kinesis.fan-out.consumer-shard-hours", "consumer-shard-seconds",
          "consumer-shard-hour", 3600,
          "Enhanced fan-out consumers of provisioned Kinesis streams times their open shards"),
    Meter("kinesis.fan-out.retrieved", "bytes", "GiB", _GIB,
          "Bytes enhanced fan-out (SubscribeToShard) sent from provisioned Kinesis streams"),
    Meter("kinesis.on-demand.fan-out.retrieved", "bytes", "GiB", _GIB,
          "Bytes enhanced fan-out (SubscribeToShard) sent from on-demand Kinesis streams"),
    Meter("kinesis.shard-level-metrics", "metric-seconds", "metric-month", _PER_MONTH_SECONDS,
          "Enhanced monitoring's shard-level metrics times open shards, as CloudWatch custom "
          "metrics (pro rata)"),
    # Decision 0237: DynamoDB's on-demand request units, as AWS bills them.
    Meter("dynamodb.read-units", "units", "1000000 units", 1_000_000,
          "DynamoDB read request units: one per 4 KB begun of a strongly consistent read"),
    Meter("dynamodb.write-units", "units", "1000000 units", 1_000_000,
          "DynamoDB write request units: one per 1 KB begun of each item written"),
    # Decision 0246: DynamoDB Streams' read request units, one per GetRecords, as AWS bills.
    Meter("dynamodb.stream-read-units", "units", "1000000 units", 1_000_000,
          "DynamoDB Streams read request units: one per GetRecords call (up to 1 MB)"),
    # Decision 0265: global tables' replicated write request units, in the replica's region.
    Meter("dynamodb.replicated-write-units", "units", "1000000 units", 1_000_000,
          "DynamoDB replicated write request units: one per 1 KB begun of each item a global "
          "table's replica receives from another region"),
    # Decision 0175: SNS FIFO topics' archived messages.
    Meter("sns.archive", "byte-hours", "GiB-month", _GIB * HOURS_PER_MONTH,
          "SNS FIFO topics' archived messages, over time"),
)  # fmt: skip


def instance_meter(instance_type: str) -> Meter:
    return Meter(
        INSTANCE_METER_PREFIX + instance_type,
        "seconds",
        "hour",
        3600,
        f"Running time of {instance_type} instances (per second, a minute at least)",
    )


def catalogue(instance_types: Iterable[str]) -> dict[str, Meter]:
    """Every meter of a deployment: the fixed ones and one per instance type offered."""
    meters = {m.name: m for m in FIXED_METERS}
    meters.update({m.name: m for m in map(instance_meter, sorted(instance_types))})
    return meters


# -- S3 request classes -------------------------------------------------------------------------

_FREE_PREFIXES = ("Delete", "AbortMultipartUpload")


def s3_request_meter(operation: str, method: str) -> str | None:
    """The request meter of an S3 operation, as AWS's tiers: class A for writes (PUT, COPY,
    POST) and listings (``List*``), class B for GET, HEAD and other reads; deletions and
    aborts are free (None), as on AWS."""
    if operation.startswith(_FREE_PREFIXES):
        return None
    if operation == "SelectObjectContent":
        return "s3.requests.class-b"  # a read, though a POST: AWS prices it as a GET
    if method in ("PUT", "POST") or operation.startswith("List"):
        return "s3.requests.class-a"
    return "s3.requests.class-b"


# -- payload chunks (SQS, SNS) ------------------------------------------------------------------

PAYLOAD_CHUNK: Final = 64 * 1024  # SQS and SNS bill a request per 64 KiB chunk of payload


def payload_requests(payload_bytes: int) -> int:
    """The requests one API call counts for ``payload_bytes`` of payload, as SQS and SNS
    bill: one per 64 KiB chunk begun, and one at least (a call with no payload is one)."""
    return max(1, -(-payload_bytes // PAYLOAD_CHUNK))


# -- time ---------------------------------------------------------------------------------------


def hour_of(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _whole_seconds(at: datetime) -> int:
    return (at - _EPOCH) // timedelta(seconds=1)


def seconds_by_hour(start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """``[start, end)`` cut at hour boundaries, in whole seconds per hour. Both ends are
    truncated to the second, so consecutive intervals add up exactly, whatever their cuts."""
    first, last = _whole_seconds(start), _whole_seconds(end)
    pieces = []
    while first < last:
        hour_start = first - first % 3600
        piece_end = min(last, hour_start + 3600)
        pieces.append((_EPOCH + timedelta(seconds=hour_start), piece_end - first))
        first = piece_end
    return pieces


def byte_hours_by_hour(amount: int, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """``amount`` held over ``[start, end)``, in amount-hours per hour (rounded half up)."""
    return [
        (hour, (amount * seconds * 2 + 3600) // 7200)
        for hour, seconds in seconds_by_hour(start, end)
        if amount
    ]


# -- usage --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UsageIncrement:
    tenant_id: str
    region: str
    meter: str
    hour: datetime  # the hour's start, UTC
    quantity: int


@dataclass(frozen=True, slots=True)
class UsageTotal:
    region: str
    meter: str
    quantity: int


@dataclass(frozen=True, slots=True)
class Run:
    """An instance's time in the running state, billed up to ``billed_until`` so far."""

    resource_id: str
    tenant_id: str
    region: str
    meter: str
    started_at: datetime
    billed_until: datetime


def ended_before(run: Run, previous_stop: datetime) -> bool:
    """Whether the open ``run`` began before the instance's last stop, so belongs to a running
    period that ended then (billing missed that stop)."""
    return run.started_at < previous_stop


def run_increments(run: Run, until: datetime, *, ended: bool) -> list[UsageIncrement]:
    """What ``run`` owes from ``billed_until`` to ``until``; if the run ``ended`` then, what a
    run shorter than a minute owes more to make that minute (in the run's last hour)."""
    until = max(until, run.billed_until)
    pieces = dict(seconds_by_hour(run.billed_until, until))
    if ended:
        lasted = _whole_seconds(until) - _whole_seconds(run.started_at)
        if lasted < MINIMUM_RUN_SECONDS:
            last_hour = hour_of(until)
            pieces[last_hour] = pieces.get(last_hour, 0) + MINIMUM_RUN_SECONDS - lasted
    return [
        UsageIncrement(run.tenant_id, run.region, run.meter, hour, seconds)
        for hour, seconds in sorted(pieces.items())
        if seconds
    ]


# -- periods ------------------------------------------------------------------------------------

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, slots=True)
class Period:
    start: datetime
    end: datetime  # exclusive

    @property
    def label(self) -> str:
        return self.start.strftime("%Y-%m")


def parse_month(text: str) -> Period:
    """``YYYY-MM`` as the month's period, UTC."""
    match = _MONTH.match(text)
    if match is None or not 1 <= int(match[2]) <= 12 or int(match[1]) < 1970:
        raise InvalidPeriod(f"a month is YYYY-MM (from 1970-01): {text[:16]!r}")
    year, month = int(match[1]), int(match[2])
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return Period(start, end)


# -- prices -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Price:
    region: str
    meter: str
    unit_price: Decimal  # EUR per the meter's price unit, VAT excluded


def _decimal(value: object, what: str) -> Decimal:
    # Floats are refused, not converted: 0.1 is not a tenth, and money must be exact.
    if isinstance(value, bool) or not isinstance(value, str | Decimal | int):
        raise InvalidPrice(f"{what} is a decimal number (in a string), never a float")
    try:
        number = Decimal(value)
    except (InvalidOperation, ValueError) as exc:
        raise InvalidPrice(f"{what} is not a decimal number") from exc
    if not number.is_finite():
        raise InvalidPrice(f"{what} must be a finite number")
    if number < 0:
        raise InvalidPrice(f"{what} must not be negative")
    if number >= _MAX_PRICE:
        raise InvalidPrice(f"{what} must be below {_MAX_PRICE}")
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < _PRICE_EXPONENT:
        raise InvalidPrice(f"{what} has at most {-_PRICE_EXPONENT} decimals")
    return number


def parse_price(value: object) -> Decimal:
    """A unit price in EUR: a decimal, at least 0, below a billion, 9 decimals at most."""
    return _decimal(value, "a price")


def parse_vat_rate(value: object) -> Decimal:
    """A VAT rate as a fraction (0.20 for 20 %), from 0 to 1."""
    rate = _decimal(value, "a VAT rate")
    if rate > 1:
        raise InvalidPrice("a VAT rate is a fraction from 0 to 1 (0.20 for 20 %)")
    return rate


def check_meter(name: str, meters: Mapping[str, Meter]) -> Meter:
    meter = meters.get(name)
    if meter is None:
        raise UnknownMeter(f"no meter {name[:80]!r}; the catalogue lists the meters")
    return meter


def line_amounts(
    quantity: int, meter: Meter, unit_price: Decimal, vat_rate: Decimal
) -> tuple[Decimal, Decimal, Decimal]:
    """(usage in price units, net, VAT) of one line: net = usage * price and VAT = net *
    rate, each rounded to the cent half up (the usage itself is not rounded)."""
    with localcontext(_WIDE):
        usage = Decimal(quantity) / Decimal(meter.divisor)
        net = (usage * unit_price).quantize(CENT, rounding=ROUND_HALF_UP)
        vat = (net * vat_rate).quantize(CENT, rounding=ROUND_HALF_UP)
    return usage, net, vat


@dataclass(frozen=True, slots=True)
class ReportLine:
    region: str
    meter: str
    quantity: int  # in the meter's stored unit
    unit: str
    usage: Decimal  # in the price unit
    price_unit: str
    unit_price: Decimal | None  # None: the operator set no price (the line costs nothing)
    net: Decimal
    vat_rate: Decimal
    vat: Decimal

    @property
    def total(self) -> Decimal:
        return self.net + self.vat


@dataclass(frozen=True, slots=True)
class UsageReport:
    tenant_id: str
    period: Period
    lines: tuple[ReportLine, ...]
    currency: str = CURRENCY

    @property
    def net(self) -> Decimal:
        return sum((line.net for line in self.lines), Decimal("0.00"))

    @property
    def vat(self) -> Decimal:
        return sum((line.vat for line in self.lines), Decimal("0.00"))

    @property
    def total(self) -> Decimal:
        return self.net + self.vat


def report(
    tenant_id: str,
    period: Period,
    totals: Sequence[UsageTotal],
    meters: Mapping[str, Meter],
    prices: Mapping[tuple[str, str], Decimal],
    vat_rates: Mapping[str, Decimal],
) -> UsageReport:
    """One line per region and meter with usage; lines of meters no longer offered (an
    instance type removed since) are kept, priced as the catalogue had them."""
    lines = []
    for total in sorted(totals, key=lambda t: (t.region, t.meter)):
        if not total.quantity:
            continue
        meter = meters.get(total.meter) or _retired_meter(total.meter)
        unit_price = prices.get((total.region, total.meter))
        rate = vat_rates.get(total.region, Decimal(0))
        usage, net, vat = line_amounts(total.quantity, meter, unit_price or Decimal(0), rate)
        lines.append(
            ReportLine(
                region=total.region,
                meter=total.meter,
                quantity=total.quantity,
                unit=meter.unit,
                usage=usage,
                price_unit=meter.price_unit,
                unit_price=unit_price,
                net=net,
                vat_rate=rate,
                vat=vat,
            )
        )
    return UsageReport(tenant_id, period, tuple(lines))


def _retired_meter(name: str) -> Meter:
    if name.startswith(INSTANCE_METER_PREFIX):
        return instance_meter(name.removeprefix(INSTANCE_METER_PREFIX))
    return Meter(name, "units", "unit", 1, "a meter this release does not know")
