"""Application Load Balancer trust stores in the console (decisions 0256, 0263): the account's
trust stores listed (name, status, CA certificates, revoked entries), one created from a CA
bundle at a bucket of the account's and a key, one deleted after a ticked box. ELBv2's own
calls as the signed-in principal (``wire_elb_trust_stores``): it reads the bundle from S3 as
the user and answers in its words (a bundle not found or invalid, a name in use, a store a
listener uses), shown with the form as typed. A listener's mutual authentication is set on
its load balancer's page (``pages_load_balancers``).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response

from andromede.console.handlers import first_refusal, signed_in
from andromede.console.pages_ec2 import field
from andromede.console.pages_load_balancers import elb_action, no_elb
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_elb import ElbWire
from andromede.console.wire_elb_trust_stores import (
    TrustStoreRow,
    create_trust_store,
    delete_trust_store,
    trust_stores,
)

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES"]

_URL: Final = f"{CONSOLE_PATH}/trust-stores"


async def _page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Mapping[str, Mapping[str, str]] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    stores: list[TrustStoreRow] = []
    buckets: list[str] = []
    if console.elb is None:
        error, status = no_elb(console, request)
    else:
        try:
            stores = await trust_stores(console.elb, request.scope, session.principal)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        with suppress(WireError):  # the create form's choices only: ELBv2 reads as the user
            buckets = [
                b.name for b in await console.s3.list_buckets(request.scope, session.principal)
            ]
    return console.render(
        request,
        "elb_trust_stores.html",
        session=session,
        status=status,
        title=_("Trust stores"),
        stores=stores,
        buckets=buckets,
        typed=(typed or {}).get("create", {}),
        error=error,
    )


async def _create(elb: ElbWire, request: Request, session: Session, f: dict[str, str]) -> str:
    await create_trust_store(
        elb, request.scope, session.principal, field(f, "name"), field(f, "bucket"),
        field(f, "key"),
    )  # fmt: skip
    return _URL


async def _delete(elb: ElbWire, request: Request, session: Session, f: dict[str, str]) -> str:
    await delete_trust_store(elb, request.scope, session.principal, field(f, "trust_store_arn"))
    return _URL


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/trust-stores", signed_in(_page), ["GET"]),
    ("/trust-stores", elb_action(_page, _create, form="create"), ["POST"]),
    ("/trust-stores/delete", elb_action(_page, _delete, confirmed=True), ["POST"]),
]
