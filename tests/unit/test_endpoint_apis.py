"""Interface VPC endpoints to KMS, SQS, SNS and STS (decision 0174): the gateway's gate hands
an attested request to the API its credential scope names (``api_routing.api_service``, the main
front's choice) when the endpoint is that API's, and refuses it in that API's words
otherwise; each API evaluates the endpoint's policy (an allow needed, a deny winning, the
root included) and gives its key, queue, topic and identity policies ``aws:SourceVpce``,
``aws:SourceVpc`` and ``aws:VpcSourceIp`` without ``aws:SourceIp``. The apps are the
in-process harnesses' (memory twins), each request signed by botocore and attested by
:func:`~andromede.vpc_endpoint_front.attest`."""

from __future__ import annotations

import base64
import dataclasses
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from botocore.credentials import Credentials

from andromede.api_routing import api_service
from andromede.compute.vpc_endpoint import DEFAULT_POLICY
from andromede.http.response import Receive, Scope, Send
from andromede.iam.endpoint_origin import EndpointOrigin, origin_for, through_endpoint
from andromede.iam.model import Principal, PrincipalKind
from andromede.iam.policy_context import principal_context
from andromede.kms.keys_store import MemoryCustomerKeyStore
from andromede.vpc_endpoint_front import ATTESTATION_HEADER, EndpointGate, attest
from support.clock import Clock
from support.kmsapp import Harness as Kms
from support.kmsapp import kms_harness
from support.queryapp import ApiError, World, query_world
from support.sqsapp import Harness as Sqs
from support.sqsapp import sqs

__all__ = ["sqs"]  # the in-process SQS app's fixture

VPC, PRIVATE = "vpc-0aaaaaaaaaaaaaaaa", "10.0.1.11"
VPCES = {
    service: f"vpce-0{index}{'b' * 15}"
    for index, service in enumerate(("kms", "sqs", "sns", "sts", "s3"))
}
KEY = b"k" * 32


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _allow(action: str) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": "*", "Action": action, "Resource": "*"}


def _deny(action: str) -> dict[str, Any]:
    return {**_allow(action), "Effect": "Deny"}


@dataclasses.dataclass
class Gateway:
    """The gateway's dispatch as ``Application`` does it, over the harnesses' apps, and the
    endpoints its gate finds (id → policy; each of the service its id is listed under)."""

    apps: dict[str, Any]
    policies: dict[str, str]

    def __post_init__(self) -> None:
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

    def through(self, service: str) -> Any:
        """An ASGI app sending each request through ``service``'s endpoint, as the agent's
        forwarder does: the attestation of the request's method and target added."""

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            value = attest(KEY, (VPC, VPCES[service], PRIVATE), scope["method"], "/", time.time())
            headers = [*scope["headers"], (ATTESTATION_HEADER.encode(), value.encode())]
            await self(dict(scope, headers=headers), receive, send)

        return app


@pytest.fixture
async def kms(tmp_path: Path) -> AsyncIterator[Kms]:
    async for harness in kms_harness(tmp_path / "kms", MemoryCustomerKeyStore()):
        yield harness


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with query_world(Clock(now=float(int(time.time()))), tmp_path / "query") as made:
        yield made


@pytest.fixture
def gateway(kms: Kms, sqs: Sqs, world: World) -> Gateway:
    apps = {"kms": kms.app, "sqs": sqs.app, "sns": world.apps["sns"], "sts": world.apps["sts"]}
    return Gateway(apps, {e: DEFAULT_POLICY for e in VPCES.values()})


def _via(world: World, service: str, gateway: Gateway, endpoint: str) -> World:
    """The query world with ``service``'s app behind ``endpoint``'s service's endpoint."""
    return dataclasses.replace(world, apps={**world.apps, service: gateway.through(endpoint)})


