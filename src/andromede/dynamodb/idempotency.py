"""A write transaction's ``ClientRequestToken`` remembered (decision 0259): for ten minutes
after a transaction succeeds, the same token with the same request answers success without
writing again, and with another request ``IdempotentParameterMismatchException``, as AWS's
TransactWriteItems and ExecuteTransaction answer; while the first call runs, the same token
is ``TransactionInProgressException``.

A call claims its token before running (a pending claim, lapsing after
:data:`PENDING_MS` should its gateway die), settles it once the transaction succeeded (held
ten minutes) and releases it when the transaction failed, so that a retry is decided again.

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
from dataclasses import dataclass
from typing import Any, Final, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from andromede.db import tables
from andromede.db.database import Database

__all__ = [
    "PENDING_MS",
    "TOKEN_WINDOW_MS",
    "Claim",
    "MemoryTokenStore",
    "SqlTokenStore",
    "TokenStore",
    "canonical_request",
    "same_digest",
]

TOKEN_WINDOW_MS: Final = 10 * 60 * 1000
"""How long a token is remembered after its transaction: AWS's ten minutes."""

PENDING_MS: Final = 60 * 1000
"""How long an unsettled claim holds its token: far past any transaction's run."""

_K = tables.dynamodb_transaction_tokens


@dataclass(frozen=True, slots=True)
class Claim:
    """The token's holder when the call could not claim it: its digest, and whether its
    transaction succeeded (False: still running)."""

    digest: bytes
    settled: bool


def canonical_request(params: Mapping[str, Any]) -> bytes:
    """The request's parameters as one byte string: the same request gives the same bytes."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"), default=str).encode()


def same_digest(held: bytes, digest: bytes) -> bool:
    return hmac.compare_digest(held, digest)


class TokenStore(Protocol):
    async def claim_token(
        self, tenant_id: str, token: str, digest: bytes, now: int
    ) -> Claim | None:
        """The account's ``token`` claimed for ``digest`` until ``now`` + :data:`PENDING_MS`
        (None), unless an unlapsed claim holds it: that claim."""
        ...

    async def settle_token(self, tenant_id: str, token: str, until: int) -> None:
        """The claim settled (its transaction succeeded), held until ``until`` (ms)."""
        ...

    async def release_token(self, tenant_id: str, token: str) -> None:
        """An unsettled claim withdrawn (its transaction failed)."""
        ...

    async def prune_tokens(self, now: int) -> int:
        """Claims lapsed by ``now`` (ms) forgotten; how many."""
        ...

    async def forget_tokens(self, tenant_id: str) -> None:
        """The closed account's tokens forgotten."""
        ...


class MemoryTokenStore:
    """:class:`TokenStore` in memory, for the memory twin (``dynamodb.memory``)."""

    _tokens: dict[tuple[str, str], tuple[bytes, bool, int]]

    def _held(self) -> dict[tuple[str, str], tuple[bytes, bool, int]]:
        if not hasattr(self, "_tokens"):
            self._tokens = {}
        return self._tokens

    async def claim_token(
        self, tenant_id: str, token: str, digest: bytes, now: int
    ) -> Claim | None:
        held = self._held().get((tenant_id, token))
        if held is not None and held[2] > now:
            return Claim(held[0], held[1])
        self._held()[(tenant_id, token)] = (digest, False, now + PENDING_MS)
        return None

    async def settle_token(self, tenant_id: str, token: str, until: int) -> None:
        held = self._held().get((tenant_id, token))
        if held is not None:
            self._held()[(tenant_id, token)] = (held[0], True, until)

    async def release_token(self, tenant_id: str, token: str) -> None:
        held = self._held().get((tenant_id, token))
        if held is not None and not held[1]:
            del self._held()[(tenant_id, token)]

    async def prune_tokens(self, now: int) -> int:
        lapsed = [k for k, held in self._held().items() if held[2] <= now]
        for key in lapsed:
            del self._held()[key]
        return len(lapsed)

    async def forget_tokens(self, tenant_id: str) -> None:
        for key in [k for k in self._held() if k[0] == tenant_id]:
            del self._held()[key]


def _of(tenant_id: str, token: str) -> Any:
    return sa.and_(_K.c.tenant_id == tenant_id, _K.c.token == token)


class SqlTokenStore:
    """:class:`TokenStore` over ``dynamodb_transaction_tokens`` (migration 0122), for
    ``SqlDynamoStore``."""

    _db: Database

    async def claim_token(
        self, tenant_id: str, token: str, digest: bytes, now: int
    ) -> Claim | None:
        held_query = sa.select(_K.c.digest, _K.c.settled).where(_of(tenant_id, token))

        def work(conn: Connection) -> Claim | None:
            conn.execute(sa.delete(_K).where(_of(tenant_id, token), _K.c.until <= now))
            held = conn.execute(held_query).first()
            if held is not None:
                return Claim(bytes(held[0]), bool(held[1]))
            conn.execute(
                sa.insert(_K).values(
                    tenant_id=tenant_id, token=token, digest=digest, settled=False,
                    until=now + PENDING_MS,
                )
            )  # fmt: skip
            return None

        try:
            return await self._db.write(work)
        except IntegrityError:  # a concurrent call claimed it first: its claim holds
            held = await self._db.read(lambda conn: conn.execute(held_query).first())
            return Claim(digest, False) if held is None else Claim(bytes(held[0]), bool(held[1]))

    async def settle_token(self, tenant_id: str, token: str, until: int) -> None:
        statement = sa.update(_K).where(_of(tenant_id, token)).values(settled=True, until=until)
        await self._db.write(lambda conn: conn.execute(statement))

    async def release_token(self, tenant_id: str, token: str) -> None:
        statement = sa.delete(_K).where(_of(tenant_id, token), _K.c.settled.is_(False))
        await self._db.write(lambda conn: conn.execute(statement))

    async def prune_tokens(self, now: int) -> int:
        statement = sa.delete(_K).where(_K.c.until <= now)
        return await self._db.write(lambda conn: int(conn.execute(statement).rowcount))

    async def forget_tokens(self, tenant_id: str) -> None:
        statement = sa.delete(_K).where(_K.c.tenant_id == tenant_id)
        await self._db.write(lambda conn: conn.execute(statement))
