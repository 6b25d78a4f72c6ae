"""Listings: pages of objects and multipart uploads, with common prefixes rolled up.

The store pages by key; this module turns pages into S3's listings (a delimiter rolls the keys
under a common prefix into one entry, and a marker that is a common prefix resumes after
every key under it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from andromede.storage.model import ListPage, MultipartUpload, ObjectSummary
from andromede.storage.store import MetadataStore
from andromede.storage.versioning import VersionEntry, shown_version_id

__all__ = [
    "ObjectListing",
    "UploadListing",
    "VersionListing",
    "page_objects",
    "page_uploads",
    "page_versions",
]

# Sorts after any character a key can continue with: seeking to ``common_prefix + _SENTINEL``
# skips every key under a common prefix already returned (a key continuing with U+10FFFF itself
# is skipped by the listing loop).
_SENTINEL = "\U0010ffff"


@dataclass(frozen=True, slots=True)
class ObjectListing:
    objects: tuple[ObjectSummary, ...]
    common_prefixes: tuple[str, ...]
    truncated: bool
    next_marker: str | None  # last key or common prefix returned, when truncated


@dataclass(frozen=True, slots=True)
class UploadListing:
    uploads: tuple[MultipartUpload, ...]
    common_prefixes: tuple[str, ...]
    truncated: bool
    next_key_marker: str | None
    next_upload_id_marker: str | None


@dataclass(frozen=True, slots=True)
class VersionListing:
    versions: tuple[VersionEntry, ...]  # versions and delete markers, in S3's order
    common_prefixes: tuple[str, ...]
    truncated: bool
    next_key_marker: str | None
    next_version_marker: str | None  # as shown ("null" for the null version)


async def page_objects(
    store: MetadataStore,
    bucket: str,
    *,
    prefix: str = "",
    delimiter: str | None = None,
    after: str | None = None,
    max_keys: int = 1000,
) -> ObjectListing:
    """Keys (and common prefixes, when ``delimiter``) strictly after ``after``, in UTF-8
    byte order, at most ``max_keys`` entries in all."""
    if max_keys <= 0:
        return ObjectListing((), (), False, None)
    if not delimiter:
        page = await store.list_objects(bucket, prefix=prefix, after=after, limit=max_keys)
        marker = page.items[-1].key if page.truncated and page.items else None
        return ObjectListing(page.items, (), page.truncated, marker)

    objects: list[ObjectSummary] = []
    prefixes: list[str] = []
    cursor = _seek_past_prefix(after, prefix, delimiter)
    # The last common prefix returned, on this page or (the marker) on the previous one.
    skip = after if cursor != after else None
    last_marker: str | None = None
    truncated = False
    while not truncated:
        remaining = max_keys - len(objects) - len(prefixes)
        page = await store.list_objects(bucket, prefix=prefix, after=cursor, limit=remaining + 1)
        seek = False
        for record in page.items:
            common = _common_prefix(record.key, prefix, delimiter)
            if common is not None and common == skip:
                cursor = record.key  # a key past the sentinel, still under this prefix
                continue
            if len(objects) + len(prefixes) == max_keys:
                truncated = True
                break
            if common is None:
                objects.append(record)
                cursor = last_marker = record.key
            else:
                # Emit the prefix once, then seek past every key under it.
                prefixes.append(common)
                last_marker = skip = common
                cursor = common + _SENTINEL
                seek = True
                break
        if not seek and not page.truncated:
            break
    return ObjectListing(
        tuple(objects), tuple(prefixes), truncated, last_marker if truncated else None
    )


async def page_uploads(
    store: MetadataStore,
    bucket: str,
    *,
    prefix: str = "",
    delimiter: str | None = None,
    key_marker: str | None = None,
    upload_id_marker: str | None = None,
    max_uploads: int = 1000,
) -> UploadListing:
    """Uploads by (key, initiated, upload id) after the markers; with ``delimiter``, keys
    rolled up into common prefixes as in :func:`page_objects`."""

    async def fetch(
        after_key: str | None, after_id: str | None, limit: int
    ) -> ListPage[MultipartUpload]:
        return await store.list_uploads(
            bucket, prefix=prefix, after_key=after_key, after_upload_id=after_id, limit=limit
        )

    uploads, prefixes, truncated, next_key, next_id = await _page_two_markers(
        fetch,
        lambda upload: (upload.key, upload.upload_id),
        lambda upload: upload.upload_id,
        prefix=prefix,
        delimiter=delimiter,
        markers=(key_marker, upload_id_marker),
        max_items=max_uploads,
    )
    return UploadListing(tuple(uploads), tuple(prefixes), truncated, next_key, next_id)


async def page_versions(
    store: MetadataStore,
    bucket: str,
    *,
    prefix: str = "",
    delimiter: str | None = None,
    key_marker: str | None = None,
    version_marker: str | None = None,
    max_keys: int = 1000,
) -> VersionListing:
    """A versioned bucket's versions by (key, newest first) after the markers; with
    ``delimiter``, keys rolled up into common prefixes as in :func:`page_uploads`."""

    async def fetch(
        after_key: str | None, after_version: str | None, limit: int
    ) -> ListPage[VersionEntry]:
        return await store.list_object_versions(
            bucket, prefix=prefix, after_key=after_key, after_version=after_version, limit=limit
        )

    versions, prefixes, truncated, next_key, next_version = await _page_two_markers(
        fetch,
        lambda entry: (entry.key, entry.sort_id),
        lambda entry: shown_version_id(entry.version_id),
        prefix=prefix,
        delimiter=delimiter,
        markers=(key_marker, version_marker),
        max_items=max_keys,
    )
    return VersionListing(tuple(versions), tuple(prefixes), truncated, next_key, next_version)


_Entry = TypeVar("_Entry", MultipartUpload, VersionEntry)


async def _page_two_markers(
    fetch: Callable[[str | None, str | None, int], Awaitable[ListPage[_Entry]]],
    cursor_of: Callable[[_Entry], tuple[str, str]],
    marker_of: Callable[[_Entry], str],
    *,
    prefix: str,
    delimiter: str | None,
    markers: tuple[str | None, str | None],
    max_items: int,
) -> tuple[list[_Entry], list[str], bool, str | None, str | None]:
    """A listing whose entries the store pages by (key, a second marker): uploads and
    versions. ``fetch(after key, after second, limit)`` pages the store, ``cursor_of`` an
    entry's place in it, ``marker_of`` the second marker an answer shows for it. The entries
    and common prefixes, whether truncated, and then the next key and second markers."""
    if max_items <= 0:
        return [], [], False, None, None
    entries: list[_Entry] = []
    prefixes: list[str] = []
    key_marker, second_marker = markers
    cursor_key = key_marker
    cursor_second = second_marker if key_marker is not None else None
    skip: str | None = None  # the last common prefix returned
    if delimiter and key_marker is not None:
        seek = _seek_past_prefix(key_marker, prefix, delimiter)
        if seek != key_marker:
            cursor_key, cursor_second, skip = seek, None, key_marker
    last: tuple[str, str | None] | None = None
    truncated = False
    while not truncated:
        remaining = max_items - len(entries) - len(prefixes)
        page = await fetch(cursor_key, cursor_second, remaining + 1)
        seek_ahead = False
        for entry in page.items:
            key = cursor_of(entry)[0]
            common = _common_prefix(key, prefix, delimiter) if delimiter else None
            if common is not None and common == skip:
                cursor_key, cursor_second = cursor_of(entry)
                continue
            if len(entries) + len(prefixes) == max_items:
                truncated = True
                break
            if common is None:
                entries.append(entry)
                cursor_key, cursor_second = cursor_of(entry)
                last = (key, marker_of(entry))
            else:
                prefixes.append(common)
                skip = common
                last = (common, None)
                cursor_key, cursor_second = common + _SENTINEL, None
                seek_ahead = True
                break
        if not seek_ahead and not page.truncated:
            break
    next_key, next_second = last if truncated and last is not None else (None, None)
    return entries, prefixes, truncated, next_key, next_second


def _common_prefix(key: str, prefix: str, delimiter: str) -> str | None:
    """The common prefix ``key`` rolls up into under ``prefix``, or None if it stands alone."""
    if not key.startswith(prefix):
        return None
    index = key.find(delimiter, len(prefix))
    if index < 0:
        return None
    return key[: index + len(delimiter)]


def _seek_past_prefix(after: str | None, prefix: str, delimiter: str) -> str | None:
    """Where a delimited listing resumes: a marker that is itself a common prefix (the last
    entry of the previous page) means "after every key under it"."""
    if after is not None and _common_prefix(after, prefix, delimiter) == after:
        return after + _SENTINEL
    return after
