"""IAM in the console: users (with their console password, access keys, groups, managed and
inline policies, MFA devices), groups, customer-managed policies and roles.

Every read and change is IAM's own call, as the logged-in principal (``wire_iam.IamWire``):
IAM's policies decide, IAM audits, and a refusal is IAM's error shown on the page with IAM's
status. A new access key's secret is on the one answer that creates it (never a redirect that
would need it kept somewhere, never logged) and is not shown again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import quote, urlencode

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from andromede.console.handlers import Handler, first_refusal, signed_in
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_iam import IamWire, NewAccessKey
from andromede.http.response import Scope
from andromede.iam import totp

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES"]

_IAM: Final = f"{CONSOLE_PATH}/iam"
Kind = Literal["User", "Group", "Role"]
_KIND_OF_PATH: Final[dict[str, Kind]] = {"users": "User", "groups": "Group", "roles": "Role"}
# IAM's own bound on a policy document (a role's trust policy and a managed policy are
# smaller; IAM says so): a longer field is cut here rather than refused by the form parser.
_MAX_DOCUMENT: Final = 131072


def _url(*parts: str, **query: str) -> str:
    path = "/".join([_IAM, *(quote(p, safe="") for p in parts)])
    return f"{path}?{urlencode(query)}" if query else path


Change = Callable[[IamWire, Scope, "Session", dict[str, str]], Awaitable[Any]]


IamView = Callable[["Console", Request, "Session", IamWire], Awaitable[Response]]
IamFormView = Callable[
    ["Console", Request, "Session", IamWire, dict[str, str]], Awaitable[Response]
]


def _with_iam(view: IamView) -> Handler:
    """``view`` for a signed-in caller (``handlers.signed_in``) on a server that serves IAM;
    a 404 page otherwise."""

    @signed_in
    async def handler(console: Console, request: Request, session: Session) -> Response:
        if console.iam is None:
            _ = console.catalogue(request).gettext
            return console.render(
                request,
                "message.html",
                session=session,
                status=404,
                title=_("IAM"),
                error=_("This server serves no IAM."),
            )
        return await view(console, request, session, console.iam)

    return handler


def _iam_form(view: IamFormView) -> Handler:
    """``view`` given the form once its CSRF token is the session's, as ``handlers.posted``
    does, but checked once IAM is found served: a server without IAM answers 404 first."""

    async def checked(
        console: Console, request: Request, session: Session, iam: IamWire
    ) -> Response:
        fields = await console.form(request, session)
        if fields is None:
            return console.refused_form(request, session)
        return await view(console, request, session, iam, fields)

    return _with_iam(checked)


def _refusal(console: Console, request: Request, session: Session, exc: WireError) -> Response:
    _ = console.catalogue(request).gettext
    return console.render(
        request,
        "message.html",
        session=session,
        status=exc.status,
        title=_("IAM"),
        error=console.error_text(request, exc),
    )


# -- lists ------------------------------------------------------------------------------------
_LISTS: Final = {
    "users": ("iam_users.html", "list_users"),
    "groups": ("iam_groups.html", "list_groups"),
    "policies": ("iam_policies.html", "list_policies"),
    "roles": ("iam_roles.html", "list_roles"),
}


async def _list_page(
    console: Console,
    request: Request,
    session: Session,
    iam: IamWire,
    what: str,
    *,
    marker: str | None,
    error: str | None = None,
    status: int = 200,
    form: dict[str, str] | None = None,
) -> Response:
    _ = console.catalogue(request).gettext
    titles = {
        "users": _("IAM users"),
        "groups": _("IAM groups"),
        "policies": _("IAM policies"),
        "roles": _("IAM roles"),
    }
    template, method = _LISTS[what]
    rows: list[Any] = []
    next_marker = None
    try:
        page = await getattr(iam, method)(
            request.scope,
            session.principal,
            marker=marker,
            page_size=console.settings.console_page_size,
        )
        rows, next_marker = page.rows, page.next_marker
    except WireError as exc:
        error, status = first_refusal(console, request, exc, error, status)
    return console.render(
        request,
        template,
        session=session,
        status=status,
        title=titles[what],
        section=what,
        rows=rows,
        next_url=_url(what, marker=next_marker) if next_marker else None,
        error=error,
        form=form or {},
    )


def _lister(what: str) -> Handler:
    @_with_iam
    async def handler(
        console: Console, request: Request, session: Session, iam: IamWire
    ) -> Response:
        marker = request.query_params.get("marker")
        return await _list_page(console, request, session, iam, what, marker=marker)

    return handler


def _list_change(what: str, change: Change, *, keep_form: bool = False) -> Handler:
    """A change made from a list page: back to the list (303), or the list again with IAM's
    refusal (and, for a create, the fields typed, so a long document is not lost)."""

    @_iam_form
    async def handler(
        console: Console, request: Request, session: Session, iam: IamWire, fields: dict[str, str]
    ) -> Response:
        try:
            await change(iam, request.scope, session, fields)
        except WireError as exc:
            return await _list_page(
                console, request, session, iam, what, marker=None,
                error=console.error_text(request, exc), status=exc.status,
                form=fields if keep_form else None,
            )  # fmt: skip
        return RedirectResponse(_url(what), status_code=303)

    return handler


def _field(fields: dict[str, str], name: str, limit: int = 128) -> str:
    return fields.get(name, "").strip()[:limit]


def _document(fields: dict[str, str], name: str = "document") -> str:
    return fields.get(name, "")[:_MAX_DOCUMENT]


async def _delete_user(iam: IamWire, origin: Scope, session: Session, f: dict[str, str]) -> None:
    await iam.delete_user(origin, session.principal, _field(f, "name"))


async def _create_group(iam: IamWire, origin: Scope, session: Session, f: dict[str, str]) -> None:
    await iam.create_group(origin, session.principal, _field(f, "name"))


async def _delete_group(iam: IamWire, origin: Scope, session: Session, f: dict[str, str]) -> None:
    await iam.delete_group(origin, session.principal, _field(f, "name"))


async def _create_policy(iam: IamWire, origin: Scope, session: Session, f: dict[str, str]) -> None:
    await iam.create_policy(
        origin, session.principal, _field(f, "name"), _document(f), _field(f, "description", 1000)
    )


async def _delete_policy(iam: IamWire, origin: Scope, session: Session, f: dict[str, str]) -> None:
    await iam.delete_policy(origin, session.principal, _field(f, "arn", 2048))


async def _create_role(iam: IamWire, origin: Scope, session: Session, f: dict[str, str]) -> None:
    await iam.create_role(
        origin, session.principal, _field(f, "name"), _document(f), _field(f, "description", 1000)
    )


async def _delete_role(iam: IamWire, origin: Scope, session: Session, f: dict[str, str]) -> None:
    await iam.delete_role(origin, session.principal, _field(f, "name"))


# -- one user, group, role or policy ------------------------------------------------------------
async def _detail_page(
    console: Console,
    request: Request,
    session: Session,
    iam: IamWire,
    what: str,
    name: str,
    *,
    error: str | None = None,
    status: int = 200,
    new_key: NewAccessKey | None = None,
) -> Response:
    """The page of one user, group, role (``name``) or policy (``name`` is its ARN); when the
    entity itself cannot be read, IAM's refusal alone."""
    _ = console.catalogue(request).gettext
    origin, principal = request.scope, session.principal
    values: dict[str, Any] = {}
    try:
        if what == "users":
            values["user"] = await iam.user_detail(origin, principal, name)
        elif what == "groups":
            group, members, attached, inline = await iam.group_detail(origin, principal, name)
            values.update(group=group, members=members, attached=attached, inline=inline)
        elif what == "roles":
            role, attached, inline = await iam.role_detail(origin, principal, name)
            values.update(role=role, attached=attached, inline=inline)
        else:
            policy, document, attached_to = await iam.policy_detail(origin, principal, name)
            values.update(policy=policy, document=document, attached_to=attached_to)
    except WireError as exc:
        return _refusal(console, request, session, exc)
    if what in _KIND_OF_PATH:
        # What the attach and add forms offer: the first page of each list the caller may
        # read (typing a name or an ARN works too; IAM decides either way).
        values["policy_choices"] = await _choices(iam.list_policies, console, request, session)
        if what == "users":
            values["group_choices"] = await _choices(iam.list_groups, console, request, session)
    titles = {
        "users": _("IAM user"),
        "groups": _("IAM group"),
        "roles": _("IAM role"),
        "policies": _("IAM policy"),
    }
    return console.render(
        request,
        f"iam_{what[:-1] if what != 'policies' else 'policy'}.html",
        session=session,
        status=status,
        title=f"{titles[what]} {name.rsplit('/', 1)[-1]}",
        section=what,
        name=name,
        error=error,
        new_key=new_key,
        **values,
    )


