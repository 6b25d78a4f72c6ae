"""Flow logs made before decision 0387 keep delivering (decision 0390): every Firehose stream
that a stored flow log of the stream's own account delivers into is tagged
``LogDeliveryEnabled=true``, the tag CreateFlowLogs gives a stream since 0387 and without which
the log delivery no longer puts into it. Before 0387 no stream was given it, so without this
their flow records would be refused (``Access error``) from the upgrade on.

Which streams: a flow log's document (``compute_flow_logs``) names its destination's
``stream_arn``; the stream is the flow log's account's when the ARN's account is the flow
log's, as the delivery decides it. Another account's stream is left alone: the delivery tags
it through that account's role, which it checks first (0387), and a migration has no role to
act as. A stream that is not there (deleted since, or never made) is left for the delivery to
report. A stream that has the tag already, or whose owner gave the key another value, is not
changed: that value is the owner's word. A stream at Firehose's tag quota (50) is tagged all
the same, holding one tag over it: the quota bounds what callers ask, and refusing here would
lose the flow records this migration exists to keep (the service lets such a stream change the
values it has, and untagging brings it back under).

The rows are read and written as ``firehose_streams`` stores them (0105: the tags a JSON list
of ``[key, value]`` pairs in their order, the new one last as TagDeliveryStream adds it), with
the write's ``revision`` and ``updated`` moved as a tagging moves them. Nothing is imported
from the code: a migration must not change when the code does. Run again, it finds every
stream tagged and changes nothing.

The downgrade leaves the tags: they are the customer's streams' tags, shown by
ListTagsForDeliveryStream and harmless to the release before (which ignores them); removing
them could not tell the ones added here from the ones CreateFlowLogs or the owner added.

Revision ID: 0157
Revises: 0156
Create Date: 2026-12-07
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any, Final

import sqlalchemy as sa
from alembic import op

revision: str = "0157"
down_revision: str | None = "0156"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEY: Final = "LogDeliveryEnabled"
_VALUE: Final = "true"

_FLOW_LOGS = sa.table(
    "compute_flow_logs", sa.column("tenant_id", sa.Text()), sa.column("document", sa.Text())
)
_STREAMS = sa.table(
    "firehose_streams",
    sa.column("tenant_id", sa.Text()),
    sa.column("stream_name", sa.Text()),
    sa.column("tags", sa.Text()),
    sa.column("revision", sa.Integer()),
    sa.column("updated", sa.BigInteger()),
)


def _own_stream(tenant_id: str | None, document: dict[str, Any]) -> tuple[str, str] | None:
    """The (account, name) of the flow log's stream when it is of the flow log's account."""
    destination = document.get("destination") or {}
    arn = str(destination.get("stream_arn") or "")
    account = str(document.get("tenant_id") or tenant_id or "")
    parts = arn.split(":")
    if len(parts) != 6 or not account or parts[4] != account:
        return None
    return account, arn.rsplit("/", 1)[-1]


def _streams_of_flow_logs(connection: sa.Connection) -> set[tuple[str, str]]:
    rows = connection.execute(sa.select(_FLOW_LOGS.c.tenant_id, _FLOW_LOGS.c.document))
    found = (_own_stream(tenant_id, json.loads(text)) for tenant_id, text in rows)
    return {stream for stream in found if stream is not None}


def _tag(connection: sa.Connection, account: str, name: str, now: int) -> None:
    where = (_STREAMS.c.tenant_id == account, _STREAMS.c.stream_name == name)
    row = connection.execute(sa.select(_STREAMS.c.tags, _STREAMS.c.revision).where(*where)).first()
    if row is None:
        return
    tags = [[str(k), str(v)] for k, v in json.loads(row.tags)]
    if any(k == _KEY for k, _ in tags):
        return
    connection.execute(
        _STREAMS.update()
        .where(*where, _STREAMS.c.revision == row.revision)
        .values(
            tags=json.dumps([*tags, [_KEY, _VALUE]]),
            revision=int(row.revision) + 1,
            updated=now,
        )
    )


def upgrade() -> None:
    connection = op.get_bind()
    now = int(time.time() * 1000)
    for account, name in sorted(_streams_of_flow_logs(connection)):
        _tag(connection, account, name, now)


def downgrade() -> None:
    # The tags stay (the module's docstring says why).
    pass
