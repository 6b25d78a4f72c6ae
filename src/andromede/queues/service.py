"""Queues of a tenant (decision 0158): SQS's operations over a :class:`QueueStore`, messages
sealed by a :class:`Sealer` before they reach the store and opened after.

A queue is its tenant's: :meth:`QueueService.get_queue` answers an account's queue only to that
account; whether a caller of another account reaches it (by the queue's policy, decision 0165)
is the wire layer's decision, which asks for it in the owner's name. A queue under a KMS key
has its messages sealed under that key (``sealing``, decision 0165) for the caller a send or
receive names. Long polling waits without a database connection: a receive that found
nothing waits for a send to the queue through this service (woken at once) or for
``poll_interval`` (a send through another gateway), then looks again, until its wait ends.
A FIFO queue (decision 0164) takes its sends and receives through the store's FIFO methods;
its rules are ``andromede.queues.fifo``'s.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from andromede.queues.batch_ids import check_batch_ids
from andromede.queues.errors import (
    BatchRequestTooLong,
    InvalidAttributeName,
    InvalidParameterValue,
    KmsError,
    MessageNotInflight,
    QueueDoesNotExist,
    QueueError,
    QueueNameExists,
    ReceiptHandleIsInvalid,
)
from andromede.queues.fifo import (
    ATTEMPT_INTERVAL,
    DEDUP_INTERVAL,
    FIFO_ATTRIBUTES,
    attempt_key,
    check_attempt_id,
    check_fifo_attributes,
    dedup_key,
    group_key,
    is_fifo,
    send_ids,
    sequence_number,
)
from andromede.queues.model import (
    DEFAULTS,
    TRACE_HEADER,
    MessageAttribute,
    Payload,
    Queue,
    RedrivePolicy,
    attributes_md5,
    body_md5,
    check_body,
    check_message_attributes,
    check_name,
    check_queue_attributes,
    message_size,
    parse_queue_arn,
    queue_arn,
    xml_unsafe,
)
from andromede.queues.redrive_allow import redrive_allowed
from andromede.queues.regional_store import RegionalQueueObserver
from andromede.queues.sealing import KmsSealer, MessageCipher, Sealer
from andromede.queues.sse import merge_sse
from andromede.queues.store import QueueObserver, QueueStore, Redrive, StoredMessage

__all__ = [
    "BatchEntry",
    "BatchFailure",
    "Delivered",
    "QueueLimits",
    "QueueService",
    "Sealer",
    "SentMessage",
    "check_batch_ids",
]

_log = logging.getLogger(__name__)
_COMPUTED = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
)
_SHOWN = (
    *_COMPUTED,
    *DEFAULTS,
    "Policy",
    "RedrivePolicy",
    "RedriveAllowPolicy",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    *FIFO_ATTRIBUTES,  # a FIFO queue's (decision 0164); a standard queue has none
)
MAX_TAGS = 50
# A FIFO message's ids, kept in its sealed payload's system attributes (which a sender
# cannot set: only AWSTraceHeader is accepted from it).
_GROUP = "MessageGroupId"
_DEDUP = "MessageDeduplicationId"
_MAX_VISIBILITY = timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class QueueLimits:
    max_queues: int = 1000
    max_message_size: int = 262_144
    in_flight: int = 120_000
    poll_interval: float = 1.0


@dataclass(frozen=True, slots=True)
class SentMessage:
    message_id: str
    md5_of_body: str
    md5_of_attributes: str | None
    md5_of_system_attributes: str | None
    sequence_number: str | None = None  # a FIFO queue's


@dataclass(frozen=True, slots=True)
class BatchEntry:
    id: str
    body: str
    attributes: Mapping[str, MessageAttribute] = field(default_factory=dict)
    system: Mapping[str, MessageAttribute] = field(default_factory=dict)
    delay: int | None = None
    group_id: str | None = None  # a FIFO queue's MessageGroupId
    dedup_id: str | None = None  # a FIFO queue's MessageDeduplicationId


@dataclass(frozen=True, slots=True)
class BatchFailure:
    id: str
    error: QueueError


@dataclass(frozen=True, slots=True)
class Delivered:
    message_id: str
    receipt_handle: str
    payload: Payload
    sent_at: datetime
    receive_count: int
    first_received_at: datetime
    sequence: int = 0  # a FIFO queue's SequenceNumber

    @property
    def group_id(self) -> str | None:
        """A FIFO queue's message group (sealed in the payload with the message)."""
        held = self.payload.system.get(_GROUP)
        return None if held is None else held.string_value

    @property
    def dedup_id(self) -> str | None:
        held = self.payload.system.get(_DEDUP)
        return None if held is None else held.string_value

    @property
    def md5_of_body(self) -> str:
        return body_md5(self.payload.body)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _receipt_handle(message_id: str, receipt: str) -> str:
    return base64.urlsafe_b64encode(f"{message_id} {receipt}".encode()).decode()


