"""Migration 0157 (decision 0390): on SQLite and a real PostgreSQL, a database at 0156 holding
flow logs written by the release before 0387 — to an untagged stream of their account, to one
tagged already, to one whose owner set ``LogDeliveryEnabled=false``, to one at the 50-tag
quota, to a stream gone, to another account's stream, and to a bucket — and the Firehose
streams themselves, written by the real stores. Before the upgrade the real delivery refuses
the untagged streams (``Access error``); after it, it puts into every stream of the flow
log's account that the owner did not say no for, the other account's stream is untouched, run
again nothing moves, and the downgrade keeps the tags."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from andromede.compute.flow_log import (
    DEFAULT_FORMAT,
    Destination,
    FlowLog,
    ResourceType,
    TrafficType,
)
from andromede.compute.store_sql import SqlComputeStore
from andromede.db.database import Database, create_engine, open_database
from andromede.firehose.store_sql import SqlFirehoseStore
from andromede.flow_log_streams import FlowLogStreams
from support.firehoseapp import REGION, World, firehose_world
from support.json_client import CallFailed
from support.migrations import migrate

_BEFORE = "0156"
_THEIRS = "999999999999"
_WHEN = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
_ENABLED = {"LogDeliveryEnabled": "true"}
_BUCKET = "arn:aws:s3:::landing"


def _flow_log(number: int, tenant_id: str, destination: Destination) -> FlowLog:
    return FlowLog(
        f"fl-{number:017x}",
        tenant_id,
        ResourceType.VPC,
        "vpc-0123456789abcdef0",
        TrafficType.ALL,
        destination,
        DEFAULT_FORMAT,
        60,
        _WHEN,
    )


def _arn(account: str, name: str) -> str:
    return f"arn:aws:firehose:{REGION}:{account}:deliverystream/{name}"


async def _stream(fire: World, name: str, tags: dict[str, str]) -> None:
    await fire.client(
        "CreateDeliveryStream",
        DeliveryStreamName=name,
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={"RoleARN": await fire.role(name), "BucketARN": _BUCKET},
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )


async def _tags(fire: World, name: str) -> dict[str, str]:
    listed = await fire.client("ListTagsForDeliveryStream", DeliveryStreamName=name, Limit=50)
    tags = {t["Key"]: t["Value"] for t in listed["Tags"]}
    if listed["HasMoreTags"]:
        last = listed["Tags"][-1]["Key"]
        more = await fire.client(
            "ListTagsForDeliveryStream", DeliveryStreamName=name, ExclusiveStartTagKey=last
        )
        tags |= {t["Key"]: t["Value"] for t in more["Tags"]}
    return tags


def _stream_rows(url: str) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT tenant_id, stream_name, tags, revision, updated FROM firehose_streams"
                    " ORDER BY tenant_id, stream_name"
                )
            )
            return [tuple(row) for row in rows]
    finally:
        engine.dispose()


@dataclasses.dataclass(frozen=True)
class _At0156:
    url: str
    db: Database
    fire: World


@pytest.fixture
async def at_0156(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[_At0156]:
    """The Firehose service over a database migrated to 0156."""
    url = (
        request.getfixturevalue("postgres_empty_url")
        if request.param == "postgresql"
        else f"sqlite:///{tmp_path / 'meta.db'}"
    )
    await asyncio.to_thread(migrate, url, _BEFORE)
    db = open_database(url)
    try:
        async for fire in firehose_world(tmp_path / "fire", SqlFirehoseStore(db)):
            yield _At0156(url, db, fire)
    finally:
        await db.close()


async def _setting_before_0387(fire: World, db: Database) -> dict[str, FlowLog]:
    """Streams and flow logs as the release before 0387 left them: no stream tagged by it."""
    await fire.bucket()
    await _stream(fire, "flows", {"team": "sec"})
    await _stream(fire, "tagged", _ENABLED)
    await _stream(fire, "refused", {"LogDeliveryEnabled": "false"})
    await _stream(fire, "full", {f"k{n:02}": "v" for n in range(50)})
    flows = await fire.firehose.get(fire.tenant_id, "flows")
    # Another account's stream, stored as its account made it.
    theirs = dataclasses.replace(flows, tenant_id=_THEIRS, name="theirs", tags=())
    await fire.firehose.store.create(theirs, max_streams=10)
    await fire.deliverer.run_pass()  # ACTIVE
    own = fire.tenant_id
    flow_logs = {
        "flows": _flow_log(1, own, Destination(stream_arn=_arn(own, "flows"))),
        "tagged": _flow_log(2, own, Destination(stream_arn=_arn(own, "tagged"))),
        "refused": _flow_log(3, own, Destination(stream_arn=_arn(own, "refused"))),
        "full": _flow_log(4, own, Destination(stream_arn=_arn(own, "full"))),
        "gone": _flow_log(5, own, Destination(stream_arn=_arn(own, "gone"))),
        "theirs": _flow_log(
            6,
            own,
            Destination(
                role_arn=f"arn:aws:iam::{own}:role/deliver",
                stream_arn=_arn(_THEIRS, "theirs"),
                cross_account_role=f"arn:aws:iam::{_THEIRS}:role/log-delivery",
            ),
        ),
        "bucket": _flow_log(7, own, Destination(bucket="landing", prefix="flows/")),
        # A second flow log to one stream: tagged once.
        "flows again": _flow_log(8, own, Destination(stream_arn=_arn(own, "flows"))),
    }
    await SqlComputeStore(db).insert(*flow_logs.values())
    return flow_logs


async def _delivered(streams: FlowLogStreams, flow_logs: dict[str, FlowLog]) -> dict[str, Any]:
    """Each Firehose flow log's delivery of one record, read back from the store."""
    return {
        name: await streams.deliver(flow_log, [b"x\n"])
        for name, flow_log in flow_logs.items()
        if flow_log.destination.stream_arn
    }


