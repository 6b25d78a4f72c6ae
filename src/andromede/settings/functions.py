"""AWS Lambda (decision 0286): the bounds of an account's functions — their code zips, the
account's code storage, environments, resource policies and concurrency.

One group of ``andromede.settings.Settings``, which is composed of them all; the fields keep
their ``ANDROMEDE_<NAME>`` environment variables and TOML keys.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class FunctionsSettings(BaseModel):
    """Lambda's limits."""

    lambda_max_zip_bytes: int = Field(
        default=50 * 1024 * 1024,
        gt=0,
        description="Largest code zip a Lambda function may be given, directly or from S3, in "
        "bytes (AWS: 50 MB); beyond, RequestEntityTooLargeException (decision 0286).",
    )
    lambda_max_unzipped_bytes: int = Field(
        default=250 * 1024 * 1024,
        gt=0,
        description="Largest unzipped size of a Lambda function's code in bytes (AWS: 250 MB); "
        "beyond, InvalidParameterValueException (decision 0286).",
    )
    lambda_code_storage_bytes: int = Field(
        default=75 * 1024**3,
        gt=0,
        description="Code an account's Lambda function versions may hold in all, in bytes "
        "(AWS: 75 GB); beyond, CodeStorageExceededException (decision 0286).",
    )
    lambda_max_environment_bytes: int = Field(
        default=4096,
        gt=0,
        description="Largest set of environment variables of a Lambda function, as JSON, in "
        "bytes (AWS: 4 KB); beyond, InvalidParameterValueException (decision 0286).",
    )
    lambda_max_policy_bytes: int = Field(
        default=20_480,
        gt=0,
        description="Largest resource-based policy of a Lambda function in bytes (AWS: 20 KB); "
        "beyond, PolicyLengthExceededException (decision 0286).",
    )
    lambda_concurrency_limit: int = Field(
        default=1000,
        ge=100,
        description="Concurrent executions of an account's Lambda functions (AWS: 1,000); "
        "reserved concurrency must leave 100 unreserved (decision 0286).",
    )
