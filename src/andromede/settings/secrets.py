"""Secrets Manager (decision 0190): the limits of its secrets and the sweeper that purges the
secrets whose recovery window is over.

One group of ``andromede.settings.Settings``, which is composed of them all; the fields keep
their ``ANDROMEDE_<NAME>`` environment variables and TOML keys.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class SecretsSettings(BaseModel):
    """Secrets Manager's limits and upkeep."""

    secrets_max_value_size: int = Field(
        default=65536,
        gt=0,
        description="Largest SecretString or SecretBinary in bytes (AWS: 65,536) (decision 0190).",
    )
    secrets_max_secrets: int = Field(
        default=500_000,
        gt=0,
        description="Secrets an account may hold in a region, those marked for deletion "
        "included (AWS: 500,000) (decision 0190).",
    )
    secrets_max_versions: int = Field(
        default=100,
        ge=2,
        description="Versions a secret keeps: beyond, the oldest without a staging label are "
        "removed (AWS: about 100) (decision 0190).",
    )
    secrets_version_grace: float = Field(
        default=86400.0,
        ge=0,
        description="Seconds a version without a staging label is kept after its creation "
        "before it may be removed beyond secrets_max_versions (AWS: 24 hours) (decision 0190, "
        "session 49).",
    )
    secrets_max_versions_held: int = Field(
        default=500,
        ge=2,
        description="Versions a secret may hold at once, those kept by the grace included: "
        "beyond, a new version is LimitExceededException (AWS's quota on versions, its number "
        "unpublished) (decision 0190, session 49).",
    )
    secrets_max_tags: int = Field(
        default=50,
        gt=0,
        description="Tags a secret may carry (AWS: 50) (decision 0190).",
    )
    secrets_max_policy_size: int = Field(
        default=20480,
        gt=0,
        description="Largest resource policy of a secret in bytes (AWS: 20 KB) (decision 0190).",
    )
    secrets_sweep_interval: float = Field(
        default=3600.0,
        gt=0,
        description="Seconds between the passes that purge the secrets whose recovery window "
        "is over, in every gateway (decision 0190).",
    )
    secrets_replication_retry_interval: float = Field(
        default=5.0,
        gt=0,
        description="Seconds between the passes that sync the replicas due in the regions a "
        "gateway serves, and the first delay of a failed sync's exponential backoff "
        "(decision 0207).",
    )
    secrets_replication_max_backoff: float = Field(
        default=900.0,
        gt=0,
        description="Longest wait in seconds before a failed replica sync is tried again "
        "(decision 0207).",
    )
    secrets_rotation_poll_interval: float = Field(
        default=60.0,
        gt=0,
        description="Seconds between the passes of each gateway's worker over the secrets whose "
        "rotation window is open (decision 0303).",
    )
    secrets_rotation_lease_seconds: int = Field(
        default=3900,
        ge=60,
        le=86400,
        description="Seconds a gateway holds the lease of a rotation it runs (four steps of at "
        "most 900 s each, and a margin); another gateway may take it over once it runs out "
        "(decision 0303).",
    )
