"""The in-memory metadata store's buckets and their configuration: create, list, delete, access
settings, tags, CORS and the per-kind documents (notification, replication, logging…).

Mixed into :class:`~andromede.storage.store_memory.MemoryMetadataStore`, the twin of
``store_sql_buckets``; split off only for size. Versioning and Object Lock settings are
``store_memory_versions``'.
"""

from __future__ import annotations

import dataclasses

from andromede.storage.abac import ABAC_DOCUMENT
from andromede.storage.access_logging import (
    LOGGING_DOCUMENT,
    MISSING_TARGET,
    REQUESTER_PAYS_TARGET,
    LoggingTarget,
)
from andromede.storage.cors import CorsConfiguration
from andromede.storage.errors import (
    BucketAlreadyExists,
    BucketAlreadyOwnedByYou,
    BucketIsLogTarget,
    BucketNotEmpty,
    InvalidLogTarget,
    NoSuchBucket,
)
from andromede.storage.model import (
    BUCKET_ACCESS_FIELDS,
    Bucket,
    BucketStorage,
    BucketUsage,
    ObjectRecord,
    Part,
    PublicAccessBlock,
)
from andromede.storage.notification import NOTIFICATION_DOCUMENT, NotificationConfiguration
from andromede.storage.replication import REPLICATION_DOCUMENT, ReplicationConfiguration
from andromede.storage.store_memory_core import MemoryStoreCore, _BucketState

__all__ = ["MemoryBucketsMixin"]


