"""The sign-in link's page of the IAM section (decision 0141's addendum): for a tenant's
administrator, the link that signs the account's users in through one of its OpenID Connect
providers (``/console/login?account=…&provider=…&role=…``, the role optional: without one the
user chooses among those whose trust policy lets them in), with what to register at the issuer
for it — the redirect URI and the post-logout redirect URI, absolute, built from the request as
the sign-in builds them, and the client id the console signs in as (the provider's first).

Every read is IAM's own call as the logged-in principal (ListOpenIDConnectProviders,
GetOpenIDConnectProvider, ListRoles): IAM's policies decide, and a refusal is IAM's error on
the page. The page changes nothing: its form is a GET, the link its answer.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from andromede.console.handlers import signed_in
from andromede.console.oidc_logout import login_uri
from andromede.console.pages_oidc import CALLBACK
from andromede.console.wire import WireError

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES"]

_ROLE_NAME: Final = re.compile(r"[\w+=,.@-]{1,64}")
_ROLES_OFFERED: Final = 1000  # IAM's largest page: the role field's suggestions


@signed_in
async def sign_in_link(console: Console, request: Request, session: Session) -> Response:
    _ = console.catalogue(request).gettext
    account = session.principal.tenant_id or ""
    provider = request.query_params.get("provider", "").strip()
    role = request.query_params.get("role", "").strip()
    shown: dict[str, Any] = {"provider": provider, "role": role, "providers": [], "roles": []}
    error, status = None, 200
    iam = console.iam
    try:
        if iam is None:
            raise WireError("ServiceUnavailable", _("This server serves no IAM."), 404)
        shown["providers"] = await iam.list_oidc_providers(request.scope, session.principal)
        listed = await iam.list_roles(
            request.scope, session.principal, marker=None, page_size=_ROLES_OFFERED
        )
        shown["roles"] = [row.name for row in listed.rows]
        if provider and provider not in shown["providers"]:
            error, status = _("No such OpenID Connect provider in this account."), 400
        elif role and not _ROLE_NAME.fullmatch(role):
            error, status = _("That is not a role name."), 400
        elif provider:
            arn = f"arn:aws:iam::{account}:oidc-provider/{provider}"
            client_ids = await iam.oidc_provider_client_ids(request.scope, session.principal, arn)
            asked = {"account": account, "provider": provider, **({"role": role} if role else {})}
            shown.update(
                link=f"{login_uri(request)}?{urlencode(asked)}",
                client_id=client_ids[0] if client_ids else None,
                redirect_uri=str(request.url.replace(path=CALLBACK, query="", fragment="")),
                logout_uri=login_uri(request),
            )
    except WireError as exc:
        error, status = console.error_text(request, exc), exc.status
    return console.render(
        request,
        "iam_oidc_sign_in.html",
        session=session,
        status=status,
        title=_("OIDC sign-in link"),
        section="oidc-sign-in",
        error=error,
        **shown,
    )


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/iam/oidc-sign-in", sign_in_link, ["GET"]),
]
