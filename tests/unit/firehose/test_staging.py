"""Decision 0344's pure parts: a staged record's frame (the function's partition keys before
its data), the hints a stream's buffer is claimed at, and the staged records' wake."""

from __future__ import annotations

import dataclasses

from andromede.firehose.model import (
    MIB,
    DeliveryStream,
    LambdaProcessor,
    Partitioning,
    S3Destination,
    StreamStatus,
)
from andromede.firehose.staging import (
    STAGED,
    frame,
    intake_hints,
    is_staged,
    staged_wake,
    unframe,
)

PLAIN = DeliveryStream(
    tenant_id="000000000001",
    name="orders",
    region="eu-fr-1",
    status=StreamStatus.ACTIVE,
    version=1,
    created=0,
    updated=0,
    destination=S3Destination(
        role_arn="arn:aws:iam::000000000001:role/r",
        bucket_arn="arn:aws:s3:::landing",
        size_mb=5,
        interval_seconds=300,
    ),
)
PROCESSOR = LambdaProcessor(
    "arn:aws:lambda:eu-fr-1:000000000001:function:f",
    buffer_size_mb=0.2,
    buffer_interval_seconds=60,
)
TRANSFORMED = dataclasses.replace(
    PLAIN,
    destination=dataclasses.replace(
        PLAIN.destination,
        partitioning=Partitioning(processing=True, processors=("Lambda",), transform=PROCESSOR),
    ),
)


def test_a_frame_keeps_the_keys_and_the_data_whatever_they_hold() -> None:
    for keys, data in (
        ({}, b""),
        ({"kind": "a"}, b"{}\n"),
        ({"clé": "é:\n", "n": "3"}, bytes(range(256))),
    ):
        assert unframe(frame(keys, data)) == (keys, data)


def test_the_claims_hints_and_the_staged_records_wake() -> None:
    assert intake_hints(PLAIN) == (5 * MIB, 300_000)
    assert intake_hints(TRANSFORMED) == (int(0.2 * MIB), 60_000)
    # Staged at 1,000: due at the destination's 300 s through the processor's 60 s claim.
    assert staged_wake(TRANSFORMED, 1_000, 10) + 60_000 == 1_000 + 300_000
    # As large as the destination's size: due at once.
    assert staged_wake(TRANSFORMED, 1_000, 5 * MIB) + 60_000 == 1_000
    # The processor gone: at the destination's own interval.
    assert staged_wake(PLAIN, 1_000, 10) + 300_000 == 1_000 + 300_000
    assert is_staged(STAGED + "id") and not is_staged("allDataCopy:" + STAGED)
