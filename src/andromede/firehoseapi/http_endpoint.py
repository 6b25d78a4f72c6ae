"""An HTTP endpoint destination on the wire (decision 0250): CreateDeliveryStream's
``HttpEndpointDestinationConfiguration``, UpdateDestination's ``HttpEndpointDestinationUpdate``
and DescribeDeliveryStream's ``HttpEndpointDestinationDescription`` — in which the AccessKey
is never shown back, as AWS never shows it."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any, Final

from andromede.firehose.http_endpoint import BACKUP_MODES, CONTENT_ENCODINGS
from andromede.firehose.model import HttpEndpoint, S3Destination
from andromede.firehoseapi.errors import FirehoseWireError
from andromede.firehoseapi.params import (
    FirehoseCall,
    check_backup_interval,
    invalid,
    is_role_arn,
    refused,
    s3_description,
)
from andromede.firehoseapi.processing import (
    endpoint_processing_description,
    endpoint_processing_input,
    logging_description,
    logging_input,
)

__all__ = ["HttpEndpointInput", "http_endpoint_description", "http_endpoint_input"]

_SECRET: Final = re.compile(r"arn:aws:secretsmanager:[a-z0-9-]+:\d{12}:secret:.{1,512}")
_MAX_ATTRIBUTES: Final = 50

HttpEndpointInput = tuple[HttpEndpoint, S3Destination, str | None]


def http_endpoint_input(
    call: FirehoseCall,
    config: Mapping[str, Any],
    base: tuple[HttpEndpoint, S3Destination] | None = None,
) -> HttpEndpointInput:
    """The endpoint, its S3 backup and the AccessKey given (None: none given) from a
    configuration (``base`` None) or an update of ``base``. An EndpointConfiguration given
    in an update replaces the old one whole, its AccessKey with it."""
    creating = base is None
    start = HttpEndpoint(url="") if base is None else base[0]
    endpoint = call.mapping("EndpointConfiguration", config)
    if endpoint is None and creating:
        raise invalid("EndpointConfiguration", "Member must not be null")
    access_key: str | None = None
    changed: dict[str, Any] = {}
    if endpoint is not None:
        url = call.string("Url", required=True, min_length=1, max_length=1000, source=endpoint)
        name = call.string("Name", min_length=1, max_length=256, source=endpoint)
        access_key = call.string("AccessKey", max_length=4096, source=endpoint)
        changed |= {"url": url, "name": name, "access_key": None}
    hints = call.mapping("BufferingHints", config)
    if hints is not None:
        size = call.integer("SizeInMBs", minimum=1, maximum=64, source=hints)
        interval = call.integer("IntervalInSeconds", minimum=0, maximum=900, source=hints)
        if (size is None) != (interval is None):
            raise refused("BufferingHints: SizeInMBs and IntervalInSeconds go together.")
        if size is not None:
            changed |= {"size_mb": size, "interval_seconds": interval}
    request = call.mapping("RequestConfiguration", config)
    if request is not None:
        changed |= _request_configuration(call, request)
    retry = call.mapping("RetryOptions", config)
    if retry is not None:
        seconds = call.integer("DurationInSeconds", minimum=0, maximum=7200, source=retry)
        if seconds is not None:
            changed["retry_seconds"] = seconds
    mode = call.string("S3BackupMode", source=config)
    if mode is not None:
        if mode not in BACKUP_MODES:
            raise invalid("S3BackupMode", "Member must satisfy enum value set: "
                          "[FailedDataOnly, AllData]")  # fmt: skip
        changed["backup_mode"] = mode
    role = call.string("RoleARN", min_length=1, max_length=512, source=config)
    if role is not None:
        if not is_role_arn(role):
            raise refused(f"RoleARN {role[:256]!r} is not a valid IAM role ARN.")
        changed["role_arn"] = role
    # Lambda (decision 0315), Decompression and CloudWatchLogProcessing (decision 0342).
    changed |= endpoint_processing_input(config.get("ProcessingConfiguration"), start)
    if config.get("CloudWatchLoggingOptions") is not None:  # decision 0270
        changed["logging"] = logging_input(config["CloudWatchLoggingOptions"], start.logging)
    secrets = call.mapping("SecretsManagerConfiguration", config)
    if secrets is not None:
        changed |= _secrets_configuration(call, secrets)
    http = dataclasses.replace(start, **changed)
    if http.secret_enabled:  # the secret holds the key: a sealed one kept would go unused
        http = dataclasses.replace(http, access_key=None)
    s3 = call.mapping("S3Update" if not creating else "S3Configuration", config)
    if s3 is None and creating:
        raise invalid("S3Configuration", "Member must not be null")
    backup = (
        base[1]
        if s3 is None and base is not None
        else call.destination(s3 or {}, extended=False, base=None if base is None else base[1])
    )
    if s3 is not None:  # the backup buffers on its own hints (decision 0388)
        check_backup_interval("S3Update" if not creating else "S3Configuration", backup)
    return http, backup, access_key


def _request_configuration(call: FirehoseCall, request: Mapping[str, Any]) -> dict[str, Any]:
    changed: dict[str, Any] = {}
    encoding = call.string("ContentEncoding", source=request)
    if encoding is not None:
        if encoding not in CONTENT_ENCODINGS:
            raise invalid("RequestConfiguration.ContentEncoding",
                          "Member must satisfy enum value set: [NONE, GZIP]")  # fmt: skip
        changed["content_encoding"] = encoding
    raw = request.get("CommonAttributes")
    if raw is not None:
        if not isinstance(raw, list) or not all(isinstance(a, dict) for a in raw):
            raise FirehoseWireError(
                "SerializationException",
                "CommonAttributes must be a list of HttpEndpointCommonAttribute",
            )
        if len(raw) > _MAX_ATTRIBUTES:
            raise invalid(
                "RequestConfiguration.CommonAttributes",
                f"Member must have length less than or equal to {_MAX_ATTRIBUTES}",
            )
        pairs = []
        for each in raw:
            name = call.string("AttributeName", required=True, min_length=1, max_length=256,
                               source=each)  # fmt: skip
            value = call.string("AttributeValue", required=True, max_length=1024, source=each)
            assert name is not None and value is not None  # noqa: S101 (required)
            pairs.append((name, value))
        if len({name for name, _ in pairs}) != len(pairs):
            raise refused("CommonAttributes: each AttributeName may be given once.")
        changed["common_attributes"] = tuple(pairs)
    return changed


def _secrets_configuration(call: FirehoseCall, secrets: Mapping[str, Any]) -> dict[str, Any]:
    enabled = secrets.get("Enabled")
    if not isinstance(enabled, bool):
        raise invalid("SecretsManagerConfiguration.Enabled", "Member must not be null")
    arn = call.string("SecretARN", min_length=1, max_length=2048, source=secrets)
    role = call.string("RoleARN", min_length=1, max_length=512, source=secrets)
    if enabled and arn is None:
        raise refused("SecretARN is required when SecretsManagerConfiguration is enabled.")
    if arn is not None and not _SECRET.fullmatch(arn):
        raise refused(f"SecretARN {arn[:256]!r} is not a valid Secrets Manager secret ARN.")
    if role is not None and not is_role_arn(role):
        raise refused(f"RoleARN {role[:256]!r} is not a valid IAM role ARN.")
    return {"secret_enabled": enabled, "secret_arn": arn, "secret_role_arn": role}


def http_endpoint_description(http: HttpEndpoint, backup: S3Destination) -> dict[str, Any]:
    """``HttpEndpointDestinationDescription``: everything but the AccessKey."""
    endpoint: dict[str, Any] = {"Url": http.url}
    if http.name is not None:
        endpoint["Name"] = http.name
    request: dict[str, Any] = {"ContentEncoding": http.content_encoding}
    if http.common_attributes:
        request["CommonAttributes"] = [
            {"AttributeName": k, "AttributeValue": v} for k, v in http.common_attributes
        ]
    described: dict[str, Any] = {
        "EndpointConfiguration": endpoint,
        "BufferingHints": {"SizeInMBs": http.size_mb, "IntervalInSeconds": http.interval_seconds},
        "CloudWatchLoggingOptions": logging_description(http.logging),
        "RequestConfiguration": request,
        "ProcessingConfiguration": endpoint_processing_description(
            http, http.role_arn or backup.role_arn
        ),
        "RetryOptions": {"DurationInSeconds": http.retry_seconds},
        "S3BackupMode": http.backup_mode,
        "S3DestinationDescription": s3_description(backup),
    }
    if http.role_arn is not None:
        described["RoleARN"] = http.role_arn
    if http.secret_arn is not None or http.secret_enabled:
        secrets: dict[str, Any] = {"Enabled": http.secret_enabled}
        if http.secret_arn is not None:
            secrets["SecretARN"] = http.secret_arn
        if http.secret_role_arn is not None:
            secrets["RoleARN"] = http.secret_role_arn
        described["SecretsManagerConfiguration"] = secrets
    return described
