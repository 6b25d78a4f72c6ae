"""The Lambda processor's own buffer (decision 0344), pure: a stream with a Lambda processor
buffers in two stages, as AWS's "Transform source data in Amazon Data Firehose" describes.

- **Intake.** Records put (or read from a Kinesis source) wait for the processor's hints,
  ``BufferSizeInMBs`` / ``BufferIntervalInSeconds`` (1 MB / 60 s unless given), whichever
  comes first; then the function is invoked on them.
- **Staged.** The records it answered ``Ok`` wait, transformed, for the destination's hints
  (the bucket's ``BufferingHints``, the HTTP endpoint's), and are delivered then.

Both stages are rows of the one buffer table, sealed alike: a staged record's id is its
original id behind :data:`STAGED` (no intake record's id starts so: ids are generated or
``kinesis:…``, ``allDataCopy:…``), and its sealed data is framed with the partition keys the
function gave (:func:`frame`), so that nothing needs a column and a restart loses neither
stage. A stream's row carries its intake's totals and, as the claim's hints, the
processor's; the staged records' interval is folded into the row's oldest arrival
(:func:`staged_wake`), so that the one claim (``oldest_arrival + interval_ms <= now``)
comes due when either stage does. The staged records' size is looked at by the deliverer
itself, in the pass that staged them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Final

from andromede.firehose.model import MIB, DeliveryStream

__all__ = [
    "STAGED",
    "frame",
    "intake_hints",
    "is_staged",
    "staged_wake",
    "unframe",
]

STAGED: Final = "transformed:"
_KEYS_LENGTH: Final = 4  # the frame's keys' length, big-endian


def is_staged(record_id: str) -> bool:
    return record_id.startswith(STAGED)


def intake_hints(stream: DeliveryStream) -> tuple[int, int]:
    """The size (bytes) and interval (ms) the stream's buffer is claimed at: its Lambda
    processor's, else its destination's."""
    processor = stream.transform
    if processor is None:
        return stream.size_bytes, stream.interval_seconds * 1000
    return int(processor.buffer_size_mb * MIB), processor.buffer_interval_seconds * 1000


def staged_wake(stream: DeliveryStream, oldest: int, size: int) -> int:
    """The staged records' part of the row's oldest arrival, so that the claim (at the
    intake's interval) comes due when the destination's interval is reached — or at once,
    when they reach the destination's size (a staged batch refused for a while is claimed
    again at its retry, not at its interval). Without a processor (taken away while records
    were staged) the intake's hints are the destination's: they go out at its interval."""
    _, interval = intake_hints(stream)
    if size >= stream.size_bytes:
        return oldest - interval
    return oldest + stream.interval_seconds * 1000 - interval


def frame(keys: Mapping[str, str], data: bytes) -> bytes:
    """A staged record's plaintext: the function's partition keys, then its data."""
    encoded = json.dumps(dict(keys), separators=(",", ":"), sort_keys=True).encode()
    return len(encoded).to_bytes(_KEYS_LENGTH, "big") + encoded + data


def unframe(framed: bytes) -> tuple[dict[str, str], bytes]:
    """The partition keys and the data of a staged record's plaintext."""
    length = int.from_bytes(framed[:_KEYS_LENGTH], "big")
    keys = json.loads(framed[_KEYS_LENGTH : _KEYS_LENGTH + length])
    return {str(k): str(v) for k, v in keys.items()}, framed[_KEYS_LENGTH + length :]
