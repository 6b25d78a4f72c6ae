"""Typed, frozen settings: the one place every tunable of Andromède is declared.

Settings come, highest priority first, from explicit overrides (the CLI flags), ``ANDROMEDE_*``
environment variables, then a TOML file (``--config`` or ``ANDROMEDE_CONFIG``), then the defaults
below. Unknown keys are rejected wherever they come from, so a typo never silently falls back to a
default. Every field carries a one-line description; ``docs/configuration.md`` lists them all and a
test keeps the two in step. Secrets never live here in clear: they come from the environment or
``*_FILE`` paths, and a setting that may hold one (``database_url``) is a ``SecretStr``, masked
wherever the settings are printed.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyAddress,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from andromede.errors import ConfigurationError

__all__ = [
    "GIB",
    "KIB",
    "MIB",
    "HypervisorHostSettings",
    "RegionSettings",
    "Settings",
    "load_settings",
]

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

_CONFIG_ENV = "ANDROMEDE_CONFIG"
_REGION_NAME = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
# ISO 13616: country, check digits, the national account number (BBAN) of up to 30 characters.
_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")
# ISO 9362 (2014 on): party prefix, country, party suffix, optional branch.
_BIC = re.compile(r"[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?")


class RegionSettings(BaseModel):
    """One region of the deployment: where a bucket's bytes may live, and under which law.

    Declared in the ``regions`` list of the TOML file (``[[regions]]`` tables) or as JSON in
    ``ANDROMEDE_REGIONS``. With the local backend a region's blobs go under
    ``<data_dir>/objects`` (the default region, where data stored before regions stays) or
    ``<data_dir>/objects-<name>``; with RADOS, into its ``ceph_pool``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_REGION_NAME, description="Region name, as LocationConstraint.")
    # ISO 3166-1 alpha-2 country code, or "EU": the law the region's data centres are under.
    jurisdiction: str | None = Field(
        default=None,
        pattern=r"^[A-Z]{2}$",
        description="Country (ISO 3166-1 alpha-2) or EU whose law governs the region's data.",
    )
    ceph_pool: str | None = Field(
        default=None,
        min_length=1,
        description="RADOS pool of the region's object data (the default region: ceph_pool).",
    )
    endpoint: str | None = Field(
        default=None,
        pattern=r"^https?://[^/\s]+/?$",
        description="Public URL of the gateways serving the region, named in redirects.",
    )


_HOST_NAME = r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,251}[A-Za-z0-9])?$"
# A DNS domain of letters, digits and hyphens, labels of 1 to 63 characters (RFC 1035 §2.3.1).
_DNS_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DNS_DOMAIN = re.compile(rf"(?:{_DNS_LABEL}\.)*{_DNS_LABEL}")


class HypervisorHostSettings(BaseModel):
    """One hypervisor host a gateway drives: the name its agent reports and where it listens.

    Declared in the ``hypervisor_hosts`` list of the TOML file (``[[hypervisor_hosts]]``
    tables) or as JSON in ``ANDROMEDE_HYPERVISOR_HOSTS``. A host joins only when it is named
    here; its agent must present a certificate of ``hypervisor_agent_tls_ca`` valid for the
    URL's host, and report this name (``hypervisor_host_name`` on that host).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_HOST_NAME, description="Host name its agent reports.")
    url: str = Field(
        pattern=r"^https://(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}/?$",
        description="https://ADDRESS:PORT of the host's agent (mutual TLS).",
    )


class AuditWitnessSettings(BaseModel):
    """A witness the region asks to cosign its audit logs (decision 0122): where it takes
    submissions and its cosigner verifier key (``<name>+<hex id>+<base64(0x04 || key)>``, as
    ``andromede witness key`` prints it). Declared in ``audit_witnesses`` (``[[audit_witnesses]]``
    tables) or as JSON in ``ANDROMEDE_AUDIT_WITNESSES``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(
        pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
        description="The witness's submission prefix (https://…; http:// for a loopback test).",
    )

    @field_validator("url")
    @classmethod
    def _https_unless_loopback(cls, value: str) -> str:
        # A checkpoint is public, but the cosignature a man in the middle could withhold or
        # replay is not worth a clear channel: plain HTTP only to this machine (tests).
        host = value.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[0].strip("[]")
        if value.startswith("http://") and host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("audit_witnesses: http:// only to a loopback address; use https://")
        return value

    # The shape only: the key's type and ID are checked when the gateway starts (the audit
    # context parses it; settings stay below every context).
    key: str = Field(
        pattern=r"^[^\s+]+\+[0-9a-f]{8}\+[A-Za-z0-9+/]+=*$",
        max_length=1024,
        description="Its cosigner verifier key.",
    )


# EC2's names and sizes; the root disk is the smallest an instance of the type gets.
_DEFAULT_INSTANCE_TYPES: dict[str, tuple[int, int, int]] = {
    "t2.nano": (1, 512, 8),
    "t2.micro": (1, 1024, 8),
    "t3.nano": (2, 512, 8),
    "t3.micro": (2, 1024, 8),
    "t3.small": (2, 2048, 8),
    "t3.medium": (2, 4096, 8),
    "t3.large": (2, 8192, 8),
    "m5.large": (2, 8192, 16),
    "m5.xlarge": (4, 16384, 16),
    "m5.2xlarge": (8, 32768, 16),
}


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("andromede", appauthor=False))


def _default_workers() -> int:
    # One process per core serves small requests (Python-bound) in parallel; past four, SQLite's
    # single writer, not the CPU, is the limit of the embedded mode.
    return max(1, min(4, os.cpu_count() or 1))


