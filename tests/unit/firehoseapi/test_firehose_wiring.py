"""Decision 0223's wiring: the settings reach the service's limits, the deliverer's policy and
the record bound; the shared port hands Firehose its calls (signed, and unsigned ones naming
its target, which it refuses in its own words); and the API and deliverer over the SQLite
store deliver as over the memory twin."""

from __future__ import annotations

import base64
import time
from pathlib import Path

from andromede.api_routing import api_service
from andromede.db.database import open_database
from andromede.firehose.jq_runner import QueryPolicy, SubprocessQueryRunner
from andromede.firehose.store_sql import SqlFirehoseStore
from andromede.settings import Settings
from andromede.wiring.firehose import (
    FirehoseMetrics,
    endpoint_sender,
    firehose_deliverer,
    firehose_service,
    source_reader,
)
from support.batch_world import read
from support.firehoseapp import RecordingSink, firehose_world
from support.keys import key_service_in
from support.schema import migrated_sqlite


async def test_settings_reach_the_limits_and_the_deliverer(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        firehose_max_delivery_streams=3,
        firehose_max_buffered_bytes=1234,
        firehose_delivery_poll_interval=0.5,
        firehose_delivery_retry_duration=60,
        firehose_delivery_lease=7,
        firehose_http_endpoint_allow_http=True,
        firehose_http_endpoint_max_backoff=9,
        firehose_http_endpoint_timeout=3.5,
        firehose_http_endpoint_max_response=77,
        firehose_http_endpoint_allow_cidrs=("10.9.0.0/16",),
        firehose_max_active_partitions=7,
        firehose_jq_timeout=2.5,
        firehose_jq_max_memory=64 * 1024 * 1024,
        firehose_lambda_max_payload=123_456,
    )
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    keys = key_service_in(tmp_path / "keys")
    try:
        async for world in firehose_world(tmp_path / "w"):
            service = firehose_service(settings, db, keys, world.identity, world.objects)
            assert (service.limits.max_streams, service.limits.max_buffered_bytes) == (3, 1234)
            deliverer = firehose_deliverer(settings, service)
            policy = deliverer.policy
            assert (policy.poll_interval, policy.retry_interval_ms) == (0.5, 500)
            assert (policy.retry_duration_ms, policy.lease_ms) == (60_000, 7_000)
            # Decision 0250: the HTTP endpoints' rules.
            assert service.limits.http_endpoint_allow_http
            assert policy.max_backoff_ms == 9_000
            sender = endpoint_sender(settings).policy
            assert (sender.timeout, sender.max_response, sender.allow_http) == (3.5, 77, True)
            assert [str(n) for n in sender.allowed] == ["10.9.0.0/16"]
            # Decision 0270: the active partitions a batch.
            assert policy.max_active_partitions == 7
            assert isinstance(deliverer.queries, SubprocessQueryRunner)
            assert deliverer.queries.policy == QueryPolicy(2.5, 64 * 1024 * 1024)
            # Decision 0315: a Lambda processor's invocations at most the setting's bytes.
            assert deliverer.transform.max_payload == 123_456
            # Decision 0235: the Kinesis sources' reader under the same lease and poll.
            reader = source_reader(settings, service, world.identity, lambda: None)
            assert (reader.policy.poll_interval, reader.policy.lease_ms) == (0.5, 7_000)
            assert service.sources is not None  # CreateDeliveryStream's checks go through it
    finally:
        keys.close()
        await db.close()


async def test_the_record_bound_is_the_setting(tmp_path: Path) -> None:
    async for world in firehose_world(tmp_path, firehose_max_record_size=10):
        reply = await world.raw(
            "PutRecord",
            {"DeliveryStreamName": "s", "Record": {"Data": base64.b64encode(b"x" * 11).decode()}},
        )
        assert reply.error_fields()["__type"] == "ValidationException"
        assert "less than or equal to 10" in reply.error_fields()["message"]


