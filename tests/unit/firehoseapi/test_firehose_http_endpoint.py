"""Decision 0250's HTTP endpoint destination through botocore's own model, delivered to a real
HTTP receiver on 127.0.0.1: the configuration taken, described without its AccessKey and
kept sealed; the request AWS specifies (headers, JSON body, gzip); a 500, a wrong requestId
and a timeout retried with backoff, the request id kept; past RetryOptions the batch written
into the S3 backup under ``http-endpoint-failed/``; ``AllData`` backing up what was
delivered; ``DeliveryToHttpEndpoint.*`` metrics; the https rule and the refusals in AWS's
words; the key read from a Secrets Manager secret as the role."""

from __future__ import annotations

import base64
import gzip
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from andromede.firehose_endpoint_secrets import SecretsManagerEndpointSecrets
from andromede.iam.model import Principal, PrincipalKind
from andromede.secrets.memory import MemorySecretStore
from andromede.secrets.service import Actor, SecretService, SecretValue
from andromede.secretsapi.authorise import KeyUser
from andromede.settings import Settings
from andromede.wiring.firehose import endpoint_sender
from andromede.wiring.secrets import KmsSecretSealer
from support.batch_world import read
from support.firehoseapp import REGION, World, firehose_world, put_policy
from support.logsapp import logs_world
from unit.firehoseapi.test_firehose_error_logs import GROUP, deliverer, logged, role_policy

# An answer: (status, body) from the request's JSON document, or a delay then that.
Answer = Callable[[dict[str, Any]], tuple[int, bytes]]


def acknowledge(document: dict[str, Any]) -> tuple[int, bytes]:
    return 200, json.dumps({"requestId": document["requestId"], "timestamp": 1}).encode()


@dataclass
class Receiver:
    """An HTTP endpoint on 127.0.0.1: what it was sent, and what it answers next."""

    url: str = ""
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    delay: float = 0.0

    def documents(self) -> list[dict[str, Any]]:
        out = []
        for headers, body in self.received:
            if headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            out.append(json.loads(body))
        return out


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.received.append((dict(self.headers.items()), body))
            raw = gzip.decompress(body) if self.headers.get("Content-Encoding") else body
            answer = state.answers.pop(0) if state.answers else acknowledge
            if state.delay:
                time.sleep(state.delay)
            status, reply = answer(json.loads(raw))
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)
            except (BrokenPipeError, ConnectionResetError):  # the sender gave up (timeout)
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/ingest?token=t"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async for made in firehose_world(
        tmp_path,
        firehose_http_endpoint_allow_http=True,
        firehose_http_endpoint_allow_cidrs=("127.0.0.0/8",),
        firehose_http_endpoint_timeout=1.0,
        firehose_http_endpoint_max_backoff=20,
    ):
        yield made


def later(seconds: float) -> int:
    return int((time.time() + seconds) * 1000)


async def http_stream(world: World, url: str, name: str = "to-web", **extra: Any) -> str:
    config: dict[str, Any] = {
        "EndpointConfiguration": {"Url": url, "Name": "collector", "AccessKey": "k-123"},
        "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60},
        "RequestConfiguration": {
            "ContentEncoding": "NONE",
            "CommonAttributes": [{"AttributeName": "env", "AttributeValue": "prod"}],
        },
        "RetryOptions": {"DurationInSeconds": 60},
        "S3Configuration": {
            "RoleARN": await world.role(),
            "BucketARN": await world.bucket(),
            "Prefix": "copy/",
        },
        "RoleARN": "arn:aws:iam::" + world.tenant_id + ":role/firehose",
    } | extra
    made = await world.client(
        "CreateDeliveryStream",
        DeliveryStreamName=name,
        HttpEndpointDestinationConfiguration=config,
    )
    await world.deliverer.run_pass()  # ACTIVE
    return str(made["DeliveryStreamARN"])


async def put(world: World, *datas: bytes, name: str = "to-web") -> None:
    await world.client(
        "PutRecordBatch", DeliveryStreamName=name, Records=[{"Data": d} for d in datas]
    )


def backup_hints(world: World, size_mb: int, interval: int) -> dict[str, Any]:
    """The S3Configuration ``http_stream`` makes (its role and bucket), with its own hints."""
    return {
        "RoleARN": f"arn:aws:iam::{world.tenant_id}:role/firehose",
        "BucketARN": "arn:aws:s3:::landing",
        "Prefix": "copy/",
        "BufferingHints": {"SizeInMBs": size_mb, "IntervalInSeconds": interval},
    }


