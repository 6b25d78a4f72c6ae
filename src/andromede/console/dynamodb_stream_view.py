"""A DynamoDB table's stream as its console page shows it (decision 0252): the stream's shards
(DescribeStream), its latest records read from a shard (GetShardIterator at the trim horizon
or the latest point, then GetRecords of at most ``console_page_size`` records, read on with the
next iterator, which travels in a form's hidden field), and each record as the page's rows
(event name, sequence number, keys and images as DynamoDB JSON, escaped by the template).
The calls are the Streams API's as the signed-in principal (``wire_dynamodb_streams``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from andromede.console.handlers import Form, FormFault
from andromede.console.wire import WireError
from andromede.console.wire_dynamodb import DynamoWire, TableSummary, item_text
from andromede.console.wire_dynamodb_streams import ChangesRead, StreamShard
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = [
    "STREAM_POSITIONS",
    "STREAM_VIEWS",
    "ChangeRow",
    "change_rows",
    "read_changes",
    "shards_of",
]

Words = Callable[[str], str]

# StreamViewType's values, as UpdateTable takes them: the form's choices.
STREAM_VIEWS: Final = ("NEW_AND_OLD_IMAGES", "NEW_IMAGE", "OLD_IMAGE", "KEYS_ONLY")
# Where a read starts (GetShardIterator's types the page offers).
STREAM_POSITIONS: Final = ("TRIM_HORIZON", "LATEST")


@dataclass(frozen=True, slots=True)
class ChangeRow:
    """A change record as the page shows it ("" : an image the view type does not show)."""

    event_name: str
    sequence_number: str
    keys: str
    new_image: str
    old_image: str
    by_service: bool


async def shards_of(
    wire: DynamoWire, origin: Scope, principal: Principal, table: TableSummary
) -> tuple[list[StreamShard], WireError | None]:
    """The table's latest stream's shards, or the refusal of DescribeStream (a user may
    describe a table and not its stream); none when the table never had a stream."""
    if not table.stream_arn:
        return [], None
    try:
        return await wire.streams().shards(origin, principal, table.stream_arn), None
    except WireError as exc:
        return [], exc


async def read_changes(
    wire: DynamoWire, origin: Scope, principal: Principal, table: TableSummary, fields: Form,
    *, limit: int, _: Words,
) -> ChangesRead:  # fmt: skip
    """One GetRecords from the form's iterator (a "Read on"), else from a new iterator on the
    form's shard (the newest when none is chosen) at its position."""
    streams = wire.streams()
    iterator = fields.get("iterator", "")
    if not iterator:
        if not table.stream_arn:
            raise FormFault(_("This table has no stream."))
        if fields.get("position", "") not in STREAM_POSITIONS:
            raise FormFault(_("Choose where the read starts."))
        shard = fields.get("shard", "")
        if not shard:  # none chosen: the stream's newest shard, where its latest records are
            shards = await streams.shards(origin, principal, table.stream_arn)
            shard = shards[-1].shard_id if shards else ""
        iterator = await streams.iterator(
            origin, principal, table.stream_arn, shard, fields["position"]
        )
    return await streams.records(origin, principal, iterator, limit)


def change_rows(read: ChangesRead | None) -> list[ChangeRow]:
    if read is None:
        return []
    return [
        ChangeRow(
            event_name=r.event_name,
            sequence_number=r.sequence_number,
            keys=item_text(r.keys),
            new_image=item_text(r.new_image) if r.new_image is not None else "",
            old_image=item_text(r.old_image) if r.old_image is not None else "",
            by_service=r.by_service,
        )
        for r in read.records
    ]
