"""S3 request metrics in process (decision 0187): the four configuration calls with botocore's
own XML on the wire and S3's checks, which requests each filter counts, and the 1-minute
``AWS/S3`` points the counters write, on a clock the test moves."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import parsers, serialize

from andromede.metrics.store import Point
from andromede.s3.operations import S3Operation
from andromede.s3.request_metrics import RequestOutcome, request_kind, request_tags
from andromede.s3_request_metrics import S3RequestMetrics
from andromede.settings import Settings
from andromede.storage.access_points import AccessPoint, MemoryAccessPointStore, new_alias
from andromede.storage.metrics_configuration import MetricsConfiguration
from andromede.storage.model import Bucket, PublicAccessBlock
from andromede.storage.store_memory import MemoryMetadataStore
from support.s3app import REGION, Client, Reply, in_process_client

BUCKET = "shop"
AP_ARN = "arn:aws:s3:eu-fr-1:123456789012:accesspoint/front"
_MODEL = botocore.session.get_session().get_service_model("s3")
_O = S3Operation


class Writer:
    """A platform writer that keeps what it is given (the metrics service's interface)."""

    def __init__(self) -> None:
        self.points: list[Point] = []

    async def put_platform(self, points: Sequence[Point]) -> None:
        self.points.extend(points)

    def value(self, metric: str, filter_id: str) -> tuple[float, float]:
        """(sum, sample count) of ``metric`` for ``filter_id`` over the points written."""
        total = count = 0.0
        for point in self.points:
            dims = dict(point.series.dimensions)
            if point.series.name == metric and dims["FilterId"] == filter_id:
                assert point.series.namespace == "AWS/S3" and dims["BucketName"] == BUCKET
                total += point.aggregate.total
                count += point.aggregate.count
        return total, count


class Clock:
    def __init__(self) -> None:
        self.now = 1_795_999_980.0  # a minute's start

    def __call__(self) -> float:
        return self.now


def counters(
    store: MemoryMetadataStore, writer: Writer, clock: Clock, **kw: Any
) -> S3RequestMetrics:
    return S3RequestMetrics(
        store,
        writer,
        flush_interval=1.0,
        refresh_interval=1.0,
        max_series=kw.get("max_series", 100),
        clock=clock,
    )


def wire_body(config: dict[str, Any]) -> bytes:
    """The body botocore sends for PutBucketMetricsConfiguration."""
    operation = _MODEL.operation_model("PutBucketMetricsConfiguration")
    request = serialize.create_serializer("rest-xml").serialize_to_request(
        {"Bucket": BUCKET, "Id": config["Id"], "MetricsConfiguration": config}, operation
    )
    body = request["body"]
    return body if isinstance(body, bytes) else body.encode()


def parsed(operation_name: str, reply: Reply) -> dict[str, Any]:
    operation = _MODEL.operation_model(operation_name)
    result: dict[str, Any] = parsers.create_parser("rest-xml").parse(
        {"status_code": reply.status, "headers": reply.headers, "body": reply.body},
        operation.output_shape,
    )
    result.pop("ResponseMetadata", None)
    return result


async def put_config(client: Client, config: dict[str, Any], config_id: str | None = None) -> Reply:
    target = config["Id"] if config_id is None else config_id
    return await client.request("PUT", f"/{BUCKET}?metrics&id={target}", wire_body(config))


async def put_raw(client: Client, config_id: str, inner: str) -> Reply:
    body = (
        '<MetricsConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"<Id>{config_id}</Id>{inner}</MetricsConfiguration>"
    ).encode()
    return await client.request("PUT", f"/{BUCKET}?metrics&id={config_id}", body)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[Client, S3RequestMetrics, Writer, Clock]]:
    writer, clock = Writer(), Clock()
    made: list[S3RequestMetrics] = []

    def hook(store: MemoryMetadataStore) -> S3RequestMetrics:
        made.append(counters(store, writer, clock))
        return made[0]

    async with in_process_client(
        tmp_path, request_metrics=hook, s3_metrics_max_configurations=3
    ) as client:
        assert (await client.request("PUT", f"/{BUCKET}")).status == 200
        yield client, made[0], writer, clock


# -- filters and kinds ---------------------------------------------------------------------------


