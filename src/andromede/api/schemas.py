"""The management API's request and response bodies (pydantic), snake_case throughout.

Requests forbid unknown fields, so a misspelt field is a 422 rather than silently ignored.
Secrets appear in exactly two places: the password of a login request (never echoed, not even
in validation errors) and the tenant root's secret key in the answer that creates the tenant.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from andromede.audit.access import AccessRequest
from andromede.iam.model import Principal, Tenant, TenantQuota

__all__ = [
    "TENANT_REFERENCE",
    "AccessCredentials",
    "AccessRequestList",
    "AccessRequestView",
    "AuditCheckpoint",
    "AuditEntries",
    "AuditProof",
    "AuditPruned",
    "AuditPublicKey",
    "BucketDataEvents",
    "BucketDataEventsUpdate",
    "CreateTenant",
    "Credentials",
    "Health",
    "Login",
    "LoginResult",
    "OpenAccessRequest",
    "Problem",
    "Quota",
    "QuotaUpdate",
    "Region",
    "RegionList",
    "TenantCreated",
    "TenantList",
    "TenantRegions",
    "TenantRegionsUpdate",
    "TenantView",
    "WhoAmI",
]

# A tenant is named by its 12-digit account id or its name (see iam/accounts.py).
TENANT_REFERENCE = r"^[a-z0-9][a-z0-9._-]{0,62}$"
TenantName = Annotated[str, Field(pattern=TENANT_REFERENCE, examples=["acme"])]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Problem(BaseModel):
    """RFC 9457 problem details, the body of every error."""

    type: str = Field(examples=["urn:andromede:problem:no-such-tenant"])
    title: str
    status: int
    detail: str
    instance: str
    request_id: str
    errors: list[dict[str, object]] | None = Field(
        default=None, description="Validation errors only: where and what, never the input."
    )


class Login(_Request):
    account: Annotated[
        str, Field(pattern=TENANT_REFERENCE, description="Account id or tenant name.")
    ]
    user_name: Annotated[str, Field(pattern=r"^[\w+=,.@-]{1,64}$", examples=["root"])]
    password: Annotated[SecretStr, Field(min_length=1, max_length=128)]
    mfa_code: Annotated[str | None, Field(default=None, pattern=r"^[0-9]{6}$")] = None


class WhoAmI(BaseModel):
    kind: Literal["root", "user", "role-session", "federated-user", "operator"]
    arn: str
    tenant_id: str | None
    user_name: str | None
    mfa_present: bool
    authenticated_by: Literal["sigv4", "bearer"]
    session_expires_at: datetime | None
    pending_access_requests: int | None = Field(
        default=None,
        description="For a tenant's root user: how many operator access requests await its"
        " decision (GET /access-requests lists them), so a console polling this call can"
        " show them; null for anyone else (decision 0114).",
    )

    @classmethod
    def of(
        cls,
        principal: Principal,
        authenticated_by: Literal["sigv4", "bearer"],
        pending_access_requests: int | None = None,
    ) -> WhoAmI:
        return cls(
            kind=principal.kind.value,  # never anonymous here
            arn=principal.arn,
            tenant_id=principal.tenant_id,
            user_name=principal.user_name,
            mfa_present=principal.mfa_present,
            authenticated_by=authenticated_by,
            session_expires_at=principal.session_expires_at,
            pending_access_requests=pending_access_requests,
        )


class LoginResult(BaseModel):
    token: str = Field(description="Bearer token for the Authorization header; shown once.")
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 (a scheme name)
    expires_at: datetime = Field(description="The session ends then at the latest.")
    principal: WhoAmI


class TenantView(BaseModel):
    id: str = Field(description="12-digit account id.", examples=["123456789012"])
    name: str
    status: Literal["active", "suspended", "closed"]
    created_at: datetime

    @classmethod
    def of(cls, tenant: Tenant) -> TenantView:
        return cls(
            id=tenant.id,
            name=tenant.name,
            status=tenant.status.value,
            created_at=tenant.created_at,
        )


class TenantList(BaseModel):
    tenants: list[TenantView]


class CreateTenant(_Request):
    name: TenantName


class Credentials(BaseModel):
    access_key_id: str
    secret_access_key: str = Field(description="Shown once, in this answer only.")


class TenantCreated(BaseModel):
    tenant: TenantView
    root_arn: str
    credentials: Credentials


class Quota(BaseModel):
    tenant_id: str
    max_buckets: int | None = Field(description="null: no limit.")
    max_bytes: int | None = Field(description="null: no limit.")

    @classmethod
    def of(cls, quota: TenantQuota) -> Quota:
        return cls(
            tenant_id=quota.tenant_id, max_buckets=quota.max_buckets, max_bytes=quota.max_bytes
        )


class QuotaUpdate(_Request):
    max_buckets: Annotated[int | None, Field(ge=0, le=2**53)] = None
    max_bytes: Annotated[int | None, Field(ge=0, le=2**63 - 1)] = None


class BucketDataEvents(BaseModel):
    """Which of a bucket's data events go to its tenant's transparency log (decision 0109)."""

    bucket: str
    read: bool = Field(
        description="Object reads and listings (GetObject, HeadObject, ListObjectsV2…)."
    )
    write: Literal[True] = Field(
        default=True, description="Writes and deletes: always logged, not a choice."
    )


class BucketDataEventsUpdate(_Request):
    # Strict: "yes" or 1 is a mistake to report, not a switch to guess.
    read: bool = Field(
        strict=True, description="Log the bucket's data reads (off for a new bucket)."
    )


class TenantRegions(BaseModel):
    tenant_id: str
    allowed_regions: list[str] = Field(
        description="Regions the tenant's new buckets may go to; empty: every region."
    )


class TenantRegionsUpdate(_Request):
    allowed_regions: list[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]] = Field(
        max_length=100, description="Regions of this deployment; empty: every region."
    )


class Region(BaseModel):
    name: str
    s3_domain: str = Field(description="Base domain of virtual-host-style S3 requests.")
    scheme: Literal["http", "https"]
    current: bool = Field(description="Whether this gateway serves the region.")
    default: bool = Field(
        default=False, description="Buckets created without LocationConstraint go here."
    )
    jurisdiction: str | None = Field(
        default=None, description="Country (ISO 3166-1 alpha-2) or EU whose law governs it."
    )
    endpoint: str | None = Field(
        default=None, description="Public URL of the gateways serving the region."
    )


class RegionList(BaseModel):
    regions: list[Region]


class Health(BaseModel):
    status: Literal["ok"]


# -- the audit trail (decision 0105) ---------------------------------------------------------


class AuditPublicKey(BaseModel):
    key_name: str = Field(
        description="The region's log key name; each log's origin is "
        "<key_name>/<log> and its checkpoints are signed under that origin."
    )
    verifier_key: str = Field(description="The C2SP note verifier key: name+keyid+base64.")
    public_key: str = Field(description="The Ed25519 public key, base64 (32 bytes).")


class AuditCheckpoint(BaseModel):
    log: str
    origin: str
    size: int
    root_hash: str = Field(description="base64 of the RFC 6962 tree head")
    checkpoint: str = Field(description="The C2SP signed note, as signed.")
    key_transitions: list[dict[str, str | None]] = Field(
        default_factory=list,
        description="The rotations of the region's key (decision 0140), oldest first: each "
        "statement and this log's checkpoint where the key changed, signed by both keys; a "
        "verifier pinning an earlier key follows them to the key that signed this checkpoint.",
    )


class AuditCosignedCheckpoint(AuditCheckpoint):
    witnesses: list[str] = Field(
        description="The witnesses whose cosignatures the checkpoint carries (decision 0122)."
    )


class AuditEntries(BaseModel):
    log: str
    start: int
    entries: list[str] = Field(
        description="The canonical entries from index start on; each leaf hashes its UTF-8 bytes."
    )


class AuditPruned(BaseModel):
    log: str
    size: int = Field(description="How many first entries retention pruned.")
    hashes: list[str] = Field(
        description="base64 heads of the perfect subtrees covering [0, size), left to right: "
        "with the later entries they give the tree head (decision 0107)."
    )


class AuditProof(BaseModel):
    log: str
    hashes: list[str] = Field(description="base64 hashes, bottom-up (RFC 9162 §2.1.3, §2.1.4)")


# -- operator access requests (decision 0107) ------------------------------------------------

AccessMode = Literal["read-only", "read-write"]
BucketName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]


class OpenAccessRequest(_Request):
    tenant: TenantName = Field(description="Account id or name of the tenant.")
    buckets: list[BucketName] | None = Field(
        default=None, min_length=1, max_length=100, description="The buckets; null: every bucket."
    )
    mode: AccessMode
    # The bounds below are the widest settings allow; the served OpenAPI document states this
    # deployment's own (api/app.py), and the service checks them.
    reason: Annotated[str, Field(min_length=1, max_length=10_000, pattern=r"\S")] = Field(
        description="Why; at most operator_access_reason_max_length characters."
    )
    duration_seconds: Annotated[int, Field(ge=60, le=7 * 86_400)] = Field(
        description="How long the access lasts once approved; at most operator_access_max_duration."
    )
    include_kms: bool = Field(
        default=False,
        description="Ask to read the scope's SSE-KMS objects too: the tenant sees it when it"
        " approves, and each KMS key's policy must allow it as well (decision 0114).",
    )


class AccessRequestView(BaseModel):
    id: str
    tenant_id: str
    operator: str = Field(description="The operator's name.")
    operator_arn: str
    buckets: list[str] | None = Field(description="null: every bucket.")
    mode: AccessMode
    reason: str
    duration_seconds: int
    state: Literal["pending", "approved", "refused", "revoked", "expired"]
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    expires_at: datetime | None = Field(description="Set at approval: approval + duration.")
    revoked_at: datetime | None
    revoked_by: str | None
    include_kms: bool = Field(
        default=False,
        description="Whether the scope's SSE-KMS objects may be decrypted for the operator"
        " (where each key's policy allows it too).",
    )
    lapses_at: datetime | None = Field(
        default=None,
        description="While pending: when it expires undecided (operator_access_request_ttl"
        " after it was opened). A lapsed request is expired, with decided_at its lapse and"
        " decided_by null.",
    )

    @classmethod
    def of(
        cls, request: AccessRequest, now: datetime, lapses_at: datetime | None = None
    ) -> AccessRequestView:
        return cls(
            id=request.id,
            tenant_id=request.tenant_id,
            operator=request.operator_name,
            operator_arn=request.operator_arn,
            buckets=None if request.buckets is None else list(request.buckets),
            mode=request.mode.value,
            reason=request.reason,
            duration_seconds=request.duration_seconds,
            state=request.state(now).value,
            created_at=request.created_at,
            decided_at=request.decided_at,
            decided_by=request.decided_by,
            expires_at=request.expires_at,
            revoked_at=request.revoked_at,
            revoked_by=request.revoked_by,
            include_kms=request.include_kms,
            lapses_at=lapses_at,
        )


class AccessRequestList(BaseModel):
    access_requests: list[AccessRequestView]


class AccessCredentials(BaseModel):
    access_request: AccessRequestView
    access_key_id: str
    secret_access_key: str = Field(description="Shown once, in this answer only.")
    session_token: str = Field(description="Shown once; send as x-amz-security-token.")
    expiration: datetime = Field(description="The request's end: the credentials end with it.")