async def keys(world: World, bucket: str = "landing") -> list[str]:
    listing = await world.objects.list_objects(bucket, prefix="", max_keys=1000)
    return sorted(o.key for o in listing.objects)


async def test_described_without_its_access_key_which_is_kept_sealed(
    world: World, receiver: Receiver
) -> None:
    arn = await http_stream(world, receiver.url)
    assert arn.endswith(":deliverystream/to-web")
    reply = await world.raw("DescribeDeliveryStream", {"DeliveryStreamName": "to-web"})
    assert b"k-123" not in reply.body
    described = json.loads(reply.body)["DeliveryStreamDescription"]
    assert described["DeliveryStreamStatus"] == "ACTIVE"
    (destination,) = described["Destinations"]
    http = destination["HttpEndpointDestinationDescription"]
    assert http["EndpointConfiguration"] == {"Url": receiver.url, "Name": "collector"}
    assert http["BufferingHints"] == {"SizeInMBs": 1, "IntervalInSeconds": 60}
    assert http["RequestConfiguration"] == {
        "ContentEncoding": "NONE",
        "CommonAttributes": [{"AttributeName": "env", "AttributeValue": "prod"}],
    }
    assert http["RetryOptions"] == {"DurationInSeconds": 60}
    assert http["S3BackupMode"] == "FailedDataOnly"
    assert http["S3DestinationDescription"]["BucketARN"] == "arn:aws:s3:::landing"
    assert http["S3DestinationDescription"]["Prefix"] == "copy/"
    assert "S3DestinationDescription" not in destination
    # botocore parses the answer into the model's shape.
    parsed = await world.client("DescribeDeliveryStream", DeliveryStreamName="to-web")
    assert (
        parsed["DeliveryStreamDescription"]["Destinations"][0][
            "HttpEndpointDestinationDescription"
        ]["EndpointConfiguration"]["Name"]
        == "collector"
    )
    stored = await world.firehose.get(world.tenant_id, "to-web")
    assert stored.http is not None and stored.http.access_key is not None
    assert b"k-123" not in stored.http.access_key
    assert await world.firehose.open_access_key(stored) == "k-123"


async def test_records_are_posted_as_aws_specifies(world: World, receiver: Receiver) -> None:
    await http_stream(world, receiver.url)
    await put(world, b"a1\n", b"\x00b2")
    assert await world.deliverer.run_pass() == 0  # no hint reached
    assert receiver.received == []
    assert await world.deliverer.run_pass(later(61)) == 1
    ((headers, _),) = receiver.received
    (document,) = receiver.documents()
    assert [base64.b64decode(r["data"]) for r in document["records"]] == [b"a1\n", b"\x00b2"]
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Amz-Firehose-Protocol-Version"] == "1.0"
    assert headers["X-Amz-Firehose-Request-Id"] == document["requestId"]
    assert headers["X-Amz-Firehose-Access-Key"] == "k-123"
    assert headers["X-Amz-Firehose-Source-Arn"].endswith(":deliverystream/to-web")
    assert json.loads(headers["X-Amz-Firehose-Common-Attributes"]) == {
        "commonAttributes": {"env": "prod"}
    }
    assert "Content-Encoding" not in headers
    assert await keys(world) == []  # FailedDataOnly: nothing backed up
    assert await world.deliverer.run_pass(later(200)) == 0  # the buffer is empty
    assert world.sink.total("DeliveryToHttpEndpoint.Success") == 1
    assert world.sink.total("DeliveryToHttpEndpoint.Records") == 2
    assert world.sink.total("DeliveryToHttpEndpoint.Bytes") == 6
    assert world.sink.total("DeliveryToHttpEndpoint.DataFreshness") >= 0
    assert world.sink.total("DeliveryToS3.Success") == 0