async def _choices(
    lister: Callable[..., Awaitable[Any]], console: Console, request: Request, session: Session
) -> list[Any]:
    try:
        page = await lister(
            request.scope,
            session.principal,
            marker=None,
            page_size=console.settings.console_page_size,
        )
    except WireError:
        return []  # a caller who may not list them types the name instead
    rows: list[Any] = page.rows
    return rows


def _detail(what: str) -> Handler:
    @_with_iam
    async def handler(
        console: Console, request: Request, session: Session, iam: IamWire
    ) -> Response:
        name = (
            request.query_params.get("arn", "")
            if what == "policies"
            else request.path_params["name"]
        )
        return await _detail_page(console, request, session, iam, what, name)

    return handler


DetailChange = Callable[
    [IamWire, Scope, "Session", str, dict[str, str]], Awaitable[NewAccessKey | None]
]


def _detail_change(what: str, change: DetailChange) -> Handler:
    """A change made on a user's, group's or role's page: back to it (303), or the page again
    with IAM's refusal and IAM's status. A new access key is shown on this answer (200)."""

    @_iam_form
    async def handler(
        console: Console, request: Request, session: Session, iam: IamWire, fields: dict[str, str]
    ) -> Response:
        name = request.path_params["name"]
        try:
            new_key = await change(iam, request.scope, session, name, fields)
        except WireError as exc:
            return await _detail_page(
                console, request, session, iam, what, name,
                error=console.error_text(request, exc), status=exc.status,
            )  # fmt: skip
        if new_key is not None:
            return await _detail_page(console, request, session, iam, what, name, new_key=new_key)
        return RedirectResponse(_url(what, name), status_code=303)

    return handler


