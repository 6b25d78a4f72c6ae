"""The lifecycle pass: applies every bucket's lifecycle rules (``storage/lifecycle.py``), once
per ``lifecycle_interval`` (decision 0082).

Each pass reads the buckets that have a lifecycle configuration, in the regions this gateway
serves, and for each enabled rule:
- expires the objects it selects that are due, each deleted only if it is still the object the
  listing showed (same ETag and last modification, checked in the delete's own transaction):
  an object written again meanwhile is never deleted for its predecessor's age;
- aborts the multipart uploads it selects that were started long enough ago.

In a versioned bucket (decision 0099) an expiry makes a delete marker instead, and the
noncurrent actions (``NoncurrentDays``, ``NewerNoncurrentVersions``) and
``ExpiredObjectDeleteMarker`` remove versions and markers for good: noncurrent delete markers
with the noncurrent versions, and an expired object delete marker (a key's only version)
under ``ExpiredObjectDeleteMarker`` or, once it is ``Days`` old, under ``Expiration`` ``Days``,
as AWS does. Each such removal is conditional, checked in its own transaction (a version
still noncurrent, a marker still alone): a version that became current again because a
client removed the newer one since the listing is never removed for its old state.

Which objects a rule selects and when they are due is ``LifecycleRule.expiry_of`` and
``tags_hold``, the very code the ``x-amz-expiration`` header answers by (decision 0086). Tags
are sealed with an object's headers, so a rule with a tag filter opens the headers of the
objects its prefix, size and age already select, and only those. Each expiry and abort is
reported to ``on_action`` (the audit, in ``app.py``). Several gateways may run passes at once:
deleting or aborting what another pass removed first is a no-op.

Each expiry queues the bucket's ``LifecycleExpiration:Delete`` (or ``:DeleteMarkerCreated``)
event notifications in the removal's own transaction (decision 0132, increment 2), from the
bucket as the pass read it: a removal that does not land announces nothing.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from andromede.errors import AndromedeError
from andromede.storage.errors import NoSuchBucket, NoSuchUpload, ObjectChanged
from andromede.storage.lifecycle import (
    LIFECYCLE_DOCUMENT,
    LifecycleConfiguration,
    LifecycleRule,
    due_at,
)
from andromede.storage.model import Bucket, ObjectSummary
from andromede.storage.notification import lifecycle_source
from andromede.storage.service import ObjectService
from andromede.storage.store import MetadataStore
from andromede.storage.versioning import NULL_VERSION_ID, RemovalCondition, VersionEntry

__all__ = ["LifecycleAction", "LifecycleReport", "LifecycleRunner"]

_BUCKETS_PER_READ = 100
_PAGE = 1000

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LifecycleAction:
    """One thing a pass did: an object expired or an upload aborted, under which rule."""

    bucket: str
    tenant_id: str
    key: str
    rule_id: str | None
    upload_id: str | None = None  # set for an aborted upload


@dataclass(slots=True)
class LifecycleReport:
    expired: int = 0
    aborted: int = 0


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _selects_marker(rule: LifecycleRule, key: str) -> bool:
    """Whether the rule's filter takes a delete marker of ``key``: by its prefix only. A
    marker has no size and no tags, so a rule filtering on either leaves it (AWS refuses
    ``ExpiredObjectDeleteMarker`` beside a tag or size filter for the same reason)."""
    return (
        key.startswith(rule.prefix)
        and not rule.tags
        and rule.size_greater_than is None
        and rule.size_less_than is None
    )


class LifecycleRunner:
    def __init__(
        self,
        objects: ObjectService,
        store: MetadataStore,
        *,
        interval: float,
        on_action: Callable[[LifecycleAction], None],
        regions: Collection[str] | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        """``regions``: those whose buckets this gateway serves (None: every region)."""
        self._objects = objects
        self._store = store
        self._interval = interval
        self._on_action = on_action
        self._regions = regions
        self._clock = clock

    async def run_forever(self) -> None:
        while True:
            try:
                await self.run_once()
            except AndromedeError:
                # The database or a blob store away: the next pass tries again.
                _log.warning("lifecycle pass failed; the next one retries", exc_info=True)
            await asyncio.sleep(self._interval)

    async def run_once(self) -> LifecycleReport:
        report = LifecycleReport()
        now = self._clock()
        after: str | None = None
        while page := await self._store.list_bucket_documents(
            LIFECYCLE_DOCUMENT, after, _BUCKETS_PER_READ
        ):
            for name, text in page:
                try:
                    bucket = await self._objects.get_bucket(name)
                    if self._regions is None or bucket.region in self._regions:
                        config = LifecycleConfiguration.from_text(text)
                        if bucket.versioning is None:
                            await self._apply(bucket, config, now, report)
                        else:
                            await self._apply_versioned(bucket, config, now, report)
                except NoSuchBucket:
                    continue  # deleted meanwhile
            after = page[-1][0]
        return report

    async def _apply(
        self, bucket: Bucket, config: LifecycleConfiguration, now: datetime, report: LifecycleReport
    ) -> None:
        for rule in config.rules:
            if not rule.enabled:
                continue
            if rule.expires:
                await self._expire(bucket, rule, now, report)
            if rule.abort_after_days is not None:
                await self._abort(bucket, rule, rule.abort_after_days, now, report)

    async def _due_objects(
        self, bucket: Bucket, rule: LifecycleRule, now: datetime
    ) -> AsyncIterator[ObjectSummary]:
        """The current objects ``rule``'s expiry selects and has made due, page by page."""
        after: str | None = None
        while True:
            listing = await self._objects.list_objects(
                bucket.name, prefix=rule.prefix, after=after, max_keys=_PAGE
            )
            for summary in listing.objects:
                expiry = rule.expiry_of(summary.key, summary.size, summary.last_modified)
                if expiry is None or expiry > now:
                    continue
                if rule.tags and not await self._tags_hold(bucket, summary.key, rule):
                    continue
                yield summary
            if not listing.truncated or not listing.objects:
                return
            after = listing.objects[-1].key
            await asyncio.sleep(0)  # a large bucket's pass leaves room for requests

    async def _expire(
        self, bucket: Bucket, rule: LifecycleRule, now: datetime, report: LifecycleReport
    ) -> None:
        async for summary in self._due_objects(bucket, rule, now):
            try:
                removed = await self._objects.delete_object(
                    bucket.name,
                    summary.key,
                    if_etag=summary.etag,
                    if_last_modified=summary.last_modified,
                    size=summary.size,
                    notify=(bucket, lifecycle_source("LifecycleExpiration:Delete")),
                )
            except ObjectChanged:
                continue  # written again, or deleted, since the listing
            if removed is not None:
                self._expired(bucket, rule, summary.key, report)

    def _expired(
        self, bucket: Bucket, rule: LifecycleRule, key: str, report: LifecycleReport
    ) -> None:
        report.expired += 1
        self._on_action(LifecycleAction(bucket.name, bucket.tenant_id, key, rule.rule_id))

    async def _apply_versioned(
        self, bucket: Bucket, config: LifecycleConfiguration, now: datetime, report: LifecycleReport
    ) -> None:
        """A versioned bucket (decision 0099): an expiry makes a delete marker; the noncurrent
        versions and the expired delete markers go for good."""
        for rule in config.rules:
            if not rule.enabled:
                continue
            if rule.expires:
                await self._mark_expired(bucket, rule, now, report)
            if (
                rule.noncurrent_days is not None
                or rule.expired_object_delete_marker
                or rule.expiration_days is not None
            ):
                await self._expire_versions(bucket, rule, now, report)
            if rule.abort_after_days is not None:
                await self._abort(bucket, rule, rule.abort_after_days, now, report)

    async def _mark_expired(
        self, bucket: Bucket, rule: LifecycleRule, now: datetime, report: LifecycleReport
    ) -> None:
        """``Expiration`` in a versioned bucket: the current version becomes noncurrent under
        a delete marker, as AWS does; nothing is deleted. The marker goes only over the
        version the pass listed (its ETag, checked in the marker's transaction): one written
        since stays current, as in an unversioned bucket."""
        async for summary in self._due_objects(bucket, rule, now):
            try:
                await self._objects.delete_versioned(
                    bucket,
                    summary.key,
                    None,
                    owner_id=bucket.owner_id,
                    if_etag=summary.etag,
                    notify=lifecycle_source("LifecycleExpiration:Delete"),
                )
            except ObjectChanged:
                continue  # written again, or deleted, since the listing
            self._expired(bucket, rule, summary.key, report)

    async def _expire_versions(
        self, bucket: Bucket, rule: LifecycleRule, now: datetime, report: LifecycleReport
    ) -> None:
        """``NoncurrentVersionExpiration`` and ``ExpiredObjectDeleteMarker``, key by key.
        The listing gives each key's versions newest first; a version became noncurrent when
        the next newer one was made, so that one's last modification is where its
        ``NoncurrentDays`` count from (what AWS counts from), without storing anything."""
        key_marker: str | None = None
        version_marker: str | None = None
        pending: list[VersionEntry] = []
        while True:
            listing = await self._objects.list_versions(
                bucket.name,
                prefix=rule.prefix,
                key_marker=key_marker,
                version_marker=version_marker,
                max_keys=_PAGE,
            )
            for entry in listing.versions:
                if pending and pending[0].key != entry.key:
                    await self._expire_key(bucket, rule, pending, now, report)
                    pending = []
                pending.append(entry)
            if not listing.truncated or listing.next_key_marker is None:
                break
            key_marker = listing.next_key_marker
            version_marker = listing.next_version_marker
            await asyncio.sleep(0)
        if pending:
            await self._expire_key(bucket, rule, pending, now, report)

    async def _expire_key(
        self,
        bucket: Bucket,
        rule: LifecycleRule,
        versions: list[VersionEntry],
        now: datetime,
        report: LifecycleReport,
    ) -> None:
        kept = list(versions)
        if rule.noncurrent_days is not None:
            newer_noncurrent = 0
            for newer, entry in itertools.pairwise(versions):
                due = due_at(newer.last_modified, rule.noncurrent_days) <= now
                if entry.delete_marker:
                    # A noncurrent marker goes when due, as AWS's noncurrent expiry takes
                    # it; it holds no data, so it is not one of the versions to keep.
                    if (
                        due
                        and _selects_marker(rule, entry.key)
                        and await self._remove_version(
                            bucket, entry, rule, RemovalCondition.NONCURRENT, report
                        )
                    ):
                        kept.remove(entry)
                    continue
                newer_noncurrent += 1
                # NewerNoncurrentVersions: that many of the newest noncurrent versions stay.
                if newer_noncurrent <= (rule.newer_noncurrent_versions or 0) or not due:
                    continue
                if not rule.selects(entry.key, entry.size):
                    continue
                if rule.tags and not await self._version_tags_hold(bucket, entry, rule):
                    continue
                if await self._remove_version(
                    bucket, entry, rule, RemovalCondition.NONCURRENT, report
                ):
                    kept.remove(entry)
        if len(kept) != 1 or not kept[0].delete_marker or not _selects_marker(rule, kept[0].key):
            return
        # The key's only version is a delete marker (an expired object delete marker): it
        # hides nothing any more. ExpiredObjectDeleteMarker removes it at once; Expiration
        # Days once the marker is that old, as AWS does.
        marker = kept[0]
        if rule.expired_object_delete_marker or (
            rule.expiration_days is not None
            and due_at(marker.last_modified, rule.expiration_days) <= now
        ):
            await self._remove_version(bucket, marker, rule, RemovalCondition.SOLE_MARKER, report)

    async def _remove_version(
        self,
        bucket: Bucket,
        entry: VersionEntry,
        rule: LifecycleRule,
        condition: RemovalCondition,
        report: LifecycleReport,
    ) -> bool:
        """Remove the version for good if ``condition`` still holds; whether it did."""
        version_id = NULL_VERSION_ID if entry.version_id is None else entry.version_id
        notify = (bucket, lifecycle_source("LifecycleExpiration:Delete"))
        if not await self._objects.expire_version(
            bucket.name, entry.key, version_id, condition, notify=notify
        ):
            return False  # changed since the listing: current again, or no longer alone
        self._expired(bucket, rule, entry.key, report)
        return True

    async def _version_tags_hold(
        self, bucket: Bucket, entry: VersionEntry, rule: LifecycleRule
    ) -> bool:
        version_id = NULL_VERSION_ID if entry.version_id is None else entry.version_id
        try:
            record = await self._objects.get_version(bucket.name, entry.key, version_id)
        except AndromedeError:
            return False  # gone, or its headers cannot be opened (its key destroyed)
        return rule.tags_hold(record.headers.tags)

    async def _tags_hold(self, bucket: Bucket, key: str, rule: LifecycleRule) -> bool:
        try:
            record = await self._objects.head_object(bucket.name, key)
        except AndromedeError:
            return False  # gone, or its headers cannot be opened (its key destroyed)
        return rule.tags_hold(record.headers.tags)

    async def _abort(
        self,
        bucket: Bucket,
        rule: LifecycleRule,
        days: int,
        now: datetime,
        report: LifecycleReport,
    ) -> None:
        key_marker: str | None = None
        upload_marker: str | None = None
        while True:
            listing = await self._objects.list_multipart_uploads(
                bucket.name,
                prefix=rule.prefix,
                key_marker=key_marker,
                upload_id_marker=upload_marker,
                max_uploads=_PAGE,
            )
            for upload in listing.uploads:
                # An upload's size is not known until it completes: only the prefix selects it.
                if due_at(upload.initiated, days) > now or not upload.key.startswith(rule.prefix):
                    continue
                try:
                    await self._objects.abort_multipart_upload(
                        bucket.name, upload.key, upload.upload_id
                    )
                except NoSuchUpload:
                    continue  # completed or aborted meanwhile
                report.aborted += 1
                self._on_action(
                    LifecycleAction(
                        bucket.name, bucket.tenant_id, upload.key, rule.rule_id, upload.upload_id
                    )
                )
            if not listing.truncated or not listing.uploads:
                return
            key_marker = listing.uploads[-1].key
            upload_marker = listing.uploads[-1].upload_id
            await asyncio.sleep(0)
