"""The public name servers' client places read again without a restart (decision 0420):
MaxMind publishes GeoLite2 twice a week, DB-IP monthly, and an operator's updater
(``geoipupdate``) replaces the file where it is.

Every ``route53_client_geolocation_reload_interval`` each worker compares the identity of the
configured files (:func:`~andromede.route53.geolocation_files.files_identity`: path,
``st_mtime_ns``, ``st_size``, ``st_ino``) with the version its :class:`ClientGeography`
answers from. When they differ it reads and checks the new version in a thread, off the
event loop, as at start (every line, the MaxMind DB's metadata and first records, the same
bounds), while queries are still answered from the current one; then swaps it in whole. The
one geography is shared by Route 53's answers and S3's Multi-Region Access Points, so both
see the new version from their next lookup; a retired MaxMind DB is closed when its last
lookup ends.

A version that fails (a bad line, a malformed database, a file gone, or CSV files holding no
network at all: an empty or cut-off download, where the start would take an empty table as
the operator's word) is never swapped in: the
current one keeps answering and one warning names the setting and the reason, once per
version refused (not once a check). Files that change while they are read (written in place
rather than renamed into it) are read again at the next check, once they hold still, so no
half-written table is swapped in. At most two versions are held at once: the current and the
one being read."""

from __future__ import annotations

import asyncio
import csv
import logging
from collections.abc import Sized
from dataclasses import dataclass
from typing import Final

from andromede.route53.client_places import ClientGeography, PlaceFinder, close_places
from andromede.route53.geolocation_files import (
    FilesIdentity,
    GeolocationFormat,
    files_identity,
    read_places,
)

__all__ = ["GeolocationSource", "PlacesReloader"]

log = logging.getLogger(__name__)

SETTING: Final = "route53_client_geolocation_file"
# What a bad version raises: its lines and records (ValueError, UnicodeDecodeError), the CSV
# reader's own (csv.Error: a NUL byte), the file system's.
_REFUSED: Final = (ValueError, csv.Error, OSError)


@dataclass(frozen=True)
class GeolocationSource:
    """Where the places are read from, and how: the settings of decisions 0395-0420."""

    path: str
    max_networks: int
    given: GeolocationFormat = "andromede"
    max_radius: int = 0

    def identity(self) -> FilesIdentity:
        return files_identity(self.path)

    def read(self) -> PlaceFinder:
        return read_places(self.path, self.max_networks, self.given, self.max_radius)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return f"cannot be read: {exc.strerror or exc}"
    return str(exc)


class PlacesReloader:
    """Reads ``source`` again into ``geography`` when its files change (the rules above)."""

    def __init__(self, geography: ClientGeography, source: GeolocationSource) -> None:
        self._geography = geography
        self._source = source
        self._refused: object = None  # the version last refused: warned of once

    def _refuse(self, version: object, reason: str) -> None:
        if version != self._refused:
            self._refused = version
            log.warning(
                "%s: the new version is refused, the previous one still answers: %s",
                SETTING,
                reason,
            )

    def read_if_changed(self) -> tuple[FilesIdentity, PlaceFinder] | None:
        """The files' new version and its places, read and checked, None when they have not
        changed since the version answering (or the last one refused). Blocking: run in a
        thread."""
        try:
            before = self._source.identity()
        except OSError as exc:
            self._refuse(("unreadable", exc.filename, exc.errno), _reason(exc))
            return None
        if before in (self._geography.version, self._refused):
            return None
        try:
            places = self._source.read()
        except _REFUSED as exc:
            self._refuse(before, _reason(exc))
            return None
        if isinstance(places, Sized) and len(places) == 0:  # the held CSV table
            self._refuse(before, "its files hold no network")
            return None
        try:
            settled = self._source.identity() == before
        except OSError:
            settled = False
        if not settled:  # written while read: read again once it holds still
            close_places(places)
            log.info("%s changed while it was read: read again at the next check", SETTING)
            return None
        return before, places

    async def reload(self) -> bool:
        """Read the files again if they changed, and swap the new version in: whether it
        was. The read runs in a thread; cancelled meanwhile, what it read is closed."""
        work = asyncio.get_running_loop().run_in_executor(None, self.read_if_changed)
        try:
            found = await asyncio.shield(work)
        except asyncio.CancelledError:
            work.add_done_callback(_close_unused)
            raise
        if found is None:
            return False
        version, places = found
        self._geography.swap(places, version)
        self._refused = None
        log.info("%s read again: the new version answers", SETTING)
        return True

    async def run_forever(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.reload()
            except Exception:  # a fault of ours: the current version stays, tried again
                log.exception("%s could not be read again", SETTING)


def _close_unused(work: asyncio.Future[tuple[FilesIdentity, PlaceFinder] | None]) -> None:
    if not work.cancelled() and work.exception() is None:
        found = work.result()
        if found is not None:
            close_places(found[1])