def _kind_of(what: str) -> Kind:
    return _KIND_OF_PATH[what]


def _managed(what: str, *, attach: bool) -> DetailChange:
    """Attach (or detach) the managed policy the form names to the user, group or role."""

    async def change(
        iam: IamWire, origin: Scope, session: Session, name: str, f: dict[str, str]
    ) -> None:
        arn, kind = _field(f, "arn", 2048), _kind_of(what)
        if attach:
            await iam.attach_policy(origin, session.principal, kind, name, arn)
        else:
            await iam.detach_policy(origin, session.principal, kind, name, arn)

    return change


def _put_inline(what: str) -> DetailChange:
    async def change(
        iam: IamWire, origin: Scope, session: Session, name: str, f: dict[str, str]
    ) -> None:
        await iam.put_inline_policy(
            origin, session.principal, _kind_of(what), name, _field(f, "policy"), _document(f)
        )

    return change


def _delete_inline(what: str) -> DetailChange:
    async def change(
        iam: IamWire, origin: Scope, session: Session, name: str, f: dict[str, str]
    ) -> None:
        await iam.delete_inline_policy(
            origin, session.principal, _kind_of(what), name, _field(f, "policy")
        )

    return change


async def _set_password(
    iam: IamWire, origin: Scope, session: Session, name: str, f: dict[str, str]
) -> None:
    await iam.set_password(
        origin, session.principal, name, f.get("password", "")[:128], exists=f.get("has") == "1"
    )


async def _delete_password(
    iam: IamWire, origin: Scope, session: Session, name: str, f: dict[str, str]
) -> None:
    await iam.delete_password(origin, session.principal, name)


async def _create_key(
    iam: IamWire, origin: Scope, session: Session, name: str, f: dict[str, str]
) -> NewAccessKey:
    return await iam.create_access_key(origin, session.principal, name)


async def _key_status(
    iam: IamWire, origin: Scope, session: Session, name: str, f: dict[str, str]
) -> None:
    await iam.set_access_key_status(
        origin, session.principal, name, _field(f, "key"), active=f.get("status") == "Active"
    )


async def _delete_key(
    iam: IamWire, origin: Scope, session: Session, name: str, f: dict[str, str]
) -> None:
    await iam.delete_access_key(origin, session.principal, name, _field(f, "key"))


async def _add_to_group(
    iam: IamWire, origin: Scope, session: Session, name: str, f: dict[str, str]
) -> None:
    await iam.add_user_to_group(origin, session.principal, name, _field(f, "group"))


