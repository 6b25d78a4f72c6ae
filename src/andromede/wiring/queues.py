"""The SQS-style queues (decision 0158): their service, the sealing of their messages under
the tenants' keys (and of the pending notification events, decision 0163's addendum), and
the S3 side's use of them for bucket events (the destination check of
PutBucketNotificationConfiguration and the notification worker's delivery)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import struct
from typing import Final

from cryptography.exceptions import InvalidTag

from andromede.audit.service import AuditService
from andromede.billing.service import BillingService
from andromede.db.database import Database
from andromede.db.doorbells import MESSAGE_MOVES, SQS_MESSAGES
from andromede.db.notification_events import Unreadable
from andromede.kms.customer_keys import CustomerKeyService
from andromede.kms.errors import InvalidWrappedKey, KeyDestroyed, KeyNotFound
from andromede.kms.service import KeyService
from andromede.queues.errors import QueueError
from andromede.queues.fifo import is_fifo
from andromede.queues.model import parse_queue_arn
from andromede.queues.move_tasks_sql import SqlMoveTaskStore
from andromede.queues.mover import MessageMover
from andromede.queues.regional_store import RegionalQueueStore
from andromede.queues.service import QueueLimits, QueueService
from andromede.queues.store import QueueStore
from andromede.queues.store_sql import SqlQueueStore
from andromede.settings import Settings
from andromede.sqsapi.authorise import S3_PRINCIPAL, s3_may_send
from andromede.wakeup import Timetable
from andromede.wiring.queue_keys import QueueKmsSealer

__all__ = ["BucketEventQueues", "EventKeySealer", "KeySealer", "message_mover", "queue_service"]

log = logging.getLogger(__name__)

# A sealed message: version, the wrapped data key's length and the key, the nonce, then the
# AES-GCM ciphertext of the payload, whose AAD is the account and the message id.
_VERSION: Final = b"\x01"
_NONCE = 12


class KeySealer:
    """Seals each message under a data key of its tenant (SSE-S3's: from the key service's
    batch of fresh keys, wrapped under the tenant's KEK), so destroying the tenant's key
    makes its queued messages unreadable as it does its objects."""

    def __init__(self, keys: KeyService) -> None:
        self._keys = keys
        self._tenants_with_keys: set[str] = set()

    async def seal(self, tenant_id: str, plaintext: bytes, context: bytes) -> bytes:
        def work() -> bytes:
            if tenant_id not in self._tenants_with_keys:
                # A tenant's own ring is made on first use, as for its objects.
                self._keys.ensure_tenant_key(tenant_id)
                self._tenants_with_keys.add(tenant_id)
            new = self._keys.new_data_key(tenant_id)
            try:
                nonce = os.urandom(_NONCE)
                sealed = new.cipher.encrypt(nonce, plaintext, context)
            finally:
                new.plaintext[:] = bytes(len(new.plaintext))
            return _VERSION + struct.pack(">H", len(new.wrapped)) + new.wrapped + nonce + sealed

        return await asyncio.to_thread(work)

    async def open(self, tenant_id: str, sealed: bytes, context: bytes) -> bytes:
        if sealed[:1] != _VERSION:
            raise ValueError("unknown sealed message format")
        (size,) = struct.unpack(">H", sealed[1:3])
        wrapped = sealed[3 : 3 + size]
        nonce = sealed[3 + size : 3 + size + _NONCE]
        body = sealed[3 + size + _NONCE :]

        def work() -> bytes:
            return self._keys.data_key_cipher(tenant_id, wrapped).decrypt(nonce, body, context)

        return await asyncio.to_thread(work)


class EventKeySealer:
    """The queues' sealer as the notification events use it (decision 0163's addendum): a
    message whose tenant's key was destroyed or withdrawn, or whose ciphertext is not its
    row's, is :class:`Unreadable` (dropped, never tried again); any other failure of the key
    provider passes (tried again)."""

    def __init__(self, keys: KeyService) -> None:
        self._sealer = KeySealer(keys)

    async def seal(self, tenant_id: str, plaintext: bytes, context: bytes) -> bytes:
        return await self._sealer.seal(tenant_id, plaintext, context)

    async def open(self, tenant_id: str, sealed: bytes, context: bytes) -> bytes:
        try:
            return await self._sealer.open(tenant_id, sealed, context)
        except (KeyDestroyed, KeyNotFound, InvalidWrappedKey, InvalidTag, ValueError) as exc:
            raise Unreadable(type(exc).__name__) from exc


def queue_service(
    settings: Settings,
    db: Database,
    keys: KeyService,
    customer_keys: CustomerKeyService | None = None,
    audit: AuditService | None = None,
    billing: BillingService | None = None,
    store: SqlQueueStore | None = None,
) -> QueueService:
    """The queue service of ``serve``; with ``customer_keys``, queues may be sealed under
    customer-managed KMS keys (decision 0165); ``store``: the SQL store to use (the one
    counting the platform's SQS metrics, decision 0172).

    Decision 0414: with several declared Regions, the default Region's service works over
    its view of the store and holds each other Region's (``QueueService.regions``), over
    that Region's view, sharing the sealers, the limits and the readers' timetable."""
    kms = (
        None
        if customer_keys is None
        else QueueKmsSealer(
            customer_keys,
            keys,
            audit,
            billing,
            cache_size=settings.queue_kms_data_key_cache_size,
        )
    )
    whole: QueueStore = SqlQueueStore(db) if store is None else store
    sealer = KeySealer(keys)
    limits = QueueLimits(
        max_queues=settings.max_queues,
        max_message_size=settings.queue_max_message_size,
        in_flight=settings.queue_max_in_flight,
        poll_interval=settings.queue_long_poll_interval,
    )
    home = settings.region
    declared = sorted({r.name for r in settings.declared_regions} | {home})
    # A message visible later (a delay, a visibility timeout) rings the queues' readers, Pipes
    # and Lambda's mappings, at its time (decision 0331).
    due = Timetable(db.doorbells.of(SQS_MESSAGES).ring_soon).at
    services: dict[str, QueueService] = {}
    for region in declared:
        viewed = whole if len(declared) < 2 else RegionalQueueStore(whole, region, home)
        regional = QueueService(viewed, sealer, region=region, limits=limits, kms=kms)
        regional.due = due
        services[region] = regional
    service = services.pop(home)
    service.regions = services
    return service


def message_mover(settings: Settings, db: Database) -> MessageMover:
    """The message move tasks (decision 0165), kept in the database; ``serve`` runs its
    passes in the background. Decision 0414: each declared Region's tasks through its view
    of the store."""
    whole = SqlQueueStore(db)
    home = settings.region
    declared = {r.name for r in settings.declared_regions} | {home}
    views: dict[str, QueueStore] = (
        {}
        if len(declared) < 2
        else {region: RegionalQueueStore(whole, region, home) for region in declared}
    )
    return MessageMover(
        views.pop(home, whole),
        SqlMoveTaskStore(db),
        stores=views,
        region=settings.region,
        max_rate=settings.queue_move_task_max_rate,
        interval=settings.queue_move_task_interval,
        idle_poll_max=settings.background_idle_poll_max,
        doorbell=db.doorbells.of(MESSAGE_MOVES),
    )


class BucketEventQueues:
    """The queues as bucket notifications use them: a destination is accepted when it is a
    queue of the bucket owner's account whose policy lets S3 send the bucket's events, and
    each event is sent to it as S3 sends it (checked again at delivery: a policy changed
    since stops the events)."""

    def __init__(self, queues: QueueService) -> None:
        self._queues = queues

    async def accepts_bucket_events(self, tenant_id: str, queue_arn: str, bucket: str) -> bool:
        try:
            region, account, name = parse_queue_arn(queue_arn)
            queue = await self._queues.get_queue(tenant_id, account, name)
        except QueueError:
            return False
        # S3 cannot send to a FIFO queue (decision 0164): its events carry no message group.
        return (
            region == queue.region
            and not is_fifo(queue)
            and s3_may_send(queue, f"arn:aws:s3:::{bucket}", tenant_id)
        )

    async def deliver(
        self, tenant_id: str, queue_arn: str, message: str, trace: str | None = None
    ) -> bool:
        """Send ``message`` (S3's event JSON) to the queue, ``trace`` (the write's trace
        header, decision 0336) its ``AWSTraceHeader``; False when it cannot ever be (the
        queue gone, or its policy no longer allowing S3), for the worker to drop it."""
        bucket = _bucket_of(message)
        try:
            region, account, name = parse_queue_arn(queue_arn)
            queue = await self._queues.get_queue(tenant_id, account, name)
        except QueueError:
            return False
        if region != queue.region:  # never another Region's namesake (decision 0414)
            return False
        if is_fifo(queue):
            log.info("event for %s dropped: S3 cannot send to a FIFO queue", queue_arn)
            return False
        if bucket is None or not s3_may_send(queue, f"arn:aws:s3:::{bucket}", tenant_id):
            log.info("event for %s dropped: the queue's policy does not allow S3", queue_arn)
            return False
        await self._queues.deliver(queue, message, S3_PRINCIPAL, trace)
        return True


def _bucket_of(message: str) -> str | None:
    """The bucket an S3 event message (a record set, or the test event) tells of."""
    try:
        data = json.loads(message)
        if "Bucket" in data:
            return str(data["Bucket"])
        return str(data["Records"][0]["s3"]["bucket"]["name"])
    except (ValueError, KeyError, IndexError, TypeError):
        return None
