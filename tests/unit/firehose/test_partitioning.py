"""Decision 0270's dynamic partitioning, pure: the JQ query's keys, de-aggregation, the
delimiter, the grouping and its active partitions limit, and AWS's checks of a partitioned
destination's prefixes and buffer."""

from __future__ import annotations

import dataclasses
import json

import pytest

from andromede.firehose.errors import InvalidArgument
from andromede.firehose.jq_runner import QueryPolicy, SubprocessQueryRunner
from andromede.firehose.model import (
    DeliveryStream,
    Partitioning,
    S3Destination,
    StreamStatus,
    error_object_key,
    object_key,
)
from andromede.firehose.partitioning import (
    EXTRACTION_FAILED,
    LIMIT_EXCEEDED,
    PartitionedBatch,
    check_destination,
    partition_batch,
    query_keys,
)

QUERY = '{customer: .customer_id, year: .ts | strftime("%Y")}'
PARTITIONED = Partitioning(
    enabled=True,
    processing=True,
    query="{customer: .customer_id}",
    processors=("MetadataExtraction",),
)


RUNNER = SubprocessQueryRunner()


async def grouped(
    arrivals: list[int], opened: list[bytes], partitioning: Partitioning, max_partitions: int
) -> PartitionedBatch:
    return await partition_batch(arrivals, opened, partitioning, max_partitions, RUNNER)