def test_a_filter_matches_by_prefix_tags_and_access_point() -> None:
    whole = MetricsConfiguration("all")
    assert whole.matches(None, None, None) and whole.matches("k", None, AP_ARN)
    docs = MetricsConfiguration("docs", prefix="docs/")
    assert docs.matches("docs/a", None, None)
    assert not docs.matches("img/a", None, None)
    assert not docs.matches(None, None, None)  # a listing has no key to match
    tagged = MetricsConfiguration("t", tags=(("team", "a"), ("env", "prod")))
    assert tagged.matches("k", {"team": "a", "env": "prod", "x": "y"}, None)
    assert not tagged.matches("k", {"team": "a"}, None)
    assert not tagged.matches("k", None, None)  # the request does not know its tags
    point = MetricsConfiguration("ap", access_point_arn=AP_ARN)
    assert point.matches("k", None, AP_ARN) and not point.matches("k", None, None)
    both = MetricsConfiguration("and", prefix="docs/", access_point_arn=AP_ARN, use_and=True)
    assert both.matches("docs/x", None, AP_ARN)
    assert not both.matches("docs/x", None, None) and not both.matches("x", None, AP_ARN)


def test_each_operation_counts_in_s3s_kind() -> None:
    assert request_kind(_O.GetObject, "GET") == "GetRequests"
    assert request_kind(_O.PutObject, "PUT") == "PutRequests"
    assert request_kind(_O.UploadPart, "PUT") == "PutRequests"
    assert request_kind(_O.DeleteObject, "DELETE") == "DeleteRequests"
    assert request_kind(_O.DeleteObjects, "POST") == "DeleteRequests"
    assert request_kind(_O.HeadObject, "HEAD") == "HeadRequests"
    assert request_kind(_O.HeadBucket, "HEAD") == "HeadRequests"
    assert request_kind(_O.PostObject, "POST") == "PostRequests"
    assert request_kind(_O.CreateMultipartUpload, "POST") == "PostRequests"
    assert request_kind(_O.ListObjectsV2, "GET") == "ListRequests"
    assert request_kind(_O.ListObjectVersions, "GET") == "ListRequests"
    assert request_kind(_O.GetBucketPolicy, "GET") is None
    assert request_tags({"x-amz-tagging": "team=a&env=prod"}) == {"team": "a", "env": "prod"}
    assert request_tags({}) is None


# -- the counters ---------------------------------------------------------------------------------


def outcome(key: str | None, status: int = 200, **kw: Any) -> RequestOutcome:
    bucket = Bucket(name=BUCKET, tenant_id="t-1", owner_id="o-1", region="eu", created_at=None)  # type: ignore[arg-type]
    return RequestOutcome(
        bucket=bucket,
        kind=kw.get("kind", "GetRequests"),
        key=key,
        tags=kw.get("tags"),
        access_point_arn=kw.get("ap"),
        status=status,
        received=kw.get("received", 0),
        sent=kw.get("sent", 0),
        first_byte_ms=kw.get("first", 2.0),
        total_ms=kw.get("total", 5.0),
    )


async def test_counts_merge_per_minute_and_are_written_at_their_minute() -> None:
    writer, clock = Writer(), Clock()
    metrics = counters(MemoryMetadataStore(), writer, clock)
    metrics.configured(BUCKET, [MetricsConfiguration("all"), MetricsConfiguration("d", "docs/")])
    assert metrics.observes(BUCKET) and not metrics.observes("other")
    metrics.record(outcome("docs/a", sent=100, first=1.0, total=3.0))
    metrics.record(outcome("img/b", 404, first=3.0, total=7.0))
    clock.now += 61  # the next minute
    metrics.record(outcome("docs/c", 500, kind="PutRequests", received=4096))
    assert await metrics.flush() > 0
    assert writer.value("AllRequests", "all") == (3.0, 3.0)
    assert writer.value("AllRequests", "d") == (2.0, 2.0)
    assert writer.value("GetRequests", "all") == (2.0, 2.0)
    assert writer.value("PutRequests", "d") == (1.0, 1.0)
    assert writer.value("BytesDownloaded", "all") == (100.0, 1.0)
    assert writer.value("BytesUploaded", "d") == (4096.0, 1.0)
    assert writer.value("4xxErrors", "all") == (1.0, 3.0)  # 0 or 1 a request: Average a rate
    assert writer.value("4xxErrors", "d") == (0.0, 2.0)
    assert writer.value("5xxErrors", "d") == (1.0, 2.0)
    assert writer.value("FirstByteLatency", "all")[0] == pytest.approx(6.0)
    assert writer.value("TotalRequestLatency", "d")[0] == pytest.approx(8.0)
    units = {p.series.name: p.unit for p in writer.points}
    assert units["BytesUploaded"] == "Bytes" and units["AllRequests"] == "Count"
    assert units["FirstByteLatency"] == "Milliseconds"
    starts = {p.start for p in writer.points}
    assert starts == {int(clock.now) - 61, int(clock.now) - 1}
    assert {p.resolution for p in writer.points} == {60}
    assert {p.series.tenant_id for p in writer.points} == {"t-1"}  # the bucket owner's
    assert await metrics.flush() == 0  # written once


