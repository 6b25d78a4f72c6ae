"""Interface VPC endpoints to CloudWatch Logs and Secrets Manager (decision 0174's session-48
addendum): the gateway's gate hands an attested request to the API its credential scope names
when the endpoint is that API's (``logs``, ``secretsmanager``), and refuses it otherwise in that
API's JSON words (``AccessDeniedException``, 400); each API evaluates the endpoint's policy (an
allow needed, a deny winning, the root included) and gives identity policies
``aws:SourceVpce``, ``aws:SourceVpc`` and ``aws:VpcSourceIp``. The apps are the in-process
harnesses', each request signed by botocore and attested as the agent's forwarder does."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.credentials import Credentials

from andromede.api_routing import api_service
from andromede.compute.vpc_endpoint import (
    DEFAULT_POLICY,
    INTERFACE_SERVICES,
    interface_service_names,
)
from andromede.http.response import Receive, Scope, Send
from andromede.iam.service import IdentityService
from andromede.vpc_endpoint_front import ATTESTATION_HEADER, EndpointGate, attest
from support.logsapp import Harness as LogsHarness
from support.logsapp import LogsWorld, harness_over, logs_world
from support.secretsapp import Harness as SecretsHarness
from support.secretsapp import sm

__all__ = ["sm"]  # the in-process Secrets Manager app's fixture

VPC, PRIVATE = "vpc-0aaaaaaaaaaaaaaaa", "10.0.1.11"
VPCES = {
    service: f"vpce-0{index}{'d' * 15}"
    for index, service in enumerate(("logs", "secretsmanager", "kms"))
}
KEY = b"k" * 32
GROUP = {"logGroupName": "/vpc/app"}


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _allow(action: str, **condition: dict[str, str]) -> dict[str, Any]:
    statement = {"Effect": "Allow", "Principal": "*", "Action": action, "Resource": "*"}
    return {**statement, "Condition": condition} if condition else statement


def _deny(action: str) -> dict[str, Any]:
    return {**_allow(action), "Effect": "Deny"}


def _grant(action: str, **condition: dict[str, str]) -> str:
    statement = {k: v for k, v in _allow(action, **condition).items() if k != "Principal"}
    return _policy(statement)


class Gateway:
    """The gateway's dispatch over ``apps`` (its gate finding each endpoint of VPCES, with
    its policy in ``policies``)."""

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
        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            query = scope.get("query_string") or b""
            target = scope["raw_path"].decode() + (f"?{query.decode()}" if query else "")
            placed = (VPC, VPCES[service], private)
            value = attest(KEY, placed, scope["method"], target, time.time())
            headers = [*scope["headers"], (ATTESTATION_HEADER.encode(), value.encode())]
            await self(dict(scope, headers=headers), receive, send)

        return app


async def _user(identity: IdentityService, tenant_id: str, name: str, policy: str) -> Credentials:
    await identity.create_user(tenant_id, name)
    await identity.put_user_policy(tenant_id, name, "only", policy)
    created = await identity.create_access_key(tenant_id, name)
    return Credentials(created.key.access_key_id, created.secret_access_key)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[LogsWorld]:
    yield from logs_world(tmp_path / "w")


@pytest.fixture
async def logs(world: LogsWorld, tmp_path: Path) -> AsyncIterator[LogsHarness]:
    harness = await harness_over(world, tmp_path)
    try:
        yield harness
    finally:
        await harness.audit.close()
        await harness.billing.close()


def test_the_services_are_offered() -> None:
    assert INTERFACE_SERVICES["logs"] == "logs"
    assert INTERFACE_SERVICES["secretsmanager"] == "secretsmanager"
    names = interface_service_names("eu-fr-1")
    for service in ("logs", "secretsmanager"):
        assert f"com.amazonaws.eu-fr-1.{service}" in names
        assert f"eu.andromede.eu-fr-1.{service}" in names


def _refused(reply: Any, words: bytes) -> None:
    assert reply.status == 400, reply.body
    assert reply.json()["__type"] == "AccessDeniedException"
    assert words in reply.body
    assert reply.headers["x-amzn-requestid"]


async def test_logs_through_its_endpoint(logs: LogsHarness) -> None:
    gateway = Gateway({"logs": logs.app})
    through = dataclasses.replace(logs, app=gateway.through("logs"))
    assert (await through.call("CreateLogGroup", GROUP)).status == 200
    # The endpoint's policy bounds the root: no allow, or a deny, refuses in Logs' words.
    gateway.policies[VPCES["logs"]] = _policy(_allow("logs:CreateLogStream"))
    _refused(
        await through.call("DescribeLogGroups", {}),
        b"because no VPC endpoint policy allows the logs:DescribeLogGroups action",
    )
    gateway.policies[VPCES["logs"]] = _policy(_allow("logs:*"), _deny("logs:DeleteLogGroup"))
    assert (await through.call("DescribeLogGroups", {})).status == 200
    _refused(
        await through.call("DeleteLogGroup", GROUP), b"with an explicit deny in a VPC endpoint"
    )
    # An agent allowed to write only through that endpoint, from the VPC's own addresses.
    gateway.policies[VPCES["logs"]] = DEFAULT_POLICY
    only = _grant(
        "logs:*",
        StringEquals={"aws:SourceVpce": VPCES["logs"], "aws:SourceVpc": VPC},
        IpAddress={"aws:VpcSourceIp": "10.0.1.0/24"},
    )
    credentials = await _user(logs.identity, logs.tenant_id, "agent", only)
    agent = dataclasses.replace(logs, credentials=credentials)
    stream = {**GROUP, "logStreamName": "i-1"}
    _refused(await agent.call("CreateLogStream", stream), b"no identity-based policy")
    agent_through = dataclasses.replace(through, credentials=credentials)
    assert (await agent_through.call("CreateLogStream", stream)).status == 200
    elsewhere = dataclasses.replace(agent, app=gateway.through("logs", "10.0.2.9"))
    _refused(await elsewhere.call("DescribeLogStreams", GROUP), b"no identity-based policy")
    # Through another API's endpoint, or one gone: the gate's refusal, in Logs' words.
    at_kms = dataclasses.replace(logs, app=gateway.through("kms"))
    _refused(await at_kms.call("DescribeLogGroups", {}), b"did not come through a VPC endpoint")
    at_secrets = dataclasses.replace(logs, app=gateway.through("secretsmanager"))
    _refused(await at_secrets.call("DescribeLogGroups", {}), b"did not come through")
    del gateway.policies[VPCES["logs"]]
    _refused(await through.call("DescribeLogGroups", {}), b"did not come through")
    found = await logs.ok("DescribeLogStreams", GROUP)
    assert [s["logStreamName"] for s in found["logStreams"]] == ["i-1"]


async def test_secrets_manager_through_its_endpoint(sm: SecretsHarness) -> None:
    gateway = Gateway({"secretsmanager": sm.app})
    through = dataclasses.replace(sm, app=gateway.through("secretsmanager"))
    made = await through.call("CreateSecret", {"Name": "db", "SecretString": "s3cr3t"})
    assert made.status == 200, made.body
    gateway.policies[VPCES["secretsmanager"]] = _policy(
        _allow("secretsmanager:GetSecretValue"), _deny("secretsmanager:PutSecretValue")
    )
    got = await through.call("GetSecretValue", {"SecretId": "db"})
    assert got.json()["SecretString"] == "s3cr3t"
    _refused(
        await through.call("ListSecrets", {}),
        b"because no VPC endpoint policy allows the secretsmanager:ListSecrets action",
    )
    _refused(
        await through.call("PutSecretValue", {"SecretId": "db", "SecretString": "x"}),
        b"with an explicit deny in a VPC endpoint policy",
    )
    # An application allowed to read only through that endpoint.
    gateway.policies[VPCES["secretsmanager"]] = DEFAULT_POLICY
    only = _grant(
        "secretsmanager:GetSecretValue",
        StringEquals={"aws:SourceVpce": VPCES["secretsmanager"]},
        IpAddress={"aws:VpcSourceIp": "10.0.1.0/24"},
    )
    credentials = await _user(sm.identity, sm.tenant_id, "app", only)
    _refused(
        await dataclasses.replace(sm, credentials=credentials).call(
            "GetSecretValue", {"SecretId": "db"}
        ),
        b"no identity-based policy",
    )
    app = dataclasses.replace(through, credentials=credentials)
    assert (await app.call("GetSecretValue", {"SecretId": "db"})).json()["SecretString"] == "s3cr3t"
    # At Logs' endpoint: the gate's refusal, in Secrets Manager's words (``Message``).
    at_logs = dataclasses.replace(sm, app=gateway.through("logs"))
    refused = await at_logs.call("GetSecretValue", {"SecretId": "db"})
    assert refused.status == 400
    assert refused.error_type == "AccessDeniedException"
    assert "did not come through a VPC endpoint" in refused.error_fields()["Message"]
