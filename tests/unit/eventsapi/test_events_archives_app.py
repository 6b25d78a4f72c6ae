"""Decision 0196's archive and replay calls through the EventBridge app in process, built as
``serve`` builds it (``wiring.events``: SQL stores on SQLite, the settings' limits), each
request serialised by botocore's own ``events`` model and each answer checked against it:
archives made, described with their count and size, listed by page, updated, deleted; a
replay run by the gateway's runner queueing the window's events with ``replay-name``;
cancel; bad input answered in EventBridge's words; identity policies and audit on the
archive's and replay's ARNs; every archive setting reaching the calls or the runner."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import botocore.session
import pytest
import sqlalchemy as sa
from botocore.credentials import Credentials
from botocore.serialize import create_serializer

from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.db import tables
from andromede.db.database import Database, open_database
from andromede.eventsapi.app import CONTENT_TYPE
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.settings import Settings
from andromede.wiring.events import EventsParts, EventTargets
from support.json_client import JsonReply, Signers, signed_json_post
from support.schema import migrated_sqlite

REGION = "eu-fr-1"
MODEL = botocore.session.get_session().get_service_model("events")
SERIALIZER = create_serializer("json")
# What a client that does not check its input would send (the bad inputs' cases).
UNCHECKED = create_serializer("json", include_validation=False)


@dataclass
class Harness(Signers):
    parts: EventsParts
    db: Database
    identity: IdentityService
    credentials: Credentials | None
    tenant_id: str
    audit_store: MemoryAuditStore
    audit: AuditService

    async def call(
        self, action: str, params: dict[str, Any] | bytes, *, checked: bool = True
    ) -> JsonReply:
        body = params
        if isinstance(params, dict):  # as botocore serialises it (timestamps included)
            serializer = SERIALIZER if checked else UNCHECKED
            request = serializer.serialize_to_request(params, MODEL.operation_model(action))
            body = request["body"]
        return await signed_json_post(
            self.parts.api(self.identity, self.audit, None, None),
            f"AWSEvents.{action}",
            body,
            content_type=CONTENT_TYPE,
            credentials=self.credentials,
            service="events",
            region=REGION,
        )

    async def ok(self, action: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        reply = await self.call(action, params or {})
        assert reply.status == 200, reply.body
        answer = reply.json()
        # Every member answered is one of botocore's output shape.
        assert set(answer) <= set(MODEL.operation_model(action).output_shape.members), answer
        return answer

    async def error(self, action: str, params: dict[str, Any] | bytes) -> str:
        reply = await self.call(action, params, checked=False)
        assert 400 <= reply.status < 500, reply.body
        return str(reply.error_fields()["__type"])

    def arn(self, kind: str, name: str) -> str:
        return f"arn:aws:events:{REGION}:{self.tenant_id}:{kind}/{name}"


@pytest.fixture
async def events(tmp_path: Path) -> AsyncIterator[Harness]:
    settings = Settings(
        data_dir=tmp_path,
        region=REGION,
        events_list_page=1,
        events_max_archives=2,
        events_max_active_replays=1,
        events_replay_batch=2,
        events_replay_lease=7,
        events_archive_expiry_batch=1,
        events_replay_interval=0.05,
        events_archive_expiry_interval=0.05,
    )
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    boot = await identity.bootstrap()
    assert boot is not None
    audit_store = MemoryAuditStore()
    audit = AuditService(audit_store)
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    targets: Any = EventTargets(None, None, None)  # type: ignore[arg-type]
    try:
        yield Harness(
            EventsParts(settings, db, targets),
            db,
            identity,
            Credentials(boot.access_key_id, boot.secret_access_key),
            boot.tenant.id,
            audit_store,
            audit,
        )
    finally:
        await audit.close()
        await db.close()


async def _setup(events: Harness) -> str:
    """A rule with a queue target on the default bus, an archive of it, three events."""
    await events.ok("PutRule", {"Name": "r", "EventPattern": '{"source": ["shop"]}'})
    queue = f"arn:aws:sqs:{REGION}:{events.tenant_id}:q"
    await events.ok("PutTargets", {"Rule": "r", "Targets": [{"Id": "q", "Arn": queue}]})
    bus = events.arn("event-bus", "default")
    made = await events.ok(
        "CreateArchive",
        {"ArchiveName": "orders", "EventSourceArn": bus, "Description": "é", "RetentionDays": 3},
    )
    assert (made["ArchiveArn"], made["State"]) == (events.arn("archive", "orders"), "ENABLED")
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    entries = [
        {"Source": "shop", "DetailType": "order", "Detail": json.dumps({"n": n}), "Time": base}
        for n in range(3)
    ]
    entries[2]["Time"] = base + timedelta(minutes=5)
    assert (await events.ok("PutEvents", {"Entries": entries}))["FailedEntryCount"] == 0
    await _queued(events)  # the live deliveries out of the way
    return bus


async def _queued(events: Harness) -> list[dict[str, Any]]:
    """The events the deliveries' queue holds (taken out of it)."""
    queue = events.parts.deliveries.queue
    taken = await queue.claim(datetime.now(UTC), lease=timedelta(seconds=5), limit=100)
    for delivery in taken:
        await queue.complete(delivery)
    return [json.loads(d.message)["event"] for d in taken]


