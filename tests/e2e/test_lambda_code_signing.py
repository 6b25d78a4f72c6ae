"""Lambda code signing end to end (decision 0386), on the session's ``andromede serve``: boto3's
``signer`` client puts a signing profile and signs a ZIP kept in a versioned bucket with
StartSigningJob (the signed ZIP written under the destination prefix); ``lambda`` makes a code
signing configuration that enforces, creates a function from the signed object (invoked),
is refused one from the unsigned object, from a tampered copy of the signed one, and — once
the job's signature is revoked — from the signed one too; under Warn the unsigned code is
deployed. Decision 0394: another account signs with the profile once a profile permission
grants it ``signer:StartSigningJob``, its function answers the job in GetFunction, and the
layers it is given are judged too (the signed one used, the unsigned one refused); the
profile's tags."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from typing import Any

import pytest
from botocore.exceptions import ClientError

from e2e.iam_helpers import client_for, new_tenant
from support.lambda_functions import NEEDS_BWRAP, execution_role, handler_zip
from support.server import ServerProcess

pytestmark = [pytest.mark.e2e, NEEDS_BWRAP]

SOURCE = "def handler(event, context):\n    return {'signed': event['n'] * 2}\n"
PLATFORM = "AWSLambda-SHA384-ECDSA"


def _create(functions: Any, name: str, role: str, bucket: str, key: str, csc: str) -> Any:
    return functions.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="app.handler",
        Code={"S3Bucket": bucket, "S3Key": key},
        CodeSigningConfigArn=csc,
    )


def _refused(functions: Any, code: str, **create: Any) -> None:
    with pytest.raises(ClientError) as refused:
        _create(functions, **create)
    assert refused.value.response["Error"]["Code"] == code, refused.value.response


def test_signed_code_deploys_unsigned_and_revoked_code_is_refused(server: ServerProcess) -> None:
    tenant = new_tenant(server, "code-signing")
    keys = (tenant.access_key_id, tenant.secret_access_key)
    s3: Any = client_for(server, "s3", *keys)
    signer: Any = client_for(server, "signer", *keys)
    functions: Any = client_for(server, "lambda", *keys)
    role = execution_role(client_for(server, "iam", *keys), "signed-fn")
    bucket = f"code-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    version = s3.put_object(Bucket=bucket, Key="app.zip", Body=handler_zip(SOURCE))["VersionId"]

    platform = signer.get_signing_platform(platformId=PLATFORM)
    assert platform["signingConfiguration"]["hashAlgorithmOptions"]["defaultValue"] == "SHA384"
    made = signer.put_signing_profile(profileName="ci_signer", platformId=PLATFORM)
    profile = signer.get_signing_profile(profileName="ci_signer")
    assert profile["status"] == "Active"
    assert profile["profileVersionArn"] == made["profileVersionArn"]
    started = signer.start_signing_job(
        source={"s3": {"bucketName": bucket, "key": "app.zip", "version": version}},
        destination={"s3": {"bucketName": bucket, "prefix": "signed/"}},
        profileName="ci_signer",
        clientRequestToken=uuid.uuid4().hex,
    )
    job = signer.describe_signing_job(jobId=started["jobId"])
    assert job["status"] == "Succeeded", job
    signed_key = job["signedObject"]["s3"]["key"]
    assert signed_key == f"signed/{started['jobId']}.zip"
    assert [j["jobId"] for j in signer.list_signing_jobs()["jobs"]] == [started["jobId"]]
    signed = s3.get_object(Bucket=bucket, Key=signed_key)["Body"].read()
    with zipfile.ZipFile(io.BytesIO(signed)) as archive:  # still the same code package
        assert archive.read("app.py").decode() == SOURCE

    config = functions.create_code_signing_config(
        AllowedPublishers={"SigningProfileVersionArns": [made["profileVersionArn"]]},
        CodeSigningPolicies={"UntrustedArtifactOnDeployment": "Enforce"},
    )["CodeSigningConfig"]
    csc = config["CodeSigningConfigArn"]
    assert functions.get_code_signing_config(CodeSigningConfigArn=csc)["CodeSigningConfig"][
        "CodeSigningPolicies"
    ] == {"UntrustedArtifactOnDeployment": "Enforce"}

    common = {"role": role, "bucket": bucket, "csc": csc}
    _create(functions, "signed", key=signed_key, **common)
    done = functions.invoke(FunctionName="signed", Payload=b'{"n": 21}')
    assert json.loads(done["Payload"].read()) == {"signed": 42}
    assert (
        functions.get_function_code_signing_config(FunctionName="signed")["CodeSigningConfigArn"]
        == csc
    )
    assert functions.list_functions_by_code_signing_config(CodeSigningConfigArn=csc)[
        "FunctionArns"
    ] == [functions.get_function(FunctionName="signed")["Configuration"]["FunctionArn"]]

    _refused(functions, "CodeVerificationFailedException", name="unsigned", key="app.zip", **common)
    tampered = bytearray(signed)
    tampered[40] ^= 0x01  # a byte of the first entry's name: the ZIP still opens
    s3.put_object(Bucket=bucket, Key="tampered.zip", Body=bytes(tampered))
    _refused(functions, "InvalidCodeSignatureException", name="tampered", key="tampered.zip",
             **common)  # fmt: skip

    signer.revoke_signature(jobId=started["jobId"], reason="key material leaked")
    assert signer.describe_signing_job(jobId=started["jobId"])["revocationRecord"]["reason"] == (
        "key material leaked"
    )
    _refused(functions, "CodeVerificationFailedException", name="revoked", key=signed_key,
             **common)  # fmt: skip
    # The deployed function keeps its code; a new deployment of the revoked code is refused.
    with pytest.raises(ClientError) as update:
        functions.update_function_code(FunctionName="signed", S3Bucket=bucket, S3Key=signed_key)
    assert update.value.response["Error"]["Code"] == "CodeVerificationFailedException"

    # Under Warn, untrusted code is deployed (and the platform logs why).
    functions.update_code_signing_config(
        CodeSigningConfigArn=csc,
        CodeSigningPolicies={"UntrustedArtifactOnDeployment": "Warn"},
    )
    _create(functions, "warned", key="app.zip", **common)
    # Integrity failures are refused whatever the policy.
    _refused(functions, "InvalidCodeSignatureException", name="tampered", key="tampered.zip",
             **common)  # fmt: skip

    with pytest.raises(ClientError) as in_use:
        functions.delete_code_signing_config(CodeSigningConfigArn=csc)
    assert in_use.value.response["Error"]["Code"] == "ResourceConflictException"
    for name in ("signed", "warned"):
        functions.delete_function(FunctionName=name)
    functions.delete_code_signing_config(CodeSigningConfigArn=csc)
    signer.cancel_signing_profile(profileName="ci_signer")
    assert signer.list_signing_profiles()["profiles"] == []
    assert signer.list_signing_profiles(includeCanceled=True)["profiles"][0]["status"] == (
        "Canceled"
    )


def _sign(signer: Any, s3: Any, bucket: str, key: str, data: bytes, owner: str) -> tuple[str, str]:
    """``data`` put in the versioned ``bucket`` and signed with ``owner``'s profile: the signed
    object's key and the job's id."""
    version = s3.put_object(Bucket=bucket, Key=key, Body=data)["VersionId"]
    started = signer.start_signing_job(
        source={"s3": {"bucketName": bucket, "key": key, "version": version}},
        destination={"s3": {"bucketName": bucket, "prefix": "signed/"}},
        profileName="shared_signer",
        profileOwner=owner,
        clientRequestToken=uuid.uuid4().hex,
    )
    job = signer.describe_signing_job(jobId=started["jobId"])
    assert job["status"] == "Succeeded", job
    assert job["jobOwner"] == owner
    return str(job["signedObject"]["s3"]["key"]), str(started["jobId"])


def test_another_account_signs_code_and_layers_with_a_shared_profile(
    server: ServerProcess,
) -> None:
    owner = new_tenant(server, "signing-owner")
    owner_signer: Any = client_for(server, "signer", owner.access_key_id, owner.secret_access_key)
    made = owner_signer.put_signing_profile(
        profileName="shared_signer", platformId=PLATFORM, tags={"team": "platform"}
    )
    owner_signer.tag_resource(resourceArn=made["arn"], tags={"env": "ci"})
    assert owner_signer.list_tags_for_resource(resourceArn=made["arn"])["tags"] == {
        "team": "platform",
        "env": "ci",
    }
    partner = new_tenant(server, "signing-partner")
    keys = (partner.access_key_id, partner.secret_access_key)
    s3: Any = client_for(server, "s3", *keys)
    signer: Any = client_for(server, "signer", *keys)
    functions: Any = client_for(server, "lambda", *keys)
    role = execution_role(client_for(server, "iam", *keys), "shared-fn")
    bucket = f"partner-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})

    with pytest.raises(ClientError) as refused:
        _sign(signer, s3, bucket, "app.zip", handler_zip(SOURCE), owner.account)
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    granted = owner_signer.add_profile_permission(
        profileName="shared_signer",
        action="signer:StartSigningJob",
        principal=partner.account,
        statementId="partner",
    )
    listed = owner_signer.list_profile_permissions(profileName="shared_signer")
    assert listed["revisionId"] == granted["revisionId"]
    assert [p["principal"] for p in listed["permissions"]] == [partner.account]

    code_key, code_job = _sign(signer, s3, bucket, "app.zip", handler_zip(SOURCE), owner.account)
    layer_key, _ = _sign(signer, s3, bucket, "layer.zip", handler_zip("X = 1\n"), owner.account)
    s3.put_object(Bucket=bucket, Key="plain-layer.zip", Body=handler_zip("Y = 2\n"))
    signed_layer = functions.publish_layer_version(
        LayerName="signed-layer", Content={"S3Bucket": bucket, "S3Key": layer_key}
    )["LayerVersionArn"]
    plain_layer = functions.publish_layer_version(  # published: judged where it is used
        LayerName="plain-layer", Content={"S3Bucket": bucket, "S3Key": "plain-layer.zip"}
    )["LayerVersionArn"]
    csc = functions.create_code_signing_config(
        AllowedPublishers={"SigningProfileVersionArns": [made["profileVersionArn"]]},
        CodeSigningPolicies={"UntrustedArtifactOnDeployment": "Enforce"},
    )["CodeSigningConfig"]["CodeSigningConfigArn"]
    functions.create_function(
        FunctionName="shared", Runtime="python3.11", Role=role, Handler="app.handler",
        Code={"S3Bucket": bucket, "S3Key": code_key}, CodeSigningConfigArn=csc,
        Layers=[signed_layer],
    )  # fmt: skip
    configuration = functions.get_function(FunctionName="shared")["Configuration"]
    assert configuration["SigningProfileVersionArn"] == made["profileVersionArn"]
    assert configuration["SigningJobArn"].endswith(f":{owner.account}:/signing-jobs/{code_job}")
    assert [layer["Arn"] for layer in configuration["Layers"]] == [signed_layer]
    assert configuration["Layers"][0]["SigningProfileVersionArn"] == made["profileVersionArn"]
    with pytest.raises(ClientError) as unsigned_layer:
        functions.update_function_configuration(
            FunctionName="shared", Layers=[signed_layer, plain_layer]
        )
    assert unsigned_layer.value.response["Error"]["Code"] == "CodeVerificationFailedException"

    owner_signer.remove_profile_permission(
        profileName="shared_signer", statementId="partner", revisionId=granted["revisionId"]
    )
    with pytest.raises(ClientError) as removed:
        _sign(signer, s3, bucket, "app.zip", handler_zip(SOURCE), owner.account)
    assert removed.value.response["Error"]["Code"] == "AccessDeniedException"
    functions.delete_function(FunctionName="shared")
    functions.delete_code_signing_config(CodeSigningConfigArn=csc)
