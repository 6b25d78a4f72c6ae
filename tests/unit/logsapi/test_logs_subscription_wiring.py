"""The wiring of decision 0225's subscription filters (``wiring.logs.subscriptions``): the
settings' limits, the filters registered with the Logs service (its ingestion, its groups'
deletions, a closed tenant), the outbox over the migrated database, and a record given up
audited as ``logs:SubscriptionDeliveryFailed`` beside its WARNING, each failed attempt
counted in ``AWS/Logs`` ``DeliveryErrors``; with no Firehose in
``apis`` a filter is refused, not kept."""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.db.database import Database, open_database
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.log_subscription_delivery import awslogs_record_bound
from andromede.logs.errors import InvalidParameter
from andromede.logs.model import InputEvent
from andromede.logs.subscriptions import subscription_filter
from andromede.settings import Settings
from andromede.wiring.logs import subscriptions
from support.firehoseapp import RecordingSink
from support.kmskit import REGION
from support.logsapp import NOW, LogsWorld, logs_world
from support.schema import migrated_sqlite

STREAM = "arn:aws:firehose:eu-fr-1:{account}:deliverystream/s"


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = open_database(migrated_sqlite(tmp_path / "meta.db"))
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
def world(tmp_path: Path) -> LogsWorld:
    return next(logs_world(tmp_path / "w"))


async def test_the_settings_limits_and_a_given_up_record_audited(
    tmp_path: Path, db: Database, world: LogsWorld, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        region=REGION,
        logs_max_subscription_filters=1,
        logs_subscription_outbox_size=12345,
        logs_subscription_poll_interval=0.5,
        logs_subscription_batch=7,
        logs_subscription_lease=30,
        logs_subscription_retry_duration=60,
        logs_max_account_subscription_exclusions=3,
    )
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    audit_store = MemoryAuditStore()
    audit = AuditService(audit_store)
    sink = RecordingSink()
    made = subscriptions(
        settings, db, world.service, world.kit.keys, identity, audit, {}, world.clock, sink
    )
    assert (made.limits.max_filters, made.limits.max_outbox_bytes) == (1, 12345)
    assert (made.limits.batch, made.limits.lease_ms, made.limits.poll_interval) == (7, 30_000, 0.5)
    assert (made.limits.retry_interval_ms, made.limits.retry_duration_ms) == (500, 60_000)
    assert made.limits.max_excluded == 3  # decision 0232
    assert made in world.service.subscribers
    assert made.forget_tenant in world.service.forgetters
    await world.service.create_group("t1", "/g", None, {})
    await world.service.create_stream("t1", "/g", "s")
    params = {
        "filterName": "f",
        "filterPattern": "",
        "destinationArn": STREAM.format(account="t1"),
        "roleArn": "arn:aws:iam::t1:role/r",
    }
    with pytest.raises(InvalidParameter, match="Could not deliver test message"):
        await made.put("t1", "/g", params)  # no Firehose in apis: refused, not kept
    assert await made.store.list_filters("t1", "/g", "", "", 10) == []
    # A filter kept (as another gateway with a Firehose would have): its records wait, are
    # refused here, and once past the retry duration are given up, audited.
    kept = subscription_filter("t1", REGION, "/g", params, NOW)
    await made.store.put_filter(kept, 1)
    await world.service.put_events("t1", "/g", "s", [InputEvent(NOW, "hello")])
    assert await made.deliver_once("gw") == 0
    await audit.flush()
    assert not [e for e in await audit_store.list_events(None, after_id=0, limit=10)]
    world.clock.now += 60_000  # the retry duration gone by
    await made.deliver_once("gw")
    await audit.flush()
    events = [e for _, e in await audit_store.list_events(None, after_id=0, limit=10)]
    [given_up] = [e for e in events if e.action == "logs:SubscriptionDeliveryFailed"]
    assert given_up.principal == "logs.amazonaws.com"
    assert given_up.resource == f"arn:aws:logs:{REGION}:t1:log-group:/g"
    assert given_up.details["error"] == "Firehose is not served by this deployment"
    assert "given up" in caplog.text
    dims = (("LogGroupName", "/g"), ("DestinationType", "Firehose"), ("FilterName", "f"))
    assert sink.points == [("t1", "AWS/Logs", "DeliveryErrors", dims, 1.0)] * 2
    await world.service.forget_tenant("t1")
    assert await made.store.list_filters("t1", "/g", "", "", 10) == []


