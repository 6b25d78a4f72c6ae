"""Where DynamoDB's streams and their records are kept (decision 0246): the
:class:`StreamStore` half of :class:`~andromede.dynamodb.store.DynamoStore`, implemented by
both of its stores. Records are appended by the item writes themselves (``store``); this
half makes, ends, lists and reads streams and removes what is past the retention."""

from __future__ import annotations

from typing import Protocol

from andromede.dynamodb.stream_shards import ShardScan
from andromede.dynamodb.streams import Stream, StreamRecord

__all__ = ["StreamStore"]


class StreamStore(Protocol):
    async def create_stream(self, stream: Stream) -> None:
        """``stream`` kept, enabled; any other enabled stream of its table disabled then."""
        ...

    async def end_stream(self, tenant_id: str, table_name: str, at: int) -> None:
        """The table's enabled stream, if any, disabled at ``at`` (ms): its shard closed."""
        ...

    async def get_stream(self, tenant_id: str, table_name: str, label: str) -> Stream | None: ...

    async def list_streams(
        self, tenant_id: str, table_name: str | None, after: tuple[str, str] | None, limit: int
    ) -> list[Stream]:
        """The account's streams (of ``table_name`` only, if given) in (table, label) order,
        strictly after ``after``, at most ``limit``."""
        ...

    async def read_changes(
        self,
        tenant_id: str,
        table_name: str,
        label: str,
        start: int,
        limit: int,
        max_bytes: int,
    ) -> list[StreamRecord]:
        """The stream's records numbered ``start`` or more, in order, at most ``limit``, and
        no more than ``max_bytes`` of them (the first always)."""
        ...

    async def read_shard(
        self, tenant_id: str, table_name: str, label: str, start: int, scan: ShardScan
    ) -> None:
        """The stream's records numbered ``start`` or more offered to ``scan`` in order until
        it stops; ``scan.exhausted`` set when the log ran out (decision 0275)."""
        ...

    async def first_change_since(
        self, tenant_id: str, table_name: str, label: str, since: int
    ) -> int | None:
        """The number of the stream's first record made at ``since`` (ms) or later."""
        ...

    async def prune_streams(self, before: int) -> int:
        """Records made before ``before`` (ms) removed, each stream's ``trimmed_to`` moved past
        them, and the streams disabled before it removed; how many records."""
        ...
