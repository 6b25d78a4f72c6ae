"""The Lambda transformation step of Firehose's deliverer (decision 0315): once a batch's
records are opened, a stream with a ``Lambda`` processor has them transformed
(``firehose.transformation``) before they are written or sent.

The records the function answered ``Ok`` go on, their data replaced, with the partition keys
its metadata gave (for ``!{partitionKeyFromLambda:k}``); ``Dropped`` records are gone;
``ProcessingFailed`` records and the records of invocations that failed past their retries
are written under the error output prefix (``processing-failed``) of the bucket — the S3
destination's, the backup bucket of an HTTP endpoint —, one JSON line each with AWS's
fields, and each failure said in the destination's error log. A refused write of them is a
refused write of the batch: retried whole (the function invoked again), as the deliverer
retries its writes.

An HTTP endpoint batch's records buffered again for their ``AllData`` copy only (decision
0270) were transformed already: they are never sent to the function again.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol, runtime_checkable

from andromede.firehose.model import (
    COPY_PENDING,
    BufferedRecord,
    DeliveryStream,
    LambdaProcessor,
    error_object_key,
)
from andromede.firehose.transformation import (
    FAILED,
    FunctionInvoker,
    TransformedBatch,
    TransformFailed,
    failure_lines,
    transform_batch,
)

__all__ = ["NoFunctions", "ProcessingObserver", "TransformStep", "Transformed"]

log = logging.getLogger(__name__)

# Lambda's limit on a synchronous invocation's payload (6 MB), the default bound.
LAMBDA_SYNC_PAYLOAD: Final = 6 * 1024 * 1024
_FOLDER: Final = "processing-failed"
# (stream, error code, message): a failure said in the destination's error log
LogError = Callable[[DeliveryStream, str, str], None]


@runtime_checkable
class ProcessingObserver(Protocol):
    def processed(
        self,
        stream: DeliveryStream,
        invocations: Sequence[tuple[float, bool]],
        records: int,
        size: int,
    ) -> None:
        """A batch's invocations, each its duration (ms) and success
        (``ExecuteProcessing.Duration``, ``.Success``), and the records the function
        processed, Ok or Dropped (``SucceedProcessing.Records``, ``.Bytes``)."""
        ...


@dataclass(frozen=True, slots=True)
class Transformed:
    """What goes on to the destination: the records kept (the last one carrying the batch's
    last sequence number, so that delivering them takes the whole batch out of the
    buffer), their new data and keys, and the error objects already written."""

    records: list[BufferedRecord]
    opened: list[bytes]
    keys: list[Mapping[str, str]]
    written: int
    upto: int


class NoFunctions:
    """The invoker of a deployment without Lambda: every invocation refused."""

    async def invoke(
        self, stream: DeliveryStream, processor: LambdaProcessor, payload: bytes
    ) -> bytes:
        raise TransformFailed(
            "Lambda.ResourceNotFound", "Lambda is not served by this deployment.",
            retryable=False,
        )  # fmt: skip


class TransformStep:
    def __init__(
        self,
        invoker: FunctionInvoker,
        max_payload: int = LAMBDA_SYNC_PAYLOAD,
        observer: ProcessingObserver | None = None,
        log_error: LogError | None = None,
    ) -> None:
        self._invoker = invoker
        self.max_payload = max_payload
        self._observer = observer
        self._log_error = log_error

    async def run(
        self,
        stream: DeliveryStream,
        records: Sequence[BufferedRecord],
        opened: Sequence[bytes],
        write: Callable[[DeliveryStream, str, bytes, str], Awaitable[None]],
        now: int,
    ) -> Transformed | None:
        """The batch transformed (None: the stream has no processor, or the batch is an
        HTTP endpoint's copy only); ``write`` writes an object into the stream's bucket
        (``DeliveryFailed`` when refused, raised to the caller)."""
        processor = stream.transform
        if processor is None or records[0].record_id.startswith(COPY_PENDING):
            return None
        cut = next(
            (i for i, r in enumerate(records) if r.record_id.startswith(COPY_PENDING)),
            len(records),
        )
        records, opened = records[:cut], opened[:cut]
        batch = await transform_batch(
            stream, processor, records, opened, self._invoker, self.max_payload
        )
        self._observe(stream, batch, opened)
        written = 0
        if batch.failed:
            lines = failure_lines(processor, records, opened, batch.failed, now)
            first = min(records[i].arrived for i, _, _, _ in batch.failed)
            await write(stream, error_object_key(stream, first, _FOLDER), lines, "application/json")
            written = 1
            for code in sorted({code for _, code, _, _ in batch.failed}):
                message = next(m for _, c, m, _ in batch.failed if c == code)
                log.info("Firehose stream %s: transformation failed (%s)", stream.arn, code)
                if self._log_error is not None:
                    self._log_error(stream, code, message)
        kept = batch.kept()
        upto = records[-1].seq
        chosen = [records[i] for i in kept]
        if chosen:  # the last kept record stands for the batch's end
            chosen[-1] = dataclasses.replace(chosen[-1], seq=upto)
        return Transformed(
            records=chosen,
            opened=[batch.outcomes[i].data for i in kept],
            keys=[batch.outcomes[i].keys for i in kept],
            written=written,
            upto=upto,
        )

    def _observe(
        self, stream: DeliveryStream, batch: TransformedBatch, opened: Sequence[bytes]
    ) -> None:
        if self._observer is None:
            return
        succeeded = [i for i, o in batch.outcomes.items() if o.result != FAILED]
        self._observer.processed(
            stream,
            [(invocation.duration_ms, invocation.ok) for invocation in batch.invocations],
            len(succeeded),
            sum(len(opened[i]) for i in succeeded),
        )
