"""AWS Signer's resources (decision 0386): the one platform served (``AWSLambda-SHA384-ECDSA``),
signing profiles (each with its own ECDSA P-384 key, sealed), signing jobs, and their ARNs
and validity periods. Pure values, no I/O."""

from __future__ import annotations

import re
import secrets
import string
from calendar import monthrange
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from andromede.signer.errors import InvalidSignerInput
from andromede.signer.permissions import ProfilePermission

__all__ = [
    "LAMBDA_PLATFORM",
    "PLATFORMS",
    "JobStatus",
    "ProfileStatus",
    "SigningJob",
    "SigningProfile",
    "Validity",
    "job_arn",
    "new_profile_version",
    "parse_version_arn",
    "profile_arn",
]

PROFILE_NAME: Final = re.compile(r"[a-zA-Z0-9_]{2,64}")
_VERSION_ALPHABET: Final = string.ascii_letters + string.digits
# The most a signature may live, as AWS Signer bounds it: 135 months.
_MAX_MONTHS: Final = 135
_VERSION_ARN: Final = re.compile(
    r"arn:aws:signer:(?P<region>[^:]+):(?P<account>[^:]+):/signing-profiles/"
    r"(?P<name>[a-zA-Z0-9_]{2,64})/(?P<version>[a-zA-Z0-9]{10})"
)


class ProfileStatus(StrEnum):
    ACTIVE = "Active"
    CANCELED = "Canceled"
    REVOKED = "Revoked"


class JobStatus(StrEnum):
    IN_PROGRESS = "InProgress"
    FAILED = "Failed"
    SUCCEEDED = "Succeeded"


# What GetSigningPlatform answers of the one platform: Lambda's ZIPs, ECDSA over SHA-384.
LAMBDA_PLATFORM: Final[dict[str, Any]] = {
    "platformId": "AWSLambda-SHA384-ECDSA",
    "displayName": "AWS Lambda",
    "partner": "AWSLambda",
    "target": "SHA384-ECDSA",
    "category": "AWSIoT",
    "signingConfiguration": {
        "encryptionAlgorithmOptions": {"allowedValues": ["ECDSA"], "defaultValue": "ECDSA"},
        "hashAlgorithmOptions": {"allowedValues": ["SHA384"], "defaultValue": "SHA384"},
    },
    "signingImageFormat": {"supportedFormats": ["JSONDetached"], "defaultFormat": "JSONDetached"},
    "maxSizeInMB": 250,
    "revocationSupported": True,
}
PLATFORMS: Final = {LAMBDA_PLATFORM["platformId"]: LAMBDA_PLATFORM}


@dataclass(frozen=True, slots=True)
class Validity:
    """How long a profile's signatures live (``signatureValidityPeriod``)."""

    value: int = 135
    type: str = "MONTHS"

    @classmethod
    def of(cls, params: object) -> Validity:
        if params is None:
            return cls()
        if not isinstance(params, dict):
            raise InvalidSignerInput("signatureValidityPeriod must be an object")
        value, kind = params.get("value"), params.get("type")
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidSignerInput("signatureValidityPeriod.value must be a positive integer")
        bound = {"DAYS": _MAX_MONTHS * 31, "MONTHS": _MAX_MONTHS, "YEARS": _MAX_MONTHS // 12}
        if kind not in bound:
            raise InvalidSignerInput("signatureValidityPeriod.type must be DAYS, MONTHS or YEARS")
        if value > bound[kind]:
            raise InvalidSignerInput(f"A signature may be valid for at most {_MAX_MONTHS} months")
        return cls(value, kind)

    def expiry(self, signed_at: int) -> int:
        """When a signature made at ``signed_at`` (epoch seconds) expires."""
        if self.type == "DAYS":
            return signed_at + self.value * 86_400
        months = self.value * (12 if self.type == "YEARS" else 1)
        start = datetime.fromtimestamp(signed_at, UTC)
        year, month = divmod(start.month - 1 + months, 12)
        year += start.year
        day = min(start.day, monthrange(year, month + 1)[1])
        return int(start.replace(year=year, month=month + 1, day=day).timestamp())

    def shape(self) -> dict[str, Any]:
        return {"value": self.value, "type": self.type}


def new_profile_version() -> str:
    return "".join(secrets.choice(_VERSION_ALPHABET) for _ in range(10))


def profile_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:signer:{region}:{account}:/signing-profiles/{name}"


def job_arn(region: str, account: str, job_id: str) -> str:
    return f"arn:aws:signer:{region}:{account}:/signing-jobs/{job_id}"


def parse_version_arn(arn: str) -> tuple[str, str, str, str] | None:
    """(region, account, profile name, version) of a profile version's ARN; None if it is
    none."""
    found = _VERSION_ARN.fullmatch(arn)
    if found is None:
        return None
    return found["region"], found["account"], found["name"], found["version"]


@dataclass(frozen=True, slots=True)
class SigningProfile:
    tenant_id: str
    name: str
    version: str
    platform_id: str
    validity: Validity
    sealed_key: bytes  # the PKCS#8 private key, sealed under the account's key ring
    public_key: bytes  # SubjectPublicKeyInfo DER
    created: int
    status: ProfileStatus = ProfileStatus.ACTIVE
    tags: dict[str, str] = field(default_factory=dict)
    # RevokeSigningProfile: signatures made from this time on are revoked.
    revoked_from: int | None = None
    revoked_at: int | None = None
    revoked_by: str | None = None
    revoked_reason: str | None = None
    # AddProfilePermission's statements (decision 0394), and their revision ("" before any).
    permissions: tuple[ProfilePermission, ...] = ()
    policy_revision: str = ""

    def replaced(self, **changes: Any) -> SigningProfile:
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class SigningJob:
    job_id: str
    tenant_id: str
    profile_name: str
    profile_version: str
    platform_id: str
    source_bucket: str
    source_key: str
    source_version: str
    destination_bucket: str
    destination_prefix: str
    requested_by: str
    created: int
    status: JobStatus = JobStatus.IN_PROGRESS
    status_reason: str | None = None
    completed: int | None = None
    expires: int | None = None
    signed_key: str | None = None
    revoked_at: int | None = None
    revoked_by: str | None = None
    revoked_reason: str | None = None
    # StartSigningJob's clientRequestToken, and the digest of the request it came with: the
    # same token answers this job again, another request under it is refused (decision 0394).
    client_token: str = ""
    request_digest: str = ""
    # The account that started the job with another account's profile ("": the profile's
    # own; decision 0394); the job's objects are read and written in its name.
    invoker: str = ""

    @property
    def invoker_account(self) -> str:
        return self.invoker or self.tenant_id

    def replaced(self, **changes: Any) -> SigningJob:
        return replace(self, **changes)
