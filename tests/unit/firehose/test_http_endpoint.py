"""Decision 0250's HTTP endpoint protocol, pure: the request a batch becomes (body, headers,
gzip, common attributes, the access key), its request id the same at every attempt, the
answers that acknowledge it and those that do not, the backoff's attempt count, and the
egress guard refusing an internal address before any connection."""

from __future__ import annotations

import base64
import dataclasses
import gzip
import json

import pytest

from andromede.firehose.http_delivery import attempts_made
from andromede.firehose.http_endpoint import (
    EndpointAnswer,
    EndpointRequest,
    check_answer,
    endpoint_request,
    request_id,
)
from andromede.firehose.http_sender import HttpEndpointSender, SenderPolicy
from andromede.firehose.model import (
    BufferedRecord,
    DeliveryFailed,
    DeliveryStream,
    HttpEndpoint,
    S3Destination,
    StreamStatus,
    error_object_key,
)
from andromede.http.outbound import networks

STREAM = DeliveryStream(
    tenant_id="111122223333",
    name="to-web",
    region="eu-fr-1",
    status=StreamStatus.ACTIVE,
    version=1,
    created=0,
    updated=0,
    destination=S3Destination("arn:aws:iam::111122223333:role/f", "arn:aws:s3:::backup"),
    http=HttpEndpoint(url="https://collector.example/ingest", size_mb=2, interval_seconds=7),
)
RECORDS = [BufferedRecord(1, "r1", 1_000, 2, b""), BufferedRecord(2, "r2", 2_000, 3, b"")]


def test_the_request_is_laid_out_as_aws_specifies() -> None:
    request = endpoint_request(STREAM, RECORDS, [b"a1", b"b\x002"], "s3cr3t", 1_234)
    assert request.url == "https://collector.example/ingest"
    document = json.loads(request.body)
    assert document == {
        "requestId": request.request_id,
        "timestamp": 1_234,
        "records": [
            {"data": base64.b64encode(b"a1").decode()},
            {"data": base64.b64encode(b"b\x002").decode()},
        ],
    }
    assert request.headers == {
        "Content-Type": "application/json",
        "X-Amz-Firehose-Protocol-Version": "1.0",
        "X-Amz-Firehose-Request-Id": request.request_id,
        "X-Amz-Firehose-Source-Arn": STREAM.arn,
        "X-Amz-Firehose-Access-Key": "s3cr3t",
    }


def test_gzip_and_common_attributes() -> None:
    assert STREAM.http is not None
    http = dataclasses.replace(
        STREAM.http, content_encoding="GZIP", common_attributes=(("env", "prod"), ("team", ""))
    )
    request = endpoint_request(dataclasses.replace(STREAM, http=http), RECORDS, [b"x", b"y"],
                               None, 5)  # fmt: skip
    assert request.headers["Content-Encoding"] == "gzip"
    assert "X-Amz-Firehose-Access-Key" not in request.headers
    assert json.loads(request.headers["X-Amz-Firehose-Common-Attributes"]) == {
        "commonAttributes": {"env": "prod", "team": ""}
    }
    assert json.loads(gzip.decompress(request.body))["records"][1] == {"data": "eQ=="}


def test_the_request_id_is_the_batchs() -> None:
    first = request_id(STREAM, RECORDS)
    assert first == request_id(STREAM, RECORDS)  # every attempt of the batch
    assert first != request_id(STREAM, RECORDS[:1])  # another batch
    assert first != request_id(dataclasses.replace(STREAM, name="other"), RECORDS)


def test_the_hints_are_the_endpoints() -> None:
    assert (STREAM.size_bytes, STREAM.interval_seconds) == (2 * 1024 * 1024, 7)
    s3 = dataclasses.replace(STREAM, http=None)
    assert (s3.size_bytes, s3.interval_seconds) == (5 * 1024 * 1024, 300)


def test_only_a_200_with_the_request_id_acknowledges() -> None:
    check_answer(EndpointAnswer(200, b'{"requestId":"abc","timestamp":1}'), "abc")
    refusals = {
        EndpointAnswer(500, b'{"requestId":"abc","errorMessage":"down"}'): (
            "HttpEndpoint.DestinationException"
        ),
        EndpointAnswer(202, b'{"requestId":"abc"}'): "HttpEndpoint.DestinationException",
        EndpointAnswer(200, b'{"requestId":"xyz"}'): "HttpEndpoint.InvalidResponseFromDestination",
        EndpointAnswer(200, b"OK"): "HttpEndpoint.InvalidResponseFromDestination",
        EndpointAnswer(200, b"[]"): "HttpEndpoint.InvalidResponseFromDestination",
    }
    for answer, code in refusals.items():
        with pytest.raises(DeliveryFailed) as caught:
            check_answer(answer, "abc")
        assert caught.value.code == code
    with pytest.raises(DeliveryFailed) as caught:
        check_answer(EndpointAnswer(413, b"x" * 5000), "abc")
    assert caught.value.message.startswith(
        "The following response was received from the endpoint destination. 413: "
    )
    assert len(caught.value.message) < 400  # quoted, truncated


def test_failed_records_go_under_http_endpoint_failed() -> None:
    key = error_object_key(STREAM, 1_700_000_000_000, "http-endpoint-failed")
    assert key.startswith("http-endpoint-failed/2023/11/14/22/to-web-1-2023-11-14-22-13-20-")


def test_attempts_under_the_doubling_backoff() -> None:
    # Attempts at 0, 5, 10, 20, 40, 60 (capped at 20 s apart), 80 … seconds.
    assert attempts_made(0, 5_000, 20_000, 100_000) == 1
    assert attempts_made(4_999, 5_000, 20_000, 100_000) == 1
    assert attempts_made(5_000, 5_000, 20_000, 100_000) == 2
    assert attempts_made(20_000, 5_000, 20_000, 100_000) == 4
    assert attempts_made(60_000, 5_000, 20_000, 100_000) == 6
    # The last one at the window's end (30 s: 0, 5, 10, 20, 30); none after it.
    assert attempts_made(30_000, 5_000, 20_000, 30_000) == 5
    assert attempts_made(90_000, 5_000, 20_000, 30_000) == 5
    assert attempts_made(90_000, 5_000, 20_000, 0) == 1  # DurationInSeconds 0


async def test_the_egress_guard_refuses_an_internal_address() -> None:
    sender = HttpEndpointSender(SenderPolicy(timeout=1, allowed=networks(["127.0.0.0/8"]),
                                             allow_http=True))  # fmt: skip
    for url in ("http://10.1.2.3:8080/in", "http://169.254.169.254/latest", "ftp://127.0.0.1/"):
        request = EndpointRequest(url, "id", {}, b"{}")
        with pytest.raises(DeliveryFailed) as caught:
            await sender.send(STREAM, request)
        assert caught.value.code == "HttpEndpoint.ConnectionFailed"
    https_only = HttpEndpointSender(SenderPolicy(allowed=networks(["127.0.0.0/8"])))
    with pytest.raises(DeliveryFailed) as caught:
        await https_only.send(STREAM, EndpointRequest("http://127.0.0.1:9/", "id", {}, b""))
    assert "https" in caught.value.message