async def test_gzip_with_all_data_backed_up(world: World, receiver: Receiver) -> None:
    """Decision 0388: the acknowledged batch's copy waits for the S3Configuration's own
    hints (AWS's defaults, 300 s, here), then is one object, counted as ``BackupToS3``."""
    await http_stream(
        world, receiver.url,
        RequestConfiguration={"ContentEncoding": "GZIP"}, S3BackupMode="AllData",
    )  # fmt: skip
    await put(world, b"one", b"two")
    sent = later(61)
    assert await world.deliverer.run_pass(sent) == 1  # the endpoint; the copy waits
    ((headers, body),) = receiver.received
    assert headers["Content-Encoding"] == "gzip"
    document = json.loads(gzip.decompress(body))
    assert [base64.b64decode(r["data"]) for r in document["records"]] == [b"one", b"two"]
    assert "X-Amz-Firehose-Common-Attributes" not in headers  # none in this configuration
    assert await keys(world) == []
    assert await world.deliverer.run_pass(sent + 299_000) == 0  # not the backup's 300 s yet
    assert await world.deliverer.run_pass(sent + 300_000) == 1  # the copy alone
    (key,) = await keys(world)
    assert key.startswith("copy/") and "/to-web-1-" in key
    assert await read(world.objects, "landing", key) == b"onetwo"
    assert len(receiver.received) == 1  # never sent again
    assert world.sink.total("BackupToS3.Records") == 2
    assert world.sink.total("BackupToS3.Bytes") == 6
    assert world.sink.total("BackupToS3.Success") == 1
    assert world.sink.total("DeliveryToS3.Success") == 0  # the backup is not the destination


async def test_all_data_copies_are_one_object_at_the_backups_size(
    world: World, receiver: Receiver
) -> None:
    """Decision 0388: batches acknowledged apart (the endpoint's 1 MiB) are backed up
    together, at most the S3Configuration's SizeInMBs an object, each as soon as it is full."""
    await http_stream(
        world, receiver.url, S3BackupMode="AllData", BufferingHints={"SizeInMBs": 1,
        "IntervalInSeconds": 60},
        S3Configuration=backup_hints(world, 2, 900),
    )  # fmt: skip
    big = b"x" * 600_000
    for _ in range(4):
        await put(world, big)
    start = later(61)
    for moment in range(4):  # one record a batch (1 MiB hint), each acknowledged
        await world.deliverer.run_pass(start + moment * 1000)
    assert len(receiver.received) == 4
    assert await keys(world) == []  # 1.8 MB waited, under the backup's 2 MiB
    assert await world.deliverer.run_pass(start + 5_000) == 1  # 2.4 MB waiting: one of 2 MiB
    (key,) = await keys(world)
    assert len(await read(world.objects, "landing", key)) == 1_800_000
    assert await world.deliverer.run_pass(start + 6_000) == 0  # 0.6 MB: under the size
    assert await world.deliverer.run_pass(start + 902_999) == 0  # acknowledged at +3 s
    assert await world.deliverer.run_pass(start + 903_000) == 1  # its interval since
    assert world.sink.total("BackupToS3.Records") == 4


