"""Bucket event notifications end to end (decision 0132): a real ``andromede serve`` driven
with boto3 (``sns`` and ``s3`` clients on the one endpoint) and real HTTP receivers on the
loopback, which the server is allowed to reach by ``notification_endpoint_allow_cidrs``
(127.0.0.1/32). A topic made with CreateTopic, a configuration put on a bucket: PutObject,
CompleteMultipartUpload and DeleteObject reach the receiver as S3's event records, and so do
PutObjectTagging, DeleteObjectTagging and PutObjectAcl (increment 2), and RGW's metadata and
tag filters, which botocore's model does not know, put with a raw signed request, let
through only the objects they name (increment 3); a configuration accepted sends S3's
``s3:TestEvent`` to its topic's receiver (increment 4); an endpoint
outside the allowed networks (127.0.0.2) receives nothing; a receiver down when its event is
written gets it once it is up, after the worker's retries. An SNS http subscription (decision
0163) gets its signed SubscriptionConfirmation, is confirmed by an unsigned GET of its
SubscribeURL, and then receives each Publish as a signed envelope."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from andromede.notifications.envelope import verify
from support.rawclient import raw_client_for
from support.server import REGION, ServerProcess, free_port, running_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("notifications") / "data"
    env = {
        "ANDROMEDE_WORKERS": "1",
        "ANDROMEDE_NOTIFICATION_ENDPOINT_ALLOW_CIDRS": '["127.0.0.1/32"]',
        "ANDROMEDE_NOTIFICATION_INTERVAL": "0.1",
        "ANDROMEDE_NOTIFICATION_RETRY_BASE": "0.3",
        # Long enough that a loaded machine's slow receiver is not taken for a dead one.
        "ANDROMEDE_NOTIFICATION_TIMEOUT": "10",
    }
    with running_server(data_dir, extra_env=env) as started:
        yield started


def client(server: ServerProcess, service: str) -> Any:
    access_key, secret_key = server.credentials()
    make: Any = boto3.client  # the service is a parameter
    return make(
        service,
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


class Receiver:
    """An HTTP server in a thread of the test, keeping each POSTed JSON body (and, in
    ``posts``, each with its headers)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        received: list[dict[str, Any]] = []
        posts: list[tuple[dict[str, Any], dict[str, str]]] = []
        self.received = received
        self.posts = posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                parsed = json.loads(body)
                received.append(parsed)
                posts.append((parsed, {k.lower(): v for k, v in self.headers.items()}))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer((host, port), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://{host}:{self.port}/events?token=t0ken"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def records(self) -> list[dict[str, Any]]:
        """The event records received (S3's test events, which have none, apart), each once.

        Delivery is at least once, as on S3: a push whose answer came too late is sent again,
        so a record seen twice (same event, object and sequencer) is kept once.
        """
        kept: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        for body in list(self.received):
            for record in body.get("Records", []):
                s3 = record.get("s3", {})
                identity = (
                    str(record.get("eventName")),
                    str(s3.get("bucket", {}).get("name")),
                    str(s3.get("object", {}).get("key")),
                    str(s3.get("object", {}).get("sequencer")),
                )
                kept.setdefault(identity, record)
        return list(kept.values())

    def test_events(self) -> list[dict[str, Any]]:
        return [body for body in self.received if body.get("Event") == "s3:TestEvent"]

    def wait_for(self, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.records()) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.records()

    def wait_for_test_events(self, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.test_events()) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.test_events()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.close()


def watched_bucket(server: ServerProcess, endpoint: str, events: list[str]) -> tuple[Any, str]:
    """A new bucket whose events go to a new topic pushing to ``endpoint``."""
    sns, s3 = client(server, "sns"), client(server, "s3")
    name = f"n-{uuid.uuid4().hex[:10]}"
    arn = sns.create_topic(
        Name=name, Attributes={"push-endpoint": endpoint, "OpaqueData": "ticket-7"}
    )["TopicArn"]
    s3.create_bucket(Bucket=name)
    s3.put_bucket_notification_configuration(
        Bucket=name,
        NotificationConfiguration={
            "TopicConfigurations": [{"Id": "all", "TopicArn": arn, "Events": events}]
        },
    )
    return s3, name


def test_topics_through_the_sns_api(server: ServerProcess) -> None:
    sns = client(server, "sns")
    name = f"t-{uuid.uuid4().hex[:8]}"
    arn = sns.create_topic(
        Name=name, Attributes={"push-endpoint": "https://hooks.example/x", "persistent": "true"}
    )["TopicArn"]
    assert arn.startswith(f"arn:aws:sns:{REGION}:") and arn.endswith(f":{name}")
    attributes = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attributes["TopicArn"] == arn
    assert attributes["push-endpoint"] == "https://hooks.example/x"
    sns.set_topic_attributes(TopicArn=arn, AttributeName="OpaqueData", AttributeValue="od")
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["OpaqueData"] == "od"
    assert arn in [t["TopicArn"] for t in sns.list_topics()["Topics"]]
    with pytest.raises(ClientError) as refused:
        sns.create_topic(Name="leaky", Attributes={"push-endpoint": "https://u:secret@h.example/"})
    assert refused.value.response["Error"]["Code"] == "InvalidParameter"
    assert "secret" not in str(refused.value)
    sns.delete_topic(TopicArn=arn)
    with pytest.raises(ClientError) as gone:
        sns.get_topic_attributes(TopicArn=arn)
    assert gone.value.response["Error"]["Code"] == "NotFound"


def test_a_topic_that_is_not_the_owners_is_refused(server: ServerProcess) -> None:
    s3 = client(server, "s3")
    name = f"n-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    with pytest.raises(ClientError) as refused:
        s3.put_bucket_notification_configuration(
            Bucket=name,
            NotificationConfiguration={
                "TopicConfigurations": [
                    {
                        "TopicArn": f"arn:aws:sns:{REGION}:999:absent",
                        "Events": ["s3:ObjectCreated:*"],
                    }
                ]
            },
        )
    error = refused.value.response["Error"]
    assert error["Code"] == "InvalidArgument"
    assert error["Message"] == "Unable to validate the following destination configurations"


def test_an_accepted_configuration_sends_s3s_test_event(
    server: ServerProcess, receiver: Receiver
) -> None:
    """Increment 4: before any write, the receiver gets S3's s3:TestEvent, pushed by the
    worker from the queue, with the configuration request's ids."""
    sns, s3 = client(server, "sns"), client(server, "s3")
    name = f"n-{uuid.uuid4().hex[:10]}"
    arn = sns.create_topic(
        Name=name, Attributes={"push-endpoint": receiver.url, "OpaqueData": "ticket-7"}
    )["TopicArn"]
    s3.create_bucket(Bucket=name)
    reply = s3.put_bucket_notification_configuration(
        Bucket=name,
        NotificationConfiguration={
            "TopicConfigurations": [
                {"Id": "created", "TopicArn": arn, "Events": ["s3:ObjectCreated:*"]},
                {"Id": "removed", "TopicArn": arn, "Events": ["s3:ObjectRemoved:*"]},
            ]
        },
    )
    (event,) = receiver.wait_for_test_events(1)
    assert list(event) == ["Service", "Event", "Time", "Bucket", "RequestId", "HostId"]
    assert (event["Service"], event["Event"], event["Bucket"]) == (
        "Amazon S3",
        "s3:TestEvent",
        name,
    )
    assert event["RequestId"] == reply["ResponseMetadata"]["RequestId"]
    assert event["HostId"] == reply["ResponseMetadata"]["HostId"]
    assert event["Time"].endswith("Z") and len(event["Time"]) == len("2026-12-05T03:50:01.123Z")
    time.sleep(0.5)
    assert len(receiver.received) == 1 and receiver.records() == []  # one topic, one message


def test_writes_reach_the_receiver_as_s3_event_records(
    server: ServerProcess, receiver: Receiver
) -> None:
    s3, bucket = watched_bucket(server, receiver.url, ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"])
    shown = s3.get_bucket_notification_configuration(Bucket=bucket)["TopicConfigurations"]
    assert [(c["Id"], c["Events"]) for c in shown] == [
        ("all", ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"])
    ]
    put = s3.put_object(Bucket=bucket, Key="dir/a b.txt", Body=b"hello")
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="big", UploadId=upload, PartNumber=1, Body=b"x" * 10)
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="big",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    s3.delete_object(Bucket=bucket, Key="dir/a b.txt")
    # A batch's events are pushed side by side, so they may arrive in any order (as on S3);
    # the sequencer tells the order they were written in.
    records = sorted(receiver.wait_for(3), key=lambda r: int(r["s3"]["object"]["sequencer"], 16))
    assert [r["eventName"] for r in records] == [
        "ObjectCreated:Put",
        "ObjectCreated:CompleteMultipartUpload",
        "ObjectRemoved:Delete",
    ]
    first = records[0]
    assert first["eventVersion"] == "2.1" and first["eventSource"] == "aws:s3"
    assert first["awsRegion"] == REGION
    assert first["opaqueData"] == "ticket-7"
    assert first["requestParameters"]["sourceIPAddress"] == "127.0.0.1"
    assert first["s3"]["configurationId"] == "all"
    assert first["s3"]["bucket"]["name"] == bucket
    assert first["s3"]["bucket"]["arn"] == f"arn:aws:s3:::{bucket}"
    obj = first["s3"]["object"]
    assert obj["key"] == "dir/a+b.txt"
    assert (obj["size"], f'"{obj["eTag"]}"') == (5, put["ETag"])
    assert records[1]["s3"]["object"]["eTag"].endswith("-1")


def test_an_endpoint_outside_the_allowed_networks_receives_nothing(
    server: ServerProcess, receiver: Receiver
) -> None:
    outside = Receiver("127.0.0.2")  # loopback, but not 127.0.0.1/32
    try:
        s3, refused_bucket = watched_bucket(server, outside.url, ["s3:ObjectCreated:*"])
        s3.put_object(Bucket=refused_bucket, Key="k", Body=b"1")
        # An allowed endpoint's event, written after, arrives: the worker has passed the other.
        s3_ok, allowed_bucket = watched_bucket(server, receiver.url, ["s3:ObjectCreated:*"])
        s3_ok.put_object(Bucket=allowed_bucket, Key="k", Body=b"2")
        assert [r["s3"]["bucket"]["name"] for r in receiver.wait_for(1)] == [allowed_bucket]
        time.sleep(0.5)
        assert outside.received == []  # neither the event nor the configuration's test event
    finally:
        outside.close()
    log = server.log_path.read_text() if server.log_path is not None else ""
    assert "t0ken" not in log


def test_a_receiver_down_then_up_gets_the_event_after_retry(server: ServerProcess) -> None:
    port = free_port()
    s3, bucket = watched_bucket(server, f"http://127.0.0.1:{port}/events", ["s3:ObjectCreated:Put"])
    s3.put_object(Bucket=bucket, Key="while-down", Body=b"x")
    time.sleep(1.0)  # the first attempts find the port closed
    late = Receiver(port=port)
    try:
        records = late.wait_for(1)
    finally:
        late.close()
    assert [r["s3"]["object"]["key"] for r in records] == ["while-down"]


def test_tagging_and_acl_changes_reach_the_receiver(
    server: ServerProcess, receiver: Receiver
) -> None:
    """Increment 2: PutObjectTagging, DeleteObjectTagging and PutObjectAcl by boto3, each an
    S3 record of its own type (eventVersion 2.3, as S3 sends these)."""
    s3, bucket = watched_bucket(server, receiver.url, ["s3:ObjectTagging:*", "s3:ObjectAcl:Put"])
    # ACLs enabled, as a bucket must be for PutObjectAcl to change one.
    s3.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]}
    )
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": False,
            "IgnorePublicAcls": False,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": False,
        },
    )
    put = s3.put_object(Bucket=bucket, Key="doc.txt", Body=b"tagged")  # not selected
    s3.put_object_tagging(
        Bucket=bucket, Key="doc.txt", Tagging={"TagSet": [{"Key": "stage", "Value": "raw"}]}
    )
    s3.delete_object_tagging(Bucket=bucket, Key="doc.txt")
    s3.put_object_acl(Bucket=bucket, Key="doc.txt", ACL="authenticated-read")
    records = sorted(receiver.wait_for(3), key=lambda r: int(r["s3"]["object"]["sequencer"], 16))
    assert [r["eventName"] for r in records] == [
        "ObjectTagging:Put",
        "ObjectTagging:Delete",
        "ObjectAcl:Put",
    ]
    for record in records:
        assert record["eventVersion"] == "2.3"
        assert record["s3"]["object"]["key"] == "doc.txt"
        assert f'"{record["s3"]["object"]["eTag"]}"' == put["ETag"]
        assert record["opaqueData"] == "ticket-7"
        assert record["userIdentity"]["principalId"].endswith(":root")


