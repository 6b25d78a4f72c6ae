"""Interface VPC endpoints to EC2, CloudWatch and Auto Scaling (decision 0174's session-48
addendum): the gateway's gate hands an attested request to the API its credential scope names
when the endpoint is that API's — CloudWatch's ``monitoring`` endpoint carrying the
``cloudwatch:`` actions — and refuses it otherwise in that API's words (EC2's
``UnauthorizedOperation``, CloudWatch's ``AccessDenied`` in the protocol the request speaks,
Auto Scaling's Query ``AccessDenied``); each API evaluates the endpoint's policy (an allow
needed, a deny winning, the root included) and gives identity policies ``aws:SourceVpce``,
``aws:SourceVpc`` and ``aws:VpcSourceIp``. The apps are the in-process harnesses', each
request signed by botocore and attested by :func:`~andromede.vpc_endpoint_front.attest`."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.credentials import Credentials

from andromede.api_routing import api_service
from andromede.compute.vpc_endpoint import DEFAULT_POLICY
from andromede.http.response import Receive, Scope, Send
from andromede.iam.service import IdentityService
from andromede.vpc_endpoint_front import ATTESTATION_HEADER, EndpointGate, attest
from support.autoscalingapp import autoscaling_client, autoscaling_world
from support.cloudwatchapp import Harness, cloudwatch
from support.ec2app import ApiError, Client, ec2_world

__all__ = ["cloudwatch"]  # the in-process CloudWatch app's fixture

VPC, PRIVATE = "vpc-0aaaaaaaaaaaaaaaa", "10.0.1.11"
VPCES = {
    service: f"vpce-0{index}{'c' * 15}"
    for index, service in enumerate(("ec2", "monitoring", "autoscaling", "kms"))
}
KEY = b"k" * 32
METRIC = {"Namespace": "App", "MetricData": [{"MetricName": "Load", "Value": 1.0}]}


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _allow(action: str, **condition: dict[str, str]) -> dict[str, Any]:
    statement = {"Effect": "Allow", "Principal": "*", "Action": action, "Resource": "*"}
    return {**statement, "Condition": condition} if condition else statement


def _deny(action: str) -> dict[str, Any]:
    return {**_allow(action), "Effect": "Deny"}


def _grant(action: str, **condition: dict[str, str]) -> str:
    """An identity policy allowing ``action`` on the condition given."""
    statement = {k: v for k, v in _allow(action, **condition).items() if k != "Principal"}
    return _policy(statement)


class Gateway:
    """The gateway's dispatch as ``Application`` does it over ``apps``, and the endpoints its
    gate finds (id → policy; each of the service its id is listed under in VPCES)."""

    def __init__(self, apps: dict[str, Any]) -> None:
        self.apps = apps
        self.policies = {e: DEFAULT_POLICY for e in VPCES.values()}

        async def lookup(endpoint_id: str) -> tuple[str, str, str] | None:
            service = next((s for s, e in VPCES.items() if e == endpoint_id), None)
            policy = self.policies.get(endpoint_id)
            return None if service is None or policy is None else (VPC, policy, service)

        self.gate = EndpointGate(KEY, lookup, max_age=60, clock=time.time)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        service = api_service(scope)
        attested = EndpointGate.attested(scope)
        assert attested is not None
        await self.gate.serve(attested, service, self.apps.get(service), scope, receive, send)

    def through(self, service: str, private: str = PRIVATE) -> Any:
        """An ASGI app sending each request through ``service``'s endpoint from ``private``,
        as the agent's forwarder does: the attestation of its method and target added."""

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            query = scope.get("query_string") or b""
            target = scope["raw_path"].decode() + (f"?{query.decode()}" if query else "")
            placed = (VPC, VPCES[service], private)
            value = attest(KEY, placed, scope["method"], target, time.time())
            headers = [*scope["headers"], (ATTESTATION_HEADER.encode(), value.encode())]
            await self(dict(scope, headers=headers), receive, send)

        return app


