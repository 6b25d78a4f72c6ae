"""The account-level subscription filter policy of CloudWatch Logs (decision 0232) in the
console (decision 0239), on the log groups' area: the account's one SUBSCRIPTION_FILTER_POLICY
shown (its Firehose stream, role, pattern and the groups it leaves out), put (a stream and a
role of the account, or a Lambda function — decision 0304 — and no role, a pattern, excluded
groups one a line) and deleted after a ticked box —
Logs' own calls as the signed-in principal (``wire_logs.LogsWire``). Logs decides everything:
the document, the criteria's grammar and bounds, the role's trust and permissions, and the
test record it delivers before it keeps the policy; a refusal shows the page again with
Logs' words and the form as typed. The page writes the document (``DestinationArn``,
``RoleArn``, ``FilterPattern``, ``Distribution``) and the criteria
(``LogGroupName NOT IN [...]``, Logs' one form) from the fields.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response

from andromede.console.handlers import Form, Typed, action, first_refusal, signed_in
from andromede.console.pages_firehose import role_choices, stream_choices
from andromede.console.pages_log_subscriptions import function_choices
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_logs import AccountSubscriptionPolicy, LogsWire

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES", "document_of", "selection_criteria"]

_URL: Final = f"{CONSOLE_PATH}/log-groups/account-subscription"
_PUT: Final = "put"
DISTRIBUTIONS: Final = ("ByLogStream", "Random")


def _wire(console: Console) -> LogsWire | None:
    return console.logs


def document_of(fields: Form) -> str:
    """The policy document of the form's fields (Logs checks it)."""
    return json.dumps(
        {
            "DestinationArn": fields.get("destination_arn", "").strip(),
            "RoleArn": fields.get("role_arn", "").strip(),
            "FilterPattern": fields.get("pattern", ""),
            "Distribution": fields.get("distribution", "ByLogStream") or "ByLogStream",
        }
    )


def selection_criteria(excluded: str) -> str:
    """``LogGroupName NOT IN [...]`` of the groups typed one a line ("" when none)."""
    names = [line.strip() for line in excluded.splitlines() if line.strip()]
    return f"LogGroupName NOT IN {json.dumps(names)}" if names else ""


def _form_of(policy: AccountSubscriptionPolicy | None) -> dict[str, str]:
    if policy is None:
        return {"policy_name": "account-subscription", "distribution": "ByLogStream"}
    return {
        "policy_name": policy.name,
        "destination_arn": policy.destination_arn,
        "role_arn": policy.role_arn,
        "pattern": policy.pattern,
        "distribution": policy.distribution,
        "excluded": "\n".join(policy.excluded_groups),
    }


async def _page(
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
    policy: AccountSubscriptionPolicy | None = None
    if wire is None:
        error, status = _("This server serves no CloudWatch Logs."), 404
    else:
        try:
            policy = await wire.subscription_policy(request.scope, session.principal)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
    return console.render(
        request,
        "log_account_subscription.html",
        session=session,
        status=status,
        title=_("Account subscription filter policy"),
        policy=policy,
        streams=await stream_choices(console, request, session),
        roles=await role_choices(console, request, session),
        functions=await function_choices(console, request, session),
        distributions=DISTRIBUTIONS,
        form=dict((typed or {}).get(_PUT) or _form_of(policy)),
        error=error,
    )


async def _put(wire: LogsWire, request: Request, session: Session, fields: Form) -> str:
    await wire.put_subscription_policy(
        request.scope, session.principal, fields.get("policy_name", "").strip(),
        document_of(fields), selection_criteria(fields.get("excluded", "")),
    )  # fmt: skip
    return _URL


async def _delete(wire: LogsWire, request: Request, session: Session, fields: Form) -> str:
    await wire.delete_subscription_policy(
        request.scope, session.principal, fields.get("policy_name", "")
    )
    return _URL


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/log-groups/account-subscription", signed_in(_page), ["GET"]),
    ("/log-groups/account-subscription", action(_page, _put, wire=_wire, form=_PUT), ["POST"]),
    ("/log-groups/account-subscription/delete",
     action(_page, _delete, wire=_wire, confirmed=True), ["POST"]),
]  # fmt: skip
