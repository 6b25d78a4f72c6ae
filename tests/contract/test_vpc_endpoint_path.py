"""A VPC gateway endpoint's data path on the real kernel (decision 0160): a VPC of two subnets
on this host, one routed to an endpoint; namespace guests without a security group rule, a
NAT gateway or an internet gateway. The guest of the routed subnet fetches an object from the
object store's address (as guests see it): its router DNATs the connection to the endpoint
listener on its transit link's host side, which serves the real S3 app knowing the endpoint
from the connection alone. The bucket policy lets only requests through that endpoint read
(``aws:SourceVpce``): the guest reads; the same request from elsewhere, and the guest of the
other subnet, do not; an endpoint policy that does not allow the read refuses it. An access
point restricted to the VPC (decision 0157's addendum) answers the guest through its alias,
with ``s3:AccessPointNetworkOrigin`` ``VPC``, and nobody from elsewhere, the owner included;
one restricted to another VPC refuses the guest. The guest's https to the store's address is
answered by the listener's TLS port with the store's certificate (decision 0160's addendum),
which the guest verifies by the store's name. An Interface endpoint (decision 0166) beside
it: reached at its address under its groups, told apart from the gateway endpoint. The
sender's security group egress judges both kinds by the original destination (decision 0160's
session-47 addendum); the metadata service stays unjudged. Beside them, Interface endpoints to
KMS, SQS (decision 0174), EC2 and CloudWatch (its session-48 addendum) serve the guest's
signed calls. Needs root,
``ip``, ``nft``, ``dnsmasq`` and ``busybox``, as the other tenant-network tests.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme

from andromede.api_routing import api_service
from andromede.compute.driver_network import (
    EndpointRoute,
    FirewallRule,
    InstanceFirewall,
    NetworkSpec,
    NicSpec,
)
from andromede.compute.vpc_endpoint import DEFAULT_POLICY
from andromede.http.response import Receive, Scope, Send
from andromede.hypervisor.metadata_listeners import ListenerTls, MetadataListeners
from andromede.hypervisor.tenant_network import NetworkLayout, TenantNetworks
from andromede.kms.keys_store import MemoryCustomerKeyStore
from andromede.storage.access_points import AccessPoint, MemoryAccessPointStore, new_alias
from andromede.storage.model import PublicAccessBlock
from andromede.vpc_endpoint_front import EndpointForwarder, EndpointGate, attestation_key
from support.cloudwatchapp import Harness as CloudWatch
from support.cloudwatchapp import cloudwatch
from support.ec2app import World as Ec2
from support.ec2app import ec2_world
from support.kmsapp import Harness as Kms
from support.kmsapp import kms_harness
from support.s3app import REGION, Client, in_process_client
from support.sqsapp import Harness as Sqs
from support.sqsapp import sqs
from support.tenant_networks import (
    Guest,
    guest,
    needs_root_and_tools,
    networks,
    random_layout,
    serving,
)

# The fixtures this module takes from support.
__all__ = ["cloudwatch", "needs_root_and_tools", "networks", "sqs"]

S3_ADDRESS = "192.0.2.80"
STORE_NAME = "s3.eu-fr-1.example.test"
VPC = "vpc-" + secrets.token_hex(4)
VPCE = "vpce-0" + secrets.token_hex(8)
KEY = "/guarded/report.csv"
BODY = b"quarter,total\nQ4,42\n"


@pytest.fixture
def layout() -> NetworkLayout:
    base = random_layout("e")
    port = 40000 + secrets.randbelow(20000)
    return replace(base, vpce_port=port, vpce_tls_port=port + 1)


POINTS = MemoryAccessPointStore()


async def _access_point(owner: Client, name: str, vpc_id: str) -> str:
    """A VPC-only access point on the bucket whose policy lets anyone read through it when
    its network origin is a VPC (its Block Public Access off: the policy names everyone)."""
    arn = f"arn:aws:s3:{REGION}:{owner.tenant_id}:accesspoint/{name}"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"{arn}/object/*",
                "Condition": {"StringEquals": {"s3:AccessPointNetworkOrigin": "VPC"}},
            }
        ],
    }
    point = AccessPoint(
        tenant_id=owner.tenant_id,
        name=name,
        bucket="guarded",
        bucket_account=owner.tenant_id,
        alias=new_alias(name),
        public_access_block=PublicAccessBlock(False, False, False, False),
        created_at=datetime.now(UTC),
        policy=json.dumps(policy),
        vpc_id=vpc_id,
    )
    await POINTS.create(point, quota=10)
    return point.alias


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Client]:
    async with in_process_client(tmp_path / "data", access_points=POINTS) as client:
        assert (await client.request("PUT", "/guarded")).status == 200
        assert (await client.request("PUT", KEY, BODY)).status == 200
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::guarded/*",
                    "Condition": {"StringEquals": {"aws:SourceVpce": VPCE}},
                }
            ],
        }
        reply = await client.request("PUT", "/guarded?policy", json.dumps(policy).encode())
        assert reply.status == 204, reply.body
        yield client


# A guest's GET of the object at the store's address, printing the status line's code and the
# body ("" when no answer comes).
_PROBE = f"""NAME = {STORE_NAME!r}
import socket, ssl, sys
try:
    tls = sys.argv[4]
    s = socket.create_connection((sys.argv[1], 443 if tls else 80), timeout=float(sys.argv[3]))
    if tls:
        s = ssl.create_default_context(cafile=tls).wrap_socket(s, server_hostname=NAME)
    s.sendall(("GET " + sys.argv[2] + " HTTP/1.1\\r\\nHost: " + sys.argv[1]
               + "\\r\\nConnection: close\\r\\n\\r\\n").encode())
    answer = b""
    while chunk := s.recv(4096):
        answer += chunk
    head, _, body = answer.partition(b"\\r\\n\\r\\n")
    print(head.split(b" ")[1].decode() + " " + body.decode(errors="replace"), end="")