@pytest.mark.parametrize("at_0156", ["sqlite", "postgresql"], indirect=True)
async def test_flow_logs_made_before_the_tag_keep_delivering(at_0156: _At0156) -> None:
    fire, url, db = at_0156.fire, at_0156.url, at_0156.db
    flow_logs = await _setting_before_0387(fire, db)
    streams = FlowLogStreams(lambda: fire.firehose)
    refused = "Access error"
    # What decision 0387 alone does to them on upgrade: the untagged streams refused.
    assert await _delivered(streams, flow_logs) == {
        "flows": refused,
        "tagged": None,
        "refused": refused,
        "full": refused,
        "gone": refused,
        "theirs": refused,  # no cross-account chain in this wiring
        "flows again": refused,
    }
    incoming = fire.sink.total("IncomingRecords")
    before = await fire.firehose.get(fire.tenant_id, "flows")

    await asyncio.to_thread(migrate, url, "0157")

    # Read back as the next release reads them, and delivered by its delivery code.
    stored = {f.flow_log_id: f for f in await SqlComputeStore(db).list(FlowLog, fire.tenant_id)}
    assert len(stored) == len(flow_logs)
    kept = {name: stored[f.flow_log_id] for name, f in flow_logs.items()}
    assert await _delivered(streams, kept) == {
        "flows": None,
        "tagged": None,
        "refused": refused,  # the owner's value of the key stands
        "full": None,
        "gone": refused,
        "theirs": refused,
        "flows again": None,
    }
    assert fire.sink.total("IncomingRecords") == incoming + 4
    assert await _tags(fire, "flows") == {"team": "sec"} | _ENABLED
    assert await _tags(fire, "tagged") == _ENABLED
    assert await _tags(fire, "refused") == {"LogDeliveryEnabled": "false"}
    full = await _tags(fire, "full")
    assert len(full) == 51 and full["LogDeliveryEnabled"] == "true"
    # The other account's stream is its delivery's to tag, through that account's role.
    assert (await fire.firehose.get(_THEIRS, "theirs")).tags == ()
    # The write moved the stream's revision as a tagging does: an older read cannot undo it.
    after = await fire.firehose.get(fire.tenant_id, "flows")
    assert after.revision == before.revision + 1 and after.updated >= before.updated
    assert after.version == before.version
    stale = dataclasses.replace(before, tags=(), revision=before.revision + 1)
    assert not await fire.firehose.store.replace(stale)

    # The stream over the quota may change the values it has, not take a key more.
    await fire.client(
        "TagDeliveryStream", DeliveryStreamName="full", Tags=[{"Key": "k00", "Value": "w"}]
    )
    with pytest.raises(CallFailed) as raised:
        await fire.client(
            "TagDeliveryStream", DeliveryStreamName="full", Tags=[{"Key": "new", "Value": "v"}]
        )
    assert raised.value.code == "LimitExceededException"

    # Run again (down and up): the tags stay and nothing moves.
    rows = await asyncio.to_thread(_stream_rows, url)
    await asyncio.to_thread(migrate, url, _BEFORE, down=True)
    assert await asyncio.to_thread(_stream_rows, url) == rows
    await asyncio.to_thread(migrate, url, "0157")
    assert await asyncio.to_thread(_stream_rows, url) == rows


def test_reads_documents_as_stored_and_ignores_what_is_not_a_stream(tmp_path: Path) -> None:
    """A flow log document written before decision 0370 (no ``cross_account_role``) or 0348
    (no ``stream_arn``) is read; an ARN that is not one is skipped."""
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    migrate(url, _BEFORE)
    engine = create_engine(url)
    own = "111111111111"
    tags = json.dumps([["team", "sec"]])
    documents = [
        {"tenant_id": own, "destination": {"bucket": "b", "prefix": ""}},
        {"tenant_id": own, "destination": {"stream_arn": _arn(own, "flows"), "bucket": ""}},
        {"tenant_id": own, "destination": {"stream_arn": "not-an-arn"}},
    ]
    try:
        with engine.begin() as conn:
            for number, document in enumerate(documents):
                conn.execute(
                    sa.text(
                        "INSERT INTO compute_flow_logs (id, tenant_id, document, format_version,"
                        " revision) VALUES (:id, :tenant, :document, 1, 0)"
                    ),
                    {"id": f"fl-{number}", "tenant": own, "document": json.dumps(document)},
                )
            conn.execute(
                sa.text(
                    "INSERT INTO firehose_streams (tenant_id, stream_name, region, status,"
                    " version, created, updated, destination, tags, revision, size_bytes,"
                    " interval_ms, buffered_records, buffered_bytes, next_attempt, lease_until,"
                    " format_version) VALUES (:tenant, 'flows', :region, 'ACTIVE', 1, 1, 1,"
                    " '{}', :tags, 3, 0, 0, 0, 0, 0, 0, 1)"
                ),
                {"tenant": own, "region": REGION, "tags": tags},
            )
    finally:
        engine.dispose()
    migrate(url, "0157")
    (row,) = _stream_rows(url)
    assert json.loads(row[2]) == [["team", "sec"], ["LogDeliveryEnabled", "true"]]
    assert row[3] == 4
