"""Where Lambda's event source mappings meet Kinesis data streams and DynamoDB streams
(decision 0301): the execution role's check, the poller's work on a stream mapping, and the
records of the batches given up sent to its ``OnFailure`` destination.

- **The role.** CreateEventSourceMapping refuses a role that may not do what AWS's
  ``AWSLambdaKinesisExecutionRole`` (``kinesis:GetRecords``, ``GetShardIterator``,
  ``DescribeStream``, ``ListShards``, ``ListStreams``) or ``AWSLambdaDynamoDBExecutionRole``
  (``dynamodb:GetRecords``, ``GetShardIterator``, ``DescribeStream``, ``ListStreams``) grant
  on the stream, in AWS's words ("Cannot access stream … Please ensure the role can perform
  …"); an ``OnFailure`` destination needs ``sqs:SendMessage``, ``sns:Publish`` ("The
  provided execution role does not have permissions to call SendMessage on SQS") or, for an
  S3 bucket, ``s3:PutObject`` and ``s3:ListBucket`` (decision 0311).
- **Reading.** Each shard is read by ``stream_reading.StreamReader`` (Pipes' reader) from
  the mapping's checkpoint (``MappingStore.checkpoints``, moved only by the gateway holding
  the mapping's lease), else its ``StartingPosition`` (LATEST: since the mapping was made).
  Shards are worked side by side, each in order; a batch smaller than ``BatchSize`` waits
  while its oldest record is younger than ``MaximumBatchingWindowInSeconds``.
- **Invoking.** Records older than ``MaximumRecordAgeInSeconds`` are given up; those
  ``FilterCriteria`` drop are passed unseen; the rest go to the function synchronously as
  ``{"Records": […]}`` in Lambda's shapes (a Kinesis record's own members under
  ``kinesis``), spread over ``ParallelizationFactor`` lanes by partition key (a DynamoDB
  record's ``Keys``), each lane one invocation, one key's records in order. Each batch
  publishes its ``IteratorAge`` (its last record's) and, with a ``MetricsConfig`` asking
  for ``EventCount``, its event counts into ``AWS/Lambda`` (decision 0323).
- **Outcomes.** Success moves the shard's checkpoint past the batch. With
  ``ReportBatchItemFailures`` the function's ``batchItemFailures`` (sequence numbers) move it
  to just before the first one named, the rest tried again (an identifier not in the batch, or
  an empty one, fails the batch whole, as AWS). A function error splits the batch when
  ``BisectBatchOnFunctionError`` (the first half tried alone, these tries not counted), else
  counts a try; past ``MaximumRetryAttempts`` (-1: until the records expire) the batch is
  given up. A throttle is not a try. A batch given up is described to the ``OnFailure``
  destination (AWS's invocation record: ``requestContext``, ``responseContext``,
  ``KinesisBatchInfo`` / ``DDBStreamBatchInfo``, no data; a bucket's object adds the batch as
  ``payload`` under ``aws/lambda/<uuid>/<shardId>/…``), sent as the role through
  ``function_deliveries.RecordSender`` (decision 0311), and passed.
  Delivery is at least once, as AWS's.
- **Tumbling windows** (``TumblingWindowInSeconds``, decision 0319, ``function_windows``): a
  shard's records go to the function a window at a time, in one invocation a batch (the state
  is one a shard), with the window's state; the answer's ``state`` is kept sealed with the
  checkpoint. Once the window's end has passed with its records done (or a record of a later
  window comes), a final invocation without records gets the last state; until it succeeds
  the shard waits. A state over 1 MB ends the window early (a final invocation saying so);
  the window's next records start from ``{}``. Failed windowed batches are retried, bisected
  and given up as any other, the window's state as it was before them. A failing final
  invocation is bounded as a batch is (decision 0328): past ``MaximumRetryAttempts`` retries,
  or once the window's end is older than ``MaximumRecordAgeInSeconds``, it is given up (its
  event to the OnFailure destination) and the window dropped; bisecting has nothing to split.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
import uuid
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from andromede.dynamodb.errors import DynamoError
from andromede.dynamodb.stream_service import DynamoStreams
from andromede.function_deliveries import (
    BucketChecker,
    Message,
    RecordSender,
    Sending,
    destination_kind,
    destination_refusal,
    service_channels,
)
from andromede.function_sources import FunctionRoles
from andromede.function_windows import (
    STATE_LIMIT,
    OpenWindow,
    StateSealer,
    WindowStates,
    final_failure_record,
    first_window,
    returned_state,
    state_size,
    window_payload,
)
from andromede.functions.errors import FunctionsError, InvalidParameterValue
from andromede.functions.invocation_metrics import FunctionMetrics
from andromede.functions.invoker import Invocation, Invoker
from andromede.functions.mapping_service import SourceCheck
from andromede.functions.mapping_streams import on_failure_destination
from andromede.functions.mappings import EventSourceMapping, MappingStore, ShardWindow
from andromede.kinesis.errors import KinesisError
from andromede.kinesis.service import KinesisService
from andromede.notifications.pubsub import PubSubService
from andromede.pipes.errors import EndpointRefused
from andromede.pipes.model import compiled_filters
from andromede.pipes.runner import SourceBatch, SourceEvent
from andromede.pipes.shaping import matchable, passes
from andromede.queues.service import QueueService
from andromede.stream_reading import StreamCursor, StreamReader, batch_info, stream_kind

__all__ = [
    "FailureDestinations",
    "InvokerFunctions",
    "StreamAccess",
    "StreamFunctions",
    "StreamPoller",
    "destination_access",
    "lambda_record",
    "stream_record_key",
]

log = logging.getLogger(__name__)

_KINESIS_READ: Final = (
    "kinesis:GetRecords",
    "kinesis:GetShardIterator",
    "kinesis:DescribeStream",
    "kinesis:ListShards",
    "kinesis:ListStreams",
)
_DYNAMODB_READ: Final = (
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:DescribeStream",
    "dynamodb:ListStreams",
)
_KINESIS_OWN: Final = (
    "kinesisSchemaVersion",
    "partitionKey",
    "sequenceNumber",
    "data",
    "approximateArrivalTimestamp",
)
_REMEMBERED: Final = 10_000


def _iso(ms: float) -> str:
    moment = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def lambda_record(event: dict[str, Any]) -> dict[str, Any]:
    """A stream record as Lambda gives it: a Kinesis record's own members under
    ``kinesis`` (Pipes gives them flat); a DynamoDB record as it is."""
    if event.get("eventSource") != "aws:kinesis":
        return event
    shaped = {k: v for k, v in event.items() if k not in _KINESIS_OWN}
    return {"kinesis": {k: event[k] for k in _KINESIS_OWN if k in event}} | shaped


class StreamAccess:
    """What the execution role may do with a stream and an OnFailure destination."""

    def __init__(
        self,
        roles: FunctionRoles,
        kinesis: Callable[[], KinesisService | None],
        dynamodb: Callable[[], DynamoStreams | None],
        buckets: BucketChecker | None = None,
    ) -> None:
        self._roles = roles
        self._kinesis = kinesis
        self._dynamodb = dynamodb
        self._buckets = buckets

    async def refusal(self, tenant_id: str, role_arn: str, source: str) -> str | None:
        """Why the role cannot read the stream, in AWS's words; None when it can."""
        session = await self._roles.session(tenant_id, role_arn, "EventSourceMapping")
        if session is None:
            return "The role defined for the function cannot be assumed by Lambda."
        kind = stream_kind(source)
        actions = _KINESIS_READ if kind == "kinesis" else _DYNAMODB_READ
        for action in actions:
            if not await self._roles.allowed(session, action, source):
                names = [a.split(":", 1)[1] for a in actions]
                listed = ", ".join(names[:-1]) + f", and {names[-1]}"
                return (
                    f"Cannot access stream {source}. Please ensure the role can perform the "
                    f"{listed} Actions on your stream in IAM."
                )
        if not await self._exists(tenant_id, kind, source):
            return f"Stream not found: {source}"
        return None

    async def _exists(self, tenant_id: str, kind: str | None, source: str) -> bool:
        if kind == "kinesis":
            kinesis = self._kinesis()
            if kinesis is None:
                return False
            try:
                await kinesis.get(tenant_id, source.split(":", 5)[5].removeprefix("stream/"))
            except KinesisError:
                return False
            return True
        streams = self._dynamodb()
        if streams is None:
            return False
        try:
            await streams.stream(tenant_id, source)
        except DynamoError:
            return False
        return True

    async def destination_refusal(self, tenant_id: str, role_arn: str, arn: str) -> str | None:
        """Why the role cannot send to the OnFailure destination; None when it can."""
        return await destination_refusal(
            self._roles, tenant_id, role_arn, arn, "EventSourceMapping", self._buckets
        )