async def test_an_endpoints_backup_takes_no_zero_buffering(world: World) -> None:
    """Decision 0388: an S3Configuration's interval under 60 s refused as a source record
    backup's is (0379); the endpoint's own 0 taken."""
    await http_stream(
        world, "https://collector.example/in",
        BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 0},
        S3Configuration=backup_hints(world, 1, 60),
    )  # fmt: skip
    for interval in (0, 59):
        message = await world.fails(
            "CreateDeliveryStream", "InvalidArgumentException", DeliveryStreamName="zero",
            HttpEndpointDestinationConfiguration={
                "EndpointConfiguration": {"Url": "https://collector.example/in"},
                "S3Configuration": backup_hints(world, 1, interval),
            },
        )  # fmt: skip
        assert "S3Configuration.BufferingHints.IntervalInSeconds" in message
    described = await world.client("DescribeDeliveryStream", DeliveryStreamName="to-web")
    (destination,) = described["DeliveryStreamDescription"]["Destinations"]
    message = await world.fails(
        "UpdateDestination", "InvalidArgumentException", DeliveryStreamName="to-web",
        CurrentDeliveryStreamVersionId=described["DeliveryStreamDescription"]["VersionId"],
        DestinationId=destination["DestinationId"],
        HttpEndpointDestinationUpdate={
            "S3Update": {"BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0}}
        },
    )  # fmt: skip
    assert "S3Update.BufferingHints" in message


async def test_refusals_are_retried_with_backoff_keeping_the_request_id(
    world: World, receiver: Receiver
) -> None:
    await http_stream(world, receiver.url)
    await put(world, b"r1")
    receiver.answers = [
        lambda d: (500, b'{"errorMessage":"down"}'),
        lambda d: (200, json.dumps({"requestId": "not-yours"}).encode()),
    ]
    start = later(61)
    assert await world.deliverer.run_pass(start) == 0  # 500
    assert await world.deliverer.run_pass(start + 4_000) == 0  # not due yet (5 s)
    assert len(receiver.received) == 1
    assert await world.deliverer.run_pass(start + 5_000) == 0  # the wrong requestId
    assert await world.deliverer.run_pass(start + 9_000) == 0  # backing off: 5 s more
    assert len(receiver.received) == 2
    assert await world.deliverer.run_pass(start + 10_000) == 1  # acknowledged
    ids = {d["requestId"] for d in receiver.documents()}
    assert len(ids) == 1 and len(receiver.received) == 3
    assert world.sink.total("DeliveryToHttpEndpoint.Success") == 1
    assert [p[4] for p in world.sink.points if p[2] == "DeliveryToHttpEndpoint.Success"] == [
        0.0, 0.0, 1.0,
    ]  # fmt: skip
    assert await keys(world) == []


async def test_a_timeout_fails_the_attempt(world: World, receiver: Receiver) -> None:
    await http_stream(world, receiver.url, RetryOptions={"DurationInSeconds": 0})
    await put(world, b"slow")
    receiver.delay = 1.5  # beyond firehose_http_endpoint_timeout
    assert await world.deliverer.run_pass(later(61)) == 0  # straight to the backup's buffer
    assert await world.deliverer.run_pass(later(362)) == 1  # at its 300 s (0388)
    (key,) = await keys(world)
    (line,) = (await read(world.objects, "landing", key)).splitlines()
    assert json.loads(line)["errorCode"] == "HttpEndpoint.RequestTimeout"


async def test_past_its_retry_window_the_batch_goes_to_the_s3_backup(
    world: World, receiver: Receiver
) -> None:
    await http_stream(world, receiver.url, RetryOptions={"DurationInSeconds": 30})
    await put(world, b"lost-1", b"lost-2")
    receiver.answers = [lambda d: (503, b"busy")] * 10
    start = later(61)
    moments = [0, 5_000, 10_000, 20_000]  # the backoff: 5, 5, 10 s
    for moment in moments:
        assert await world.deliverer.run_pass(start + moment) == 0
    assert len(receiver.received) == 4
    assert await world.deliverer.run_pass(start + 30_000) == 0  # the last, then the backup's
    assert len(receiver.received) == 5
    assert await keys(world) == []  # buffered on the backup's own hints (0388)
    assert await world.deliverer.run_pass(start + 329_999) == 0
    assert await world.deliverer.run_pass(start + 330_000) == 1
    (key,) = await keys(world)
    assert key.startswith("http-endpoint-failed/"), key
    lines = [json.loads(x) for x in (await read(world.objects, "landing", key)).splitlines()]
    assert [base64.b64decode(x["rawData"]) for x in lines] == [b"lost-1", b"lost-2"]
    assert {x["errorCode"] for x in lines} == {"HttpEndpoint.DestinationException"}
    assert lines[0]["errorMessage"].endswith("503: busy")
    assert lines[0]["attemptsMade"] == 5
    assert await world.deliverer.run_pass(later(500)) == 0  # out of the buffer
    assert world.sink.total("BackupToS3.Success") == 1
    assert world.sink.total("BackupToS3.Records") == 2
    assert world.dropped == []


async def test_an_internal_address_is_never_called(tmp_path: Path) -> None:
    async for world in firehose_world(tmp_path, firehose_http_endpoint_allow_http=True):
        # 127.0.0.1 is not among the operator's networks here.
        await http_stream(world, "http://127.0.0.1:9/in", RetryOptions={"DurationInSeconds": 0})
        await put(world, b"x")
        assert await world.deliverer.run_pass(later(61)) == 0
        assert await world.deliverer.run_pass(later(362)) == 1  # the backup's 300 s
        (key,) = await keys(world)
        (line,) = (await read(world.objects, "landing", key)).splitlines()
        assert json.loads(line)["errorCode"] == "HttpEndpoint.ConnectionFailed"
        assert "firehose_http_endpoint_allow_cidrs" in json.loads(line)["errorMessage"]


async def test_https_only_unless_the_operator_allows_http(tmp_path: Path) -> None:
    async for world in firehose_world(tmp_path):
        message = await world.fails(
            "CreateDeliveryStream", "InvalidArgumentException",
            DeliveryStreamName="plain",
            HttpEndpointDestinationConfiguration={
                "EndpointConfiguration": {"Url": "http://collector.example/in"},
                "S3Configuration": {"RoleARN": await world.role(),
                                    "BucketARN": await world.bucket()},
            },
        )  # fmt: skip
        assert "https" in message
        await world.client(
            "CreateDeliveryStream",
            DeliveryStreamName="secure",
            HttpEndpointDestinationConfiguration={
                "EndpointConfiguration": {"Url": "https://collector.example/in"},
                "S3Configuration": {"RoleARN": await world.role("r2"),
                                    "BucketARN": "arn:aws:s3:::landing"},
            },
        )  # fmt: skip


async def test_refusals_in_aws_words(world: World, receiver: Receiver) -> None:
    s3 = {"RoleARN": await world.role(), "BucketARN": await world.bucket()}
    endpoint = {"Url": receiver.url}

    async def refused(code: str, **config: Any) -> str:
        reply = await world.raw(
            "CreateDeliveryStream",
            {"DeliveryStreamName": "bad", "HttpEndpointDestinationConfiguration": config},
        )
        assert reply.status == 400, reply.body
        assert json.loads(reply.body)["__type"] == code, reply.body
        return str(json.loads(reply.body)["message"])

    await refused("ValidationException", S3Configuration=s3)
    await refused("ValidationException", EndpointConfiguration=endpoint)
    await refused("ValidationException", EndpointConfiguration=endpoint, S3Configuration=s3,
                  BufferingHints={"SizeInMBs": 65, "IntervalInSeconds": 60})  # fmt: skip
    await refused("ValidationException", EndpointConfiguration=endpoint, S3Configuration=s3,
                  RetryOptions={"DurationInSeconds": 7201})  # fmt: skip
    await refused("ValidationException", EndpointConfiguration=endpoint, S3Configuration=s3,
                  RequestConfiguration={"ContentEncoding": "DEFLATE"})  # fmt: skip
    await refused("ValidationException", EndpointConfiguration=endpoint, S3Configuration=s3,
                  S3BackupMode="Everything")  # fmt: skip
    message = await refused(
        "InvalidArgumentException", EndpointConfiguration=endpoint, S3Configuration=s3,
        ProcessingConfiguration={"Enabled": True},
    )  # fmt: skip
    assert "has no processor" in message  # decision 0315: a Lambda processor is taken
    await refused(
        "InvalidArgumentException",
        EndpointConfiguration=endpoint | {"AccessKey": "k"}, S3Configuration=s3,
        SecretsManagerConfiguration={
            "Enabled": True,
            "SecretARN": f"arn:aws:secretsmanager:eu-fr-1:{world.tenant_id}:secret:k-AbCdEf",
        },
    )  # fmt: skip
    message = await world.fails(
        "CreateDeliveryStream", "InvalidArgumentException", DeliveryStreamName="two",
        HttpEndpointDestinationConfiguration={"EndpointConfiguration": endpoint,
                                              "S3Configuration": s3},
        ExtendedS3DestinationConfiguration=s3,
    )  # fmt: skip
    assert "Exactly one destination" in message
    message = await world.fails(
        "CreateDeliveryStream", "InvalidArgumentException", DeliveryStreamName="splunk",
        SplunkDestinationConfiguration={
            "HECEndpoint": "https://h", "HECEndpointType": "Raw", "HECToken": "t",
            "S3Configuration": s3,
        },
    )  # fmt: skip
    assert "S3 and HTTP endpoint destinations" in message


async def test_update_destination(world: World, receiver: Receiver) -> None:
    await http_stream(world, receiver.url)
    other = receiver.url.replace("/ingest", "/v2")
    await world.client(
        "UpdateDestination", DeliveryStreamName="to-web", CurrentDeliveryStreamVersionId="1",
        DestinationId="destinationId-000000000001",
        HttpEndpointDestinationUpdate={
            "BufferingHints": {"SizeInMBs": 2, "IntervalInSeconds": 30},
            "S3Update": {"Prefix": "v2/"},
        },
    )  # fmt: skip
    stream = await world.firehose.get(world.tenant_id, "to-web")
    assert stream.version == 2 and stream.http is not None
    assert (stream.http.size_mb, stream.http.url, stream.destination.prefix) == (
        2, receiver.url, "v2/",
    )  # fmt: skip
    assert await world.firehose.open_access_key(stream) == "k-123"  # kept
    await world.client(
        "UpdateDestination", DeliveryStreamName="to-web", CurrentDeliveryStreamVersionId="2",
        DestinationId="destinationId-000000000001",
        HttpEndpointDestinationUpdate={"EndpointConfiguration": {"Url": other,
                                                                 "AccessKey": "k-456"}},
    )  # fmt: skip
    await put(world, b"after")
    assert await world.deliverer.run_pass(later(31)) == 1
    ((headers, _),) = receiver.received
    assert headers["X-Amz-Firehose-Access-Key"] == "k-456"
    assert receiver.received and (await world.firehose.get(world.tenant_id, "to-web")).version == 3
    message = await world.fails(
        "UpdateDestination", "InvalidArgumentException", DeliveryStreamName="to-web",
        CurrentDeliveryStreamVersionId="3", DestinationId="destinationId-000000000001",
        ExtendedS3DestinationUpdate={"Prefix": "x/"},
    )  # fmt: skip
    assert "HttpEndpointDestinationUpdate" in message


async def test_the_key_read_from_a_secret_as_the_role(world: World, receiver: Receiver) -> None:
    secrets = SecretService(
        MemorySecretStore(), KmsSecretSealer(world.customer_keys, REGION, world.audit)
    )
    world.firehose.endpoint_secrets = SecretsManagerEndpointSecrets(secrets, world.identity, REGION)
    root = Principal(
        tenant_id=world.tenant_id,
        user_id=None,
        user_name=None,
        kind=PrincipalKind.ROOT,
        arn=f"arn:aws:iam::{world.tenant_id}:root",
    )

    async def anyone(action: str, secret: object) -> None:
        pass

    owner = Actor(world.tenant_id, REGION, anyone, KeyUser(root, None, True, "req-1"))
    secret, _ = await secrets.create(
        owner,
        "collector-key",
        SecretValue(json.dumps({"api_key": "from-secret"}).encode(), binary=False),
    )
    reader = await world.role(
        "reader",
        policy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
             "Resource": secret.arn}]}),
    )  # fmt: skip
    await http_stream(
        world, receiver.url,
        EndpointConfiguration={"Url": receiver.url},
        SecretsManagerConfiguration={"Enabled": True, "SecretARN": secret.arn,
                                     "RoleARN": reader},
        RetryOptions={"DurationInSeconds": 0},
    )  # fmt: skip
    described = (await world.client("DescribeDeliveryStream", DeliveryStreamName="to-web"))[
        "DeliveryStreamDescription"
    ]["Destinations"][0]["HttpEndpointDestinationDescription"]
    assert described["SecretsManagerConfiguration"] == {
        "Enabled": True, "SecretARN": secret.arn, "RoleARN": reader,
    }  # fmt: skip
    await put(world, b"s")
    assert await world.deliverer.run_pass(later(61)) == 1
    ((headers, _),) = receiver.received
    assert headers["X-Amz-Firehose-Access-Key"] == "from-secret"
    # The role no longer allowed: the attempt fails, the batch goes to the backup.
    await world.identity.put_role_policy(world.tenant_id, "reader", "put", put_policy())
    await put(world, b"t")
    assert await world.deliverer.run_pass(later(200)) == 0
    assert await world.deliverer.run_pass(later(501)) == 1  # the backup's 300 s
    assert len(receiver.received) == 1
    (key,) = await keys(world)
    (line,) = (await read(world.objects, "landing", key)).splitlines()
    assert json.loads(line)["errorCode"] == "SecretsManager.AccessDenied"
    assert "from-secret" not in json.loads(line)["errorMessage"]
    # A secret of another account is refused at once.
    message = await world.fails(
        "CreateDeliveryStream", "InvalidArgumentException", DeliveryStreamName="foreign",
        HttpEndpointDestinationConfiguration={
            "EndpointConfiguration": {"Url": receiver.url},
            "SecretsManagerConfiguration": {
                "Enabled": True,
                "SecretARN": "arn:aws:secretsmanager:eu-fr-1:999999999999:secret:x-AbCdEf",
            },
            "S3Configuration": {"RoleARN": reader, "BucketARN": "arn:aws:s3:::landing"},
        },
    )  # fmt: skip
    assert "not a secret of the account" in message