def test_rgws_metadata_and_tag_filters_let_through_only_the_objects_they_name(
    server: ServerProcess, receiver: Receiver
) -> None:
    """botocore's S3 model has no S3Metadata or S3Tags: RGW's users send them as raw XML, as
    this test does with a signed request, then write with boto3 as usual."""
    sns, s3 = client(server, "sns"), client(server, "s3")
    bucket = f"f-{uuid.uuid4().hex[:10]}"
    arn = sns.create_topic(Name=bucket, Attributes={"push-endpoint": receiver.url})["TopicArn"]
    s3.create_bucket(Bucket=bucket)
    configuration = (
        "<NotificationConfiguration><TopicConfiguration><Id>blue-ops</Id>"
        f"<Topic>{arn}</Topic><Event>s3:ObjectCreated:*</Event><Filter>"
        "<S3Metadata><FilterRule><Name>x-amz-meta-color</Name><Value>blue</Value></FilterRule>"
        "</S3Metadata><S3Tags><FilterRule><Name>team</Name><Value>ops</Value></FilterRule>"
        "</S3Tags></Filter></TopicConfiguration></NotificationConfiguration>"
    ).encode()
    md5 = base64.b64encode(hashlib.md5(configuration, usedforsecurity=False).digest()).decode()
    raw = raw_client_for(server)
    put = raw.request("PUT", f"/{bucket}", "notification=", {"Content-MD5": md5}, configuration)
    assert put.status == 200, put.body
    shown = raw.request("GET", f"/{bucket}", "notification=")
    assert b"<S3Metadata><FilterRule><Name>x-amz-meta-color</Name>" in shown.body
    assert b"<S3Tags><FilterRule><Name>team</Name><Value>ops</Value>" in shown.body
    # boto3 parses the configuration it does not know the filters of: the rule, its topic.
    (seen,) = s3.get_bucket_notification_configuration(Bucket=bucket)["TopicConfigurations"]
    assert (seen["Id"], seen["TopicArn"]) == ("blue-ops", arn)

    s3.put_object(
        Bucket=bucket, Key="red", Body=b"1", Metadata={"color": "red"}, Tagging="team=ops"
    )
    s3.put_object(Bucket=bucket, Key="untagged", Body=b"2", Metadata={"color": "blue"})
    s3.put_object(
        Bucket=bucket, Key="match", Body=b"3", Metadata={"color": "blue"}, Tagging="team=ops"
    )
    # The last write's event is the only one: one wrongly let through, queued before it, would
    # have arrived by the time it has (and the half second after).
    records = receiver.wait_for(1)
    time.sleep(0.5)
    assert [(r["s3"]["object"]["key"], r["s3"]["configurationId"]) for r in receiver.records()] == [
        ("match", "blue-ops")
    ]
    assert records[0]["eventName"] == "ObjectCreated:Put"


