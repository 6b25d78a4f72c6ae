"""A DynamoDB table page's resource policy sections (decision 0266 in the console, decision
0276): the table's policy and its stream's, each shown as written with its revision, written
from a JSON text area at the revision read (``ConfirmRemoveSelfResourceAccess`` a ticked box)
and removed after a ticked box. Each is DynamoDB's own call as the signed-in principal
(``wire_dynamodb_policies.DynamoPoliciesWire``): it checks the policy and refuses it in its
words, shown by the page (``pages_dynamodb``) with the form as typed.

Which resource a form acts on travels as ``resource`` (``table`` or ``stream``); its ARN is
DynamoDB's, read again when the form is posted, never taken from the form.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from starlette.requests import Request

from andromede.console.dynamodb_forms import Words
from andromede.console.handlers import Form, FormFault, refusal
from andromede.console.wire import WireError
from andromede.console.wire_dynamodb import DynamoWire, TableSummary
from andromede.console.wire_dynamodb_policies import HeldPolicy
from andromede.http.response import Scope
from andromede.iam.model import Principal

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["POLICY_EDITS", "PolicyView", "policy_views"]

TABLE: Final = "table"
STREAM: Final = "stream"

# A policy edit: the call made with the form's fields, answering the page's query and anchor.
PolicyEdit = Callable[[DynamoWire, Scope, Principal, str, Form, Words], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class PolicyView:
    """One resource's policy section: its ARN, the policy held (None: none) or the refusal
    of its reading."""

    resource: str  # table or stream
    arn: str
    policy: HeldPolicy | None = None
    error: str = ""


async def policy_views(
    console: Console, request: Request, session: Session, wire: DynamoWire, table: TableSummary
) -> list[PolicyView]:
    """The table's policy section, and its latest stream's when it has one."""
    views: list[PolicyView] = []
    resources = [(TABLE, table.arn)] + ([(STREAM, table.stream_arn)] if table.stream_arn else [])
    for resource, arn in resources:
        try:
            held = await wire.policies().policy(request.scope, session.principal, arn)
        except WireError as exc:  # its section says so; the rest is shown
            views.append(PolicyView(resource, arn, error=refusal(console, request, exc)[0]))
        else:
            views.append(PolicyView(resource, arn, held))
    return views


async def _arn(
    wire: DynamoWire, origin: Scope, principal: Principal, name: str, fields: Form, _: Words
) -> str:
    table = await wire.describe(origin, principal, name)
    if fields.get("resource") == STREAM:
        if not table.stream_arn:
            raise FormFault(_("The table has no stream."))
        return table.stream_arn
    return table.arn


def _saved(fields: Form) -> str:
    """The page's notice and anchor: the section of the resource changed."""
    section = f"policy-{STREAM if fields.get('resource') == STREAM else TABLE}"
    return f"?saved={section}#{section}"


async def _put_policy(
    wire: DynamoWire, origin: Scope, principal: Principal, name: str, fields: Form, _: Words
) -> str:
    arn = await _arn(wire, origin, principal, name, fields, _)
    text = fields.get("policy", "").strip()
    if not text:
        raise FormFault(_("Write the policy as a JSON document."))
    await wire.policies().put_policy(
        origin, principal, arn, text,
        expected_revision=fields.get("revision", "").strip(),
        confirm_self_lockout=fields.get("confirm_self_lockout") == "yes",
    )  # fmt: skip
    return _saved(fields)


async def _delete_policy(
    wire: DynamoWire, origin: Scope, principal: Principal, name: str, fields: Form, _: Words
) -> str:
    if fields.get("confirm") != "yes":
        raise FormFault(_("Tick the box to confirm the deletion."))
    arn = await _arn(wire, origin, principal, name, fields, _)
    await wire.policies().delete_policy(
        origin, principal, arn, expected_revision=fields.get("revision", "").strip()
    )
    return _saved(fields)


POLICY_EDITS: Final[dict[str, PolicyEdit]] = {
    "put-policy": _put_policy,
    "delete-policy": _delete_policy,
}