def stream_record_key(mapping_uuid: str, shard: str, moment: dt.datetime, record_id: str) -> str:
    """The key of a stream mapping's failure record in an S3 bucket, as AWS writes it:
    ``aws/lambda/<ESM-UUID>/<shardId>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<uuid>``."""
    return (
        f"aws/lambda/{mapping_uuid}/{shard}/{moment:%Y/%m/%d}/"
        f"{moment:%Y-%m-%dT%H.%M.%S}-{record_id}"
    )


class FailureDestinations:
    """The records of the batches given up, sent to a mapping's OnFailure destination as the
    function's role through ``function_deliveries.RecordSender`` (an SQS queue, an SNS topic,
    an S3 bucket). Given no ``sender``, the queue and topic services' twin channels."""

    def __init__(
        self,
        roles: FunctionRoles,
        access: StreamAccess,
        queues: QueueService | None,
        pubsub: PubSubService | None,
        sender: RecordSender | None = None,
    ) -> None:
        self._access = access
        self._sender = sender or RecordSender(roles, service_channels(roles, queues, pubsub), None)

    async def send(
        self,
        mapping: EventSourceMapping,
        role_arn: str,
        record: dict[str, Any],
        shard: str,
        payload: str,
        moment: dt.datetime,
    ) -> bool:
        """Whether ``record`` reached the destination (a refusal is logged and audited: AWS
        drops such a record too). A bucket takes the record with the batch's ``payload``."""
        arn = on_failure_destination(mapping.parameters)
        if arn is None:
            return False
        sending = Sending(mapping.tenant_id, role_arn, mapping.uuid, mapping.function_arn, arn)
        refused = await self._access.destination_refusal(mapping.tenant_id, role_arn, arn)
        if refused is not None:  # in AWS's words, as CreateEventSourceMapping says it
            self._sender.refused(sending, refused)
            return False
        if destination_kind(arn) == "s3":
            key = stream_record_key(mapping.uuid, shard, moment, str(uuid.uuid4()))
            message = Message(json.dumps(record | {"payload": payload}), key=key)
        else:
            message = Message(json.dumps(record))
        return await self._sender.send(sending, message)


