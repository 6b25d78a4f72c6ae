"""A write transaction's ``ClientRequestToken`` remembered (decision 0259): for ten minutes
after a transaction succeeds, the same token with the same request answers success without
writing again, and with another request ``IdempotentParameterMismatchException``, as AWS's
TransactWriteItems and ExecuteTransaction answer.

The store keeps, per account and token, only the request's digest (a MAC of its canonical
JSON under the first table's key: neither the request nor a guessable hash of customer data is
kept) and when it lapses; it is in the database so that every gateway sees it, and the
DynamoDB upkeep prunes what has lapsed. :class:`TokenStore` is the stores' half: the memory
twin's and SQL's implementations below, one contract suite for both.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from typing import Any, Final, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from andromede.db import tables
from andromede.db.database import Database

__all__ = [
    "TOKEN_WINDOW_MS",
    "MemoryTokenStore",
    "SqlTokenStore",
    "TokenStore",
    "canonical_request",
    "same_digest",
]

TOKEN_WINDOW_MS: Final = 10 * 60 * 1000
"""How long a token is remembered after its transaction: AWS's ten minutes."""

_K = tables.dynamodb_transaction_tokens


def canonical_request(params: Mapping[str, Any]) -> bytes:
    """The request's parameters as one byte string: the same request gives the same bytes."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"), default=str).encode()


def same_digest(held: bytes, digest: bytes) -> bool:
    return hmac.compare_digest(held, digest)


class TokenStore(Protocol):
    async def held_token(self, tenant_id: str, token: str, now: int) -> bytes | None:
        """The digest remembered for the account's ``token`` unless lapsed by ``now`` (ms)."""
        ...

    async def remember_token(self, tenant_id: str, token: str, digest: bytes, until: int) -> bytes:
        """``digest`` remembered for ``token`` until ``until`` (ms), unless another unlapsed
        one is held for it (written by a concurrent request): the digest held afterwards."""
        ...

    async def prune_tokens(self, now: int) -> int:
        """Tokens lapsed by ``now`` (ms) forgotten; how many."""
        ...

    async def forget_tokens(self, tenant_id: str) -> None:
        """The closed account's tokens forgotten."""
        ...


class MemoryTokenStore:
    """:class:`TokenStore` in memory, for the memory twin (``dynamodb.memory``)."""

    _tokens: dict[tuple[str, str], tuple[bytes, int]]

    def _held(self) -> dict[tuple[str, str], tuple[bytes, int]]:
        if not hasattr(self, "_tokens"):
            self._tokens = {}
        return self._tokens

    async def held_token(self, tenant_id: str, token: str, now: int) -> bytes | None:
        held = self._held().get((tenant_id, token))
        return held[0] if held is not None and held[1] > now else None

    async def remember_token(self, tenant_id: str, token: str, digest: bytes, until: int) -> bytes:
        held = self._held().get((tenant_id, token))
        if held is not None and held[1] > until - TOKEN_WINDOW_MS:
            return held[0]
        self._held()[(tenant_id, token)] = (digest, until)
        return digest

    async def prune_tokens(self, now: int) -> int:
        lapsed = [k for k, (_, until) in self._held().items() if until <= now]
        for key in lapsed:
            del self._held()[key]
        return len(lapsed)

    async def forget_tokens(self, tenant_id: str) -> None:
        for key in [k for k in self._held() if k[0] == tenant_id]:
            del self._held()[key]


class SqlTokenStore:
    """:class:`TokenStore` over ``dynamodb_transaction_tokens`` (migration 0125), for
    ``SqlDynamoStore``."""

    _db: Database

    async def held_token(self, tenant_id: str, token: str, now: int) -> bytes | None:
        query = sa.select(_K.c.digest).where(
            _K.c.tenant_id == tenant_id, _K.c.token == token, _K.c.until > now
        )

        def work(conn: Connection) -> bytes | None:
            found = conn.execute(query).scalar()
            return None if found is None else bytes(found)

        return await self._db.read(work)

    async def remember_token(self, tenant_id: str, token: str, digest: bytes, until: int) -> bytes:
        now = until - TOKEN_WINDOW_MS
        of_token = sa.and_(_K.c.tenant_id == tenant_id, _K.c.token == token)

        def work(conn: Connection) -> bytes:
            conn.execute(sa.delete(_K).where(of_token, _K.c.until <= now))
            found = conn.execute(sa.select(_K.c.digest).where(of_token)).scalar()
            if found is not None:
                return bytes(found)
            conn.execute(
                sa.insert(_K).values(tenant_id=tenant_id, token=token, digest=digest, until=until)
            )
            return digest

        try:
            return await self._db.write(work)
        except IntegrityError:  # a concurrent request remembered it first: its digest holds
            held = await self.held_token(tenant_id, token, now)
            return digest if held is None else held

    async def prune_tokens(self, now: int) -> int:
        statement = sa.delete(_K).where(_K.c.until <= now)
        return await self._db.write(lambda conn: int(conn.execute(statement).rowcount))

    async def forget_tokens(self, tenant_id: str) -> None:
        statement = sa.delete(_K).where(_K.c.tenant_id == tenant_id)
        await self._db.write(lambda conn: conn.execute(statement))