except OSError:
    print("", end="")
"""


# A guest's signed call (KMS's, SQS's, CloudWatch's JSON; EC2's form when the target is "-")
# at an Interface endpoint's address, as boto3 sends it: "<status> <body>" ("" when no answer
# comes).
_SIGNED = """import http.client, sys
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
address, service, target, body, key, secret, kind = sys.argv[1:8]
headers = {"Content-Type": kind} | ({} if target == "-" else {"X-Amz-Target": target})
request = AWSRequest(method="POST", url="http://" + address + "/", data=body.encode(),
                     headers=headers)
SigV4Auth(Credentials(key, secret), service, "eu-fr-1").add_auth(request)
try:
    connection = http.client.HTTPConnection(address, 80, timeout=10)
    connection.request("POST", "/", body.encode(), dict(request.headers.items()))
    answer = connection.getresponse()
    print(str(answer.status) + " " + answer.read().decode(), end="")
except OSError:
    print("", end="")
"""


async def _signed(
    g: Guest, address: str, service: str, action: str, body: dict[str, Any], signer: Kms | Sqs
) -> tuple[int, dict[str, Any]]:
    """The guest's ``service`` call ``action`` at ``address``, signed as ``signer``'s caller:
    the answer's status and JSON body."""
    target, kind = (
        (f"TrentService.{action}", "application/x-amz-json-1.1")
        if service == "kms"
        else (f"AmazonSQS.{action}", "application/x-amz-json-1.0")
    )
    assert signer.credentials is not None
    status, text = await _guest_call(g, address, service, target, json.dumps(body), kind,
                                     signer.credentials)  # fmt: skip
    return status, json.loads(text or "{}")


async def _guest_call(
    g: Guest, address: str, service: str, target: str, body: str, kind: str, signer: Any
) -> tuple[int, str]:
    """The guest's call signed for ``service`` with ``signer`` (botocore credentials): the
    answer's status and body."""
    args = [address, service, target, body, signer.access_key, signer.secret_key, kind]
    done = await asyncio.to_thread(g.run, sys.executable, "-c", _SIGNED, *args, timeout=30)
    status, _, text = done.stdout.partition(" ")
    return int(status), text


@pytest.fixture
async def kms(tmp_path: Path) -> AsyncIterator[Kms]:
    async for harness in kms_harness(tmp_path / "kms", MemoryCustomerKeyStore()):
        yield harness


@pytest.fixture
async def ec2(tmp_path: Path) -> AsyncIterator[Ec2]:
    (tmp_path / "ec2").mkdir()
    async with ec2_world(tmp_path / "ec2") as world:
        yield world