async def test_archives_and_a_replay_through_the_api(events: Harness) -> None:
    bus = await _setup(events)
    described = await events.ok("DescribeArchive", {"ArchiveName": "orders"})
    assert {k: described[k] for k in ("EventCount", "RetentionDays", "Description")} == {
        "EventCount": 3,
        "RetentionDays": 3,
        "Description": "é",
    }
    assert described["SizeBytes"] > 3 * 100 and described["EventSourceArn"] == bus
    await events.ok("CreateArchive", {"ArchiveName": "b-all", "EventSourceArn": bus})
    page = await events.ok("ListArchives", {})
    assert [a["ArchiveName"] for a in page["Archives"]] == ["b-all"]  # events_list_page
    rest = await events.ok("ListArchives", {"NextToken": page["NextToken"]})
    assert [a["ArchiveName"] for a in rest["Archives"]] == ["orders"] and "NextToken" not in rest
    assert (await events.ok("ListArchives", {"NamePrefix": "or"}))["Archives"][0]["EventCount"] == 3
    await events.ok("UpdateArchive", {"ArchiveName": "b-all", "EventPattern": '{"source":["x"]}'})
    assert (await events.ok("DescribeArchive", {"ArchiveName": "b-all"}))["EventPattern"] == (
        '{"source":["x"]}'
    )

    now = datetime.now(UTC)
    started = await events.ok(
        "StartReplay",
        {
            "ReplayName": "again",
            "EventSourceArn": events.arn("archive", "orders"),
            "EventStartTime": now - timedelta(hours=1),
            "EventEndTime": now,
            "Destination": {"Arn": bus, "FilterArns": [events.arn("rule", "r")]},
        },
    )
    assert started["State"] == "STARTING"
    assert (
        await events.error(
            "StartReplay",
            {
                "ReplayName": "second",
                "EventSourceArn": events.arn("archive", "orders"),
                "EventStartTime": now - timedelta(hours=1),
                "EventEndTime": now,
                "Destination": {"Arn": bus},
            },
        )
        == "LimitExceededException"
    )  # events_max_active_replays
    runner = events.parts.replays("gw-1")
    await runner.run_once()  # STARTING → RUNNING
    await runner.run_once()  # events_replay_batch: two events
    assert [e["detail"]["n"] for e in await _queued(events)] == [0, 1]
    lease = sa.select(tables.events_replays.c.lease_until)
    until = await events.db.read(lambda conn: conn.execute(lease).scalar_one())
    assert 5 < (until - datetime.now(UTC)).total_seconds() <= 7  # events_replay_lease
    await runner.drain()
    replayed = await _queued(events)
    assert [(e["detail"]["n"], e["replay-name"]) for e in replayed] == [(2, "again")]
    done = await events.ok("DescribeReplay", {"ReplayName": "again"})
    assert done["State"] == "COMPLETED" and done["Destination"]["FilterArns"] == [
        events.arn("rule", "r")
    ]
    last = datetime.fromisoformat(replayed[0]["time"].replace("Z", "+00:00"))
    assert done["EventLastReplayedTime"] == last.timestamp()
    assert {"ReplayStartTime", "ReplayEndTime", "EventStartTime", "EventEndTime"} <= set(done)
    listed = await events.ok("ListReplays", {"State": "COMPLETED"})
    assert [r["ReplayName"] for r in listed["Replays"]] == ["again"]
    assert await events.error("CancelReplay", {"ReplayName": "again"}) == "IllegalStatusException"
    # Not archived again; deleted with its events.
    assert (await events.ok("DescribeArchive", {"ArchiveName": "orders"}))["EventCount"] == 3
    await events.ok("DeleteArchive", {"ArchiveName": "orders"})
    assert await events.error("DescribeArchive", {"ArchiveName": "orders"}) == (
        "ResourceNotFoundException"
    )


