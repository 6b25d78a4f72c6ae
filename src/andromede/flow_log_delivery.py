"""The delivery of VPC flow log records into the tenants' buckets (decision 0153), where the
compute and storage contexts meet.

The hosts report their captured interfaces' flow records once an interval
(:mod:`andromede.hypervisor.flow_capture`). :class:`FlowLogDelivery` gives each flow log the
records of the interfaces it covers and of its traffic type, renders EC2's file
(:mod:`andromede.compute.flow_log_files`: gzip text, or Parquet for ``FileFormat=parquet``,
:mod:`andromede.compute.flow_log_parquet`) and writes it, as server access logs are written
(decision 0084): by the platform itself, not through the S3 API, as the bucket's owner,
sealed under the tenant's keys (SSE-S3) like any object. No bucket policy for a logging
service is asked: the platform writes only into a bucket of the flow log's own account, which
is the bucket policy AWS asks its customers to give ``delivery.logs.amazonaws.com``. A bucket
that does not exist, or is another account's, is never written to: the flow log's
``DeliverLogsStatus`` says ``FAILED`` with EC2's ``Access error``, until a delivery succeeds.

A flow log to a CloudWatch Logs group (decision 0153's session-48 addendum) has its records
handed, as events per interface's stream (``flow_log_files.log_events``), to ``groups``: the
:class:`LogGroupDelivery` port, which the wiring fills with ``flow_log_groups.FlowLogGroups``
(the Logs service, written into as the flow log's role); what it answers is the flow log's
``DeliverLogsStatus``.

A flow log to a Firehose stream (decision 0348) has its records handed, one Firehose record a
flow record (``flow_log_files.firehose_records``), to ``streams``: the :class:`StreamDelivery`
port, which the wiring fills with ``flow_log_streams.FlowLogStreams`` (Firehose's own put
path); what it answers is the flow log's ``DeliverLogsStatus``.

Best effort, as EC2's and as access logs': a delivery that fails is not retried; an interval
with nothing to say writes nothing.

The same pass gathers the hosts' network meters (decision 0176: bytes to the internet, bytes
through NAT gateways), which it hands, per tenant and kind, to ``meter`` (billing's counter,
given by the wiring: this module does not know billing), and each NAT gateway's bytes both
ways to ``gateway_metrics`` (decision 0181: its ``AWS/NATGateway`` metrics, written by the
platform's metrics sink, alongside the bill).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Protocol

from andromede.compute.flow_log import FlowLog
from andromede.compute.flow_log_files import (
    FlowRecord,
    InterfaceContext,
    firehose_records,
    log_body,
    log_events,
    log_key,
    log_rows,
)
from andromede.compute.flow_logs import CapturedInterface
from andromede.compute.service import ComputeService
from andromede.compute.traffic import GatewayBytes
from andromede.errors import AndromedeError
from andromede.storage.errors import NoSuchBucket
from andromede.storage.service import ObjectService

__all__ = ["ACCESS_ERROR", "FlowLogDelivery", "LogGroupDelivery", "StreamDelivery"]

# EC2's deliverLogsErrorMessage for a destination the service may not write to.
ACCESS_ERROR = "Access error"

_CONTENT_TYPES = {"plain-text": "application/x-gzip", "parquet": "application/octet-stream"}

_log = logging.getLogger(__name__)


class LogGroupDelivery(Protocol):
    """Where the flow logs to CloudWatch Logs deliver (``flow_log_groups.FlowLogGroups``)."""

    async def deliver(
        self, flow_log: FlowLog, streams: Mapping[str, Sequence[tuple[int, str]]]
    ) -> str | None:
        """Each stream's (timestamp in ms, message) events into the flow log's group; None,
        or EC2's ``deliverLogsErrorMessage`` (``Access error``…) when it could not."""
        ...


class StreamDelivery(Protocol):
    """Where the flow logs to Firehose deliver (``flow_log_streams.FlowLogStreams``)."""

    async def deliver(self, flow_log: FlowLog, records: Sequence[bytes]) -> str | None:
        """The records into the flow log's stream; None, or EC2's ``deliverLogsErrorMessage``
        (``Access error``…) when it could not."""
        ...


