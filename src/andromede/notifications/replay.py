"""The upkeep of FIFO topics' archives (decision 0175): subscriptions' replays advanced, and
expired archived messages deleted, each in bounded batches, by every gateway.

- **A replay** queues, per pass, up to ``batch`` archived messages of its window after its
  cursor, through the subscription's own delivery (its filter, raw or enveloped, marked
  ``Replayed``), then records its cursor and status with a compare-and-set: Pending → In
  progress → Completed (a pass finding fewer than a batch, its window's end passed). A
  replay without an end holds the subscription's live messages meanwhile (they are archived
  first, see ``pubsub``), one with an end takes them off it for good, as SNS; once a
  replay without an end is marked Completed, one more read queues what was archived during
  the marking, so no message falls between the two. Its subscription gone, a replay is dropped; its
  topic gone or its archive ended, it is Failed. Two gateways advancing one replay at once
  may queue a batch twice: at least once, as every SNS delivery, and a FIFO queue drops the
  copy as a duplicate.
- **Expiry** deletes up to ``batch`` expired rows per step, a few steps per pass, so a large
  archive ending never holds the database's writer long.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from andromede.notifications.archive import (
    REPLAY_COMPLETED,
    REPLAY_FAILED,
    REPLAY_RUNNING,
    Replay,
)
from andromede.notifications.errors import TopicKeyError
from andromede.notifications.pubsub import PubSubService
from andromede.notifications.service import TopicService
from andromede.notifications.store import ArchiveStore
from andromede.wakeup import Doorbell, Pacer

__all__ = ["ArchiveUpkeep", "UpkeepPolicy"]

log = logging.getLogger(__name__)
_EXPIRY_STEPS = 10
_END_GRACE = timedelta(seconds=5)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class UpkeepPolicy:
    batch: int = 100  # sns_archive_batch
    interval: float = 1.0  # sns_replay_interval
    expiry_interval: float = 300.0  # sns_archive_expiry_interval
    idle_poll_max: float | None = None  # background_idle_poll_max (decision 0206)


class ArchiveUpkeep:
    def __init__(
        self,
        archive: ArchiveStore,
        topics: TopicService,
        pubsub: PubSubService,
        policy: UpkeepPolicy,
        *,
        clock: Callable[[], datetime] = _utcnow,
        doorbell: Doorbell | None = None,
    ) -> None:
        """``doorbell``: rung when this process started a replay (decision 0206)."""
        self._archive = archive
        self._pacer = Pacer(policy.interval, policy.idle_poll_max, doorbell)
        self._topics = topics
        self._pubsub = pubsub
        self._policy = policy
        self._clock = clock
        self._next_expiry = 0.0

    async def replay_once(self) -> int:
        """Advance each due replay by one batch; how many messages were queued."""
        queued = 0
        for replay in await self._archive.due_replays(limit=self._policy.batch):
            try:
                queued += await self._advance(replay)
            except Exception:  # one replay's failure must not stop the others'
                log.exception("replay of %s failed", replay.subscription_arn)
        return queued

    async def _advance(self, replay: Replay) -> int:
        subscription = await self._pubsub.subscription(replay.subscription_arn)
        if subscription is None:
            await self._archive.drop_replay(replay.subscription_arn)
            return 0
        if not subscription.confirmed:
            return 0  # stays Pending until its endpoint confirms
        topic = await self._topics.topic(replay.topic_arn)
        if topic is None or topic.archive_days is None:
            await self._archive.advance_replay(replay, replay.cursor, REPLAY_FAILED)
            return 0
        rows = await self._archive.archived(
            topic.arn,
            after=replay.cursor,
            start=replay.start,
            end=replay.end,
            now=self._clock(),
            limit=self._policy.batch,
        )
        cursor, queued, full = replay.cursor, 0, False
        for row in rows:
            try:
                taken = not row.record or await self._pubsub.replay_to(
                    topic, subscription, await self._pubsub.archived(topic, row.record)
                )
            except TopicKeyError as exc:
                # The topic's KMS key unusable now (decision 0212): tried at the next pass.
                log.warning("replay of %s waits: %s", replay.subscription_arn, exc)
                taken = False
            if not taken:
                full = True  # the tenant's queue is full: the rest at the next pass
                break
            cursor, queued = row.archive_id, queued + 1
        # A window ending later runs on until its end (and a moment, for a publish of that
        # instant still committing): the messages archived meanwhile are its.
        ended = replay.end is None or self._clock() >= replay.end + _END_GRACE
        done = len(rows) < self._policy.batch and not full and ended
        status = REPLAY_COMPLETED if done else REPLAY_RUNNING
        if not await self._archive.advance_replay(replay, cursor, status):
            return queued  # replaced or advanced by another gateway meanwhile
        if done and replay.end is None:
            # Messages archived while the replay was being marked Completed were held back
            # from the live fan-out: queued now.
            for row in await self._archive.archived(
                topic.arn,
                after=cursor,
                start=replay.start,
                end=None,
                now=self._clock(),
                limit=self._policy.batch,
            ):
                if row.record:
                    await self._pubsub.replay_to(
                        topic, subscription, await self._pubsub.archived(topic, row.record)
                    )
                    queued += 1
        return queued

    async def expire_once(self) -> int:
        """Delete expired archived messages, a few bounded batches; how many."""
        gone = 0
        for _ in range(_EXPIRY_STEPS):
            step = await self._archive.expire(self._clock(), limit=self._policy.batch)
            gone += step
            if step < self._policy.batch:
                break
        return gone

    async def run_forever(self) -> None:
        while True:
            try:
                if time.monotonic() >= self._next_expiry:
                    self._next_expiry = time.monotonic() + self._policy.expiry_interval
                    gone = await self.expire_once()
                    if gone:
                        log.info("%d archived SNS messages expired", gone)
                queued = await self.replay_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("SNS archive upkeep pass failed")
                queued = 0
            await self._pacer.pause(worked=queued > 0)