async def test_the_account_bound_of_streams_is_the_setting(tmp_path: Path) -> None:
    async for world in firehose_world(tmp_path, firehose_max_delivery_streams=1):
        destination = {"RoleARN": await world.role(), "BucketARN": await world.bucket()}
        await world.client("CreateDeliveryStream", DeliveryStreamName="a",
                           S3DestinationConfiguration=destination)  # fmt: skip
        await world.fails(
            "CreateDeliveryStream",
            "LimitExceededException",
            DeliveryStreamName="b",
            S3DestinationConfiguration=destination,
        )


def test_the_shared_port_routes_firehose() -> None:
    signed = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "query_string": b"",
        "headers": [
            (b"authorization", b"AWS4-HMAC-SHA256 Credential=AK/20261206/eu-fr-1/firehose/"
             b"aws4_request, SignedHeaders=host, Signature=00"),
        ],
    }  # fmt: skip
    assert api_service(signed) == "firehose"
    unsigned = dict(signed, headers=[(b"x-amz-target", b"Firehose_20150804.ListDeliveryStreams")])
    assert api_service(unsigned) == "firehose"


async def test_over_the_sqlite_store(tmp_path: Path) -> None:
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    try:
        async for world in firehose_world(tmp_path / "w", SqlFirehoseStore(db)):
            await world.client(
                "CreateDeliveryStream",
                DeliveryStreamName="s",
                S3DestinationConfiguration={
                    "RoleARN": await world.role(),
                    "BucketARN": await world.bucket(),
                    "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0},
                },
            )
            await world.deliverer.run_pass()
            await world.client("PutRecordBatch", DeliveryStreamName="s",
                               Records=[{"Data": b"1"}, {"Data": b"2"}])  # fmt: skip
            assert await world.deliverer.run_pass(int(time.time() * 1000) + 1) == 1
            listing = await world.objects.list_objects("landing", prefix="", max_keys=10)
            (found,) = listing.objects
            assert await read(world.objects, "landing", found.key) == b"12"
    finally:
        await db.close()


async def test_two_gateways_say_a_minutes_freshness_once(tmp_path: Path) -> None:
    """Decision 0398: two ``serve`` deliverers on one database, each ticking its gauges,
    report a waiting stream's ``DataFreshness`` once a minute between them (the minute
    claimed in ``metric_runs``), not once each."""
    url = migrated_sqlite(tmp_path / "meta.db")
    databases = [open_database(url), open_database(url)]
    keys = key_service_in(tmp_path / "keys")
    settings = Settings(data_dir=tmp_path)
    try:
        async for world in firehose_world(tmp_path / "w", SqlFirehoseStore(databases[0])):
            await world.client(
                "CreateDeliveryStream",
                DeliveryStreamName="s",
                S3DestinationConfiguration={
                    "RoleARN": await world.role(),
                    "BucketARN": await world.bucket(),
                    "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 900},
                },
            )
            await world.firehose.store.activate()
            await world.client("PutRecord", DeliveryStreamName="s", Record={"Data": b"1"})
            metrics = FirehoseMetrics(world.sink, None, "eu-fr-1")
            gateways = [
                firehose_deliverer(
                    settings,
                    firehose_service(settings, db, keys, world.identity, world.objects),
                    metrics,
                    db=db,
                )
                for db in databases
            ]
            # The next minute's start: passes placed within whole minutes, whatever the
            # clock when the test runs (the records' arrival is the real one).
            minute = (int(time.time() * 1000) // 60_000 + 1) * 60_000

            def said(sink: RecordingSink = world.sink) -> int:
                return sum(1 for p in sink.points if p[2] == "DeliveryToS3.DataFreshness")

            for at in (1_000, 30_000, 59_000):  # one minute, both gateways at every pass
                for gateway in gateways:
                    assert await gateway.run_pass(minute + at) == 0
            assert said() == 1
            for at in (61_000, 90_000, 119_000):  # the next
                for gateway in reversed(gateways):
                    assert await gateway.run_pass(minute + at) == 0
            assert said() == 2
    finally:
        keys.close()
        for db in databases:
            await db.close()
