"""Decision 0420: the clients' places read again without a restart. The configured file
replaced (a CSV, a MaxMind DB) is read again after ``route53_client_geolocation_reload_interval``
and answers from then on, in the one geography the name servers and S3's Multi-Region Access
Points share; a broken replacement (a bad line, a malformed database, a file gone) is kept out
with one warning naming the setting, the previous version answering; a retired MaxMind DB is
closed, but never under a lookup still reading it; a file changing while read, or a reload
cancelled while reading, swaps nothing in and leaves nothing open; 0 never reads again."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from andromede.route53.cidr_match import ClientNetwork
from andromede.route53.client_places import (
    ClientGeography,
    ClientRegions,
    GeoPlace,
    PlaceFinder,
)
from andromede.route53.geolocation_files import files_identity
from andromede.route53.geolocation_mmdb import MmdbPlaces, open_mmdb
from andromede.route53.geolocation_reload import GeolocationSource, PlacesReloader
from andromede.route53.geoproximity import ClientLocations
from andromede.settings import Settings
from andromede.wiring.route53 import geolocation_reloads, route53_limits
from support.geoip_mmdb import geolite2_record, write_mmdb

CLIENT = ipaddress.ip_network("198.51.100.7/32")
WARSAW, OSAKA = (52.23, 21.01), (34.69, 135.5)
REGIONS = {"eu-central-1": (50.11, 8.68), "ap-northeast-3": (34.69, 135.5)}


def replace(path: Path, text: str | bytes) -> None:
    """``path`` replaced whole, as geoipupdate does: written beside it, renamed onto it."""
    beside = path.with_name(path.name + ".new")
    if isinstance(text, str):
        beside.write_text(text)
    else:
        beside.write_bytes(text)
    os.replace(beside, path)


def geography_of(settings: Settings) -> ClientGeography:
    geography = route53_limits(settings).geography
    assert geography is not None
    return geography


async def until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 20
    while not check():
        assert time.monotonic() < deadline, f"never {what}"
        await asyncio.sleep(0.02)


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_replaced_csv_answers_after_the_interval(tmp_path: Path) -> None:
    path = tmp_path / "places.csv"
    path.write_text("198.51.100.0/24,EU,FR\n")
    settings = Settings(
        route53_client_geolocation_file=str(path),
        route53_client_geolocation_reload_interval=0.05,
    )
    geography = geography_of(settings)
    task = geolocation_reloads(settings, geography)
    assert task is not None
    try:
        await asyncio.sleep(0.2)  # checked, unchanged: still the first version
        assert geography.place(CLIENT).geo == GeoPlace("EU", "FR")
        replace(path, "198.51.100.0/24,NA,US,CA\n198.51.101.0/24,EU,DE\n")
        await until(lambda: geography.place(CLIENT).geo == GeoPlace("NA", "US", "CA"), "read")
        assert geography.networks == 2
        # Written again in place (not renamed): its size and time tell it too.
        path.write_text("198.51.100.0/24,AS,JP\n")
        await until(lambda: geography.place(CLIENT).geo == GeoPlace("AS", "JP"), "re-read")
    finally:
        await stop(task)


async def test_a_replaced_mmdb_moves_dns_and_mrap_clients_alike(tmp_path: Path) -> None:
    path = write_mmdb(
        tmp_path / "GeoLite2-City.mmdb",
        {"198.51.100.0/24": geolite2_record("EU", "PL", point=WARSAW)},
    )
    settings = Settings(
        route53_client_geolocation_file=str(path),
        route53_client_geolocation_reload_interval=0.05,
    )
    limits = route53_limits(settings)
    geography = limits.geography
    assert geography is not None
    # S3's Multi-Region Access Points read the same geography (decision 0413).
    nearest = ClientRegions(geography, ClientLocations({}, {}), REGIONS).nearest
    assert nearest("198.51.100.7", REGIONS) == "eu-central-1"
    task = geolocation_reloads(settings, geography)
    assert task is not None
    try:
        written = write_mmdb(
            tmp_path / "next.mmdb",
            {"198.51.100.0/24": geolite2_record("AS", "JP", point=OSAKA)},
        )
        os.replace(written, path)
        await until(lambda: nearest("198.51.100.7", REGIONS) == "ap-northeast-3", "moved")
        assert geography.place(CLIENT).geo == GeoPlace("AS", "JP")
    finally:
        await stop(task)


async def test_a_broken_replacement_is_kept_out_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "places.csv"
    path.write_text("198.51.100.0/24,EU,FR\n")
    settings = Settings(route53_client_geolocation_file=str(path))
    geography = geography_of(settings)
    reloader = PlacesReloader(geography, GeolocationSource(str(path), 100))
    caplog.set_level(logging.WARNING, "andromede.route53.geolocation_reload")
    for broken, reason in (
        # Half the table good: all of it kept out.
        ("198.51.100.0/24,NA,US\n198.51.101.0/24,XX,US\n", "line 2: 'XX' is no continent"),
        ("198.51.100.0/24,NA,US\n" * 101, "more than 100 networks"),
        ("198.51.100.0/24,NA,US\n" + "x" * 200_000, "field larger"),  # csv's own error
        ("network,continent,country\n", "its files hold no network"),  # a cut-off download
        ("198.51.100.0/24,NA,US\n\xff\n".encode("latin-1"), "decode"),  # no UTF-8
    ):
        caplog.clear()
        replace(path, broken)
        assert not await reloader.reload()
        assert not await reloader.reload()  # said once, not once a check
        assert geography.place(CLIENT).geo == GeoPlace("EU", "FR")
        (warned,) = caplog.messages
        assert warned.startswith(
            "route53_client_geolocation_file: the new version is refused, the previous one"
            " still answers: "
        )
        assert reason in warned
    caplog.clear()
    path.unlink()
    assert not await reloader.reload()
    assert not await reloader.reload()
    assert [r.getMessage().rpartition(": ")[2] for r in caplog.records] == [
        "No such file or directory"
    ]
    assert geography.place(CLIENT).geo == GeoPlace("EU", "FR")
    path.write_text("198.51.100.0/24,NA,US\n")  # mended: read
    assert await reloader.reload()
    assert geography.place(CLIENT).geo == GeoPlace("NA", "US")


async def test_a_malformed_mmdb_replacement_is_kept_out_and_the_old_one_answers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_mmdb(
        tmp_path / "GeoLite2-City.mmdb", {"198.51.100.0/24": geolite2_record("EU", "FR")}
    )
    settings = Settings(
        route53_client_geolocation_file=str(path), route53_client_geolocation_format="mmdb"
    )
    geography = geography_of(settings)
    reloader = PlacesReloader(geography, GeolocationSource(str(path), 100, "mmdb"))
    good = write_mmdb(tmp_path / "good.mmdb", {"198.51.100.0/24": geolite2_record("NA", "US")})
    replace(path, good.read_bytes()[: good.stat().st_size // 2])  # cut off: no metadata
    caplog.set_level(logging.WARNING, "andromede.route53.geolocation_reload")
    assert not await reloader.reload()
    (warned,) = caplog.messages
    assert "still answers: GeoLite2-City.mmdb: no MaxMind DB (no metadata marker)" in warned
    asn = write_mmdb(
        tmp_path / "asn.mmdb",
        {"198.51.100.0/24": {"autonomous_system_number": 64496}},
        database_type="GeoLite2-ASN",
    )
    os.replace(asn, path)
    assert not await reloader.reload()
    assert "a 'GeoLite2-ASN' MaxMind DB places no client" in caplog.messages[-1]
    assert geography.place(CLIENT).geo == GeoPlace("EU", "FR")  # the old mapping still read
    os.replace(good, path)
    assert await reloader.reload()
    assert geography.place(CLIENT).geo == GeoPlace("NA", "US")


@dataclass(frozen=True)
class _Source(GeolocationSource):
    """The settings' source, keeping what it read, with something done while it reads."""

    during_read: list[Callable[[], None]] = field(default_factory=list)
    read_places: list[PlaceFinder] = field(default_factory=list)

    def read(self) -> PlaceFinder:
        found = super().read()
        self.read_places.append(found)
        while self.during_read:
            self.during_read.pop(0)()
        return found