async def test_the_gate_hands_each_api_its_own_endpoints_requests(
    kms: Kms, sqs: Sqs, world: World, gateway: Gateway
) -> None:
    # Each API through its own endpoint: served.
    assert (await dataclasses.replace(kms, app=gateway.through("kms")).call("ListKeys")).status == (
        200
    )
    sqs_reply = await dataclasses.replace(sqs, app=gateway.through("sqs")).call("ListQueues")
    assert sqs_reply.status == 200, sqs_reply.body
    root = world.client(world.root)
    sts = _via(world, "sts", gateway, "sts").client(world.root)
    assert (await sts.call("sts", "GetCallerIdentity"))["Account"] == world.tenant_id
    assert "Topics" in await _via(world, "sns", gateway, "sns").client(world.root).call(
        "sns", "ListTopics"
    )
    # Through another API's endpoint: refused in the words of the API the request names.
    refused = await dataclasses.replace(kms, app=gateway.through("sqs")).call("ListKeys")
    assert (refused.status, refused.error_type) == (400, "AccessDeniedException")
    refused_sqs = await dataclasses.replace(sqs, app=gateway.through("kms")).call("ListQueues")
    assert (refused_sqs.status, refused_sqs.error_type) == (403, "AccessDenied")
    with pytest.raises(ApiError) as denied:
        await _via(world, "sts", gateway, "s3").client(world.root).call("sts", "GetCallerIdentity")
    assert (denied.value.status, denied.value.code) == (403, "AccessDenied")
    with pytest.raises(ApiError) as denied:
        await _via(world, "sns", gateway, "sts").client(world.root).call("sns", "ListTopics")
    assert denied.value.code == "AuthorizationError"
    # An API no endpoint serves (IAM) is refused through any; an endpoint gone refuses.
    with pytest.raises(ApiError) as denied:
        await _via(world, "iam", gateway, "sts").client(world.root).call("iam", "ListUsers")
    assert denied.value.status == 403
    del gateway.policies[VPCES["sts"]]
    with pytest.raises(ApiError):
        await sts.call("sts", "GetCallerIdentity")
    assert (await root.call("sts", "GetCallerIdentity"))["Account"] == world.tenant_id


