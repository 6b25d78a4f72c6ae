"""Decision 0223's pure rules: the object keys AWS lays out (time folders, the stream's name and
version, the oldest record's second, a uuid, ``.gz`` or the FileExtension), custom prefixes'
expressions (evaluated, no time folders then; unknown ones refused; an error prefix required
with them) and the error output's keys."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from andromede.firehose.errors import InvalidArgument
from andromede.firehose.model import (
    DeliveryStream,
    S3Destination,
    StreamStatus,
    check_prefixes,
    error_object_key,
    object_key,
)

WHEN = int(datetime(2026, 12, 6, 9, 5, 7, tzinfo=UTC).timestamp() * 1000)
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def stream(**destination: object) -> DeliveryStream:
    return DeliveryStream(
        tenant_id="000000000001",
        name="clicks",
        region="eu-fr-1",
        status=StreamStatus.ACTIVE,
        version=3,
        created=0,
        updated=0,
        destination=S3Destination(
            "arn:aws:iam::000000000001:role/r",
            "arn:aws:s3:::b",
            **destination,  # type: ignore[arg-type]
        ),
    )


def test_the_default_key_layout() -> None:
    key = object_key(stream(prefix="raw/"), WHEN)
    assert re.fullmatch(rf"raw/2026/12/06/09/clicks-3-2026-12-06-09-05-07-{UUID}", key), key
    assert object_key(stream(), WHEN).startswith("2026/12/06/09/clicks-3-")
    assert object_key(stream(compression="GZIP"), WHEN).endswith(".gz")
    extended = object_key(stream(compression="GZIP", file_extension=".json.gz"), WHEN)
    assert re.fullmatch(rf"2026/12/06/09/clicks-3-2026-12-06-09-05-07-{UUID}\.json\.gz", extended)
    assert stream(prefix="p/").arn == (
        "arn:aws:firehose:eu-fr-1:000000000001:deliverystream/clicks"
    )


def test_custom_prefixes() -> None:
    key = object_key(
        stream(prefix="y=!{timestamp:yyyy}/m=!{timestamp:MM}/!{firehose:random-string}/"), WHEN
    )
    assert re.fullmatch(rf"y=2026/m=12/[0-9a-f]{{11}}/clicks-3-2026-12-06-09-05-07-{UUID}", key)
    error = error_object_key(
        stream(error_output_prefix="err/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/"),
        WHEN,
    )
    assert error.startswith("err/processing-failed/2026/12/06/clicks-3-")
    plain = error_object_key(stream(error_output_prefix="failed/"), WHEN)
    assert plain.startswith("failed/processing-failed/2026/12/06/09/clicks-3-")
    assert error_object_key(stream(), WHEN).startswith("processing-failed/2026/12/06/09/")


@pytest.mark.parametrize(
    ("prefix", "error_prefix"),
    [
        ("!{timestamp:yyyy}/", ""),  # expressions need an error prefix
        ("!{firehose:error-output-type}/", "e/"),  # only in the error prefix
        ("!{partitionKeyFromQuery:x}/", "e/"),  # dynamic partitioning: not offered
        ("!{timestamp:yyyy-QQ}/", "e/"),  # a letter not offered
        ("!{timestamp:}/", "e/"),
    ],
)
def test_prefixes_refused(prefix: str, error_prefix: str) -> None:
    with pytest.raises(InvalidArgument):
        check_prefixes(prefix, error_prefix)


def test_prefixes_accepted() -> None:
    check_prefixes("raw/", "")
    check_prefixes("d=!{timestamp:yyyy-MM-dd}/", "e/!{firehose:error-output-type}/")
