"""Application Load Balancers' access logs (decision 0264): AWS's line format field by field
(and a forged quote written escaped), the five-minute intervals, the objects' names, the
bucket policy that lets the log delivery in, the attributes' checks through the ELB API
(the test object written, another account's bucket refused with AWS's ``Access Denied``),
and the batches the hosts' lines make, written gzip'd and sealed into the bucket once their
interval has ended."""

from __future__ import annotations

import dataclasses
import gzip
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from andromede.alb_access_logs import AccessLogBatches, LogBucketWriter, line_time
from andromede.app import storage_limits
from andromede.compute.driver_balancing import AccessLogLines, BalancerReport
from andromede.loadbalancing.access_logs import (
    AccessLogEntry,
    batches,
    check_access_log_attributes,
    log_body,
    log_line,
    object_key,
    policy_grants_delivery,
    probe_object_key,
    window_end,
)
from andromede.loadbalancing.errors import InvalidConfiguration, LbValidationError
from andromede.settings import Settings
from andromede.storage.blob_memory import MemoryBlobStore
from andromede.storage.service import ObjectService
from andromede.storage.store_memory import MemoryMetadataStore
from support.elbapp import REGION, ElbWorld, elb_world, refused
from support.keys import cipher_in

ACCOUNT = "123456789012"
WHEN = datetime(2026, 12, 6, 10, 23, 0, 186641, tzinfo=UTC)


def _entry(**changes: object) -> AccessLogEntry:
    made = AccessLogEntry(
        kind="http",
        time=WHEN,
        client=("192.168.131.39", 2817),
        target=("10.0.0.1", 80),
        request_time=0.0,
        target_time=0.001,
        response_time=0.0,
        elb_status=200,
        target_status=200,
        received_bytes=34,
        sent_bytes=366,
        request="GET http://www.example.com:80/ HTTP/1.1",
        user_agent="curl/7.46.0",
        trace_id="Root=1-58337262-36d228ad5d99923122bbe354",
        created=datetime(2026, 12, 6, 10, 22, 48, 364000, tzinfo=UTC),
        actions=("forward",),
        conn_trace_id="TID_1234abcd5678ef90",
        target_group_arn=f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/t/73e2",
        rule_priority="0",
    )
    return dataclasses.replace(made, **changes)  # type: ignore[arg-type]


def test_a_line_is_awss_format_field_for_field() -> None:
    line = log_line("app/my-loadbalancer/50dc6c495c0c9188", _entry())
    assert line == (
        "http 2026-12-06T10:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 "
        "192.168.131.39:2817 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366 "
        '"GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0" - - '
        f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/t/73e2 "
        '"Root=1-58337262-36d228ad5d99923122bbe354" "-" "-" 0 2026-12-06T10:22:48.364000Z '
        '"forward" "-" "-" "10.0.0.1:80" "200" "-" "-" TID_1234abcd5678ef90'
    )
    assert len(line.split(" ")) == 32  # 30 fields; the request line has two spaces


def test_an_answer_of_the_load_balancer_and_a_forged_quote() -> None:
    entry = _entry(
        target=None,
        request_time=None,
        target_time=None,
        response_time=None,
        elb_status=503,
        target_status=None,
        user_agent='evil" 200 "x\\y\u00e9',
        actions=("fixed-response",),
        target_group_arn="",
    )
    fields = log_line("app/a/1", entry)
    assert " - -1 -1 -1 503 - " in fields
    assert '"evil\\x22 200 \\x22x\\x5cy\\xc3\\xa9"' in fields
    assert '"fixed-response" "-" "-" "-" "-"' in fields


def test_intervals_and_batches() -> None:
    assert window_end(WHEN) == datetime(2026, 12, 6, 10, 25, tzinfo=UTC)
    assert window_end(datetime(2026, 12, 6, 10, 25, tzinfo=UTC)) == datetime(
        2026, 12, 6, 10, 30, tzinfo=UTC
    )
    assert window_end(datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)) == datetime(
        2027, 1, 1, tzinfo=UTC
    )
    late = datetime(2026, 12, 6, 10, 26, tzinfo=UTC)
    grouped = batches([(late, "c"), (WHEN, "b"), (WHEN.replace(minute=20), "a")])
    assert list(grouped.values()) == [["b", "a"][::-1], ["c"]]
    assert list(grouped) == [window_end(WHEN), window_end(late)]


