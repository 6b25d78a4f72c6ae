"""The reads an ``ItemReader``'s ``Arguments`` (JSONPath's ``Parameters``) name (decision
0358): S3's ``GetObject`` arguments ``VersionId`` — that version of the object is read, the
manifest being that object when the reader reads a manifest — and ``ExpectedBucketOwner`` —
every read in that bucket (the object, a listing, the objects ``LOAD_AND_FLATTEN`` reads from
it) is refused, as S3 refuses it, when another account owns the bucket. The objects a manifest
lists elsewhere are read as they are, as their own ``GetObject`` calls would be."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from typing import Any

from andromede.stepfunctions.map_readers import Named, ObjectSource

__all__ = ["NamedReads", "named_by"]


def named_by(arguments: Mapping[str, Any]) -> Named:
    """``VersionId`` and ``ExpectedBucketOwner`` of the reader's resolved arguments."""
    version, owner = arguments.get("VersionId"), arguments.get("ExpectedBucketOwner")
    return Named(None if version is None else str(version), None if owner is None else str(owner))


class NamedReads:
    """``source`` as the readers see it: the object ``bucket``/``key`` read at ``named``'s
    version, every read in ``bucket`` under its expected owner."""

    def __init__(self, source: ObjectSource, bucket: str, key: str | None, named: Named) -> None:
        self._source = source
        self._bucket = bucket
        self._key = key
        self._named = named

    def _for(self, bucket: str, key: str | None) -> Named | None:
        if bucket != self._bucket:
            return None
        version = self._named.version_id if key == self._key else None
        if version is None and self._named.expected_owner is None:
            return None
        return Named(version, self._named.expected_owner)

    async def read_object(
        self, context: Mapping[str, Any], bucket: str, key: str, named: Named | None = None
    ) -> str:
        return await self._source.read_object(context, bucket, key, self._for(bucket, key))

    def object_chunks(
        self, context: Mapping[str, Any], bucket: str, key: str, named: Named | None = None
    ) -> AsyncGenerator[bytes]:
        return self._source.object_chunks(context, bucket, key, self._for(bucket, key))

    def parquet_rows(
        self, context: Mapping[str, Any], bucket: str, key: str, named: Named | None = None
    ) -> AsyncGenerator[list[dict[str, Any]]]:
        return self._source.parquet_rows(context, bucket, key, self._for(bucket, key))

    def listing(self, bucket: str) -> Named | None:
        """What a listing of ``bucket`` carries: its expected owner (a listing has no version)."""
        owner = self._named.expected_owner
        return Named(None, owner) if bucket == self._bucket and owner is not None else None
