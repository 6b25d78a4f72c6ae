"""The in-memory twin of the subscription store (decision 0163), for tests and the
in-process app."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from andromede.notifications.errors import SubscriptionLimitExceeded
from andromede.notifications.subscriptions import Subscription

__all__ = ["MemorySubscriptionStore"]


class MemorySubscriptionStore:
    def __init__(self) -> None:
        self._subscriptions: dict[str, Subscription] = {}
        self._key: tuple[str, str] | None = None

    async def put_subscription(self, subscription: Subscription, *, limit: int) -> Subscription:
        same = [s for s in self._subscriptions.values() if s.topic_arn == subscription.topic_arn]
        for held in same:
            if (held.protocol, held.endpoint) == (subscription.protocol, subscription.endpoint):
                return held
        if len(same) >= limit:
            raise SubscriptionLimitExceeded("Exceeded subscription limit.")
        self._subscriptions[subscription.arn] = subscription
        return subscription

    async def get_subscription(self, arn: str) -> Subscription | None:
        return self._subscriptions.get(arn)

    async def update_subscription(self, subscription: Subscription) -> bool:
        held = self._subscriptions.get(subscription.arn)
        if held is None:
            return False
        self._subscriptions[subscription.arn] = dataclasses.replace(
            held, attributes=dict(subscription.attributes), token=subscription.token
        )
        return True

    async def delete_subscription(self, arn: str) -> bool:
        return self._subscriptions.pop(arn, None) is not None

    async def delete_topic_subscriptions(self, topic_arn: str) -> int:
        gone = [a for a, s in self._subscriptions.items() if s.topic_arn == topic_arn]
        for arn in gone:
            del self._subscriptions[arn]
        return len(gone)

    async def delete_pending_before(self, cutoff: datetime, *, topic_arn: str | None) -> int:
        gone = [
            a
            for a, s in self._subscriptions.items()
            if not s.confirmed
            and s.created_at <= cutoff
            and (topic_arn is None or s.topic_arn == topic_arn)
        ]
        for arn in gone:
            del self._subscriptions[arn]
        return len(gone)

    async def list_subscriptions(
        self, *, topic_arn: str | None = None, owner: str | None = None, after: str, limit: int
    ) -> list[Subscription]:
        found = sorted(
            (
                s
                for s in self._subscriptions.values()
                if (topic_arn is None or s.topic_arn == topic_arn)
                and (owner is None or s.owner == owner)
                and s.arn.encode() > after.encode()
            ),
            key=lambda s: s.arn.encode(),
        )
        return found[:limit]

    async def signing_key(self) -> tuple[str, str] | None:
        return self._key

    async def add_signing_key(
        self, key_id: str, sealed_key: str, certificate: str, now: datetime
    ) -> tuple[str, str]:
        if self._key is None:
            self._key = (sealed_key, certificate)
        return self._key
