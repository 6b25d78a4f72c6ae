"""Listings: pages of objects and multipart uploads, with common prefixes rolled up.

The store pages by key; this module turns pages into S3's listings (a delimiter rolls the keys
under a common prefix into one entry, and a marker that is a common prefix resumes after
every key under it).
"""

from __future__ import annotations

from dataclasses import dataclass

from andromede.storage.model import MultipartUpload, ObjectSummary
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
    if max_uploads <= 0:
        return UploadListing((), (), False, None, None)
    uploads: list[MultipartUpload] = []
    prefixes: list[str] = []
    cursor_key = key_marker
    cursor_id = upload_id_marker if key_marker is not None else None
    skip: str | None = None  # the last common prefix returned
    if delimiter and key_marker is not None:
        seek = _seek_past_prefix(key_marker, prefix, delimiter)
        if seek != key_marker:
            cursor_key, cursor_id, skip = seek, None, key_marker
    last: tuple[str, str | None] | None = None
    truncated = False
    while not truncated:
        remaining = max_uploads - len(uploads) - len(prefixes)
        page = await store.list_uploads(
            bucket,
            prefix=prefix,
            after_key=cursor_key,
            after_upload_id=cursor_id,
            limit=remaining + 1,
        )
        seek_ahead = False
        for upload in page.items:
            common = _common_prefix(upload.key, prefix, delimiter) if delimiter else None
            if common is not None and common == skip:
                cursor_key, cursor_id = upload.key, upload.upload_id
                continue
            if len(uploads) + len(prefixes) == max_uploads:
                truncated = True
                break
            if common is None:
                uploads.append(upload)
                cursor_key, cursor_id = upload.key, upload.upload_id
                last = (upload.key, upload.upload_id)
            else:
                prefixes.append(common)
                skip = common
                last = (common, None)
                cursor_key, cursor_id = common + _SENTINEL, None
                seek_ahead = True
                break
        if not seek_ahead and not page.truncated:
            break
    next_key, next_id = last if truncated and last is not None else (None, None)
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
    if max_keys <= 0:
        return VersionListing((), (), False, None, None)
    versions: list[VersionEntry] = []
    prefixes: list[str] = []
    cursor_key = key_marker
    cursor_version = version_marker if key_marker is not None else None
    skip: str | None = None
    if delimiter and key_marker is not None:
        seek = _seek_past_prefix(key_marker, prefix, delimiter)
        if seek != key_marker:
            cursor_key, cursor_version, skip = seek, None, key_marker
    last: tuple[str, str | None] | None = None
    truncated = False
    while not truncated:
        remaining = max_keys - len(versions) - len(prefixes)
        page = await store.list_object_versions(
            bucket,
            prefix=prefix,
            after_key=cursor_key,
            after_version=cursor_version,
            limit=remaining + 1,
        )
        seek_ahead = False
        for entry in page.items:
            common = _common_prefix(entry.key, prefix, delimiter) if delimiter else None
            if common is not None and common == skip:
                cursor_key, cursor_version = entry.key, entry.sort_id
                continue
            if len(versions) + len(prefixes) == max_keys:
                truncated = True
                break
            if common is None:
                versions.append(entry)
                cursor_key, cursor_version = entry.key, entry.sort_id
                last = (entry.key, shown_version_id(entry.version_id))
            else:
                prefixes.append(common)
                skip = common
                last = (common, None)
                cursor_key, cursor_version = common + _SENTINEL, None
                seek_ahead = True
                break
        if not seek_ahead and not page.truncated:
            break
    next_key, next_version = last if truncated and last is not None else (None, None)
    return VersionListing(tuple(versions), tuple(prefixes), truncated, next_key, next_version)


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