def test_an_http_subscription_confirms_through_its_subscribe_url(
    server: ServerProcess, receiver: Receiver
) -> None:
    sns = client(server, "sns")
    arn = sns.create_topic(Name=f"hooks-{uuid.uuid4().hex[:8]}")["TopicArn"]
    answer = sns.subscribe(TopicArn=arn, Protocol="http", Endpoint=receiver.url)
    assert answer["SubscriptionArn"] == "pending confirmation"

    def of_type(kind: str) -> list[dict[str, Any]]:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            found = [b for b in receiver.received if b.get("Type") == kind]
            if found:
                return found
            time.sleep(0.05)
        return []

    (confirmation,) = of_type("SubscriptionConfirmation")
    with urllib.request.urlopen(confirmation["SigningCertURL"], timeout=10) as reply:
        certificate = reply.read().decode()
    assert verify(confirmation, certificate)
    with urllib.request.urlopen(confirmation["SubscribeURL"], timeout=10) as reply:
        assert reply.status == 200 and b"<SubscriptionArn>" in reply.read()
    sns.publish(TopicArn=arn, Message="hello hooks", Subject="Hi")
    (notification,) = of_type("Notification")
    assert notification["Message"] == "hello hooks" and verify(notification, certificate)
    (listed,) = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    assert listed["SubscriptionArn"].startswith(arn + ":")


