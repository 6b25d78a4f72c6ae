"""DynamoDB's PartiQL editor (decision 0247) in the console (decision 0252): a statement, and
its ``?`` parameters as a JSON array of DynamoDB JSON values, run by ExecuteStatement as the
signed-in principal (``wire_dynamodb.DynamoWire``), so DynamoDB's IAM decisions
(``dynamodb:PartiQLSelect``…), checks, metering and words answer it; at most
``console_page_size`` items a page, shown as DynamoDB JSON, escaped. The next page's
``NextToken`` travels in a form's hidden field beside the statement and its parameters, never
in a URL (DynamoDB binds the token to them and refuses it with another statement).

The editor is at ``/console/dynamodb-partiql``: a table's name may be ``partiql``, so the
editor is not under ``/console/dynamodb/``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response

from andromede.console.handlers import Form, FormFault, fault_or_refusal, posted, signed_in
from andromede.console.wire import WireError
from andromede.console.wire_dynamodb import StatementRun, item_text

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["PARTIQL_PATH", "ROUTES"]

PARTIQL_PATH: Final = "/dynamodb-partiql"
_EXAMPLE: Final = 'SELECT * FROM "orders" WHERE "customer" = ?'


async def _editor(
    console: Console,
    request: Request,
    session: Session,
    *,
    run: StatementRun | None = None,
    typed: Form | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    if console.dynamodb is None:
        error, status = _("This server serves no Amazon DynamoDB."), 404
    return console.render(
        request,
        "dynamodb_partiql.html",
        session=session,
        status=status,
        title=_("PartiQL editor"),
        run=run,
        items=[item_text(item) for item in run.items] if run else [],
        form=typed or {},
        example=_EXAMPLE,
        error=error,
    )


editor = signed_in(_editor)


def parameters_of(typed: str, _: Any) -> list[Any]:
    """The statement's parameters: a JSON array of DynamoDB JSON values (empty: none)."""
    if not typed.strip():
        return []
    try:
        parsed = json.loads(typed)
    except ValueError:
        parsed = None
    if not isinstance(parsed, list) or not all(isinstance(p, dict) for p in parsed):
        example = '[{"S": "ann"}]'
        raise FormFault(
            _("Give the parameters as a JSON array of DynamoDB JSON values, such as {example}.")
            .format(example=example)
        )  # fmt: skip
    return parsed


@posted()
async def run(console: Console, request: Request, session: Session, fields: Form) -> Response:
    """ExecuteStatement of the form's statement (with the previous page's token when "Next
    page" sent it): the editor again with the items, or with DynamoDB's refusal and the form
    as typed."""
    wire = console.dynamodb
    if wire is None:
        return await _editor(console, request, session)
    _ = console.catalogue(request).gettext
    try:
        statement = fields.get("statement", "")
        if not statement.strip():
            raise FormFault(_("Write a PartiQL statement."))
        answer = await wire.execute_statement(
            request.scope, session.principal, statement,
            parameters=parameters_of(fields.get("parameters", ""), _),
            next_token=fields.get("next_token", ""), limit=console.settings.console_page_size,
        )  # fmt: skip
    except (FormFault, WireError) as exc:
        error, status = fault_or_refusal(console, request, exc)
        return await _editor(console, request, session, typed=fields, error=error, status=status)
    return await _editor(console, request, session, run=answer, typed=fields)


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    (PARTIQL_PATH, editor, ["GET"]),
    (PARTIQL_PATH, run, ["POST"]),
]
