"""The XKS proxy's settings: one frozen value, from ``andromede xks-proxy serve``'s options.

The proxy is a separate program from ``andromede serve`` (the customer runs it on premises,
beside their HSM, not the operator), so it has settings of its own rather than fields in
``andromede.settings.Settings``. Each setting is an option of ``serve`` and an environment
variable ``ANDROMEDE_XKS_<NAME>`` (``cli/xks_proxy.py`` declares them from :data:`ENV_PREFIX`);
the README and ``docs/configuration.md`` list them all (a test checks it).

Secrets are never values here: the SigV4 secrets are in ``credentials_file``, the token's PIN
in ``pin_file`` (a PIN on a command line would show in ``ps`` and shell histories).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from andromede.xks.model import check_uri_path_prefix

__all__ = ["DEFAULT_REGION", "ENV_PREFIX", "MIN_BODY_SIZE", "XksProxySettings"]

ENV_PREFIX = "ANDROMEDE_XKS_"
DEFAULT_REGION = "eu-fr-1"  # Andromède's default region (andromede.settings.Settings.region)
#: The largest body the spec's maxima make (4300 bytes of data and 8192 of AAD in Base64,
#: three ARNs of 2048 characters, the other members), rounded up: a smaller limit would refuse
#: requests the spec says a proxy MUST take.
MIN_BODY_SIZE = 32 * 1024


class XksProxySettings(BaseModel):
    """Every setting of ``andromede xks-proxy serve``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(
        default="127.0.0.1",
        description="Address the proxy binds to; 0.0.0.0 to listen on every interface.",
    )
    port: int = Field(default=8443, ge=0, le=65535, description="TCP port (0 picks one).")
    tls_cert: Path = Field(
        description="PEM certificate chain of the proxy's name (HTTPS is required: TLS 1.2+)."
    )
    tls_key: Path = Field(description="PEM private key of tls_cert.")
    tls_client_ca: Path | None = Field(
        default=None,
        description="Optional PEM CA certificates a client certificate must chain to (mutual "
        "TLS, with tls_client_subject): a client without one, or with another's, is refused "
        "in the TLS handshake.",
    )
    tls_client_subject: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9.*_-]+$",
        description="The subject common name (CN) a client certificate must bear (with "
        "tls_client_ca); AWS KMS presents cks.kms.<region>.amazonaws.com.",
    )
    uri_path_prefix: str = Field(
        default="",
        description="Optional path before /kms/xks/v1 (the XksProxyUriPath is "
        "<prefix>/kms/xks/v1, at most 128 characters of a-z A-Z 0-9 / - _).",
    )
    region: str = Field(
        default=DEFAULT_REGION,
        pattern=r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$",
        description="Region of the KMS that calls the proxy: the SigV4 credential scope's region.",
    )
    credentials_file: Path = Field(
        description="TOML or JSON file of the SigV4 credentials (1 to 10 access key id and "
        "secret pairs); read again when it changes. Not readable by every user.",
    )
    pkcs11_module: Path = Field(description="Path of the HSM's PKCS#11 library (.so).")
    token_label: str = Field(min_length=1, max_length=32, description="Label of the token.")
    pin_file: Path = Field(
        description="File holding the token's user PIN (one line). Not readable by every user."
    )
    audit_log: Path = Field(
        description="File the audit log is appended to: one hash-chained JSON line per request."
    )
    authorization_file: Path | None = Field(
        default=None,
        description="Optional TOML or JSON file of per-key allow-lists of kmsKeyArns and "
        "principal ARNs (secondary authorization); read again when it changes.",
    )
    max_body_size: int = Field(
        default=64 * 1024,
        ge=MIN_BODY_SIZE,
        le=1024 * 1024,
        description="Largest request body in bytes (at least 32768: the spec's maxima).",
    )
    body_read_timeout: float = Field(
        default=5.0, gt=0, le=60, description="Seconds a client has to send its request body."
    )
    hsm_timeout: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description="Seconds the token has to answer before DependencyTimeoutException.",
    )
    max_in_flight: int = Field(
        default=64,
        ge=1,
        le=10_000,
        description="Requests waiting for the token at once; more get ThrottlingException.",
    )
    keep_alive_timeout: int = Field(
        default=60,
        ge=1,
        le=3600,
        description="Seconds an idle HTTP connection stays open (KMS reuses its connections).",
    )

    @model_validator(mode="after")
    def _client_pair(self) -> XksProxySettings:
        if (self.tls_client_ca is None) != (self.tls_client_subject is None):
            raise ValueError(
                "tls_client_ca and tls_client_subject go together: the spec wants both the "
                "CA and the subject name of the client certificate configured"
            )
        return self

    @field_validator("uri_path_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        return check_uri_path_prefix(value)