async def _remove_from_group(
    iam: IamWire, origin: Scope, session: Session, name: str, f: dict[str, str]
) -> None:
    await iam.remove_user_from_group(origin, session.principal, name, _field(f, "group"))


async def _remove_member(
    iam: IamWire, origin: Scope, session: Session, name: str, f: dict[str, str]
) -> None:
    await iam.remove_user_from_group(origin, session.principal, _field(f, "user"), name)


async def _deactivate_mfa(
    iam: IamWire, origin: Scope, session: Session, name: str, f: dict[str, str]
) -> None:
    await iam.deactivate_mfa_device(origin, session.principal, name, _field(f, "serial", 256))


@_iam_form
async def delete_user_entirely(
    console: Console, request: Request, session: Session, iam: IamWire, fields: dict[str, str]
) -> Response:
    """The user and everything IAM would refuse its deletion for, after a confirmation."""
    name = request.path_params["name"]
    if fields.get("confirm") != "yes":
        _ = console.catalogue(request).gettext
        return await _detail_page(
            console, request, session, iam, "users", name, status=400,
            error=_("Tick the box to confirm the deletion."),
        )  # fmt: skip
    try:
        await iam.delete_user_and_dependents(request.scope, session.principal, name)
    except WireError as exc:
        return await _detail_page(
            console, request, session, iam, "users", name,
            error=console.error_text(request, exc), status=exc.status,
        )  # fmt: skip
    return RedirectResponse(_url("users"), status_code=303)


@_iam_form
async def create_user(
    console: Console, request: Request, session: Session, iam: IamWire, fields: dict[str, str]
) -> Response:
    """A user, and in the same form, as the AWS console's wizard: a group to join, a console
    password, an access key — each IAM's own call, in that order. The user made, a later
    refusal shows on the user's page (what was made stays, as in the AWS console); a new
    key's secret is on that answer, as when it is made from the user's page."""
    origin, principal, name = request.scope, session.principal, _field(fields, "name")
    try:
        await iam.create_user(origin, principal, name)
    except WireError as exc:
        return await _list_page(
            console, request, session, iam, "users", marker=None,
            error=console.error_text(request, exc), status=exc.status,
        )  # fmt: skip
    new_key = None
    try:
        if group := _field(fields, "group"):
            await iam.add_user_to_group(origin, principal, name, group)
        if password := fields.get("password", "")[:128]:
            await iam.set_password(origin, principal, name, password, exists=False)
        if fields.get("access_key") == "yes":
            new_key = await iam.create_access_key(origin, principal, name)
    except WireError as exc:
        return await _detail_page(
            console, request, session, iam, "users", name,
            error=console.error_text(request, exc), status=exc.status,
        )  # fmt: skip
    if new_key is not None:
        return await _detail_page(console, request, session, iam, "users", name, new_key=new_key)
    return RedirectResponse(_url("users"), status_code=303)


