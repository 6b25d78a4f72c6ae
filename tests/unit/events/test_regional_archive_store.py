"""Decision 0397: one Region's view of the archives' store over the in-memory store — an
archive and a replay of one name in two Regions kept apart, each handed back with its own
names and Region (ARNs of that Region), listed and found in its Region only; the replays
claimed over the whole store and read back through their Region; a closed account forgotten
once, by the default Region's view; the Region a stored name is of."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from andromede.events.archive_model import Archive, Replay
from andromede.events.archive_store import MemoryArchiveStore
from andromede.events.regional_archive_store import RegionalArchiveStore, replay_region
from andromede.regional_names import region_of_stored

HOME, OTHER = "eu-fr-1", "eu-de-1"
T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _archive(region: str, name: str = "a") -> Archive:
    source = f"arn:aws:events:{region}:t1:event-bus/default"
    return Archive("t1", region, name, "default", source, created=T0)


def _replay(region: str, name: str = "r") -> Replay:
    return Replay(
        "t1",
        region,
        name,
        "a",
        f"arn:aws:events:{region}:t1:archive/a",
        T0 - timedelta(hours=1),
        T0 + timedelta(hours=1),
        f"arn:aws:events:{region}:t1:event-bus/default",
        created=T0,
    )


async def test_each_region_sees_its_own_archives_and_replays() -> None:
    whole = MemoryArchiveStore()
    home = RegionalArchiveStore(whole, HOME, HOME)
    other = RegionalArchiveStore(whole, OTHER, HOME)
    for view in (home, other):
        await view.create_archive(_archive(view.region), limit=10)
        await view.add_events("t1", "a", [(T0, f'{{"region":"{view.region}"}}')], T0)
        await view.create_replay(_replay(view.region), limit=10)

    for view in (home, other):
        (listed,) = await view.list_archives(
            "t1", prefix="", source_arn=None, state=None, after="", limit=10
        )
        assert (listed.name, listed.bus_name, listed.region) == ("a", "default", view.region)
        assert listed.arn == f"arn:aws:events:{view.region}:t1:archive/a"
        found = await view.get_archive("t1", "a")
        assert found is not None and found.event_count == 1
        (bus_archive,) = await view.bus_archives("t1", "default")
        assert bus_archive.arn == listed.arn
        (event,) = await view.events(
            "t1", "a", start=T0, end=T0 + timedelta(seconds=1), after=(0, 0), limit=10
        )
        assert event.event == f'{{"region":"{view.region}"}}'
        (replay,) = await view.list_replays(
            "t1", prefix="", source_arn=None, state=None, after="", limit=10
        )
        assert (replay.name, replay.archive_name) == ("r", "a")
        assert replay.arn == f"arn:aws:events:{view.region}:t1:replay/r"
    names = await whole.list_archives(
        "t1", prefix="", source_arn=None, state=None, after="", limit=10
    )
    assert [a.name for a in names] == ["a", f"~{OTHER}~a"]
    assert (
        await other.list_archives("t1", prefix="b", source_arn=None, state=None, after="", limit=10)
    ) == []

    # The runner claims over the whole store and reads each replay through its Region.
    claimed = await whole.claim_replays(T0, holder="g", lease=timedelta(seconds=30), limit=10)
    assert sorted(str(replay_region(r)) for r in claimed) == ["None", OTHER]
    (theirs,) = [r for r in claimed if replay_region(r) == OTHER]
    held = other.replay_out(theirs)
    assert (held.name, held.region) == ("r", OTHER)
    moved = held.moved("RUNNING", T0)
    assert await other.advance_replay(held, moved, holder="g")
    got = await other.get_replay("t1", "r")
    assert got is not None and got.state == "RUNNING"
    mine = await home.get_replay("t1", "r")
    assert mine is not None and mine.state == "STARTING"

    await other.delete_archive("t1", "a")
    assert await other.get_archive("t1", "a") is None
    assert await home.get_archive("t1", "a") is not None
    assert await other.forget_tenant("t1") == 0  # another Region's view leaves it to home's
    assert await home.forget_tenant("t1") == 1
    assert await whole.get_replay("t1", f"~{OTHER}~r") is None


def test_the_region_of_a_stored_name() -> None:
    assert region_of_stored("orders") is None
    assert region_of_stored(f"~{OTHER}~orders") == OTHER
    assert region_of_stored("~broken") is None
