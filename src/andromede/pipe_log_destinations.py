"""A pipe's execution log records into its S3 and Firehose log destinations (decision 0268),
where the Pipes, storage and Firehose contexts meet; the CloudWatch Logs group is
``wiring.pipes.PipeLogGroups``'s. :class:`PipeLogDestinations` is the runner's
``PipeLogSink``: each destination the pipe's ``LogConfiguration`` names is written.

- **S3** (:class:`PipeLogBuckets`): one object a batch, named as
  ``pipes.execution_logs.s3_object_key`` says, in the ``OutputFormat`` asked, gzip'd; written
  by the service, as the bucket's owner, sealed under the bucket's account's keys like any
  object (the path ALB access logs take, decision 0264), once the pipe's role (trusting
  ``pipes.amazonaws.com``) is allowed ``s3:PutObject`` on the object and the bucket is still
  of the account its ``BucketOwner`` names.
- **Firehose** (:class:`PipeLogStreams`): each record one JSON line, one record each, put
  into the stream (``FirehoseService.put``, the path every producer takes) once the role is
  allowed ``firehose:PutRecordBatch`` on it.

A refusal is said at INFO, never raised: a pipe's log never stops its events (AWS's
behaviour too).
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from andromede.errors import AndromedeError
from andromede.firehose.service import FirehoseService
from andromede.pipe_roles import PipeRoles
from andromede.pipes.errors import EndpointRefused
from andromede.pipes.execution_logs import (
    firehose_log_stream,
    s3_log_body,
    s3_log_destination,
    s3_object_key,
)
from andromede.pipes.model import Pipe
from andromede.storage.errors import NoSuchBucket
from andromede.storage.service import ObjectService

__all__ = ["PipeLogBuckets", "PipeLogDestinations", "PipeLogStreams", "PipeLogWriter"]

log = logging.getLogger(__name__)


class PipeLogWriter(Protocol):
    async def write(self, pipe: Pipe, records: Sequence[dict[str, Any]]) -> None: ...


class PipeLogDestinations:
    """Every writer given, each writing the destination of its own kind (if named)."""

    def __init__(self, writers: Sequence[PipeLogWriter]) -> None:
        self._writers = list(writers)

    async def write(self, pipe: Pipe, records: Sequence[dict[str, Any]]) -> None:
        for writer in self._writers:
            try:
                await writer.write(pipe, records)
            except Exception:  # a pipe's log must not stop its events
                log.exception("Pipe %s: its execution log could not be written", pipe.arn)


class PipeLogBuckets:
    def __init__(
        self,
        roles: PipeRoles,
        objects: ObjectService,
        unique: Callable[[], str] = lambda: secrets.token_hex(8),
    ) -> None:
        self._roles = roles
        self._objects = objects
        self._unique = unique

    async def write(self, pipe: Pipe, records: Sequence[dict[str, Any]]) -> None:
        where = s3_log_destination(pipe)
        if where is None or not records:
            return
        name = str(where["BucketName"])
        key = s3_object_key(
            pipe, str(where.get("Prefix", "")), int(records[0]["timestamp"]), self._unique()
        )
        try:
            session = await self._roles.session(pipe)
            await self._roles.require(session, "s3:PutObject", f"arn:aws:s3:::{name}/{key}")
            bucket = await self._objects.get_bucket(name)
        except EndpointRefused as exc:
            log.info("Pipe %s: its S3 log was refused: %s: %s", pipe.arn, exc.code, exc)
            return
        except NoSuchBucket:
            log.info("Pipe %s: its S3 log bucket %s does not exist", pipe.arn, name)
            return
        if bucket.tenant_id != where.get("BucketOwner") or bucket.tenant_id != pipe.tenant_id:
            log.info("Pipe %s: its S3 log bucket %s is not its account's", pipe.arn, name)
            return
        body = s3_log_body(records, str(where.get("OutputFormat", "json")))
        try:
            await self._objects.put_delivered_object(bucket, key, body, "application/x-gzip")
        except AndromedeError as exc:
            log.info("Pipe %s: its S3 log was not written: %s", pipe.arn, type(exc).__name__)


class PipeLogStreams:
    def __init__(self, roles: PipeRoles, firehose: Callable[[], FirehoseService | None]) -> None:
        self._roles = roles
        self._firehose = firehose

    async def write(self, pipe: Pipe, records: Sequence[dict[str, Any]]) -> None:
        arn = firehose_log_stream(pipe)
        if arn is None or not records:
            return
        firehose = self._firehose()
        if firehose is None:
            log.info("Pipe %s: Firehose is not served: its log is not written", pipe.arn)
            return
        try:
            session = await self._roles.session(pipe)
            await self._roles.require(session, "firehose:PutRecordBatch", arn)
        except EndpointRefused as exc:
            log.info("Pipe %s: its Firehose log was refused: %s: %s", pipe.arn, exc.code, exc)
            return
        name = arn.split(":", 5)[5].removeprefix("deliverystream/")
        lines = [(json.dumps(r, separators=(",", ":")) + "\n").encode() for r in records]
        try:
            results = await firehose.put(pipe.tenant_id, name, lines)
        except AndromedeError as exc:
            log.info("Pipe %s: its Firehose log was not written: %s", pipe.arn, exc)
            return
        failed = [r.error_code for r in results if r.error_code is not None]
        if failed:
            log.info(
                "Pipe %s: %d Firehose log records refused (%s)", pipe.arn, len(failed), failed[0]
            )