async def _get(
    g: Guest,
    timeout: float = 10.0,
    path: str = KEY,
    tls: Path | None = None,
    address: str = S3_ADDRESS,
) -> str:
    """The guest's GET at the store's address (or ``address``: an Interface endpoint's):
    plain HTTP on port 80, or https on 443 trusting ``tls`` (a CA file) for the store's
    name."""
    args = [address, path, str(timeout), str(tls or "")]
    done = await asyncio.to_thread(g.run, sys.executable, "-c", _PROBE, *args, timeout=timeout + 10)
    return done.stdout


@asynccontextmanager
async def _front(
    networks: TenantNetworks,
    layout: NetworkLayout,
    store: Client,
    tmp_path: Path,
    policies: dict[str, str],
    apis: dict[str, tuple[str, Any]] | None = None,
) -> AsyncIterator[tuple[MetadataListeners, Path]]:
    """The agent's forwarder on the endpoint listeners (plain and TLS, with the store's
    certificate), the gateway's gate before the S3 app (over httpx's ASGI transport: the
    gateway's HTTP server is not what these tests are about); ``policies``: the live
    endpoints' policies, all of ``VPC``; ``apis``: the other APIs' endpoints (decision 0174:
    service → its endpoint's id and the API's app), each request handed to the API its
    credential scope names, as the gateway's front does. Yields the listeners and the test
    CA's file."""
    others = apis or {}
    services = {endpoint: service for service, (endpoint, _) in others.items()}

    async def lookup(endpoint_id: str) -> tuple[str, str, str] | None:
        policy = policies.get(endpoint_id)
        return None if policy is None else (VPC, policy, services.get(endpoint_id, "s3"))

    secret = tmp_path / "secrets.key"
    secret.write_bytes(secrets.token_bytes(32))
    key = attestation_key(secret)
    gate = EndpointGate(key, lookup, max_age=60, clock=time.time)

    async def gateway(scope: Scope, receive: Receive, send: Send) -> None:
        attested = EndpointGate.attested(scope)
        assert attested is not None  # every request here comes through the forwarder
        service = api_service(scope)
        served = store.app if service == "s3" else others.get(service, ("", None))[1]
        await gate.serve(attested, service, served, scope, receive, send)

    forwarder = EndpointForwarder(
        networks.endpoint_origin, key, "http://gateway",
        transport=httpx.ASGITransport(app=gateway),
    )  # fmt: skip
    ca = trustme.CA()
    leaf = ca.issue_cert(STORE_NAME)
    cert, cert_key, authority = tmp_path / "s3.pem", tmp_path / "s3-key.pem", tmp_path / "ca.pem"
    cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(cert_key))
    ca.cert_pem.write_to_path(str(authority))
    listeners = MetadataListeners(
        forwarder, layout.vpce_port, ListenerTls(layout.vpce_tls_port, str(cert), str(cert_key))
    )
    try:
        yield listeners, authority
    finally:
        await listeners.close()
        await forwarder.aclose()


