"""Secrets never leave except once, at creation: a secret access key (CreateAccessKey,
GetSessionToken, AssumeRole), a session token, an MFA seed or a console password
appears in no log record at any level, in no audit record, and in no answer other than the one
that created it — read-backs (ListAccessKeys, GetLoginProfile, ListVirtualMFADevices…) and error
answers included.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import asdict
from typing import Any

import pytest
from botocore.credentials import Credentials

from andromede.iam import totp
from support.clock import Clock
from support.queryapp import ApiError, Client, World

PASSWORD = "Correct-Horse-Battery-9"


def trust(principal: str) -> str:
    return (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
        f'"Principal":{{"AWS":"{principal}"}},"Action":"sts:AssumeRole"}}]}}'
    )


class Recorder:
    """Every answer body, by action, and which secrets each creation gave out."""

    def __init__(self) -> None:
        self.bodies: list[tuple[str, bytes]] = []

    async def call(self, client: Client, service: str, action: str, **params: Any) -> Any:
        try:
            return await client.call(service, action, **params)
        finally:
            self.bodies.append((action, client.last_body))

    async def refused(self, client: Client, service: str, action: str, **params: Any) -> str:
        with pytest.raises(ApiError) as caught:
            await self.call(client, service, action, **params)
        return caught.value.code


async def test_secrets_appear_only_in_the_answer_that_creates_them(
    root: Client, world: World, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    seen = Recorder()
    # secret -> the one action whose answer may carry it
    secrets: dict[str, str] = {}

    await seen.call(root, "iam", "CreateUser", UserName="alice")
    key = (await seen.call(root, "iam", "CreateAccessKey", UserName="alice"))["AccessKey"]
    secrets[key["SecretAccessKey"]] = "CreateAccessKey"
    await seen.call(root, "iam", "CreateLoginProfile", UserName="alice", Password=PASSWORD)
    device = (await seen.call(root, "iam", "CreateVirtualMFADevice", VirtualMFADeviceName="alice"))[
        "VirtualMFADevice"
    ]
    seed_text = device["Base32StringSeed"].decode()
    # On the wire the seed is a blob: base64 of its base32 text.
    secrets[base64.b64encode(seed_text.encode()).decode()] = "CreateVirtualMFADevice"
    secrets[base64.b64encode(device["QRCodePNG"]).decode()] = "CreateVirtualMFADevice"
    seed = totp.seed_from_base32(seed_text)
    step = totp.time_step(clock.now)
    codes = [totp.totp(seed, step - 1), totp.totp(seed, step), totp.totp(seed, step + 1)]
    await seen.call(
        root,
        "iam",
        "EnableMFADevice",
        UserName="alice",
        SerialNumber=device["SerialNumber"],
        AuthenticationCode1=codes[0],
        AuthenticationCode2=codes[1],
    )
    alice = world.client(Credentials(key["AccessKeyId"], key["SecretAccessKey"]))
    session = await seen.call(
        alice, "sts", "GetSessionToken", SerialNumber=device["SerialNumber"], TokenCode=codes[2]
    )
    credentials = session["Credentials"]
    secrets[credentials["SecretAccessKey"]] = "GetSessionToken"
    secrets[credentials["SessionToken"]] = "GetSessionToken"
    # A replayed code and a wrong one: refused, and neither echoed.
    for code in (codes[2], "123456" if codes[2] != "123456" else "654321"):
        assert (
            await seen.refused(
                alice, "sts", "GetSessionToken", SerialNumber=device["SerialNumber"], TokenCode=code
            )
            == "AccessDenied"
        )
    role_arn = (
        await seen.call(
            root,
            "iam",
            "CreateRole",
            RoleName="worker",
            AssumeRolePolicyDocument=trust(f"arn:aws:iam::{world.tenant_id}:user/alice"),
        )
    )["Role"]["Arn"]
    assumed = (
        await seen.call(alice, "sts", "AssumeRole", RoleArn=role_arn, RoleSessionName="work")
    )["Credentials"]
    secrets[assumed["SecretAccessKey"]] = "AssumeRole"
    secrets[assumed["SessionToken"]] = "AssumeRole"

    # Read-backs and failures that touch each secret.
    for action, params in [
        ("ListAccessKeys", {"UserName": "alice"}),
        ("GetAccessKeyLastUsed", {"AccessKeyId": key["AccessKeyId"]}),
        ("GetLoginProfile", {"UserName": "alice"}),
        ("ListVirtualMFADevices", {}),
        ("ListMFADevices", {"UserName": "alice"}),
        ("GetUser", {"UserName": "alice"}),
        ("GetAccountSummary", {}),
    ]:
        await seen.call(root, "iam", action, **params)
    assert (
        await seen.refused(root, "iam", "CreateLoginProfile", UserName="alice", Password=PASSWORD)
        == "EntityAlreadyExists"
    )
    assert (
        await seen.refused(root, "iam", "UpdateLoginProfile", UserName="alice", Password="short")
        == "PasswordPolicyViolation"
    )
    forged = world.client(Credentials(key["AccessKeyId"], "x" * 40))
    assert await seen.refused(forged, "iam", "ListUsers") == "SignatureDoesNotMatch"
    wrong_token = world.client(
        Credentials(credentials["AccessKeyId"], credentials["SecretAccessKey"]), "forged"
    )
    assert await seen.refused(wrong_token, "sts", "GetCallerIdentity") == "InvalidClientTokenId"
    clock.now += 3600 * 13
    expired = world.client(
        Credentials(credentials["AccessKeyId"], credentials["SecretAccessKey"]),
        credentials["SessionToken"],
    )
    assert await seen.refused(expired, "sts", "GetCallerIdentity") == "ExpiredToken"

    # Each secret is in its creating answer and nowhere else.
    for secret, creator in secrets.items():
        carriers = {action for action, body in seen.bodies if secret.encode() in body}
        assert carriers == {creator}, (creator, carriers)
    # (TOTP codes are six digits: any body or log record may hold such a run by chance.)
    for secret in (PASSWORD, seed_text):
        assert not [action for action, body in seen.bodies if secret.encode() in body]
    # The server's own records (botocore, the client here, logs what it sends and receives).
    ours = [r for r in caplog.records if r.name.startswith("andromede")]
    assert ours  # the access log did run
    logged = "\n".join(f"{r.getMessage()} {r.args!r} {r.__dict__!r}" for r in ours)
    await world.audit.flush()
    events = [e for _, e in await world.audit_store.list_events(None, after_id=0, limit=1000)]
    assert {e.action for e in events} >= {"iam:CreateAccessKey", "sts:AssumeRole"}
    audited = "\n".join(repr(asdict(event)) for event in events)
    for secret in (*secrets, PASSWORD, seed_text):
        assert secret not in logged, secret[:4]
        assert secret not in audited, secret[:4]