async def test_cancel_and_the_settings(events: Harness, tmp_path: Path) -> None:
    bus = await _setup(events)
    now = datetime.now(UTC)
    replay = {
        "ReplayName": "c",
        "EventSourceArn": events.arn("archive", "orders"),
        "EventStartTime": now - timedelta(hours=1),
        "EventEndTime": now,
        "Destination": {"Arn": bus},
    }
    await events.ok("StartReplay", replay)
    cancelled = await events.ok("CancelReplay", {"ReplayName": "c"})
    assert cancelled == {"ReplayArn": events.arn("replay", "c"), "State": "CANCELLING"}
    await events.parts.replays("gw").drain()
    assert (await events.ok("DescribeReplay", {"ReplayName": "c"}))["State"] == "CANCELLED"
    assert await _queued(events) == []
    await events.ok("CreateArchive", {"ArchiveName": "b", "EventSourceArn": bus})
    assert await events.error("CreateArchive", {"ArchiveName": "c", "EventSourceArn": bus}) == (
        "LimitExceededException"  # events_max_archives
    )
    # events_archive_expiry_batch: one expired event a step, ten steps a sweep at most.
    old = tables.events_archive_events.update().values(archived_at=0)
    await events.db.write(lambda conn: conn.execute(old))
    runner = events.parts.replays("gw")
    assert await runner.sweep() == 3
    assert (await events.ok("DescribeArchive", {"ArchiveName": "orders"}))["EventCount"] == 0


BAD: list[tuple[str, dict[str, Any] | bytes, str]] = [
    ("CreateArchive", b"{", "SerializationException"),
    ("CreateArchive", {"ArchiveName": "a"}, "ValidationException"),
    ("CreateArchive", b'{"ArchiveName": 5, "EventSourceArn": "x"}', "ValidationException"),
    ("CreateArchive", {"ArchiveName": "a/b", "EventSourceArn": "BUS"}, "ValidationException"),
    ("CreateArchive", {"ArchiveName": "a", "EventSourceArn": "arn:x"}, "ValidationException"),
    (
        "CreateArchive",
        {"ArchiveName": "a", "EventSourceArn": "BUS", "EventPattern": "[1]"},
        "InvalidEventPatternException",
    ),
    (
        "CreateArchive",
        b'{"ArchiveName": "a", "EventSourceArn": "BUS", "RetentionDays": -1}',
        "ValidationException",
    ),
    (
        "CreateArchive",
        b'{"ArchiveName": "a", "EventSourceArn": "BUS", "RetentionDays": "7"}',
        "ValidationException",
    ),
    ("CreateArchive", {"ArchiveName": "a", "EventSourceArn": "BUS/x"}, "ResourceNotFoundException"),
    (
        "CreateArchive",
        {"ArchiveName": "a", "EventSourceArn": "BUS", "KmsKeyIdentifier": "alias/k"},
        "ValidationException",
    ),
    ("UpdateArchive", {"ArchiveName": "archive", "KmsKeyIdentifier": "k"}, "ValidationException"),
    ("DescribeArchive", {"ArchiveName": "nope"}, "ResourceNotFoundException"),
    ("UpdateArchive", {"ArchiveName": "nope", "Description": "d"}, "ResourceNotFoundException"),
    ("DeleteArchive", {"ArchiveName": "nope"}, "ResourceNotFoundException"),
    ("ListArchives", {"State": "GONE"}, "ValidationException"),
    ("ListArchives", {"Limit": 0}, "ValidationException"),
    ("ListReplays", {"State": "GONE"}, "ValidationException"),
    ("DescribeReplay", {"ReplayName": "nope"}, "ResourceNotFoundException"),
    ("CancelReplay", {"ReplayName": "nope"}, "ResourceNotFoundException"),
    ("StartReplay", b'{"ReplayName": "r"}', "ValidationException"),
    (
        "StartReplay",
        b'{"ReplayName": "r", "EventSourceArn": "ARCHIVE", "EventStartTime": "x", '
        b'"EventEndTime": 1, "Destination": {"Arn": "BUS"}}',
        "ValidationException",
    ),
    (
        "StartReplay",
        b'{"ReplayName": "r", "EventSourceArn": "ARCHIVE", "EventStartTime": 1e300, '
        b'"EventEndTime": 1, "Destination": {"Arn": "BUS"}}',
        "ValidationException",
    ),
    (
        "StartReplay",
        b'{"ReplayName": "r", "EventSourceArn": "ARCHIVE", "EventStartTime": 2, '
        b'"EventEndTime": 1, "Destination": {"Arn": "BUS"}}',
        "ValidationException",
    ),
    (
        "StartReplay",
        b'{"ReplayName": "r", "EventSourceArn": "ARCHIVE", "EventStartTime": 1, '
        b'"EventEndTime": 2, "Destination": "BUS"}',
        "ValidationException",
    ),
    (
        "StartReplay",
        b'{"ReplayName": "r", "EventSourceArn": "ARCHIVE", "EventStartTime": 1, '
        b'"EventEndTime": 2, "Destination": {"Arn": "BUS", "FilterArns": [1]}}',
        "ValidationException",
    ),
    (
        "StartReplay",
        b'{"ReplayName": "r", "EventSourceArn": "ARCHIVE", "EventStartTime": 1, '
        b'"EventEndTime": 2, "Destination": {"Arn": "BUS/other"}}',
        "ValidationException",
    ),
    (  # AWS replays to the archive's bus only, to rules of that bus (decision 0318)
        "StartReplay",
        b'{"ReplayName": "r", "EventSourceArn": "ARCHIVE", "EventStartTime": 1, '
        b'"EventEndTime": 2, "Destination": {"Arn": "BUS", "FilterArns": ["OTHER_RULE"]}}',
        "ValidationException",
    ),
    (
        "StartReplay",
        b'{"ReplayName": "r", "EventSourceArn": "ARCHIVEx", "EventStartTime": 1, '
        b'"EventEndTime": 2, "Destination": {"Arn": "BUS"}}',
        "ResourceNotFoundException",
    ),
]


