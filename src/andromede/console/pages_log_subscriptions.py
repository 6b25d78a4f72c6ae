"""A log group's subscription filters (decision 0225) on its page (``pages_logs``; decision
0227): the filters listed (name, pattern, destination stream, role), one put (name, pattern,
a delivery stream or a Lambda function of the account — decision 0304 —, a role of the
account, none for a function) and one deleted after a ticked box —
Logs' own calls as the signed-in principal (``wire_logs.LogsWire``). Logs decides everything:
the two filters' quota, the role's trust and permissions, the stream's state, and the test
record it delivers before it accepts a filter; a refusal shows the group's page again with
Logs' words and the form as typed. The streams and roles offered are the form's choices
only, read as the user (Firehose's ListDeliveryStreams, Lambda's ListFunctions, IAM's
ListRoles).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request

from andromede.console.handlers import FormFault, words
from andromede.console.pages_firehose import role_choices, stream_choices
from andromede.console.wire import WireError
from andromede.console.wire_logs import LogsWire, SubscriptionRow

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ACTIONS", "PUT", "delete", "function_choices", "put", "section"]

PUT: Final = "put-subscription"
_INFREQUENT: Final = "INFREQUENT_ACCESS"
_FUNCTIONS_OFFERED: Final = 50  # one ListFunctions page: the form's choices


async def function_choices(
    console: Console, request: Request, session: Session
) -> list[tuple[str, str]]:
    """The account's Lambda functions as (ARN, name), as Lambda lists them to the signed-in
    principal (none where it is not served or refuses); Logs decides whether one may be a
    destination. The ARN is Lambda's own unqualified form."""
    wire, account = console.functions, session.principal.tenant_id
    if wire is None or account is None:
        return []
    with suppress(WireError):
        page = await wire.functions(
            request.scope, session.principal, marker="", limit=_FUNCTIONS_OFFERED
        )
        region = console.settings.region
        return [(f"arn:aws:lambda:{region}:{account}:function:{f.name}", f.name) for f in page.rows]
    return []


async def section(
    console: Console,
    request: Request,
    session: Session,
    name: str,
    log_class: str,
    typed: Mapping[str, str] | None,
) -> dict[str, Any]:
    """The template's values for the group's subscription filters: the filters (or Logs'
    refusal of their reading, shown in the section alone), the form's choices, and the form
    as typed after a refusal. An Infrequent Access group takes none (Logs refuses the three
    calls there): nothing is read for it."""
    values: dict[str, Any] = {
        "subscriptions": [],
        "subscriptions_error": "",
        "subscription_streams": [],
        "subscription_roles": [],
        "subscription_functions": [],
        "subscription_form": dict(typed or {}),
    }
    wire = console.logs
    if wire is None or log_class == _INFREQUENT:
        return values
    try:
        values["subscriptions"] = await wire.subscription_filters(
            request.scope, session.principal, name
        )
    except WireError as exc:
        values["subscriptions_error"] = console.error_text(request, exc)
    values["subscription_streams"] = await stream_choices(console, request, session)
    values["subscription_roles"] = await role_choices(console, request, session)
    values["subscription_functions"] = await function_choices(console, request, session)
    return values


async def put(
    wire: LogsWire, request: Request, session: Session, name: str, fields: Mapping[str, str]
) -> None:
    """PutSubscriptionFilter of the form's filter on the group ``name``."""
    row = SubscriptionRow(
        name=fields.get("subscription_name", "").strip(),
        pattern=fields.get("subscription_pattern", ""),
        destination_arn=fields.get("destination_arn", "").strip(),
        role_arn=fields.get("role_arn", "").strip(),
        created="",
    )
    await wire.put_subscription_filter(request.scope, session.principal, name, row)


async def delete(
    wire: LogsWire, request: Request, session: Session, name: str, fields: Mapping[str, str]
) -> None:
    """DeleteSubscriptionFilter, once its box is ticked."""
    if fields.get("confirm") != "yes":
        _ = words(request)
        raise FormFault(_("Tick the box to confirm the deletion."))
    filter_name = fields.get("subscription_name", "")
    await wire.delete_subscription_filter(request.scope, session.principal, name, filter_name)


ACTIONS: Final = {PUT: put, "delete-subscription": delete}
