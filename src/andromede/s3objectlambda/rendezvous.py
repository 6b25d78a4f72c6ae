"""Where a waiting GetObject meets its function's WriteGetObjectResponse (decision 0384).

A GetObject through an Object Lambda access point opens a :class:`Pending` under a fresh
route and token, which the function's event carries (``outputRoute``, ``outputToken``).
The one WriteGetObjectResponse that names both claims it — the token compared in constant
time, a second claim refused — and hands the GET its status and headers, then its body
chunk by chunk through a bounded :class:`BodyChannel`: nothing is buffered beyond a few
chunks, and a caller gone stops the writer rather than blocking it.

The table lives in the gateway process that took the GET; an answer another worker takes is
passed on to it (``exchange.py``, decision 0384's "Workers").
"""

from __future__ import annotations

import asyncio
import hmac
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Final

from andromede.s3objectlambda.event import ForwardedAnswer
from andromede.s3objectlambda.metrics import AnswerSource

__all__ = ["BodyChannel", "Pending", "Rendezvous"]

_DEPTH: Final = 4  # chunks in flight between the function's upload and the caller


class BodyChannel:
    """The answer's body from the writer (WriteGetObjectResponse) to the reader (the GET)."""

    def __init__(self, depth: int = _DEPTH) -> None:
        self._queue: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue(depth)
        self.reader_gone = False

    async def put(self, chunk: bytes) -> bool:
        """Pass ``chunk`` on; False once the reader is gone (the rest is not wanted)."""
        if self.reader_gone:
            return False
        await self._queue.put(chunk)
        return not self.reader_gone

    async def end(self, failure: BaseException | None = None) -> None:
        """The body's end, or its failure (the reader's response is then cut)."""
        if not self.reader_gone:
            await self._queue.put(failure)

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            while True:
                item = await self._queue.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            # Gone (done, failed or cut): a writer waiting on a full queue is let go.
            self.reader_gone = True
            while not self._queue.empty():
                self._queue.get_nowait()


@dataclass(slots=True)
class Pending:
    route: str
    token: str
    answer: asyncio.Future[ForwardedAnswer] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    body: BodyChannel = field(default_factory=BodyChannel)
    claimed: bool = False
    source: AnswerSource | None = None  # whose answers are counted (decision 0411)


class Rendezvous:
    """The GETs of this process waiting for their function's answer, by route."""

    def __init__(self, tag: str | None = None) -> None:
        # This worker's tag, which each route carries (``exchange.py`` finds the worker by
        # it): the process id, and some randomness against a reused one.
        self.tag = tag or f"{os.getpid():x}{secrets.token_hex(2)}"
        self._pending: dict[str, Pending] = {}

    def open(self, source: AnswerSource | None = None) -> Pending:
        route = f"io-{self.tag}-{secrets.token_hex(12)}"
        pending = Pending(route=route, token=secrets.token_urlsafe(48), source=source)
        self._pending[route] = pending
        return pending

    def claim(self, route: str, token: str) -> Pending | None:
        """The pending GET ``route`` names, if ``token`` is its token and no answer claimed
        it before; None otherwise (whichever it is: nothing is learnt by guessing)."""
        pending = self._pending.get(route)
        if pending is None:
            # Compare anyway, so that an unknown route takes as long as a wrong token.
            hmac.compare_digest(token.encode(), token.encode())
            return None
        if not hmac.compare_digest(pending.token.encode(), token.encode()) or pending.claimed:
            return None
        pending.claimed = True
        return pending

    def source(self, route: str) -> AnswerSource | None:
        """Whose answers to ``route`` are counted, while its GET waits (None: not counted,
        or no such GET). The route alone names it: an answer with a wrong token or a second
        one is still a call the function made for that GET, a 4xx it met."""
        pending = self._pending.get(route)
        return None if pending is None else pending.source

    def close(self, pending: Pending) -> None:
        self._pending.pop(pending.route, None)
        pending.body.reader_gone = True
        if not pending.answer.done():
            pending.answer.cancel()

    def __len__(self) -> int:
        return len(self._pending)
