"""How AWS Lambda's answers are written (decision 0286): a version's
``FunctionConfiguration``, an ``AliasConfiguration``, the dates in Lambda's own format
(``2026-12-06T20:00:00.000+0000``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from andromede.functions.model import Alias, FunctionVersion

__all__ = ["alias_shape", "configuration", "lambda_date", "signed_by"]


def lambda_date(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def configuration(
    arn: str, version: FunctionVersion, environment: dict[str, str] | None
) -> dict[str, Any]:
    """``FunctionConfiguration`` of ``version`` (its ARN qualified for a published one);
    ``environment`` None when the caller may not read it."""
    shape: dict[str, Any] = {
        "FunctionName": version.name,
        "FunctionArn": arn,
        "Runtime": version.runtime,
        "Role": version.role,
        "Handler": version.handler,
        "CodeSize": version.code_size,
        "Description": version.description,
        "Timeout": version.timeout,
        "MemorySize": version.memory_size,
        "LastModified": lambda_date(version.last_modified),
        "CodeSha256": version.code_sha256,
        "Version": version.version,
        "TracingConfig": {"Mode": "PassThrough"},
        "RevisionId": version.revision_id,
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "PackageType": "Zip",
        "Architectures": list(version.architectures),
        "EphemeralStorage": {"Size": version.ephemeral_storage},
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{version.name}"},
    }
    if environment:
        shape["Environment"] = {"Variables": environment}
    if version.dead_letter_target:
        shape["DeadLetterConfig"] = {"TargetArn": version.dead_letter_target}
    if version.layers:  # decision 0302
        shape["Layers"] = [
            {
                "Arn": x.arn,
                "CodeSize": x.code_size,
                **signed_by(x.signing_profile_version_arn, x.signing_job_arn),
            }
            for x in version.layers
        ]
    # decision 0394: the package was signed
    shape |= signed_by(version.signing_profile_version_arn, version.signing_job_arn)
    return shape


def signed_by(profile_version_arn: str, job_arn: str) -> dict[str, str]:
    """A package's or a layer's ``SigningProfileVersionArn`` and ``SigningJobArn`` when it
    was signed (decision 0394); nothing for an unsigned one."""
    if not profile_version_arn:
        return {}
    return {"SigningProfileVersionArn": profile_version_arn, "SigningJobArn": job_arn}


def alias_shape(arn: str, alias: Alias) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "AliasArn": arn,
        "Name": alias.name,
        "FunctionVersion": alias.version,
        "Description": alias.description,
        "RevisionId": alias.revision_id,
    }
    if alias.weights:
        shape["RoutingConfig"] = {"AdditionalVersionWeights": dict(alias.weights)}
    return shape