async def _user(identity: IdentityService, tenant_id: str, name: str, policy: str) -> Credentials:
    """An IAM user of ``tenant_id`` whose one inline policy is ``policy``."""
    await identity.create_user(tenant_id, name)
    await identity.put_user_policy(tenant_id, name, "only", policy)
    created = await identity.create_access_key(tenant_id, name)
    return Credentials(created.key.access_key_id, created.secret_access_key)


async def _ec2_refusal(client: Client, operation: str, **params: Any) -> ApiError:
    with pytest.raises(ApiError) as refused:
        await client.call(operation, **params)
    assert (refused.value.status, refused.value.code) == (403, "UnauthorizedOperation")
    assert b"<RequestID>" in client.last_body
    return refused.value


async def test_ec2_through_its_endpoint(tmp_path: Path) -> None:
    async with ec2_world(tmp_path) as world:
        gateway = Gateway({"ec2": world.app})
        root = dataclasses.replace(world.root, app=gateway.through("ec2"))
        assert (await root.call("DescribeInstances"))["Reservations"] == []
        # The endpoint's policy bounds the root: no allow, or a deny, refuses in EC2's words.
        gateway.policies[VPCES["ec2"]] = _policy(_allow("ec2:DescribeVpcs"))
        assert "Vpcs" in await root.call("DescribeVpcs")
        refused = await _ec2_refusal(root, "DescribeInstances")
        assert refused.message.endswith(
            "because no VPC endpoint policy allows the ec2:DescribeInstances action"
        )
        gateway.policies[VPCES["ec2"]] = _policy(_allow("ec2:*"), _deny("ec2:RunInstances"))
        run = await _ec2_refusal(
            root, "RunInstances", ImageId=world.image.image_id, InstanceType="t3.nano",
            MinCount=1, MaxCount=1,
        )  # fmt: skip
        assert run.message.endswith("with an explicit deny in a VPC endpoint policy")
        assert (await world.root.call("DescribeInstances"))["Reservations"] == []
        # A user allowed only through that endpoint, from the VPC's own addresses.
        only = _grant(
            "ec2:Describe*",
            StringEquals={"aws:SourceVpce": VPCES["ec2"], "aws:SourceVpc": VPC},
            IpAddress={"aws:VpcSourceIp": "10.0.1.0/24"},
        )
        ops = Client(world.app, await _user(world.identity, world.tenant_id, "ops", only))
        await _ec2_refusal(ops, "DescribeInstances")  # directly: none of the keys
        through = dataclasses.replace(ops, app=gateway.through("ec2"))
        assert (await through.call("DescribeInstances"))["Reservations"] == []
        elsewhere = dataclasses.replace(ops, app=gateway.through("ec2", "10.0.2.9"))
        await _ec2_refusal(elsewhere, "DescribeInstances")
        # Through another API's endpoint, or one gone: the gate's refusal, in EC2's words.
        at_kms = await _ec2_refusal(
            dataclasses.replace(world.root, app=gateway.through("kms")), "DescribeInstances"
        )
        assert "did not come through a VPC endpoint of this service" in at_kms.message
        del gateway.policies[VPCES["ec2"]]
        await _ec2_refusal(root, "DescribeVpcs")