def test_object_names_are_awss() -> None:
    end = window_end(WHEN)
    assert object_key(
        "logs/web", ACCOUNT, "eu-west-1", "my-lb", "50dc6c", end, "10.0.1.9", "r4nd"
    ) == (
        f"logs/web/AWSLogs/{ACCOUNT}/elasticloadbalancing/eu-west-1/2026/12/06/"
        f"{ACCOUNT}_elasticloadbalancing_eu-west-1_app.my-lb.50dc6c_20261206T1025Z_10.0.1.9_"
        "r4nd.log.gz"
    )
    assert object_key("", ACCOUNT, "r", "n", "i", end, "a", "x").startswith(f"AWSLogs/{ACCOUNT}/")
    assert probe_object_key("p", ACCOUNT) == f"p/AWSLogs/{ACCOUNT}/ELBAccessLogTestFile"
    assert gzip.decompress(log_body(["one", "two"])) == b"one\ntwo\n"


def test_the_attributes_checks() -> None:
    on = {"access_logs.s3.enabled": "true", "access_logs.s3.bucket": "b"}
    assert check_access_log_attributes(on) is not None
    assert check_access_log_attributes({"access_logs.s3.bucket": "b"}) is None
    with pytest.raises(LbValidationError):
        check_access_log_attributes({"access_logs.s3.enabled": "true"})
    with pytest.raises(InvalidConfiguration):
        check_access_log_attributes(on | {"access_logs.s3.prefix": "x/AWSLogs"})
    with pytest.raises(LbValidationError):
        check_access_log_attributes(on | {"access_logs.s3.prefix": "/x"})


