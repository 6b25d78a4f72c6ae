"""The EC2 pages' plumbing, shared by the instances, network and templates pages: a page's
protocol (EC2's answers for the caller, with an action's refusal and the fields typed in the
refused form), a viewer that renders it for a signed-in caller, and an action that makes
EC2's call from a CSRF-checked form, then redirects (303) or shows the page again with EC2's
refusal and status."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from andromede.console.wire import WireError
from andromede.console.wire_ec2 import Ec2Wire, VpcRow
from andromede.iam.model import Principal

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = [
    "Change",
    "Handler",
    "Page",
    "VpcScoped",
    "action",
    "client_token",
    "field",
    "no_ec2",
    "read_only_list",
    "viewer",
    "vpc_scoped_list",
]

Handler = Callable[["Console", Request], Awaitable[Response]]
# A change: EC2's call with the form's fields, answering where the browser goes next.
Change = Callable[[Ec2Wire, Request, Principal, dict[str, str]], Awaitable[str]]


class Page(Protocol):
    """A page: EC2's answers for the caller, with an action's refusal (``error``, ``status``)
    and the fields typed in the refused form (``typed``, by the form's name)."""

    def __call__(
        self,
        console: Console,
        request: Request,
        session: Session,
        *,
        typed: Mapping[str, Mapping[str, str]] | None = ...,
        error: str | None = ...,
        status: int = ...,
    ) -> Awaitable[Response]: ...


def field(fields: Mapping[str, str], name: str) -> str:
    return fields.get(name, "").strip()


def client_token() -> str:
    """A form's idempotency token (EC2's ClientToken): the same form sent twice makes one
    resource."""
    return secrets.token_urlsafe(18)


def no_ec2(console: Console, request: Request) -> tuple[str, int]:
    """What a page says on a server that serves no EC2, and its status."""
    _ = console.catalogue(request).gettext
    return _("This server serves no EC2."), 404


class VpcScoped(Protocol):
    """EC2's list of a kind of the caller's VPC resources (route tables, network ACLs): a
    VPC's only when ``vpc_id`` is given."""

    def __call__(
        self, ec2: Ec2Wire, origin: Any, who: Principal, *, vpc_id: str | None = ...
    ) -> Awaitable[Sequence[Any]]: ...


async def vpc_scoped_list(
    console: Console,
    request: Request,
    session: Session,
    *,
    describe: VpcScoped,
    template: str,
    title: str,
    rows: str,
    typed: Mapping[str, Mapping[str, str]] | None,
    error: str | None,
    status: int,
) -> Response:
    """A list page of the caller's VPC resources (``?vpc_id=``: that VPC's), given to
    ``template`` as ``rows`` with the VPCs, a create form's ClientToken and fields as typed."""
    vpc_id = request.query_params.get("vpc_id", "")
    found: Sequence[Any] = []
    vpcs: list[VpcRow] = []
    if console.ec2 is None:
        error, status = no_ec2(console, request)
    else:
        origin, principal = request.scope, session.principal
        try:
            found = await describe(console.ec2, origin, principal, vpc_id=vpc_id or None)
            vpcs = await console.ec2.describe_vpcs(origin, principal)
        except WireError as exc:
            if error is None:
                error, status = console.error_text(request, exc), exc.status
    listed: dict[str, Any] = {rows: found}
    return console.render(
        request,
        template,
        session=session,
        status=status,
        title=title,
        client_token=client_token(),
        vpcs=vpcs,
        vpc_id=vpc_id,
        typed=(typed or {}).get("create", {}),
        error=error,
        **listed,
    )


# EC2's listing of a kind of the caller's resources, every page of it.
Describe = Callable[[Ec2Wire, Any, Principal], Awaitable[Sequence[Any]]]


def read_only_list(
    template: str, rows: str, title: Callable[[Callable[[str], str]], str], describe: Describe
) -> Handler:
    """A page that lists what ``describe`` answers the signed-in user (as ``rows`` in
    ``template``, titled ``title`` in the request's language) and changes nothing: those
    resources are made and changed with the EC2 API (prefix lists)."""

    async def handler(console: Console, request: Request) -> Response:
        session = await console.session(request)
        if session is None:
            return console.to_login()
        listed: Sequence[Any] = []
        error: str | None = None
        status = 200
        if console.ec2 is None:
            error, status = no_ec2(console, request)
        else:
            try:
                listed = await describe(console.ec2, request.scope, session.principal)
            except WireError as exc:
                error, status = console.error_text(request, exc), exc.status
        shown: dict[str, Any] = {rows: listed}
        return console.render(
            request,
            template,
            session=session,
            status=status,
            title=title(console.catalogue(request).gettext),
            error=error,
            **shown,
        )

    return handler


def viewer(page: Page) -> Handler:
    async def handler(console: Console, request: Request) -> Response:
        session = await console.session(request)
        if session is None:
            return console.to_login()
        return await page(console, request, session)

    return handler


def action(
    page: Page, change: Change, *, form: str = "", max_fields: int = 16, confirmed: bool = False
) -> Handler:
    """A POST of ``page``'s: EC2's call, then a redirect (303); or ``page`` again with EC2's
    refusal and, when the post was the ``form`` of that name, its fields as typed. A form
    past ``max_fields`` fields is not read (a form repeating its security groups needs more
    than the console's usual 16). A ``confirmed`` action (a deletion) is sent only once the
    form's box is ticked (``confirm=yes``); unticked, the page again (400) and nothing sent."""

    async def handler(console: Console, request: Request) -> Response:
        session = await console.session(request)
        if session is None:
            return console.to_login()
        fields = await console.form(request, session, max_fields=max_fields)
        if fields is None:
            return console.refused_form(request, session)
        if confirmed and fields.get("confirm") != "yes":
            _ = console.catalogue(request).gettext
            return await page(
                console, request, session, error=_("Tick the box to confirm the deletion."),
                status=400,
            )  # fmt: skip
        if console.ec2 is None:
            return await page(console, request, session)
        try:
            target = await change(console.ec2, request, session.principal, fields)
        except WireError as exc:
            return await page(
                console, request, session, typed={form: fields} if form else {},
                error=console.error_text(request, exc), status=exc.status,
            )  # fmt: skip
        return RedirectResponse(target, status_code=303)

    return handler
