"""One Firehose call's parameters and their checks, in AWS's wording
(``InvalidArgumentException`` for a value Firehose refuses, ``ValidationException`` for one
that breaks the API model's constraints), and the S3 destination parsed from a
``(Extended)S3DestinationConfiguration`` or its ``…Update``."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final

from andromede.awsjson.members import JsonMembers, WireErrorType, validation_error
from andromede.firehose.model import COMPRESSIONS, S3Destination
from andromede.firehose.service import FirehoseService
from andromede.firehoseapi.errors import FirehoseWireError
from andromede.firehoseapi.processing import (
    logging_description,
    logging_input,
    partitioning_description,
    partitioning_input,
)

__all__ = [
    "FirehoseCall",
    "check_backup_interval",
    "extended_description",
    "invalid",
    "is_kms_key_arn",
    "is_role_arn",
    "refused",
    "s3_description",
]

_NAME: Final = re.compile(r"[a-zA-Z0-9_.-]{1,64}")
_ROLE: Final = re.compile(r"arn:aws:iam::\d{12}:role/[\w+=,.@/-]{1,512}")
_BUCKET: Final = re.compile(r"arn:aws:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_KMS: Final = re.compile(r"arn:aws:kms:[a-z0-9-]+:\d{12}:(key|alias)/.{1,256}")
_EXTENSION: Final = re.compile(r"\.[0-9a-z!\-_.*'()]{1,127}")
SOURCE_BACKUP_MODES: Final = ("Disabled", "Enabled")  # Extended S3's S3BackupMode (0367)
BACKUP_MIN_INTERVAL: Final = 60  # seconds: no zero buffering for an S3 backup (0379)
# Features of an S3 destination this platform does not offer (decision 0223), by the field
# that asks for them; a field present but disabled is accepted, as AWS accepts it.
# CloudWatchLoggingOptions, dynamic partitioning and its processors are served since
# decision 0270 (``firehoseapi.processing``).
_NOT_OFFERED: Final = {
    "DataFormatConversionConfiguration": "record format conversion",
}


def is_kms_key_arn(text: str) -> bool:
    return _KMS.fullmatch(text) is not None


def is_role_arn(text: str) -> bool:
    return _ROLE.fullmatch(text) is not None


def invalid(name: str, constraint: str) -> FirehoseWireError:
    return validation_error(FirehoseWireError, name, constraint)


def refused(message: str) -> FirehoseWireError:
    return FirehoseWireError("InvalidArgumentException", message)


@dataclass(slots=True)
class FirehoseCall(JsonMembers):
    """One action call: its parameters, the caller's account, its authorisation, and the
    service; ``resources`` collects the streams' ARNs for the audit record."""

    params: Mapping[str, Any]
    tenant_id: str
    firehose: FirehoseService
    authorise: Callable[[str, str, Mapping[str, Any]], Awaitable[None]]
    max_record_size: int
    resources: list[str] = field(default_factory=list)
    # The caller as KMS judges it (``kms.customer_keys.Caller``), for a customer-managed key.
    kms_caller: object = None
    wire_error: ClassVar[WireErrorType] = FirehoseWireError

    def stream_name(self) -> str:
        name = self.string("DeliveryStreamName", required=True, min_length=1, max_length=64)
        assert name is not None  # noqa: S101 (required)
        if not _NAME.fullmatch(name):
            raise invalid("DeliveryStreamName", "Member must satisfy regular expression pattern: "
                          "[a-zA-Z0-9_.-]+")  # fmt: skip
        return name

    def mapping(self, name: str, source: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        value = (self.params if source is None else source).get(name)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise FirehoseWireError("SerializationException", f"{name} must be a structure")
        return value

    def tags(self, name: str = "Tags", *, required: bool = False) -> list[tuple[str, str]]:
        raw = self.params.get(name)
        if raw is None:
            if required:
                raise invalid(name, "Member must not be null")
            return []
        if not isinstance(raw, list) or not all(
            isinstance(t, dict) and isinstance(t.get("Key"), str)
            and isinstance(t.get("Value", ""), str)
            for t in raw
        ):  # fmt: skip
            raise FirehoseWireError("SerializationException", f"{name} must be a list of Tag")
        if not 1 <= len(raw) <= 50:
            raise invalid(name, "Member must have length between 1 and 50")
        pairs = [(str(t["Key"]), str(t.get("Value", ""))) for t in raw]
        for key, value in pairs:
            if not 1 <= len(key) <= 128 or len(value) > 256:
                raise invalid(f"{name}.member.Key", "Member must have length between 1 and 128")
            if key.startswith("aws:"):
                raise refused(f"Tag key {key!r} uses the reserved prefix aws:.")
        return pairs

    def data(self, record: object, name: str = "Record") -> bytes:
        """A record's ``Data`` (base64 on the wire), at most ``max_record_size`` bytes."""
        raw = record.get("Data") if isinstance(record, dict) else None
        if not isinstance(raw, str):
            raise invalid(f"{name}.data", "Member must not be null")
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise FirehoseWireError("SerializationException", "Data is not valid base64") from exc
        if len(data) > self.max_record_size:
            raise invalid(
                f"{name}.data",
                f"Member must have length less than or equal to {self.max_record_size}",
            )
        return data

    def destination(self, config: Mapping[str, Any], *, extended: bool,
                    base: S3Destination | None = None) -> S3Destination:  # fmt: skip
        """An S3 destination from a configuration (``base`` None) or an update of ``base``."""
        for feature, what in _NOT_OFFERED.items():
            asked = self.mapping(feature, config) or {}
            if asked.get("Enabled") is True:
                raise refused(f"{feature}: {what} is not offered by this platform "
                              "(decision 0223).")  # fmt: skip
        if config.get("CustomTimeZone") not in (None, "UTC"):
            raise refused("CustomTimeZone: only UTC is offered by this platform (decision 0223).")
        required = base is None
        role = self.string("RoleARN", required=required, min_length=1, max_length=512,
                           source=config)  # fmt: skip
        bucket = self.string("BucketARN", required=required, min_length=1, max_length=2048,
                             source=config)  # fmt: skip
        if role is not None and not _ROLE.fullmatch(role):
            raise refused(f"RoleARN {role!r} is not a valid IAM role ARN.")
        if bucket is not None and not _BUCKET.fullmatch(bucket):
            raise refused(f"BucketARN {bucket!r} is not a valid S3 bucket ARN.")
        hints = self.mapping("BufferingHints", config) or {}
        size = self.integer("SizeInMBs", minimum=1, maximum=128, source=hints)
        interval = self.integer("IntervalInSeconds", minimum=0, maximum=900, source=hints)
        compression = self.string("CompressionFormat", source=config)
        if compression is not None and compression not in COMPRESSIONS:
            raise refused(f"CompressionFormat {compression[:32]} is not offered by this platform "
                          "(UNCOMPRESSED or GZIP, decision 0223).")  # fmt: skip
        encryption_given, kms_key = self._kms_key(config)
        extension = self.string("FileExtension", max_length=128, source=config)
        # Empty is AWS's "none" (its pattern ``^$|\.[0-9a-z!\-_.*'()]+``): Terraform sends it.
        if extension and not _EXTENSION.fullmatch(extension):
            raise invalid("FileExtension", "Member must satisfy regular expression pattern")
        prefix = self.string("Prefix", max_length=1024, source=config)
        error_prefix = self.string("ErrorOutputPrefix", max_length=1024, source=config)
        start = base or S3Destination(role_arn="", bucket_arn="", extended=extended)
        logging = logging_input(config.get("CloudWatchLoggingOptions"), start.logging)
        partitioning = start.partitioning
        if extended:
            partitioning = partitioning_input(
                config.get("DynamicPartitioningConfiguration"),
                config.get("ProcessingConfiguration"),
                start.partitioning,
            )
        backup = self._source_backup(config, extended=extended, start=start, creating=base is None)
        return S3Destination(
            backup=backup,
            role_arn=role or start.role_arn,
            bucket_arn=bucket or start.bucket_arn,
            prefix=start.prefix if prefix is None else prefix,
            error_output_prefix=start.error_output_prefix if error_prefix is None else error_prefix,
            size_mb=start.size_mb if size is None else size,
            interval_seconds=start.interval_seconds if interval is None else interval,
            compression=compression or start.compression,
            kms_key_arn=kms_key if encryption_given else start.kms_key_arn,
            extended=extended or start.extended,
            file_extension=start.file_extension if extension is None else extension or None,
            logging=logging,
            partitioning=partitioning,
        )

    def _source_backup(
        self, config: Mapping[str, Any], *, extended: bool, start: S3Destination, creating: bool
    ) -> S3Destination | None:
        """Extended S3's ``S3BackupMode`` and its ``S3BackupConfiguration`` (an update's
        ``S3BackupUpdate``, changing the backup kept), decision 0367: once enabled, AWS lets
        no update disable it."""
        mode = config.get("S3BackupMode")
        if mode is not None and mode not in SOURCE_BACKUP_MODES:
            raise invalid("S3BackupMode", "Member must satisfy enum value set: [Disabled, Enabled]")
        if not extended:
            if mode == "Enabled":
                raise refused("S3BackupMode Enabled is an Extended S3 destination's only.")
            return start.backup
        if mode == "Disabled" and start.backup is not None:
            raise refused("S3BackupMode: a source record backup once enabled cannot be disabled.")
        member = "S3BackupConfiguration" if creating else "S3BackupUpdate"
        given = self.mapping(member, config)
        if mode != "Enabled" and (given is None or start.backup is None):
            return start.backup  # a configuration without the mode Enabled is not used
        if given is None and start.backup is None:
            raise refused(f"{member} is required when S3BackupMode is Enabled.")
        backup = self.destination(given or {}, extended=False, base=start.backup)
        check_backup_interval(member, backup)
        return backup

    def _kms_key(self, config: Mapping[str, Any]) -> tuple[bool, str | None]:
        """Whether an ``EncryptionConfiguration`` is given, and the KMS key it names (None
        for NoEncryptionConfig)."""
        encryption = self.mapping("EncryptionConfiguration", config)
        if encryption is None:
            return False, None
        kms = self.mapping("KMSEncryptionConfig", encryption)
        if kms is not None and encryption.get("NoEncryptionConfig") is not None:
            raise refused("EncryptionConfiguration takes NoEncryptionConfig or "
                          "KMSEncryptionConfig, not both.")  # fmt: skip
        if kms is None:
            return True, None
        key = self.string("AWSKMSKeyARN", required=True, min_length=1, max_length=512, source=kms)
        if key is None or not _KMS.fullmatch(key):
            raise refused(f"AWSKMSKeyARN {str(key)[:256]!r} is not a valid KMS key ARN.")
        return True, key


def s3_description(destination: S3Destination) -> dict[str, Any]:
    encryption: dict[str, Any] = (
        {"KMSEncryptionConfig": {"AWSKMSKeyARN": destination.kms_key_arn}}
        if destination.kms_key_arn
        else {"NoEncryptionConfig": "NoEncryption"}
    )
    described: dict[str, Any] = {
        "RoleARN": destination.role_arn,
        "BucketARN": destination.bucket_arn,
        "Prefix": destination.prefix,
        "ErrorOutputPrefix": destination.error_output_prefix,
        "BufferingHints": {
            "SizeInMBs": destination.size_mb,
            "IntervalInSeconds": destination.interval_seconds,
        },
        "CompressionFormat": destination.compression,
        "EncryptionConfiguration": encryption,
        "CloudWatchLoggingOptions": logging_description(destination.logging),
    }
    return described


def extended_description(destination: S3Destination) -> dict[str, Any]:
    """What ExtendedS3DestinationDescription adds: its processing and dynamic partitioning
    (decision 0270)."""
    return partitioning_description(destination.partitioning, destination.role_arn)


def check_backup_interval(member: str, backup: S3Destination) -> None:
    """An S3 backup's ``BufferingHints`` (decisions 0379, 0388): AWS's "Zero buffering … is
    not available for Amazon S3 backup destination"; its interval is 60-900 s (the exact
    error text is not published)."""
    if backup.interval_seconds < BACKUP_MIN_INTERVAL:
        raise refused(
            f"{member}.BufferingHints.IntervalInSeconds {backup.interval_seconds}: zero "
            "buffering is not available for an Amazon S3 backup destination; the "
            f"interval must be between {BACKUP_MIN_INTERVAL} and 900 seconds."
        )