def _parse_receipt_handle(handle: str) -> tuple[str, str]:
    try:
        message_id, receipt = base64.urlsafe_b64decode(handle.encode()).decode().split(" ")
    except (binascii.Error, ValueError, UnicodeError) as exc:
        raise ReceiptHandleIsInvalid(
            f'The input receipt handle "{handle[:128]}" is not a valid receipt handle.'
        ) from exc
    return message_id, receipt


def _seconds(name: str, value: int | None, low: int, high: int) -> int | None:
    if value is not None and not low <= value <= high:
        raise InvalidParameterValue(
            f"Value {value} for parameter {name} is invalid. Reason: Must be between {low} "
            f"and {high}."
        )
    return value


class QueueService:
    def __init__(
        self,
        store: QueueStore,
        sealer: Sealer,
        *,
        region: str,
        limits: QueueLimits | None = None,
        clock: Callable[[], datetime] = _utcnow,
        kms: KmsSealer | None = None,
    ) -> None:
        self._store = store
        self._sealer = MessageCipher(sealer, kms)
        self._region = region
        self._limits = limits or QueueLimits()
        self._clock = clock
        self._waiters: dict[tuple[str, str], set[asyncio.Future[None]]] = {}
        # Told of empty receives and sent sizes (decision 0181), set by the wiring.
        self.observer: QueueObserver | None = None
        # Told in how many seconds messages become visible (a delay, a receive's visibility
        # timeout, a FIFO group let go): the readers' timetable (decision 0331), set by the
        # wiring. A message visible at once rings through its commit (``db.doorbells``).
        self.due: Callable[[float], None] | None = None
        # The other declared Regions' services (decision 0414), set by the wiring on the
        # default Region's: each over its Region's view of the one store.
        self.regions: dict[str, QueueService] = {}

    @property
    def region(self) -> str:
        return self._region

    def observe(self, observer: QueueObserver) -> None:
        """Tell ``observer`` of this Region's calls and of each other Region's (by the names
        their queues are stored under, decision 0414)."""
        self.observer = observer
        for region, other in self.regions.items():
            other.observer = RegionalQueueObserver(observer, region, self._region)

    def in_region(self, region: str) -> QueueService | None:
        """The queues of ``region`` (decision 0414); None: a Region not declared."""
        return self if region == self._region else self.regions.get(region)

    # --- queues ------------------------------------------------------------------------------

    async def create_queue(
        self,
        tenant_id: str,
        name: str,
        attributes: Mapping[str, str],
        tags: Mapping[str, str] | None = None,
    ) -> Queue:
        """A new queue, or the tenant's queue of that name when every attribute given has
        the value it holds (QueueNameExists otherwise)."""
        checked = check_queue_attributes(
            merge_sse({}, attributes), max_message_size=self._limits.max_message_size
        )
        checked = check_fifo_attributes(check_name(name), checked)
        await self._check_redrive(tenant_id, checked, queue_arn(self._region, tenant_id, name))
        _check_tags(tags or {})
        now = self._clock()
        queue = Queue(tenant_id, name, self._region, checked, now, now, dict(tags or {}))
        kept = await self._store.create_queue(queue, limit=self._limits.max_queues)
        if kept is not queue and any(kept.attribute(k) != v for k, v in checked.items()):
            raise QueueNameExists(
                "A queue already exists with the same name and a different value for "
                "attribute(s) " + ", ".join(sorted(checked))
            )
        return kept

    async def get_queue(self, tenant_id: str, account: str, name: str) -> Queue:
        """The queue ``account``/``name`` if ``account`` is the caller's; QueueDoesNotExist."""
        found = None if account != tenant_id else await self._store.get_queue(tenant_id, name)
        if found is None:
            raise QueueDoesNotExist()
        return found

    async def list_queues(
        self, tenant_id: str, prefix: str, token: str | None, max_results: int | None
    ) -> tuple[list[Queue], str | None]:
        """A page of the tenant's queues by name, and the token of the next page."""
        if max_results is not None and not 1 <= max_results <= 1000:
            raise InvalidParameterValue(
                "Value for parameter MaxResults is invalid. Reason: must be between 1 and 1000."
            )
        after = None
        if token:
            try:
                after = base64.urlsafe_b64decode(token.encode()).decode()
            except (binascii.Error, ValueError, UnicodeError) as exc:
                raise InvalidParameterValue("Invalid NextToken value.") from exc
        size = max_results or 1000
        page = await self._store.list_queues(tenant_id, prefix, after, size + 1)
        more = max_results is not None and len(page) > size
        page = page[:size]
        following = (
            base64.urlsafe_b64encode(page[-1].name.encode()).decode() if more and page else None
        )
        return page, following

    async def queue_attributes(self, queue: Queue, names: Sequence[str]) -> dict[str, str]:
        wanted = set(_SHOWN) if "All" in names else set(names)
        unknown = sorted(wanted - set(_SHOWN))
        if unknown:
            raise InvalidAttributeName(f"Unknown Attribute {unknown[0][:128]}.")
        shown: dict[str, str] = {}
        if wanted & set(_COMPUTED[:3]):
            counts = await self._store.counts(queue.tenant_id, queue.name, self._clock())
            shown["ApproximateNumberOfMessages"] = str(counts.visible)
            shown["ApproximateNumberOfMessagesNotVisible"] = str(counts.in_flight)
            shown["ApproximateNumberOfMessagesDelayed"] = str(counts.delayed)
        shown["CreatedTimestamp"] = str(int(queue.created_at.timestamp()))
        shown["LastModifiedTimestamp"] = str(int(queue.modified_at.timestamp()))
        shown["QueueArn"] = queue.arn
        for name in _SHOWN[len(_COMPUTED) :]:
            value = queue.attribute(name)
            if value is not None:
                shown[name] = value
        if "MaximumMessageSize" not in queue.attributes:
            # SQS's default, within this platform's ceiling (what a send is held to).
            shown["MaximumMessageSize"] = str(
                min(queue.seconds("MaximumMessageSize"), self._limits.max_message_size)
            )
        return {name: value for name, value in shown.items() if name in wanted}

    async def set_queue_attributes(self, queue: Queue, attributes: Mapping[str, str]) -> Queue:
        merged = merge_sse(queue.attributes, attributes)
        checked = check_queue_attributes(merged, max_message_size=self._limits.max_message_size)
        checked = check_fifo_attributes(queue.name, checked, existing=queue)
        await self._check_redrive(queue.tenant_id, checked, queue.arn)
        updated = Queue(
            queue.tenant_id,
            queue.name,
            queue.region,
            checked,
            queue.created_at,
            self._clock(),
            queue.tags,
        )
        if not await self._store.update_queue(updated):
            raise QueueDoesNotExist()
        return updated

    async def delete_queue(self, queue: Queue) -> None:
        await self._store.delete_queue(queue.tenant_id, queue.name)

    async def purge_queue(self, queue: Queue) -> int:
        return await self._store.purge(queue.tenant_id, queue.name)

    async def tag_queue(self, queue: Queue, tags: Mapping[str, str]) -> None:
        merged = {**queue.tags, **tags}
        _check_tags(merged)
        await self._replace_tags(queue, merged)

    async def untag_queue(self, queue: Queue, keys: Sequence[str]) -> None:
        await self._replace_tags(queue, {k: v for k, v in queue.tags.items() if k not in keys})

    async def dead_letter_sources(self, queue: Queue) -> list[str]:
        return await self._store.dead_letter_sources(queue.tenant_id, queue.arn)

    async def forget_tenant(self, tenant_id: str) -> int:
        """Delete every queue of a tenant being closed, with its messages; how many."""
        count = 0
        while page := await self._store.list_queues(tenant_id, "", None, 1000):
            for queue in page:
                await self._store.delete_queue(tenant_id, queue.name)
                count += 1
        for other in self.regions.values():  # each Region's view lists its own
            count += await other.forget_tenant(tenant_id)
        return count

    async def _replace_tags(self, queue: Queue, tags: dict[str, str]) -> None:
        updated = Queue(
            queue.tenant_id,
            queue.name,
            queue.region,
            queue.attributes,
            queue.created_at,
            queue.modified_at,
            tags,
        )
        if not await self._store.update_queue(updated):
            raise QueueDoesNotExist()

    async def _check_redrive(
        self, tenant_id: str, attributes: Mapping[str, str], own_arn: str | None = None
    ) -> None:
        text = attributes.get("RedrivePolicy")
        if not text:
            return
        policy = RedrivePolicy.parse(text)
        try:
            region, account, name = parse_queue_arn(policy.dead_letter_arn)
        except QueueDoesNotExist:
            region = account = name = ""
        target = (
            None
            if region != self._region or account != tenant_id or policy.dead_letter_arn == own_arn
            else await self._store.get_queue(tenant_id, name)
        )
        if target is None:
            raise InvalidParameterValue(
                "Value for parameter RedrivePolicy is invalid. Reason: Dead letter target "
                "does not exist."
            )
        if is_fifo(target) != (attributes.get("FifoQueue") == "true"):
            # A FIFO queue's dead letters keep their groups' order only in a FIFO queue.
            raise InvalidParameterValue(
                "Value for parameter RedrivePolicy is invalid. Reason: Dead-letter queue must "
                "be same type of queue as the source."
            )
        if own_arn is not None and not redrive_allowed(target.attributes, own_arn):
            # The dead-letter queue's RedriveAllowPolicy (decision 0165).
            raise InvalidParameterValue(
                "Value for parameter RedrivePolicy is invalid. Reason: Queue "
                f"{own_arn} is not allowed to use {policy.dead_letter_arn} as a dead-letter "
                "queue by its RedriveAllowPolicy."
            )

    # --- messages ----------------------------------------------------------------------------

    async def send_message(
        self,
        queue: Queue,
        body: str,
        attributes: Mapping[str, MessageAttribute],
        system: Mapping[str, MessageAttribute],
        delay: int | None,
        sender: str,
        *,
        group_id: str | None = None,
        dedup_id: str | None = None,
        caller: object | None = None,
    ) -> SentMessage:
        message, sent = await self._prepare(
            queue,
            BatchEntry("", body, attributes, system, delay, group_id, dedup_id),
            sender,
            caller,
        )
        if is_fifo(queue):
            [sent] = await self._send_fifo(queue, [message], [sent])
        else:
            await self._store.send(queue.tenant_id, queue.name, [message])
        if self.observer is not None:
            self.observer.sent_sizes(queue.tenant_id, queue.name, [message_size(body, attributes)])
        self._wake(queue)
        self._due_later([message])
        return sent

    async def _send_fifo(
        self, queue: Queue, messages: list[StoredMessage], sent: list[SentMessage]
    ) -> list[SentMessage]:
        """The answers of a FIFO queue's sends: a duplicate's is the first message's id,
        with its sequence number."""
        now = self._clock()
        kept = await self._store.send_fifo(
            queue.tenant_id,
            queue.name,
            messages,
            now,
            now + DEDUP_INTERVAL,
            per_group=queue.attributes.get("FifoThroughputLimit") == "perMessageGroupId",
        )
        return [
            replace(one, message_id=message_id, sequence_number=sequence_number(sequence))
            for one, (message_id, sequence) in zip(sent, kept, strict=True)
        ]

    async def send_batch(
        self,
        queue: Queue,
        entries: Sequence[BatchEntry],
        sender: str,
        *,
        caller: object | None = None,
    ) -> tuple[list[tuple[str, SentMessage]], list[BatchFailure]]:
        check_batch_ids([entry.id for entry in entries])
        total = sum(message_size(e.body, e.attributes) for e in entries)
        if total > self._limits.max_message_size:
            raise BatchRequestTooLong(
                f"Batch requests cannot be longer than {self._limits.max_message_size} bytes."
            )
        messages: list[StoredMessage] = []
        sent: list[tuple[str, SentMessage]] = []
        failed: list[BatchFailure] = []
        sizes: list[int] = []
        for entry in entries:
            try:
                message, result = await self._prepare(queue, entry, sender, caller)
            except QueueError as exc:
                failed.append(BatchFailure(entry.id, exc))
                continue
            sizes.append(message_size(entry.body, entry.attributes))
            messages.append(message)
            sent.append((entry.id, result))
        if is_fifo(queue):
            answers = await self._send_fifo(queue, messages, [one for _, one in sent])
            sent = [(entry_id, one) for (entry_id, _), one in zip(sent, answers, strict=True)]
        else:
            await self._store.send(queue.tenant_id, queue.name, messages)
        if messages:
            if self.observer is not None:
                self.observer.sent_sizes(queue.tenant_id, queue.name, sizes)
            self._wake(queue)
            self._due_later(messages)
        return sent, failed

    async def deliver(self, queue: Queue, body: str, sender: str, trace: str | None = None) -> None:
        """A message from the platform itself (S3's bucket events), as SendMessage;
        ``trace`` its ``AWSTraceHeader`` (the write's trace header, decision 0336)."""
        system = {} if not trace else {TRACE_HEADER: MessageAttribute("String", string_value=trace)}
        await self.send_message(queue, body, {}, system, None, sender)

    async def _prepare(
        self, queue: Queue, entry: BatchEntry, sender: str, caller: object | None = None
    ) -> tuple[StoredMessage, SentMessage]:
        body, attributes, system, delay = entry.body, entry.attributes, entry.system, entry.delay
        check_body(body)
        check_message_attributes(attributes)
        unknown = set(system) - {"AWSTraceHeader"}
        if unknown:
            raise InvalidParameterValue(
                f"Message system attribute name '{sorted(unknown)[0][:128]}' is invalid."
            )
        # The setting is a ceiling: a queue's default (SQS's 256 KiB) never exceeds it.
        limit = min(queue.seconds("MaximumMessageSize"), self._limits.max_message_size)
        if message_size(body, attributes) > limit:
            raise InvalidParameterValue(
                "One or more parameters are invalid. Reason: Message must be shorter than "
                f"{limit} bytes."
            )
        delay = _seconds("DelaySeconds", delay, 0, 900)
        sealed_system = dict(system)
        group = dedup = None
        if is_fifo(queue):
            group_id, dedup_id = send_ids(queue, body, entry.group_id, entry.dedup_id, delay)
            delay = None  # the queue's own delay, whatever the message said (0 at most)
            sealed_system[_GROUP] = MessageAttribute("String", string_value=group_id)
            sealed_system[_DEDUP] = MessageAttribute("String", string_value=dedup_id)
            group = group_key(queue.tenant_id, group_id)
            dedup = dedup_key(queue, group_id, dedup_id)
        elif entry.dedup_id is not None or entry.group_id is not None:
            raise InvalidParameterValue(
                "The request include parameter that is not valid for this queue type"
            )
        now = self._clock()
        message_id = str(uuid.uuid4())
        payload = Payload(body, dict(attributes), sealed_system, sender)
        sealed = await self._sealer.seal(
            queue, caller, payload.encode(), _context(queue, message_id)
        )
        wait = queue.seconds("DelaySeconds") if delay is None else delay
        stored = StoredMessage(
            message_id,
            sealed,
            now,
            now + timedelta(seconds=wait),
            now + timedelta(seconds=queue.seconds("MessageRetentionPeriod")),
            group,
            dedup,
        )
        return stored, SentMessage(
            message_id, body_md5(body), attributes_md5(attributes), attributes_md5(system)
        )

    async def receive(
        self,
        queue: Queue,
        *,
        max_messages: int | None,
        visibility: int | None,
        wait: int | None,
        attempt_id: str | None = None,
        caller: object | None = None,
    ) -> list[Delivered]:
        """Up to ``max_messages`` messages, waiting up to ``wait`` seconds for one. A FIFO
        queue's receive retried with its ``attempt_id`` within five minutes answers the same
        messages (those still in flight under its receipts)."""
        count = _seconds("MaxNumberOfMessages", max_messages, 1, 10) or 1
        attempt = None
        if attempt_id is not None and is_fifo(queue):
            attempt = attempt_key(queue, check_attempt_id(attempt_id))
        hidden = _seconds("VisibilityTimeout", visibility, 0, 43_200)
        waited = _seconds("WaitTimeSeconds", wait, 0, 20)
        hide = queue.seconds("VisibilityTimeout") if hidden is None else hidden
        seconds = queue.seconds("ReceiveMessageWaitTimeSeconds") if waited is None else waited
        redrive = await self._redrive(queue)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            key = (queue.tenant_id, queue.name)
            # Registered before looking, so a send between the look and the wait wakes it.
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.setdefault(key, set()).add(waiter)
            try:
                found = await self._receive_once(queue, count, hide, redrive, caller, attempt)
                if found and self.due is not None:
                    self.due(hide)  # back in the queue then, unless deleted meanwhile
                remaining = deadline - loop.time()
                if found or remaining <= 0:
                    if not found and self.observer is not None:
                        self.observer.empty_receive(queue.tenant_id, queue.name)
                    return found
                # No connection is held while waiting: the wait is on this future alone.
                await asyncio.wait([waiter], timeout=min(remaining, self._limits.poll_interval))
            finally:
                waiters = self._waiters.get(key)
                if waiters is not None:
                    waiters.discard(waiter)
                    if not waiters:
                        del self._waiters[key]

    async def _receive_once(
        self,
        queue: Queue,
        count: int,
        hide: int,
        redrive: Redrive | None,
        caller: object | None,
        attempt: str | None = None,
    ) -> list[Delivered]:
        now = self._clock()
        receipts = [secrets.token_hex(16) for _ in range(count)]
        if is_fifo(queue):
            received = await self._store.receive_fifo(
                queue.tenant_id,
                queue.name,
                now,
                limit=count,
                visible_until=now + timedelta(seconds=hide),
                receipts=receipts,
                redrive=redrive,
                in_flight_limit=self._limits.in_flight,
                attempt=attempt,
                attempt_until=now + ATTEMPT_INTERVAL,
            )
        else:
            received = await self._store.receive(
                queue.tenant_id,
                queue.name,
                now,
                limit=count,
                visible_until=now + timedelta(seconds=hide),
                receipts=receipts,
                redrive=redrive,
                in_flight_limit=self._limits.in_flight,
            )
        delivered = []
        for message in received:
            try:
                plaintext = await self._sealer.open(
                    queue, caller, message.sealed, _context(queue, message.message_id)
                )
            except KmsError:
                # Unreadable for this caller now (its key disabled, or not theirs to use):
                # the messages go back to the queue at once, not hidden for the timeout.
                for taken in received:
                    await self._store.change_visibility(
                        queue.tenant_id, queue.name, taken.message_id, taken.receipt, now, now
                    )
                raise
            delivered.append(
                Delivered(
                    message.message_id,
                    _receipt_handle(message.message_id, message.receipt),
                    Payload.decode(plaintext),
                    message.sent_at,
                    message.receive_count,
                    message.first_received_at,
                    message.sequence,
                )
            )
        return delivered

    async def _redrive(self, queue: Queue) -> Redrive | None:
        policy = queue.redrive
        if policy is None:
            return None
        try:
            _, account, name = parse_queue_arn(policy.dead_letter_arn)
        except QueueDoesNotExist:
            return None
        return Redrive(account, name, policy.max_receive_count)

    async def delete_message(self, queue: Queue, receipt_handle: str) -> None:
        """As SQS: a valid handle of an earlier receive succeeds and deletes nothing."""
        message_id, receipt = _parse_receipt_handle(receipt_handle)
        await self._store.delete_message(queue.tenant_id, queue.name, message_id, receipt)
        if is_fifo(queue) and self.due is not None:
            self.due(0)  # its group's next message may be received now

    async def delete_batch(
        self, queue: Queue, entries: Sequence[tuple[str, str]]
    ) -> tuple[list[str], list[BatchFailure]]:
        check_batch_ids([entry_id for entry_id, _ in entries])
        done: list[str] = []
        failed: list[BatchFailure] = []
        for entry_id, handle in entries:
            try:
                await self.delete_message(queue, handle)
            except QueueError as exc:
                failed.append(BatchFailure(entry_id, exc))
            else:
                done.append(entry_id)
        return done, failed

    async def change_visibility(self, queue: Queue, receipt_handle: str, timeout: int) -> None:
        _seconds("VisibilityTimeout", timeout, 0, 43_200)
        message_id, receipt = _parse_receipt_handle(receipt_handle)
        now = self._clock()
        first = await self._store.in_flight_since(
            queue.tenant_id, queue.name, message_id, receipt, now
        )
        if first is not None and now + timedelta(seconds=timeout) > first + _MAX_VISIBILITY:
            # As SQS: a message is never hidden past 12 hours from its first receive.
            raise InvalidParameterValue(
                f"Value {timeout} for parameter VisibilityTimeout is invalid. Reason: Total "
                "VisibilityTimeout for the message is beyond the limit [43200 seconds]"
            )
        if not await self._store.change_visibility(
            queue.tenant_id,
            queue.name,
            message_id,
            receipt,
            now + timedelta(seconds=timeout),
            now,
        ):
            raise MessageNotInflight(
                f"Value {receipt_handle[:128]} for parameter ReceiptHandle is invalid. Reason: "
                "Message does not exist or is not available for visibility timeout change."
            )
        if timeout == 0:
            self._wake(queue)
        elif self.due is not None:
            self.due(timeout)

    async def change_visibility_batch(
        self, queue: Queue, entries: Sequence[tuple[str, str, int]]
    ) -> tuple[list[str], list[BatchFailure]]:
        check_batch_ids([entry_id for entry_id, _, _ in entries])
        done: list[str] = []
        failed: list[BatchFailure] = []
        for entry_id, handle, timeout in entries:
            try:
                await self.change_visibility(queue, handle, timeout)
            except QueueError as exc:
                failed.append(BatchFailure(entry_id, exc))
            else:
                done.append(entry_id)
        return done, failed

    def _due_later(self, messages: Sequence[StoredMessage]) -> None:
        """The readers' timetable told of the delayed messages' times (decision 0331)."""
        if self.due is None:
            return
        for delay in {(m.visible_at - m.sent_at).total_seconds() for m in messages}:
            if delay > 0:
                self.due(delay)

    def _wake(self, queue: Queue) -> None:
        for waiter in self._waiters.get((queue.tenant_id, queue.name), ()):
            if not waiter.done():
                waiter.set_result(None)


def _context(queue: Queue, message_id: str) -> bytes:
    # The account and the message id, not the queue: a redrive moves a message to another
    # queue of its account, where it must still open.
    return f"{queue.tenant_id}\n{message_id}".encode()


def _check_tags(tags: Mapping[str, str]) -> None:
    if len(tags) > MAX_TAGS:
        raise InvalidParameterValue(f"Too many tags: at most {MAX_TAGS} per queue.")
    for key, value in tags.items():
        if (
            not 1 <= len(key) <= 128
            or len(value) > 256
            or key.lower().startswith("aws:")
            # SQS's tags are letters, digits, spaces and a few signs; at least none that an
            # XML answer (the Query protocol's, decision 0173) could not carry.
            or xml_unsafe(key)
            or xml_unsafe(value)
        ):
            raise InvalidParameterValue(f"Tag key or value is invalid: {key[:128]}")