async def test_memory_is_bounded_and_unconfigured_buckets_count_nothing() -> None:
    writer, clock = Writer(), Clock()
    metrics = counters(MemoryMetadataStore(), writer, clock, max_series=2)
    metrics.configured(BUCKET, [MetricsConfiguration(f"c{n}") for n in range(3)])
    metrics.record(outcome("k"))
    await metrics.flush()
    assert {dict(p.series.dimensions)["FilterId"] for p in writer.points} == {"c0", "c1"}
    metrics.configured(BUCKET, [])
    assert not metrics.observes(BUCKET)
    metrics.record(outcome("k"))
    assert await metrics.flush() == 0


async def test_a_busy_minute_is_folded_exactly() -> None:
    writer, clock = Writer(), Clock()
    metrics = counters(MemoryMetadataStore(), writer, clock)
    metrics.configured(BUCKET, [MetricsConfiguration("all")])
    for n in range(2500):  # more than a tally holds before it folds
        metrics.record(outcome("k", 404 if n % 5 == 0 else 200, total=float(n), sent=n))
    await metrics.flush()
    assert writer.value("AllRequests", "all") == (2500.0, 2500.0)
    assert writer.value("4xxErrors", "all") == (500.0, 2500.0)
    assert writer.value("TotalRequestLatency", "all") == (sum(range(2500)), 2500.0)
    assert writer.value("BytesDownloaded", "all") == (sum(range(2500)), 2499.0)  # not 0
    [latency] = [p for p in writer.points if p.series.name == "TotalRequestLatency"]
    assert (latency.aggregate.minimum, latency.aggregate.maximum) == (0.0, 2499.0)
    [errors] = [p for p in writer.points if p.series.name == "4xxErrors"]
    assert (errors.aggregate.minimum, errors.aggregate.maximum) == (0.0, 1.0)


def test_the_settings_bound_the_counters() -> None:
    settings = Settings(
        s3_request_metrics_flush_interval=5,
        s3_request_metrics_refresh=10,
        s3_request_metrics_max_series=7,
        s3_metrics_max_configurations=9,
    )
    assert settings.s3_request_metrics_max_series == 7
    with pytest.raises(ValueError, match="s3_metrics_max_configurations"):
        Settings(s3_metrics_max_configurations=1001)
    with pytest.raises(ValueError, match="s3_request_metrics_flush_interval"):
        Settings(s3_request_metrics_flush_interval=0)


# -- the configuration calls ---------------------------------------------------------------------


async def test_configurations_round_trip_through_botocore(
    world: tuple[Client, S3RequestMetrics, Writer, Clock],
) -> None:
    client, metrics, _, _ = world
    missing = await client.request("GET", f"/{BUCKET}?metrics&id=all")
    assert (missing.status, missing.error_code()) == (404, "NoSuchConfiguration")
    sent = [
        {"Id": "all"},
        {"Id": "docs", "Filter": {"Prefix": "docs/"}},
        {
            "Id": "mixed",
            "Filter": {
                "And": {
                    "Prefix": "p/",
                    "Tags": [{"Key": "team", "Value": "a"}],
                    "AccessPointArn": AP_ARN,
                }
            },
        },
    ]
    for config in sent:
        assert (await put_config(client, config)).status == 200
    assert metrics.observes(BUCKET)  # this gateway's change counts at once
    for config in sent:
        got = parsed(
            "GetBucketMetricsConfiguration",
            await client.request("GET", f"/{BUCKET}?metrics&id={config['Id']}"),
        )
        assert got["MetricsConfiguration"] == config
    listed = parsed(
        "ListBucketMetricsConfigurations", await client.request("GET", f"/{BUCKET}?metrics")
    )
    assert [c["Id"] for c in listed["MetricsConfigurationList"]] == ["all", "docs", "mixed"]
    assert listed["IsTruncated"] is False
    refused = await put_config(client, {"Id": "fourth"})
    assert (refused.status, refused.error_code()) == (400, "TooManyConfigurations")
    assert (await put_config(client, {"Id": "all", "Filter": {"Prefix": "x"}})).status == 200
    for config in sent:
        deleted = await client.request("DELETE", f"/{BUCKET}?metrics&id={config['Id']}")
        assert deleted.status == 204
    assert not metrics.observes(BUCKET)
    again = await client.request("DELETE", f"/{BUCKET}?metrics&id=all")
    assert (again.status, again.error_code()) == (404, "NoSuchConfiguration")
    await client.audit.flush()
    listed_events = await client.audit_store.list_events(client.tenant_id, after_id=0, limit=500)
    events = [e for _, e in listed_events if e.action == "s3:PutMetricsConfiguration"]
    assert len(events) == 9  # four puts (one refused), three deletes, one refused
    assert events[0].details["metrics_id"] == "all"


