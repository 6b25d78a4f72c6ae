"""Identity: caches, IAM limits, console sign-in and sessions, and federation (OpenID
Connect providers, decision 0087; SAML, decision 0095).

One group of ``andromede.settings.Settings``, which is composed of them all; the fields keep
their ``ANDROMEDE_<NAME>`` environment variables and TOML keys.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import (
    BaseModel,
    Field,
    ValidationInfo,
    field_validator,
)

from andromede.settings.cidr import cidr_networks
from andromede.settings.units import GIB, KIB, MIB


class IdentitySettings(BaseModel):
    """Principals, console sign-in and federated identity."""

    identity_cache_ttl: float = Field(
        default=30.0,
        ge=0,
        description="Seconds a resolved access key and a principal's policies stay cached.",
    )
    key_usage_flush_interval: float = Field(
        default=60.0,
        gt=0,
        description="Seconds between two batched writes of access keys' last use.",
    )
    max_policies_per_entity: int = Field(
        default=10,
        ge=1,
        le=20,
        description="Most managed policies attached to one user, group or role (AWS: 10).",
    )
    max_server_certificates_per_tenant: int = Field(
        default=20,
        ge=1,
        le=1000,
        description="Most IAM server certificates one account holds (AWS's default quota: 20).",
    )
    credential_report_lifetime: float = Field(
        default=14400.0,
        gt=0,
        description="Seconds a credential report is served before ReportExpired (AWS: 4 hours).",
    )
    linked_role_deletion_timeout: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="Seconds a service-linked role's deletion task may run before it fails.",
    )
    simulation_max_evaluations: int = Field(
        default=1000,
        ge=1,
        description="Most actions times resources one IAM policy simulation call evaluates.",
    )
    password_min_length: int = Field(
        default=12,
        ge=8,
        le=128,
        description="Shortest console password; from 16 characters no class rule applies.",
    )
    login_max_failures: int = Field(
        default=5,
        ge=1,
        description="Console login failures in a row before each further attempt waits (backoff).",
    )
    login_backoff_max: float = Field(
        default=900.0,
        gt=0,
        description="Longest wait, seconds, imposed after repeated console login failures.",
    )
    console_session_idle_timeout: float = Field(
        default=1800.0,
        gt=0,
        description="Seconds of inactivity after which a console session ends.",
    )
    console_session_lifetime: float = Field(
        default=43200.0,
        gt=0,
        description="Seconds after login at which a console session ends, active or not.",
    )
    console_page_size: int = Field(
        default=100,
        ge=1,
        le=1000,
        description="Rows per page of the web console's lists (objects, audit entries, keys).",
    )
    console_dashboard_charts: int = Field(
        default=30,
        ge=1,
        le=500,
        description="Metric lines a console dashboard page draws at most (each is one "
        "GetMetricStatistics call); the rest are counted as not drawn.",
    )
    console_select_max_output: int = Field(
        default=256 * KIB,
        ge=KIB,
        le=8 * MIB,
        description="Bytes of an S3 Select answer's records a console object page shows at "
        "most; past them the page says the records were cut.",
    )
    console_upload_part_size: int = Field(
        default=8 * MIB,
        ge=5 * MIB,
        le=5 * GIB,
        description="Bytes of a console upload held in memory and sent as one S3 part; a "
        "larger file goes up as a multipart upload.",
    )
    oidc_ca_bundle: Path | None = Field(
        default=None,
        description="PEM CA certificates trusted for OIDC identity providers' HTTPS, beside "
        "the system store.",
    )
    oidc_timeout: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="Seconds allowed to fetch an OIDC issuer's discovery document or keys.",
    )
    oidc_allowed_networks: tuple[str, ...] = Field(
        default=(),
        description="Networks (CIDR) of OIDC identity providers the gateway may reach beside "
        "public addresses: a tenant's provider URL never makes the gateway call an internal "
        "address (loopback, private, link-local) unless it is in one of these.",
    )
    oidc_jwks_cache_ttl: float = Field(
        default=900.0,
        gt=0,
        description="Seconds an OIDC issuer's signing keys (JWKS) stay cached per worker.",
    )
    oidc_max_document_size: int = Field(
        default=1 << 20,
        ge=1024,
        le=16 << 20,
        description="Largest OIDC discovery document or JWKS read, bytes.",
    )
    console_oidc_client_secrets_file: Path | None = Field(
        default=None,
        description="JSON file of the client secrets of confidential OIDC clients for console "
        'sign-in, {"<provider url>": {"<client id>": "<secret>"}}, readable by the server\'s '
        "user only; a client not in it signs in as a public client, with PKCE alone "
        "(decision 0141).",
    )
    console_oidc_role_choice_lifetime: int = Field(
        default=300,
        ge=30,
        le=900,
        description="Seconds a user signed in by a tenant's OIDC issuer without a role named "
        "has to choose one of the roles offered, once (decision 0141 addendum).",
    )
    console_oidc_client_keys_file: Path | None = Field(
        default=None,
        description="JSON file of the private keys confidential OIDC clients authenticate "
        "with to the token endpoint for console sign-in (private_key_jwt, RFC 7523), "
        '{"<provider url>": {"<client id>": {"key": "<PEM private key>", "kid": "<key id>", '
        '"alg": "RS256"}}} (kid optional; alg RS256/384/512, PS256/384/512 or ES256/384, '
        "by default RS256 for an RSA key, ES256 for a P-256 one, ES384 for P-384), readable "
        "by the server's user only; a client may not also have a secret "
        "(decision 0141 addendum).",
    )
    saml_endpoints: tuple[str, ...] = Field(
        default=(),
        description="This deployment's own SAML endpoint URLs (https://…), which an assertion's "
        "Recipient and Audience may name, beside AWS's when saml_accept_aws_endpoints.",
    )
    saml_accept_aws_endpoints: bool = Field(
        default=True,
        description="Whether assertions addressed to AWS (Recipient "
        "https://signin.aws.amazon.com/saml or the region's, Audience urn:amazon:webservices) "
        "are accepted, as IdPs set up for AWS send them.",
    )
    saml_clock_skew: int = Field(
        default=60,
        ge=0,
        le=600,
        description="Seconds of clock skew allowed on a SAML assertion's NotBefore and "
        "NotOnOrAfter.",
    )
    saml_max_metadata_size: int = Field(
        default=256 * KIB,
        ge=1000,
        le=10_000_000,
        description="Largest SAML provider metadata document, bytes (the request body limit, "
        "max_api_body_size, applies too).",
    )

    @field_validator("saml_endpoints")
    @classmethod
    def _saml_endpoints(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for url in value:
            if not url.startswith("https://") or len(url) <= len("https://") or " " in url:
                raise ValueError(f"saml_endpoints: {url!r} is no https:// URL")
        return value

    @field_validator("oidc_allowed_networks")
    @classmethod
    def _oidc_networks(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        return cidr_networks(value, info)