def _policy(**statement: object) -> str:
    granted = {
        "Effect": "Allow",
        "Principal": {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": "arn:aws:s3:::logs/prefix/AWSLogs/*",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [granted | statement]})


def test_the_bucket_policy_that_lets_the_delivery_in() -> None:
    assert policy_grants_delivery(_policy(), "logs")
    assert policy_grants_delivery(_policy(Action=["s3:GetObject", "s3:PutObject"]), "logs")
    assert not policy_grants_delivery(_policy(), "other")
    assert not policy_grants_delivery(_policy(Effect="Deny"), "logs")
    assert not policy_grants_delivery(_policy(Action="s3:GetObject"), "logs")
    assert not policy_grants_delivery(_policy(Principal={"AWS": "*"}), "logs")
    assert not policy_grants_delivery(_policy(Condition={"Bool": {"x": "y"}}), "logs")
    assert not policy_grants_delivery("not json", "logs")
    assert not policy_grants_delivery(None, "logs")


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[ElbWorld, ObjectService]]:
    async with elb_world(tmp_path) as created:
        settings = Settings(data_dir=tmp_path / "data", region=REGION)
        objects = ObjectService(
            MemoryMetadataStore(),
            MemoryBlobStore(),
            dataclasses.replace(storage_limits(settings), deletion_grace=0),
            cipher_in(tmp_path / "keys"),
        )
        created.service.log_buckets = LogBucketWriter(objects)
        yield created, objects


async def _read(objects: ObjectService, bucket: str, key: str) -> bytes:
    record = await objects.head_object(bucket, key)
    return b"".join([chunk async for chunk in objects.read_object(record, 0, record.size - 1)])


async def _alb(world: ElbWorld) -> str:
    group = await world.ec2.root.call(
        "CreateSecurityGroup", GroupName="alb", Description="alb", VpcId=world.vpc_id
    )
    lb = await world.load_balancer(
        "shop", Type="application", Subnets=world.subnets[:1], SecurityGroups=[group["GroupId"]]
    )
    return str(lb["LoadBalancerArn"])


def _logs(bucket: str, prefix: str = "") -> list[dict[str, str]]:
    return [
        {"Key": "access_logs.s3.enabled", "Value": "true"},
        {"Key": "access_logs.s3.bucket", "Value": bucket},
        {"Key": "access_logs.s3.prefix", "Value": prefix},
    ]


async def test_the_attributes_take_a_bucket_that_lets_the_delivery_in(
    world: tuple[ElbWorld, ObjectService],
) -> None:
    elb, objects = world
    tenant = elb.ec2.tenant_id
    arn = await _alb(elb)
    denied = "InvalidConfigurationRequest"
    error = await refused(
        elb.client, "ModifyLoadBalancerAttributes", denied, LoadBalancerArn=arn,
        Attributes=_logs("missing"),
    )  # fmt: skip
    assert "Access Denied for bucket: missing" in str(error)
    await objects.create_bucket("theirs", tenant_id="999999999999", owner_id="o", region=REGION)
    await refused(
        elb.client, "ModifyLoadBalancerAttributes", denied, LoadBalancerArn=arn,
        Attributes=_logs("theirs"),
    )  # fmt: skip
    await objects.set_bucket_policy("theirs", _policy(Resource="arn:aws:s3:::theirs/*"))
    await elb.client.call(
        "ModifyLoadBalancerAttributes", LoadBalancerArn=arn, Attributes=_logs("theirs")
    )
    assert await _read(objects, "theirs", f"AWSLogs/{tenant}/ELBAccessLogTestFile")
    await objects.create_bucket("mine", tenant_id=tenant, owner_id=tenant, region=REGION)
    await elb.client.call(
        "ModifyLoadBalancerAttributes", LoadBalancerArn=arn, Attributes=_logs("mine", "web")
    )
    record = await objects.head_object("mine", f"web/AWSLogs/{tenant}/ELBAccessLogTestFile")
    assert record.size > 0
    shown = await elb.client.call("DescribeLoadBalancerAttributes", LoadBalancerArn=arn)
    held = {a["Key"]: a["Value"] for a in shown["Attributes"]}
    assert (held["access_logs.s3.enabled"], held["access_logs.s3.bucket"]) == ("true", "mine")
    await refused(
        elb.client, "ModifyLoadBalancerAttributes", denied, LoadBalancerArn=arn,
        Attributes=_logs("mine", "AWSLogs"),
    )  # fmt: skip
    # A Network Load Balancer's too (decision 0269), the same bucket checks.
    nlb = await elb.load_balancer("tcp")
    await refused(
        elb.client, "ModifyLoadBalancerAttributes", denied,
        LoadBalancerArn=nlb["LoadBalancerArn"], Attributes=_logs("missing"),
    )  # fmt: skip
    await elb.client.call(
        "ModifyLoadBalancerAttributes", LoadBalancerArn=nlb["LoadBalancerArn"],
        Attributes=_logs("mine", "edge"),
    )  # fmt: skip
    assert await _read(objects, "mine", f"edge/AWSLogs/{tenant}/ELBAccessLogTestFile")


async def test_the_hosts_lines_are_written_once_their_interval_ends(
    world: tuple[ElbWorld, ObjectService],
) -> None:
    elb, objects = world
    tenant = elb.ec2.tenant_id
    arn = await _alb(elb)
    await objects.create_bucket("mine", tenant_id=tenant, owner_id=tenant, region=REGION)
    group = await elb.target_group("api", Protocol="HTTP", Port=8080)
    await elb.client.call(
        "CreateListener", LoadBalancerArn=arn, Protocol="HTTP", Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}],
    )  # fmt: skip
    (view,) = [v for v in await elb.service.forwarding_views() if v.http is not None]
    assert view.http is not None and view.http.access_log == ""  # off: no line written
    await elb.client.call(
        "ModifyLoadBalancerAttributes", LoadBalancerArn=arn, Attributes=_logs("mine", "web")
    )
    (view,) = [v for v in await elb.service.forwarding_views() if v.http is not None]
    assert view.http is not None and view.http.access_log.startswith("app/shop/")
    assert [arn for _, arn in view.http.group_arns] == [group["TargetGroupArn"]]
    now = [datetime(2026, 12, 6, 10, 24, tzinfo=UTC)]
    writer = elb.service.log_buckets
    assert isinstance(writer, LogBucketWriter)
    held = AccessLogBatches(
        elb.service, writer, REGION, clock=lambda: now[0], random=lambda: "r4nd"
    )
    address = view.addresses[0]
    first = log_line(view.http.access_log, _entry())
    second = log_line(view.http.access_log, _entry(time=WHEN.replace(minute=26)))
    report = BalancerReport(
        access_logs=(
            AccessLogLines(view.vpc_id, address, view.port, (second, first)),
            AccessLogLines("vpc-gone", address, 80, (first,)),  # not a listener: dropped
        )
    )
    held.record("host-a", [view], report)
    assert await held.flush() == []  # 10:24: the interval ends at 10:25
    now[0] = datetime(2026, 12, 6, 10, 25, tzinfo=UTC)
    (key,) = await held.flush()
    lb_id = arn.rsplit("/", 1)[1]
    assert key == (
        f"web/AWSLogs/{tenant}/elasticloadbalancing/{REGION}/2026/12/06/{tenant}_"
        f"elasticloadbalancing_{REGION}_app.shop.{lb_id}_20261206T1025Z_{address}_r4nd.log.gz"
    )
    assert gzip.decompress(await _read(objects, "mine", key)).decode() == f"{first}\n"
    record = await objects.head_object("mine", key)
    assert record.encryption is not None  # sealed as every object
    # Turned off before the next interval ends: its lines are not written.
    await elb.client.call(
        "ModifyLoadBalancerAttributes", LoadBalancerArn=arn,
        Attributes=[{"Key": "access_logs.s3.enabled", "Value": "false"}],
    )  # fmt: skip
    now[0] = datetime(2026, 12, 6, 10, 31, tzinfo=UTC)
    assert await held.flush() == []
    assert line_time(first) == WHEN and line_time("garbage") is None


def test_the_desync_classification_of_what_h11_lets_through() -> None:
    """Decision 0269: AWS's classification and reason, the most severe found; a compliant
    request's are ``-``."""
    from andromede.loadbalancing.http_classification import classify

    host = (b"host", b"x")
    assert classify(b"GET", [host]) == ("", "")
    assert classify(b"GET", [host, (b"content-length", b"0")]) == (
        "Acceptable", "GetHeadZeroContentLength",
    )  # fmt: skip
    assert classify(b"HEAD", [host, (b"content-length", b"2")]) == (
        "Ambiguous", "UndefinedContentLengthSemantics",
    )  # fmt: skip
    assert classify(b"GET", [host, (b"transfer-encoding", b"chunked")]) == (
        "Ambiguous", "UndefinedTransferEncodingSemantics",
    )  # fmt: skip
    both = [host, (b"content-length", b"3"), (b"transfer-encoding", b"chunked")]
    assert classify(b"POST", both) == ("Ambiguous", "BothTeClPresent")
    assert classify(b"POST", [host, (b"transfer_encoding", b"chunked")]) == (
        "Ambiguous", "SuspiciousHeader",
    )  # fmt: skip
    assert classify(b"POST", [*both[:2], (b"transfer_encoding", b"chunked")]) == (
        "Severe", "SuspiciousTeClPresent",
    )  # fmt: skip
    assert classify(b"POST", [host, (b"x-empty", b" ")]) == ("Acceptable", "EmptyHeader")
    assert classify(b"POST", [host, (b"x-a", b"\xe9t\xe9")]) == (
        "Acceptable", "NonCompliantHeader",
    )  # fmt: skip
    # The most severe wins over an earlier, milder one.
    assert classify(b"GET", [(b"x-empty", b""), (b"content-length", b"5")])[0] == "Ambiguous"
    fields = log_line(
        "app/a/1", _entry(classification="Acceptable", classification_reason="EmptyHeader")
    ).split(" ")
    assert fields[-3:-1] == ['"Acceptable"', '"EmptyHeader"']
    assert log_line("app/a/1", _entry()).split(" ")[-3:-1] == ['"-"', '"-"']


def test_the_desync_mitigation_table_and_its_hand_over() -> None:
    """Decision 0287: AWS's table (forwarded, closed after the response, refused), and the
    mode handed with the listener over the agents' wire, omitted at its default."""
    from andromede.compute.driver_balancing import BalancedHttp
    from andromede.hypervisor.balancer_host import http_settings
    from andromede.hypervisor.http_listeners import routing_of
    from andromede.hypervisor.wire import decode, encode
    from andromede.loadbalancing.application import HttpSettings
    from andromede.loadbalancing.http_classification import mitigation
    from andromede.loadbalancing.http_rules import FixedResponse, Rule
    from andromede.loadbalancing.model import ForwardingView
    from andromede.wiring.load_balancer_hosts import balanced_http

    table = {
        mode: [mitigation(mode, c) for c in ("", "Acceptable", "Ambiguous", "Severe")]
        for mode in ("monitor", "defensive", "strictest")
    }
    assert table == {
        "monitor": ["forward", "forward", "forward", "forward"],
        "defensive": ["forward", "forward", "close", "refuse"],
        "strictest": ["forward", "refuse", "refuse", "refuse"],
    }
    rules = (Rule("d", None, (), FixedResponse("200", "text/plain", "ok")),)
    handed = balanced_http(
        HttpSettings(rules=rules, desync_mode="strictest", connection_log="app/shop/50dc")
    )
    carried = decode(BalancedHttp, json.loads(json.dumps(encode(handed))))
    view = ForwardingView("l1", "vpc-1", ("10.0.0.5",), 443, http=http_settings(carried))
    routing, limits = routing_of(view)
    assert (limits.desync_mode, routing.connection_log) == ("strictest", "app/shop/50dc")
    plain = encode(balanced_http(HttpSettings(rules=rules)))
    assert "desync_mode" not in plain and "connection_log" not in plain  # older hosts read on
    with pytest.raises(ValueError, match="desync"):
        dataclasses.replace(handed, desync_mode="lenient")


def test_a_connection_log_line_is_awss_format_field_for_field() -> None:
    """Decision 0287: AWS's twelve fields, the subject quoted and escaped, ``-`` for what a
    failed handshake never chose; the verify results as AWS's reasons; the objects' names."""
    from andromede.loadbalancing.connection_logs import (
        ConnectionLogEntry,
        check_connection_log_attributes,
        connection_line_time,
        connection_log_line,
        connection_object_key,
        failed_status,
        leaf_fields,
    )
    from support.client_pki import ClientCa

    entry = ConnectionLogEntry(
        time=WHEN, client=("203.0.113.1", 6789), listener_port=443, verify_status="Success",
        conn_trace_id="TID_1234abcd", tls_protocol="TLSv1.2",
        tls_cipher="ECDHE-RSA-AES128-GCM-SHA256", handshake_latency=0.0042,
        cert_subject='CN=Jane "J" Doe', cert_validity="NotBefore=2026-01-01T00:00:00Z;"
        "NotAfter=2027-01-01T00:00:00Z", cert_serial="0A1B",
    )  # fmt: skip
    assert connection_log_line(entry) == (
        "2026-12-06T10:23:00.186641Z 203.0.113.1 6789 443 TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256 "
        '0.004 "CN=Jane \\x22J\\x22 Doe" NotBefore=2026-01-01T00:00:00Z;'
        "NotAfter=2027-01-01T00:00:00Z 0A1B Success TID_1234abcd"
    )
    failed = ConnectionLogEntry(WHEN, ("203.0.113.1", 6789), 443, failed_status(10), "TID_9")
    assert connection_log_line(failed).split(" ")[4:] == [
        "-", "-", "-", '"-"', "-", "-", "Failed:ClientCertExpired", "TID_9",
    ]  # fmt: skip
    assert connection_line_time(connection_log_line(failed)) == WHEN
    assert connection_line_time("garbage") is None
    assert [failed_status(code) for code in (None, 9, 20, 23, 22, 26, 65)] == [
        "Failed:UnmappedConnectionError",
        "Failed:ClientCertNotYetValid",
        "Failed:ClientCertUntrusted",
        "Failed:ClientCertCrlHit",
        "Failed:ClientCertMaxChainDepthExceeded",
        "Failed:ClientCertPurposeInvalid",
        "Failed:ClientCertInvalid",
    ]
    alice = ClientCa().issue("alice")
    subject, validity, serial = leaf_fields(alice.certificate.public_bytes(Encoding.DER))
    assert subject == "CN=alice" and validity.startswith("NotBefore=") and len(serial) % 2 == 0
    assert int(serial, 16) == alice.serial
    assert leaf_fields(b"not a certificate") == ("", "", "")
    assert connection_object_key(
        "conn", ACCOUNT, "eu-west-1", "my-lb", "50dc6c", window_end(WHEN), "10.0.1.9", "r4nd"
    ) == (
        f"conn/AWSLogs/{ACCOUNT}/elasticloadbalancing/eu-west-1/2026/12/06/conn_log.{ACCOUNT}_"
        "elasticloadbalancing_eu-west-1_app.my-lb.50dc6c_20261206T1025Z_10.0.1.9_r4nd.log.gz"
    )
    on = {"connection_logs.s3.enabled": "true", "connection_logs.s3.bucket": "b"}
    assert check_connection_log_attributes(on) is not None
    assert check_connection_log_attributes(on | {"connection_logs.s3.enabled": "false"}) is None
    with pytest.raises(LbValidationError, match=r"connection_logs\.s3\.bucket"):
        check_connection_log_attributes({"connection_logs.s3.enabled": "true"})
    with pytest.raises(InvalidConfiguration, match="connection logs"):
        check_connection_log_attributes(on | {"connection_logs.s3.prefix": "AWSLogs"})


def _connection_logs(bucket: str, prefix: str = "") -> list[dict[str, str]]:
    return [
        {"Key": "connection_logs.s3.enabled", "Value": "true"},
        {"Key": "connection_logs.s3.bucket", "Value": bucket},
        {"Key": "connection_logs.s3.prefix", "Value": prefix},
    ]


async def test_connection_logs_through_the_elb_api_and_their_objects(
    world: tuple[ElbWorld, ObjectService],
) -> None:
    """Decision 0287: ``connection_logs.s3.*`` checked as the access logs' (AWS's ``Access
    Denied for bucket``, the test object), handed to the proxies while on, and the hosts'
    lines written into their own destination in AWS's ``conn_log`` objects, sealed."""
    from andromede.loadbalancing.connection_logs import ConnectionLogEntry, connection_log_line

    elb, objects = world
    tenant = elb.ec2.tenant_id
    arn = await _alb(elb)
    denied = "InvalidConfigurationRequest"
    error = await refused(
        elb.client, "ModifyLoadBalancerAttributes", denied, LoadBalancerArn=arn,
        Attributes=_connection_logs("missing"),
    )  # fmt: skip
    assert "Access Denied for bucket: missing" in str(error)
    await objects.create_bucket("mine", tenant_id=tenant, owner_id=tenant, region=REGION)
    await refused(
        elb.client, "ModifyLoadBalancerAttributes", denied, LoadBalancerArn=arn,
        Attributes=_connection_logs("mine", "x/AWSLogs"),
    )  # fmt: skip
    group = await elb.target_group("api", Protocol="HTTP", Port=8080)
    await elb.client.call(
        "CreateListener", LoadBalancerArn=arn, Protocol="HTTP", Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}],
    )  # fmt: skip
    (view,) = [v for v in await elb.service.forwarding_views() if v.http is not None]
    assert view.http is not None and view.http.connection_log == ""
    assert view.http.desync_mode == "defensive"
    await elb.client.call(
        "ModifyLoadBalancerAttributes", LoadBalancerArn=arn,
        Attributes=[*_connection_logs("mine", "conn"),
                    {"Key": "routing.http.desync_mitigation_mode", "Value": "strictest"}],
    )  # fmt: skip
    assert await _read(objects, "mine", f"conn/AWSLogs/{tenant}/ELBAccessLogTestFile")
    (view,) = [v for v in await elb.service.forwarding_views() if v.http is not None]
    assert view.http is not None and view.http.connection_log.startswith("app/shop/")
    assert (view.http.access_log, view.http.desync_mode) == ("", "strictest")
    now = [datetime(2026, 12, 6, 10, 24, tzinfo=UTC)]
    writer = elb.service.log_buckets
    assert isinstance(writer, LogBucketWriter)
    held = AccessLogBatches(
        elb.service, writer, REGION, clock=lambda: now[0], random=lambda: "r4nd"
    )
    address = view.addresses[0]
    line = connection_log_line(
        ConnectionLogEntry(WHEN, ("203.0.113.1", 6789), 80, "Success", "TID_1")
    )
    held.record(
        "host-a", [view],
        BalancerReport(connection_logs=(AccessLogLines(view.vpc_id, address, 80, (line,)),)),
    )  # fmt: skip
    now[0] = datetime(2026, 12, 6, 10, 25, tzinfo=UTC)
    (key,) = await held.flush()
    lb_id = arn.rsplit("/", 1)[1]
    assert key == (
        f"conn/AWSLogs/{tenant}/elasticloadbalancing/{REGION}/2026/12/06/conn_log.{tenant}_"
        f"elasticloadbalancing_{REGION}_app.shop.{lb_id}_20261206T1025Z_{address}_r4nd.log.gz"
    )
    assert gzip.decompress(await _read(objects, "mine", key)).decode() == f"{line}\n"
    assert (await objects.head_object("mine", key)).encryption is not None