@pytest.mark.parametrize(
    ("config_id", "inner", "query_id", "code"),
    [
        ("e", "<Filter></Filter>", "e", "MalformedXML"),
        ("two", "<Filter><Prefix>a</Prefix><Prefix>b</Prefix></Filter>", "two", "MalformedXML"),
        (
            "pt",
            "<Filter><Prefix>a</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></Filter>",
            "pt",
            "MalformedXML",
        ),
        ("and", "<Filter><And></And></Filter>", "and", "MalformedXML"),
        ("tag", "<Filter><Tag><Value>v</Value></Tag></Filter>", "tag", "MalformedXML"),
        ("odd", "<Other/>", "odd", "MalformedXML"),
        (
            "ap",
            "<Filter><AccessPointArn>arn:aws:s3:::b</AccessPointArn></Filter>",
            "ap",
            "InvalidArgument",
        ),
        ("x", "", "y", "InvalidArgument"),
        ("bad id!", "", "bad%20id!", "InvalidArgument"),
        (
            "dup",
            "<Filter><And><Tag><Key>k</Key><Value>1</Value></Tag>"
            "<Tag><Key>k</Key><Value>2</Value></Tag></And></Filter>",
            "dup",
            "InvalidTag",
        ),
    ],
)
async def test_bad_configurations_get_s3s_errors(
    world: tuple[Client, S3RequestMetrics, Writer, Clock],
    config_id: str,
    inner: str,
    query_id: str,
    code: str,
) -> None:
    client = world[0]
    body = (
        '<MetricsConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"<Id>{config_id}</Id>{inner}</MetricsConfiguration>"
    ).encode()
    reply = await client.request("PUT", f"/{BUCKET}?metrics&id={query_id}", body)
    assert (reply.status, reply.error_code()) == (400, code)
    no_id = await client.request("GET", f"/{BUCKET}?metrics&id=")
    assert (no_id.status, no_id.error_code()) == (400, "InvalidArgument")


# -- requests counted ----------------------------------------------------------------------------


async def test_the_apps_requests_are_counted_per_filter(
    world: tuple[Client, S3RequestMetrics, Writer, Clock],
) -> None:
    client, metrics, writer, _ = world
    assert (await put_raw(client, "all", "")).status == 200
    docs = "<Filter><Prefix>docs/</Prefix></Filter>"
    assert (await put_raw(client, "docs", docs)).status == 200
    tagged = "<Filter><Tag><Key>team</Key><Value>a</Value></Tag></Filter>"
    assert (await put_raw(client, "team", tagged)).status == 200
    await metrics.flush()
    writer.points.clear()  # the configuration calls counted too, as on AWS
    body = b"x" * 4096
    put = await client.request(
        "PUT", f"/{BUCKET}/docs/a", body, headers={"x-amz-tagging": "team=a"}
    )
    assert put.status == 200
    assert (await client.request("GET", f"/{BUCKET}/docs/a")).status == 200
    assert (await client.request("GET", f"/{BUCKET}/img/missing")).status == 404
    assert (await client.request("HEAD", f"/{BUCKET}/docs/a")).status == 200
    assert (await client.request("GET", f"/{BUCKET}?list-type=2")).status == 200
    assert (await client.request("DELETE", f"/{BUCKET}/docs/a")).status == 204
    await metrics.flush()
    assert writer.value("AllRequests", "all") == (6.0, 6.0)
    assert writer.value("AllRequests", "docs") == (4.0, 4.0)
    assert writer.value("AllRequests", "team") == (1.0, 1.0)  # only the PUT told its tags
    assert writer.value("PutRequests", "docs")[0] == 1.0
    assert writer.value("GetRequests", "all")[0] == 2.0
    assert writer.value("HeadRequests", "docs")[0] == 1.0
    assert writer.value("ListRequests", "all")[0] == 1.0
    assert writer.value("ListRequests", "docs") == (0.0, 0.0)
    assert writer.value("DeleteRequests", "docs")[0] == 1.0
    assert writer.value("BytesUploaded", "docs")[0] == 4096.0
    assert writer.value("BytesDownloaded", "docs")[0] == 4096.0
    assert writer.value("4xxErrors", "all") == (1.0, 6.0)
    assert writer.value("4xxErrors", "docs") == (0.0, 4.0)
    latency, count = writer.value("TotalRequestLatency", "all")
    assert count == 6.0 and latency > 0
    other = await client.other_tenant("other")
    await other.request("PUT", "/elsewhere")
    writer.points.clear()
    assert (await other.request("GET", "/elsewhere/k")).status == 404
    await metrics.flush()
    assert writer.points == []  # a bucket without configurations counts nothing


