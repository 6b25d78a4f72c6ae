"""Systems Manager Parameter Store (decision 0229) in the console (decisions 0111 and 0236):
the parameters' list (DescribeParameters under a path, one level or recursive; pages of
``console_page_size`` up to its bound of 50), a parameter's creation or overwriting (String,
StringList or SecureString under a KMS key of the account; description, tier, tags), its page
(type, tier, key, versions with their labels, tags), labels put on a version and taken off,
tags added and removed, a new version written, an Advanced parameter's resource policies
shown, put (an update naming the hash the page read) and deleted, the parameters shared with
the account listed ("Shared with me", DescribeParameters ``Shared``; decision 0252), and its
deletion after a ticked box —
Parameter Store's calls as the signed-in principal (``wire_parameters.ParametersWire``), so
its IAM decisions, checks, audit, metering and words answer them.

A SecureString's value is the one thing here that must stay where it is asked for: it is
read only on the "Show value" POST (CSRF-checked; GetParameter WithDecryption, so KMS decides
whether the user may decrypt; the shell answers every page ``Cache-Control: no-store``),
shown in that answer alone, never put in a URL, a redirect, a log line, nor back into a form
a refusal re-renders (a refused SecureString is typed again). A String's or StringList's
value is no secret: the page shows it as AWS's console does.
"""

from __future__ import annotations

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
    refusal,
    signed_in,
)
from andromede.console.pages_alarms import parse_tags
from andromede.console.pages_kinesis import policy_text
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_parameters import (
    SECURE,
    NewParameter,
    ParameterRow,
    ParametersWire,
    ResourcePolicy,
)

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["DEFAULT_KEY", "ROUTES", "TIERS", "TYPES"]

_PARAMETERS_URL: Final = f"{CONSOLE_PATH}/parameters"
_CREATE: Final = "create"  # the list page's form, shown again as typed when refused
DEFAULT_KEY: Final = "alias/aws/ssm"  # a SecureString's key when none is chosen, as AWS's
TYPES: Final = ("String", "StringList", SECURE)
TIERS: Final = ("Standard", "Advanced", "Intelligent-Tiering")
_PLAIN: Final = ("String", "StringList")  # the types whose value is no secret
_MAX_RESULTS: Final = 50  # DescribeParameters' MaxResults bound (AWS's)
_ACTIONS: Final = frozenset(
    {"value", "put", "label", "unlabel", "tag", "untag", "delete", "put-policy", "delete-policy"}
)
_ADVANCED: Final = "Advanced"  # the tier a resource policy may share


def _wire(console: Console) -> ParametersWire | None:
    return console.parameters


def parameter_url(name: str) -> str:
    return f"{_PARAMETERS_URL}/{quote(name, safe='')}"


async def _key_choices(
    console: Console, request: Request, session: Session
) -> list[tuple[str, str]]:
    """The KMS keys a SecureString's form offers, as KMS lists them to the signed-in principal
    (none where KMS is not served or refuses), the account's default left to the empty
    choice."""
    if console.kms is None:
        return []
    listed = await console.kms.key_choices(
        request.scope, session.principal, limit=console.settings.console_page_size
    )
    return [choice for choice in listed if choice[0] != DEFAULT_KEY]


def _as_typed(fields: Form) -> Form:
    """What a refused form shows again: its fields, but a value that may be a SecureString's
    (any type but String and StringList: typed again)."""
    kept = {k: v for k, v in fields.items() if k != "csrf"}
    if kept.get("type", "String") not in _PLAIN:
        kept.pop("value", None)
    return kept


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
    rows: list[ParameterRow] = []
    next_href = None
    path = request.query_params.get("path", "")[:2048]
    recursive = request.query_params.get("recursive") == "yes"
    shared = request.query_params.get("shared") == "yes"
    if wire is None:
        error, status = _("This server serves no Parameter Store."), 404
    else:
        try:
            page = await wire.describe(
                request.scope,
                session.principal,
                path=path,
                recursive=recursive,
                page_size=min(console.settings.console_page_size, _MAX_RESULTS),
                next_token=request.query_params.get("token") or None,
                shared=shared,
            )
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        else:
            rows = page.parameters
            if page.next_token:
                query = {"token": page.next_token}
                if path:
                    query |= {"path": path, **({"recursive": "yes"} if recursive else {})}
                if shared:
                    query["shared"] = "yes"
                next_href = f"{_PARAMETERS_URL}?{urlencode(query)}"
    return console.render(
        request,
        "parameters.html",
        session=session,
        status=status,
        title=_("Parameters"),
        parameters=rows,
        path=path,
        recursive=recursive,
        shared=shared,
        next_href=next_href,
        kms_keys=await _key_choices(console, request, session) if wire else [],
        default_key=DEFAULT_KEY,
        types=TYPES,
        tiers=TIERS,
        form=_as_typed(dict((typed or {}).get(_CREATE, {}))),
        error=error,
    )