async def test_kms_evaluates_its_endpoints_policy_and_keys(kms: Kms, gateway: Gateway) -> None:
    through = dataclasses.replace(kms, app=gateway.through("kms"))
    made = await through.call("CreateKey", {"Description": "through the endpoint"})
    assert made.status == 200, made.body
    key_id = made.json()["KeyMetadata"]["KeyId"]
    plain = base64.b64encode(b"secret").decode()
    # The key's policy reads aws:SourceVpce: a deny of what comes from elsewhere binds the
    # root's direct call, not the same call through the endpoint; aws:SourceIp is absent
    # through it (a deny of an address outside the VPC would otherwise bind it too).
    root_arn = f"arn:aws:iam::{kms.tenant_id}:root"
    key_policy = _policy(
        {"Effect": "Allow", "Principal": {"AWS": root_arn}, "Action": "kms:*", "Resource": "*"},
        {
            **_deny("kms:Encrypt"),
            "Condition": {"StringNotEquals": {"aws:SourceVpce": VPCES["kms"]}},
        },
        {**_deny("kms:Encrypt"), "Condition": {"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}},
        {**_deny("kms:Encrypt"), "Condition": {"StringNotEquals": {"aws:SourceVpc": VPC}}},
        {
            **_deny("kms:Encrypt"),
            "Condition": {"NotIpAddress": {"aws:VpcSourceIp": "10.0.1.0/24"}},
        },
    )
    put = await through.call(
        "PutKeyPolicy", {"KeyId": key_id, "PolicyName": "default", "Policy": key_policy}
    )
    assert put.status == 200, put.body
    encrypt = {"KeyId": key_id, "Plaintext": plain}
    assert (await kms.call("Encrypt", encrypt)).error_type == "AccessDeniedException"
    sealed = await through.call("Encrypt", encrypt)
    assert sealed.status == 200, sealed.body
    blob = {"CiphertextBlob": sealed.json()["CiphertextBlob"]}
    # The endpoint's policy: no allow refuses, the root too; a deny wins over an allow.
    gateway.policies[VPCES["kms"]] = _policy(_allow("kms:Encrypt"))
    assert (await through.call("Encrypt", encrypt)).status == 200
    refused = await through.call("Decrypt", blob)
    assert refused.error_type == "AccessDeniedException"
    assert "because no VPC endpoint policy allows the kms:Decrypt action" in refused.body.decode()
    assert (await kms.call("Decrypt", blob)).status == 200  # not through the endpoint
    gateway.policies[VPCES["kms"]] = _policy(_allow("kms:*"), _deny("kms:Decrypt"))
    refused = await through.call("Decrypt", blob)
    assert refused.error_type == "AccessDeniedException"
    assert "explicit deny in a VPC endpoint policy" in refused.body.decode()
    # A grant lets a user decrypt that no policy allows, but not through an endpoint whose
    # policy does not allow it.
    user = await kms.iam_user("reader")
    grantee = f"arn:aws:iam::{kms.tenant_id}:user/reader"
    granted = await kms.call(
        "CreateGrant",
        {"KeyId": key_id, "GranteePrincipal": grantee, "Operations": ["Decrypt"]},
    )
    assert granted.status == 200, granted.body
    assert (await user.call("Decrypt", blob)).status == 200
    gateway.policies[VPCES["kms"]] = _policy(_allow("kms:Encrypt"))
    through_user = dataclasses.replace(user, app=gateway.through("kms"))
    assert (await through_user.call("Decrypt", blob)).error_type == "AccessDeniedException"
    assert (await through.call("Encrypt", encrypt)).status == 200


async def test_sqs_evaluates_its_endpoints_policy_and_keys(sqs: Sqs, gateway: Gateway) -> None:
    through = dataclasses.replace(sqs, app=gateway.through("sqs"))
    url = (await through.ok("CreateQueue", {"QueueName": "orders"}))["QueueUrl"]
    arn = f"arn:aws:sqs:{sqs.queues.region}:{sqs.tenant_id}:orders"
    # The queue's policy reads aws:SourceVpce: a send from elsewhere is refused.
    only_vpce = _policy(
        {
            **_deny("sqs:SendMessage"),
            "Resource": arn,
            "Condition": {"StringNotEquals": {"aws:SourceVpce": VPCES["sqs"]}},
        }
    )
    await through.ok("SetQueueAttributes", {"QueueUrl": url, "Attributes": {"Policy": only_vpce}})
    send = {"QueueUrl": url, "MessageBody": "q4"}
    assert (await sqs.call("SendMessage", send)).error_type == "AccessDenied"
    assert (await through.call("SendMessage", send)).status == 200
    # The endpoint's policy: no allow refuses, a deny wins over an allow.
    gateway.policies[VPCES["sqs"]] = _policy(_allow("sqs:ReceiveMessage"))
    assert (await through.call("SendMessage", send)).error_type == "AccessDenied"
    received = await through.ok("ReceiveMessage", {"QueueUrl": url})
    assert [m["Body"] for m in received["Messages"]] == ["q4"]
    gateway.policies[VPCES["sqs"]] = _policy(_allow("*"), _deny("sqs:ReceiveMessage"))
    assert (await through.call("ReceiveMessage", {"QueueUrl": url})).error_type == "AccessDenied"
    assert (await through.call("SendMessage", send)).status == 200


async def test_sns_and_sts_evaluate_their_endpoints_policies(
    world: World, gateway: Gateway
) -> None:
    sns = _via(world, "sns", gateway, "sns").client(world.root)
    topic = (await sns.call("sns", "CreateTopic", Name="alerts"))["TopicArn"]
    # The topic's policy reads aws:SourceVpce (its owner's reading from elsewhere denied).
    only_vpce = _policy(
        {
            **_deny("sns:GetTopicAttributes"),
            "Resource": topic,
            "Condition": {"StringNotEquals": {"aws:SourceVpce": VPCES["sns"]}},
        }
    )
    await sns.call(
        "sns", "SetTopicAttributes", TopicArn=topic, AttributeName="Policy",
        AttributeValue=only_vpce,
    )  # fmt: skip
    with pytest.raises(ApiError):
        await world.client(world.root).call("sns", "GetTopicAttributes", TopicArn=topic)
    assert (await sns.call("sns", "GetTopicAttributes", TopicArn=topic))["Attributes"]
    gateway.policies[VPCES["sns"]] = _policy(_allow("sns:GetTopicAttributes"))
    with pytest.raises(ApiError) as denied:
        await sns.call("sns", "CreateTopic", Name="other")
    assert denied.value.code == "AuthorizationError"
    assert "no VPC endpoint policy allows" in denied.value.message
    gateway.policies[VPCES["sns"]] = _policy(_allow("*"), _deny("sns:GetTopicAttributes"))
    with pytest.raises(ApiError) as denied:
        await sns.call("sns", "GetTopicAttributes", TopicArn=topic)
    assert denied.value.code == "AuthorizationError"
    assert "explicit deny in a VPC endpoint policy" in denied.value.message
    # STS: its actions authorise themselves; the endpoint's policy binds them all.
    sts = _via(world, "sts", gateway, "sts").client(world.root)
    gateway.policies[VPCES["sts"]] = _policy(_allow("sts:AssumeRole"))
    with pytest.raises(ApiError) as denied:
        await sts.call("sts", "GetCallerIdentity")
    assert (denied.value.code, denied.value.status) == ("AccessDenied", 403)
    gateway.policies[VPCES["sts"]] = _policy(_allow("*"), _deny("sts:GetSessionToken"))
    assert (await sts.call("sts", "GetCallerIdentity"))["Account"] == world.tenant_id
    with pytest.raises(ApiError) as denied:
        await sts.call("sts", "GetSessionToken")
    assert denied.value.code == "AccessDenied"


async def test_a_trust_policy_and_an_identity_policy_read_the_sts_endpoint(
    world: World, gateway: Gateway
) -> None:
    """AssumeRole through an STS endpoint: the user's identity policy allows it only with
    ``aws:SourceVpc``, the role's trust only with ``aws:SourceVpce``; from elsewhere the same
    call is refused, through the endpoint it is served."""
    root = world.client(world.root)
    vpce = VPCES["sts"]
    trust = _policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": world.tenant_id},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceVpce": vpce}},
        }
    )
    role = await root.call("iam", "CreateRole", RoleName="in-vpc", AssumeRolePolicyDocument=trust)
    await root.call("iam", "CreateUser", UserName="dev")
    only_vpc = _policy(
        {
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceVpc": VPC}},
        }
    )
    await root.call("iam", "PutUserPolicy", UserName="dev", PolicyName="p", PolicyDocument=only_vpc)
    key = (await root.call("iam", "CreateAccessKey", UserName="dev"))["AccessKey"]
    credentials = Credentials(key["AccessKeyId"], key["SecretAccessKey"])
    assume = {"RoleArn": role["Role"]["Arn"], "RoleSessionName": "work"}
    with pytest.raises(ApiError) as denied:
        await world.client(credentials).call("sts", "AssumeRole", **assume)
    assert denied.value.code == "AccessDenied"
    through = _via(world, "sts", gateway, "sts").client(credentials)
    assumed = await through.call("sts", "AssumeRole", **assume)
    assert assumed["AssumedRoleUser"]["Arn"].endswith(":assumed-role/in-vpc/work")
    # Session tags need sts:TagSession, which the endpoint's policy must allow as well.
    gateway.policies[vpce] = _policy(_allow("*"), _deny("sts:TagSession"))
    with pytest.raises(ApiError) as denied:
        await through.call("sts", "AssumeRole", **assume, Tags=[{"Key": "team", "Value": "a"}])
    assert "sts:TagSession" in denied.value.message
    assert "explicit deny in a VPC endpoint policy" in denied.value.message


def test_an_origin_is_its_services_only() -> None:
    """S3's origin is no KMS call's (SSE-KMS: a forward access session, which AWS gives none
    of the endpoint's keys) and the reverse; under its own service's action the context has
    the endpoint's keys and no source address."""
    root = Principal(
        "111122223333", None, None, PrincipalKind.ROOT, "arn:aws:iam::111122223333:root"
    )

    def context(action: str) -> Any:
        return principal_context(
            root, action=action, resource="*", source_ip="192.0.2.9", secure=True, region="r"
        )

    with through_endpoint(EndpointOrigin(VPC, VPCES["s3"], DEFAULT_POLICY, PRIVATE)):
        assert origin_for("s3") is not None and origin_for("kms") is None
        assert context("kms:Decrypt").get("aws:sourcevpce") is None
        assert context("kms:Decrypt").source_ip == "192.0.2.9"
        through = context("s3:GetObject")
        assert through.get("aws:sourcevpce") == VPCES["s3"] and through.source_ip is None
        assert through.get("aws:vpcsourceip") == PRIVATE and through.get("aws:sourcevpc") == VPC
    assert origin_for("s3") is None