async def test_the_old_mmdb_is_closed_when_swapped_out(tmp_path: Path) -> None:
    path = write_mmdb(
        tmp_path / "GeoLite2-City.mmdb", {"198.51.100.0/24": geolite2_record("EU", "FR")}
    )
    first = open_mmdb(path)
    geography = ClientGeography(first, {}, version=files_identity(str(path)))
    source = _Source(str(path), 100)
    reloader = PlacesReloader(geography, source)
    assert not await reloader.reload() and not source.read_places  # unchanged: not read
    os.replace(
        write_mmdb(tmp_path / "next.mmdb", {"198.51.100.0/24": geolite2_record("NA", "US")}), path
    )
    assert await reloader.reload()
    assert first.closed
    (second,) = source.read_places
    assert isinstance(second, MmdbPlaces) and not second.closed
    assert geography.place(CLIENT).geo == GeoPlace("NA", "US")
    assert not await reloader.reload()  # unchanged since: not read again
    assert len(source.read_places) == 1


class _Held:
    """A version whose lookups wait for ``release``: one under way while it is swapped out."""

    def __init__(self, place: GeoPlace) -> None:
        self.place = place
        self.entered = threading.Event()
        self.release = threading.Event()
        self.closed = False

    def find(self, client: ClientNetwork) -> GeoPlace | None:
        self.entered.set()
        assert self.release.wait(20)
        assert not self.closed, "read after it was closed"
        return self.place

    def close(self) -> None:
        self.closed = True