async def test_terraforms_configuration_is_taken(world: World, receiver: Receiver) -> None:
    """``expandHTTPEndpointDestinationConfiguration`` of a minimal ``http_endpoint_configuration``
    (the disabled processing and logging, empty common attributes, secrets disabled)."""
    logging = {"Enabled": False, "LogGroupName": "", "LogStreamName": ""}
    await world.client(
        "CreateDeliveryStream",
        DeliveryStreamName="tf",
        DeliveryStreamType="DirectPut",
        HttpEndpointDestinationConfiguration={
            "EndpointConfiguration": {"Url": receiver.url, "Name": "tf", "AccessKey": "tf-key"},
            "BufferingHints": {"IntervalInSeconds": 300, "SizeInMBs": 5},
            "CloudWatchLoggingOptions": logging,
            "ProcessingConfiguration": {"Enabled": False, "Processors": []},
            "RequestConfiguration": {"ContentEncoding": "NONE", "CommonAttributes": []},
            "RetryOptions": {"DurationInSeconds": 300},
            "RoleARN": await world.role(),
            "S3BackupMode": "FailedDataOnly",
            "S3Configuration": {
                "BucketARN": await world.bucket(),
                "RoleARN": f"arn:aws:iam::{world.tenant_id}:role/firehose",
                "BufferingHints": {"IntervalInSeconds": 300, "SizeInMBs": 5},
                "CloudWatchLoggingOptions": logging,
                "CompressionFormat": "UNCOMPRESSED",
                "EncryptionConfiguration": {"NoEncryptionConfig": "NoEncryption"},
                "Prefix": "",
                "ErrorOutputPrefix": "",
            },
            "SecretsManagerConfiguration": {"Enabled": False},
        },
    )
    await world.deliverer.run_pass()
    (destination,) = (await world.client("DescribeDeliveryStream", DeliveryStreamName="tf"))[
        "DeliveryStreamDescription"
    ]["Destinations"]
    http = destination["HttpEndpointDestinationDescription"]
    assert http["EndpointConfiguration"] == {"Url": receiver.url, "Name": "tf"}
    assert http["RequestConfiguration"] == {"ContentEncoding": "NONE"}
    assert http["ProcessingConfiguration"] == {"Enabled": False}
    assert http["CloudWatchLoggingOptions"] == {"Enabled": False}
    assert http["RetryOptions"] == {"DurationInSeconds": 300}
    assert http["RoleARN"].endswith(":role/firehose")
    assert "SecretsManagerConfiguration" not in http
    assert http["S3DestinationDescription"]["CompressionFormat"] == "UNCOMPRESSED"