async def test_bad_input_gets_eventbridges_errors(events: Harness) -> None:
    """One harness for all the cases (none leaves anything behind): a fixture each would
    cost a migrated database each."""
    await events.ok(
        "CreateArchive",
        {"ArchiveName": "archive", "EventSourceArn": events.arn("event-bus", "default")},
    )
    names = {
        "BUS": events.arn("event-bus", "default"),
        "ARCHIVE": events.arn("archive", "archive"),
        "OTHER_RULE": events.arn("rule", "other-bus/r"),
    }

    def filled(text: str) -> str:
        for key, value in names.items():
            text = text.replace(key, value)
        return text

    answered = []
    for action, params, _ in BAD:
        if isinstance(params, bytes):
            params = filled(params.decode()).encode()
        else:
            params = {k: filled(v) if isinstance(v, str) else v for k, v in params.items()}
        answered.append((action, params, await events.error(action, params)))
    assert [answer for _, _, answer in answered] == [expected for _, _, expected in BAD]
    assert [a["ArchiveName"] for a in (await events.ok("ListArchives", {}))["Archives"]] == [
        "archive"
    ]


async def test_identity_policies_and_audit(events: Harness) -> None:
    bus = events.arn("event-bus", "default")
    user = await events.iam_user("dev")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["events:CreateArchive", "events:DescribeArchive"],
                "Resource": events.arn("archive", "app-*"),
            },
        ],
    }
    await events.identity.put_user_policy(events.tenant_id, "dev", "events", json.dumps(policy))
    await user.ok("CreateArchive", {"ArchiveName": "app-1", "EventSourceArn": bus})
    await user.ok("DescribeArchive", {"ArchiveName": "app-1"})
    for action, params in [
        ("CreateArchive", {"ArchiveName": "other", "EventSourceArn": bus}),
        ("DeleteArchive", {"ArchiveName": "app-1"}),
        ("ListArchives", {}),
        ("DescribeReplay", {"ReplayName": "x"}),
    ]:
        assert await user.error(action, params) == "AccessDeniedException"
    await events.audit.flush()
    audited = [e for _, e in await events.audit_store.list_events(None, after_id=0, limit=100)]
    archives = [(e.action, e.outcome.value, e.resource) for e in audited if "Archive" in e.action]
    assert archives[:3] == [
        ("events:CreateArchive", "success", events.arn("archive", "app-1")),
        ("events:DescribeArchive", "success", events.arn("archive", "app-1")),
        ("events:CreateArchive", "failure", events.arn("archive", "other")),
    ]


async def test_an_idle_runner_polls_at_its_settings_pace(events: Harness) -> None:
    """``events_replay_interval``: a replay another gateway started (no wake-up here) is
    taken at the next look; ``events_archive_expiry_interval``: expired events go at the
    next sweep — both well before their defaults (a second, five minutes)."""
    bus = await _setup(events)
    runner = events.parts.replays("gw")
    task = asyncio.create_task(runner.run_forever())
    try:
        await asyncio.sleep(0.1)
        now = datetime.now(UTC)
        other = events.parts.archives
        other.on_replay = None  # another gateway's call: this runner is not woken
        await other.start_replay(
            events.tenant_id,
            "p",
            events.arn("archive", "orders"),
            now - timedelta(hours=1),
            now,
            bus,
        )
        old = tables.events_archive_events.update().values(archived_at=0)
        await events.db.write(lambda conn: conn.execute(old))
        for _ in range(40):
            state = (await events.ok("DescribeReplay", {"ReplayName": "p"}))["State"]
            count = (await events.ok("DescribeArchive", {"ArchiveName": "orders"}))["EventCount"]
            if state == "COMPLETED" and count == 0:
                break
            await asyncio.sleep(0.02)
        assert (state, count) == ("COMPLETED", 0)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
