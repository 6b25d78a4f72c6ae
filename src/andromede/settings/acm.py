"""AWS Certificate Manager (decision 0230): the bounds of an account's certificates, the daily
expiry check, and the operator's private certificate authority.

One group of ``andromede.settings.Settings``, which is composed of them all; the fields keep
their ``ANDROMEDE_<NAME>`` environment variables and TOML keys.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class AcmSettings(BaseModel):
    """Certificate Manager's limits and expiry check."""

    acm_max_certificates: int = Field(
        default=2500,
        gt=0,
        description="Certificates an account may hold in ACM in a Region (AWS: 2,500); beyond, "
        "ImportCertificate answers LimitExceededException (decision 0230).",
    )
    acm_max_imports_per_year: int = Field(
        default=5000,
        gt=0,
        description="Imports (re-imports included) an account may make in ACM in the last 365 "
        "days (AWS: 5,000); beyond, ImportCertificate answers LimitExceededException (decision "
        "0230).",
    )
    acm_expiry_check_interval: float = Field(
        default=3600.0,
        gt=0,
        description="Seconds between each gateway's looks for the certificates whose expiry was "
        "not checked today (UTC): each is checked once a day, its AWS/CertificateManager "
        "DaysToExpiry written and, within the account's DaysBeforeExpiry, an 'ACM Certificate "
        "Approaching Expiration' event sent (decision 0230).",
    )
    acm_private_ca_certificate: Path | None = Field(
        default=None,
        description="PEM certificate of the operator's private certificate authority: with "
        "acm_private_ca_key, RequestCertificate naming its ARN in CertificateAuthorityArn "
        "issues PRIVATE certificates at once, exportable (decision 0230).",
    )
    acm_private_ca_key: Path | None = Field(
        default=None,
        description="File of the unencrypted PEM private key of acm_private_ca_certificate "
        "(readable by the server only; its content is never a setting) (decision 0230).",
    )
