"""The pipes' runner (decision 0258): every gateway runs one; each pass settles the
transitional pipes (``PipesService.settle``), then claims the RUNNING pipes whose reader's
lease ran out or is its own (one gateway reads a pipe at a time, and keeps it while it renews
the lease), reads a batch of each pipe's source (``BatchSize`` events) as the pipe's role,
keeps the events its filters pass, and sends each, as its template makes it, to the target as
the pipe's role.

**Acknowledging.** An SQS source's messages are deleted once sent, or once filtered out (AWS
deletes the messages a filter drops); a message whose sending failed is left in the queue, to
come back after its visibility timeout (and to its queue's dead-letter queue under its redrive
policy), as on AWS. A stream source's shard checkpoint moves past a batch once every event of
it was sent; a failed batch is read again at the next pass, up to ``MaximumRetryAttempts``
(-1: until the records expire), then sent to the ``DeadLetterConfig`` queue (a record of the
batch as AWS's, without its data) and passed. Records older than ``MaximumRecordAgeInSeconds``
are passed without being sent, the same way. Delivery is at least once, as AWS's.

**Failures.** A source or target refusing the role, or gone, is :class:`EndpointRefused`: the
pipe stays RUNNING with the reason as its ``StateReason``, said at INFO when it changes, and
is read again at the next pass. Each batch's execution is logged as its ``LogConfiguration``
asks (``pipes.execution_logs``).

**Enrichment** (decision 0268). A pipe with an ``Enrichment`` sends each batch's events past
its filters, as one JSON array, to its API destination (:class:`PipeEnricher`), and the events
its answer gives (``shaping.enriched_events``) go on to the target; none when it filters them
all out. An enrichment's failure fails the batch as a target's does: an SQS batch's messages
are left in the queue (those filtered out are deleted), a stream batch is read again, then
given up to its dead-letter queue, by the source's rules. With an enrichment the messages of
an SQS batch are deleted only once the whole batch was sent (its answer's events are not the
source's: which ones were sent cannot be told). The enrichment is given the batch's trace
header (its source events' chosen by ``batch_trace``), and its events go on to the target
with that same trace (decision 0364).

**Batching options** (decision 0268). ``MaximumBatchingWindowInSeconds`` is a real window:
a batch smaller than ``BatchSize`` waits until its oldest event is that old (a stream's
records stay unread, read again at the next pass; an SQS batch's messages are held by this
gateway, the next pass receiving more), then goes. ``ParallelizationFactor`` (streams): the
events of one shard's batch are spread over that many lanes by partition key (a Kinesis
record's ``partitionKey``, a DynamoDB record's ``Keys``), the lanes executed at once, each in
order: the order of one key's events is kept. The shard's checkpoint moves once every lane
succeeded. ``OnPartialBatchItemFailure`` ``AUTOMATIC_BISECT``: a failed stream batch is split
in two, its first half read again alone (the rest after it), down to one record; these tries
do not count against ``MaximumRetryAttempts``, which applies to a single record's.

**Batch targets** (decision 0294). A target that takes a batch whole (a Lambda function, a
state machine — decision 0316 —, :class:`PipeBatchTarget`, several joined by
:class:`BatchTargets`) receives the events of an execution, each shaped by the template, as
one JSON array, even a batch of one, as AWS sends it. It may report some of them failed (its
``batchItemFailures``, by the source's identifiers: an SQS message's ``messageId``, a stream
record's ``eventID``; with an enrichment, the events it answered must carry them): an SQS
batch's other messages are deleted, the failed ones left in the queue; a stream's checkpoint
moves past the records before the first failed one, and the rest is tried again as a failed
batch is (its tries counted, then its dead-letter queue).
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
from dataclasses import dataclass, field
from typing import Any, Protocol

from andromede.pipes.errors import EndpointRefused
from andromede.pipes.execution_logs import execution_records, has_log_destination
from andromede.pipes.model import Pipe, compiled_filters
from andromede.pipes.service import PipesService
from andromede.pipes.shaping import batch_payload, enriched_events, matchable, passes, render
from andromede.wakeup import Doorbell, Pacer

__all__ = [
    "BatchTargets",
    "PartialBatchFailure",
    "PipeBatchTarget",
    "PipeEnricher",
    "PipeLogSink",
    "PipeObserver",
    "PipeSource",
    "PipeTarget",
    "PipesRunner",
    "RunnerPolicy",
    "SourceBatch",
    "SourceEvent",
]

log = logging.getLogger(__name__)

_REMEMBERED: int = 10_000


@dataclass(frozen=True, slots=True)
class SourceEvent:
    """One event as the source gives it (AWS's shape), with what acknowledges it: an SQS
    message's receipt handle, a stream record's sequence number; and when it arrived (ms).
    ``trace``: the trace header it came with (an SQS message's ``AWSTraceHeader``), sent on
    with it to the target (decision 0351: Lambda's recursive loop detection)."""

    event: dict[str, Any]
    receipt: str | None = None
    sequence: str | None = None
    arrived: int = 0
    trace: str | None = None


@dataclass(frozen=True, slots=True)
class SourceBatch:
    """Events of one shard of a stream source (``shard`` None: a queue's)."""

    events: list[SourceEvent]
    shard: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


class PipeSource(Protocol):
    async def read(self, pipe: Pipe, checkpoints: dict[str, str], limit: int) -> list[SourceBatch]:
        """Up to ``limit`` events a batch, read as the pipe's role (a stream's shards from
        their checkpoints); EndpointRefused when the role may not, or the source is gone."""
        ...

    async def acknowledge(self, pipe: Pipe, events: Sequence[SourceEvent]) -> None:
        """The events done with (an SQS source deletes its messages)."""
        ...

    async def dead_letter(self, pipe: Pipe, batch: SourceBatch, why: str) -> None:
        """A stream batch given up, said to the ``DeadLetterConfig`` queue (if any)."""
        ...


class PipeTarget(Protocol):
    async def send(
        self, pipe: Pipe, payload: str, event: dict[str, Any], *, trace: str | None = None
    ) -> None:
        """``payload`` sent to the pipe's target as its role, with the source event's
        ``trace`` header; EndpointRefused when the role may not or the target is gone, any
        other exception for a failure worth another try."""
        ...


class PipeBatchTarget(Protocol):
    def takes(self, pipe: Pipe) -> bool:
        """Whether the pipe's target takes its batch whole (a Lambda function)."""
        ...

    async def send_batch(self, pipe: Pipe, payload: str, traces: Sequence[str]) -> list[str]:
        """``payload`` (the batch's events, a JSON array) sent to the target as the pipe's
        role, ``traces`` the trace headers its source events came with (decision 0351); the
        identifiers of the events it reported failed (none: all done).
        EndpointRefused when the role may not or the target is gone, any other exception for
        a failure worth another try."""
        ...


class BatchTargets:
    """The :class:`PipeBatchTarget` of several: a pipe's batch goes to the first that takes
    it."""

    def __init__(self, *targets: PipeBatchTarget) -> None:
        self._targets = targets

    def takes(self, pipe: Pipe) -> bool:
        return any(target.takes(pipe) for target in self._targets)

    async def send_batch(self, pipe: Pipe, payload: str, traces: Sequence[str]) -> list[str]:
        target = next(target for target in self._targets if target.takes(pipe))
        return await target.send_batch(pipe, payload, traces)


class PartialBatchFailure(Exception):
    """A batch target reported some of the batch's events failed."""


class PipeEnricher(Protocol):
    async def enrich(
        self, pipe: Pipe, payload: str, first: Any, *, trace: str | None = None
    ) -> bytes:
        """``payload`` (a batch's events, a JSON array) sent to the pipe's enrichment as its
        role (``first``, the batch's first event, fills its dynamic parameters), with the
        batch's ``trace`` header (decision 0364); its answer.
        EndpointRefused when the role may not or the enrichment is gone, any other exception
        for a failure worth another try."""
        ...


class PipeObserver(Protocol):
    def sent(self, pipe: Pipe, sizes: Sequence[int]) -> None:
        """Events a pass sent to the target (their payloads' sizes), for the metering."""
        ...

    def executed(
        self, pipe: Pipe, events: int, size: int, failed: bool, duration_ms: float
    ) -> None:
        """One batch's execution (the events past the filters, their bytes, whether the
        target refused one, how long it took), for the pipe's metrics."""
        ...


class PipeLogSink(Protocol):
    async def write(self, pipe: Pipe, records: Sequence[dict[str, Any]]) -> None:
        """A batch's execution log records into the pipe's log destinations (never
        raises)."""
        ...


@dataclass(frozen=True, slots=True)
class RunnerPolicy:
    poll_interval: float = 1.0
    idle_poll_max: float | None = None  # background_idle_poll_max (decision 0326)
    lease_ms: int = 60_000
    pipes_a_pass: int = 100


def _iso(ms: int) -> str:
    moment = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class PipesRunner:
    def __init__(
        self,
        pipes: PipesService,
        sources: PipeSource,
        targets: PipeTarget,
        policy: RunnerPolicy,
        owner: str,
        observer: PipeObserver | None = None,
        logs: PipeLogSink | None = None,
        enricher: PipeEnricher | None = None,
        batches: PipeBatchTarget | None = None,
        doorbell: Doorbell | None = None,
        probe: Callable[[], bool] | None = None,
        batch_trace: Callable[[Sequence[str]], str | None] | None = None,
    ) -> None:
        self._pipes = pipes
        # Which of a batch's trace headers its enrichment, and the targets of the enrichment's
        # events, are given (decision 0364): Lambda's ``lineage.furthest`` as the wiring gives
        # it, the one a loop cannot hide behind; else the first.
        self._batch_trace = batch_trace or (lambda traces: next(iter(traces), None))
        self._batches = batches
        self._logs = logs
        self._enricher = enricher
        self._sources = sources
        self._targets = targets
        self.policy = policy
        self.owner = owner
        self._observer = observer
        self._attempts: dict[tuple[str, str], int] = {}  # a stream batch's failed tries
        self._refusals: dict[str, str] = {}
        self._bisected: dict[tuple[str, str], int] = {}  # a failed stream batch's half
        self._held: dict[str, list[SourceEvent]] = {}  # an SQS batch within its window
        # Rung by CreatePipe, UpdatePipe, StartPipe and StopPipe (decision 0326), and soon by
        # the sources (an SQS send, a Kinesis put, a DynamoDB stream's change: the bells the
        # wiring forwards to ``doorbell``, and ``probe`` for another process's, decision
        # 0331). The passes back off while the pipes held here find their sources empty; a
        # pipe that read events, holds a batch in its window, or failed keeps the interval.
        # The back-off stays within half a lease: a pipe held here is renewed in time.
        ceiling = policy.idle_poll_max
        if ceiling is not None:
            ceiling = min(ceiling, policy.lease_ms / 2000)
        self._pacer = Pacer(policy.poll_interval, ceiling, doorbell, probe=probe)
        self._busy = False

    def wake(self) -> None:
        self._pacer.doorbell.ring()

    async def run_forever(self) -> None:
        while True:
            self._busy = False
            try:
                await self.run_pass()
            except Exception:  # a failed pass must not end the loop; the next one retries
                log.exception("Pipes pass failed")
                self._busy = True
            await self._pacer.pause(self._busy)

    async def run_pass(self, now: int | None = None) -> int:
        """One pass; how many events it sent."""
        settled = await self._pipes.settle()
        now = int(time.time() * 1000) if now is None else now
        claimed = await self._pipes.store.claim(
            self.owner,
            now,
            now + self.policy.lease_ms,
            self.policy.pipes_a_pass,
            self._pipes.region,
        )
        self._busy = bool(settled)
        self._pacer.watching = bool(claimed)  # their sources' rings count (decision 0331)
        sent = 0
        for pipe in claimed:
            try:
                sent += await self._run(pipe, now)
                self._refusals.pop(pipe.arn, None)
                if pipe.state_reason:
                    await self._pipes.refused(pipe, "")  # it runs again
            except EndpointRefused as exc:
                self._busy = True  # refused: tried again every interval, as before
                await self._refused(pipe, f"{exc.code}: {exc}")
            except Exception:  # one pipe's fault must not stop the others'
                self._busy = True
                log.exception("Pipe %s: its pass failed", pipe.arn)
        return sent

    async def _refused(self, pipe: Pipe, why: str) -> None:
        level = logging.DEBUG if self._refusals.get(pipe.arn) == why else logging.INFO
        log.log(level, "Pipe %s cannot run now: %s", pipe.arn, why)
        if len(self._refusals) >= _REMEMBERED:
            self._refusals.clear()
        self._refusals[pipe.arn] = why
        await self._pipes.refused(pipe, why)

    def _source_member(self, pipe: Pipe) -> dict[str, Any]:
        for name in ("SqsQueueParameters", "KinesisStreamParameters", "DynamoDBStreamParameters"):
            if name in pipe.source_parameters:
                member: dict[str, Any] = pipe.source_parameters[name]
                return member
        return {}

    def _batch_size(self, pipe: Pipe) -> int:
        return int(self._source_member(pipe).get("BatchSize", 10))

    def _stream_member(self, pipe: Pipe) -> dict[str, Any]:
        return {} if pipe.source_kind == "sqs" else self._source_member(pipe)

    def _waits(self, pipe: Pipe, events: Sequence[SourceEvent], now: int) -> bool:
        """Whether a batch still waits within its ``MaximumBatchingWindowInSeconds``: smaller
        than ``BatchSize`` and its oldest event younger than the window."""
        window = int(self._source_member(pipe).get("MaximumBatchingWindowInSeconds", 0))
        if window <= 0 or not events or len(events) >= self._batch_size(pipe):
            return False
        oldest = min(e.arrived or now for e in events)
        return now - oldest < window * 1000

    async def _run(self, pipe: Pipe, now: int) -> int:
        store = self._pipes.store
        streaming = pipe.source_kind != "sqs"
        points = await store.checkpoints(pipe.tenant_id, pipe.name) if streaming else {}
        held = [] if streaming else self._held.pop(pipe.arn, [])
        limit = self._batch_size(pipe) - len(held)
        batches = await self._sources.read(pipe, points, limit) if limit > 0 else []
        if held or any(batch.events for batch in batches):
            # Events to send, a window open or a failed batch read again: the next pass at
            # the interval. A source found empty lets the runner back off (decision 0331).
            self._busy = True
        filters = compiled_filters(pipe.source_parameters)
        sent = 0
        if not streaming:
            # A held message received again (its visibility timeout shorter than the window)
            # is one event, under its newest receipt.
            merged = {str(e.event.get("messageId")): e for e in held}
            merged |= {str(e.event.get("messageId")): e for b in batches for e in b.events}
            events = list(merged.values())
            if self._waits(pipe, events, now):
                if len(self._held) >= _REMEMBERED:
                    self._held.clear()
                self._held[pipe.arn] = events  # received, not yet sent: the window is open
                return 0
            batches = [SourceBatch(events)] if events else []
        for batch in batches:
            if streaming:
                sent += await self._stream_batch(pipe, batch, filters, now)
            else:
                sent += await self._queue_batch(pipe, batch, filters, now)
        return sent

    def _lanes(
        self, pipe: Pipe, items: list[tuple[SourceEvent, dict[str, Any]]]
    ) -> list[list[tuple[SourceEvent, dict[str, Any]]]]:
        """The events of one shard's batch spread over its ``ParallelizationFactor`` lanes by
        partition key (one lane for a queue, or a factor of 1)."""
        factor = int(self._stream_member(pipe).get("ParallelizationFactor", 1))
        if factor <= 1 or len(items) <= 1:
            return [items] if items else []
        lanes: list[list[tuple[SourceEvent, dict[str, Any]]]] = [[] for _ in range(factor)]
        for item in items:
            lanes[zlib.crc32(_partition_key(item[0].event).encode()) % factor].append(item)
        return [lane for lane in lanes if lane]

    async def _send_all(
        self, pipe: Pipe, events: Sequence[SourceEvent], filters: Any, now: int
    ) -> tuple[list[SourceEvent], int, Exception | None]:
        """The events done with (sent, or filtered out); how many were sent; and the first
        failure. The events past the filters are executed in lanes (:meth:`_lanes`)."""
        done: list[SourceEvent] = []
        passed: list[tuple[SourceEvent, dict[str, Any]]] = []
        for one in events:
            seen = matchable(one.event)
            if passes(filters, seen):
                passed.append((one, seen))
            else:
                done.append(one)
        outcomes = await asyncio.gather(
            *(self._execute(pipe, lane, now) for lane in self._lanes(pipe, passed))
        )
        failure: Exception | None = None
        sent = 0
        for lane_done, lane_sent, lane_failure in outcomes:
            done += lane_done
            sent += lane_sent
            failure = failure or lane_failure
        return done, sent, failure

    async def _execute(
        self, pipe: Pipe, items: list[tuple[SourceEvent, dict[str, Any]]], now: int
    ) -> tuple[list[SourceEvent], int, Exception | None]:
        """One execution: the events through the enrichment (if any) to the target, in order,
        up to the first failure; logged and measured. The source events done with, how many
        events were sent, the failure."""
        started = time.monotonic()
        ingested = [_iso(one.arrived or now) for one, _ in items]
        outputs: list[tuple[Any, Any, str]] = [
            (one.event, seen, at) for (one, seen), at in zip(items, ingested, strict=True)
        ]
        failure: Exception | None = None
        stage = "target"
        # The batch's trace: its enrichment's, and the enrichment's events' on to the target,
        # as AWS's pipe keeps one trace from its source to its target (decision 0364).
        batch_trace = self._batch_trace([one.trace for one, _ in items if one.trace])
        if pipe.enrichment:
            stage = "enrichment"
            try:
                outputs = await self._enrich(pipe, items, ingested, batch_trace)
            except Exception as exc:  # said by the caller, retried by the source's rules
                failure = exc
                outputs = []
            else:
                stage = "target"
        done: list[SourceEvent] = []
        sizes: list[int] = []
        payloads: list[str] = []
        if self._batches is not None and self._batches.takes(pipe):
            if failure is None:
                done, payloads, failure = await self._send_batch(
                    self._batches, pipe, items, outputs
                )
                sizes = [len(p.encode()) for p in payloads]
            outputs = []  # sent whole, above
        for index, (event, seen, at) in enumerate(outputs):
            payload = render(pipe, event, seen, at)
            # An enrichment's events are its answer's: they go on with the batch's trace.
            trace = batch_trace if pipe.enrichment else items[index][0].trace
            try:
                await self._targets.send(
                    pipe, payload, seen if isinstance(seen, dict) else {}, trace=trace
                )
            except Exception as exc:  # said by the caller, retried later
                failure = exc
                break
            sizes.append(len(payload.encode()))
            payloads.append(payload)
            if not pipe.enrichment:
                done.append(items[index][0])
        if pipe.enrichment and failure is None and not done:
            done = [one for one, _ in items]
        if self._logs is not None and (items or failure is not None):
            await self._log(pipe, now, failure, payloads, stage)
        if self._observer is not None and (sizes or failure is not None):
            self._observer.sent(pipe, sizes)
            elapsed = (time.monotonic() - started) * 1000
            self._observer.executed(pipe, len(sizes), sum(sizes), failure is not None, elapsed)
        return done, len(sizes), failure

    async def _send_batch(
        self,
        target: PipeBatchTarget,
        pipe: Pipe,
        items: list[tuple[SourceEvent, dict[str, Any]]],
        outputs: list[tuple[Any, Any, str]],
    ) -> tuple[list[SourceEvent], list[str], Exception | None]:
        """An execution's events sent whole to a batch target: the source events done with,
        the payloads sent, the failure (:class:`PartialBatchFailure` when the target reported
        some of them failed)."""
        rendered = [render(pipe, event, seen, at) for event, seen, at in outputs]
        if not rendered:  # the enrichment filtered them all out
            return [one for one, _ in items], [], None
        try:
            traces = [one.trace for one, _ in items if one.trace]
            failed = set(await target.send_batch(pipe, batch_payload(rendered), traces))
        except Exception as exc:  # said by the caller, retried by the source's rules
            return [], [], exc
        if not failed:
            return [one for one, _ in items], rendered, None
        known = {_item_identifier(one.event) for one, _ in items}
        if not failed <= known:
            # An identifier of no event of the batch: the batch failed whole, as AWS reads it.
            return [], [], PartialBatchFailure("batchItemFailures named an unknown event")
        done = [one for one, _ in items if _item_identifier(one.event) not in failed]
        why = f"the target reported {len(failed)} of {len(items)} events failed"
        return done, rendered, PartialBatchFailure(why)

    async def _enrich(
        self,
        pipe: Pipe,
        items: list[tuple[SourceEvent, dict[str, Any]]],
        ingested: list[str],
        trace: str | None,
    ) -> list[tuple[Any, Any, str]]:
        """The events the enrichment's answer gives for a batch, each with its ingestion time
        (the batch's first's)."""
        if self._enricher is None:
            raise EndpointRefused("NO_RESOURCE", "enrichments are not served by this gateway")
        rendered = [
            render(pipe, one.event, seen, at, stage="enrichment")
            for (one, seen), at in zip(items, ingested, strict=True)
        ]
        answer = await self._enricher.enrich(
            pipe, batch_payload(rendered), items[0][1], trace=trace
        )
        return [(event, event, ingested[0]) for event in enriched_events(answer)]

    async def _log(
        self,
        pipe: Pipe,
        now: int,
        failure: Exception | None,
        payloads: list[str],
        stage: str = "target",
    ) -> None:
        if self._logs is None or not has_log_destination(pipe):
            return
        why = None if failure is None else f"{type(failure).__name__}: {failure}"
        records = execution_records(pipe, str(uuid.uuid4()), now, why, payloads, failed_stage=stage)
        if records:
            await self._logs.write(pipe, records)

    async def _queue_batch(self, pipe: Pipe, batch: SourceBatch, filters: Any, now: int) -> int:
        done, sent, failure = await self._send_all(pipe, batch.events, filters, now)
        if done:
            await self._sources.acknowledge(pipe, done)
        if isinstance(failure, EndpointRefused):
            raise failure
        if failure is not None:
            log.info(
                "Pipe %s: sending to its target failed (%s), left in the queue",
                pipe.arn,
                type(failure).__name__,
            )
        return sent

    async def _stream_batch(self, pipe: Pipe, batch: SourceBatch, filters: Any, now: int) -> int:
        member = self._stream_member(pipe)
        key = (pipe.arn, batch.shard or "")
        half = self._bisected.get(key)
        if half is not None and half < len(batch.events):
            batch = SourceBatch(batch.events[:half], batch.shard, batch.meta)
        elif self._waits(pipe, batch.events, now):
            return 0  # unread: read again at the next pass, the window still open
        max_age = int(member.get("MaximumRecordAgeInSeconds", -1))
        fresh = [e for e in batch.events if max_age < 0 or now - e.arrived <= max_age * 1000]
        if len(fresh) < len(batch.events):
            expired = SourceBatch([e for e in batch.events if e not in fresh], batch.shard)
            await self._sources.dead_letter(pipe, expired, "MaximumRecordAgeInSeconds")
        done, sent, failure = await self._send_all(pipe, fresh, filters, now)
        if isinstance(failure, PartialBatchFailure):
            batch = await self._past_done(pipe, batch, fresh, done)
        if failure is None:
            self._attempts.pop(key, None)
            self._bisected.pop(key, None)
            await self._checkpoint(pipe, batch)
            return sent
        if (
            member.get("OnPartialBatchItemFailure") == "AUTOMATIC_BISECT"
            and len(fresh) > 1
            and not isinstance(failure, EndpointRefused | PartialBatchFailure)
        ):
            # Split, and try the first half alone: not one of MaximumRetryAttempts' tries.
            if len(self._bisected) >= _REMEMBERED:
                self._bisected.clear()
            self._bisected[key] = len(batch.events) // 2
            log.info(
                "Pipe %s: sending to its target failed (%s), the batch bisected",
                pipe.arn,
                type(failure).__name__,
            )
            return 0
        tries = self._attempts.get(key, 0) + 1
        retries = int(member.get("MaximumRetryAttempts", -1))
        if retries < 0 or tries <= retries:
            if len(self._attempts) >= _REMEMBERED:
                self._attempts.clear()
            self._attempts[key] = tries
            if isinstance(failure, EndpointRefused):
                raise failure
            log.info(
                "Pipe %s: sending to its target failed (%s), retried",
                pipe.arn,
                type(failure).__name__,
            )
            return 0
        self._attempts.pop(key, None)
        self._bisected.pop(key, None)
        await self._sources.dead_letter(pipe, batch, "MaximumRetryAttempts")
        await self._checkpoint(pipe, batch)
        return sent

    async def _past_done(
        self,
        pipe: Pipe,
        batch: SourceBatch,
        fresh: list[SourceEvent],
        done: list[SourceEvent],
    ) -> SourceBatch:
        """A stream batch partly failed: the checkpoint moved past the records before the
        first failed one (an expired record given up counts as done); the rest of the batch,
        tried again."""
        finished = {id(e) for e in done} | {id(e) for e in batch.events if e not in fresh}
        count = 0
        while count < len(batch.events) and id(batch.events[count]) in finished:
            count += 1
        if count:
            await self._checkpoint(pipe, SourceBatch(batch.events[:count], batch.shard))
        return SourceBatch(batch.events[count:], batch.shard, batch.meta)

    async def _checkpoint(self, pipe: Pipe, batch: SourceBatch) -> None:
        last = batch.events[-1].sequence if batch.events else None
        if batch.shard is not None and last is not None:
            await self._pipes.store.save_checkpoint(
                pipe.tenant_id, pipe.name, self.owner, batch.shard, last
            )


def _item_identifier(event: dict[str, Any]) -> str | None:
    """How a target's ``batchItemFailures`` names an event: an SQS message's ``messageId``,
    a Kinesis or DynamoDB stream record's ``eventID``."""
    found = event.get("messageId") or event.get("eventID")
    return found if isinstance(found, str) else None


def _partition_key(event: dict[str, Any]) -> str:
    """A stream record's partition key: a Kinesis record's ``partitionKey``, a DynamoDB
    record's ``Keys`` (as canonical JSON)."""
    key = event.get("partitionKey")
    if isinstance(key, str):
        return key
    keys = (event.get("dynamodb") or {}).get("Keys")
    return json.dumps(keys, sort_keys=True, separators=(",", ":")) if keys else ""