class StreamFunctions(Protocol):
    async def role(self, mapping: EventSourceMapping) -> str:
        """The execution role of the mapping's function; FunctionsError when it is gone."""
        ...

    async def run(self, mapping: EventSourceMapping, payload: bytes) -> Invocation:
        """The mapping's function run synchronously with ``payload``; FunctionsError when it
        is throttled or gone."""
        ...


class InvokerFunctions:
    """:class:`StreamFunctions` over Lambda's invoker (its sandbox, logs, meters and
    concurrency, decision 0286)."""

    def __init__(self, invoker: Invoker) -> None:
        self._invoker = invoker

    async def role(self, mapping: EventSourceMapping) -> str:
        _, version = await self._invoker.target(
            mapping.tenant_id, mapping.function_name, mapping.qualifier
        )
        return version.role

    async def run(self, mapping: EventSourceMapping, payload: bytes) -> Invocation:
        record, version = await self._invoker.target(
            mapping.tenant_id, mapping.function_name, mapping.qualifier
        )
        await self._invoker.refresh_reserves(mapping.tenant_id)
        return await self._invoker.invoke(record, version, payload, mapping.function_arn)


@dataclass(frozen=True, slots=True)
class _Tried:
    """One shard batch's invocations: ``failed`` the sequence numbers reported failed (None:
    the batch failed whole), ``throttled`` when the function could not be run."""

    sent: int
    failed: set[str] | None
    throttled: bool = False
    executed: str = "$LATEST"
    state: dict[str, Any] | None = None  # a windowed invocation's answered state


