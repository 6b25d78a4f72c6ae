"""The audit log: flushing, signing and rotating its key, witnesses' cosignatures,
retention, and operator access requests.

One group of ``andromede.settings.Settings``, which is composed of them all; the fields keep
their ``ANDROMEDE_<NAME>`` environment variables and TOML keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
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


class AuditSettings(BaseModel):
    """The audit log and operators' access to tenant data."""

    audit_flush_interval: float = Field(
        default=0.2,
        gt=0,
        le=60,
        description="Seconds an audit event may wait to be written to the audit log with others"
        " (a full batch is written at once; a crash loses at most this much).",
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