async def test_cloudwatch_through_its_endpoint(cloudwatch: Harness) -> None:
    gateway = Gateway({"monitoring": cloudwatch.app})
    through = dataclasses.replace(cloudwatch, app=gateway.through("monitoring"))
    assert (await through.call("PutMetricData", METRIC)).status == 200
    # The agent's user, allowed to send only from the VPC through an endpoint.
    only = _grant("cloudwatch:PutMetricData", StringEquals={"aws:SourceVpc": VPC})
    credentials = await _user(cloudwatch.identity, cloudwatch.tenant_id, "agent", only)
    agent = dataclasses.replace(cloudwatch, credentials=credentials)
    direct = await agent.call("PutMetricData", METRIC)
    assert (direct.status, direct.code) == (403, "AccessDenied")
    assert (await dataclasses.replace(through, credentials=credentials).call(
        "PutMetricData", METRIC
    )).status == 200  # fmt: skip
    # The endpoint's policy bounds every call, in each protocol's words.
    gateway.policies[VPCES["monitoring"]] = _policy(_allow("cloudwatch:PutMetricData"))
    assert (await through.call("PutMetricData", METRIC)).status == 200
    for protocol in ("smithy-rpc-v2-cbor", "query"):
        listed = await through.speaking(protocol).call("ListMetrics", {})
        assert (listed.status, listed.code) == (403, "AccessDenied"), protocol
        assert b"no VPC endpoint policy allows the cloudwatch:ListMetrics action" in listed.body
    gateway.policies[VPCES["monitoring"]] = _policy(_allow("*"), _deny("cloudwatch:Put*"))
    denied = await through.call("PutMetricData", METRIC)
    assert (denied.status, denied.code) == (403, "AccessDenied")
    assert b"explicit deny in a VPC endpoint policy" in denied.body
    # Through EC2's endpoint: the gate's refusal, in the protocol the request speaks.
    at_ec2 = dataclasses.replace(cloudwatch, app=gateway.through("ec2"))
    for protocol in ("smithy-rpc-v2-cbor", "json", "query"):
        refused = await at_ec2.speaking(protocol).call("PutMetricData", METRIC)
        assert (refused.status, refused.code) == (403, "AccessDenied"), protocol
    assert [m["MetricName"] for m in (await cloudwatch.ok("ListMetrics", {}))["Metrics"]] == [
        "Load"
    ]


async def test_auto_scaling_through_its_endpoint(tmp_path: Path) -> None:
    async with autoscaling_world(tmp_path) as world:
        gateway = Gateway({"autoscaling": world.app})
        root = dataclasses.replace(world.root, app=gateway.through("autoscaling"))
        groups = await root.call("DescribeAutoScalingGroups")
        assert groups["AutoScalingGroups"] == []
        gateway.policies[VPCES["autoscaling"]] = _policy(
            _allow("autoscaling:CompleteLifecycleAction")
        )
        with pytest.raises(ApiError) as refused:
            await root.call("DescribeAutoScalingGroups")
        assert (refused.value.status, refused.value.code) == (403, "AccessDenied")
        assert refused.value.message.endswith(
            "because no VPC endpoint policy allows the autoscaling:DescribeAutoScalingGroups action"
        )
        gateway.policies[VPCES["autoscaling"]] = _policy(
            _allow("*"), _deny("autoscaling:Describe*")
        )
        with pytest.raises(ApiError) as denied:
            await root.call("DescribeAutoScalingGroups")
        assert "explicit deny in a VPC endpoint policy" in denied.value.message
        # A hook script's user, allowed only through that endpoint.
        gateway.policies[VPCES["autoscaling"]] = DEFAULT_POLICY
        only = _grant(
            "autoscaling:Describe*", StringEquals={"aws:SourceVpce": VPCES["autoscaling"]}
        )
        hook = autoscaling_client(
            world.app, await _user(world.identity, world.tenant_id, "hook", only)
        )
        with pytest.raises(ApiError) as direct:
            await hook.call("DescribeAutoScalingGroups")
        assert direct.value.code == "AccessDenied"
        through = dataclasses.replace(hook, app=gateway.through("autoscaling"))
        assert (await through.call("DescribeAutoScalingGroups"))["AutoScalingGroups"] == []
        # Through CloudWatch's endpoint: the gate's refusal, Auto Scaling's Query error.
        at_monitoring = dataclasses.replace(world.root, app=gateway.through("monitoring"))
        with pytest.raises(ApiError) as elsewhere:
            await at_monitoring.call("DescribeAutoScalingGroups")
        assert (elsewhere.value.status, elsewhere.value.code) == (403, "AccessDenied")
        assert b"http://autoscaling.amazonaws.com/doc/2011-01-01/" in at_monitoring.last_body
