"""Where Lambda's event source mappings meet their sources (decision 0295): the function's
execution role checked at creation, and the poller every ``serve`` runs.

- **The role.** A mapping reads its source as the function's execution role, a session of it
  for ``lambda.amazonaws.com`` (the role must be the account's and trust Lambda), judged by
  the same engine as every request. CreateEventSourceMapping refuses a role that may not
  ``sqs:ReceiveMessage``, ``sqs:DeleteMessage`` and ``sqs:GetQueueAttributes`` on the queue
  with AWS's ``InvalidParameterValueException`` ("The function execution role does not have
  permissions to call ReceiveMessage on SQS").
- **The poller.** Each pass claims the mappings whose lease ran out (one gateway reads a
  mapping at a time, and keeps it while it renews its lease, as Pipes' runner does), settles
  their transitional states (``Creating`` → ``Enabled``…, ``Deleting`` → gone), and for each
  enabled SQS mapping receives up to ``BatchSize`` messages as the role (a queue under a KMS
  key opened as the role), held while the batch is smaller and younger than
  ``MaximumBatchingWindowInSeconds``; messages not matching ``FilterCriteria`` are deleted
  unseen, as AWS does; the others go to the function in one synchronous invocation, AWS's
  SQS event (``Records[]``, the shape Pipes gives, ``pipe_sources.sqs_event``). On success the
  messages are deleted — all but the ``batchItemFailures`` the function names when the
  mapping reports them (an answer naming no message of the batch fails it whole, as AWS);
  on failure, a throttle included, none is: they become visible again after the queue's
  visibility timeout, and its redrive policy applies. A mapping whose ``MetricsConfig`` asks
  for ``EventCount`` publishes each batch's event counts into ``AWS/Lambda`` (decision 0323).
- **Recursive loops** (decision 0328). A message whose ``AWSTraceHeader`` says the chain has
  run the function its 16 times (``functions.lineage``), the function terminating loops, is
  not given to the function: it goes to the queue's dead-letter queue when its redrive policy
  names one, and is deleted (AWS's ``RecursiveInvocationsDropped``). The others go together,
  the invocation carrying the lineage of the one furthest along its chain.
- **Streams** (decision 0301). A Kinesis or DynamoDB stream mapping is checked and polled by
  ``function_streams`` (given here as ``StreamRefusal`` and ``StreamMappingPoller``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final, Protocol

from andromede.functions.errors import FunctionsError, InvalidParameterValue, RecursiveInvocation
from andromede.functions.invoker import Invoker
from andromede.functions.lineage import function_key
from andromede.functions.mapping_service import EventSourceMappings, SourceCheck
from andromede.functions.mappings import EventSourceMapping
from andromede.functions.model import FunctionRecord
from andromede.functions.service import LAMBDA_PRINCIPAL
from andromede.iam.model import Principal
from andromede.iam.service import IdentityService
from andromede.iam.service_roles import ServiceRoleSessions, TrustSource
from andromede.pipe_sources import sqs_event
from andromede.pipes.model import compiled_filters
from andromede.pipes.shaping import matchable, passes
from andromede.queues.errors import QueueError
from andromede.queues.fifo import is_fifo
from andromede.queues.model import Queue
from andromede.queues.service import Delivered, QueueService
from andromede.sqsapi.authorise import KeyUser
from andromede.wakeup import Doorbell, Pacer

__all__ = ["FunctionRoles", "MappingPoller", "StreamMappingPoller", "source_access"]

log = logging.getLogger(__name__)

_SQS_READ: Final = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
_SQS_RECEIVE: Final = 10  # ReceiveMessage's own ceiling


class FunctionRoles(ServiceRoleSessions):
    """Lambda's sessions of functions' execution roles (which must trust Lambda), and what
    their policies allow. Lambda gives the trust policy the function's account as
    ``aws:SourceAccount`` and no ``aws:SourceArn``, as AWS's Lambda does (decision 0321)."""

    def __init__(self, identity: IdentityService, region: str) -> None:
        super().__init__(identity, LAMBDA_PRINCIPAL, region)

    async def session(
        self,
        tenant_id: str,
        role_arn: str | None,
        session_name: str,
        source: TrustSource | None = None,
    ) -> Principal | None:
        return await super().session(
            tenant_id, role_arn, session_name, source or TrustSource(account=tenant_id)
        )


