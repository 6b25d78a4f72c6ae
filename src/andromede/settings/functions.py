"""AWS Lambda (decision 0286): the bounds of an account's functions — their code zips, the
account's code storage, environments, resource policies and concurrency —, of invocations'
payloads, and the sandboxes that run them (how long one stays warm, its processes and files,
how often the workers look for queued Event invocations).

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
        description="Largest unzipped size of a Lambda function's code with its layers' in "
        "bytes (AWS: 250 MB); beyond, InvalidParameterValueException (decisions 0286, 0302).",
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
    lambda_max_function_layers: int = Field(
        default=5,
        ge=1,
        description="Layers a Lambda function may use (AWS: 5); beyond, "
        "InvalidParameterValueException (decision 0302).",
    )
    lambda_max_code_signing_configs: int = Field(
        default=100,
        ge=1,
        description="Code signing configurations an account may hold; beyond, "
        "InvalidParameterValueException (decision 0386).",
    )
    signer_max_profiles: int = Field(
        default=100,
        ge=1,
        description="AWS Signer signing profiles an account may hold, canceled and revoked ones "
        "included; beyond, ServiceLimitExceededException (decision 0386).",
    )
    signer_max_profile_permissions: int = Field(
        default=100,
        ge=1,
        description="Cross-account permissions (AddProfilePermission statements) a signing "
        "profile may hold; beyond, ServiceLimitExceededException (decision 0394).",
    )
    signer_max_object_bytes: int = Field(
        default=50 * 1024 * 1024,
        gt=0,
        description="Largest object a signing job signs, in bytes (the Lambda zip bound); a "
        "larger one fails the job (decision 0386).",
    )
    lambda_concurrency_limit: int = Field(
        default=1000,
        ge=100,
        description="Concurrent executions of an account's Lambda functions (AWS: 1,000); "
        "reserved concurrency must leave 100 unreserved (decision 0286).",
    )
    lambda_max_payload_bytes: int = Field(
        default=6 * 1024 * 1024,
        gt=0,
        description="Largest payload of a synchronous Lambda invocation, and of its answer, in "
        "bytes (AWS: 6 MB); beyond, RequestTooLargeException (decision 0286).",
    )
    lambda_max_event_payload_bytes: int = Field(
        default=1024 * 1024,
        gt=0,
        description="Largest payload of an Event (asynchronous) Lambda invocation in bytes "
        "(AWS: 1 MB) (decision 0286).",
    )
    lambda_max_streamed_response_bytes: int = Field(
        default=200 * 1024 * 1024,
        gt=0,
        description="Largest answer of an InvokeWithResponseStream in bytes (AWS: 200 MB); "
        "beyond, the function is stopped and its stream ends Function.ResponseSizeTooLarge "
        "(decision 0313).",
    )
    lambda_url_max_prelude_bytes: int = Field(
        default=64 * 1024,
        gt=0,
        le=1024 * 1024,
        description="Largest HTTP prelude (status, headers, cookies as JSON) that opens a "
        "RESPONSE_STREAM function URL's streamed answer, in bytes; a prelude that does not end "
        "within it is answered 502, as one not of AWS's shape (decision 0337).",
    )
    lambda_idle_seconds: float = Field(
        default=300.0,
        gt=0,
        description="Seconds a Lambda sandbox stays warm for its version after an invocation, "
        "then stopped (decision 0286).",
    )
    lambda_sandbox_processes: int = Field(
        default=1024,
        gt=0,
        description="Processes a Lambda sandbox may run (RLIMIT_NPROC; AWS: 1,024) "
        "(decision 0286).",
    )
    lambda_sandbox_files: int = Field(
        default=1024,
        gt=0,
        description="Files a Lambda sandbox may hold open (RLIMIT_NOFILE; AWS: 1,024) "
        "(decision 0286).",
    )
    lambda_event_poll_interval: float = Field(
        default=1.0,
        gt=0,
        description="Seconds between the passes of each gateway's worker over the queued Event "
        "invocations (one is also woken by each Event invocation it queues) (decision 0286).",
    )
    lambda_event_retry_delay_seconds: int = Field(
        default=60,
        ge=1,
        le=3600,
        description="Seconds before the first retry of an Event invocation whose function returned "
        "an error, doubled for each further retry (AWS: one minute, then two) (decision "
        "0300).",
    )
    lambda_event_throttle_max_delay_seconds: int = Field(
        default=300,
        ge=1,
        le=3600,
        description="Longest wait before an Event invocation that was throttled (or found no "
        "sandbox) is tried again, not counted against its retries; the wait grows with "
        "the event's age up to this, within the event's maximum age (AWS: up to five "
        "minutes) (decision 0300).",
    )
    lambda_mapping_poll_interval: float = Field(
        default=1.0,
        gt=0,
        description="Seconds between the passes of each gateway's poller over the Lambda event "
        "source mappings it holds (each pass reads one batch of each mapping's queue) "
        "(decision 0295).",
    )
    lambda_mapping_lease_seconds: int = Field(
        default=60,
        ge=5,
        le=3600,
        description="Seconds a gateway holds the lease of the event source mappings it polls; "
        "another gateway takes a mapping over once its lease runs out (decision 0295).",
    )
    lambda_api_relay: bool = Field(
        default=True,
        description="Whether a function reaches the platform's AWS API from its sandbox "
        "(127.0.0.1:9001 there, AWS_ENDPOINT_URL, carried to the gateway through a Unix socket; "
        "nothing else of the network), as a rotation function calls Secrets Manager back "
        "(decision 0303).",
    )
    lambda_relay_idle_timeout: float = Field(
        default=350.0,
        gt=0,
        le=86400,
        description="Seconds a connection of a function's API relay may stay idle (no byte "
        "either way) before it is closed both ways, on the sandbox's side and the gateway's, so "
        "that a connection held open and silent by the function's code ties nothing for ever "
        "(AWS's NAT gateway closes an idle connection after 350 s) (decision 0364).",
    )
    lambda_max_provisioned_sandboxes: int = Field(
        default=32,
        ge=0,
        description="Provisioned concurrency sandboxes each gateway keeps initialised, all "
        "configurations together (the oldest first); a configuration beyond is FAILED with "
        "INSUFFICIENT_CAPACITY (decision 0314).",
    )
    lambda_provisioned_poll_interval: float = Field(
        default=5.0,
        gt=0,
        description="Seconds between the passes of each gateway's task over the provisioned "
        "concurrency configurations (one is also woken by each Put and Delete) (decision 0314).",
    )
    lambda_url_domain: str = Field(
        default="localhost",
        min_length=1,
        pattern=r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$",
        description="Base domain of Lambda function URLs on the S3 port: "
        "<url-id>.lambda-url.<region>.<lambda_url_domain> invokes the function (AWS: on.aws) "
        "(decision 0312).",
    )
