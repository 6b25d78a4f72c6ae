"""A DynamoDB table page's recovery sections (decision 0263): point-in-time recovery shown
(status, recovery period, earliest and latest restorable times) and turned on with a period
or off; the table's KMS key shown (AWS-owned, AWS-managed or a customer key) and changed
among the account's keys (UpdateTable); its on-demand backups listed (name, status, size,
created), one created, one deleted after a ticked box, one restored to a new table under the
key chosen; and a point-in-time restore (the latest restorable time or a UTC time) to a new
table. Each is DynamoDB's own call as the signed-in principal
(``wire_dynamodb_recovery.DynamoRecoveryWire``); a refusal is shown in its words by the page
(``pages_dynamodb``), the form as typed. A restore answers the new table's page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final
from urllib.parse import quote

from starlette.requests import Request

from andromede.console.dynamodb_forms import Words
from andromede.console.handlers import Form, FormFault, refusal
from andromede.console.pages_event_archives import form_time
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_dynamodb import DynamoWire, TableSummary
from andromede.console.wire_dynamodb_recovery import (
    AWS_MANAGED,
    AWS_OWNED,
    BackupRow,
    Recovery,
)
from andromede.http.response import Scope
from andromede.iam.model import Principal

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["RECOVERY_EDITS", "RecoveryView", "recovery_view"]

_MANAGED_ALIAS: Final = "alias/aws/dynamodb"

# A recovery edit: the call made with the form's fields, answering the URL to go to.
RecoveryEdit = Callable[[DynamoWire, Request, Scope, Principal, str, Form, Words], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class RecoveryView:
    """What the recovery sections show; a refused read says so in its section."""

    recovery: Recovery | None = None
    recovery_error: str = ""
    backups: list[BackupRow] = field(default_factory=list)
    backups_error: str = ""
    key_kind: str = AWS_OWNED  # aws-owned, aws-managed or customer
    key_choices: list[tuple[str, str]] = field(default_factory=list)  # customer keys


def _key_kind(table: TableSummary, choices: list[tuple[str, str]]) -> str:
    if table.sse_type != "KMS" or not table.kms_key_arn:
        return AWS_OWNED  # AES256 or none: sealed under the account's own key ring
    key_id = table.kms_key_arn.rsplit("/", 1)[-1]
    managed = any(ref == _MANAGED_ALIAS and key_id in shown for ref, shown in choices)
    return AWS_MANAGED if managed else "customer"


async def recovery_view(
    console: Console, request: Request, session: Session, wire: DynamoWire, table: TableSummary
) -> RecoveryView:
    origin, principal = request.scope, session.principal
    recovery_wire = wire.recovery()
    recovery, recovery_error = None, ""
    backups: list[BackupRow] = []
    backups_error = ""
    try:
        recovery = await recovery_wire.recovery(origin, principal, table.name)
    except WireError as exc:
        recovery_error = refusal(console, request, exc)[0]
    try:
        backups = await recovery_wire.backups(
            origin, principal, table.name, limit=console.settings.console_page_size
        )
    except WireError as exc:
        backups_error = refusal(console, request, exc)[0]
    choices: list[tuple[str, str]] = []
    if console.kms is not None:
        choices = await console.kms.key_choices(
            origin, principal, limit=console.settings.console_page_size
        )
    return RecoveryView(
        recovery=recovery,
        recovery_error=recovery_error,
        backups=backups,
        backups_error=backups_error,
        key_kind=_key_kind(table, choices),
        key_choices=[c for c in choices if not c[0].startswith("alias/aws/")],
    )


def _table_url(name: str, suffix: str = "") -> str:
    return f"{CONSOLE_PATH}/dynamodb/{quote(name, safe='')}{suffix}"


def _target(fields: Form, _: Words) -> str:
    target = fields.get("target", "").strip()
    if not target:
        raise FormFault(_("Name the new table."))
    return target


async def _recovery(
    wire: DynamoWire, request: Request, origin: Scope, principal: Principal, name: str,
    fields: Form, _: Words,
) -> str:  # fmt: skip
    await wire.recovery().set_recovery(
        origin, principal, name, enabled=fields.get("enabled") == "yes",
        days=fields.get("period", ""),
    )  # fmt: skip
    return _table_url(name, "?saved=recovery#recovery")


async def _encryption(
    wire: DynamoWire, request: Request, origin: Scope, principal: Principal, name: str,
    fields: Form, _: Words,
) -> str:  # fmt: skip
    await wire.recovery().set_key(origin, principal, name, fields.get("key", AWS_OWNED))
    return _table_url(name, "?saved=encryption#encryption")


async def _create_backup(
    wire: DynamoWire, request: Request, origin: Scope, principal: Principal, name: str,
    fields: Form, _: Words,
) -> str:  # fmt: skip
    backup_name = fields.get("backup_name", "").strip()
    await wire.recovery().create_backup(origin, principal, name, backup_name)
    return _table_url(name, "?saved=backups#backups")


async def _delete_backup(
    wire: DynamoWire, request: Request, origin: Scope, principal: Principal, name: str,
    fields: Form, _: Words,
) -> str:  # fmt: skip
    if fields.get("confirm") != "yes":
        raise FormFault(_("Tick the box to confirm the deletion."))
    await wire.recovery().delete_backup(origin, principal, fields.get("backup_arn", ""))
    return _table_url(name, "?saved=backups#backups")


async def _restore_backup(
    wire: DynamoWire, request: Request, origin: Scope, principal: Principal, name: str,
    fields: Form, _: Words,
) -> str:  # fmt: skip
    target = _target(fields, _)
    await wire.recovery().restore_backup(
        origin, principal, fields.get("backup_arn", ""), target, key=fields.get("key", AWS_OWNED)
    )
    return _table_url(target)


async def _restore_time(
    wire: DynamoWire, request: Request, origin: Scope, principal: Principal, name: str,
    fields: Form, _: Words,
) -> str:  # fmt: skip
    target = _target(fields, _)
    at = None if fields.get("when") != "time" else form_time(request, fields.get("time", ""))
    await wire.recovery().restore_to_time(
        origin, principal, name, target, at=at, key=fields.get("key", AWS_OWNED)
    )
    return _table_url(target)


RECOVERY_EDITS: Final[dict[str, RecoveryEdit]] = {
    "recovery": _recovery,
    "encryption": _encryption,
    "create-backup": _create_backup,
    "delete-backup": _delete_backup,
    "restore-backup": _restore_backup,
    "restore-time": _restore_time,
}