async def _queue(queues: QueueService, arn: str) -> Queue | None:
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[3] != queues.region:
        return None  # another Region's queue (decision 0414) is never a namesake here
    try:
        return await queues.get_queue(parts[4], parts[4], parts[5])
    except QueueError:
        return None


async def _refusal(
    roles: FunctionRoles, queues: QueueService, tenant_id: str, role_arn: str, source: str
) -> str | None:
    """Why the role cannot read the queue, in AWS's words; None when it can."""
    session = await roles.session(tenant_id, role_arn, "EventSourceMapping")
    if session is None:
        return "The role defined for the function cannot be assumed by Lambda."
    for action in _SQS_READ:
        if not await roles.allowed(session, action, source):
            operation = action.split(":", 1)[1]
            return (
                f"The function execution role does not have permissions to call {operation} on SQS"
            )
    if await _queue(queues, source) is None:
        return (
            "Error occurred while ReceiveMessage. SQS Error Code: "
            "AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified queue "
            "does not exist or you do not have access to it."
        )
    return None


# Why a role cannot read a stream (tenant, role, stream ARN), in AWS's words; None: it can
# (``function_streams.StreamAccess.refusal``, decision 0301).
StreamRefusal = Callable[[str, str, str], Awaitable[str | None]]


class StreamMappingPoller(Protocol):
    # Set when a poll read records, holds an open window or was refused: the poller keeps
    # its interval (decision 0331); reset by the poller before each pass.
    busy: bool

    async def poll(self, mapping: EventSourceMapping, owner: str) -> tuple[int, str | None]:
        """A pass over a stream mapping (``function_streams.StreamPoller``): the records
        given to the function, its ``LastProcessingResult`` (None: unchanged)."""
        ...


def source_access(
    roles: FunctionRoles, queues: QueueService, streams: StreamRefusal | None = None
) -> SourceCheck:
    """CreateEventSourceMapping's check of the function's role against the queue, or the
    stream (with ``streams``)."""

    async def check(tenant_id: str, role_arn: str, source: str) -> None:
        if not source.startswith("arn:aws:sqs:"):
            if streams is None:
                raise InvalidParameterValue("Stream event sources are not served here")
            stream_refused = await streams(tenant_id, role_arn, source)
            if stream_refused is not None:
                raise InvalidParameterValue(stream_refused)
            return
        refused = await _refusal(roles, queues, tenant_id, role_arn, source)
        if refused is not None:
            raise InvalidParameterValue(refused)

    return check


