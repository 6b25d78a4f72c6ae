"""Topics of a tenant (decision 0132): the SNS-style API's operations, and the lookups that
PutBucketNotificationConfiguration and the delivery worker make. The operations take the
account whose topic it is: an ARN naming another account is answered as a topic that does not
exist; the SNS API decides first, from the topic's policy, whether another account's caller
may act on it (decision 0168). A bucket's events reach another account's topic only when its
policy lets S3 publish them.

Tags (decision 0175) are kept with the topic; a FIFO topic's ``ArchivePolicy`` is kept with
``BeginningArchiveTime`` (when it was set), and its removal (or the topic's deletion) ends
the archive through ``on_archive_ended``."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime

from andromede.notifications.archive import (
    ARCHIVE_POLICY,
    BEGINNING_ARCHIVE_TIME,
    beginning_archive_time,
    format_time,
)
from andromede.notifications.errors import InvalidTopic, NoSuchTopic
from andromede.notifications.message_protection import DATA_PROTECTION_POLICY
from andromede.notifications.model import (
    FIFO_TOPIC,
    THROUGHPUT_SCOPE,
    Topic,
    check_attributes,
    check_fifo,
    check_name,
    parse_topic_arn,
)
from andromede.notifications.store import EventQueue, TopicStore
from andromede.notifications.tags import check_tags, untagged
from andromede.notifications.testevent import test_event_message

__all__ = ["TopicService"]

_log = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class TopicService:
    def __init__(
        self,
        store: TopicStore,
        *,
        region: str,
        max_topics: int,
        clock: Callable[[], datetime] = _utcnow,
        queue: EventQueue | None = None,
        queue_bound: int = 100_000,
        max_tags: int = 50,
    ) -> None:
        """``queue``: where S3's test events go (None: none are sent, for apps built without
        delivery); ``queue_bound``: ``notification_queue_per_tenant``; ``max_tags``:
        ``sns_max_tags_per_topic``."""
        self._max_tags = max_tags
        self._store = store
        self._region = region
        self._max_topics = max_topics
        self._clock = clock
        self._queue = queue
        self._queue_bound = queue_bound
        # What else goes with a deleted topic: its SNS subscriptions (decision 0163), set by
        # the wiring once they are served; a subscription left behind is deleted anyway at
        # its next delivery, its topic being gone.
        self.on_topic_deleted: Callable[[str], Awaitable[object]] | None = None
        # Whether a topic's Policy lets s3.amazonaws.com publish a bucket's events (topic,
        # bucket ARN, bucket account), set by the wiring (the policy engine is IAM's).
        self.s3_may_publish: Callable[[Topic, str, str], bool] | None = None
        # What ends a topic's archive (its ArchivePolicy removed, the topic deleted), set by
        # the wiring once archives are kept (decision 0175).
        self.on_archive_ended: Callable[[Topic], Awaitable[object]] | None = None

    async def create_topic(
        self,
        tenant_id: str,
        name: str,
        attributes: Mapping[str, str],
        tags: Iterable[tuple[str, str]] | None = None,
    ) -> Topic:
        """A new topic, or (as RGW) the tenant's topic of that name with these attributes
        (its ArchivePolicy and DataProtectionPolicy kept unless named). ``tags``: the new
        topic's; an existing topic keeps its own, and a request naming others is refused, as
        SNS refuses it."""
        if BEGINNING_ARCHIVE_TIME in attributes:
            raise InvalidTopic(f"Invalid parameter: AttributeName {BEGINNING_ARCHIVE_TIME}")
        checked = check_fifo(check_name(name), check_attributes(attributes))
        asked = None if tags is None else check_tags({}, tags, limit=self._max_tags)
        held = await self._store.get_topic(tenant_id, name)
        if held is not None and asked and asked != dict(held.tags):
            raise InvalidTopic(
                "Invalid parameter: Tags Reason: Topic already exists with different tags"
            )
        now = self._clock()
        before = None if held is None else held.attributes
        if before is not None and ARCHIVE_POLICY in before and ARCHIVE_POLICY not in attributes:
            # CreateTopic again (a deployment tool's idempotent create) does not end an
            # archive it does not name: only SetTopicAttributes does (decision 0175).
            checked[ARCHIVE_POLICY] = before[ARCHIVE_POLICY]
        if before is not None and DATA_PROTECTION_POLICY not in attributes:
            # Nor does it lift a data protection policy (decision 0215): only its own call.
            if DATA_PROTECTION_POLICY in before:
                checked[DATA_PROTECTION_POLICY] = before[DATA_PROTECTION_POLICY]
        checked = _archive_started(checked, before, now)
        topic = Topic(
            tenant_id,
            name,
            self._region,
            checked,
            now,
            dict(held.tags) if held is not None else (asked or {}),
        )
        kept = await self._store.put_topic(topic, limit=self._max_topics)
        if held is not None:
            await self._archive_changed(held, kept)
        return kept

    async def _archive_changed(self, before: Topic, after: Topic) -> None:
        if (
            before.archive_days is not None
            and after.archive_days is None
            and self.on_archive_ended is not None
        ):
            await self.on_archive_ended(after)

    async def tag(self, tenant_id: str, arn: str, tags: Iterable[tuple[str, str]]) -> Topic:
        """TagResource: the topic with ``tags`` added (a key held: its value replaced)."""
        topic = await self.get_topic(tenant_id, arn)
        tagged = check_tags(topic.tags, tags, limit=self._max_tags)
        return await self._store.put_topic(
            dataclasses.replace(topic, tags=tagged), limit=self._max_topics
        )

    async def untag(self, tenant_id: str, arn: str, keys: Iterable[str]) -> Topic:
        topic = await self.get_topic(tenant_id, arn)
        return await self._store.put_topic(
            dataclasses.replace(topic, tags=untagged(topic.tags, keys)), limit=self._max_topics
        )

    def shown_attributes(self, topic: Topic) -> dict[str, str]:
        """The attributes as GetTopicAttributes shows them: ``BeginningArchiveTime`` moving
        with the retention period once the archive is older than it."""
        shown = dict(topic.attributes)
        # Its own call shows it (GetDataProtectionPolicy), not the attributes (decision 0215).
        shown.pop(DATA_PROTECTION_POLICY, None)
        if topic.fifo:
            shown.setdefault(THROUGHPUT_SCOPE, "Topic")  # a topic kept before decision 0175
        started, days = shown.get(BEGINNING_ARCHIVE_TIME), topic.archive_days
        if started is not None and days is not None:
            shown[BEGINNING_ARCHIVE_TIME] = beginning_archive_time(started, days, self._clock())
        return shown

    async def get_topic(self, tenant_id: str, arn: str) -> Topic:
        """NoSuchTopic, also for another account's ARN; InvalidTopic for no topic ARN."""
        _, account, name = parse_topic_arn(arn)
        found = None if account != tenant_id else await self._store.get_topic(tenant_id, name)
        if found is None or found.arn != arn:
            raise NoSuchTopic("Topic does not exist")
        return found

    async def list_topics(self, tenant_id: str) -> list[Topic]:
        return await self._store.list_topics(tenant_id)

    async def delete_topic(self, tenant_id: str, arn: str) -> None:
        """Deleting a topic that is not there succeeds, as on SNS. Events queued for it are
        dropped by the worker; configurations naming it stay (as on RGW)."""
        _, account, name = parse_topic_arn(arn)
        if account == tenant_id:
            held = await self._store.get_topic(tenant_id, name)
            await self._store.delete_topic(tenant_id, name)
            await self._forgotten(held)

    async def _forgotten(self, topic: Topic | None) -> None:
        """What goes with a deleted topic: its subscriptions, its archive."""
        if topic is None:
            return
        if self.on_topic_deleted is not None:
            await self.on_topic_deleted(topic.arn)
        if topic.archive_days is not None and self.on_archive_ended is not None:
            await self.on_archive_ended(topic)

    async def forget_tenant(self, tenant_id: str) -> int:
        """Delete every topic of a tenant being closed, and so every event still queued for
        them (the worker drops an event whose topic is gone): a closed tenant's writes are
        never announced again, to endpoints it may no longer control. How many there were."""
        topics = await self._store.list_topics(tenant_id)
        for topic in topics:
            await self._store.delete_topic(tenant_id, topic.name)
            await self._forgotten(topic)
        return len(topics)

    async def set_attribute(self, tenant_id: str, arn: str, name: str, value: str) -> Topic:
        topic = await self.get_topic(tenant_id, arn)
        if name in (FIFO_TOPIC, BEGINNING_ARCHIVE_TIME):
            # FifoTopic is set at creation only (SetTopicAttributes does not take it), as on
            # SNS; BeginningArchiveTime is the archive's, shown only.
            raise InvalidTopic(f"Invalid parameter: AttributeName {name}")
        attributes = {**topic.attributes, name: value}
        if value == "":
            attributes.pop(name)
        checked = check_fifo(topic.name, check_attributes(attributes), existing=topic.attributes)
        checked = _archive_started(checked, topic.attributes, self._clock())
        kept = await self._store.put_topic(
            dataclasses.replace(topic, attributes=checked), limit=self._max_topics
        )
        await self._archive_changed(topic, kept)
        return kept

    async def owns_topic(self, tenant_id: str, arn: str) -> bool:
        """Whether ``arn`` is an existing topic of ``tenant_id`` (a bucket's owner)."""
        try:
            await self.get_topic(tenant_id, arn)
        except (NoSuchTopic, InvalidTopic):
            return False
        return True

    async def accepts_bucket_events(self, tenant_id: str, arn: str, bucket: str) -> bool:
        """A topic of the bucket owner: any without a ``Policy`` (RGW's topics have none),
        else one whose policy lets S3 publish this bucket's events (as AWS, decision 0163).
        Another account's topic only when its policy lets S3 publish them (``aws:SourceArn``
        the bucket, ``aws:SourceAccount`` its owner), as on AWS (decision 0168)."""
        try:
            _, account, name = parse_topic_arn(arn)
        except InvalidTopic:
            return False
        if name.endswith(".fifo"):
            return False  # S3's events have no message group: AWS refuses FIFO topics too
        if account != tenant_id:
            shared = await self.topic(arn)
            return shared is not None and self.takes_bucket_events(shared, tenant_id, bucket)
        try:
            topic = await self.get_topic(tenant_id, arn)
        except (NoSuchTopic, InvalidTopic):
            return False
        if not topic.attributes.get("Policy") or self.s3_may_publish is None:
            return True
        return self.s3_may_publish(topic, f"arn:aws:s3:::{bucket}", tenant_id)

    def takes_bucket_events(self, topic: Topic, tenant_id: str, bucket: str) -> bool:
        """Whether another account's topic lets S3 publish the events of ``tenant_id``'s
        ``bucket``: its policy must say so (decision 0168); checked again at each delivery,
        the topic's owner may take it back."""
        return (
            topic.tenant_id != tenant_id
            and topic.policy is not None
            and self.s3_may_publish is not None
            and self.s3_may_publish(topic, f"arn:aws:s3:::{bucket}", tenant_id)
        )

    async def topic(self, arn: str) -> Topic | None:
        """The topic an ARN names, whoever's (for the delivery of its owner's events)."""
        try:
            _, account, name = parse_topic_arn(arn)
        except InvalidTopic:
            return None
        found = await self._store.get_topic(account, name)
        return found if found is not None and found.arn == arn else None

    async def send_test_events(
        self, tenant_id: str, bucket: str, topic_arns: Iterable[str], request_id: str
    ) -> int:
        """Queue S3's ``s3:TestEvent`` for each topic of a configuration just accepted (each
        once, however many rules name it), to be pushed by the worker as any event. A
        tenant's full queue drops it, logged, as it drops a write's events. How many queued."""
        if self._queue is None:
            return 0
        now = self._clock()
        message = test_event_message(bucket, request_id, request_id, now)
        queued = 0
        for arn in dict.fromkeys(topic_arns):
            if await self._queue.add(tenant_id, arn, message, now, bound=self._queue_bound):
                queued += 1
            else:
                _log.warning(
                    "notification queue of tenant %s full (%d events): the test event for %s "
                    "dropped",
                    tenant_id,
                    self._queue_bound,
                    arn,
                )
        return queued

    async def deduplicate(
        self, topic: Topic, dedup_key: str, message_id: str, now: datetime, until: datetime
    ) -> tuple[str, int, bool]:
        """A FIFO topic's publish recorded (decision 0171): see ``TopicStore.deduplicate``."""
        return await self._store.deduplicate(topic, dedup_key, message_id, now, until)

    async def publish(self, tenant_id: str, arn: str, message: str) -> bool:
        """Queue ``message`` for the tenant's own topic ``arn``, pushed as any event (EC2
        Auto Scaling's lifecycle notifications, decision 0159); False when the topic is not
        the tenant's, no queue was given, or the tenant's queue is full."""
        if self._queue is None or not await self.owns_topic(tenant_id, arn):
            return False
        return await self._queue.add(
            tenant_id, arn, message, self._clock(), bound=self._queue_bound
        )


def _archive_started(
    attributes: dict[str, str], before: Mapping[str, str] | None, now: datetime
) -> dict[str, str]:
    """The attributes with ``BeginningArchiveTime``: now for an archive beginning, kept for
    one going on, none without an ArchivePolicy."""
    if ARCHIVE_POLICY not in attributes:
        attributes.pop(BEGINNING_ARCHIVE_TIME, None)
        return attributes
    held = None if before is None or ARCHIVE_POLICY not in before else before
    attributes[BEGINNING_ARCHIVE_TIME] = (
        held[BEGINNING_ARCHIVE_TIME]
        if held is not None and BEGINNING_ARCHIVE_TIME in held
        else format_time(now)
    )
    return attributes