async def test_a_kinesis_filter_through_the_wiring(
    tmp_path: Path, db: Database, world: LogsWorld
) -> None:
    """Decision 0235: with no Kinesis in ``apis`` its filter is refused in Kinesis' words, and
    a kept one's failed attempts are counted under ``DestinationType`` Kinesis, its partition
    key kept through the SQL outbox."""
    settings = Settings(data_dir=tmp_path, region=REGION)
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    sink = RecordingSink()
    made = subscriptions(settings, db, world.service, world.kit.keys, identity, None, {},
                         world.clock, sink)  # fmt: skip
    await world.service.create_group("t1", "/g", None, {})
    await world.service.create_stream("t1", "/g", "s")
    params = {
        "filterName": "f",
        "filterPattern": "",
        "destinationArn": f"arn:aws:kinesis:{REGION}:t1:stream/k",
        "roleArn": "arn:aws:iam::t1:role/r",
    }
    with pytest.raises(InvalidParameter, match="specified Kinesis stream"):
        await made.put("t1", "/g", params)
    await made.store.put_filter(subscription_filter("t1", REGION, "/g", params, NOW), 2)
    await world.service.put_events("t1", "/g", "s", [InputEvent(NOW, "hello")])
    [waiting] = await made.store.claim("peek", NOW, NOW + 1, 10)
    assert waiting.partition_key == "s"  # ByLogStream, the default
    world.clock.now += 2
    assert await made.deliver_once("gw") == 0
    dims = (("LogGroupName", "/g"), ("DestinationType", "Kinesis"), ("FilterName", "f"))
    assert sink.points == [("t1", "AWS/Logs", "DeliveryErrors", dims, 1.0)]


async def test_a_lambda_filter_through_the_wiring(
    tmp_path: Path, db: Database, world: LogsWorld
) -> None:
    """Decision 0304: with no Lambda in ``apis`` a function's filter is refused in AWS's
    words, and a kept one's failed attempts are counted under ``DestinationType`` Lambda, its
    empty role kept through the SQL outbox; its records split to fit, in AWS's envelope, the
    deployment's Event payload."""
    settings = Settings(data_dir=tmp_path, region=REGION, lambda_max_event_payload_bytes=4096)
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    sink = RecordingSink()
    made = subscriptions(settings, db, world.service, world.kit.keys, identity, None, {},
                         world.clock, sink)  # fmt: skip
    await world.service.create_group("t1", "/g", None, {})
    await world.service.create_stream("t1", "/g", "s")
    params = {
        "filterName": "f",
        "filterPattern": "",
        "destinationArn": f"arn:aws:lambda:{REGION}:t1:function:ship",
    }
    with pytest.raises(InvalidParameter, match="Could not execute the lambda function"):
        await made.put("t1", "/g", params)
    assert made.limits.max_lambda_record == awslogs_record_bound(4096) < 4096
    await made.store.put_filter(subscription_filter("t1", REGION, "/g", params, NOW), 2)
    noise = [InputEvent(NOW, base64.b64encode(os.urandom(1900)).decode()) for _ in range(2)]
    await world.service.put_events("t1", "/g", "s", noise)  # ~5 KB of gzip: two records
    waiting = await made.store.claim("peek", NOW, NOW + 1, 10)
    assert [(w.role_arn, w.partition_key, w.events) for w in waiting] == [("", "", 1)] * 2
    world.clock.now += 2
    assert await made.deliver_once("gw") == 0
    dims = (("LogGroupName", "/g"), ("DestinationType", "Lambda"), ("FilterName", "f"))
    assert sink.points == [("t1", "AWS/Logs", "DeliveryErrors", dims, 1.0)] * 2
