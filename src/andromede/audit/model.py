"""Pure audit types."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["AuditEvent", "Outcome"]


class Outcome(enum.StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"


@dataclass(frozen=True, slots=True)
class AuditEvent:
    occurred_at: datetime
    request_id: str
    tenant_id: str | None
    principal: str | None  # ARN of who acted
    action: str  # IAM action name, e.g. "s3:PutObject"
    resource: str  # ARN of what was acted on
    outcome: Outcome
    details: Mapping[str, str] = field(default_factory=dict)