async def _mfa_page(
    console: Console,
    request: Request,
    session: Session,
    name: str,
    serial: str,
    seed: str,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    """The new device's QR code and seed, and the form that asks two consecutive codes. The
    seed rides in that form so that a mistyped code can be tried again without a new device;
    the page is never cached (the console's answers are ``no-store``)."""
    _ = console.catalogue(request).gettext
    account = session.principal.tenant_id or ""
    uri = console.identity.authenticator_uri(account, name, seed)
    # qrcode (and Pillow, which it imports) only for a device being enrolled (decision 0347).
    import qrcode
    from qrcode.image.svg import SvgPathImage

    drawing = qrcode.make(uri, image_factory=SvgPathImage).to_string(encoding="unicode")
    return console.render(
        request,
        "iam_mfa.html",
        session=session,
        status=status,
        title=_("Assign an MFA device"),
        section="users",
        name=name,
        serial=serial,
        seed=seed,
        # The library's drawing of a URI of ours (a seed checked as Base32): markup, not text.
        qr_svg=Markup(drawing),  # noqa: S704
        error=error,
    )


@_iam_form
async def create_mfa(
    console: Console, request: Request, session: Session, iam: IamWire, fields: dict[str, str]
) -> Response:
    name = request.path_params["name"]
    try:
        serial, seed = await iam.create_virtual_mfa_device(request.scope, session.principal, name)
    except WireError as exc:
        return await _detail_page(
            console, request, session, iam, "users", name,
            error=console.error_text(request, exc), status=exc.status,
        )  # fmt: skip
    return await _mfa_page(console, request, session, name, serial, seed)


@_iam_form
async def enable_mfa(
    console: Console, request: Request, session: Session, iam: IamWire, fields: dict[str, str]
) -> Response:
    name = request.path_params["name"]
    serial, seed = _field(fields, "serial", 256), _field(fields, "seed", 128)
    try:
        if not totp.seed_from_base32(seed):
            raise ValueError(seed)
    except ValueError:  # not a form this console drew
        return console.refused_form(request, session, status=400)
    codes = (_field(fields, "code1", 16), _field(fields, "code2", 16))
    try:
        await iam.enable_mfa_device(request.scope, session.principal, name, serial, codes)
    except WireError as exc:
        return await _mfa_page(
            console, request, session, name, serial, seed,
            error=console.error_text(request, exc), status=exc.status,
        )  # fmt: skip
    return RedirectResponse(_url("users", name), status_code=303)


def _subject_routes(what: str) -> list[tuple[str, Any, list[str]]]:
    """The routes a user's, group's and role's page share: their policies."""
    return [
        (
            f"/iam/{what}/{{name}}/policies/attach",
            _detail_change(what, _managed(what, attach=True)),
            ["POST"],
        ),
        (
            f"/iam/{what}/{{name}}/policies/detach",
            _detail_change(what, _managed(what, attach=False)),
            ["POST"],
        ),
        (f"/iam/{what}/{{name}}/inline", _detail_change(what, _put_inline(what)), ["POST"]),
        (
            f"/iam/{what}/{{name}}/inline/delete",
            _detail_change(what, _delete_inline(what)),
            ["POST"],
        ),
    ]


async def iam_home(console: Console, request: Request) -> Response:
    return RedirectResponse(_url("users"), status_code=303)


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/iam", iam_home, ["GET"]),
    *((f"/iam/{what}", _lister(what), ["GET"]) for what in _LISTS),
    ("/iam/users", create_user, ["POST"]),
    ("/iam/users/delete", _list_change("users", _delete_user), ["POST"]),
    ("/iam/groups", _list_change("groups", _create_group), ["POST"]),
    ("/iam/groups/delete", _list_change("groups", _delete_group), ["POST"]),
    ("/iam/policies", _list_change("policies", _create_policy, keep_form=True), ["POST"]),
    ("/iam/policies/delete", _list_change("policies", _delete_policy), ["POST"]),
    ("/iam/roles", _list_change("roles", _create_role, keep_form=True), ["POST"]),
    ("/iam/roles/delete", _list_change("roles", _delete_role), ["POST"]),
    ("/iam/policy", _detail("policies"), ["GET"]),
    ("/iam/users/{name}", _detail("users"), ["GET"]),
    ("/iam/groups/{name}", _detail("groups"), ["GET"]),
    ("/iam/roles/{name}", _detail("roles"), ["GET"]),
    ("/iam/users/{name}/password", _detail_change("users", _set_password), ["POST"]),
    ("/iam/users/{name}/password/delete", _detail_change("users", _delete_password), ["POST"]),
    ("/iam/users/{name}/access-keys", _detail_change("users", _create_key), ["POST"]),
    ("/iam/users/{name}/access-keys/status", _detail_change("users", _key_status), ["POST"]),
    ("/iam/users/{name}/access-keys/delete", _detail_change("users", _delete_key), ["POST"]),
    ("/iam/users/{name}/groups", _detail_change("users", _add_to_group), ["POST"]),
    ("/iam/users/{name}/groups/remove", _detail_change("users", _remove_from_group), ["POST"]),
    ("/iam/users/{name}/mfa/deactivate", _detail_change("users", _deactivate_mfa), ["POST"]),
    ("/iam/users/{name}/mfa/create", create_mfa, ["POST"]),
    ("/iam/users/{name}/delete", delete_user_entirely, ["POST"]),
    ("/iam/users/{name}/mfa/enable", enable_mfa, ["POST"]),
    ("/iam/groups/{name}/members/remove", _detail_change("groups", _remove_member), ["POST"]),
    *_subject_routes("users"),
    *_subject_routes("groups"),
    *_subject_routes("roles"),
]
