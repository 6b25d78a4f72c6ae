"""A write transaction's ``ClientRequestToken`` (decision 0259), for TransactWriteItems and
ExecuteTransaction: a token remembered with the same request answers success without the
transaction running again; with another request ``IdempotentParameterMismatchException``;
while its first call still runs, ``TransactionInProgressException``. Only a transaction that
succeeded is remembered: a cancelled one is decided again when retried, as AWS's."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from andromede.dynamodb.idempotency import TOKEN_WINDOW_MS, canonical_request, same_digest
from andromede.dynamodb.model import Table
from andromede.dynamodbapi.errors import DynamoWireError
from andromede.dynamodbapi.params import DynamoCall

__all__ = ["once"]

_MISMATCH = "The request uses the same client token as a previous, but non-identical request."
_IN_PROGRESS = "The transaction with the given request token is already in progress."


def _now() -> int:
    return int(time.time() * 1000)


async def once(
    call: DynamoCall, token: str | None, table: Table, run: Callable[[], Awaitable[None]]
) -> None:
    """``run`` the transaction unless ``token`` was remembered for this same request; the
    request's digest is a MAC under ``table``'s key (its first table's)."""
    if token is None:
        await run()
        return
    store = call.dynamodb.store
    digest = await call.dynamodb.request_digest(table, canonical_request(call.params))
    held = await store.claim_token(call.tenant_id, token, digest, _now())
    if held is not None:
        if not same_digest(held.digest, digest):
            raise DynamoWireError("IdempotentParameterMismatchException", _MISMATCH)
        if not held.settled:
            raise DynamoWireError("TransactionInProgressException", _IN_PROGRESS)
        return
    try:
        await run()
    except Exception:
        await store.release_token(call.tenant_id, token)  # a failed one is decided again
        raise
    await store.settle_token(call.tenant_id, token, _now() + TOKEN_WINDOW_MS)
