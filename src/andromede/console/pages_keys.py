"""KMS keys: list, create, enable, disable, schedule deletion — KMS's calls, as the logged-in
principal (``wire.KmsWire``), so KMS's key policies and IAM policies decide."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from andromede.console.handlers import Form, Handler, Typed, action, signed_in
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import KeyRow, KmsWire, WireError

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES"]

_KEYS_URL: Final = f"{CONSOLE_PATH}/keys"


async def _keys_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    marker: str | None = None,
    typed: Typed | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    rows: list[KeyRow] = []
    next_marker = None
    if console.kms is None:
        error, status = _("This server serves no KMS."), 404
    else:
        try:
            rows, next_marker = await console.kms.list_keys(
                request.scope,
                session.principal,
                marker=marker,
                page_size=console.settings.console_page_size,
            )
        except WireError as exc:
            error, status = console.error_text(request, exc), exc.status
    return console.render(
        request,
        "keys.html",
        session=session,
        status=status,
        title=_("KMS keys"),
        keys=rows,
        next_url=f"{_KEYS_URL}?{urlencode({'marker': next_marker})}" if next_marker else None,
        error=error,
    )


@signed_in
async def keys(console: Console, request: Request, session: Session) -> Response:
    return await _keys_page(console, request, session, marker=request.query_params.get("marker"))


def _kms(console: Console) -> KmsWire | None:
    return console.kms


def _change(operation: str) -> Handler:
    async def change(kms: KmsWire, request: Request, session: Session, fields: Form) -> str:
        key_id = request.path_params.get("key_id", "")
        origin, principal = request.scope, session.principal
        if operation == "create":
            await kms.create_key(origin, principal, fields.get("description", "")[:8192])
        elif operation in ("enable", "disable"):
            await kms.set_enabled(origin, principal, key_id, enabled=operation == "enable")
        else:
            days = fields.get("days", "30")
            await kms.schedule_deletion(
                origin, principal, key_id, int(days) if days.isdigit() else 0
            )
        return _KEYS_URL

    return action(_keys_page, change, wire=_kms)


create_key = _change("create")
enable_key = _change("enable")
disable_key = _change("disable")
schedule_deletion = _change("schedule-deletion")


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/keys", keys, ["GET"]),
    ("/keys", create_key, ["POST"]),
    ("/keys/{key_id}/enable", enable_key, ["POST"]),
    ("/keys/{key_id}/disable", disable_key, ["POST"]),
    ("/keys/{key_id}/schedule-deletion", schedule_deletion, ["POST"]),
]
