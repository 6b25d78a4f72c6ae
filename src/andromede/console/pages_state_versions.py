"""A state machine's versions and aliases in the console (decision 0296, over decision 0283's
calls): a version published with a description (PublishStateMachineVersion) or deleted
(DeleteStateMachineVersion); an alias created or updated to route to one version, or to two
with the second's weight in percent (Create-, UpdateStateMachineAlias), or deleted — each
Step Functions' own call as the signed-in principal, its refusal shown on the machine's page
with the form as typed. The versions' and aliases' ARNs are made from the machine's (itself
made in the signed-in account and the console's Region) and the number or name posted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from andromede.console.handlers import FormFault, fault_or_refusal, signed_in
from andromede.console.pages_states import _machine_page, machine_arn, machine_url
from andromede.console.wire import WireError

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES"]

_ACTIONS: Final = frozenset({"publish", "delete", "alias", "delete-alias"})


def _percent(text: str, words: Any) -> int:
    stripped = text.strip()
    if not stripped.isdigit() or int(stripped) > 100:
        raise FormFault(words("The weight is a percentage, from 0 to 100."))
    return int(stripped)


def _routing(arn: str, fields: dict[str, str], words: Any) -> list[tuple[str, int]]:
    """The alias's routing: its version alone (100 %), or with a second version taking the
    weight typed and the first the rest."""
    first, second = fields.get("version", "").strip(), fields.get("second_version", "").strip()
    if not second:
        return [(f"{arn}:{first}", 100)]
    weight = _percent(fields.get("weight", ""), words)
    return [(f"{arn}:{first}", 100 - weight), (f"{arn}:{second}", weight)]


@signed_in
async def change(console: Console, request: Request, session: Session) -> Response:
    """One POST of the machine page's versions and aliases sections: the change made, then
    the page by a redirect (303); or the page again with the refusal and the form as typed."""
    name, action = request.path_params.get("name", ""), request.path_params.get("action", "")
    if action not in _ACTIONS:
        return await _machine_page(console, request, session, name)
    fields = await console.form(request, session)
    if fields is None:
        return console.refused_form(request, session)
    wire = console.states
    if wire is None:
        return await _machine_page(console, request, session, name)
    _ = console.catalogue(request).gettext
    origin, principal = request.scope, session.principal
    arn = machine_arn(console, session, name)
    try:
        if action == "publish":
            await wire.publish_version(
                origin, principal, arn, fields.get("description", "").strip()
            )
        elif action == "delete":
            await wire.delete_version(origin, principal, f"{arn}:{fields.get('version', '')}")
        elif action == "alias":
            alias = fields.get("alias", "").strip()
            await wire.put_alias(
                origin, principal, f"{arn}:{alias}", routing=_routing(arn, fields, _),
                description=fields.get("description", "").strip(),
                create=fields.get("existing") != "yes",
            )  # fmt: skip
        else:
            await wire.delete_alias(origin, principal, f"{arn}:{fields.get('alias', '')}")
    except (FormFault, WireError) as exc:
        error, status = fault_or_refusal(console, request, exc)
        return await _machine_page(
            console, request, session, name, typed=fields, typed_form=f"version-{action}",
            error=error, status=status,
        )  # fmt: skip
    return RedirectResponse(f"{machine_url(name)}#versions", status_code=303)


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/state-machines/{name}/versions/{action}", change, ["POST"]),
]
