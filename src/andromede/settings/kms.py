"""Keys and encryption at rest: the key provider (file or PKCS#11 token), data key caches,
KMS housekeeping and external key stores (XKS proxies, decision 0090).

One group of ``andromede.settings.Settings``, which is composed of them all; the fields keep
their ``ANDROMEDE_<NAME>`` environment variables and TOML keys.
Its rules across several of its fields are plain methods, which ``Settings`` runs in a fixed
order once every field is valid.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    Field,
    ValidationInfo,
    field_validator,
)

from andromede.settings.cidr import cidr_networks


class KmsSettings(BaseModel):
    """Keys, encryption at rest and external key stores."""

    kms_upkeep_interval: float = Field(
        default=60.0,
        gt=0,
        description="Seconds between two passes destroying KMS keys past their deletion date "
        "and rotating keys due for automatic rotation.",
    )
    kms_grants_per_key: int = Field(
        default=50_000,
        ge=1,
        le=1_000_000,
        description="How many grants one KMS key may have at once (CreateGrant; AWS's quota is "
        "50,000); past it: LimitExceededException.",
    )
    kms_on_demand_rotations: int = Field(
        default=25,
        ge=0,
        le=1000,
        description="How many times one KMS key may be rotated on demand (RotateKeyOnDemand; "
        "AWS's quota is 25). Each rotation adds a version the root-key provider keeps for the "
        "key's lifetime; past the quota: LimitExceededException.",
    )
    key_provider: Literal["file", "pkcs11"] = Field(
        default="file",
        description="Root of the key hierarchy: a 0600 key file in data_dir/keys, or PKCS#11.",
    )
    pkcs11_library: Path | None = Field(
        default=None, description="PKCS#11 module (.so) of the HSM, with key_provider = pkcs11."
    )
    pkcs11_token_label: str = Field(
        default="andromede", description="Label of the PKCS#11 token that holds the tenant keys."
    )
    pkcs11_pin_file: Path | None = Field(
        default=None, description="File holding the PKCS#11 user PIN (never the PIN itself here)."
    )
    pkcs11_keygen_timeout: float = Field(
        default=300.0,
        gt=0,
        description=(
            "Seconds an RSA KMS key's generation in the HSM (a helper process with its own"
            " session) may take before CreateKey fails."
        ),
    )
    data_key_cache_ttl: float = Field(
        default=300.0,
        ge=0,
        description=(
            "Seconds a data key, key-file KEK or S3 bucket key stays cached, and the longest"
            " fresh data keys made ahead wait to be used (0: none cached, none made ahead)."
        ),
    )
    data_key_cache_size: int = Field(
        default=10_000, ge=1, description="Most unwrapped data keys cached per worker process."
    )
    opened_headers_cache_size: int = Field(
        default=10_000,
        ge=1,
        le=1_000_000,
        description=(
            "Most opened object headers (and SSE-KMS contexts) remembered per worker process, "
            "so that HEAD and GET of a recent object do not decrypt them again, and as many "
            "decoded sealed row texts (as many objects as data keys cached, by default)."
        ),
    )
    key_file_recheck_interval: float = Field(
        default=1.0,
        ge=0,
        description="Seconds a worker trusts its copy of the key-file keystore before a recheck.",
    )
    allow_insecure_sse: bool = Field(
        default=False,
        description="Accept SSE-C keys over plain HTTP on a non-loopback listener (tests only).",
    )
    bench_unencrypted: bool = Field(
        default=False,
        description="BENCHMARKS ONLY, never in production: store new blobs unencrypted.",
    )
    xks_ca_bundle: Path | None = Field(
        default=None,
        description="PEM CA certificates trusted for external key store proxies' HTTPS, beside "
        "the system store.",
    )
    xks_timeout: float = Field(
        default=2.0,
        ge=0.05,
        le=30,
        description="Seconds allowed for each phase of a call to an external key store proxy "
        "(connection with TLS, request, answer), a whole call at most twice as long.",
    )
    xks_max_connections: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="Kept-alive connections to one external key store proxy endpoint, per "
        "gateway process (calls beyond wait for one, within xks_timeout).",
    )
    xks_client_cert: Path | None = Field(
        default=None,
        description="PEM client certificate (chain) the gateway presents to external key store "
        "proxies that ask for one (mutual TLS); with xks_client_key.",
    )
    xks_client_key: Path | None = Field(
        default=None, description="PEM private key of xks_client_cert (unencrypted)."
    )
    xks_allowed_networks: tuple[str, ...] = Field(
        default=(),
        description="Networks (CIDR) of external key store proxies the gateway may reach beside "
        "public addresses: a tenant's XksProxyUriEndpoint never makes the gateway call an "
        "internal address (loopback, private, link-local) unless it is in one of these.",
    )

    def _xks_client_pair(self) -> None:
        if (self.xks_client_cert is None) != (self.xks_client_key is None):
            raise ValueError("xks_client_cert and xks_client_key go together: give both or neither")

    @field_validator("xks_allowed_networks")
    @classmethod
    def _xks_networks(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        return cidr_networks(value, info)