parameters = signed_in(_list_page)


def _new(fields: Form, name: str, *, overwrite: bool) -> NewParameter:
    return NewParameter(
        name=name,
        value=fields.get("value", ""),
        type=fields.get("type", "String"),
        description=fields.get("description", ""),
        tier=fields.get("tier", ""),
        kms_key_id=fields.get("kms_key", "").strip(),
        overwrite=overwrite,
    )


async def _create(wire: ParametersWire, request: Request, session: Session, fields: Form) -> str:
    name = fields.get("name", "").strip()
    overwrite = fields.get("overwrite") == "yes"
    tags = [] if overwrite else parse_tags(fields.get("tags", ""))
    await wire.put(request.scope, session.principal, _new(fields, name, overwrite=overwrite), tags)
    return parameter_url(name)


create = handlers.action(_list_page, _create, wire=_wire, form=_CREATE)


async def _versions(
    wire: ParametersWire, request: Request, session: Session, name: str
) -> list[ParameterRow]:
    """The parameter's versions (GetParameterHistory); for another account's parameter (named
    by its ARN) whose policy shares no history, its newest version alone (GetParameter)."""
    try:
        return await wire.history(request.scope, session.principal, name)
    except WireError as exc:
        if not name.startswith("arn:") or exc.code != "AccessDeniedException":
            raise
        try:
            return [await wire.latest(request.scope, session.principal, name)]
        except WireError:
            raise exc from None


