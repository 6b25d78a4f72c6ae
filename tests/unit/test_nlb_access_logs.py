"""Network Load Balancers' access logs (decision 0269): AWS's NLB line (``tls 2.0``) field by
field, a failed handshake's, an SNI name that cannot split the line, the objects' names (no
node address, unlike an ALB's), the bucket policy of AWS's NLB documentation (the vended logs'
principal), and through the ELB API a TLS listener's view carrying ``net/NAME/ID`` once its
load balancer's logs are on, the hosts' lines written gzip'd and sealed once their interval
ends; the hand-over to the hosts round-trips through the agents' wire."""

from __future__ import annotations

import dataclasses
import gzip
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from andromede.alb_access_logs import AccessLogBatches, LogBucketWriter, line_time
from andromede.app import storage_limits
from andromede.compute.driver_balancing import (
    AccessLogLines,
    BalancedTls,
    BalancerReport,
    ServedCertificate,
)
from andromede.hypervisor.balancer_host import tls_settings
from andromede.loadbalancing.access_logs import policy_grants_delivery
from andromede.loadbalancing.nlb_access_logs import (
    TlsConnectionEntry,
    nlb_object_key,
    tls_log_line,
)
from andromede.settings import Settings
from andromede.storage.blob_memory import MemoryBlobStore
from andromede.storage.service import ObjectService
from andromede.storage.store_memory import MemoryMetadataStore
from support.elbapp import REGION, ElbWorld, elb_world
from support.keys import cipher_in
from support.tls_certificates import TestCa

CERT = "arn:aws:acm:us-east-2:671290407336:certificate/2a108f19-aded-46b0-8493-c63eb1ef4a99"
ENDED = datetime(2026, 12, 6, 10, 23, 40, 500000, tzinfo=UTC)


def _entry(**changes: object) -> TlsConnectionEntry:
    made = TlsConnectionEntry(
        created=datetime(2026, 12, 6, 10, 23, 30, tzinfo=UTC),
        ended=ENDED,
        client=("72.21.218.154", 51341),
        destination=("172.100.100.185", 443),
        connection_time=0.005,
        handshake_time=0.002,
        received_bytes=98,
        sent_bytes=246,
        chosen_cert_arn=CERT,
        tls_cipher="ECDHE-RSA-AES128-SHA",
        tls_protocol="TLSv1.2",
        domain_name="my-nlb.example.test",
        alpn_fe_protocol="h2",
    )
    return dataclasses.replace(made, **changes)  # type: ignore[arg-type]


def test_a_line_is_awss_nlb_format_field_for_field() -> None:
    line = tls_log_line("net/my-nlb/c6e77e28c25b2234", "g3d4b5e8bb8464cd", _entry())
    assert line == (
        "tls 2.0 2026-12-06T10:23:40 net/my-nlb/c6e77e28c25b2234 g3d4b5e8bb8464cd "
        "72.21.218.154:51341 172.100.100.185:443 5 2 98 246 - " + CERT + " - "
        "ECDHE-RSA-AES128-SHA tlsv12 - my-nlb.example.test h2 - - 2026-12-06T10:23:30"
    )
    assert len(line.split(" ")) == 22
    assert line_time(line) == ENDED.replace(microsecond=0)


def test_a_failed_handshake_and_a_forged_server_name() -> None:
    failed = tls_log_line(
        "net/n/1", "l", _entry(handshake_time=None, chosen_cert_arn="", tls_cipher="",
                               tls_protocol="", domain_name="", alpn_fe_protocol="",
                               received_bytes=0, sent_bytes=0),
    )  # fmt: skip
    fields = failed.split(" ")
    assert fields[8] == "-" and fields[12] == "-" and fields[14:21] == ["-"] * 7
    forged = tls_log_line("net/n/1", "l", _entry(domain_name='a b"\n\u00e9'))
    assert len(forged.split(" ")) == 22
    assert forged.split(" ")[17] == "a%20b%22%0A%C3%A9"


def test_object_names_are_awss_for_an_nlb() -> None:
    end = datetime(2026, 12, 6, 10, 25, tzinfo=UTC)
    assert nlb_object_key("edge", "123456789012", REGION, "my-nlb", "c6e7", end, "r4nd") == (
        f"edge/AWSLogs/123456789012/elasticloadbalancing/{REGION}/2026/12/06/123456789012_"
        f"elasticloadbalancing_{REGION}_net.my-nlb.c6e7_20261206T1025Z_r4nd.log.gz"
    )