class MemoryBucketsMixin(MemoryStoreCore):
    """Buckets and their configuration (mixed into MemoryMetadataStore)."""

    async def create_bucket(self, bucket: Bucket) -> None:
        existing = self._buckets.get(bucket.name)
        if existing is not None:
            if existing.bucket.tenant_id == bucket.tenant_id:
                raise BucketAlreadyOwnedByYou(bucket.name)
            raise BucketAlreadyExists(bucket.name)
        self._buckets[bucket.name] = _BucketState(bucket)

    async def get_bucket(self, name: str) -> Bucket | None:
        state = self._buckets.get(name)
        return None if state is None else self._with_account(state.bucket)

    async def list_buckets(self, tenant_id: str) -> list[Bucket]:
        return sorted(
            (
                self._with_account(s.bucket)
                for s in self._buckets.values()
                if s.bucket.tenant_id == tenant_id
            ),
            key=lambda b: b.name,
        )

    async def all_buckets(self) -> list[Bucket]:
        return sorted(
            (self._with_account(s.bucket) for s in self._buckets.values()),
            key=lambda b: (b.tenant_id, b.name),
        )

    async def usage_by_bucket(self) -> dict[str, BucketUsage]:
        usage = {}
        for name, state in self._buckets.items():
            noncurrent = [
                kept.version
                for versions in state.versions.values()
                for kept in versions
                if isinstance(kept.version, ObjectRecord)
            ]
            if state.objects or noncurrent:
                usage[name] = BucketUsage(
                    len(state.objects),
                    sum(r.size for r in state.objects.values()),
                    len(noncurrent),
                    sum(r.size for r in noncurrent),
                )
        return usage

    async def bucket_storage(self, name: str) -> BucketStorage:
        state = self._buckets.get(name)
        if state is None:
            return BucketStorage()
        kept = [k.version for versions in state.versions.values() for k in versions]
        sizes = [r.size for r in state.objects.values()]
        sizes += [v.size if isinstance(v, ObjectRecord) else 0 for v in kept]
        sizes += [
            p.size
            for upload_id, upload in self._uploads.items()
            if upload.bucket == name
            for p in self._parts.get(upload_id, {}).values()
        ]
        return BucketStorage(len(sizes), sum(sizes))

    async def update_bucket_access(self, name: str, **changes: object) -> Bucket:
        state = self._buckets.get(name)
        if state is None:
            raise NoSuchBucket(name)
        unknown = set(changes) - BUCKET_ACCESS_FIELDS
        if unknown:
            raise ValueError(f"not bucket access fields: {sorted(unknown)}")
        state.bucket = dataclasses.replace(state.bucket, **changes)  # type: ignore[arg-type]
        return state.bucket

    async def set_bucket_data_reads_logged(self, name: str, logged: bool) -> Bucket:
        state = self._buckets.get(name)
        if state is None:
            raise NoSuchBucket(name)
        state.bucket = dataclasses.replace(state.bucket, data_reads_logged=logged)
        return state.bucket

    async def set_bucket_requester_pays(self, name: str, requester_pays: bool) -> Bucket:
        state = self._state(name)
        owner, region = state.bucket.tenant_id, state.bucket.region
        # No await between the check and the change: nothing runs between them (0150).
        if requester_pays and any(
            LoggingTarget.from_text(text).bucket == name
            for _, text in await self.list_tenant_bucket_documents(owner, region, LOGGING_DOCUMENT)
        ):
            raise BucketIsLogTarget
        state.bucket = dataclasses.replace(state.bucket, requester_pays=requester_pays)
        return state.bucket

    async def put_bucket_logging(self, name: str, target: LoggingTarget | None) -> None:
        self._state(name)
        if target is not None:
            found = self._buckets.get(target.bucket)
            if found is None:
                raise InvalidLogTarget(MISSING_TARGET)
            if found.bucket.requester_pays:
                raise InvalidLogTarget(REQUESTER_PAYS_TARGET)
        text = None if target is None else target.to_text()
        await self.put_bucket_document(name, LOGGING_DOCUMENT, text)

    async def get_bucket_tags(self, name: str) -> tuple[tuple[str, str], ...] | None:
        return self._state(name).tags

    async def put_bucket_tags(self, name: str, tags: tuple[tuple[str, str], ...] | None) -> None:
        state = self._state(name)
        state.tags = tags
        if state.bucket.abac_enabled:
            # Read with the bucket while ABAC is on, as the SQL store joins them (0418).
            state.bucket = dataclasses.replace(state.bucket, abac_tags=tags or ())

    async def get_bucket_cors(self, name: str) -> CorsConfiguration | None:
        return self._state(name).cors

    async def put_bucket_cors(self, name: str, cors: CorsConfiguration | None) -> None:
        self._state(name).cors = cors

    async def get_bucket_document(self, name: str, kind: str) -> str | None:
        return self._state(name).documents.get(kind)

    async def put_bucket_document(self, name: str, kind: str, document: str | None) -> None:
        state = self._state(name)
        documents = state.documents
        if document is None:
            documents.pop(kind, None)
        else:
            documents[kind] = document
        if kind == NOTIFICATION_DOCUMENT:
            notification = (
                None if document is None else NotificationConfiguration.from_text(document)
            )
            state.bucket = dataclasses.replace(state.bucket, notification=notification)
        if kind == ABAC_DOCUMENT:
            abac_tags = None if document is None else state.tags or ()
            state.bucket = dataclasses.replace(state.bucket, abac_tags=abac_tags)
        if kind == REPLICATION_DOCUMENT:
            # Read with the bucket, as the SQL store joins it (decision 0112).
            replication = None if document is None else ReplicationConfiguration.from_text(document)
            state.bucket = dataclasses.replace(state.bucket, replication=replication)

    async def swap_bucket_document(
        self, name: str, kind: str, expected: str | None, document: str | None
    ) -> bool:
        if self._state(name).documents.get(kind) != expected:
            return False
        await self.put_bucket_document(name, kind, document)
        return True

    async def list_bucket_documents(
        self, kind: str, after: str | None, limit: int
    ) -> list[tuple[str, str]]:
        found = sorted(
            (name, state.documents[kind])
            for name, state in self._buckets.items()
            if kind in state.documents and (after is None or name > after)
        )
        return found[:limit]

    async def list_tenant_bucket_documents(
        self, tenant_id: str, region: str, kind: str
    ) -> list[tuple[str, str]]:
        return sorted(
            (name, state.documents[kind])
            for name, state in self._buckets.items()
            if state.bucket.tenant_id == tenant_id
            and state.bucket.region == region
            and kind in state.documents
        )

    async def get_account_public_access_block(self, tenant_id: str) -> PublicAccessBlock | None:
        return self._account_blocks.get(tenant_id)

    async def put_account_public_access_block(
        self, tenant_id: str, block: PublicAccessBlock | None
    ) -> None:
        if block is None:
            self._account_blocks.pop(tenant_id, None)
        else:
            self._account_blocks[tenant_id] = block

    async def delete_bucket(self, name: str) -> list[Part]:
        state = self._state(name)
        if state.keys or state.versions:
            raise BucketNotEmpty(name)
        dropped: list[Part] = []
        for upload_id in [u.upload_id for u in self._uploads.values() if u.bucket == name]:
            dropped.extend(self._drop_upload(upload_id))
        del self._buckets[name]
        return dropped