async def _parameter_page(
    console: Console,
    request: Request,
    session: Session,
    name: str,
    *,
    value: str | None = None,
    typed: Form | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    wire = _wire(console)
    versions: list[ParameterRow] = []
    tags: list[tuple[str, str]] = []
    tags_error = ""
    policies: list[ResourcePolicy] = []
    policies_error = ""
    if wire is None:
        error, status = _("This server serves no Parameter Store."), 404
    else:
        try:
            versions = await _versions(wire, request, session, name)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        else:
            try:
                tags = await wire.tags(request.scope, session.principal, name)
            except WireError as exc:  # the tags' section says so; the rest is shown
                tags_error = refusal(console, request, exc)[0]
    latest = versions[-1] if versions else None
    shareable = wire is not None and latest is not None and latest.tier == _ADVANCED
    if wire is not None and shareable and not name.startswith("arn:"):  # the owner's only
        try:
            policies = await wire.resource_policies(
                request.scope, session.principal, own_arn(console, session, name)
            )
        except WireError as exc:  # the policies' section says so
            policies_error = refusal(console, request, exc)[0]
    return console.render(
        request,
        "parameter.html",
        session=session,
        status=status,
        title=name,
        name=name,
        parameter=latest,
        versions=list(reversed(versions)),  # the newest first, as AWS's console lists them
        value=value,
        tags=tags,
        tags_error=tags_error,
        shareable=shareable and not name.startswith("arn:"),
        policies=[(p, policy_text(p.policy)) for p in policies],
        policies_error=policies_error,
        saved=request.query_params.get("saved", "") == "policy",
        kms_keys=await _key_choices(console, request, session) if latest else [],
        default_key=DEFAULT_KEY,
        tiers=TIERS,
        form=_as_typed(typed or {}),
        action_url=parameter_url(name),
        error=error,
    )


@signed_in
async def parameter(console: Console, request: Request, session: Session) -> Response:
    name = request.path_params.get("name", "")
    if not name:
        return RedirectResponse(_PARAMETERS_URL, status_code=303)
    return await _parameter_page(console, request, session, name)


def own_arn(console: Console, session: Session, name: str) -> str:
    """The ARN of the signed-in account's parameter ``name``, as Parameter Store writes it
    (the name without its leading slash after ``parameter/``)."""
    account = session.principal.tenant_id or ""
    return f"arn:aws:ssm:{console.settings.region}:{account}:parameter/{name.removeprefix('/')}"


async def _policy_change(
    console: Console, request: Request, session: Session, wire: ParametersWire, name: str,
    action: str, fields: Form, _: Any,
) -> str:  # fmt: skip
    """PutResourcePolicy (a new one, or an update at the hash the page read) or, once its box
    is ticked, DeleteResourcePolicy; where the page goes next."""
    arn = own_arn(console, session, name)
    policy_id, policy_hash = fields.get("policy_id", ""), fields.get("policy_hash", "")
    if action == "put-policy":
        await wire.put_resource_policy(
            request.scope, session.principal, arn, fields.get("policy", ""),
            policy_id=policy_id, policy_hash=policy_hash,
        )  # fmt: skip
    else:
        if fields.get("confirm") != "yes":
            raise FormFault(_("Tick the box to confirm the deletion."))
        await wire.delete_resource_policy(
            request.scope, session.principal, arn, policy_id, policy_hash
        )
    return "?saved=policy#resource-policies"


def _version(fields: Form, _: Any) -> int:
    typed = fields.get("version", "").strip()
    if not typed.isdigit():
        raise FormFault(_("Choose a version."))
    return int(typed)


@signed_in
async def change(console: Console, request: Request, session: Session) -> Response:
    """One POST of a parameter's page: ``value`` answers the page with the value decrypted;
    the others change the parameter and go back to its page (303), or show the refusal
    there."""
    name, action = request.path_params.get("name", ""), request.path_params.get("action", "")
    if action not in _ACTIONS:
        return await _parameter_page(console, request, session, name)
    fields = await console.form(request, session)
    if fields is None:
        return console.refused_form(request, session)
    wire = _wire(console)
    if wire is None:
        return await _parameter_page(console, request, session, name)
    _ = console.catalogue(request).gettext
    origin, principal = request.scope, session.principal
    target = parameter_url(name)
    try:
        if action == "value":
            shown = await wire.value(origin, principal, name)
            return await _parameter_page(console, request, session, name, value=shown)
        if action == "put":
            await wire.put(origin, principal, _new(fields, name, overwrite=True))
        elif action == "label":
            labels = [x.strip() for x in fields.get("labels", "").split(",") if x.strip()]
            refused = await wire.label(origin, principal, name, _version(fields, _), labels)
            if refused:
                raise FormFault(
                    _("Parameter Store refused these labels: {labels}.").format(
                        labels=", ".join(refused)
                    )
                )
        elif action == "unlabel":
            version = _version(fields, _)
            await wire.unlabel(origin, principal, name, version, fields.get("label", ""))
        elif action in ("put-policy", "delete-policy"):
            target += await _policy_change(console, request, session, wire, name, action, fields, _)
        elif action == "tag":
            await wire.tag(origin, principal, name, parse_tags(fields.get("tags", "")))
        elif action == "untag":
            await wire.untag(origin, principal, name, fields.get("key", ""))
        else:
            if fields.get("confirm") != "yes":
                raise FormFault(_("Tick the box to confirm the deletion."))
            await wire.delete(origin, principal, name)
            target = _PARAMETERS_URL
    except (FormFault, WireError) as exc:
        error, status = fault_or_refusal(console, request, exc)
        return await _parameter_page(
            console, request, session, name, typed=fields, error=error, status=status
        )
    return RedirectResponse(target, status_code=303)


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/parameters", parameters, ["GET"]),
    ("/parameters", create, ["POST"]),
    # A name holds "/": the action is the last segment of a POST, the rest the name.
    ("/parameters/{name:path}/{action}", change, ["POST"]),
    ("/parameters/{name:path}", parameter, ["GET"]),
]
