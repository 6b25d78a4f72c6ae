"""The EC2 pages' plumbing, shared by the instances, network and templates pages: the page
shown where the server serves no EC2, a form's idempotency token, a VPC-scoped list page, a
read-only list page, and an action that makes EC2's call as the signed-in principal from a
CSRF-checked form (``handlers.action``: a redirect (303), or the page again with EC2's
refusal and status)."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from starlette.requests import Request
from starlette.responses import Response

from andromede.console import handlers
from andromede.console.handlers import Form, Handler, Page, Typed, first_refusal, signed_in
from andromede.console.wire import WireError
from andromede.console.wire_ec2 import Ec2Wire, VpcRow
from andromede.iam.model import Principal

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = [
    "Change",
    "VpcScoped",
    "action",
    "client_token",
    "field",
    "no_ec2",
    "read_only_list",
    "vpc_scoped_page",
]

# A change: EC2's call with the form's fields, answering where the browser goes next.
Change = Callable[[Ec2Wire, Request, Principal, dict[str, str]], Awaitable[str]]


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


def vpc_scoped_page(
    template: str, rows: str, title: Callable[[Callable[[str], str]], str], describe: VpcScoped
) -> Page:
    """A list page of the caller's VPC resources (``?vpc_id=``: that VPC's, as ``describe``
    answers them), given to ``template`` as ``rows`` with the VPCs, a create form's
    ClientToken and its fields as typed, titled ``title`` in the request's language."""

    async def page(
        console: Console,
        request: Request,
        session: Session,
        *,
        typed: Typed | None = None,
        error: str | None = None,
        status: int = 200,
    ) -> Response:
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
                error, status = first_refusal(console, request, exc, error, status)
        listed: dict[str, Any] = {rows: found}
        return console.render(
            request,
            template,
            session=session,
            status=status,
            title=title(console.catalogue(request).gettext),
            client_token=client_token(),
            vpcs=vpcs,
            vpc_id=vpc_id,
            typed=(typed or {}).get("create", {}),
            error=error,
            **listed,
        )

    return page


# EC2's listing of a kind of the caller's resources, every page of it.
Describe = Callable[[Ec2Wire, Any, Principal], Awaitable[Sequence[Any]]]


def read_only_list(
    template: str, rows: str, title: Callable[[Callable[[str], str]], str], describe: Describe
) -> Handler:
    """A page that lists what ``describe`` answers the signed-in user (as ``rows`` in
    ``template``, titled ``title`` in the request's language) and changes nothing: those
    resources are made and changed with the EC2 API (prefix lists)."""

    @signed_in
    async def handler(console: Console, request: Request, session: Session) -> Response:
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


def _ec2(console: Console) -> Ec2Wire | None:
    return console.ec2


def action(
    page: Page, change: Change, *, form: str = "", max_fields: int = 16, confirmed: bool = False
) -> Handler:
    """A POST of ``page``'s that makes EC2's call as the signed-in principal
    (``handlers.action``). A form past ``max_fields`` fields is not read (a form repeating
    its security groups needs more than the console's usual 16)."""

    async def as_caller(ec2: Ec2Wire, request: Request, session: Session, fields: Form) -> str:
        return await change(ec2, request, session.principal, fields)

    return handlers.action(
        page, as_caller, wire=_ec2, form=form, max_fields=max_fields, confirmed=confirmed
    )
