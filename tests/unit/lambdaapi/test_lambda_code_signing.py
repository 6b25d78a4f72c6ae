"""Lambda's code signing through its REST-JSON wire (decision 0386), as botocore sends and
parses it: the configurations' operations and shapes; CreateFunction's and
UpdateFunctionCode's check of the package under Enforce (unsigned, another publisher's,
expired or revoked code refused with CodeVerificationFailedException) and under Warn
(deployed, a warning logged); an integrity failure refused whatever the policy; a
configuration in use not deleted; a deleted function's configuration forgotten; another
account's configuration not found."""

from __future__ import annotations

import base64
import hashlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from andromede.signer.listing import JobFilter
from andromede.signer.model import Validity
from support.lambda_functions import handler_zip
from support.lambdaapp import World, lambda_world

SOURCE = "def handler(event, context):\n    return 'signed'\n"


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async for made in lambda_world(tmp_path):
        yield made


async def _signed(world: World, profile: str = "ci_signer", **params: Any) -> tuple[str, bytes]:
    """A profile's version ARN, and the handler's ZIP it signed."""
    assert world.signer is not None and world.signed_objects is not None
    made = await world.signer.put_profile(
        world.tenant_id, profile, {"platformId": "AWSLambda-SHA384-ECDSA", **params}
    )
    world.signed_objects.kept[("src", "app.zip")] = handler_zip(SOURCE)
    job = await world.signer.start_job(
        object(),
        world.tenant_id,
        {
            "profileName": profile,
            "source": {"s3": {"bucketName": "src", "key": "app.zip", "version": "1"}},
            "destination": {"s3": {"bucketName": "dst", "prefix": ""}},
        },
        "tester",
    )
    assert job.signed_key is not None
    return world.signer.version_arn(made), world.signed_objects.kept[("dst", job.signed_key)]


async def _config(world: World, arns: list[str], policy: str = "Enforce") -> str:
    made = await world.client(
        "CreateCodeSigningConfig",
        Description="ci",
        AllowedPublishers={"SigningProfileVersionArns": arns},
        CodeSigningPolicies={"UntrustedArtifactOnDeployment": policy},
    )
    return str(made["CodeSigningConfig"]["CodeSigningConfigArn"])


def _code(data: bytes) -> dict[str, Any]:
    return {"ZipFile": data}


async def test_the_configurations_operations(world: World) -> None:
    version_arn, _ = await _signed(world)
    arn = await _config(world, [version_arn])
    got = (await world.client("GetCodeSigningConfig", CodeSigningConfigArn=arn))[
        "CodeSigningConfig"
    ]
    assert got["CodeSigningConfigId"] == arn.rsplit(":", 1)[1]
    assert got["CodeSigningConfigId"].startswith("csc-") and len(got["CodeSigningConfigId"]) == 21
    assert got["AllowedPublishers"] == {"SigningProfileVersionArns": [version_arn]}
    assert got["Description"] == "ci"
    changed = await world.client(
        "UpdateCodeSigningConfig",
        CodeSigningConfigArn=arn,
        CodeSigningPolicies={"UntrustedArtifactOnDeployment": "Warn"},
    )
    assert changed["CodeSigningConfig"]["CodeSigningPolicies"] == {
        "UntrustedArtifactOnDeployment": "Warn"
    }
    listed = await world.client("ListCodeSigningConfigs")
    assert [c["CodeSigningConfigArn"] for c in listed["CodeSigningConfigs"]] == [arn]
    await world.fails(
        "CreateCodeSigningConfig",
        "InvalidParameterValueException",
        AllowedPublishers={"SigningProfileVersionArns": ["not-an-arn"]},
    )
    await world.fails(
        "CreateCodeSigningConfig",
        "InvalidParameterValueException",
        AllowedPublishers={"SigningProfileVersionArns": [version_arn]},
        CodeSigningPolicies={"UntrustedArtifactOnDeployment": "Sometimes"},
    )
    await world.fails(
        "CreateCodeSigningConfig",
        "InvalidParameterValueException",
        AllowedPublishers={"SigningProfileVersionArns": [version_arn]},
        Tags={"team": "ci"},
    )
    # A function's configuration: Put, Get, ListFunctionsByCodeSigningConfig, Delete.
    made = await world.function("fn")
    put = await world.client("PutFunctionCodeSigningConfig", FunctionName="fn",
                             CodeSigningConfigArn=arn)  # fmt: skip
    assert put == {"CodeSigningConfigArn": arn, "FunctionName": "fn"}
    got_fn = await world.client("GetFunctionCodeSigningConfig", FunctionName="fn")
    assert got_fn["CodeSigningConfigArn"] == arn
    by = await world.client("ListFunctionsByCodeSigningConfig", CodeSigningConfigArn=arn)
    assert by["FunctionArns"] == [made["FunctionArn"]]
    await world.fails("DeleteCodeSigningConfig", "ResourceConflictException",
                      CodeSigningConfigArn=arn)  # fmt: skip
    await world.client("DeleteFunctionCodeSigningConfig", FunctionName="fn")
    got_fn = await world.client("GetFunctionCodeSigningConfig", FunctionName="fn")
    assert got_fn["CodeSigningConfigArn"] == ""
    await world.client("DeleteCodeSigningConfig", CodeSigningConfigArn=arn)
    await world.fails("GetCodeSigningConfig", "ResourceNotFoundException",
                      CodeSigningConfigArn=arn)  # fmt: skip
    await world.fails("PutFunctionCodeSigningConfig", "CodeSigningConfigNotFoundException",
                      FunctionName="fn", CodeSigningConfigArn=arn)  # fmt: skip


