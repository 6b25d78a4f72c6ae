"""Decision 0186's service over the in-memory store and the real sealer: GetLogEvents'
positions and tokens (AWS's same token at either end), FilterLogEvents' pages, the bytes
kept per stream and group, the retention sweep, and the events sealed — under the account's
key ring, or the group's KMS key, which once disabled stops writes and reads."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.billing.model import parse_month
from andromede.billing.service import BillingService
from andromede.billing.store import MemoryBillingStore
from andromede.logs.errors import (
    InvalidParameter,
    KmsKeyUnusable,
    LimitExceeded,
    ResourceAlreadyExists,
    ResourceNotFound,
)
from andromede.logs.model import InputEvent
from andromede.logs.service import LogsLimits, LogsService
from andromede.logs.store import EventQuery
from andromede.wiring.logs import LogKeySealer
from support.kmskit import ACCOUNT_A, ACCOUNT_B, REGION, root
from support.logsapp import NOW, LogsWorld, logs_world

DAY = 86_400_000


@pytest.fixture
def world(tmp_path: Path) -> Iterator[LogsWorld]:
    yield from logs_world(tmp_path, LogsLimits(max_groups=3, page=2, events_page=100))


async def fill(world: LogsWorld, count: int, stream: str = "s") -> None:
    await world.service.create_group(ACCOUNT_A, "g", None, {})
    await world.service.create_stream(ACCOUNT_A, "g", stream)
    events = [InputEvent(NOW - 10_000 + i, f"event {i}") for i in range(count)]
    await world.service.put_events(ACCOUNT_A, "g", stream, events)


async def test_get_events_backward_from_the_end_then_forward(world: LogsWorld) -> None:
    await fill(world, 7)
    logs = world.service

    async def get(token: str | None = None, head: bool = False) -> tuple[list[str], str, str]:
        events, forward, backward = await logs.get_events(
            ACCOUNT_A, "g", "s", start=None, end=None, start_from_head=head, limit=3, token=token
        )
        return [e.message for e in events], forward, backward

    last, forward, backward = await get()
    assert last == ["event 4", "event 5", "event 6"]  # the latest, in time order
    assert (await get(forward))[0] == []
    assert (await get(forward))[1] == forward  # the end: the same token back
    before, _, backward2 = await get(backward)
    assert before == ["event 1", "event 2", "event 3"]
    first, _, backward3 = await get(backward2)
    assert first == ["event 0"]
    assert await get(backward3) == ([], f"f/{backward3[2:]}", backward3)
    head, forward, _ = await get(head=True)
    assert head == ["event 0", "event 1", "event 2"]
    assert (await get(forward))[0] == ["event 3", "event 4", "event 5"]


async def test_get_events_time_range_and_bad_token(world: LogsWorld) -> None:
    await fill(world, 5)
    events, _, _ = await world.service.get_events(
        ACCOUNT_A,
        "g",
        "s",
        start=NOW - 10_000 + 1,
        end=NOW - 10_000 + 3,
        start_from_head=True,
        limit=None,
        token=None,
    )
    assert [e.message for e in events] == ["event 1", "event 2"]
    with pytest.raises(InvalidParameter, match="nextToken"):
        await world.service.get_events(
            ACCOUNT_A, "g", "s", start=None, end=None, start_from_head=True, limit=1, token="zz"
        )
    with pytest.raises(InvalidParameter, match="limit"):
        await world.service.get_events(
            ACCOUNT_A, "g", "s", start=None, end=None, start_from_head=True, limit=101, token=None
        )


async def test_filter_pages_across_streams(world: LogsWorld) -> None:
    await fill(world, 6, "a")
    await world.service.create_stream(ACCOUNT_A, "g", "b")
    await world.service.put_events(
        ACCOUNT_A, "g", "b", [InputEvent(NOW - 10_000 + 2, '{"level": "ERROR", "n": 1}')]
    )

    async def page(
        pattern: str, token: str | None = None, **kw: object
    ) -> tuple[list[str], str | None]:
        events, following = await world.service.filter_events(
            ACCOUNT_A,
            "g",
            streams=kw.get("streams"),  # type: ignore[arg-type]
            stream_prefix=str(kw.get("prefix", "")),
            start=None,
            end=None,
            pattern=pattern,
            limit=2,
            token=token,
        )
        return [f"{e.stream}:{e.message}" for e in events], following

    found, token = await page("")
    assert found == ["a:event 0", "a:event 1"] and token is not None
    found, token = await page("", token)
    # The same millisecond: in the order stored.
    assert found == ["a:event 2", 'b:{"level": "ERROR", "n": 1}']
    assert await page("{ $.level = ERROR }") == (['b:{"level": "ERROR", "n": 1}'], None)
    found, token = await page("event -3 -4 -0 -1", prefix="a")
    assert found == ["a:event 2", "a:event 5"]
    assert await page("event -3 -4 -0 -1", token, prefix="a") == ([], None)
    assert (await page("event", streams=["b"])) == ([], None)
    with pytest.raises(InvalidParameter, match="mutually exclusive"):
        await page("", streams=["a"], prefix="a")


async def test_groups_limits_tags_and_bytes(world: LogsWorld) -> None:
    logs = world.service
    for name in ("b", "a", "c"):
        await logs.create_group(ACCOUNT_A, name, None, {"team": name})
    with pytest.raises(ResourceAlreadyExists):
        await logs.create_group(ACCOUNT_A, "a", None, {})
    with pytest.raises(LimitExceeded):
        await logs.create_group(ACCOUNT_A, "d", None, {})
    await logs.create_group(ACCOUNT_B, "a", None, {})  # another account's own bound
    groups, token = await logs.describe_groups(ACCOUNT_A, "", "", None, None)
    assert [g.name for g in groups] == ["a", "b"] and token is not None
    groups, token = await logs.describe_groups(ACCOUNT_A, "", "", None, token)
    assert [g.name for g in groups] == ["c"] and token is None
    assert [g.name for g in (await logs.describe_groups(ACCOUNT_A, "", "B", 2, None))[0]] == ["b"]
    await logs.tag_group(ACCOUNT_A, "a", {"env": "prod"})
    await logs.untag_group(ACCOUNT_A, "a", ["team"])
    assert (await logs.group(ACCOUNT_A, "a")).tags == {"env": "prod"}
    await logs.create_stream(ACCOUNT_A, "a", "s")
    await logs.put_events(ACCOUNT_A, "a", "s", [InputEvent(NOW, "héllo")])
    assert (await logs.group(ACCOUNT_A, "a")).stored_bytes == 6
    assert (await logs.stream(ACCOUNT_A, "a", "s")).stored_bytes == 6
    with pytest.raises(InvalidParameter, match="retentionInDays"):
        await logs.put_retention(ACCOUNT_A, "a", 2)
    await logs.put_retention(ACCOUNT_A, "a", 1)
    world.clock.now = NOW + DAY + 1
    assert await logs.expire(100) == 1
    assert (await logs.group(ACCOUNT_A, "a")).stored_bytes == 0
    assert (await logs.stream(ACCOUNT_A, "a", "s")).stored_bytes == 0
    await logs.delete_group(ACCOUNT_A, "a")
    with pytest.raises(ResourceNotFound, match="log group"):
        await logs.stream(ACCOUNT_A, "a", "s")


async def test_events_sealed_under_the_account_key_ring(world: LogsWorld) -> None:
    await fill(world, 1)
    stored = await world.store.read(EventQuery(ACCOUNT_A, "g"))
    assert stored and b"event 0" not in stored[0].sealed


async def test_kms_key_seals_and_disabling_it_stops_reads_and_writes(world: LogsWorld) -> None:
    keys = world.kit.service
    key = await keys.create_key(root(ACCOUNT_A))
    logs = world.service
    with pytest.raises(KmsKeyUnusable):
        await logs.create_group(ACCOUNT_A, "k", "arn:aws:kms:eu-fr-1:111111111111:key/nope", {})
    other = await keys.create_key(root(ACCOUNT_B))
    with pytest.raises(KmsKeyUnusable):
        await logs.create_group(ACCOUNT_A, "k", other.arn, {})
    await logs.create_group(ACCOUNT_A, "k", key.arn, {})
    await logs.create_stream(ACCOUNT_A, "k", "s")
    await logs.put_events(ACCOUNT_A, "k", "s", [InputEvent(NOW, "secret under kms")])

    async def read() -> list[str]:
        events, _, _ = await logs.get_events(
            ACCOUNT_A, "k", "s", start=None, end=None, start_from_head=True, limit=None, token=None
        )
        return [e.message for e in events]

    assert await read() == ["secret under kms"]
    await logs.associate_key(ACCOUNT_A, "k", None)  # what was sealed keeps its key
    await logs.put_events(ACCOUNT_A, "k", "s", [InputEvent(NOW + 1, "under the ring")])
    assert await read() == ["secret under kms", "under the ring"]
    await keys.disable_key(root(ACCOUNT_A), key.key_id)
    with pytest.raises(KmsKeyUnusable):
        await read()
    with pytest.raises(KmsKeyUnusable):
        await logs.associate_key(ACCOUNT_A, "k", key.arn)


async def test_kms_key_uses_are_audited_and_billed(world: LogsWorld) -> None:
    audit_store = MemoryAuditStore()
    audit = AuditService(audit_store)
    billing = BillingService(MemoryBillingStore(), region=REGION, instance_types=[])
    sealer = LogKeySealer(world.kit.keys, world.kit.service, audit, billing, REGION)
    logs = LogsService(world.store, sealer, REGION, clock=world.clock)
    try:
        key = await world.kit.service.create_key(root(ACCOUNT_A))
        await logs.create_group(ACCOUNT_A, "k", key.arn, {})
        await logs.create_stream(ACCOUNT_A, "k", "s")
        await logs.put_events(ACCOUNT_A, "k", "s", [InputEvent(NOW, "a"), InputEvent(NOW, "b")])
        await logs.filter_events(
            ACCOUNT_A,
            "k",
            streams=None,
            stream_prefix="",
            start=None,
            end=None,
            pattern="",
            limit=None,
            token=None,
        )
        await world.kit.service.disable_key(root(ACCOUNT_A), key.key_id)
        with pytest.raises(KmsKeyUnusable):
            await logs.put_events(ACCOUNT_A, "k", "s", [InputEvent(NOW, "c")])
        await audit.flush()
        records = [e for _, e in await audit_store.list_events(None, after_id=0, limit=50)]
        uses = [(e.action, e.principal, e.outcome.value) for e in records]
        assert uses == [
            ("kms:GenerateDataKey", "logs.amazonaws.com", "success"),
            ("kms:Decrypt", "logs.amazonaws.com", "success"),  # once for the whole read
            ("kms:GenerateDataKey", "logs.amazonaws.com", "failure"),
        ]
        assert {e.resource for e in records} == {key.arn}
        await billing.flush()
        month = parse_month(datetime.now(UTC).strftime("%Y-%m"))
        report = await billing.usage_report(ACCOUNT_A, month)
        assert sum(line.quantity for line in report.lines if line.meter == "kms.requests") == 2
    finally:
        await audit.close()
        await billing.close()


async def test_pages_stop_at_the_response_bytes_and_read_in_chunks(tmp_path: Path) -> None:
    """250 events of 100 bytes, pages of at most 1,000 bytes: ten events a page, every event
    read once in order, both ways, across the store's chunks of 100."""
    for world in logs_world(tmp_path, LogsLimits(max_response_bytes=1000)):
        logs = world.service
        await logs.create_group(ACCOUNT_A, "g", None, {})
        await logs.create_stream(ACCOUNT_A, "g", "s")
        events = [InputEvent(NOW - 1000 + i, f"{i:03d}".ljust(100, ".")) for i in range(250)]
        await logs.put_events(ACCOUNT_A, "g", "s", events)
        seen: list[str] = []
        token = None
        while True:
            page, forward, _ = await logs.get_events(
                ACCOUNT_A, "g", "s", start=None, end=None, start_from_head=True, limit=None,
                token=token,
            )  # fmt: skip
            assert len(page) <= 10
            seen += [e.message[:3] for e in page]
            if forward == token:
                break
            token = forward
        assert seen == [f"{i:03d}" for i in range(250)]
        latest, _, backward = await logs.get_events(
            ACCOUNT_A, "g", "s", start=None, end=None, start_from_head=False, limit=None, token=None
        )
        assert [e.message[:3] for e in latest] == [f"{i:03d}" for i in range(240, 250)]
        before, _, _ = await logs.get_events(
            ACCOUNT_A, "g", "s", start=None, end=None, start_from_head=False, limit=None,
            token=backward,
        )  # fmt: skip
        assert [e.message[:3] for e in before] == [f"{i:03d}" for i in range(230, 240)]
        found: list[str] = []
        token = None
        while True:
            page, token = await logs.filter_events(
                ACCOUNT_A, "g", streams=None, stream_prefix="", start=None, end=None,
                pattern="-7", limit=None, token=token,
            )  # fmt: skip
            assert len(page) <= 10
            found += [e.message[:3] for e in page]
            if token is None:
                break
        assert found == [f"{i:03d}" for i in range(250) if "7" not in f"{i:03d}"]


async def test_closing_a_tenant_forgets_its_groups_only(world: LogsWorld) -> None:
    logs = world.service
    await fill(world, 3)
    await logs.create_group(ACCOUNT_A, "second", None, {})
    await logs.create_group(ACCOUNT_B, "theirs", None, {})
    assert await logs.forget_tenant(ACCOUNT_A) == 2
    assert (await logs.describe_groups(ACCOUNT_A, "", "", None, None))[0] == []
    assert await world.store.read(EventQuery(ACCOUNT_A, "g")) == []
    theirs = (await logs.describe_groups(ACCOUNT_B, "", "", None, None))[0]
    assert [g.name for g in theirs] == ["theirs"]
