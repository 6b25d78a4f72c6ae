"""AWS Certificate Manager (decision 0230): the bound of an account's certificates.

One group of ``andromede.settings.Settings``, which is composed of them all; the fields keep
their ``ANDROMEDE_<NAME>`` environment variables and TOML keys.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class AcmSettings(BaseModel):
    """Certificate Manager's limits."""

    acm_max_certificates: int = Field(
        default=2500,
        gt=0,
        description="Certificates an account may hold in ACM in a Region (AWS: 2,500); beyond, "
        "ImportCertificate answers LimitExceededException (decision 0230).",
    )
