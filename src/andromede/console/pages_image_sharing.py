"""An image's sharing page (decision 0147): the accounts the image is shared with, a form that
shares it with one more, and a button per account that stops sharing it with that one.

The list is EC2's DescribeImageAttribute ``launchPermission`` and each change its
ModifyImageAttribute, made as the signed-in principal (``wire_ec2_more``), so EC2 decides and
audits as it does for boto3: another account's image is its ``InvalidAMIID.NotFound``, a
malformed account id or the owner's own its ``InvalidParameterValue``, each shown with the
form as typed. An image under a customer-managed key is shared as any other (its key's owner
decides at each launch). Public sharing is not offered: EC2 refuses it for tenants here.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from andromede.console import wire_ec2_more as more
from andromede.console.handlers import first_refusal, signed_in
from andromede.console.pages_ec2 import action, field, no_ec2
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_ec2 import Ec2Wire, ImageRow
from andromede.iam.model import Principal

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES"]


def _sharing_url(image_id: str) -> str:
    return f"{CONSOLE_PATH}/images/{quote(image_id, safe='')}/sharing"


async def _sharing_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Mapping[str, Mapping[str, str]] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    image_id = request.path_params["image_id"]
    image: ImageRow | None = None
    accounts: list[str] = []
    found = False
    if console.ec2 is None:
        error, status = no_ec2(console, request)
    else:
        origin, principal = request.scope, session.principal
        try:
            accounts = await more.image_launch_permissions(console.ec2, origin, principal, image_id)
            found = True
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        if found:
            # Only the page's heading: the attribute's answer already said the image is the
            # caller's.
            with suppress(WireError):
                image = await more.describe_image(console.ec2, origin, principal, image_id)
    return console.render(
        request,
        "image_sharing.html",
        session=session,
        status=status,
        title=_("Sharing of {image}").format(image=image.name if image else image_id),
        image_id=image_id,
        image=image,
        found=found,
        accounts=accounts,
        typed=(typed or {}).get("share", {}),
        error=error,
    )


async def _share(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
    image_id = request.path_params["image_id"]
    await more.modify_image_launch_permission(
        ec2, request.scope, who, image_id, account=field(f, "account_id"), add=True
    )
    return _sharing_url(image_id)


async def _unshare(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
    image_id = request.path_params["image_id"]
    await more.modify_image_launch_permission(
        ec2, request.scope, who, image_id, account=field(f, "account_id"), add=False
    )
    return _sharing_url(image_id)


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/images/{image_id}/sharing", signed_in(_sharing_page), ["GET"]),
    ("/images/{image_id}/sharing/add", action(_sharing_page, _share, form="share"), ["POST"]),
    ("/images/{image_id}/sharing/remove", action(_sharing_page, _unshare), ["POST"]),
]
