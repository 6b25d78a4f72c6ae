"""Secrets Manager (decision 0190) in the console (decision 0111, session 48): the secrets'
list (a name filter, pages, the secrets marked for deletion), a secret's creation, its page
(ARN, KMS key, versions and their staging labels, tags, resource policy), its value retrieved
on an explicit POST, a new value, its description and key changed, its deletion with a
recovery window and its restoration, its rotation (decision 0306: shown, configured with a
function of the account and days or a schedule expression, started now, cancelled) —
Secrets Manager's calls, as the signed-in principal
(``wire_secrets.SecretsWire``), so its IAM and resource-policy decisions answer them.

A value is the one thing here that must stay where it is asked for: it is read only on the
"Retrieve value" POST (CSRF-checked; the shell answers every page ``Cache-Control:
no-store``), shown in that answer alone, never put in a URL, a redirect, a log line, nor back
into a form a refusal re-renders (a refused value is typed again).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from andromede.console import handlers
from andromede.console.handlers import (
    Form,
    FormFault,
    Typed,
    fault_or_refusal,
    first_refusal,
    signed_in,
    words,
)
from andromede.console.pages_alarms import parse_tags
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_secrets import SecretRow, SecretsWire

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["DEFAULT_KEY", "PAIRS", "ROUTES"]

_SECRETS_URL: Final = f"{CONSOLE_PATH}/secrets"
_CREATE: Final = "create"  # the list page's form, shown again as typed when refused
DEFAULT_KEY: Final = "aws/secretsmanager"  # the account's key when none is chosen, as AWS's
PAIRS: Final = 5  # key/value rows the forms offer (a value as JSON); more: type the JSON
# ListSecrets' MaxResults bound (AWS's): a longer console page is asked in pages of this.
_MAX_RESULTS: Final = 100
_MAX_FIELDS: Final = 8 + 2 * PAIRS
_ACTIONS: Final = frozenset(
    {"value", "put-value", "update", "delete", "restore", "rotation", "rotate", "cancel-rotation"}
)
_ROTATION: Final = "rotation"  # the rotation form, shown again as typed when refused
_FUNCTIONS_OFFERED: Final = 100


def _wire(console: Console) -> SecretsWire | None:
    return console.secrets


def _secret_url(name: str) -> str:
    return f"{_SECRETS_URL}/{quote(name, safe='')}"


def _value_of(fields: Mapping[str, str], _: Callable[[str], str]) -> str:
    """The value the form gives: its text, or its key/value rows as a JSON object (as AWS's
    console writes them); both at once is refused."""
    text = fields.get("value", "")
    pairs = {
        fields.get(f"pair_key_{n}", "").strip(): fields.get(f"pair_value_{n}", "")
        for n in range(1, PAIRS + 1)
        if fields.get(f"pair_key_{n}", "").strip()
    }
    if pairs and text:
        raise FormFault(_("Give the value as text or as key/value pairs, not both."))
    return json.dumps(pairs) if pairs else text


async def _key_choices(
    console: Console, request: Request, session: Session
) -> list[tuple[str, str]]:
    """The KMS keys a secret's form offers, as KMS lists them to the signed-in principal
    (none where KMS is not served or refuses), the account's default left to the empty
    choice."""
    if console.kms is None:
        return []
    listed = await console.kms.key_choices(
        request.scope, session.principal, limit=console.settings.console_page_size
    )
    return [choice for choice in listed if choice[0] != f"alias/{DEFAULT_KEY}"]


async def _function_choices(console: Console, request: Request, session: Session) -> list[str]:
    """The account's Lambda functions' ARNs a rotation form offers, as Lambda lists them to
    the signed-in principal (none where it refuses or is not served): a choice only,
    Secrets Manager checks the function's policy."""
    if console.functions is None:
        return []
    arns: list[str] = []
    with suppress(WireError):
        listed = await console.functions.functions(
            request.scope, session.principal, marker="", limit=_FUNCTIONS_OFFERED
        )
        arns = [row.arn for row in listed.rows if row.arn]
    return arns


def _rotation_rules(fields: Form) -> dict[str, Any]:
    """RotateSecret's ``RotationRules`` from the form: days as a number (anything else as
    typed, for Secrets Manager to refuse), or a schedule expression, and a window."""
    rules: dict[str, Any] = {}
    days = fields.get("days", "").strip()
    if days:
        rules["AutomaticallyAfterDays"] = int(days) if days.isdigit() else days
    if expression := fields.get("schedule", "").strip():
        rules["ScheduleExpression"] = expression
    if duration := fields.get("duration", "").strip():
        rules["Duration"] = duration
    return rules


async def _list_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Typed | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    wire = _wire(console)
    rows: list[SecretRow] = []
    next_href = None
    name = request.query_params.get("name", "")[:512]
    if wire is None:
        error, status = _("This server serves no Secrets Manager."), 404
    else:
        try:
            page = await wire.list_secrets(
                request.scope,
                session.principal,
                name=name,
                page_size=min(console.settings.console_page_size, _MAX_RESULTS),
                next_token=request.query_params.get("token") or None,
            )
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        else:
            rows = page.secrets
            if page.next_token:
                query = {"token": page.next_token, **({"name": name} if name else {})}
                next_href = f"{_SECRETS_URL}?{urlencode(query)}"
    return console.render(
        request,
        "secrets.html",
        session=session,
        status=status,
        title=_("Secrets"),
        secrets=rows,
        name_filter=name,
        next_href=next_href,
        kms_keys=await _key_choices(console, request, session) if wire else [],
        default_key=DEFAULT_KEY,
        pairs=PAIRS,
        # What a refused form had, but its value: a secret is typed again, never echoed.
        form={
            k: v
            for k, v in (typed or {}).get(_CREATE, {}).items()
            if k in ("name", "description", "tags")
        },
        error=error,
    )