async def test_a_guest_reads_through_its_endpoint_and_nothing_else_does(
    networks: TenantNetworks, layout: NetworkLayout, store: Client, tmp_path: Path
) -> None:
    routed = NetworkSpec(
        network_id="subnet-" + secrets.token_hex(4), tenant_id="111111111111",
        cidr="10.0.1.0/24", vpc_id=VPC, vpc_cidr="10.0.0.0/16",
    )  # fmt: skip
    plain = replace(routed, network_id="subnet-" + secrets.token_hex(4), cidr="10.0.2.0/24")
    # No public address: nothing but the metadata service (and now the endpoint) through
    # the host.
    inside = NicSpec(routed, "02:00:00:00:01:0b", "10.0.1.11", public_address=False)
    other = NicSpec(plain, "02:00:00:00:02:0b", "10.0.2.11", public_address=False)
    policies = {VPCE: DEFAULT_POLICY}
    async with (
        guest(networks, "i-vpce-in", inside) as g,
        guest(networks, "i-vpce-out", other) as o,
        _front(networks, layout, store, tmp_path, policies) as (listeners, authority),
    ):
        await networks.set_endpoint_routes(
            VPC, (EndpointRoute(routed.network_id, routed.cidr, VPC, VPCE, (S3_ADDRESS + "/32",)),)
        )
        await listeners.network_up(networks.host_transit_ip(routed.network_id))
        assert await _get(g) == "200 " + BODY.decode()
        assert await _get(g, tls=authority) == "200 " + BODY.decode()
        await _check_vpc_access_points(g, store)
        await _check_sender_egress(networks, layout, g, routed.network_id)
        # The same read from elsewhere: no endpoint, so aws:SourceVpce is absent.
        assert (await store.as_anonymous().request("GET", KEY)).status == 403
        # The other subnet's table has no route to the endpoint: nothing reaches the store.
        assert await _get(o, timeout=2.0) == ""
        # The endpoint's policy is evaluated for what comes through it.
        policies[VPCE] = json.dumps(
            {
                "Statement": [
                    {"Effect": "Allow", "Principal": "*", "Action": "s3:PutObject",
                     "Resource": "*"},
                ]
            }
        )  # fmt: skip
        assert (await _get(g)).startswith("403 ")
        # An endpoint gone (its routes too, a moment later): refused, then unrouted.
        policies.clear()
        assert (await _get(g)).startswith("403 ")
        await networks.set_endpoint_routes(VPC, ())
        assert await _get(g, timeout=2.0) == ""


async def _check_sender_egress(
    networks: TenantNetworks, layout: NetworkLayout, g: Guest, network_id: str
) -> None:
    """The session-47 addendum: the guest's egress rules judge its connection to the store
    by the store's address and port, not the listener's. Egress to the VPC's block only:
    refused (the metadata service still answers); to the store's block (the managed prefix
    list's, as the control plane expands it) on port 443 only: port 80 refused; on port 80:
    read; everything (the default group's): read."""
    ok = "200 " + BODY.decode()
    locked = InstanceFirewall(egress=(FirewallRule("-1", 0, 65535, "10.0.0.0/8"),))
    assert await networks.set_instance_firewall("i-vpce-in", locked)
    assert await _get(g, timeout=2.0) == ""
    with serving(None, networks.host_transit_ip(network_id), layout.imds_port):
        assert g.reach("169.254.169.254", 80).startswith("peer ")
    tls_only = InstanceFirewall(egress=(FirewallRule("tcp", 443, 443, S3_ADDRESS + "/32"),))
    assert await networks.set_instance_firewall("i-vpce-in", tls_only)
    assert await _get(g, timeout=2.0) == ""
    listed = InstanceFirewall(egress=(FirewallRule("tcp", 80, 80, S3_ADDRESS + "/32"),))
    assert await networks.set_instance_firewall("i-vpce-in", listed)
    assert await _get(g) == ok
    assert await networks.set_instance_firewall("i-vpce-in", InstanceFirewall())
    assert await _get(g) == ok


async def _check_vpc_access_points(g: Guest, store: Client) -> None:
    """Through the endpoint, the VPC's access point serves the guest; from elsewhere it
    serves nobody, its owner included; another VPC's refuses the guest."""
    ours = await _access_point(store, "inside", VPC)
    theirs = await _access_point(store, "elsewhere", "vpc-" + secrets.token_hex(8))
    assert await _get(g, path=f"/{ours}/report.csv") == "200 " + BODY.decode()
    assert (await _get(g, path=f"/{theirs}/report.csv")).startswith("403 ")
    reply = await store.request("GET", f"/{ours}/report.csv")
    assert (reply.status, reply.error_code()) == (403, "AccessDenied")
    assert (await store.request("GET", KEY)).status == 200  # the bucket itself is not