@dataclass(frozen=True, slots=True)
class _Window:
    """The window a windowed shard batch is invoked in, and its state before the batch."""

    shard: str
    start: int
    state: dict[str, Any]


class StreamPoller:
    def __init__(
        self,
        store: MappingStore,
        access: StreamAccess,
        reader: StreamReader,
        functions: StreamFunctions,
        failures: FailureDestinations,
        clock: Callable[[], int] = lambda: int(time.time() * 1000),
        sealer: StateSealer | None = None,
    ) -> None:
        self._store = store
        self._windows = None if sealer is None else WindowStates(store, sealer)
        self.access = access
        self._reader = reader
        self._functions = functions
        self._failures = failures
        self._clock = clock
        self._attempts: dict[tuple[str, str], int] = {}  # a shard batch's failed tries
        self.metrics: FunctionMetrics | None = None  # AWS/Lambda (decision 0323)
        self._bisected: dict[tuple[str, str], int] = {}  # a failed shard batch's half
        # A poll read records, holds an open window or met a problem: the mapping poller
        # keeps its interval (decision 0331). Reset by the poller before each pass.
        self.busy = False

    async def poll(self, mapping: EventSourceMapping, owner: str) -> tuple[int, str | None]:
        """One pass over an enabled stream mapping ``owner`` holds the lease of: the records
        given to the function, and its ``LastProcessingResult`` (None: nothing to say)."""
        try:
            role = await self._functions.role(mapping)
        except FunctionsError:
            self.busy = True
            return 0, "PROBLEM: Function not found."
        refused = await self.access.refusal(mapping.tenant_id, role, mapping.source_arn)
        if refused is not None:
            self.busy = True
            return 0, f"PROBLEM: {refused}"
        parameters = mapping.parameters
        stamp = parameters.get("StartingPositionTimestamp")
        cursor = StreamCursor(
            tenant_id=mapping.tenant_id,
            arn=mapping.source_arn,
            kind=mapping.source_kind,
            starting_position=str(parameters.get("StartingPosition", "LATEST")),
            since=mapping.created,
            identity_arn=role,
            timestamp=None if stamp is None else float(stamp),
        )
        points = await self._store.checkpoints(mapping.uuid)
        opened: dict[str, OpenWindow] = {}
        if mapping.tumbling_seconds:
            if self._windows is None:
                self.busy = True
                return 0, "PROBLEM: Tumbling windows are not served by this deployment"
            opened = await self._windows.opened(mapping, points)
        try:
            batches = await self._reader.read(cursor, points, mapping.batch_size)
        except EndpointRefused as exc:
            self.busy = True
            return 0, f"PROBLEM: {str(exc)[:200]}"
        if batches or opened:
            self.busy = True  # records to give, or a tumbling window to close at its end
        read = {batch.shard for batch in batches}
        length = mapping.tumbling_seconds * 1000
        ended = {  # no record left in the window: it is over once its end has passed
            shard: window
            for shard, window in opened.items()
            if shard not in read and window.start + length <= self._clock()
        }
        outcomes = await asyncio.gather(
            *(
                self._shard(mapping, role, owner, batch, opened.get(batch.shard or ""))
                for batch in batches
            ),
            *(self._closed(mapping, owner, shard, window) for shard, window in ended.items()),
        )
        sent = sum(n for n, _ in outcomes)
        results = [r for _, r in outcomes if r is not None]
        problem = next((r for r in results if r != "OK"), None)
        return sent, problem or (results[0] if results else None)

    def _waits(self, mapping: EventSourceMapping, events: Sequence[SourceEvent]) -> bool:
        window = mapping.window_seconds
        if window <= 0 or len(events) >= mapping.batch_size:
            return False
        return self._clock() - min(e.arrived for e in events) < window * 1000

    async def _closed(
        self, mapping: EventSourceMapping, owner: str, shard: str, window: OpenWindow
    ) -> tuple[int, str | None]:
        """A window over: its final invocation, the shard waiting until it succeeds."""
        if not await self._final(mapping, owner, shard, window, early=False):
            return 0, "PROBLEM: Function call failed"
        return 0, "OK"

    async def _final(
        self,
        mapping: EventSourceMapping,
        owner: str,
        shard: str,
        window: OpenWindow,
        *,
        early: bool,
    ) -> bool:
        """The final invocation of ``window``: no records, its last state. Once it succeeded
        the window is dropped, or, ended early, continued with a fresh state."""
        payload = window_payload(
            [], mapping, shard, window.start, window.state, final=True, early=early
        )
        try:
            done = await self._functions.run(mapping, payload)
        except FunctionsError:
            return False  # a throttle is not one of the retries, as for a batch
        key = (mapping.uuid, f"{shard}\x00final")
        if not done.ok:
            condition = self._final_exhausted(mapping, key, window.start)
            if condition is None:
                return False
            tries = self._attempts.pop(key, 0) + 1
            await self._give_up_final(mapping, shard, window, payload, condition, tries, done)
        self._attempts.pop(key, None)
        kept = None
        if early and self._windows is not None:
            kept = await self._windows.sealed(mapping, shard, window.start, {})
        await self._store.save_checkpoint(mapping.uuid, owner, shard, window.sequence, kept)
        return True

    def _final_exhausted(
        self, mapping: EventSourceMapping, key: tuple[str, str], start: int
    ) -> str | None:
        """Why a failed final invocation is given up (AWS's condition), None: retried."""
        max_age = int(mapping.parameters.get("MaximumRecordAgeInSeconds", -1))
        end = start + mapping.tumbling_seconds * 1000
        if max_age >= 0 and self._clock() - end > max_age * 1000:
            return "RecordAgeExceeded"
        tries = self._attempts.get(key, 0) + 1
        retries = int(mapping.parameters.get("MaximumRetryAttempts", -1))
        if retries < 0 or tries <= retries:
            if len(self._attempts) >= _REMEMBERED:
                self._attempts.clear()
            self._attempts[key] = tries
            return None
        return "RetryAttemptsExhausted"

    async def _give_up_final(
        self,
        mapping: EventSourceMapping,
        shard: str,
        window: OpenWindow,
        payload: bytes,
        condition: str,
        tries: int,
        done: Invocation,
    ) -> None:
        log.info("Event source mapping %s: the final invocation of %s's window at %d given up "
            "(%s)", mapping.uuid, shard, window.start, condition)  # fmt: skip
        if on_failure_destination(mapping.parameters) is None:
            return
        try:
            role = await self._functions.role(mapping)
        except FunctionsError:
            return
        now = self._clock()
        record = final_failure_record(
            mapping, shard, window.start, condition, tries, done.version, _iso(now)
        )
        moment = dt.datetime.fromtimestamp(now / 1000, dt.UTC)
        sent = await self._failures.send(mapping, role, record, shard, payload.decode(), moment)
        self._measure_delivery(mapping, sent, 0)

    async def _shard(
        self,
        mapping: EventSourceMapping,
        role: str,
        owner: str,
        batch: SourceBatch,
        opened: OpenWindow | None = None,
    ) -> tuple[int, str | None]:
        key = (mapping.uuid, batch.shard or "")
        window = None
        if mapping.tumbling_seconds:
            shard = batch.shard or ""
            start, inside = first_window(batch.events, mapping.tumbling_seconds)
            if opened is not None and (
                opened.start < start or state_size(opened.state) > STATE_LIMIT
            ):
                early = opened.start >= start
                if not await self._final(mapping, owner, shard, opened, early=early):
                    return 0, "PROBLEM: Function call failed"
                opened = None if not early else OpenWindow(opened.start, {}, opened.sequence)
            batch = SourceBatch(inside, batch.shard)
            state = opened.state if opened is not None and opened.start == start else {}
            window = _Window(shard, start, state)
        half = self._bisected.get(key)
        if half is not None and half < len(batch.events):
            batch = SourceBatch(batch.events[:half], batch.shard)
        elif self._waits(mapping, batch.events):
            return 0, None  # unread: the window is still open
        max_age = int(mapping.parameters.get("MaximumRecordAgeInSeconds", -1))
        now = self._clock()
        expired = [e for e in batch.events if max_age >= 0 and now - e.arrived > max_age * 1000]
        if expired:
            await self._give_up(
                mapping, role, SourceBatch(expired, batch.shard), "RecordAgeExceeded", 0, None
            )
        fresh = [e for e in batch.events if e not in expired]
        filters = compiled_filters(mapping.parameters)
        chosen = [e for e in fresh if passes(filters, matchable(e.event))]
        tried = await self._invoke(mapping, chosen, window)
        self._measure(mapping, batch, len(fresh) - len(chosen), len(chosen), tried, now)
        if tried.failed is not None and not tried.failed:
            self._attempts.pop(key, None)
            self._bisected.pop(key, None)
            await self._checkpoint(mapping, owner, batch, window, tried.state)
            return tried.sent, "OK" if tried.sent else None
        if tried.throttled:
            return 0, "PROBLEM: Function call throttled"
        if tried.failed:  # some reported failed: past those before the first one
            first = next(i for i, e in enumerate(batch.events) if e.sequence in tried.failed)
            if first:
                done = SourceBatch(batch.events[:first], batch.shard)
                await self._checkpoint(mapping, owner, done, window, tried.state)
                if window is not None and tried.state is not None:
                    window = _Window(window.shard, window.start, tried.state)
            batch = SourceBatch(batch.events[first:], batch.shard)
        elif mapping.parameters.get("BisectBatchOnFunctionError") and len(batch.events) > 1:
            if len(self._bisected) >= _REMEMBERED:
                self._bisected.clear()
            self._bisected[key] = len(batch.events) // 2  # not one of the retries
            return tried.sent, "PROBLEM: Function call failed"
        tries = self._attempts.get(key, 0) + 1
        retries = int(mapping.parameters.get("MaximumRetryAttempts", -1))
        if retries < 0 or tries <= retries:
            if len(self._attempts) >= _REMEMBERED:
                self._attempts.clear()
            self._attempts[key] = tries
            return tried.sent, "PROBLEM: Function call failed"
        self._attempts.pop(key, None)
        self._bisected.pop(key, None)
        await self._give_up(mapping, role, batch, "RetryAttemptsExhausted", tries, tried.executed)
        await self._checkpoint(mapping, owner, batch, window, None)
        return tried.sent, "PROBLEM: Function call failed"

    def _measure(
        self,
        mapping: EventSourceMapping,
        batch: SourceBatch,
        filtered: int,
        chosen: int,
        tried: _Tried,
        now: int,
    ) -> None:
        """The batch's ``IteratorAge`` (its last record's) and, when the mapping's
        MetricsConfig asks, its event counts, into AWS/Lambda (decision 0323)."""
        if self.metrics is None or not batch.events:
            return
        age = now - batch.events[-1].arrived
        self.metrics.iterator_age(mapping.tenant_id, mapping.function_name, mapping.qualifier, age)
        if not mapping.counts_events:
            return
        counts = {"PolledEventCount": len(batch.events), "FilteredOutEventCount": filtered}
        if not tried.throttled:
            counts["InvokedEventCount"] = chosen
        if tried.failed is None:
            counts["FailedInvokeEventCount"] = chosen
        elif tried.failed:
            counts["FailedInvokeEventCount"] = len(tried.failed)
        self.metrics.mapping_events(mapping.tenant_id, mapping.uuid, counts)

    def _lanes(
        self, mapping: EventSourceMapping, events: list[SourceEvent]
    ) -> list[list[SourceEvent]]:
        factor = int(mapping.parameters.get("ParallelizationFactor", 1))
        if factor <= 1 or len(events) <= 1:
            return [events] if events else []
        lanes: list[list[SourceEvent]] = [[] for _ in range(factor)]
        for one in events:
            lanes[zlib.crc32(_partition_key(one.event).encode()) % factor].append(one)
        return [lane for lane in lanes if lane]

    async def _invoke(
        self, mapping: EventSourceMapping, events: list[SourceEvent], window: _Window | None
    ) -> _Tried:
        """The events to the function, a lane an invocation, the lanes at once; in a tumbling
        window, one invocation with the window's state."""
        if window is not None:
            return await self._windowed(mapping, events, window)
        lanes = self._lanes(mapping, events)
        tried = await asyncio.gather(*(self._lane(mapping, lane) for lane in lanes))
        failed: set[str] | None = set()
        throttled = False
        executed = "$LATEST"
        for one in tried:
            throttled = throttled or one.throttled
            executed = one.executed
            if one.failed is None or failed is None:
                failed = None
            else:
                failed |= one.failed
        return _Tried(sum(t.sent for t in tried), failed, throttled, executed)

    async def _lane(self, mapping: EventSourceMapping, lane: list[SourceEvent]) -> _Tried:
        payload = json.dumps({"Records": [lambda_record(e.event) for e in lane]}).encode()
        try:
            done = await self._functions.run(mapping, payload)
        except FunctionsError:
            return _Tried(0, None, throttled=True)
        if not done.ok:
            return _Tried(len(lane), None, executed=done.version)
        return _Tried(len(lane), self._reported(mapping, done.payload, lane), executed=done.version)

    async def _windowed(
        self, mapping: EventSourceMapping, events: list[SourceEvent], window: _Window
    ) -> _Tried:
        if not events:  # all filtered out: the window's state unchanged
            return _Tried(0, set(), state=window.state)
        records = [lambda_record(e.event) for e in events]
        payload = window_payload(records, mapping, window.shard, window.start, window.state)
        try:
            done = await self._functions.run(mapping, payload)
        except FunctionsError:
            return _Tried(0, None, throttled=True)
        state = returned_state(done.payload) if done.ok else None
        if state is None:  # an error, or an answer without its state: the batch failed
            return _Tried(len(events), None, executed=done.version)
        failed = self._reported(mapping, done.payload, events)
        return _Tried(len(events), failed, executed=done.version, state=state)

    def _reported(
        self, mapping: EventSourceMapping, answer: bytes, lane: list[SourceEvent]
    ) -> set[str] | None:
        """The sequence numbers the function reported failed (None: the lane failed whole,
        an identifier empty or not of the lane), as AWS reads ``batchItemFailures``."""
        if not mapping.reports_failures:
            return set()
        try:
            document = json.loads(answer)
        except ValueError:
            return set()
        items = document.get("batchItemFailures") if isinstance(document, dict) else None
        if not items or not isinstance(items, list):
            return set()
        named = {item.get("itemIdentifier") if isinstance(item, dict) else None for item in items}
        if not named <= {e.sequence for e in lane}:
            return None
        return {str(n) for n in named}

    async def _give_up(
        self,
        mapping: EventSourceMapping,
        role: str,
        batch: SourceBatch,
        condition: str,
        tries: int,
        executed: str | None,
    ) -> None:
        """A batch passed: described to the mapping's OnFailure destination, if any."""
        log.info("Event source mapping %s: %d records of %s given up (%s)", mapping.uuid,
            len(batch.events), batch.shard, condition)  # fmt: skip
        if self.metrics is not None and mapping.counts_events and batch.events:
            self.metrics.mapping_events(
                mapping.tenant_id, mapping.uuid, {"DroppedEventCount": len(batch.events)}
            )
        if on_failure_destination(mapping.parameters) is None or not batch.events:
            return
        info = batch_info(mapping.source_kind, batch, mapping.source_arn)
        for member in info.values():
            for name in ("approximateArrivalOfFirstRecord", "approximateArrivalOfLastRecord"):
                member[name] = _iso(member[name] * 1000)
        record: dict[str, Any] = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": mapping.function_arn,
                "condition": condition,
                "approximateInvokeCount": tries,
            },
            "version": "1.0",
            "timestamp": _iso(self._clock()),
        }
        if executed is not None:
            record["responseContext"] = {
                "statusCode": 200,
                "executedVersion": executed,
                "functionError": "Unhandled",
            }
        payload = json.dumps({"Records": [lambda_record(e.event) for e in batch.events]})
        moment = dt.datetime.fromtimestamp(self._clock() / 1000, dt.UTC)
        sent = await self._failures.send(
            mapping, role, record | info, batch.shard or "", payload, moment
        )
        self._measure_delivery(mapping, sent, len(batch.events))

    def _measure_delivery(self, mapping: EventSourceMapping, sent: bool, records: int) -> None:
        """A failed batch's record delivered or not, into AWS/Lambda (decision 0323)."""
        if self.metrics is None:
            return
        if not sent:
            self.metrics.delivery_failed(
                mapping.tenant_id, mapping.function_name, mapping.qualifier
            )
        elif mapping.counts_events:
            counts = {"OnFailureDestinationDeliveredEventCount": records}
            self.metrics.mapping_events(mapping.tenant_id, mapping.uuid, counts)

    async def _checkpoint(
        self,
        mapping: EventSourceMapping,
        owner: str,
        batch: SourceBatch,
        window: _Window | None = None,
        state: dict[str, Any] | None = None,
    ) -> None:
        """Past ``batch``; in a tumbling window, its ``state`` kept (None: the window's state
        as it was), a state over the limit ending the window early."""
        last = batch.events[-1].sequence if batch.events else None
        if batch.shard is None or last is None:
            return
        kept: ShardWindow | None = None
        if window is not None and self._windows is not None:
            state = window.state if state is None else state
            kept = await self._windows.sealed(mapping, window.shard, window.start, state)
        if not await self._store.save_checkpoint(mapping.uuid, owner, batch.shard, last, kept):
            return
        if window is not None and state is not None and state_size(state) > STATE_LIMIT:
            opened = OpenWindow(window.start, state, last)
            await self._final(mapping, owner, window.shard, opened, early=True)


def _partition_key(event: dict[str, Any]) -> str:
    key = event.get("partitionKey")
    if isinstance(key, str):
        return key
    keys = (event.get("dynamodb") or {}).get("Keys")
    return json.dumps(keys, sort_keys=True, separators=(",", ":")) if keys else ""


def destination_access(access: StreamAccess) -> SourceCheck:
    """CreateEventSourceMapping's check of the function's role against a stream mapping's
    OnFailure destination."""

    async def check(tenant_id: str, role_arn: str, destination: str) -> None:
        refused = await access.destination_refusal(tenant_id, role_arn, destination)
        if refused is not None:
            raise InvalidParameterValue(refused)

    return check
