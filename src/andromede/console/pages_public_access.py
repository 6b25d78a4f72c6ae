"""The account's S3 Block Public Access (decision 0152): its four switches, as S3 Control's
GetPublicAccessBlock answers the signed-in principal, set together or removed
(PutPublicAccessBlock, DeletePublicAccessBlock). They apply to every bucket of the account,
with each bucket's own, the stricter winning.

Every read and change is S3 Control's own call as the signed-in principal
(``wire_s3control``), so IAM decides (``s3:GetAccountPublicAccessBlock``,
``s3:PutAccountPublicAccessBlock``; the account root acts unopposed) and S3 Control audits
the changes as it audits boto3's. A refusal shows the page with S3 Control's error and status;
a reader who may not even read the switches sees no form.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response

from andromede.console.handlers import Form, Typed, action, first_refusal, signed_in
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_s3control import SWITCHES, AccountBlock, S3ControlWire

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES"]

_URL: Final = f"{CONSOLE_PATH}/block-public-access"


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
    block: AccountBlock | None = None
    if console.s3control is None:
        error, status = _("This server serves no S3 Control."), 404
    else:
        try:
            block = await console.s3control.account_block(request.scope, session.principal)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
    labels = {
        "BlockPublicAcls": _("Block new public ACLs"),
        "IgnorePublicAcls": _("Ignore every public ACL"),
        "BlockPublicPolicy": _("Block new public bucket policies"),
        "RestrictPublicBuckets": _("Restrict buckets with a public policy to their account"),
    }
    return console.render(
        request,
        "block_public_access.html",
        session=session,
        status=status,
        title=_("Block Public Access (account)"),
        block=block,
        switches=[(name, labels[name]) for name in SWITCHES],
        error=error,
    )


_view = signed_in(_page)


def _s3control(console: Console) -> S3ControlWire | None:
    return console.s3control


async def _put_block(wire: S3ControlWire, request: Request, session: Session, fields: Form) -> str:
    switches = {name: fields.get(name) == "yes" for name in SWITCHES}
    await wire.put_account_block(request.scope, session.principal, switches)
    return _URL


async def _delete_block(
    wire: S3ControlWire, request: Request, session: Session, fields: Form
) -> str:
    await wire.delete_account_block(request.scope, session.principal)
    return _URL


_put = action(_page, _put_block, wire=_s3control)
_delete = action(_page, _delete_block, wire=_s3control, confirmed=True)


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/block-public-access", _view, ["GET"]),
    ("/block-public-access", _put, ["POST"]),
    ("/block-public-access/delete", _delete, ["POST"]),
]