class Settings(BaseSettings):
    """Every setting of an Andromède process. Frozen: read once at start, never mutated."""

    model_config = SettingsConfigDict(
        env_prefix="ANDROMEDE_",
        extra="forbid",
        frozen=True,
        validate_default=True,
        # A rejected value is not echoed back: it may be a secret (database_url's password).
        hide_input_in_errors=True,
    )

    # -- where things live -------------------------------------------------------------------
    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Folder holding the metadata database, object data and admin credentials.",
    )
    database_url: SecretStr | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL of the metadata database: unset is SQLite in data_dir; "
            "postgresql+asyncpg://USER:PASSWORD@HOST:PORT/DB for the distributed mode."
        ),
    )
    database_pool_size: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="PostgreSQL connections per server process, shared by reads and writes.",
    )
    database_timeout: float = Field(
        default=10.0,
        gt=0,
        description="Seconds to connect to PostgreSQL, wait for a free connection, or run a query.",
    )

    # -- the S3 listener ---------------------------------------------------------------------
    s3_host: str = Field(
        default="127.0.0.1",
        description="Address the S3 endpoint binds to; 0.0.0.0 to listen on every interface.",
    )
    s3_port: int = Field(
        default=9000, ge=0, le=65535, description="TCP port of the S3 endpoint (0 picks one)."
    )
    s3_domain: str = Field(
        default="s3.localhost",
        description="Base domain for virtual-host-style requests (BUCKET.<s3_domain>).",
    )
    website_domain: str = Field(
        default="s3-website.localhost",
        description="Base domain of the static-website endpoint on the S3 port: BUCKET."
        "<website_domain> serves the bucket's website (anonymous GET and HEAD, HTML errors);"
        " empty turns website endpoints off.",
    )
    region: str = Field(
        default="eu-fr-1",
        pattern=_REGION_NAME,
        description=(
            "Default region: buckets created without LocationConstraint go there; requests "
            "that name no bucket are signed for it."
        ),
    )
    regions: tuple[RegionSettings, ...] = Field(
        default=(),
        description=(
            "Regions of the deployment (name, jurisdiction, ceph_pool, endpoint); empty: one "
            "region made of region and ceph_pool."
        ),
    )
    served_regions: tuple[str, ...] = Field(
        default=(),
        description=(
            "Regions whose data this gateway stores and serves (empty: every declared region); "
            "a bucket of another region answers 301 PermanentRedirect."
        ),
    )
    tls_cert: Path | None = Field(
        default=None, description="PEM certificate chain; with tls_key, serves HTTPS."
    )
    tls_key: Path | None = Field(default=None, description="PEM private key of tls_cert.")
    workers: int = Field(
        default_factory=_default_workers,
        ge=1,
        le=64,
        description="Server processes sharing the S3 port (default: CPUs, at most 4).",
    )
    api_host: str = Field(
        default="127.0.0.1",
        description="Address the management REST API binds to (loopback: operators on the host).",
    )
    api_port: int = Field(
        default=9001,
        ge=0,
        le=65535,
        description="TCP port of the management REST API, apart from S3's (0 picks one).",
    )
    server: Literal["uvicorn", "granian"] = Field(
        default="uvicorn", description="ASGI server that runs the S3 endpoint."
    )

    # -- logging -----------------------------------------------------------------------------
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Lowest level of log records written to standard error."
    )
    log_format: Literal["json", "text"] = Field(
        default="text", description="Log line format: JSON lines for machines, text for people."
    )
    access_log: bool = Field(default=True, description="Write one access-log line per request.")
    log_flush_interval: float = Field(
        default=0.5,
        gt=0,
        le=60,
        description="Seconds a log line may wait to be written with others (WARNING and"
        " worse are written at once; every line is written at a clean stop).",
    )
    audit_flush_interval: float = Field(
        default=0.2,
        gt=0,
        le=60,
        description="Seconds an audit event may wait to be written to the audit log with others"
        " (a full batch is written at once; a crash loses at most this much).",
    )
    billing_issuer_name: str = Field(
        default="Andromède",
        min_length=1,
        max_length=200,
        description="Who issues the invoices: the operator's legal name (decision 0123).",
    )
    billing_issuer_address: str = Field(
        default="",
        max_length=500,
        description="The issuer's postal address on the invoices (lines separated by newlines).",
    )
    billing_issuer_vat_id: str = Field(
        default="",
        pattern=r"^[A-Z0-9]{0,20}$",
        description="The issuer's VAT identification number on the invoices (FR…), if any.",
    )
    billing_issuer_siret: str = Field(
        default="",
        pattern=r"^([0-9]{9}|[0-9]{14})?$",
        description="The issuer's SIREN or SIRET: its legal registration in the electronic "
        "invoices (decision 0131), if any.",
    )
    billing_issuer_iban: str = Field(
        default="",
        description="The issuer's bank account (IBAN, ISO 13616, checked by its mod-97 digits; "
        "spaces allowed) customers pay the invoices to by SEPA credit transfer (decision 0136); "
        "none: the invoices name no account.",
    )
    billing_issuer_bic: str = Field(
        default="",
        description="The BIC (ISO 9362, 8 or 11 characters) of the bank holding "
        "billing_issuer_iban, printed beside it, if any.",
    )
    billing_invoice_prefix: str = Field(
        default="INV",
        pattern=r"^[A-Z0-9]{1,16}$",
        description="The invoice numbers' prefix: <prefix>-<year>-<sequence>, one gapless "
        "sequence per calendar year.",
    )
    billing_issuer_country: str = Field(
        default="FR",
        pattern=r"^[A-Z]{2}$",
        description="Where the issuer is established (ISO 3166-1 alpha-2): decides reverse "
        "charge and export VAT on invoices (decision 0126).",
    )
    billing_credit_note_prefix: str = Field(
        default="AV",
        pattern=r"^[A-Z0-9]{1,16}$",
        description="The credit note numbers' prefix (AV: avoir): <prefix>-<year>-<sequence>, "
        "a gapless sequence per calendar year of its own; not the invoices' prefix.",
    )
    billing_auto_invoice_delay: float | None = Field(
        default=None,
        ge=0,
        le=31 * 86400,
        description="Seconds after a month's end when every tenant's invoice of that month is "
        "issued by the gateways themselves (decision 0123); none: operators issue them.",
    )
    billing_payment_days: int = Field(
        default=30,
        ge=0,
        le=60,
        description="Days from an invoice's issue to its due date (French law: 60 at most).",
    )
    billing_flush_interval: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="Seconds request meters (S3, KMS) are counted in memory before being added"
        " to the usage table in one write (a crash loses at most this much metering).",
    )
    billing_sample_interval: float = Field(
        default=300.0,
        ge=1,
        le=3600,
        description="Seconds between two samples of what tenants hold (stored bytes, volumes,"
        " KMS keys) and two billings of running instances.",
    )
    audit_max_entries: int = Field(
        default=1000,
        gt=0,
        le=100_000,
        description="Most audit log entries one management API request returns "
        "(GET /api/v1/audit/logs/{log}/entries); a download reads a trail in pages of this size.",
    )
    audit_witnesses: tuple[AuditWitnessSettings, ...] = Field(
        default=(),
        description="Witnesses the region asks to cosign its audit logs (decision 0122): a "
        "list of {url, key}, the witness's add-checkpoint URL prefix and its cosigner verifier "
        "key; JSON in ANDROMEDE_AUDIT_WITNESSES. None: no cosignatures are asked for.",
    )
    audit_witness_ca_file: Path | None = Field(
        default=None,
        description="CA certificates (PEM) the witnesses' HTTPS certificates chain to; none: "
        "the system's.",
    )
    audit_witness_interval: float = Field(
        default=60.0,
        gt=0,
        le=86400,
        description="Seconds between two rounds asking every witness to cosign every log's "
        "latest checkpoint (decision 0122).",
    )
    audit_witness_timeout: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="Seconds a witness has to answer one add-checkpoint request.",
    )
    audit_signing_key: Literal["file", "hsm"] | None = Field(
        default=None,
        description="Where the audit log's Ed25519 signing key lives: file (data_dir/keys/"
        "audit-log.key) or hsm (made in the PKCS#11 token, never out of it: decision 0134)."
        " None: hsm with key_provider = pkcs11, file otherwise. Once registered, the key is"
        " used wherever the gateway holds it; andromede admin audit-key rotate replaces it,"
        " from the file into the token too (decision 0140).",
    )
    audit_key_rotation_days: int = Field(
        default=0,
        ge=0,
        le=36_500,
        description="Days after which serve rotates the audit log's signing key to a new key of"
        " the same kind (key file or HSM), one gateway of the region doing it; a new key file"
        " reaches the other gateways sealed under secrets.key (decision 0140). 0: never.",
    )
    audit_key_rotation_check_interval: float = Field(
        default=600.0,
        gt=0,
        le=86400,
        description="Seconds between two checks whether the audit log's signing key is due"
        " for its scheduled rotation (audit_key_rotation_days), and whether a retired key"
        " file is due for removal (audit_old_key_retention).",
    )
    audit_old_key_retention: float = Field(
        default=604_800.0,
        ge=0,
        le=315_360_000,
        description="Seconds a key file of a retired audit log signing key is kept in each"
        " gateway's keys/ after the rotation away from it; then serve removes it (never the"
        " registered current key's; its public key stays in the registry and trails)."
        " Default 7 days; 0: at the next check (decision 0140).",
    )
    audit_retention_days: int = Field(
        default=183,
        ge=183,
        le=36_500,
        description="Days an audit log entry's text is kept; older entries are pruned by the"
        " sweeper, their hashes kept so that checkpoints and proofs still verify. Six months"
        " at least, without exception (decision 0107).",
    )
    operator_access_max_duration: int = Field(
        default=14_400,
        ge=60,
        le=7 * 86_400,
        description="Longest an operator access request may grant once its tenant approves it,"
        " in seconds (its S3 credentials end with it).",
    )
    operator_access_request_ttl: int = Field(
        default=604_800,
        ge=3600,
        le=2_592_000,
        description="Seconds a tenant has to approve or refuse an operator access request;"
        " undecided past it, the request expires and can no longer be approved (decision 0114).",
    )
    operator_access_reason_max_length: int = Field(
        default=1000,
        ge=1,
        le=10_000,
        description="Most characters of an operator access request's reason (shown to the"
        " tenant and written in its audit log).",
    )
    log_buffer_lines: int = Field(
        default=512,
        ge=1,
        description="Most log lines held unwritten; a full batch is written at once"
        " (1: every line written as it comes).",
    )

    # -- S3 limits (AWS's own values by default) ---------------------------------------------
    max_object_size: int = Field(
        default=5 * GIB, gt=0, description="Largest body accepted by a single PutObject."
    )
    max_part_size: int = Field(default=5 * GIB, gt=0, description="Largest UploadPart body.")
    min_part_size: int = Field(
        default=5 * MIB,
        ge=0,
        description="Smallest size of every part but the last in CompleteMultipartUpload.",
    )
    max_parts: int = Field(
        default=10_000, gt=0, le=10_000, description="Highest part number of a multipart upload."
    )
    max_key_length: int = Field(
        default=1024, gt=0, description="Longest object key, in UTF-8 bytes."
    )
    max_user_metadata_size: int = Field(
        default=2 * KIB, gt=0, description="Largest total of user metadata names and values."
    )
    max_encryption_context_size: int = Field(
        default=8 * KIB,
        gt=0,
        description="Longest x-amz-server-side-encryption-context header (base64 bytes).",
    )
    max_object_tags: int = Field(
        default=10,
        gt=0,
        description="Most tags on one object (x-amz-tagging, PutObjectTagging); S3's is 10.",
    )
    max_post_form_fields_size: int = Field(
        default=20 * KIB,
        gt=0,
        description="Largest size of a PostObject form's fields before its file (policy included).",
    )
    max_cors_rules: int = Field(
        default=100,
        gt=0,
        description="Most rules in one bucket's CORS configuration (PutBucketCors); S3's is 100.",
    )
    max_website_routing_rules: int = Field(
        default=50,
        gt=0,
        description="Most routing rules in one bucket's website configuration"
        " (PutBucketWebsite); S3's is 50.",
    )
    max_lifecycle_rules: int = Field(
        default=1000,
        gt=0,
        description="Most rules in one bucket's lifecycle configuration"
        " (PutBucketLifecycleConfiguration); S3's is 1,000.",
    )
    max_replication_rules: int = Field(
        default=1000,
        gt=0,
        description="Most rules in one bucket's replication configuration"
        " (PutBucketReplication); S3's is 1,000.",
    )
    max_delete_objects: int = Field(
        default=1000, gt=0, description="Most keys in one DeleteObjects request."
    )
    max_list_keys: int = Field(
        default=1000, gt=0, description="Most entries one list request returns (max-keys cap)."
    )
    max_header_size: int = Field(
        default=16 * KIB,
        gt=0,
        description="Largest request header section (names and values); AWS allows 8 KB.",
    )
    max_xml_body_size: int = Field(
        default=2 * MIB, gt=0, description="Largest XML request body (DeleteObjects, Complete…)."
    )
    max_api_body_size: int = Field(
        default=256 * KIB,
        gt=0,
        description=(
            "Largest request body of the IAM, STS and KMS APIs and of the management API."
        ),
    )
    rate_limit_per_key: float = Field(
        default=0.0,
        ge=0,
        description="Requests per second one access key may make per worker (0: no limit).",
    )
    rate_limit_unsigned_per_address: float = Field(
        default=20.0,
        ge=0,
        description="Requests per second one client address may make per worker to the "
        "unsigned STS actions, AssumeRoleWithWebIdentity and AssumeRoleWithSAML (each checks a "
        "signature, and the first may fetch an IdP's keys); past it, Throttling (0: no limit).",
    )
    presign_max_expiry: int = Field(
        default=7 * 24 * 3600, gt=0, description="Longest validity of a presigned URL, seconds."
    )
    clock_skew: int = Field(
        default=15 * 60,
        ge=0,
        description="Tolerated difference between client and server clocks, s.",
    )

    # -- object data: local disk or Ceph RADOS ---------------------------------------------------
    blob_backend: Literal["local", "rados"] = Field(
        default="local",
        description="Where object data goes: local disk under the data dir, or Ceph RADOS.",
    )
    ceph_conf: Path | None = Field(
        default=None, description="ceph.conf of the cluster (blob_backend = rados)."
    )
    ceph_keyring: Path | None = Field(
        default=None, description="Keyring holding ceph_user's cephx key (blob_backend = rados)."
    )
    ceph_user: str = Field(
        default="client.andromede",
        description="cephx user the gateway connects as; give it rw on the pools only.",
    )
    ceph_pool: str = Field(
        default="andromede", description="RADOS pool holding the default region's object data."
    )
    ceph_connect_timeout: float = Field(
        default=10.0, gt=0, description="Seconds to reach the Ceph monitors at start-up."
    )
    ceph_op_timeout: float = Field(
        default=30.0,
        gt=0,
        description="Seconds a RADOS operation may take before the request answers 503.",
    )
    ceph_reconnect_delay: float = Field(
        default=0.5,
        gt=0,
        description=(
            "Seconds before a gateway's first attempt to replace its librados client once the"
            " cluster looks gone; doubled after each failed attempt."
        ),
    )
    ceph_reconnect_delay_max: float = Field(
        default=15.0,
        gt=0,
        description="Seconds at most between two attempts to reconnect to the Ceph cluster.",
    )
    rados_stripe_size: int = Field(
        default=4 * MIB,
        ge=64 * KIB,
        le=64 * MIB,
        description="Size of the RADOS objects a blob is striped over.",
    )

    # -- durability and housekeeping -----------------------------------------------------------
    fsync: bool = Field(
        default=True,
        description="fsync object data and folders before acknowledging a write (durability).",
    )
    blob_directories_at_start: bool = Field(
        default=True,
        description=(
            "With blob_backend = local, create the 4,096 blob folders at start (one fsync for "
            "all) rather than each at its first write; off, a new data folder stays small."
        ),
    )
    io_threads: int = Field(
        default=32,
        ge=1,
        le=1024,
        description="Threads for blocking disk I/O (writes, fsyncs, reads) running side by side.",
    )
    read_chunk_size: int = Field(
        default=256 * KIB, ge=4 * KIB, description="Size of the chunks a GET streams from disk."
    )
    inline_object_max_bytes: int = Field(
        default=16 * KIB,
        ge=0,
        le=1024 * KIB,
        description=(
            "Objects up to this size keep their encrypted bytes in their metadata row, not in "
            "a blob (one durable commit per PUT, one read per GET); 0: never."
        ),
    )
    inline_object_regions: tuple[str, ...] | None = Field(
        default=None,
        description=(
            "Regions whose small objects may be kept in the metadata database (unset: every "
            "region with blob_backend = local, none with rados). With rados, list a region "
            "only if the metadata database is under its jurisdiction."
        ),
    )
    sweeper_interval: float = Field(
        default=300.0, gt=0, description="Seconds between two runs of the orphan-blob sweeper."
    )
    server_access_log_interval: float = Field(
        default=60.0,
        gt=0,
        description="Seconds between two deliveries of server access records into logging"
        " buckets' targets (and re-reads of which buckets log where).",
    )
    server_access_log_buffer: int = Field(
        default=100_000,
        gt=0,
        description="Most access records of one bucket held between two deliveries; more are"
        " dropped and counted in the log, never held without bound.",
    )
    lifecycle_interval: float = Field(
        default=3600.0,
        gt=0,
        description="Seconds between two passes applying buckets' lifecycle rules (expiring"
        " objects, aborting old multipart uploads); rules count whole days. The rules"
        " x-amz-expiration answers from are re-read at this interval, at most a minute apart.",
    )
    replication_interval: float = Field(
        default=1.0,
        gt=0,
        description="Seconds a gateway's replication worker waits, once the queue has no"
        " due task it may claim, before looking again (decision 0112).",
    )
    replication_batch: int = Field(
        default=16,
        gt=0,
        description="Replication tasks a gateway claims at once, and versions a pass over a"
        " bucket's existing objects looks at per step (decision 0112).",
    )
    replication_lease: float = Field(
        default=300.0,
        gt=0,
        description="Seconds a claimed replication task is its gateway's: a gateway that"
        " dies leaves it to be claimed again after this (decision 0112).",
    )
    replication_max_attempts: int = Field(
        default=5,
        gt=0,
        description="Copies of a version tried before its replication is FAILED (decision 0112).",
    )
    replication_retry_base: float = Field(
        default=2.0,
        gt=0,
        description="Seconds before a failed replication copy is tried again, doubled at"
        " each further attempt (decision 0112).",
    )
    notification_endpoint_allow_cidrs: tuple[str, ...] = Field(
        default=(),
        description="Networks (CIDR) that bucket event notifications may be pushed to beside "
        "public unicast addresses; a topic's push endpoint is resolved at each delivery and "
        "refused if an address is internal (loopback, private, link-local, metadata) and in "
        "none of these (decision 0132).",
    )
    notification_interval: float = Field(
        default=1.0,
        gt=0,
        description="Seconds between claims of the event notification queue when it was "
        "empty (decision 0132).",
    )
    notification_batch: int = Field(
        default=50,
        gt=0,
        description="Event notifications claimed at once by a gateway (decision 0132).",
    )
    notification_lease: float = Field(
        default=60.0,
        gt=0,
        description="Seconds a claimed event notification is a gateway's; one that dies "
        "leaves it to be claimed again after this (decision 0132).",
    )
    notification_max_attempts: int = Field(
        default=10,
        gt=0,
        description="Pushes of an event notification tried before it is dropped (decision 0132).",
    )
    notification_retry_base: float = Field(
        default=2.0,
        gt=0,
        description="Seconds before a failed event notification push is tried again, doubled "
        "at each further attempt, at most an hour (decision 0132).",
    )
    notification_timeout: float = Field(
        default=10.0,
        gt=0,
        description="Seconds to connect to, send to and hear from a push endpoint, each "
        "(decision 0132).",
    )
    notification_queue_per_tenant: int = Field(
        default=100_000,
        gt=0,
        description="Event notifications a tenant may have waiting; further events are "
        "dropped and logged, the writes themselves taken (decision 0132).",
    )
    max_notification_topics: int = Field(
        default=1000,
        gt=0,
        description="Notification topics (SNS-style, for bucket events) a tenant may hold "
        "(decision 0132).",
    )
    compute_resync_interval: float = Field(
        default=60.0,
        gt=0,
        description="Seconds between two passes pushing every running instance's firewall and"
        " every subnet's overlay peers to the hosts again, from the records (pushes from several"
        " gateways can arrive out of order, or be lost with a gateway that dies).",
    )
    instance_shutdown_check_interval: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        description="Seconds between two passes noticing instances whose guest powered itself "
        "off, which then stop or terminate as their InstanceInitiatedShutdownBehavior says "
        "(decision 0145).",
    )
    image_creation_lease: float = Field(
        default=60.0,
        ge=1,
        le=3600,
        description="Seconds a gateway holds a CreateImage's background stop, snapshots and "
        "start (renewed every third of it while it works); past it, another gateway's upkeep "
        "claims the work and finishes it (decision 0148).",
    )
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
    orphan_grace: float = Field(
        default=3600.0,
        ge=0,
        description="Age, seconds, before an unreferenced blob or temporary file is removed.",
    )
    body_read_timeout: float = Field(
        default=60.0, gt=0, description="Seconds a request body may stall before RequestTimeout."
    )
    shutdown_timeout: float = Field(
        default=30.0, ge=0, description="Seconds SIGTERM waits for in-flight requests to end."
    )

    # -- keys and encryption at rest ------------------------------------------------------------
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

    # -- compute (virtual machines, the EC2 API) ---------------------------------------------
    hypervisor: Literal["memory", "qemu"] = Field(
        default="memory",
        description=(
            "What runs instances: qemu (QEMU/KVM guests, TCG where KVM cannot run them, driven"
            " by one hypervisor agent per host) or memory (no guests; API-only gateways, tests)."
        ),
    )
    hypervisor_state_dir: Path | None = Field(
        default=None,
        description=(
            "Where the QEMU hypervisor keeps volumes, snapshots, seeds, QMP sockets and its"
            " agent's socket (default: <data_dir>/compute/host); short enough for socket paths."
        ),
    )
    hypervisor_cpu_overcommit: float = Field(
        default=4.0,
        gt=0,
        description="vCPUs the QEMU hypervisor offers per host CPU (memory is not overcommitted).",
    )
    hypervisor_volume_backend: Literal["file", "rbd"] = Field(
        default="file",
        description=(
            "Where instance volumes and snapshots live: file (qcow2 + LUKS files in"
            " hypervisor_state_dir) or rbd (the same in Ceph RBD images of hypervisor_rbd_pool,"
            " reached with ceph_conf, ceph_user and ceph_keyring: a disk outlives its host)."
        ),
    )
    hypervisor_rbd_pool: str = Field(
        default="andromede-volumes",
        min_length=1,
        description=(
            "Ceph pool (initialised with `rbd pool init`) of instance volumes and snapshots"
            " (hypervisor_volume_backend = rbd); ceph_user needs `profile rbd` on it."
        ),
    )
    hypervisor_rbd_namespace: str = Field(
        default="",
        pattern=r"^[A-Za-z0-9_.-]*$",
        description=(
            "RBD namespace of the volumes inside hypervisor_rbd_pool (created beforehand with"
            " `rbd namespace create`); empty: the pool's default namespace."
        ),
    )
    hypervisor_rbd_release_timeout: float = Field(
        default=45.0,
        gt=0,
        description=(
            "Seconds a volume's deletion waits for Ceph to drop the watch of a QEMU that died"
            " holding it open (Ceph times such watches out after 30 s)."
        ),
    )
    hypervisor_networking: Literal["auto", "bridge", "user"] = Field(
        default="auto",
        description=(
            "How QEMU guests are wired: bridge (tenant networks: a namespace and bridge per"
            " network, nftables security groups; needs root), user (QEMU user-mode networking"
            " with port forwards) or auto (bridge where a probe shows the host can, else user)."
        ),
    )
    hypervisor_transit_cidr: str = Field(
        default="100.64.0.0/16",
        description="Host range cut into one /30 link between the host and each tenant network.",
    )
    hypervisor_public_cidr: str = Field(
        default="100.65.0.0/16",
        description="Host-only range of the instances' public addresses (1:1 NAT, never routed).",
    )
    hypervisor_link_prefix: str = Field(
        default="andr",
        min_length=1,
        max_length=6,
        pattern=r"^[A-Za-z0-9]+$",
        description="Start of the names of this host's network namespaces and host-side links.",
    )
    hypervisor_underlay_address: str = Field(
        default="",
        description=(
            "This hypervisor's IPv4 address on the network between hosts: a tenant network's"
            " instances on several hosts are joined over VXLAN from it. Empty: no overlay, each"
            " host's tenant networks are its own."
        ),
    )
    hypervisor_underlay_netns: str = Field(
        default="",
        max_length=254,
        # What `ip netns add` accepts (a file name under /run/netns), kept to characters
        # that need no quoting and cannot read as an option of `ip -n`.
        pattern=r"^([A-Za-z0-9_][A-Za-z0-9_.-]*)?$",
        description=(
            "Network namespace (a name of `ip netns`) that holds hypervisor_underlay_address,"
            " for hosts that keep the network between hosts in a namespace of its own (as"
            " namespace-backed VRFs are);"
            " the VXLAN sockets are opened there (an agent whose namespace does not hold the"
            " address does not start). Empty: the host's own namespace."
        ),
    )
    hypervisor_vxlan_port: int = Field(
        default=4789,
        ge=1,
        # The next port carries the VPC peering segments (hypervisor/peering_segments.py).
        le=65534,
        description=(
            "UDP port this hypervisor receives the tenant networks' VXLAN traffic on; the next"
            " port (this one plus 1) carries the VPC peering connections' segments across hosts"
            " (decision 0139)."
        ),
    )
    hypervisor_underlay_mtu: int = Field(
        default=1500,
        ge=626,
        le=65535,
        description=(
            "MTU of the network between hosts; guests on tenant networks that span hosts get"
            " 50 bytes less (the VXLAN encapsulation)."
        ),
    )
    hypervisor_elastic_ip_uplink: str = Field(
        default="",
        max_length=15,
        pattern=r"^[A-Za-z0-9_.-]*$",
        description=(
            "Interface on which this hypervisor answers ARP for the Elastic IPs it holds (proxy"
            " entries), so a router on that segment reaches them through it; IPv4 forwarding is"
            " turned on for it, and only the Elastic IPs (and replies) cross from it into the"
            " tenant networks. Empty: the operator's network routes elastic_ip_cidr to the"
            " hypervisors, or the addresses stay on the host."
        ),
    )
    hypervisor_dns_upstream: tuple[str, ...] = Field(
        default=(),
        max_length=8,
        description=(
            "IPv4 addresses of the resolvers to which each VPC's Amazon-provided DNS (its"
            " router's resolver, at the VPC block's base plus two and 169.254.169.253) sends"
            " the names that are not the VPC's; reached from the routers' transit addresses, so"
            " the host must route (and masquerade) hypervisor_transit_cidr to them. Empty: such"
            " names are refused, the VPC's own names still resolve (decision 0143)."
        ),
    )
    imds_port: int = Field(
        default=16925,
        ge=1,
        le=65535,
        description="Port of the metadata service on each tenant network's host transit address"
        " (guests' 169.254.169.254:80 is forwarded there).",
    )
    hypervisor_agent_timeout: float = Field(
        default=30.0,
        gt=0,
        description="Seconds serve waits for its hypervisor agent to answer at start.",
    )
    hypervisor_host_name: str = Field(
        default_factory=socket.gethostname,
        pattern=_HOST_NAME,
        description="Name this host's hypervisor agent reports and instances record (default:"
        " the machine's hostname); a gateway's hypervisor_hosts must name it so.",
    )
    hypervisor_agent_listen: str = Field(
        default="",
        description="HOST:PORT where the hypervisor agent also listens over mutual TLS for"
        " gateways on other machines (empty: its unix socket only); needs"
        " hypervisor_agent_tls_cert, _key and _ca.",
    )
    hypervisor_agent_tls_cert: Path | None = Field(
        default=None,
        description="PEM certificate (chain) the agent presents on hypervisor_agent_listen;"
        " signed by hypervisor_agent_tls_ca and valid for the address gateways dial.",
    )
    hypervisor_agent_tls_key: Path | None = Field(
        default=None, description="PEM private key of hypervisor_agent_tls_cert."
    )
    hypervisor_agent_tls_ca: Path | None = Field(
        default=None,
        description="PEM CA that signs the gateways' client certificates and the agents'"
        " certificates: each side accepts only a peer it signed.",
    )
    hypervisor_hosts: tuple[HypervisorHostSettings, ...] = Field(
        default=(),
        description="Hypervisor hosts this gateway drives over mutual TLS (name, url); empty:"
        " the local agent that serve starts on its unix socket.",
    )
    hypervisor_agent_connect_timeout: float = Field(
        default=5.0,
        gt=0,
        description="Seconds a gateway waits to connect to a hypervisor agent before it takes"
        " the host as unreachable (placement goes on with the others).",
    )
    hypervisor_agent_query_timeout: float = Field(
        default=30.0,
        gt=0,
        description="Seconds a gateway waits for a hypervisor agent to answer a question (its"
        " capacity, what it runs, a console) before it takes the host as unreachable.",
    )
    hypervisor_client_tls_cert: Path | None = Field(
        default=None,
        description="PEM client certificate the gateway presents to the agents of"
        " hypervisor_hosts (signed by hypervisor_agent_tls_ca).",
    )
    hypervisor_client_tls_key: Path | None = Field(
        default=None, description="PEM private key of hypervisor_client_tls_cert."
    )
    memory_hypervisor_vcpus: int = Field(
        default=16, ge=1, description="vCPUs the memory hypervisor offers to the scheduler."
    )
    memory_hypervisor_memory_mib: int = Field(
        default=32768, ge=64, description="Memory, MiB, the memory hypervisor offers."
    )
    instance_types: dict[str, tuple[int, int, int]] = Field(
        default_factory=lambda: dict(_DEFAULT_INSTANCE_TYPES),
        description="Instance types offered: name -> [vCPUs, memory MiB, root disk GiB].",
    )
    max_instances_per_tenant: int = Field(
        default=20, ge=0, description="Most instances (not terminated) one tenant may have."
    )
    max_vcpus_per_tenant: int = Field(
        default=64, ge=0, description="Most vCPUs a tenant's instances (not terminated) may hold."
    )
    max_user_data_size: int = Field(
        default=16 * KIB, gt=0, le=64 * KIB, description="Largest instance user data, decoded."
    )
    max_volumes_per_instance: int = Field(
        default=24,
        ge=1,
        le=64,
        description=(
            "Most volumes attached to one instance, its root volume included (RunInstances "
            "block device mappings, AttachVolume)."
        ),
    )
    max_image_launch_permissions: int = Field(
        default=1000,
        ge=0,
        le=100000,
        description=(
            "Most accounts one image may be shared with (ModifyImageAttribute "
            "launchPermission; EC2's quota: 1,000)."
        ),
    )
    max_launch_templates_per_tenant: int = Field(
        default=5000,
        ge=1,
        description="Most EC2 launch templates one tenant may hold (EC2's quota: 5,000).",
    )
    max_launch_template_versions: int = Field(
        default=10000,
        ge=1,
        description="Most versions one launch template may hold (EC2's quota: 10,000).",
    )
    max_vpcs_per_tenant: int = Field(
        default=5,
        ge=1,
        le=10000,
        description="Most VPCs one tenant may hold, its default VPC included (EC2's quota: 5).",
    )
    max_subnets_per_vpc: int = Field(
        default=200,
        ge=1,
        le=10000,
        description="Most subnets one VPC may hold, a default subnet included (EC2's quota: 200).",
    )
    max_route_tables_per_vpc: int = Field(
        default=200,
        ge=1,
        le=10000,
        description="Most route tables one VPC may hold, its main table included (EC2's quota: "
        "200).",
    )
    max_routes_per_route_table: int = Field(
        default=50,
        ge=1,
        le=1000,
        description="Most routes one route table may hold besides its local route, a route to "
        "a prefix list counting as its MaxEntries (EC2's quota: 50).",
    )
    max_network_acls_per_vpc: int = Field(
        default=200,
        ge=1,
        le=10000,
        description="Most network ACLs one VPC may hold, its default ACL included (EC2's quota: "
        "200).",
    )
    max_network_acl_entries: int = Field(
        default=20,
        ge=1,
        le=1000,
        description="Most entries one network ACL may hold in each direction, its * rule not "
        "counted (EC2's quota: 20).",
    )
    max_nat_gateways_per_az: int = Field(
        default=5,
        ge=1,
        le=1000,
        description="Most NAT gateways, deleted ones not counted, a tenant may hold in the "
        "availability zone (EC2's quota: 5).",
    )
    max_vpc_peerings_per_vpc: int = Field(
        default=50,
        ge=1,
        le=125,
        description="Most active VPC peering connections one VPC may be a side of (EC2's "
        "quota: 50, at most 125).",
    )
    max_dhcp_options_per_tenant: int = Field(
        default=1000,
        ge=1,
        le=100000,
        description="Most DHCP options sets a tenant may hold, its default set counted (EC2's "
        "quota: 1,000 per Region).",
    )
    max_prefix_lists_per_tenant: int = Field(
        default=100,
        ge=1,
        le=100000,
        description="Most customer-managed prefix lists a tenant may hold (EC2's quota: 100 per "
        "Region).",
    )
    max_prefix_list_entries: int = Field(
        default=1000,
        ge=1,
        le=100000,
        description="The highest MaxEntries a managed prefix list may take (EC2's: 1,000).",
    )
    prefix_list_versions_kept: int = Field(
        default=100,
        ge=1,
        le=10000,
        description="Earlier versions of a managed prefix list kept beside its current one, for "
        "GetManagedPrefixListEntries' TargetVersion and RestoreManagedPrefixListVersion; older "
        "ones are forgotten.",
    )
    max_rules_per_security_group: int = Field(
        default=60,
        ge=1,
        le=1000,
        description="Most rules of one security group in each direction, a managed prefix "
        "list's reference counting as its MaxEntries (EC2's quota: 60, at most 1,000).",
    )
    nat_gateway_deleted_visible_seconds: float = Field(
        default=3600.0,
        ge=0,
        le=30 * 86400,
        description="Seconds DescribeNatGateways keeps listing a deleted NAT gateway, as "
        "deleted (EC2: about an hour).",
    )
    elastic_ip_cidr: str = Field(
        default="100.66.0.0/24",
        description=(
            "The Region's Elastic IP addresses (AllocateAddress takes them from it): a block the"
            " operator's network routes to the hypervisors, or that hosts announce on"
            " hypervisor_elastic_ip_uplink. The default is a host-only range for a single"
            " machine. Empty: no Elastic IPs."
        ),
    )
    public_dns_domain: str = Field(
        default="",
        # ec2-255-255-255-255.<region: 63 at most>.compute.<domain> within DNS's 253.
        max_length=150,
        description=(
            "The operator's domain under which instances with a public address get EC2's"
            " public DNS names, ec2-a-b-c-d.<region>.compute.<public_dns_domain> (decision"
            " 0151): DescribeInstances' PublicDnsName, answered with the private address by"
            " the VPC's resolver, and listed by `andromede admin dns zone` for the operator's"
            " authoritative DNS. Empty: no public DNS names."
        ),
    )
    max_elastic_ips_per_tenant: int = Field(
        default=5,
        ge=0,
        le=100000,
        description="Most Elastic IP addresses one tenant may hold (EC2's quota: 5).",
    )
    instance_stop_timeout: float = Field(
        default=60.0,
        gt=0,
        description="Seconds a stopping guest has to power off (ACPI) before a hard stop.",
    )
    max_image_size: int = Field(
        default=64 * GIB,
        gt=0,
        description=(
            "Largest image file ImportImage accepts, and a hypervisor host takes from the "
            "control plane."
        ),
    )
    terminated_instance_retention: float = Field(
        default=3600.0,
        ge=0,
        description="Seconds a terminated instance stays visible before its record is purged.",
    )
    instance_forward_address: IPvAnyAddress = Field(
        default=IPv4Address("127.0.0.1"),
        description="Host address of the port forward that reaches an instance's SSH port when "
        "its host falls back to user-mode networking.",
    )

    @field_validator("database_url")
    @classmethod
    def _database_url_kind(cls, value: SecretStr | None) -> SecretStr | None:
        # The message never repeats the URL: it may carry a password.
        if value is not None and not value.get_secret_value().startswith(
            ("sqlite:", "sqlite+", "postgresql:", "postgresql+")
        ):
            raise ValueError("must be a sqlite:/// or postgresql+asyncpg:// SQLAlchemy URL")
        return value

    # -- identity and console login ------------------------------------------------------------
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
    console_upload_part_size: int = Field(
        default=8 * MIB,
        ge=5 * MIB,
        le=5 * GIB,
        description="Bytes of a console upload held in memory and sent as one S3 part; a "
        "larger file goes up as a multipart upload.",
    )

    # -- web identity federation (OpenID Connect providers, decision 0087) ---------------------
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

    # -- SAML federation (SAML providers, AssumeRoleWithSAML, decision 0095) ---------------------
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

    # -- KMS external key stores (XKS proxies, decision 0090) -----------------------------------
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

    # -- instance metadata service (169.254.169.254 in the guests) ------------------------------
    imds_token_ttl_max: int = Field(
        default=21600,
        ge=1,
        le=21600,
        description="Longest lifetime, seconds, of an IMDSv2 session token (EC2: 21600).",
    )
    imds_credentials_duration: int = Field(
        default=3600,
        ge=900,
        le=43200,
        description="Seconds an instance's role credentials last (at most the role's maximum "
        "session duration).",
    )
    imds_credentials_refresh_margin: float = Field(
        default=1800.0,
        gt=0,
        description="Seconds before expiry at which the metadata service hands an instance "
        "new role credentials (SDKs refresh from 10 to 20 minutes before).",
    )
    # VPC flow logs (decision 0153).
    max_flow_logs_per_tenant: int = Field(
        default=100,
        ge=1,
        le=100000,
        description="Most VPC flow logs a tenant may hold (FlowLogsLimitExceeded beyond).",
    )
    flow_log_max_flows: int = Field(
        default=10000,
        ge=1,
        le=10000000,
        description="Most flows a host keeps per aggregation interval for the flow logs; the "
        "flows beyond are counted and reported as a SKIPDATA record of their interface.",
    )
    flow_log_delivery_interval: float = Field(
        default=60.0,
        ge=1,
        le=3600,
        description="Seconds between two collections of the hosts' flow records, each "
        "delivered as one gzip object per flow log into its bucket.",
    )

    @field_validator(
        "oidc_allowed_networks", "xks_allowed_networks", "notification_endpoint_allow_cidrs"
    )
    @classmethod
    def _allowed_networks(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError as exc:
                raise ValueError(f"{info.field_name}: {network!r} is no CIDR network") from exc
        return value

    @field_validator("hypervisor_dns_upstream")
    @classmethod
    def _dns_upstream(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for server in value:
            try:
                ipaddress.IPv4Address(server)
            except ValueError as exc:
                raise ValueError(f"hypervisor_dns_upstream: {server!r} is no IPv4 address") from exc
        return value

    @field_validator("public_dns_domain")
    @classmethod
    def _public_dns_domain(cls, value: str) -> str:
        # Lower case, no final dot: it goes into names, zone files and dnsmasq's arguments.
        domain = value.strip().lower().removesuffix(".")
        if domain and not _DNS_DOMAIN.fullmatch(domain):
            raise ValueError(f"public_dns_domain: {value!r} is no DNS domain name")
        return domain

    @field_validator("saml_endpoints")
    @classmethod
    def _saml_endpoints(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for url in value:
            if not url.startswith("https://") or len(url) <= len("https://") or " " in url:
                raise ValueError(f"saml_endpoints: {url!r} is no https:// URL")
        return value

    @field_validator("billing_issuer_iban")
    @classmethod
    def _iban(cls, value: str) -> str:
        # Kept in ISO 13616's electronic form (no spaces), which the e-invoice carries; the
        # PDF prints it in groups of four, its paper form.
        iban = "".join(value.split()).upper()
        if not iban:
            return iban
        if not _IBAN.fullmatch(iban):
            raise ValueError(
                "billing_issuer_iban: not an IBAN (ISO 13616: a country code, two check digits,"
                " then 11 to 30 letters and digits)"
            )
        # ISO 7064 mod 97-10: the first four characters moved to the end, letters as 10 to
        # 35, the number leaves 1. Check digits 00, 01 and 99 are never issued.
        digits = "".join(str(int(char, 36)) for char in iban[4:] + iban[:4])
        if int(digits) % 97 != 1 or not 2 <= int(iban[2:4]) <= 98:
            raise ValueError(
                "billing_issuer_iban: its check digits do not match (ISO 13616 mod 97):"
                " a character is wrong"
            )
        return iban

    @field_validator("billing_issuer_bic")
    @classmethod
    def _bic(cls, value: str) -> str:
        bic = value.strip().upper()
        if bic and not _BIC.fullmatch(bic):
            raise ValueError(
                "billing_issuer_bic: not a BIC (ISO 9362: a 4-character party prefix, a country"
                " code, a 2-character suffix, then an optional 3-character branch)"
            )
        return bic

    @model_validator(mode="after")
    def _bic_names_the_ibans_bank(self) -> Settings:
        if self.billing_issuer_bic and not self.billing_issuer_iban:
            raise ValueError(
                "billing_issuer_bic needs billing_issuer_iban: a BIC alone is no account"
            )
        return self

    @model_validator(mode="after")
    def _billing_documents_apart(self) -> Settings:
        # A number names one document: an invoice's and a credit note's never look alike.
        if self.billing_credit_note_prefix == self.billing_invoice_prefix:
            raise ValueError("billing_credit_note_prefix must differ from billing_invoice_prefix")
        return self

    @model_validator(mode="after")
    def _audit_signing_key_has_a_token(self) -> Settings:
        if self.audit_signing_key == "hsm" and self.key_provider != "pkcs11":
            raise ValueError("audit_signing_key = hsm needs key_provider = pkcs11 (its token)")
        return self

    @property
    def audit_signing_key_in_token(self) -> bool:
        """Whether the audit log signing key is the token's (``audit_signing_key``, which
        follows ``key_provider`` when unset)."""
        if self.audit_signing_key is None:
            return self.key_provider == "pkcs11"
        return self.audit_signing_key == "hsm"

    @model_validator(mode="after")
    def _tls_pair(self) -> Settings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together: give both or neither")
        return self

    @model_validator(mode="after")
    def _console_parts_complete(self) -> Settings:
        # Every console part but the last is this size: below S3's smallest part, every
        # multipart upload from the console would fail at completion with EntityTooSmall.
        if self.console_upload_part_size < self.min_part_size:
            raise ValueError("console_upload_part_size must be at least min_part_size")
        return self

    @model_validator(mode="after")
    def _xks_client_pair(self) -> Settings:
        if (self.xks_client_cert is None) != (self.xks_client_key is None):
            raise ValueError("xks_client_cert and xks_client_key go together: give both or neither")
        return self

    @model_validator(mode="after")
    def _website_domain_apart(self) -> Settings:
        # The website endpoint is chosen by Host before the S3 API: a website domain that is
        # the S3 domain or holds it would turn virtual-host S3 requests into website reads.
        website = self.website_domain.lower().strip(".")
        s3 = self.s3_domain.lower().strip(".")
        if website and (s3 == website or s3.endswith("." + website)):
            raise ValueError("website_domain must not be s3_domain nor a domain above it")
        return self

    @model_validator(mode="after")
    def _imds_refreshes_before_expiry(self) -> Settings:
        if self.imds_credentials_refresh_margin >= self.imds_credentials_duration:
            raise ValueError(
                "imds_credentials_refresh_margin must be shorter than imds_credentials_duration"
            )
        return self

    @model_validator(mode="after")
    def _tenant_network_ranges(self) -> Settings:
        try:
            transit = ipaddress.IPv4Network(self.hypervisor_transit_cidr)
            public = ipaddress.IPv4Network(self.hypervisor_public_cidr)
        except ValueError as exc:
            raise ValueError(f"hypervisor_transit_cidr / hypervisor_public_cidr: {exc}") from None
        if transit.prefixlen > 29:
            raise ValueError("hypervisor_transit_cidr must hold at least two /30 links")
        if transit.overlaps(public):
            raise ValueError("hypervisor_transit_cidr and hypervisor_public_cidr overlap")
        if self.elastic_ip_cidr:
            try:
                elastic = ipaddress.IPv4Network(self.elastic_ip_cidr)
            except ValueError as exc:
                raise ValueError(f"elastic_ip_cidr: {exc}") from None
            if elastic.overlaps(transit) or elastic.overlaps(public):
                raise ValueError(
                    "elastic_ip_cidr overlaps hypervisor_transit_cidr or hypervisor_public_cidr"
                )
        if self.hypervisor_underlay_address:
            try:
                ipaddress.IPv4Address(self.hypervisor_underlay_address)
            except ValueError as exc:
                raise ValueError(f"hypervisor_underlay_address: {exc}") from None
        elif self.hypervisor_underlay_netns:
            raise ValueError("hypervisor_underlay_netns needs hypervisor_underlay_address")
        return self

    @model_validator(mode="after")
    def _rados_needs_a_cluster(self) -> Settings:
        if self.blob_backend == "rados" and self.ceph_conf is None:
            raise ValueError("blob_backend = rados needs ceph_conf (and usually ceph_keyring)")
        return self

    @model_validator(mode="after")
    def _rbd_volumes_need_a_cluster(self) -> Settings:
        # QEMU gets the cephx key from the keyring (a QMP secret), never a keyring of its own.
        if self.hypervisor_volume_backend == "rbd" and (
            self.ceph_conf is None or self.ceph_keyring is None
        ):
            raise ValueError("hypervisor_volume_backend = rbd needs ceph_conf and ceph_keyring")
        return self

    @model_validator(mode="after")
    def _distinct_listeners(self) -> Settings:
        # The workers tell the two listeners apart by the port a connection arrived on.
        if self.api_port != 0 and self.api_port == self.s3_port:
            raise ValueError("api_port and s3_port must differ: the API has its own listener")
        return self

    @model_validator(mode="after")
    def _agent_listener_has_its_certificates(self) -> Settings:
        # A network listener without mutual TLS would hand the host's guests to anyone.
        if not self.hypervisor_agent_listen:
            return self
        host, _, port = self.hypervisor_agent_listen.rpartition(":")
        if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError("hypervisor_agent_listen must be HOST:PORT (port 1 to 65535)")
        missing = [
            name
            for name in (
                "hypervisor_agent_tls_cert",
                "hypervisor_agent_tls_key",
                "hypervisor_agent_tls_ca",
            )
            if getattr(self, name) is None
        ]
        if missing:
            raise ValueError(f"hypervisor_agent_listen needs {', '.join(missing)} (mutual TLS)")
        return self

    @model_validator(mode="after")
    def _hypervisor_hosts_are_reachable(self) -> Settings:
        if not self.hypervisor_hosts:
            return self
        if self.hypervisor != "qemu":
            raise ValueError("hypervisor_hosts needs hypervisor = qemu")
        names = [h.name for h in self.hypervisor_hosts]
        if len(set(names)) != len(names):
            raise ValueError("hypervisor_hosts: every host needs a name of its own")
        missing = [
            name
            for name in (
                "hypervisor_client_tls_cert",
                "hypervisor_client_tls_key",
                "hypervisor_agent_tls_ca",
            )
            if getattr(self, name) is None
        ]
        if missing:
            raise ValueError(f"hypervisor_hosts needs {', '.join(missing)} (mutual TLS)")
        return self

    @property
    def hypervisor_agent_address(self) -> tuple[str, int] | None:
        """Where the agent listens over mutual TLS (brackets of an IPv6 address removed)."""
        if not self.hypervisor_agent_listen:
            return None
        host, _, port = self.hypervisor_agent_listen.rpartition(":")
        return host.strip("[]"), int(port)

    @model_validator(mode="after")
    def _regions_consistent(self) -> Settings:
        names = [r.name for r in self.regions]
        if len(set(names)) != len(names):
            raise ValueError("regions: every region needs a name of its own")
        if self.regions and self.region not in names:
            raise ValueError(f"region {self.region!r} (the default) must be one of regions")
        declared = {r.name for r in self.declared_regions}
        unknown = sorted(set(self.served_regions) - declared)
        if unknown:
            raise ValueError(f"served_regions names regions not declared: {unknown}")
        unknown = sorted(set(self.inline_object_regions or ()) - declared)
        if unknown:
            raise ValueError(f"inline_object_regions names regions not declared: {unknown}")
        if self.blob_backend == "rados":
            pools = [self.region_pool(name) for name in declared]
            if len(set(pools)) != len(pools):
                raise ValueError("regions: each region needs a ceph_pool of its own")
        return self

    @property
    def declared_regions(self) -> tuple[RegionSettings, ...]:
        """The regions of the deployment; without ``regions``, the one the older settings
        (``region``, ``ceph_pool``) describe."""
        if self.regions:
            return self.regions
        return (RegionSettings(name=self.region, ceph_pool=self.ceph_pool),)

    @property
    def served_region_names(self) -> frozenset[str]:
        """The regions this gateway serves: ``served_regions``, or every declared one."""
        if self.served_regions:
            return frozenset(self.served_regions)
        return frozenset(r.name for r in self.declared_regions)

    @property
    def inline_region_names(self) -> frozenset[str]:
        """The regions whose small objects are kept in the metadata database (decision 0028):
        ``inline_object_regions``, else every region on local disk (the database is on the
        same host as their folders) and none on RADOS (the database may be elsewhere)."""
        if self.inline_object_regions is not None:
            return frozenset(self.inline_object_regions)
        if self.blob_backend == "local":
            return frozenset(r.name for r in self.declared_regions)
        return frozenset()

    def region_settings(self, name: str) -> RegionSettings | None:
        return next((r for r in self.declared_regions if r.name == name), None)

    def region_pool(self, name: str) -> str:
        """The RADOS pool of a declared region (the default region falls back to ceph_pool)."""
        declared = self.region_settings(name)
        pool = declared.ceph_pool if declared is not None else None
        if pool is None:
            if name != self.region:
                raise ValueError(f"region {name!r} needs a ceph_pool (blob_backend = rados)")
            return self.ceph_pool
        return pool

    def region_directory(self, name: str) -> Path:
        """Where a region's blobs live with the local backend: the default region keeps the
        folder every blob went to before regions existed."""
        if name == self.region:
            return self.data_dir / "objects"
        return self.data_dir / f"objects-{name}"

    @model_validator(mode="after")
    def _instance_types_are_sane(self) -> Settings:
        for name, (vcpus, memory, disk) in self.instance_types.items():
            if not name or vcpus < 1 or memory < 64 or disk < 1:
                raise ValueError(f"instance type {name!r}: vCPUs, memory and disk must be > 0")
        return self

    @property
    def availability_zone(self) -> str:
        """The one availability zone of the region (EC2 names it region + letter)."""
        return f"{self.region}a"

    @property
    def hypervisor_dir(self) -> Path:
        """The QEMU hypervisor's state directory on this host."""
        return self.hypervisor_state_dir or self.data_dir / "compute" / "host"

    @property
    def hypervisor_agent_socket(self) -> Path:
        return self.hypervisor_dir / "agent.sock"

    @property
    def database_path(self) -> Path:
        return self.data_dir / "metadata.sqlite3"

    @property
    def effective_database_url(self) -> str:
        """``database_url`` in clear (handle with care), or the embedded SQLite file's URL."""
        if self.database_url is None:
            return f"sqlite:///{self.database_path}"
        return self.database_url.get_secret_value()

    @property
    def credentials_path(self) -> Path:
        return self.data_dir / "admin-credentials"

    @property
    def operator_credentials_path(self) -> Path:
        return self.data_dir / "operator-credentials"

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert else "http"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = os.environ.get(_CONFIG_ENV)
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings: overrides (non-None only) > environment > TOML file > defaults."""
    given = {name: value for name, value in overrides.items() if value is not None}
    try:
        if config_file is not None:
            if not config_file.is_file():
                raise ConfigurationError(f"configuration file not found: {config_file}")
            previous = os.environ.get(_CONFIG_ENV)
            os.environ[_CONFIG_ENV] = str(config_file)
            try:
                return Settings(**given)
            finally:
                if previous is None:
                    del os.environ[_CONFIG_ENV]
                else:
                    os.environ[_CONFIG_ENV] = previous
        return Settings(**given)
    except ValueError as exc:  # pydantic.ValidationError is a ValueError
        raise ConfigurationError(str(exc)) from exc
