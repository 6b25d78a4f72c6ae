"""Managed prefix lists (decision 0149), read only: the account's lists with their current
entries, as DescribeManagedPrefixLists and GetManagedPrefixListEntries answer the signed-in
user (``wire_prefix_lists``), so EC2's policies decide what is shown. Lists are made and
changed with the EC2 API (boto3, the aws CLI, Terraform); a security group's page shows the
rules naming one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response

from andromede.console import wire_prefix_lists as prefix_lists
from andromede.console.pages_ec2 import no_ec2, viewer
from andromede.console.wire import WireError
from andromede.console.wire_prefix_lists import PrefixListRow

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES"]


async def _prefix_lists_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Mapping[str, Mapping[str, str]] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    """The page has no form (``typed`` is unused): lists are changed through the EC2 API."""
    _ = console.catalogue(request).gettext
    rows: list[PrefixListRow] = []
    if console.ec2 is None:
        error, status = no_ec2(console, request)
    else:
        try:
            rows = await prefix_lists.describe_prefix_lists(
                console.ec2, request.scope, session.principal
            )
        except WireError as exc:
            if error is None:
                error, status = console.error_text(request, exc), exc.status
    return console.render(
        request,
        "ec2_prefix_lists.html",
        session=session,
        status=status,
        title=_("Prefix lists"),
        prefix_lists=rows,
        error=error,
    )


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/prefix-lists", viewer(_prefix_lists_page), ["GET"]),
]