def destination(**changes: object) -> S3Destination:
    base = S3Destination(
        role_arn="arn:aws:iam::000000000001:role/r",
        bucket_arn="arn:aws:s3:::b",
        prefix="customer=!{partitionKeyFromQuery:customer}/",
        error_output_prefix="errors/!{firehose:error-output-type}/",
        size_mb=64,
        interval_seconds=60,
        partitioning=PARTITIONED,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_the_query_names_the_keys() -> None:
    assert query_keys("{customer: .customer_id, region: .geo.region}") == {"customer", "region"}
    # A filter that refuses null input: the keys are read from the construction.
    assert query_keys(QUERY) == {"customer", "year"}
    assert query_keys('{"customer": .a, nested: {inner: .b}, t: (.x | {no: 1})}') == {
        "customer", "nested", "t",
    }  # fmt: skip
    with pytest.raises(InvalidArgument, match="not a valid JQ query"):
        query_keys("{customer: .customer_id")
    with pytest.raises(InvalidArgument, match="must build a JSON object"):
        query_keys(".customer_id")
    # What a tenant's query may not name: the gateway's environment and files, more input,
    # unbounded generators, definitions.
    for query in ("{k: env.HOME}", "{k: $ENV.PATH}", 'import "x" as $x; {k: $x}',
                  "{k: input}", "{k: [range(1e9)] | length}", "def f: f; {k: f}",
                  "{k: [repeat(1)] | length}"):  # fmt: skip
        with pytest.raises(InvalidArgument, match="not allowed in a partitioning query"):
            query_keys(query)
    assert query_keys('{k: "env range input"}') == {"k"}  # words in strings are text


async def test_records_are_grouped_by_their_keys() -> None:
    batch = await grouped(
        [1, 2, 3, 4],
        [b'{"customer_id": "a"}', b'{"customer_id": 7}', b'{"customer_id": "a"}', b"not json"],
        PARTITIONED,
        max_partitions=10,
    )
    assert {keys: [p.index for p in pieces] for keys, pieces in batch.partitions.items()} == {
        (("customer", "a"),): [0, 2],
        (("customer", "7"),): [1],
    }
    ((failed, code, message),) = batch.failed
    assert (failed.index, failed.data, code) == (3, b"not json", EXTRACTION_FAILED)
    assert "Metadata extraction failed" in message


async def test_a_missing_key_or_an_object_value_fails_the_record() -> None:
    batch = await grouped(
        [1, 2], [b'{"other": 1}', b'{"customer_id": {"x": 1}}'], PARTITIONED, max_partitions=10
    )
    assert batch.partitions == {}
    assert [code for _, code, _ in batch.failed] == [EXTRACTION_FAILED, EXTRACTION_FAILED]


async def test_records_past_the_active_partitions_limit_fail() -> None:
    opened = [f'{{"customer_id": "c{i}"}}'.encode() for i in range(5)] + [b'{"customer_id": "c0"}']
    batch = await grouped(list(range(6)), opened, PARTITIONED, max_partitions=2)
    assert len(batch.partitions) == 2
    assert [p.index for p in batch.partitions[(("customer", "c0"),)]] == [0, 5]
    assert [(p.index, code) for p, code, _ in batch.failed] == [
        (2, LIMIT_EXCEEDED), (3, LIMIT_EXCEEDED), (4, LIMIT_EXCEEDED),
    ]  # fmt: skip


async def test_json_and_delimited_de_aggregation_and_the_appended_delimiter() -> None:
    json_parts = dataclasses.replace(PARTITIONED, deaggregation="JSON", append_delimiter=b"\n")
    batch = await grouped(
        [1], [b'{"customer_id":"a"} {"customer_id":"b"}\n{"customer_id":"a","n":2}'], json_parts, 10
    )
    assert {k: b"".join(p.data for p in v) for k, v in batch.partitions.items()} == {
        (("customer", "a"),): b'{"customer_id":"a"}\n{"customer_id":"a","n":2}\n',
        (("customer", "b"),): b'{"customer_id":"b"}\n',
    }
    delimited = dataclasses.replace(
        PARTITIONED, query=None, processors=(), deaggregation="DELIMITED",
        deaggregation_delimiter=b"##", append_delimiter=b"|",
    )  # fmt: skip
    batch = await grouped([1], [b"x##y##"], delimited, 10)
    assert [p.data for p in batch.partitions[()]] == [b"x|", b"y|"]
    broken = await grouped([1], [b'{"customer_id":"a"} {oops'], json_parts, 10)
    assert broken.partitions == {} and broken.failed[0][1] == EXTRACTION_FAILED


def test_a_partitions_keys_go_into_its_prefix() -> None:
    stream = DeliveryStream(
        "000000000001", "s", "eu-fr-1", StreamStatus.ACTIVE, 1, 0, 0, destination()
    )
    key = object_key(stream, 1_800_000_000_000, {"customer": "a"})
    assert key.startswith("customer=a/s-1-2027-01-15-08-00-00-")
    error = error_object_key(stream, 1_800_000_000_000, "activePartitionExceeded")
    assert error.startswith("errors/activePartitionExceeded/s-1-")


def test_aws_checks_a_partitioned_destination() -> None:
    check_destination(destination())
    with pytest.raises(InvalidArgument, match="at least 64"):
        check_destination(destination(size_mb=5))
    with pytest.raises(InvalidArgument, match="Zero buffering"):
        check_destination(destination(interval_seconds=0))
    with pytest.raises(InvalidArgument, match="ErrorOutputPrefix cannot be null"):
        check_destination(destination(error_output_prefix=""))
    with pytest.raises(InvalidArgument, match="at least one"):
        check_destination(destination(prefix="static/"))
    with pytest.raises(InvalidArgument, match="'region' of Prefix is not produced"):
        check_destination(destination(prefix="!{partitionKeyFromQuery:region}/"))
    with pytest.raises(InvalidArgument, match="enabled with a Lambda processor"):
        check_destination(destination(prefix="!{partitionKeyFromLambda:customer}/"))
    with pytest.raises(InvalidArgument, match="is not supported in ErrorOutputPrefix"):
        check_destination(destination(error_output_prefix="e/!{partitionKeyFromQuery:customer}/"))
    # Without dynamic partitioning, a partition key is no expression of the prefix.
    with pytest.raises(InvalidArgument, match="not supported in Prefix"):
        check_destination(destination(partitioning=None))
    with pytest.raises(InvalidArgument, match="only supported when dynamic partitioning"):
        check_destination(
            destination(prefix="p/", partitioning=dataclasses.replace(PARTITIONED, enabled=False))
        )
    # Chosen at creation only.
    with pytest.raises(InvalidArgument, match="only be enabled when the delivery stream"):
        check_destination(destination(), destination(prefix="p/", partitioning=None))
    with pytest.raises(InvalidArgument, match="only be enabled when the delivery stream"):
        check_destination(destination(prefix="p/", partitioning=None), destination())
    check_destination(destination(prefix="c/!{partitionKeyFromQuery:customer}/"), destination())


async def test_a_query_past_its_time_is_killed_and_fails_its_records() -> None:
    """The sandbox: a query that runs too long (here a quadratic one over a large record)
    is killed at the timeout; its records fail, the gateway goes on."""
    runner = SubprocessQueryRunner(QueryPolicy(timeout=0.5))
    heavy = dataclasses.replace(
        PARTITIONED, query="{k: ([.a[] as $x | .a[] as $y | $x * $y] | length)}"
    )
    record = ('{"a": [' + ",".join(["1"] * 20000) + "]}").encode()
    batch = await partition_batch([1], [record], heavy, 10, runner)
    ((_, code, message),) = batch.failed
    assert code == EXTRACTION_FAILED and "ran past 0.5 s" in message


async def test_the_sandbox_has_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Even a query the checks would refuse finds no environment in the process it runs in."""
    monkeypatch.setenv("ANDROMEDE_SECRET_PROBE", "s3cr3t")
    (result,) = await RUNNER.run("{k: env}", [b"{}"])
    # (Python's own locale coercion, PEP 538, is all the child sets.)
    assert set(result.value["k"]) <= {"LC_CTYPE"}
    assert "s3cr3t" not in json.dumps(result.value)
