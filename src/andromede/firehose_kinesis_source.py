"""Where Firehose meets Kinesis Data Streams (decision 0235): the ``firehose.model.SourceStreams``
a ``KinesisStreamAsSource`` stream's reader reads through, over ``KinesisService``'s own
iterators and reads (the stream's ``GetRecords`` metrics count them, as AWS's do).

As on AWS, Firehose reads as the source's role, never as itself: the role must be of the
stream's account and trust ``firehose.amazonaws.com``, and its identity policies — by the same
engine as every request — must allow ``kinesis:GetShardIterator``, ``kinesis:GetRecords`` and
``kinesis:DescribeStream`` or ``kinesis:ListShards`` on the source stream (the actions AWS's
documented role policy names). A refusal, or a source stream gone, is ``SourceUnavailable``:
the reader retries at its next pass, the delivery stream keeping its state. A source stream
under a KMS key is read as the platform's own use (the key need only be usable)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

from andromede.firehose.errors import InvalidArgument, SourceUnavailable
from andromede.firehose.model import DeliveryStream, SourcePage, SourceRecord, SourceShard
from andromede.firehose_delivery import FIREHOSE_PRINCIPAL, trust_source
from andromede.iam.model import Principal
from andromede.iam.service import IdentityService
from andromede.iam.service_roles import ServiceRoleSessions
from andromede.kinesis.errors import KinesisError
from andromede.kinesis.model import sequence_text, shard_id
from andromede.kinesis.service import KinesisService

__all__ = ["RoleKinesisSource", "source_stream_name"]

_SESSION: Final = "AWSFirehoseKinesisSource"
# Each group: one of its actions allowed.
_READ_ACTIONS: Final = (
    ("kinesis:GetShardIterator",),
    ("kinesis:GetRecords",),
    ("kinesis:DescribeStream", "kinesis:ListShards"),
)


def source_stream_name(stream_arn: str, tenant_id: str, region: str) -> str | None:
    """The name of a Kinesis stream ARN of ``tenant_id`` in ``region`` (None otherwise)."""
    parts = stream_arn.split(":", 5)
    if (
        len(parts) != 6
        or parts[:3] != ["arn", "aws", "kinesis"]
        or parts[3] != region
        or parts[4] != tenant_id
        or not parts[5].startswith("stream/")
        or parts[5] == "stream/"
    ):
        return None
    return parts[5].removeprefix("stream/")


class RoleKinesisSource:
    """``firehose.model.SourceStreams`` over the Kinesis ``kinesis()`` gives (None: Kinesis is
    not served, or not yet made by ``serve``)."""

    def __init__(
        self,
        identity: IdentityService,
        kinesis: Callable[[], KinesisService | None],
        region: str,
    ) -> None:
        self._roles = ServiceRoleSessions(identity, FIREHOSE_PRINCIPAL, region)
        self._kinesis = kinesis
        self._region = region

    async def _may_read(self, session: Principal, stream_arn: str) -> bool:
        for group in _READ_ACTIONS:
            if not await self._roles.allowed_any(session, group, stream_arn):
                return False
        return True

    def _service(self) -> KinesisService:
        kinesis = self._kinesis()
        if kinesis is None:
            raise SourceUnavailable("Kinesis Data Streams are not served by this deployment")
        return kinesis

    def _name(self, stream: DeliveryStream) -> str:
        assert stream.source is not None  # noqa: S101 - only source streams are read
        name = source_stream_name(stream.source.stream_arn, stream.tenant_id, self._region)
        if name is None:
            raise SourceUnavailable("the source is no Kinesis stream of the account")
        return name

    async def check(self, stream: DeliveryStream) -> None:
        assert stream.source is not None  # noqa: S101 - only source streams are checked
        source = stream.source
        if source_stream_name(source.stream_arn, stream.tenant_id, self._region) is None:
            raise InvalidArgument(
                f"KinesisStreamARN {source.stream_arn[:256]} is not a Kinesis data stream of "
                "the account and Region of the delivery stream."
            )
        if (
            await self._roles.session(
                stream.tenant_id, source.role_arn, _SESSION, trust_source(stream)
            )
            is None
        ):
            raise InvalidArgument(
                f"Firehose is unable to assume role {source.role_arn[:512]}. Please check the "
                "role provided."
            )
        kinesis = self._kinesis()
        if kinesis is None:
            raise InvalidArgument("Kinesis Data Streams are not served by this deployment.")
        try:
            await kinesis.get(stream.tenant_id, self._name(stream))
        except KinesisError as exc:
            raise InvalidArgument(str(exc)) from None

    async def _authorised(self, stream: DeliveryStream) -> tuple[KinesisService, str]:
        assert stream.source is not None  # noqa: S101 - only source streams are read
        kinesis = self._service()
        name = self._name(stream)
        session = await self._roles.session(
            stream.tenant_id, stream.source.role_arn, _SESSION, trust_source(stream)
        )
        if session is None:
            raise SourceUnavailable(f"Firehose cannot assume {stream.source.role_arn[:256]}")
        if not await self._may_read(session, stream.source.stream_arn):
            raise SourceUnavailable("the role may not read the source stream")
        return kinesis, name

    async def shards(self, stream: DeliveryStream) -> list[SourceShard]:
        kinesis, name = await self._authorised(stream)
        try:
            found = await kinesis.get(stream.tenant_id, name)
        except KinesisError as exc:
            raise SourceUnavailable(f"{type(exc).__name__}: {str(exc)[:256]}") from None
        return [
            SourceShard(
                shard.id,
                tuple(shard_id(p) for p in (shard.parent, shard.adjacent_parent) if p is not None),
                found.created,
            )
            for shard in sorted(found.shards, key=lambda s: s.index)
        ]

    async def read(
        self, stream: DeliveryStream, shard: str, after: str | None, limit: int
    ) -> SourcePage:
        assert stream.source is not None  # noqa: S101 - only source streams are read
        kinesis, name = await self._authorised(stream)
        try:
            if after is None:
                token = await kinesis.iterator(
                    stream.tenant_id, name, shard, "AT_TIMESTAMP",
                    timestamp=stream.source.delivery_start,
                )  # fmt: skip
            else:
                token = await kinesis.iterator(
                    stream.tenant_id, name, shard, "AFTER_SEQUENCE_NUMBER", sequence=after
                )
            read = await kinesis.records(stream.tenant_id, token, limit)
        except KinesisError as exc:
            raise SourceUnavailable(f"{type(exc).__name__}: {str(exc)[:256]}") from None
        records: Sequence[SourceRecord] = [
            SourceRecord(sequence_text(r.sequence), r.data, r.partition_key, r.arrived)
            for r in read.records
        ]
        return SourcePage(list(records), ended=read.next_iterator is None)