async def test_a_longer_answer_than_allowed_fails(tmp_path: Path, receiver: Receiver) -> None:
    async for world in firehose_world(
        tmp_path,
        firehose_http_endpoint_allow_http=True,
        firehose_http_endpoint_allow_cidrs=("127.0.0.0/8",),
        firehose_http_endpoint_max_response=64,
    ):
        await http_stream(world, receiver.url, RetryOptions={"DurationInSeconds": 0})
        await put(world, b"big")
        receiver.answers = [
            lambda d: (200, json.dumps({"requestId": d["requestId"], "pad": "x" * 64}).encode())
        ]
        assert await world.deliverer.run_pass(later(61)) == 0
        assert await world.deliverer.run_pass(later(362)) == 1  # the backup's 300 s
        (key,) = await keys(world)
        (line,) = (await read(world.objects, "landing", key)).splitlines()
        assert json.loads(line)["errorCode"] == "HttpEndpoint.ResponseTooLarge"


async def test_a_refused_all_data_copy_is_retried_never_resent(
    world: World, receiver: Receiver
) -> None:
    """Decisions 0270, 0388: the endpoint acknowledged the batch, the backup bucket refused
    its copy: the copy stays buffered and is written at a later pass, and the batch is never
    sent to the endpoint again."""
    await http_stream(
        world, receiver.url, S3BackupMode="AllData",
        S3Configuration=backup_hints(world, 1, 60),
    )  # fmt: skip
    await world.identity.put_role_policy(
        world.tenant_id, "firehose", "put", put_policy("arn:aws:s3:::elsewhere/*")
    )
    await put(world, b"one", b"two")
    start = later(61)
    assert await world.deliverer.run_pass(start) == 1  # the endpoint only
    assert await world.deliverer.run_pass(start + 61_000) == 0  # the copy refused
    assert await keys(world) == []
    assert world.dropped == []  # kept, not given up
    assert world.sink.total("BackupToS3.Success") == 0
    await put(world, b"three")
    await world.identity.put_role_policy(world.tenant_id, "firehose", "put", put_policy())
    assert await world.deliverer.run_pass(start + 122_000) == 2  # the copy, then "three"
    (key,) = await keys(world)
    assert key.startswith("copy/")
    assert await read(world.objects, "landing", key) == b"onetwo"
    assert await world.deliverer.run_pass(start + 183_000) == 1  # "three"'s copy
    documents = receiver.documents()
    assert [[base64.b64decode(r["data"]) for r in d["records"]] for d in documents] == [
        [b"one", b"two"], [b"three"],
    ]  # fmt: skip
    assert len(await keys(world)) == 2
    assert world.sink.total("BackupToS3.Success") == 2
    assert await world.deliverer.run_pass(later(1_000)) == 0  # nothing left