def test_the_vended_logs_principal_of_awss_nlb_policy_lets_the_delivery_in() -> None:
    def policy(service: str) -> str:
        statement = {
            "Effect": "Allow", "Principal": {"Service": service}, "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::logs/AWSLogs/*",
        }  # fmt: skip
        return json.dumps({"Version": "2012-10-17", "Statement": [statement]})

    assert policy_grants_delivery(policy("delivery.logs.amazonaws.com"), "logs")
    assert policy_grants_delivery(policy("logdelivery.elasticloadbalancing.amazonaws.com"), "logs")
    assert not policy_grants_delivery(policy("ec2.amazonaws.com"), "logs")


def test_the_hand_over_carries_the_logs_through_the_agents_wire() -> None:
    from andromede.hypervisor.wire import decode, encode

    served = ServedCertificate("arn:c", "body", "", b"key")
    tls = BalancedTls((served,), "ELBSecurityPolicy-2016-08", access_log="net/n/1",
                      access_log_max_lines=2000)  # fmt: skip
    assert decode(BalancedTls, json.loads(json.dumps(encode(tls)))) == tls
    assert "access_log" not in encode(dataclasses.replace(tls, access_log=""))
    settings = tls_settings(tls)
    assert (settings.access_log, settings.access_log_max_lines) == ("net/n/1", 2000)
    assert tls.without_keys().access_log == "net/n/1"


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


async def test_a_tls_listeners_lines_are_written_once_their_interval_ends(
    world: tuple[ElbWorld, ObjectService],
) -> None:
    elb, objects = world
    tenant = elb.ec2.tenant_id
    issued = TestCa().issue("www.example.test")
    certificate = await elb.ec2.identity.upload_server_certificate(
        tenant, "www", issued.body, issued.key
    )
    lb = await elb.load_balancer("edge")
    group = await elb.target_group(Protocol="TLS", Port=443)
    await elb.client.call(
        "CreateListener", LoadBalancerArn=lb["LoadBalancerArn"], Protocol="TLS", Port=443,
        Certificates=[{"CertificateArn": certificate.arn}],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}],
    )  # fmt: skip
    (view,) = await elb.service.forwarding_views()
    assert view.tls is not None and view.tls.access_log == ""  # off: no line written
    await objects.create_bucket("mine", tenant_id=tenant, owner_id=tenant, region=REGION)
    await elb.client.call(
        "ModifyLoadBalancerAttributes", LoadBalancerArn=lb["LoadBalancerArn"],
        Attributes=[
            {"Key": "access_logs.s3.enabled", "Value": "true"},
            {"Key": "access_logs.s3.bucket", "Value": "mine"},
            {"Key": "access_logs.s3.prefix", "Value": "edge"},
        ],
    )  # fmt: skip
    (view,) = await elb.service.forwarding_views()
    lb_id = lb["LoadBalancerArn"].rsplit("/", 1)[1]
    assert view.tls is not None and view.tls.access_log == f"net/edge/{lb_id}"
    assert view.tls.access_log_max_lines == 100000
    now = [datetime(2026, 12, 6, 10, 24, tzinfo=UTC)]
    writer = elb.service.log_buckets
    assert isinstance(writer, LogBucketWriter)
    held = AccessLogBatches(
        elb.service, writer, REGION, clock=lambda: now[0], random=lambda: "r4nd"
    )
    address = view.addresses[0]
    line = tls_log_line(view.tls.access_log, view.listener_id, _entry())
    report = BalancerReport(access_logs=(AccessLogLines(view.vpc_id, address, view.port, (line,)),))
    held.record("host-a", [view], report)
    assert await held.flush() == []  # 10:24: the interval ends at 10:25
    now[0] = datetime(2026, 12, 6, 10, 25, tzinfo=UTC)
    (key,) = await held.flush()
    assert key == nlb_object_key("edge", tenant, REGION, "edge", lb_id, now[0], "r4nd")
    record = await objects.head_object("mine", key)
    assert record.encryption is not None  # sealed as every object
    body = b"".join([c async for c in objects.read_object(record, 0, record.size - 1)])
    assert gzip.decompress(body).decode() == f"{line}\n"