def _body(flow_log: FlowLog, rows: list[list[str]]) -> bytes:
    if flow_log.file_format == "parquet":
        # Imported here, not at the server's start: importing pyarrow starts a thread.
        from andromede.compute.flow_log_parquet import parquet_body

        return parquet_body(flow_log.log_format, rows)
    lines = [" ".join(flow_log.log_format), *(" ".join(row) for row in rows)]
    return log_body(lines)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class FlowLogDelivery:
    def __init__(
        self,
        compute: ComputeService,
        objects: ObjectService,
        region: str,
        clock: Callable[[], datetime] = _utcnow,
        meter: Callable[[Mapping[tuple[str, str], int]], None] | None = None,
        gateway_metrics: Callable[[Mapping[tuple[str, str], GatewayBytes]], None] | None = None,
        groups: LogGroupDelivery | None = None,
        streams: StreamDelivery | None = None,
    ) -> None:
        self._compute = compute
        self._objects = objects
        self._region = region
        self._clock = clock
        self._meter = meter
        self._gateway_metrics = gateway_metrics
        self._groups = groups
        self._streams = streams

    async def deliver(
        self,
        captured: Sequence[CapturedInterface],
        records: Sequence[FlowRecord],
        skipped: Mapping[str, tuple[int, int]],
        when: datetime,
    ) -> list[str]:
        """One object per flow log to S3 with something to say for this interval (the keys
        written), its events for one to CloudWatch Logs, its records for one to Firehose."""
        by_id = {f.flow_log_id: f for f in await self._compute.active_flow_logs()}
        covered: dict[str, dict[str, InterfaceContext]] = {}
        for interface in captured:
            for flow_log_id in interface.flow_log_ids:
                covered.setdefault(flow_log_id, {})[interface.interface_id] = interface.context
        written: list[str] = []
        for flow_log_id, contexts in sorted(covered.items()):
            flow_log = by_id.get(flow_log_id)
            if flow_log is None:
                continue  # deleted since the hosts were told
            if flow_log.destination.log_group:
                streams = log_events(flow_log, self._region, records, skipped, contexts)
                if streams:
                    await self._to_group(flow_log, streams)
                continue
            if flow_log.destination.stream_arn:
                lines = firehose_records(flow_log, self._region, records, skipped, contexts)
                if lines:
                    await self._to_stream(flow_log, lines)
                continue
            rows = log_rows(flow_log, self._region, records, skipped, contexts)
            if not rows:
                continue  # nothing happened on its interfaces
            key = await self._write(flow_log, _body(flow_log, rows), when)
            if key is not None:
                written.append(key)
        return written

    async def deliver_once(self) -> list[str]:
        """One pass: the hosts' counts since the previous pass, delivered, and their meters
        counted."""
        collected = await self._compute.collect_flows()
        if self._meter is not None and collected.traffic:
            try:
                self._meter(await self._compute.metered_traffic(collected.traffic))
            except AndromedeError:
                # The hosts reported them once: lost, never billed twice; the flow records
                # are delivered all the same.
                _log.warning("the network meters of a pass were lost", exc_info=True)
        if self._gateway_metrics is not None and collected.traffic:
            try:
                self._gateway_metrics(await self._compute.gateway_traffic(collected.traffic))
            except AndromedeError:
                _log.warning("the NAT gateways' metrics of a pass were lost", exc_info=True)
        return await self.deliver(
            collected.captured, collected.records, collected.skipped, self._clock()
        )

    async def run_forever(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.deliver_once()
            except AndromedeError:
                _log.warning("flow log pass failed; the next one retries", exc_info=True)

    async def _to_group(
        self, flow_log: FlowLog, streams: Mapping[str, Sequence[tuple[int, str]]]
    ) -> None:
        if self._groups is None:  # a deployment without CloudWatch Logs
            await self._compute.record_delivery(flow_log, "Unknown error")
            return
        try:
            error = await self._groups.deliver(flow_log, streams)
        except AndromedeError:
            _log.warning("flow log delivery for %s failed", flow_log.flow_log_id, exc_info=True)
            error = "Unknown error"
        await self._compute.record_delivery(flow_log, error)

    async def _to_stream(self, flow_log: FlowLog, records: Sequence[bytes]) -> None:
        if self._streams is None:  # a deployment without Firehose
            await self._compute.record_delivery(flow_log, "Unknown error")
            return
        try:
            error = await self._streams.deliver(flow_log, records)
        except AndromedeError:
            _log.warning("flow log delivery for %s failed", flow_log.flow_log_id, exc_info=True)
            error = "Unknown error"
        await self._compute.record_delivery(flow_log, error)

    async def _write(self, flow_log: FlowLog, body: bytes, when: datetime) -> str | None:
        key = log_key(flow_log, self._region, when, body)
        try:
            bucket = await self._objects.get_bucket(flow_log.destination.bucket)
        except NoSuchBucket:
            await self._compute.record_delivery(flow_log, ACCESS_ERROR)
            return None
        if bucket.tenant_id != flow_log.tenant_id:
            # Never one account's traffic into another's bucket.
            await self._compute.record_delivery(flow_log, ACCESS_ERROR)
            return None
        content_type = _CONTENT_TYPES[flow_log.file_format]
        try:
            await self._objects.put_delivered_object(bucket, key, body, content_type)
        except AndromedeError:
            _log.warning("flow log delivery for %s failed", flow_log.flow_log_id, exc_info=True)
            await self._compute.record_delivery(flow_log, "Unknown error")
            return None
        await self._compute.record_delivery(flow_log, None)
        return key
