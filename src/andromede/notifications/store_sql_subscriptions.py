"""Subscriptions and the SNS signing key over the metadata database (SQLite or
PostgreSQL), tables of migration 0075 (decision 0163).

A new subscription is counted and inserted in one transaction that first locks the topic's
row, so two Subscribe calls at once cannot pass the limit together, nor make two
subscriptions of one endpoint."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.db.types import utc_from_stored
from andromede.notifications.errors import SubscriptionLimitExceeded
from andromede.notifications.model import parse_topic_arn
from andromede.notifications.subscriptions import FORMAT_VERSION, Subscription

__all__ = ["SqlSubscriptionStore"]

_S = tables.notification_subscriptions
_K = tables.notification_signing_keys
_T = tables.notification_topics


def _subscription(row: sa.Row[tuple[object, ...]]) -> Subscription:
    m = row._mapping
    attributes, token = Subscription.parse_document(m["document"])
    return Subscription(
        arn=m["arn"],
        topic_arn=m["topic_arn"],
        tenant_id=m["tenant_id"],
        owner=m["owner"],
        protocol=m["protocol"],
        endpoint=m["endpoint"],
        attributes=attributes,
        token=token,
        created_at=utc_from_stored(m["created_at"]),
    )


class SqlSubscriptionStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def put_subscription(self, subscription: Subscription, *, limit: int) -> Subscription:
        _, account, name = parse_topic_arn(subscription.topic_arn)

        def work(conn: Connection) -> Subscription:
            # The topic's row serialises the Subscribe calls of one topic.
            conn.execute(
                sa.select(_T.c.name)
                .where(_T.c.tenant_id == account, _T.c.name == name)
                .with_for_update()
            ).first()
            held = conn.execute(
                sa.select(_S).where(
                    _S.c.topic_arn == subscription.topic_arn,
                    _S.c.protocol == subscription.protocol,
                    _S.c.endpoint == subscription.endpoint,
                )
            ).first()
            if held is not None:
                return _subscription(held)
            count = conn.scalar(
                sa.select(sa.func.count())
                .select_from(_S)
                .where(_S.c.topic_arn == subscription.topic_arn)
            )
            if int(count or 0) >= limit:
                raise SubscriptionLimitExceeded("Exceeded subscription limit.")
            conn.execute(
                _S.insert().values(
                    arn=subscription.arn,
                    topic_arn=subscription.topic_arn,
                    tenant_id=subscription.tenant_id,
                    owner=subscription.owner,
                    protocol=subscription.protocol,
                    endpoint=subscription.endpoint,
                    document=subscription.document(),
                    format_version=FORMAT_VERSION,
                    created_at=subscription.created_at,
                )
            )
            return subscription

        return await self._db.write(work)

    async def get_subscription(self, arn: str) -> Subscription | None:
        query = sa.select(_S).where(_S.c.arn == arn)

        def work(conn: Connection) -> Subscription | None:
            row = conn.execute(query).first()
            return None if row is None else _subscription(row)

        return await self._db.read(work)

    async def update_subscription(self, subscription: Subscription) -> bool:
        statement = (
            _S.update()
            .where(_S.c.arn == subscription.arn)
            .values(document=subscription.document(), format_version=FORMAT_VERSION)
        )
        return await self._db.write(lambda conn: conn.execute(statement).rowcount > 0)

    async def delete_subscription(self, arn: str) -> bool:
        statement = _S.delete().where(_S.c.arn == arn)
        return await self._db.write(lambda conn: conn.execute(statement).rowcount > 0)

    async def delete_topic_subscriptions(self, topic_arn: str) -> int:
        statement = _S.delete().where(_S.c.topic_arn == topic_arn)
        return await self._db.write(lambda conn: int(conn.execute(statement).rowcount))

    async def delete_pending_before(self, cutoff: datetime, *, topic_arn: str | None) -> int:
        # The token lives in the document, whose JSON (``Subscription.document``: fixed key
        # order, compact) ends with ``"token":null}`` exactly when the subscription is
        # confirmed: a string value cannot end it so, its quotes being escaped.
        statement = _S.delete().where(
            _S.c.created_at <= cutoff, sa.not_(_S.c.document.like('%"token":null}'))
        )
        if topic_arn is not None:
            statement = statement.where(_S.c.topic_arn == topic_arn)
        return await self._db.write(lambda conn: int(conn.execute(statement).rowcount))

    async def list_subscriptions(
        self, *, topic_arn: str | None = None, owner: str | None = None, after: str, limit: int
    ) -> list[Subscription]:
        query = sa.select(_S).where(_S.c.arn > after).order_by(_S.c.arn).limit(limit)
        if topic_arn is not None:
            query = query.where(_S.c.topic_arn == topic_arn)
        if owner is not None:
            query = query.where(_S.c.owner == owner)
        return await self._db.read(
            lambda conn: [_subscription(r) for r in conn.execute(query).all()]
        )

    async def signing_key(self) -> tuple[str, str] | None:
        query = (
            sa.select(_K.c.sealed_key, _K.c.certificate)
            .order_by(_K.c.created_at, _K.c.key_id)
            .limit(1)
        )

        def work(conn: Connection) -> tuple[str, str] | None:
            row = conn.execute(query).first()
            return None if row is None else (str(row[0]), str(row[1]))

        return await self._db.read(work)

    async def add_signing_key(
        self, key_id: str, sealed_key: str, certificate: str, now: datetime
    ) -> tuple[str, str]:
        def work(conn: Connection) -> tuple[str, str]:
            row = conn.execute(
                sa.select(_K.c.sealed_key, _K.c.certificate)
                .order_by(_K.c.created_at, _K.c.key_id)
                .limit(1)
            ).first()
            if row is not None:
                return str(row[0]), str(row[1])
            conn.execute(
                _K.insert().values(
                    key_id=key_id, sealed_key=sealed_key, certificate=certificate, created_at=now
                )
            )
            return sealed_key, certificate

        return await self._db.write(work)