class MappingPoller:
    def __init__(
        self,
        mappings: EventSourceMappings,
        roles: FunctionRoles,
        queues: QueueService,
        invoker: Invoker,
        owner: str,
        *,
        poll_interval: float = 1.0,
        lease_ms: int = 60_000,
        mappings_a_pass: int = 100,
        clock: Callable[[], int] = lambda: int(time.time() * 1000),
        streams: StreamMappingPoller | None = None,
        idle_poll_max: float | None = None,
        doorbell: Doorbell | None = None,
        probe: Callable[[], bool] | None = None,
    ) -> None:
        self._streams = streams
        self._mappings = mappings
        self._roles = roles
        self._queues = queues
        self._invoker = invoker
        self.owner = owner
        self._lease_ms = lease_ms
        self._a_pass = mappings_a_pass
        self._clock = clock
        self._held: dict[str, list[Delivered]] = {}  # a batch within its window
        # Rung when a mapping is created, updated or deleted (decision 0326), and soon by the
        # sources (an SQS send, a stream's record: the bells the wiring forwards to
        # ``doorbell``, and ``probe`` for another process's, decision 0331). The passes back
        # off while the mappings held here find their sources empty; one that read records,
        # holds a batch in its window, or has a problem keeps the interval.
        # The back-off stays within half a lease: a mapping held here is renewed in time.
        ceiling = None if idle_poll_max is None else min(idle_poll_max, lease_ms / 2000)
        self._pacer = Pacer(poll_interval, ceiling, doorbell, probe=probe)
        self._busy = False

    def wake(self) -> None:
        self._pacer.doorbell.ring()

    async def run_forever(self) -> None:
        while True:
            self._busy = False
            try:
                await self.run_pass()
            except Exception:  # a failed pass must not end the loop; the next one retries
                log.exception("Lambda event source mappings: a pass failed")
                self._busy = True
            await self._pacer.pause(self._busy)

    async def run_pass(self) -> int:
        """One pass; how many messages the functions were given."""
        now = self._clock()
        claimed = await self._mappings.store.claim(
            self.owner, now, now + self._lease_ms, self._a_pass
        )
        self._pacer.watching = bool(claimed)  # their sources' rings count (decision 0331)
        if self._streams is not None:
            self._streams.busy = False
        # The mappings side by side: one slow function must not hold up the others'.
        sent = sum(await asyncio.gather(*(self._one(m) for m in claimed)))
        if self._streams is not None and self._streams.busy:
            self._busy = True
        return sent

    async def _one(self, mapping: EventSourceMapping) -> int:
        try:
            settled = await self._mappings.settle(mapping)
            if settled is None or settled.state != "Enabled":
                self._held.pop(mapping.uuid, None)
                if settled is not mapping:
                    self._busy = True  # a state moved (Creating → Enabled…): look again soon
                return 0
            if settled.source_kind != "sqs":
                return await self._poll_stream(settled)
            return await self._poll_queue(settled)
        except Exception:  # one mapping's fault must not stop the others'
            self._busy = True
            log.exception("Lambda event source mapping %s: its pass failed", mapping.uuid)
            return 0

    async def _poll_stream(self, mapping: EventSourceMapping) -> int:
        if self._streams is None:
            self._busy = True
            await self._mappings.processed(mapping, "PROBLEM: Stream sources are not served here")
            return 0
        sent, result = await self._streams.poll(mapping, self.owner)
        if result is not None:
            await self._mappings.processed(mapping, result)
        return sent

    async def _poll_queue(self, mapping: EventSourceMapping) -> int:
        tenant = mapping.tenant_id
        try:
            record, version = await self._invoker.target(
                tenant, mapping.function_name, mapping.qualifier
            )
        except FunctionsError:
            self._busy = True  # a problem: looked at every interval, as before
            await self._mappings.processed(mapping, "PROBLEM: Function not found.")
            return 0
        session = await self._roles.session(tenant, version.role, mapping.uuid)
        source = mapping.source_arn
        refused = await _refusal(self._roles, self._queues, tenant, version.role, source)
        queue = await _queue(self._queues, mapping.source_arn)
        if refused is not None or session is None or queue is None:
            self._busy = True
            await self._mappings.processed(mapping, f"PROBLEM: {refused}")
            return 0
        held = self._held.pop(mapping.uuid, [])
        received = await self._receive(queue, session, mapping.batch_size - len(held))
        # A held message received again (its visibility timeout shorter than the window) is
        # one message, under its newest receipt.
        fresh = {m.message_id for m in received}
        batch = [m for m in held if m.message_id not in fresh] + received
        if not batch:
            return 0  # an empty queue: the poller may back off (decision 0331)
        self._busy = True
        now = self._clock()
        oldest = min(int(m.first_received_at.timestamp() * 1000) for m in batch)
        if len(batch) < mapping.batch_size and now - oldest < mapping.window_seconds * 1000:
            self._held[mapping.uuid] = batch
            return 0
        filters = compiled_filters(mapping.parameters)
        records = [sqs_event(m, queue) for m in batch]
        chosen = [r for r in records if passes(filters, matchable(r))]
        unseen = [r for r in records if r not in chosen]
        await self._delete(queue, unseen)
        counts = {"PolledEventCount": len(records), "FilteredOutEventCount": len(unseen)}
        if not chosen:
            self._count(mapping, counts | {"DeletedEventCount": len(unseen)})
            return 0
        chosen, trace = await self._unlooped(queue, session, record, batch, chosen)
        if not chosen:
            self._count(mapping, counts | {"DeletedEventCount": len(records)})
            return 0
        payload = json.dumps({"Records": chosen}).encode()
        try:
            await self._invoker.refresh_reserves(tenant)
            done = await self._invoker.invoke(
                record, version, payload, mapping.function_arn, trace=trace
            )
        except FunctionsError as exc:  # a throttle: the messages come back
            await self._mappings.processed(mapping, f"PROBLEM: {str(exc)[:200]}")
            self._count(mapping, counts | {"FailedInvokeEventCount": len(chosen)})
            return 0
        counts["InvokedEventCount"] = len(chosen)
        if not done.ok:
            await self._mappings.processed(mapping, "PROBLEM: Function call failed")
            self._count(mapping, counts | {"FailedInvokeEventCount": len(chosen)})
            return len(chosen)
        failed = self._failures(mapping, done.payload, chosen)
        await self._delete(queue, [r for r in chosen if r["messageId"] not in failed])
        await self._mappings.processed(mapping, "OK")
        deleted = len(unseen) + len(chosen) - len(failed)
        self._count(mapping, counts | {"DeletedEventCount": deleted})
        return len(chosen)

    async def _unlooped(
        self,
        queue: Queue,
        session: Principal,
        record: FunctionRecord,
        batch: Sequence[Delivered],
        chosen: list[dict[str, Any]],
    ) -> tuple[list[dict[str, Any]], str | None]:
        """The chosen records whose chain may run the function again, and the trace the
        invocation carries (the furthest along); the others stopped (decision 0328)."""
        by_id = {m.message_id: m for m in batch}
        kept: list[dict[str, Any]] = []
        furthest: tuple[int, str | None] = (-1, None)
        for one in chosen:
            trace = one["attributes"].get("AWSTraceHeader")
            try:
                passed = self._invoker.lineage(record, trace)
            except RecursiveInvocation:
                await self._stop_looping(queue, session, by_id[one["messageId"]])
                continue
            kept.append(one)
            ran = passed.count(function_key(record.tenant_id, record.name))
            if ran > furthest[0]:
                furthest = (ran, trace)
        return kept, furthest[1]

    async def _stop_looping(self, queue: Queue, session: Principal, message: Delivered) -> None:
        """A looping message to the queue's dead-letter queue, if it names one, then gone."""
        policy = queue.redrive
        if policy is not None:
            target = await _queue(self._queues, policy.dead_letter_arn)
            if target is not None:
                payload = message.payload
                kept = {k: v for k, v in payload.system.items() if k == "AWSTraceHeader"}
                fifo = is_fifo(target)
                try:
                    await self._queues.send_message(
                        target,
                        payload.body,
                        payload.attributes,
                        kept,
                        None,
                        payload.sender,
                        group_id=message.group_id if fifo else None,
                        dedup_id=(message.dedup_id or message.message_id) if fifo else None,
                        caller=KeyUser(session, None, True, uuid.uuid4().hex.upper()[:16]),
                    )
                except QueueError:  # the message stays: it comes back after its timeout
                    log.warning("A looping message could not reach %s", policy.dead_letter_arn)
                    return
        try:
            await self._queues.delete_message(queue, message.receipt_handle)
        except QueueError:
            pass  # its receipt expired: it comes back, and is stopped again

    def _count(self, mapping: EventSourceMapping, counts: dict[str, int]) -> None:
        """A batch's event counts into AWS/Lambda, when its MetricsConfig asks (0323)."""
        metrics = self._invoker.metrics
        if metrics is not None and mapping.counts_events:
            metrics.mapping_events(mapping.tenant_id, mapping.uuid, counts)

    def _failures(
        self, mapping: EventSourceMapping, answer: bytes, batch: Sequence[dict[str, Any]]
    ) -> set[str]:
        """The messages the function reported failed (every one when its answer names an
        identifier not in the batch, or none, as AWS reads ``batchItemFailures``)."""
        if not mapping.reports_failures:
            return set()
        every = {r["messageId"] for r in batch}
        try:
            document = json.loads(answer)
        except ValueError:
            return set()
        items = document.get("batchItemFailures") if isinstance(document, dict) else None
        if not items:
            return set()
        named = {item.get("itemIdentifier") if isinstance(item, dict) else None for item in items}
        if not named <= every:
            return every
        return {str(n) for n in named}

    async def _receive(self, queue: Queue, session: Principal, limit: int) -> list[Delivered]:
        got: list[Delivered] = []
        caller = KeyUser(session, None, True, uuid.uuid4().hex.upper()[:16])
        while len(got) < limit:
            received = await self._queues.receive(
                queue,
                max_messages=min(_SQS_RECEIVE, limit - len(got)),
                visibility=None,
                wait=0,
                caller=caller,
            )
            got += received
            if len(received) < _SQS_RECEIVE:
                break
        return got

    async def _delete(self, queue: Queue, records: Sequence[dict[str, Any]]) -> None:
        for one in records:
            try:
                await self._queues.delete_message(queue, one["receiptHandle"])
            except QueueError:  # its receipt expired: the message comes back, as on AWS
                continue
