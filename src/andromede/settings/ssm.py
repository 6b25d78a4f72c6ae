"""Systems Manager Parameter Store (decision 0229): the limits of its parameters and of their
resource policies (decision 0249), and the upkeep that deletes the parameters whose Expiration
policy's time has come.

One group of ``andromede.settings.Settings``, which is composed of them all; the fields keep
their ``ANDROMEDE_<NAME>`` environment variables and TOML keys.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class SsmSettings(BaseModel):
    """Parameter Store's limits and upkeep."""

    ssm_max_standard_parameters: int = Field(
        default=10_000,
        gt=0,
        description="Standard-tier parameters an account may hold in a region (AWS: 10,000) "
        "(decision 0229).",
    )
    ssm_max_advanced_parameters: int = Field(
        default=100_000,
        gt=0,
        description="Advanced-tier parameters an account may hold in a region (AWS: 100,000) "
        "(decision 0229).",
    )
    ssm_max_standard_value_size: int = Field(
        default=4096,
        gt=0,
        description="Largest value of a standard-tier parameter in bytes (AWS: 4 KB) "
        "(decision 0229).",
    )
    ssm_max_advanced_value_size: int = Field(
        default=8192,
        gt=0,
        description="Largest value of an advanced-tier parameter in bytes (AWS: 8 KB) "
        "(decision 0229).",
    )
    ssm_max_versions: int = Field(
        default=100,
        ge=2,
        description="Versions a parameter keeps: a new one beyond removes the oldest, unless "
        "it carries a label (ParameterMaxVersionLimitExceeded) (AWS: 100) (decision 0229).",
    )
    ssm_max_tags: int = Field(
        default=50,
        gt=0,
        description="Tags a parameter may carry (AWS: 50) (decision 0229).",
    )
    ssm_max_resource_policy_size: int = Field(
        default=1024,
        gt=0,
        description="Largest resource policy of a parameter in bytes; beyond, "
        "PutResourcePolicy answers ResourcePolicyLimitExceededException (AWS: 1,024) "
        "(decision 0249).",
    )
    ssm_max_resource_policies: int = Field(
        default=10,
        gt=0,
        description="Resource policies a parameter may carry; beyond, PutResourcePolicy answers "
        "ResourcePolicyLimitExceededException (decision 0249).",
    )
    ssm_policy_interval: float = Field(
        default=60.0,
        gt=0,
        description="Seconds between the passes that take the parameter policies' actions due, "
        "in every gateway: an Expiration's deletion, an ExpirationNotification's or "
        "NoChangeNotification's event (decisions 0229, 0241).",
    )
