"""The in-memory metadata store's multipart uploads and parts, the twin of
``store_sql_multipart``.

Completing an upload writes its object as a plain or a versioned write, so this part builds on
:class:`~andromede.storage.store_memory_versions.MemoryVersionsMixin`. Mixed into
:class:`~andromede.storage.store_memory.MemoryMetadataStore`; split off only for size.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from andromede.storage.errors import NoSuchUpload, ObjectChanged
from andromede.storage.model import ExpectedObject, ListPage, MultipartUpload, ObjectRecord, Part
from andromede.storage.notification import EventBatch
from andromede.storage.replication import ReplicationTarget
from andromede.storage.store_memory_versions import MemoryVersionsMixin
from andromede.storage.versioning import VersionedWrite

__all__ = ["MemoryMultipartMixin"]


class MemoryMultipartMixin(MemoryVersionsMixin):
    """Multipart uploads and parts (mixed into MemoryMetadataStore)."""

    async def create_upload(self, upload: MultipartUpload) -> None:
        self._state(upload.bucket)
        self._uploads[upload.upload_id] = upload
        self._parts[upload.upload_id] = {}

    async def get_upload(self, bucket: str, upload_id: str) -> MultipartUpload | None:
        upload = self._uploads.get(upload_id)
        if upload is None or upload.bucket != bucket:
            return None
        return upload

    async def put_part(self, part: Part) -> Part | None:
        parts = self._parts.get(part.upload_id)
        if parts is None:
            raise NoSuchUpload(part.upload_id)
        replaced = parts.get(part.part_number)
        parts[part.part_number] = part
        return replaced

    async def list_parts(self, upload_id: str, *, after_part: int, limit: int) -> ListPage[Part]:
        parts = self._parts.get(upload_id, {})
        numbers = sorted(n for n in parts if n > after_part)
        return ListPage(tuple(parts[n] for n in numbers[:limit]), len(numbers) > limit)

    async def get_parts(self, upload_id: str, part_numbers: Sequence[int]) -> list[Part]:
        parts = self._parts.get(upload_id, {})
        return [parts[n] for n in sorted(set(part_numbers)) if n in parts]

    async def list_uploads(
        self,
        bucket: str,
        *,
        prefix: str,
        after_key: str | None,
        after_upload_id: str | None,
        limit: int,
    ) -> ListPage[MultipartUpload]:
        def order(u: MultipartUpload) -> tuple[bytes, datetime, str]:
            return (u.key.encode(), u.initiated, u.upload_id)

        candidates = sorted(
            (u for u in self._uploads.values() if u.bucket == bucket and u.key.startswith(prefix)),
            key=order,
        )
        if after_key is not None:
            marker = self._uploads.get(after_upload_id) if after_upload_id is not None else None
            if marker is not None and marker.bucket == bucket and marker.key == after_key:
                bound = order(marker)
                candidates = [u for u in candidates if order(u) > bound]
            else:
                encoded = after_key.encode()
                candidates = [u for u in candidates if u.key.encode() > encoded]
        return ListPage(tuple(candidates[:limit]), len(candidates) > limit)

    async def complete_upload(
        self,
        upload_id: str,
        record: ObjectRecord,
        *,
        expected: ExpectedObject | None = None,
        replication: ReplicationTarget | None = None,
        notify: EventBatch | None = None,
    ) -> tuple[ObjectRecord | VersionedWrite | None, list[Part]]:
        if upload_id not in self._uploads:
            raise NoSuchUpload(upload_id)
        state = self._state(record.bucket)
        if expected is not None and not expected.holds_for(state.objects.get(record.key.encode())):
            raise ObjectChanged(f"{record.key} is not the object the condition was checked on")
        used = {s.blob_id for s in record.segments}
        unused = [p for p in self._drop_upload(upload_id) if p.blob_id not in used]
        if state.bucket.versioning is not None:
            written = await self.put_object_version(record, replication=replication, notify=notify)
            return written, unused
        replaced = await self.put_object(record, notify=notify)
        return replaced, unused

    async def abort_upload(self, upload_id: str) -> list[Part]:
        if upload_id not in self._uploads:
            raise NoSuchUpload(upload_id)
        return self._drop_upload(upload_id)