def test_an_http_subscription_receives_the_publishers_trace_header(
    server: ServerProcess, receiver: Receiver
) -> None:
    """Decision 0351: SNS passes the publisher's ``X-Amzn-Trace-Id`` on to an http(s)
    subscription's POST (``TracingConfig`` ``PassThrough``, the default, and ``Active``
    alike); a publish without one sends none."""
    sns = client(server, "sns")
    arn = sns.create_topic(Name=f"traced-{uuid.uuid4().hex[:8]}")["TopicArn"]
    sns.set_topic_attributes(TopicArn=arn, AttributeName="TracingConfig", AttributeValue="Active")
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["TracingConfig"] == "Active"
    with pytest.raises(ClientError) as refused:
        sns.set_topic_attributes(TopicArn=arn, AttributeName="TracingConfig", AttributeValue="On")
    assert refused.value.response["Error"]["Code"] == "InvalidParameter"
    sns.subscribe(TopicArn=arn, Protocol="http", Endpoint=receiver.url)

    def headers_of(message: str) -> dict[str, str]:
        """The headers of the notification POST of ``message`` (waited for)."""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            for body, headers in list(receiver.posts):
                if body.get("Type") == "Notification" and body.get("Message") == message:
                    return headers
            time.sleep(0.05)
        raise AssertionError(f"no notification of {message!r}")

    deadline = time.monotonic() + 20
    while not any(b.get("Type") == "SubscriptionConfirmation" for b in receiver.received):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    (confirm,) = [b for b in receiver.received if b.get("Type") == "SubscriptionConfirmation"]
    with urllib.request.urlopen(confirm["SubscribeURL"], timeout=10) as reply:
        assert reply.status == 200
    root = f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=1"

    def add(request: Any, **_: Any) -> None:
        request.headers["X-Amzn-Trace-Id"] = root

    traced = client(server, "sns")
    traced.meta.events.register_first("before-sign.*.*", add)
    traced.publish(TopicArn=arn, Message="with a trace")
    sns.publish(TopicArn=arn, Message="without one")
    assert headers_of("with a trace")["x-amzn-trace-id"] == root
    assert "x-amzn-trace-id" not in headers_of("without one")
