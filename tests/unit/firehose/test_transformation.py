"""Decision 0315's pure core: the transformation event, the function's answer checked as AWS
checks it, invocations cut to the processor's buffer size, retries, and the failed records'
lines."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from andromede.firehose.model import (
    BufferedRecord,
    DeliveryStream,
    LambdaProcessor,
    S3Destination,
    StreamStatus,
)
from andromede.firehose.transformation import (
    TransformFailed,
    build_event,
    failure_lines,
    invocation_batches,
    read_answer,
    transform_batch,
)

FUNCTION = "arn:aws:lambda:eu-fr-1:000000000001:function:upper"
STREAM = DeliveryStream(
    tenant_id="000000000001",
    name="orders",
    region="eu-fr-1",
    status=StreamStatus.ACTIVE,
    version=1,
    created=0,
    updated=0,
    destination=S3Destination(
        role_arn="arn:aws:iam::000000000001:role/r", bucket_arn="arn:aws:s3:::landing"
    ),
)


def records(*data: bytes) -> tuple[list[BufferedRecord], list[bytes]]:
    made = [BufferedRecord(i + 1, f"id{i}", 1_000 + i, len(d), b"") for i, d in enumerate(data)]
    return made, list(data)


def answer(*entries: dict[str, Any]) -> bytes:
    return json.dumps({"records": list(entries)}).encode()


def ok(record_id: str, data: bytes, **keys: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "recordId": record_id,
        "result": "Ok",
        "data": base64.b64encode(data).decode(),
    }
    if keys:
        entry["metadata"] = {"partitionKeys": keys}
    return entry


def test_the_event_is_aws_s() -> None:
    made, opened = records(b"a", b"bc")
    event = json.loads(build_event(STREAM, "inv-1", made, opened))
    assert event == {
        "invocationId": "inv-1",
        "deliveryStreamArn": "arn:aws:firehose:eu-fr-1:000000000001:deliverystream/orders",
        "region": "eu-fr-1",
        "records": [
            {"recordId": "id0", "approximateArrivalTimestamp": 1000, "data": "YQ=="},
            {"recordId": "id1", "approximateArrivalTimestamp": 1001, "data": "YmM="},
        ],
    }


def test_invocations_are_cut_to_the_buffer_size_and_the_payload_limit() -> None:
    processor = LambdaProcessor(FUNCTION, buffer_size_mb=0.2)  # 209,715 bytes
    sizes = [60_000] * 5  # 80,160 bytes each in base64 and JSON
    assert invocation_batches(sizes, processor, 6 * 1024 * 1024) == [[0, 1], [2, 3], [4]]
    assert invocation_batches(sizes, LambdaProcessor(FUNCTION), 100_000) == [
        [0],
        [1],
        [2],
        [3],
        [4],
    ]
    assert invocation_batches([5_000_000], processor, 6 * 1024 * 1024) == [[0]]  # alone


def test_an_answer_is_read_in_the_records_order() -> None:
    read = read_answer(
        answer(
            {"recordId": "b", "result": "Dropped"},
            ok("a", b"A", kind="x", n=3),  # type: ignore[arg-type]  # a number is kept as text
            {"recordId": "c", "result": "ProcessingFailed"},
        ),
        ["a", "b", "c"],
    )
    assert [(o.result, o.data, dict(o.keys)) for o in read] == [
        ("Ok", b"A", {"kind": "x", "n": "3"}),
        ("Dropped", b"", {}),
        ("ProcessingFailed", b"", {}),
    ]


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"not json", "Lambda.JsonProcessingException"),
        (b'{"no": "records"}', "Lambda.JsonProcessingException"),
        (answer(ok("a", b"A")), "Lambda.MissingRecordId"),
        (answer(ok("a", b"A"), ok("a", b"A"), ok("b", b"B")), "Lambda.DuplicatedRecordId"),
        (answer(ok("a", b"A"), ok("z", b"Z")), "Lambda.MissingRecordId"),
        (
            answer(ok("a", b"A"), {"recordId": "b", "result": "Maybe"}),
            "Lambda.JsonProcessingException",
        ),
        (
            answer(ok("a", b"A"), {"recordId": "b", "result": "Ok", "data": "%%"}),
            "Lambda.JsonProcessingException",
        ),
        (
            answer(ok("a", b"A"), {"recordId": "b", "result": "Ok"}),
            "Lambda.JsonProcessingException",
        ),
        (
            answer(
                ok("a", b"A"),
                {
                    "recordId": "b",
                    "result": "Dropped",
                    "metadata": {"partitionKeys": {"k": {"nested": 1}}},
                },
            ),
            "Lambda.JsonProcessingException",
        ),
    ],
)
def test_an_answer_not_aws_s_fails_the_invocation(payload: bytes, code: str) -> None:
    with pytest.raises(TransformFailed) as failed:
        read_answer(payload, ["a", "b"])
    assert failed.value.code == code


class Invoker:
    def __init__(self, answers: list[Callable[[dict[str, Any]], bytes]]) -> None:
        self.answers = answers
        self.events: list[dict[str, Any]] = []

    async def invoke(
        self, stream: DeliveryStream, processor: LambdaProcessor, payload: bytes
    ) -> bytes:
        event = json.loads(payload)
        self.events.append(event)
        return self.answers.pop(0)(event)


def upper(event: dict[str, Any]) -> bytes:
    entries = []
    for record in event["records"]:
        data = base64.b64decode(record["data"])
        result = "ProcessingFailed" if data == b"bad" else "Dropped" if data == b"drop" else "Ok"
        entries.append(ok(record["recordId"], data.upper()) | {"result": result})
    return answer(*entries)


def refuse(code: str, retryable: bool = True) -> Callable[[dict[str, Any]], bytes]:
    def failing(event: dict[str, Any]) -> bytes:
        raise TransformFailed(code, "no", retryable=retryable)

    return failing


async def test_a_batch_is_transformed_dropped_and_failed() -> None:
    made, opened = records(b"a", b"bad", b"drop", b"c")
    invoker = Invoker([upper])
    batch = await transform_batch(STREAM, LambdaProcessor(FUNCTION), made, opened, invoker, 10**6)
    assert batch.kept() == [0, 3]
    assert [batch.outcomes[i].data for i in batch.kept()] == [b"A", b"C"]
    assert batch.dropped == 1
    assert batch.failed == [
        (
            1,
            "Lambda.ProcessingFailed",
            "The Lambda function returned ProcessingFailed for the record.",
            1,
        )
    ]
    assert [i.ok for i in batch.invocations] == [True]


async def test_a_failed_invocation_is_retried_then_its_records_failed() -> None:
    made, opened = records(b"a", b"b")
    processor = LambdaProcessor(FUNCTION, retries=2)
    invoker = Invoker([refuse("Lambda.InvokeLimitExceeded"), upper])
    batch = await transform_batch(STREAM, processor, made, opened, invoker, 10**6)
    assert batch.kept() == [0, 1] and [i.ok for i in batch.invocations] == [False, True]
    invoker = Invoker([refuse("Lambda.FunctionError")] * 3)
    batch = await transform_batch(STREAM, processor, made, opened, invoker, 10**6)
    assert batch.kept() == [] and len(invoker.events) == 3  # the first try and two retries
    assert batch.failed == [
        (0, "Lambda.FunctionError", "no", 3),
        (1, "Lambda.FunctionError", "no", 3),
    ]
    # A refusal that cannot pass by itself is not retried.
    invoker = Invoker([refuse("Lambda.InvokeAccessDenied", retryable=False)] * 3)
    batch = await transform_batch(STREAM, processor, made, opened, invoker, 10**6)
    assert len(invoker.events) == 1 and len(batch.failed) == 2
    # NumberOfRetries 0: tried once.
    invoker = Invoker([refuse("Lambda.FunctionError")] * 3)
    await transform_batch(
        STREAM, LambdaProcessor(FUNCTION, retries=0), made, opened, invoker, 10**6
    )
    assert len(invoker.events) == 1


async def test_each_invocation_carries_its_own_records() -> None:
    made, opened = records(b"x" * 600_000, b"y" * 600_000)
    invoker = Invoker([upper, upper])
    batch = await transform_batch(STREAM, LambdaProcessor(FUNCTION), made, opened, invoker, 10**6)
    assert [[r["recordId"] for r in e["records"]] for e in invoker.events] == [["id0"], ["id1"]]
    assert len({e["invocationId"] for e in invoker.events}) == 2
    assert batch.kept() == [0, 1]


def test_failed_records_are_written_as_aws_writes_them() -> None:
    made, opened = records(b"a", b"bad")
    lines = failure_lines(
        LambdaProcessor(FUNCTION), made, opened, [(1, "Lambda.ProcessingFailed", "m", 1)], 5_000
    )
    (line,) = lines.splitlines()
    assert json.loads(line) == {
        "attemptsMade": 1,
        "arrivalTimestamp": 1001,
        "errorCode": "Lambda.ProcessingFailed",
        "errorMessage": "m",
        "attemptEndingTimestamp": 5000,
        "rawData": base64.b64encode(b"bad").decode(),
        "lambdaArn": FUNCTION,
    }