async def test_a_refused_attempt_is_logged_as_aws_writes_it(
    world: World, receiver: Receiver, tmp_path: Path
) -> None:
    """Decision 0270: the endpoint's CloudWatchLoggingOptions get each failed attempt's error
    record, its destination the endpoint's URL."""
    for logs in logs_world(tmp_path / "logs"):
        logs.clock.now = int(time.time() * 1000)
        await logs.service.create_group(world.tenant_id, GROUP, None, {})
        await logs.service.create_stream(world.tenant_id, GROUP, "HttpEndpointDelivery")
        await http_stream(
            world, receiver.url,
            CloudWatchLoggingOptions={
                "Enabled": True, "LogGroupName": GROUP, "LogStreamName": "HttpEndpointDelivery",
            },
        )  # fmt: skip
        await world.identity.put_role_policy(
            world.tenant_id, "firehose", "put", role_policy("logs:PutLogEvents")
        )
        shown = await world.client("DescribeDeliveryStream", DeliveryStreamName="to-web")
        http = shown["DeliveryStreamDescription"]["Destinations"][0][
            "HttpEndpointDestinationDescription"
        ]
        assert http["CloudWatchLoggingOptions"]["LogStreamName"] == "HttpEndpointDelivery"
        sender = endpoint_sender(
            Settings(
                data_dir=tmp_path,
                region=REGION,
                firehose_http_endpoint_allow_http=True,
                firehose_http_endpoint_allow_cidrs=("127.0.0.0/8",),
                firehose_http_endpoint_timeout=1.0,
            )
        )
        gateway = deliverer(world, logs.service, sender)
        await put(world, b"r1")
        receiver.answers = [lambda d: (500, b'{"errorMessage":"down"}')]
        assert await gateway.run_pass(later(61)) == 0
        (record,) = await logged(logs.service, world.tenant_id, "HttpEndpointDelivery")
        assert record["errorCode"] == "HttpEndpoint.DestinationException"
        assert record["destination"] == receiver.url
        assert record["deliveryStreamVersionId"] == 1


