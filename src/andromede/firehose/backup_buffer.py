"""The source record backup's own buffer (decision 0376), pure: an Extended S3 destination
with ``S3BackupMode`` ``Enabled`` copies every record as it arrives, and the copies wait for
the backup's own ``BufferingHints`` (AWS: "back up all untransformed records … concurrently
while delivering transformed records to the destination").

A copy is a row of the one buffer table, as 0344's staged records are: its id is the
record's behind :data:`BACKUP` (no other record's id starts so), its data sealed under that
id (the sealer binds the id), added in the transaction that buffers the record, so that a
restart loses neither and the destination never waits for its copy. Copies are not counted
in the intake's totals; their interval is folded into the row's oldest arrival
(:func:`backup_wake`) so that the one claim comes due when either buffer does. They count in
``firehose_max_buffered_bytes`` (decision 0379, :func:`fitting`): a backup bucket that keeps
refusing fills the stream's bound with its copies, and puts are then refused ("Slow down."),
the database never growing past it.

An HTTP endpoint destination with ``S3BackupMode`` ``AllData`` (decision 0388) backs up what
it delivers: each batch the endpoint acknowledged leaves the buffer as copies of its records
— the data sent, after any processor, AWS's "data that Firehose delivers" —, in the
transaction that removes it (``FirehoseStore.delivered``'s ``copies``), and the copies wait
for its ``S3Configuration``'s own hints (:func:`backup_of`) as an S3 destination's do. So do
the records it gives up past its retry window, in either mode: each one's JSON error line a
copy behind :data:`FAILED_COPY`, written under the backup's error output folder.
Both are bounded by ``firehose_max_buffered_bytes`` as the copies appended are (decision
0398, :func:`kept_within`): a processor's output, or a record's error line, may be larger
than the record it replaces.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from andromede.firehose.model import DeliveryStream, NewRecord, S3Destination
from andromede.firehose.staging import intake_hints, is_staged
from andromede.firehose.store import SealedRecord

__all__ = [
    "BACKUP",
    "FAILED_COPY",
    "backup_of",
    "backup_wake",
    "fitting",
    "is_backup",
    "is_failed_copy",
    "is_intake",
    "kept_within",
    "with_copies",
]

BACKUP: Final = "backup:"
# An HTTP endpoint's record past its retry window: its JSON error line, for the backup's
# error output folder (``http-endpoint-failed/``), buffered on the backup's hints (0388).
FAILED_COPY: Final = BACKUP + "failed:"


def is_backup(record_id: str) -> bool:
    return record_id.startswith(BACKUP)


def is_failed_copy(record_id: str) -> bool:
    return record_id.startswith(FAILED_COPY)


def is_intake(record_id: str) -> bool:
    """Neither a Lambda processor's staged record nor a backup's copy."""
    return not is_staged(record_id) and not is_backup(record_id)


def backup_of(stream: DeliveryStream) -> S3Destination | None:
    """Where the stream's copies go, on whose hints: an Extended S3 destination's source
    record backup (0376), an HTTP endpoint's ``S3Configuration`` (0388: copies are made
    only in ``AllData``, but those made before a change of mode still go there)."""
    return stream.destination.backup if stream.http is None else stream.destination


def with_copies(stream: DeliveryStream, fresh: Sequence[NewRecord]) -> list[NewRecord]:
    """The records to buffer: each followed by its copy when the stream backs its source
    records up (the store takes a record and its copy together or neither)."""
    if stream.destination.backup is None or stream.http is not None:
        return list(fresh)
    out: list[NewRecord] = []
    for record in fresh:
        out += [record, NewRecord(BACKUP + record.record_id, record.data)]
    return out


def backup_wake(stream: DeliveryStream, oldest: int, size: int) -> int:
    """The copies' part of the row's oldest arrival, so that the claim (at the intake's
    interval) comes due when the backup's interval is reached, or at once at its size."""
    _, interval = intake_hints(stream)
    backup = backup_of(stream)
    if backup is None or size >= backup.size_bytes:  # none kept: go out at once
        return oldest - interval
    return oldest + backup.interval_seconds * 1000 - interval


def fitting(records: Sequence[SealedRecord], held: int, max_bytes: int) -> int:
    """How many of ``records`` (each maybe followed by its copy) an append takes with
    ``held`` bytes buffered — the intake's and the copies' —, within ``max_bytes``: a record
    and its copy together or neither, both counted (decision 0379)."""
    taken = 0
    while taken < len(records):
        paired = taken + 1 < len(records) and is_backup(records[taken + 1].record_id)
        pair = records[taken : taken + 2 if paired else taken + 1]
        size = sum(record.size for record in pair)
        if held + size > max_bytes:
            break
        held += size
        taken += len(pair)
    return taken


def kept_within(copies: Sequence[SealedRecord], held: int, max_bytes: int) -> int:
    """How many of ``copies``, in order, a batch's place takes with ``held`` bytes buffered
    once the batch is gone — the intake's and the copies' —, within ``max_bytes``
    (decision 0398: an HTTP endpoint's copies, which may outgrow the batch they replace)."""
    kept = 0
    for copy in copies:
        if held + copy.size > max_bytes:
            break
        held += copy.size
        kept += 1
    return kept