def test_a_version_is_closed_only_after_its_last_lookup() -> None:
    old = _Held(GeoPlace("EU", "FR"))
    geography = ClientGeography(old, {})
    found: list[GeoPlace | None] = []
    lookup = threading.Thread(target=lambda: found.append(geography.place(CLIENT).geo))
    lookup.start()
    try:
        assert old.entered.wait(20)
        new = _Held(GeoPlace("NA", "US"))
        new.release.set()
        geography.swap(new, "v2")
        assert geography.version == "v2"
        assert not old.closed  # a lookup still reads it
        assert geography.place(CLIENT).geo == GeoPlace("NA", "US")  # new lookups: the new one
    finally:
        old.release.set()
        lookup.join(20)
    assert found == [GeoPlace("EU", "FR")]  # the lookup under way answered from its version
    assert old.closed and not new.closed


async def test_a_file_changing_while_read_is_read_again_once_it_holds_still(
    tmp_path: Path,
) -> None:
    path = write_mmdb(
        tmp_path / "GeoLite2-City.mmdb", {"198.51.100.0/24": geolite2_record("EU", "FR")}
    )
    geography = geography_of(Settings(route53_client_geolocation_file=str(path)))
    later = write_mmdb(tmp_path / "later.mmdb", {"198.51.100.0/24": geolite2_record("AS", "JP")})
    source = _Source(str(path), 100, during_read=[lambda: os.replace(later, path)])
    os.replace(
        write_mmdb(tmp_path / "next.mmdb", {"198.51.100.0/24": geolite2_record("NA", "US")}), path
    )
    reloader = PlacesReloader(geography, source)
    assert not await reloader.reload()  # changed under the read: nothing swapped in
    assert geography.place(CLIENT).geo == GeoPlace("EU", "FR")
    (unsettled,) = source.read_places
    assert isinstance(unsettled, MmdbPlaces) and unsettled.closed  # nothing left open
    assert await reloader.reload()  # still now: read again
    assert geography.place(CLIENT).geo == GeoPlace("AS", "JP")


async def test_a_cancelled_reload_leaves_nothing_open(tmp_path: Path) -> None:
    path = write_mmdb(
        tmp_path / "GeoLite2-City.mmdb", {"198.51.100.0/24": geolite2_record("EU", "FR")}
    )
    geography = geography_of(Settings(route53_client_geolocation_file=str(path)))
    entered, release = threading.Event(), threading.Event()

    def slow() -> None:
        entered.set()
        assert release.wait(20)

    source = _Source(str(path), 100, during_read=[slow])
    os.replace(
        write_mmdb(tmp_path / "next.mmdb", {"198.51.100.0/24": geolite2_record("NA", "US")}), path
    )
    reloading = asyncio.create_task(PlacesReloader(geography, source).reload())
    assert await asyncio.to_thread(entered.wait, 20)
    reloading.cancel()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await reloading
    (read,) = source.read_places
    assert isinstance(read, MmdbPlaces)
    await until(lambda: read.closed, "closed what the cancelled read mapped")
    assert geography.place(CLIENT).geo == GeoPlace("EU", "FR")


def test_the_interval_setting() -> None:
    assert Settings().route53_client_geolocation_reload_interval == 300
    with pytest.raises(ValueError):
        Settings(route53_client_geolocation_reload_interval=-1)
    with pytest.raises(ValueError):
        Settings(route53_client_geolocation_reload_interval=86401)


async def test_no_reload_without_a_file_or_at_0(tmp_path: Path) -> None:
    path = tmp_path / "places.csv"
    path.write_text("198.51.100.0/24,EU,FR\n")
    never = Settings(
        route53_client_geolocation_file=str(path), route53_client_geolocation_reload_interval=0
    )
    assert geolocation_reloads(never, geography_of(never)) is None
    regions_only = Settings(route53_client_regions={"198.51.100.0/24": "eu-west-3"})
    assert geolocation_reloads(regions_only, route53_limits(regions_only).geography) is None
    assert geolocation_reloads(Settings(), None) is None
