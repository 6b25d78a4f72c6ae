"""The credential report (part of IdentityService; decision 0193): one CSV row per user of the
account, the root user first, as AWS's "Getting credential reports for your AWS account"
describes it, column by column.

GenerateCredentialReport builds the report and keeps it (one per account, in the store, so
every gateway serves the same one) unless the last one is still fresh: AWS serves a report for
four hours (``credential_report_lifetime``) and makes no new one before. The report is built at
once, so the first answer is STARTED (a new report) and later ones COMPLETE; GetCredentialReport
never finds one in progress. Past its lifetime GetCredentialReport answers ReportExpired.

What the platform does not record is written as AWS writes it for its own gaps:
``no_information`` for a password's last use (console sign-ins are not kept per user),
``N/A`` for a password's next rotation (there is no password policy with a maximum age) and
for signing certificates (not offered: ``cert_N_active`` is ``false``).
"""

from __future__ import annotations

import csv
import io
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final

from andromede.iam.errors import ReportExpired, ReportNotPresent
from andromede.iam.model import AccessKey, AccessKeyStatus, KeyUse, User
from andromede.iam.service_core import ServiceCore

__all__ = [
    "COLUMNS",
    "CredentialReport",
    "CredentialReportMixin",
    "ReportState",
    "UserCredentials",
    "render_report",
]

COLUMNS: Final = (
    "user",
    "arn",
    "user_creation_time",
    "password_enabled",
    "password_last_used",
    "password_last_changed",
    "password_next_rotation",
    "mfa_active",
    "access_key_1_active",
    "access_key_1_last_rotated",
    "access_key_1_last_used_date",
    "access_key_1_last_used_region",
    "access_key_1_last_used_service",
    "access_key_2_active",
    "access_key_2_last_rotated",
    "access_key_2_last_used_date",
    "access_key_2_last_used_region",
    "access_key_2_last_used_service",
    "cert_1_active",
    "cert_1_last_rotated",
    "cert_2_active",
    "cert_2_last_rotated",
)
ROOT_NAME: Final = "<root_account>"
NOT_APPLICABLE: Final = "N/A"
NO_INFORMATION: Final = "no_information"
NOT_SUPPORTED: Final = "not_supported"
_PAGE = 1000


class ReportState(StrEnum):
    STARTED = "STARTED"
    INPROGRESS = "INPROGRESS"
    COMPLETE = "COMPLETE"


@dataclass(frozen=True, slots=True)
class UserCredentials:
    """What the report says of one user: its password's creation (None: no password), whether
    an MFA device is enabled for it, and its access keys with their last use."""

    user: User
    password_changed_at: datetime | None
    mfa_active: bool
    keys: tuple[tuple[AccessKey, KeyUse | None], ...]


@dataclass(frozen=True, slots=True)
class CredentialReport:
    generated_at: datetime
    content: str


def _when(moment: datetime) -> str:
    """AWS's form in the report: ``2026-12-05T21:12:01+00:00``."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _key_columns(key: tuple[AccessKey, KeyUse | None] | None) -> list[str]:
    if key is None:
        return ["false", NOT_APPLICABLE, NOT_APPLICABLE, NOT_APPLICABLE, NOT_APPLICABLE]
    access_key, use = key
    active = access_key.status is AccessKeyStatus.ACTIVE
    if use is None:
        used = [NOT_APPLICABLE, NOT_APPLICABLE, NOT_APPLICABLE]
    else:
        used = [_when(use.when), use.region or NOT_APPLICABLE, use.service or NOT_APPLICABLE]
    return [_flag(active), _when(access_key.created_at), *used]


def _row(entry: UserCredentials) -> list[str]:
    user = entry.user
    if user.is_root:
        # AWS: the root user's password is not reported on ("not_supported").
        password = [NOT_SUPPORTED, NO_INFORMATION, NOT_SUPPORTED, NOT_SUPPORTED]
    elif entry.password_changed_at is None:
        password = ["false", NOT_APPLICABLE, NOT_APPLICABLE, NOT_APPLICABLE]
    else:
        password = ["true", NO_INFORMATION, _when(entry.password_changed_at), NOT_APPLICABLE]
    keys = sorted(entry.keys, key=lambda pair: pair[0].created_at)
    first = keys[0] if keys else None
    second = keys[1] if len(keys) > 1 else None
    return [
        ROOT_NAME if user.is_root else user.name,
        user.arn,
        _when(user.created_at),
        *password,
        _flag(entry.mfa_active),
        *_key_columns(first),
        *_key_columns(second),
        "false",
        NOT_APPLICABLE,
        "false",
        NOT_APPLICABLE,
    ]


def render_report(entries: Sequence[UserCredentials]) -> str:
    """The CSV: the header, then one row per entry in the order given (root first)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for entry in entries:
        writer.writerow(_row(entry))
    return out.getvalue().rstrip("\n")  # AWS's report has no final line break


class CredentialReportMixin(ServiceCore):
    @abstractmethod
    def key_last_use(self, key: AccessKey) -> KeyUse | None:
        """The key's last use (credentials.py)."""

    async def generate_credential_report(self, tenant_id: str) -> ReportState:
        """STARTED when a new report was made, COMPLETE when the last one is still fresh."""
        now = self._now()
        last = await self._store.get_credential_report(tenant_id)
        if last is not None and now - last[0] < self._report_lifetime:
            return ReportState.COMPLETE
        content = render_report(await self._credentials_of(tenant_id))
        await self._store.put_credential_report(tenant_id, now, content)
        return ReportState.STARTED

    async def get_credential_report(self, tenant_id: str) -> CredentialReport:
        last = await self._store.get_credential_report(tenant_id)
        if last is None:
            raise ReportNotPresent(
                "Credential report not present; use GenerateCredentialReport first."
            )
        generated_at, content = last
        if self._now() - generated_at >= self._report_lifetime:
            raise ReportExpired(
                "The most recent credential report has expired; generate a new one."
            )
        return CredentialReport(generated_at, content)

    @property
    def _report_lifetime(self) -> timedelta:
        return timedelta(seconds=self._limits.credential_report_lifetime)

    async def _credentials_of(self, tenant_id: str) -> list[UserCredentials]:
        root = await self._store.get_entity(User, tenant_id, "root")
        users: list[User] = [root] if root is not None and root.is_root else []
        after: str | None = None
        while True:
            chunk = await self._store.list_entities(User, tenant_id, "/", after, _PAGE)
            users.extend(chunk)
            if len(chunk) < _PAGE:
                break
            after = chunk[-1].name.lower()
        active_mfa = {
            device.user_id
            for device in await self._store.list_mfa_devices(tenant_id, None)
            if device.user_id is not None and device.enabled_at is not None
        }
        entries = []
        for user in users:
            profile = None if user.is_root else await self._store.get_login_profile(user.id)
            keys = await self._store.list_access_keys(user.id)
            entries.append(
                UserCredentials(
                    user,
                    profile.created_at if profile is not None else None,
                    user.id in active_mfa,
                    tuple((key, self.key_last_use(key)) for key in keys),
                )
            )
        return entries