async def test_a_refresh_reads_the_configurations_another_gateway_wrote(
    world: tuple[Client, S3RequestMetrics, Writer, Clock],
) -> None:
    client, metrics, _, _ = world
    assert client.store is not None
    elsewhere = counters(client.store, Writer(), Clock())
    assert not elsewhere.observes(BUCKET)
    assert (await put_raw(client, "all", "")).status == 200
    await elsewhere.refresh()
    assert elsewhere.observes(BUCKET)
    assert (await client.request("DELETE", f"/{BUCKET}?metrics&id=all")).status == 204
    await elsewhere.refresh()
    assert not elsewhere.observes(BUCKET) and not metrics.observes(BUCKET)
    assert (await put_raw(client, "all", "")).status == 200
    assert (await client.request("DELETE", f"/{BUCKET}")).status == 204
    assert not metrics.observes(BUCKET)  # its configurations went with the bucket
    await elsewhere.refresh()
    assert not elsewhere.observes(BUCKET)


async def test_an_access_point_filter_counts_the_requests_through_it(tmp_path: Path) -> None:
    points, writer = MemoryAccessPointStore(), Writer()
    made: list[S3RequestMetrics] = []

    def hook(store: MemoryMetadataStore) -> S3RequestMetrics:
        made.append(counters(store, writer, Clock()))
        return made[0]

    async with in_process_client(tmp_path, access_points=points, request_metrics=hook) as client:
        assert (await client.request("PUT", f"/{BUCKET}")).status == 200
        point = AccessPoint(
            tenant_id=client.tenant_id,
            name="front",
            bucket=BUCKET,
            bucket_account=client.tenant_id,
            alias=new_alias("front"),
            public_access_block=PublicAccessBlock(),
            created_at=datetime.now(UTC),
        )
        await points.create(point, quota=10)
        arn = point.arn(REGION)
        inner = f"<Filter><AccessPointArn>{arn}</AccessPointArn></Filter>"
        assert (await put_raw(client, "front", inner)).status == 200
        assert (await client.request("PUT", f"/{BUCKET}/direct", b"1")).status == 200
        assert (await client.request("PUT", f"/{point.alias}/through", b"22")).status == 200
        assert (await client.request("GET", f"/{point.alias}/through")).status == 200
        await made[0].flush()
    assert writer.value("AllRequests", "front") == (2.0, 2.0)
    assert writer.value("BytesUploaded", "front")[0] == 2.0


async def test_a_change_made_while_a_refresh_reads_is_not_lost() -> None:
    store = MemoryMetadataStore()
    metrics = counters(store, Writer(), Clock())
    reading = asyncio.Event()
    go_on = asyncio.Event()
    listed = store.list_bucket_documents

    async def slow(kind: str, after: str | None, limit: int) -> list[tuple[str, str]]:
        reading.set()
        await go_on.wait()
        return await listed(kind, after, limit)

    store.list_bucket_documents = slow  # type: ignore[method-assign]
    refresh = asyncio.create_task(metrics.refresh())
    await reading.wait()
    metrics.configured(BUCKET, [MetricsConfiguration("all")])  # committed after the read
    go_on.set()
    await refresh
    assert metrics.observes(BUCKET)
