"""Where Step Functions' distributed Maps meet the platform (decision 0322): the
``stepfunctions.distributed_map.MapRunHost`` of ``serve``.

- **S3 as the state machine's role.** ``ItemReader`` reads (``s3:GetObject`` on the key,
  ``s3:ListBucket`` for ``listObjectsV2``) and ``ResultWriter`` writes (``s3:PutObject`` on
  each key) as the role's session — assumed by ``states.amazonaws.com`` as for every task —
  judged by S3's own authoriser (the role's identity policies, the bucket's policy, its ACLs
  and Block Public Access), so a bucket of another account is read when its policy lets the
  role in, as on AWS. An object is decrypted by the object service as any read; the results
  are written as every service's writes into a bucket (``function_buckets``): owned by the
  bucket's owner, sealed under its key ring, audited on its account as the role's
  ``s3:PutObject``. A refusal is ``States.ItemReaderFailed`` / ``States.ResultWriterFailed``
  with S3's code (``AccessDenied``, ``NoSuchKey``, ``NoSuchBucket``), never why it refused.
  The reader's ``VersionId`` reads that version as S3's GET does (``s3:GetObjectVersion``,
  ``NoSuchVersion``), its ``ExpectedBucketOwner`` refuses a bucket of another account with
  ``AccessDenied`` (decision 0358).
- **Bounds** (settings): the object read at most ``stepfunctions_item_reader_max_bytes``,
  at most ``stepfunctions_map_run_max_items`` items a run, at most
  ``stepfunctions_map_run_max_concurrency`` children of a run at once in the gateway.
- **The Map run's record**: into the Map run store (DescribeMapRun, ListMapRuns), read back
  each time so UpdateMapRun's settings apply while the run goes on; each child execution
  into the children's store (decision 0369), at most ``stepfunctions_map_run_children_kept``
  a run; a child's StopExecution rings its work at once in this process (``stops``,
  decision 0407), asked of the children's store otherwise.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Final

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.errors import AndromedeError
from andromede.iam.model import Principal
from andromede.s3.authorise import S3Authoriser, version_action
from andromede.s3.operations import S3Operation
from andromede.s3select.errors import SelectError
from andromede.s3select.parquet import parquet_rows
from andromede.stepfunctions.halting import StopSignals
from andromede.stepfunctions.interpreter import StatesError
from andromede.stepfunctions.map_children import MapChild, MapChildStore
from andromede.stepfunctions.map_items import READER_FAILED, listed_item
from andromede.stepfunctions.map_readers import Named, json_value
from andromede.stepfunctions.map_redrive import MAX_MAP_RUN_REDRIVES, Redrive, sorted_children
from andromede.stepfunctions.map_runs import ABORTED, REDRIVABLE, MapRun, MapRunStore
from andromede.stepfunctions.redrive import REDRIVE_WINDOW_MS
from andromede.storage.encryption import ObjectEncryption
from andromede.storage.errors import DeleteMarkerFound, NoSuchBucket, NoSuchKey, NoSuchVersion
from andromede.storage.integrity import BodyIntegrity
from andromede.storage.model import Bucket, ContentHeaders, ObjectRecord
from andromede.storage.service import ObjectService
from andromede.storage.versioning import NULL_VERSION_ID, is_version_id

__all__ = ["MapRunBounds", "StateMapRuns"]

WRITER_FAILED: Final = "States.ResultWriterFailed"
_PRINCIPAL: Final = "states.amazonaws.com"

Sessions = Callable[[Mapping[str, Any]], Awaitable[Principal]]


class MapRunBounds:
    def __init__(
        self, max_bytes: int, max_items: int, max_concurrency: int, children_kept: int = 10_000,
        redrive_window_ms: int = REDRIVE_WINDOW_MS, max_history_events: int = 25_000,
    ) -> None:  # fmt: skip
        self.max_bytes = max_bytes
        self.max_items = max_items
        self.max_concurrency = max_concurrency
        self.children_kept = children_kept
        # What makes a child not redrivable (decision 0383): as an execution's redrive.
        self.redrive_window_ms = redrive_window_ms
        self.max_history_events = max_history_events


class StateMapRuns:
    def __init__(
        self,
        objects: ObjectService,
        authoriser: S3Authoriser,
        sessions: Sessions,
        store: MapRunStore,
        bounds: MapRunBounds,
        audit: AuditService | None = None,
        children: MapChildStore | None = None,
        stops: StopSignals | None = None,
    ) -> None:
        self._children = children
        self._stops = stops
        self._objects = objects
        self._authoriser = authoriser
        self._sessions = sessions
        self._store = store
        self._bounds = bounds
        self._audit = audit

    def most_children(self) -> int:
        return self._bounds.max_concurrency

    def most_items(self) -> int:
        return self._bounds.max_items

    async def record(self, run: MapRun) -> MapRun:
        return await self._store.save(run)

    def most_children_kept(self) -> int:
        return self._bounds.children_kept if self._children is not None else 0

    def most_history_events(self) -> int:
        return self._bounds.max_history_events

    async def record_child(self, child: MapChild) -> bool:
        return self._children is None or await self._children.save(child)

    async def child_stopped(self, child: MapChild) -> bool:
        if self._children is None:
            return False
        return await self._children.status(child.tenant_id, child.arn) == ABORTED

    def stops(self) -> StopSignals | None:
        return self._stops

    async def redrive_run(self, tenant_id: str, arn: str, now: int) -> Redrive | None:
        stored = await self._store.get(tenant_id, arn)
        if stored is None:
            return None
        if stored.redrive_count >= MAX_MAP_RUN_REDRIVES:  # AWS: States.Runtime
            raise StatesError(
                "States.Runtime",
                f"The Map Run has been redriven {MAX_MAP_RUN_REDRIVES} times: no more",
            )
        if stored.status not in REDRIVABLE:
            return None
        kept: list[MapChild] = []
        after: tuple[int, str] | None = None
        while self._children is not None:  # bounded: a run keeps at most ``children_kept``
            page = await self._children.list_for_run(tenant_id, arn, None, after, 100)
            for listed in page:
                found = await self._children.get(tenant_id, listed.arn)
                if found is not None:
                    kept.append(found)
            if len(page) < 100:
                break
            after = (page[-1].started, page[-1].arn)
        # Sorted before the run is moved: a run whose record is not whole is left as it
        # ended, and a new run begins (decision 0383).
        bounds = self._bounds
        sorted_ = sorted_children(stored, kept, now, bounds.redrive_window_ms,
                                  bounds.max_history_events)  # fmt: skip
        run = None if sorted_ is None else await self._store.redrive(tenant_id, arn, now)
        if sorted_ is None or run is None:
            return None
        return dataclasses.replace(sorted_, run=run)

    async def runs_of(self, tenant_id: str, execution_arn: str) -> list[MapRun]:
        return await self._store.list_for_execution(tenant_id, execution_arn)

    async def redrive_child(self, child: MapChild, now: int) -> MapChild | None:
        if self._children is None:
            return None
        return await self._children.redrive(child.tenant_id, child.arn, now)

    async def _bucket(
        self, session: Principal, name: str, operation: S3Operation, key: str | None,
        error: str, named: Named | None = None,
    ) -> Bucket:  # fmt: skip
        """The bucket, the role allowed ``operation`` on it (a version named: S3's version
        action) and, ``ExpectedBucketOwner`` given, owned by that account, as S3 checks."""
        try:
            bucket = await self._objects.get_bucket(name)
        except NoSuchBucket:
            raise StatesError(error, "S3 error: NoSuchBucket: The specified bucket does not "
                              f"exist: {name[:64]}") from None  # fmt: skip
        version = named.version_id if named is not None else None
        try:
            await self._authoriser.authorise(
                session, operation, bucket=bucket, bucket_name=name, key=key, keys={},
                source_ip=None, secure=True,
                action=version_action(operation, {} if version is None else {"versionId": version}),
            )  # fmt: skip
        except AndromedeError:
            raise StatesError(error, f"S3 error: AccessDenied: {session.arn} may not "
                              f"{operation.name} on s3://{name[:64]}") from None  # fmt: skip
        owner = named.expected_owner if named is not None else None
        if owner is not None and owner.strip() != bucket.tenant_id:
            raise StatesError(error, f"S3 error: AccessDenied: The bucket s3://{name[:64]} is "
                              "not owned by the ExpectedBucketOwner account")  # fmt: skip
        return bucket

    def most_record_bytes(self) -> int:
        return self._bounds.max_bytes

    async def _readable(
        self, context: Mapping[str, Any], bucket: str, key: str, named: Named | None
    ) -> ObjectRecord:
        """The object the role may read (``s3:GetObject``; ``s3:GetObjectVersion`` for a
        ``VersionId``, that version read as S3's GET reads it), its customer key checked."""
        session = await self._sessions(context)
        found = await self._bucket(session, bucket, S3Operation.GetObject, key, READER_FAILED,
                                   named)  # fmt: skip
        version = named.version_id if named is not None else None
        try:
            if version is None or (found.versioning is None and version == NULL_VERSION_ID):
                record = await self._objects.head_object(bucket, key)
            elif found.versioning is None or not is_version_id(version):
                raise StatesError(READER_FAILED, "S3 error: InvalidArgument: Invalid version id "
                                  f"specified: {version[:64]}")  # fmt: skip
            else:
                record = await self._objects.get_version(bucket, key, version)
            await self._objects.check_customer_key(record, None)
        except NoSuchKey:
            raise StatesError(READER_FAILED, "S3 error: NoSuchKey: The specified key does not "
                              f"exist: {key[:256]}") from None  # fmt: skip
        except NoSuchVersion:
            raise StatesError(READER_FAILED, "S3 error: NoSuchVersion: The specified version "
                              f"does not exist: {version!s:.64}") from None  # fmt: skip
        except DeleteMarkerFound:
            raise StatesError(READER_FAILED, "S3 error: MethodNotAllowed: The version "
                              f"{version!s:.64} of {key[:256]} is a delete marker",
                              ) from None  # fmt: skip
        except AndromedeError as exc:
            raise StatesError(READER_FAILED, f"S3 error: {type(exc).__name__}") from None
        return record

    async def _bytes(self, record: ObjectRecord, first: int, last: int) -> AsyncGenerator[bytes]:
        try:
            async for chunk in self._objects.read_object(record, first, last):
                yield chunk
        except AndromedeError as exc:
            raise StatesError(READER_FAILED, f"S3 error: {type(exc).__name__}") from None

    async def read_object(
        self, context: Mapping[str, Any], bucket: str, key: str, named: Named | None = None
    ) -> str:
        record = await self._readable(context, bucket, key, named)
        if record.size > self._bounds.max_bytes:
            raise StatesError(READER_FAILED, f"The object s3://{bucket[:64]}/{key[:256]} "
                              f"is larger than {self._bounds.max_bytes} bytes")  # fmt: skip
        chunks = [c async for c in self._bytes(record, 0, record.size - 1)]
        try:
            return b"".join(chunks).decode("utf-8-sig")
        except UnicodeDecodeError:
            raise StatesError(READER_FAILED, "The object is not UTF-8 text") from None

    async def object_chunks(
        self, context: Mapping[str, Any], bucket: str, key: str, named: Named | None = None
    ) -> AsyncGenerator[bytes]:
        # Any size: the reader holds a chunk and one record at a time, never the object.
        record = await self._readable(context, bucket, key, named)
        if record.size:
            async for chunk in self._bytes(record, 0, record.size - 1):
                yield chunk

    async def parquet_rows(
        self, context: Mapping[str, Any], bucket: str, key: str, named: Named | None = None
    ) -> AsyncGenerator[list[dict[str, Any]]]:
        """Read by ranges as S3 Select reads Parquet: a row group's column chunks at most
        ``max_bytes`` a read, never the whole file."""
        record = await self._readable(context, bucket, key, named)

        async def fetch(first: int, last: int) -> bytes:
            return b"".join([c async for c in self._bytes(record, first, last)])

        try:
            async for rows in parquet_rows(record.size, fetch, self._bounds.max_bytes,
                                           lambda _: None):  # fmt: skip
                yield [{name: json_value(v) for name, v in row.items()} for row in rows]
        except SelectError as exc:
            cause = ("A column chunk of the Parquet object is larger than "
                     f"{self._bounds.max_bytes} bytes") if exc.code == "OverMaxRecordSize" else (
                "The object is not a Parquet file Step Functions can read")  # fmt: skip
            raise StatesError(READER_FAILED, cause) from None

    async def list_objects(
        self, context: Mapping[str, Any], bucket: str, prefix: str, named: Named | None = None
    ) -> list[dict[str, Any]]:
        session = await self._sessions(context)
        await self._bucket(session, bucket, S3Operation.ListObjectsV2, None, READER_FAILED,
                           named)  # fmt: skip
        found: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            listing = await self._objects.list_objects(
                bucket, prefix=prefix, after=after, max_keys=1000
            )
            found += [
                listed_item(o.key, o.etag, int(o.last_modified.timestamp() * 1000), o.size,
                            "STANDARD")
                for o in listing.objects
            ]  # fmt: skip
            if len(found) > self._bounds.max_items:
                raise StatesError(READER_FAILED, f"More than {self._bounds.max_items} objects "
                                  "under the prefix: a Map run reads fewer")  # fmt: skip
            if not listing.truncated or not listing.objects:
                return found
            after = listing.objects[-1].key

    async def write_object(
        self, context: Mapping[str, Any], bucket: str, key: str, body: str
    ) -> None:
        session = await self._sessions(context)
        found = await self._bucket(session, bucket, S3Operation.PutObject, key, WRITER_FAILED)
        data = body.encode()

        async def chunks() -> AsyncIterator[bytes]:
            yield data

        try:
            await self._objects.put_object(
                found, key, chunks(), size=len(data),
                headers=ContentHeaders(content_type="application/json"),
                owner_id=found.owner_id, integrity=BodyIntegrity(),
                encryption=ObjectEncryption(tenant_id=found.tenant_id),
            )  # fmt: skip
        except AndromedeError as exc:
            raise StatesError(WRITER_FAILED, f"S3 error: {type(exc).__name__}") from None
        if self._audit is not None:
            self._audit.record(
                request_id=uuid.uuid4().hex.upper()[:16],
                tenant_id=found.tenant_id,
                principal=session.arn,
                action="s3:PutObject",
                resource=f"arn:aws:s3:::{found.name}/{key}"[:2048],
                outcome=Outcome.SUCCESS,
                details={"invoked_by": _PRINCIPAL, "size": str(len(data))},
            )
