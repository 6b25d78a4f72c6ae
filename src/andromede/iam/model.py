"""Pure identity types: tenants, users, access keys, and the principal a request acts as.

A tenant is an AWS-style account: a 12-digit id used in ARNs (``arn:aws:iam::<id>:user/<name>``)
so existing policies and tools work unchanged. The S3 canonical user id shown in ``<Owner>`` is
derived from the tenant id, so nothing extra is stored.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
import string
from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "ANONYMOUS",
    "AccessKey",
    "AccessKeyStatus",
    "Principal",
    "Tenant",
    "TenantStatus",
    "User",
    "canonical_id",
    "new_access_key_id",
    "new_secret_access_key",
    "new_tenant_id",
    "new_user_id",
]

_KEY_ALPHABET = string.ascii_uppercase + "234567"  # base32, as AWS access key ids use


class TenantStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    CLOSED = "closed"


class AccessKeyStatus(enum.StrEnum):
    ACTIVE = "Active"
    INACTIVE = "Inactive"


@dataclass(frozen=True, slots=True)
class Tenant:
    id: str
    name: str
    status: TenantStatus
    created_at: datetime


@dataclass(frozen=True, slots=True)
class User:
    id: str
    tenant_id: str
    name: str
    is_root: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AccessKey:
    access_key_id: str
    user_id: str
    status: AccessKeyStatus
    created_at: datetime
    last_used_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts as, once its signature is verified (or anonymous)."""

    tenant_id: str | None
    user_id: str | None
    user_name: str | None
    is_root: bool = False

    @property
    def is_anonymous(self) -> bool:
        return self.tenant_id is None

    @property
    def arn(self) -> str:
        if self.tenant_id is None:
            return "*"
        if self.is_root:
            return f"arn:aws:iam::{self.tenant_id}:root"
        return f"arn:aws:iam::{self.tenant_id}:user/{self.user_name}"

    @property
    def canonical_id(self) -> str:
        return canonical_id(self.tenant_id) if self.tenant_id else ""

    @property
    def display_name(self) -> str:
        return self.user_name or ""


ANONYMOUS = Principal(tenant_id=None, user_id=None, user_name=None)


def canonical_id(tenant_id: str) -> str:
    """The 64-hex S3 canonical user id of a tenant (stable, derived, not secret)."""
    return hashlib.sha256(f"andromede-canonical:{tenant_id}".encode()).hexdigest()


def new_tenant_id() -> str:
    return "".join(secrets.choice(string.digits) for _ in range(12))


def new_user_id() -> str:
    return "AIDA" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(17))


def new_access_key_id() -> str:
    return "AKIA" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16))


def new_secret_access_key() -> str:
    alphabet = string.ascii_letters + string.digits + "+/"
    return "".join(secrets.choice(alphabet) for _ in range(40))
