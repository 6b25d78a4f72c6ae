"""Lambda's code signing, the rest of what AWS serves (decision 0394), through the REST-JSON
wire as botocore sends and parses it: the layer versions added to a function judged under
its code signing configuration (at CreateFunction and at UpdateFunctionConfiguration, not at
PublishLayerVersion, which shows a layer's signature), and the deployed package's
SigningProfileVersionArn and SigningJobArn in GetFunction, GetFunctionConfiguration,
ListFunctions and PublishVersion."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from support.lambda_functions import handler_zip
from support.lambdaapp import World, lambda_world

SOURCE = "def handler(event, context):\n    return 'signed'\n"


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async for made in lambda_world(tmp_path):
        yield made


async def _profile(world: World, name: str = "ci_signer") -> str:
    assert world.signer is not None
    made = await world.signer.put_profile(
        world.tenant_id, name, {"platformId": "AWSLambda-SHA384-ECDSA"}
    )
    return world.signer.version_arn(made)


async def _sign(world: World, data: bytes, profile: str = "ci_signer") -> tuple[bytes, str]:
    """``data`` signed by ``profile``, and the job's ARN."""
    assert world.signer is not None and world.signed_objects is not None
    key = f"src-{len(world.signed_objects.kept)}.zip"
    world.signed_objects.kept[("src", key)] = data
    job = await world.signer.start_job(
        object(),
        world.tenant_id,
        {
            "profileName": profile,
            "source": {"s3": {"bucketName": "src", "key": key, "version": "1"}},
            "destination": {"s3": {"bucketName": "dst", "prefix": ""}},
        },
        "tester",
    )
    assert job.signed_key is not None
    return world.signed_objects.kept[("dst", job.signed_key)], world.signer.job_arn(job)


async def _config(world: World, arns: list[str], policy: str = "Enforce") -> str:
    made = await world.client(
        "CreateCodeSigningConfig",
        AllowedPublishers={"SigningProfileVersionArns": arns},
        CodeSigningPolicies={"UntrustedArtifactOnDeployment": policy},
    )
    return str(made["CodeSigningConfig"]["CodeSigningConfigArn"])


async def _layer(world: World, name: str, data: bytes) -> str:
    # AWS publishes a layer version whatever its signature: it is judged where it is used.
    made = await world.client("PublishLayerVersion", LayerName=name, Content={"ZipFile": data})
    return str(made["LayerVersionArn"])


def _create(name: str, role: str, code: bytes, **more: Any) -> dict[str, Any]:
    return {
        "FunctionName": name,
        "Runtime": "python3.11",
        "Role": role,
        "Handler": "app.handler",
        "Code": {"ZipFile": code},
        **more,
    }


async def test_layers_added_are_judged_under_enforce(world: World) -> None:
    version_arn = await _profile(world)
    arn = await _config(world, [version_arn])
    code, _ = await _sign(world, handler_zip(SOURCE))
    signed_layer, layer_job = await _sign(world, handler_zip("X = 1\n"))
    unsigned = await _layer(world, "plain", handler_zip("Y = 2\n"))
    signed = await _layer(world, "trusted", signed_layer)
    # A layer version answers its content's signature (none for an unsigned one).
    content = (await world.client("GetLayerVersionByArn", Arn=signed))["Content"]
    assert content["SigningProfileVersionArn"] == version_arn
    assert content["SigningJobArn"] == layer_job
    plain = (await world.client("GetLayerVersionByArn", Arn=unsigned))["Content"]
    assert "SigningJobArn" not in plain
    failed = await world.fails(
        "CreateFunction",
        "CodeVerificationFailedException",
        **_create("f", await world.role(), code, Layers=[unsigned], CodeSigningConfigArn=arn),
    )
    assert f"the layer version {unsigned} is not signed" in failed.message
    made = await world.function(
        "g", Role=await world.role("r2"), Code={"ZipFile": code}, Layers=[signed],
        CodeSigningConfigArn=arn,
    )  # fmt: skip
    assert made["Layers"] == [
        {
            "Arn": signed,
            "CodeSize": len(signed_layer),
            "SigningProfileVersionArn": version_arn,
            "SigningJobArn": layer_job,
        }
    ]
    # UpdateFunctionConfiguration judges the layers it adds, under the function's configuration.
    failed = await world.fails("UpdateFunctionConfiguration", "CodeVerificationFailedException",
                               FunctionName="g", Layers=[signed, unsigned])  # fmt: skip
    assert unsigned in failed.message
    tampered = bytearray(signed_layer)
    tampered[40] ^= 0x01
    broken = await _layer(world, "broken", bytes(tampered))
    await world.fails("UpdateFunctionConfiguration", "InvalidCodeSignatureException",
                      FunctionName="g", Layers=[broken])  # fmt: skip
    # Without a configuration, any layer is used.
    await world.function("free", Role=await world.role("r3"), Layers=[unsigned])


async def test_a_layer_added_under_warn_is_used_and_logged(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    version_arn = await _profile(world)
    arn = await _config(world, [version_arn], "Warn")
    code, _ = await _sign(world, handler_zip(SOURCE))
    unsigned = await _layer(world, "plain", handler_zip("Y = 2\n"))
    await world.function("f", Code={"ZipFile": code}, CodeSigningConfigArn=arn)
    with caplog.at_level(logging.WARNING, logger="andromede.functions.code_signing"):
        changed = await world.client(
            "UpdateFunctionConfiguration", FunctionName="f", Layers=[unsigned]
        )
    assert [layer["Arn"] for layer in changed["Layers"]] == [unsigned]
    assert f"the layer version {unsigned} is not signed" in caplog.text


async def test_the_functions_signature_is_answered(world: World) -> None:
    version_arn = await _profile(world)
    arn = await _config(world, [version_arn])
    code, job_arn = await _sign(world, handler_zip(SOURCE))
    made = await world.function("f", Code={"ZipFile": code}, CodeSigningConfigArn=arn)
    assert made["SigningProfileVersionArn"] == version_arn
    assert made["SigningJobArn"] == job_arn
    got = await world.client("GetFunction", FunctionName="f")
    assert got["Configuration"]["SigningProfileVersionArn"] == version_arn
    assert got["Configuration"]["SigningJobArn"] == job_arn
    configuration = await world.client("GetFunctionConfiguration", FunctionName="f")
    assert configuration["SigningJobArn"] == job_arn
    listed = await world.client("ListFunctions")
    assert [f.get("SigningJobArn") for f in listed["Functions"]] == [job_arn]
    published = await world.client("PublishVersion", FunctionName="f")
    assert published["SigningProfileVersionArn"] == version_arn
    assert published["SigningJobArn"] == job_arn
    # New code signed by another job: its job answered.
    newer, newer_job = await _sign(world, handler_zip(SOURCE + "# v2\n"))
    changed = await world.client("UpdateFunctionCode", FunctionName="f", ZipFile=newer)
    assert changed["SigningJobArn"] == newer_job != job_arn
    # An unsigned function answers neither.
    plain = await world.function("plain", Role=await world.role("r2"))
    assert "SigningProfileVersionArn" not in plain and "SigningJobArn" not in plain
