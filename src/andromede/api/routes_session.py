"""Console sessions over the API: ``POST /login``, ``POST /logout``, ``GET /whoami``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from andromede.api.auth import PRINCIPAL_SCOPE_KEY, Caller, caller, context
from andromede.api.context import ApiContext
from andromede.api.permissions import Action, Authorizer, authorizer, operator_access_arn
from andromede.api.problems import ApiProblem, problem_for
from andromede.api.schemas import Login, LoginResult, WhoAmI
from andromede.audit.model import Outcome
from andromede.errors import AndromedeError

__all__ = ["router"]

router = APIRouter(tags=["session"])


@router.post(
    "/login",
    summary="Log in with a console password (and MFA code): a bearer token",
    responses={401: {"description": "Wrong account, user, password or code (one answer)"},
               429: {"description": "Too many failures: wait Retry-After seconds"}},
)  # fmt: skip
async def login(
    body: Login, request: Request, ctx: Annotated[ApiContext, Depends(context)]
) -> LoginResult:
    try:
        session = await ctx.identity.console_login(
            body.account, body.user_name, body.password.get_secret_value(), body.mfa_code
        )
    except AndromedeError as exc:
        problem = problem_for(exc)
        ctx.audit.record(
            request_id=ctx.request_id(request),
            tenant_id=None,
            principal=None,
            action="andromede:ConsoleLogin",
            resource="*",
            outcome=Outcome.FAILURE,
            details={"error": problem.slug if problem else type(exc).__name__},
        )
        raise
    principal = session.principal
    request.scope[PRINCIPAL_SCOPE_KEY] = principal.arn
    ctx.audit.record(
        request_id=ctx.request_id(request),
        tenant_id=principal.tenant_id,
        principal=principal.arn,
        action="andromede:ConsoleLogin",
        resource=principal.arn,
        outcome=Outcome.SUCCESS,
        details={"mfa": str(principal.mfa_present).lower()},
    )
    return LoginResult(
        token=session.token,
        expires_at=session.expires_at,
        principal=WhoAmI.of(principal, "bearer"),
    )


@router.post(
    "/logout",
    status_code=204,
    summary="End the console session of the bearer token",
    response_class=Response,
    responses={403: {"description": "Signed with an access key: no session to end"}},
)
async def logout(
    who: Annotated[Caller, Depends(caller)],
    request: Request,
    ctx: Annotated[ApiContext, Depends(context)],
) -> Response:
    if who.bearer_token is None:
        raise ApiProblem(
            "not-a-session",
            403,
            "Not a console session",
            "Only a bearer token's session can be logged out; access keys stay valid.",
        )
    await ctx.identity.revoke_console_session(who.bearer_token)
    ctx.audit.record(
        request_id=ctx.request_id(request),
        tenant_id=who.principal.tenant_id,
        principal=who.principal.arn,
        action="andromede:ConsoleLogout",
        resource=who.principal.arn,
        outcome=Outcome.SUCCESS,
    )
    return Response(status_code=204)


@router.get("/whoami", summary="The authenticated caller (and its tenant's pending requests)")
async def whoami(
    allow: Annotated[Authorizer, Depends(authorizer)],
    ctx: Annotated[ApiContext, Depends(context)],
) -> WhoAmI:
    who = allow.who
    principal = who.principal
    tenant_id = principal.tenant_id
    pending = None
    # Told to whoever may list the tenant's requests (its root; a principal allowed
    # andromede:ListOperatorAccessRequests, decision 0113): one indexed read of them.
    if (
        tenant_id is not None
        and ctx.operator_access is not None
        and await allow.allows(
            Action.LIST_OPERATOR_ACCESS_REQUESTS,
            operator_access_arn(tenant_id, "*"),
            account=tenant_id,
        )
    ):
        pending = await ctx.operator_access.pending_count(tenant_id)
    return WhoAmI.of(principal, who.authenticated_by, pending)