async def test_data_freshness_is_said_each_minute_while_the_batch_waits(
    world: World, receiver: Receiver
) -> None:
    """Decision 0388: no delivery yet (the endpoint's 120 s), the oldest record's age is
    still ``DeliveryToHttpEndpoint.DataFreshness`` each minute, as AWS reports it."""
    await http_stream(world, receiver.url, BufferingHints={"SizeInMBs": 1,
                                                           "IntervalInSeconds": 120})  # fmt: skip
    await put(world, b"waits")

    def freshness() -> list[float]:
        return [p[4] for p in world.sink.points if p[2] == "DeliveryToHttpEndpoint.DataFreshness"]

    assert await world.deliverer.run_pass(later(61)) == 0
    (first,) = freshness()
    assert 55 <= first <= 70
    assert await world.deliverer.run_pass(later(91)) == 0  # the same minute: said once
    assert len(freshness()) == 1
    assert await world.deliverer.run_pass(later(122)) == 1  # delivered, then nothing waits
    assert receiver.received and len(freshness()) == 2  # the delivery's own, 0250


async def test_failed_records_wait_with_the_copies_and_go_out_apart(
    world: World, receiver: Receiver
) -> None:
    """Decision 0388: a batch given up past its retry window waits on the backup's own hints
    beside an acknowledged batch's AllData copy; the two kinds are never one object: the copy
    under the backup's prefix, the error lines under ``http-endpoint-failed/``."""
    await http_stream(world, receiver.url, S3BackupMode="AllData",
                      RetryOptions={"DurationInSeconds": 0})  # fmt: skip
    await put(world, b"ok")
    assert await world.deliverer.run_pass(later(61)) == 1  # acknowledged; its copy waits
    receiver.answers = [lambda d: (500, b"down")]
    await put(world, b"bad")
    assert await world.deliverer.run_pass(later(122)) == 0  # given up: its line waits
    assert await keys(world) == []
    assert await world.deliverer.run_pass(later(500)) == 2  # both due: two objects
    copy, failed = await keys(world)
    assert copy.startswith("copy/") and await read(world.objects, "landing", copy) == b"ok"
    assert failed.startswith("http-endpoint-failed/"), failed
    (line,) = (await read(world.objects, "landing", failed)).splitlines()
    assert base64.b64decode(json.loads(line)["rawData"]) == b"bad"
    assert world.sink.total("BackupToS3.Records") == 2