async def test_enforce_refuses_untrusted_code(world: World) -> None:
    version_arn, signed = await _signed(world)
    other_arn, other_signed = await _signed(world, "other_signer")
    arn = await _config(world, [version_arn])
    await world.fails("CreateFunction", "CodeVerificationFailedException",
                      FunctionName="unsigned", Runtime="python3.11", Role=await world.role(),
                      Handler="app.handler", Code=_code(handler_zip(SOURCE)),
                      CodeSigningConfigArn=arn)  # fmt: skip
    failed = await world.fails(
        "CreateFunction", "CodeVerificationFailedException", FunctionName="other",
        Runtime="python3.11", Role=await world.role("r2"), Handler="app.handler",
        Code=_code(other_signed), CodeSigningConfigArn=arn,
    )  # fmt: skip
    assert failed.status == 400 and "allowed signing profile" in failed.message
    made = await world.function(
        "signed", Role=await world.role("r3"), Code=_code(signed), CodeSigningConfigArn=arn
    )
    assert made["CodeSha256"] == base64.b64encode(hashlib.sha256(signed).digest()).decode()
    invoked = await world.client("Invoke", FunctionName="signed", Payload=b"{}")
    assert invoked["Payload"].read() == b'"signed"'
    # UpdateFunctionCode is judged by the function's configuration.
    await world.fails("UpdateFunctionCode", "CodeVerificationFailedException",
                      FunctionName="signed", ZipFile=handler_zip(SOURCE))  # fmt: skip
    assert other_arn != version_arn


async def test_integrity_is_refused_even_under_warn(world: World) -> None:
    version_arn, signed = await _signed(world)
    arn = await _config(world, [version_arn], "Warn")
    tampered = bytearray(signed)
    tampered[40] ^= 0x01
    failed = await world.fails(
        "CreateFunction", "InvalidCodeSignatureException", FunctionName="t",
        Runtime="python3.11", Role=await world.role(), Handler="app.handler",
        Code=_code(bytes(tampered)), CodeSigningConfigArn=arn,
    )  # fmt: skip
    assert failed.status == 400


async def test_warn_deploys_untrusted_code_and_says_why(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    version_arn, _ = await _signed(world)
    arn = await _config(world, [version_arn], "Warn")
    with caplog.at_level(logging.WARNING, logger="andromede.functions.code_signing"):
        await world.function("warned", Code=_code(handler_zip(SOURCE)), CodeSigningConfigArn=arn)
    assert "the code package is not signed" in caplog.text
    assert "warned" in caplog.text


async def test_expired_and_revoked_signatures(world: World) -> None:
    assert world.signer is not None and world.signing is not None
    version_arn, signed = await _signed(world, signatureValidityPeriod={"value": 1, "type": "DAYS"})
    arn = await _config(world, [version_arn])
    role = await world.role()
    # A day and a second after it was signed, the signature has expired.
    expired_at = Validity(1, "DAYS").expiry(int(time.time())) + 1
    world.signing._clock = lambda: expired_at * 1000
    failed = await world.fails("CreateFunction", "CodeVerificationFailedException",
                               FunctionName="old", Runtime="python3.11", Role=role,
                               Handler="app.handler", Code=_code(signed),
                               CodeSigningConfigArn=arn)  # fmt: skip
    assert "expired" in failed.message
    world.signing._clock = lambda: int(time.time() * 1000)
    jobs = await world.signer.store.job_page(world.tenant_id, JobFilter(), None, 25)
    await world.signer.revoke_signature(world.tenant_id, jobs[0].job_id, {"reason": "leak"}, "t")
    failed = await world.fails("CreateFunction", "CodeVerificationFailedException",
                               FunctionName="revoked", Runtime="python3.11", Role=role,
                               Handler="app.handler", Code=_code(signed),
                               CodeSigningConfigArn=arn)  # fmt: skip
    assert "revoked: leak" in failed.message


async def test_a_deleted_function_forgets_its_configuration(world: World) -> None:
    version_arn, _ = await _signed(world)
    arn = await _config(world, [version_arn])
    await world.function("fn")
    await world.client("PutFunctionCodeSigningConfig", FunctionName="fn", CodeSigningConfigArn=arn)
    await world.client("DeleteFunction", FunctionName="fn")
    # Made again under its name, it starts without one: unsigned code deploys.
    await world.function("fn")
    got = await world.client("GetFunctionCodeSigningConfig", FunctionName="fn")
    assert got["CodeSigningConfigArn"] == ""
    await world.client("DeleteCodeSigningConfig", CodeSigningConfigArn=arn)


async def test_another_accounts_configuration_is_not_found(world: World) -> None:
    version_arn, _ = await _signed(world)
    arn = await _config(world, [version_arn])
    other = await world.other_tenant("stranger")
    await other.fails("GetCodeSigningConfig", "ResourceNotFoundException",
                      CodeSigningConfigArn=arn)  # fmt: skip
    await other.fails("CreateFunction", "CodeSigningConfigNotFoundException",
                      FunctionName="f", Runtime="python3.11", Role=await other.role(),
                      Handler="app.handler", Code=_code(handler_zip()),
                      CodeSigningConfigArn=arn)  # fmt: skip


async def test_the_setting_bounds_an_accounts_configurations(tmp_path: Path) -> None:
    async for world in lambda_world(tmp_path, lambda_max_code_signing_configs=1):
        version_arn, _ = await _signed(world)
        await _config(world, [version_arn])
        failed = await world.fails(
            "CreateCodeSigningConfig",
            "InvalidParameterValueException",
            AllowedPublishers={"SigningProfileVersionArns": [version_arn]},
        )
        assert "at most 1 code signing" in failed.message