async def test_a_guest_reads_through_an_interface_endpoint_under_its_groups(
    networks: TenantNetworks,
    layout: NetworkLayout,
    store: Client,
    tmp_path: Path,
    kms: Kms,
    sqs: Sqs,
    ec2: Ec2,
    cloudwatch: CloudWatch,
) -> None:
    """Decision 0166: an Interface endpoint's address in the first subnet, beside a gateway
    endpoint of that subnet. The first subnet's guest (the same subnet: the router answers
    for the address) reads through the Interface endpoint, plain and https, and the bucket
    policy sees that endpoint, not the gateway one (the listener tells them apart by the
    source port the router gave); the other subnet's guest is refused by the endpoint's
    group until the group lets its block in; the endpoint's policy binds; gone, nothing
    answers at its address. Decision 0174: the same guest's signed KMS and SQS calls at
    those APIs' Interface endpoints are served by them, a queue's policy seeing the SQS
    endpoint; one at the other API's endpoint is refused in the API's words, and so is one
    the KMS endpoint's policy denies. Its session-48 addendum: the guest's EC2
    DescribeInstances and CloudWatch PutMetricData at theirs."""
    first = NetworkSpec(
        network_id="subnet-" + secrets.token_hex(4), tenant_id="111111111111",
        cidr="10.0.1.0/24", vpc_id=VPC, vpc_cidr="10.0.0.0/16",
    )  # fmt: skip
    second = replace(first, network_id="subnet-" + secrets.token_hex(4), cidr="10.0.2.0/24")
    near = NicSpec(first, "02:00:00:00:01:0c", "10.0.1.12", public_address=False)
    far = NicSpec(second, "02:00:00:00:02:0c", "10.0.2.12", public_address=False)
    interface = "vpce-1" + secrets.token_hex(8)
    eni = "10.0.1.200"
    only_interface = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::guarded/*",
                "Condition": {"StringEquals": {"aws:SourceVpce": interface}},
            }
        ],
    }
    reply = await store.request("PUT", "/guarded?policy", json.dumps(only_interface).encode())
    assert reply.status == 204, reply.body
    gateway = EndpointRoute(first.network_id, first.cidr, VPC, VPCE, (S3_ADDRESS + "/32",))

    to_kms, to_sqs, to_ec2, to_cw = (
        ("vpce-" + str(n) + secrets.token_hex(8), f"10.0.1.{199 + n}") for n in range(2, 6)
    )
    near_only = (FirewallRule("tcp", 80, 80, first.cidr),)

    def routes(*ingress: FirewallRule) -> tuple[EndpointRoute, ...]:
        told = EndpointRoute("", "10.0.0.0/16", VPC, interface, (eni,), slot=3, ingress=ingress)
        return (
            gateway,
            told,
            *(
                EndpointRoute("", "10.0.0.0/16", VPC, e, (a,), slot=slot, ingress=near_only)
                for slot, (e, a) in enumerate((to_kms, to_sqs, to_ec2, to_cw), start=4)
            ),
        )

    policies = {VPCE: DEFAULT_POLICY, interface: DEFAULT_POLICY}
    policies |= {e: DEFAULT_POLICY for e, _ in (to_kms, to_sqs, to_ec2, to_cw)}
    apis = {
        "kms": (to_kms[0], kms.app),
        "sqs": (to_sqs[0], sqs.app),
        "ec2": (to_ec2[0], ec2.app),
        "monitoring": (to_cw[0], cloudwatch.app),
    }
    ok = "200 " + BODY.decode()
    async with (
        guest(networks, "i-vpce-near", near) as g,
        guest(networks, "i-vpce-far", far) as o,
        _front(networks, layout, store, tmp_path, policies, apis) as (listeners, authority),
    ):
        await networks.set_endpoint_routes(VPC, routes(FirewallRule("tcp", 80, 443, first.cidr)))
        await listeners.network_up(networks.host_transit_ip(first.network_id))
        assert await _get(g, address=eni) == ok
        assert await _get(g, address=eni, tls=authority) == ok
        # The gateway endpoint is still itself: the bucket's policy names the other.
        assert (await _get(g)).startswith("403 ")
        # The endpoint's group does not let the second subnet in; then it does.
        assert await _get(o, timeout=2.0, address=eni) == ""
        await networks.set_endpoint_routes(VPC, routes(FirewallRule("tcp", 80, 80, "10.0.0.0/16")))
        assert await _get(o, address=eni) == ok
        # The sender's egress rules judge it too (the session-47 addendum): none to the
        # endpoint's address, refused; its group's ingress alone does not let it through.
        elsewhere = InstanceFirewall(egress=(FirewallRule("-1", 0, 65535, "10.0.1.0/25"),))
        assert await networks.set_instance_firewall("i-vpce-far", elsewhere)
        assert await _get(o, timeout=2.0, address=eni) == ""
        assert await networks.set_instance_firewall("i-vpce-far", InstanceFirewall())
        # The endpoint's policy binds what comes through it.
        policies[interface] = json.dumps(
            {"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"},
                           {"Effect": "Allow", "Principal": "*", "Action": "*",
                            "Resource": "*"}]}
        )  # fmt: skip
        assert (await _get(o, address=eni)).startswith("403 ")
        await _check_kms_and_sqs(g, kms, sqs, to_kms, to_sqs, policies)
        await _check_ec2_and_cloudwatch(g, ec2, cloudwatch, to_ec2[1], to_cw[1])
        # Gone: nothing answers at its address.
        await networks.set_endpoint_routes(VPC, (gateway,))
        assert await _get(g, timeout=2.0, address=eni) == ""


async def _check_kms_and_sqs(
    g: Guest,
    kms: Kms,
    sqs: Sqs,
    to_kms: tuple[str, str],
    to_sqs: tuple[str, str],
    policies: dict[str, str],
) -> None:
    """Decision 0174 on the real path: the guest's KMS and SQS calls at their endpoints."""
    status, made = await _signed(g, to_kms[1], "kms", "CreateKey", {}, kms)
    assert status == 200, made
    assert made["KeyMetadata"]["KeyState"] == "Enabled"
    # A queue whose policy denies a send from anywhere but its endpoint.
    url = (await sqs.ok("CreateQueue", {"QueueName": "through-vpce"}))["QueueUrl"]
    arn = f"arn:aws:sqs:{sqs.queues.region}:{sqs.tenant_id}:through-vpce"
    only_vpce = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sqs:SendMessage",
                "Resource": arn,
                "Condition": {"StringNotEquals": {"aws:SourceVpce": to_sqs[0]}},
            }
        ],
    }
    await sqs.ok(
        "SetQueueAttributes", {"QueueUrl": url, "Attributes": {"Policy": json.dumps(only_vpce)}}
    )
    send = {"QueueUrl": url, "MessageBody": "through the endpoint"}
    status, sent = await _signed(g, to_sqs[1], "sqs", "SendMessage", send, sqs)
    assert status == 200 and sent["MessageId"], sent
    assert (await sqs.call("SendMessage", send)).error_type == "AccessDenied"
    # At the other API's endpoint: refused in the words of the API called.
    status, refused = await _signed(g, to_kms[1], "sqs", "SendMessage", send, sqs)
    assert status == 403 and refused["__type"].endswith("#AccessDenied"), refused
    # The KMS endpoint's policy binds the account's root.
    policies[to_kms[0]] = json.dumps(
        {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:ListKeys",
                        "Resource": "*"}]}
    )  # fmt: skip
    assert (await _signed(g, to_kms[1], "kms", "ListKeys", {}, kms))[0] == 200
    status, refused = await _signed(g, to_kms[1], "kms", "CreateKey", {}, kms)
    assert (status, refused["__type"]) == (400, "AccessDeniedException")


async def _check_ec2_and_cloudwatch(
    g: Guest, ec2: Ec2, cloudwatch: CloudWatch, to_ec2: str, to_cw: str
) -> None:
    """Decision 0174's session-48 addendum on the real path: the guest's DescribeInstances
    and PutMetricData at their endpoints' addresses; EC2 at CloudWatch's, EC2's refusal."""
    form = "application/x-www-form-urlencoded; charset=utf-8"
    describe = "Action=DescribeInstances&Version=2016-11-15"
    root = ec2.root.credentials
    status, text = await _guest_call(g, to_ec2, "ec2", "-", describe, form, root)
    assert status == 200 and "<DescribeInstancesResponse" in text, text
    metric = {"Namespace": "Agent", "MetricData": [{"MetricName": "Load", "Value": 1.0}]}
    put = ("GraniteServiceVersion20100801.PutMetricData", "application/x-amz-json-1.0")
    status, text = await _guest_call(g, to_cw, "monitoring", put[0], json.dumps(metric), put[1],
                                     cloudwatch.credentials)  # fmt: skip
    assert status == 200, text
    assert [m["MetricName"] for m in (await cloudwatch.ok("ListMetrics", {}))["Metrics"]] == [
        "Load"
    ]
    status, text = await _guest_call(g, to_cw, "ec2", "-", describe, form, root)
    assert status == 403 and "<Code>UnauthorizedOperation</Code>" in text, text