secrets = signed_in(_list_page)


async def _create(wire: SecretsWire, request: Request, session: Session, fields: Form) -> str:
    name = fields.get("name", "").strip()
    await wire.create(
        request.scope,
        session.principal,
        name,
        value=_value_of(fields, words(request)),
        description=fields.get("description", ""),
        kms_key_id=fields.get("kms_key", "").strip(),
        tags=parse_tags(fields.get("tags", "")),
    )
    return _secret_url(name)


create = handlers.action(_list_page, _create, wire=_wire, form=_CREATE, max_fields=_MAX_FIELDS)


async def _secret_page(
    console: Console,
    request: Request,
    session: Session,
    name: str,
    *,
    value: tuple[str, bool] | None = None,
    typed: Form | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    wire = _wire(console)
    secret: SecretRow | None = None
    policy, policy_error = "", ""
    if wire is None:
        error, status = _("This server serves no Secrets Manager."), 404
    else:
        try:
            secret = await wire.describe(request.scope, session.principal, name)
        except WireError as exc:
            error, status = console.error_text(request, exc), exc.status
        else:
            try:
                policy = await wire.policy(request.scope, session.principal, secret.arn)
            except WireError as exc:  # a policy may let the caller describe, not read this
                policy_error = console.error_text(request, exc)
    return console.render(
        request,
        "secret.html",
        session=session,
        status=status,
        title=name,
        name=name,
        secret=secret,
        policy=policy,
        policy_error=policy_error,
        value=value,
        kms_keys=await _key_choices(console, request, session) if secret else [],
        default_key=DEFAULT_KEY,
        pairs=PAIRS,
        rotation_functions=await _function_choices(console, request, session) if secret else [],
        rotation_form=_rotation_typed(secret, typed),
        action_url=_secret_url(name),
        error=error,
    )


def _rotation_typed(secret: SecretRow | None, typed: Form | None) -> dict[str, str]:
    """The rotation form's values: as typed after a refusal, else the secret's own."""
    if typed is not None:
        kept = ("function", "days", "schedule", "duration", "immediately")
        return {k: typed.get(k, "") for k in kept}
    rotation = secret.rotation if secret else None
    if rotation is None:
        return {}
    return {
        "function": rotation.function_arn,
        "days": "" if rotation.days is None else str(rotation.days),
        "schedule": rotation.schedule,
        "duration": rotation.duration,
    }


@signed_in
async def secret(console: Console, request: Request, session: Session) -> Response:
    name = request.path_params.get("name", "")
    if not name:
        return RedirectResponse(_SECRETS_URL, status_code=303)
    return await _secret_page(console, request, session, name)


@signed_in
async def change(console: Console, request: Request, session: Session) -> Response:
    """One POST of a secret's page: ``value`` answers the page with the value; the others
    change the secret and go back to its page (303), or show the refusal there."""
    name, action = request.path_params.get("name", ""), request.path_params.get("action", "")
    if action not in _ACTIONS:
        return await _secret_page(console, request, session, name)
    fields = await console.form(request, session, max_fields=_MAX_FIELDS)
    if fields is None:
        return console.refused_form(request, session)
    wire = _wire(console)
    if wire is None:
        return await _secret_page(console, request, session, name)
    _ = console.catalogue(request).gettext
    origin, principal = request.scope, session.principal
    try:
        if action == "value":
            read = await wire.value(origin, principal, name)
            return await _secret_page(console, request, session, name, value=read)
        if action == "put-value":
            await wire.put_value(origin, principal, name, _value_of(fields, _))
        elif action == "update":
            await wire.update(
                origin, principal, name,
                description=fields.get("description", ""),
                kms_key_id=fields.get("kms_key", "").strip(),
            )  # fmt: skip
        elif action == "delete":
            if fields.get("confirm") != "yes":
                raise FormFault(_("Tick the box to confirm the deletion."))
            days = fields.get("days", "30").strip()
            await wire.delete(origin, principal, name, int(days) if days.isdigit() else 0)
        elif action == "rotation":
            await wire.rotate(
                origin, principal, name, function_arn=fields.get("function", "").strip(),
                rules=_rotation_rules(fields), immediately=fields.get("immediately") == "yes",
            )  # fmt: skip
        elif action == "rotate":  # "Rotate secret immediately": the rotation as configured
            await wire.rotate(origin, principal, name, function_arn="", rules={}, immediately=True)
        elif action == "cancel-rotation":
            await wire.cancel_rotation(origin, principal, name)
        else:
            await wire.restore(origin, principal, name)
    except (FormFault, WireError) as exc:
        error, status = fault_or_refusal(console, request, exc)
        return await _secret_page(
            console, request, session, name, error=error, status=status,
            typed=fields if action == _ROTATION else None,
        )  # fmt: skip
    return RedirectResponse(_secret_url(name), status_code=303)


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/secrets", secrets, ["GET"]),
    ("/secrets", create, ["POST"]),
    # A name may hold "/": the action is the last segment of a POST, the rest the name.
    ("/secrets/{name:path}/{action}", change, ["POST"]),
    ("/secrets/{name:path}", secret, ["GET"]),
]
