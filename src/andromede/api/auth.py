"""Who calls the management API: a bearer token from a console login, or a SigV4 signature.

- ``Authorization: Bearer <token>``: the token ``POST /api/v1/login`` returned; it acts as the
  user who logged in, until logout, idle timeout or the session's end.
- ``Authorization: AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/andromede/aws4_request, …``:
  an access key of a tenant's user, or of a platform operator (the only API where operator
  keys resolve). The credential scope's service is ``andromede``; the body's SHA-256 is
  computed here (as AWS's JSON and Query services do) and the canonical URI is the path
  URI-encoded once more, as botocore's ``SigV4Auth`` signs every service but S3.

Anything else (no header, another scheme, a bad signature, an unknown or suspended key, a
revoked or expired session) is 401 with ``WWW-Authenticate: Bearer``; the reason is in the
problem's detail, never which part of a secret was wrong. Failures are audited.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Annotated, Literal, cast
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPBearer

from andromede.api.context import ApiContext
from andromede.api.problems import ApiProblem, not_authenticated, problem_for
from andromede.audit.model import Outcome
from andromede.errors import AndromedeError
from andromede.http.asgi import decode_headers, raw_target
from andromede.iam.authn import BodyHashMismatch, headers_with_body_hash
from andromede.iam.model import Principal

__all__ = [
    "METRICS_SCRAPER",
    "PRINCIPAL_SCOPE_KEY",
    "Caller",
    "caller",
    "context",
    "operator",
    "operator_or_scraper",
]

PRINCIPAL_SCOPE_KEY = "andromede.principal"  # the access log reads who it was
SIGNING_SERVICE = "andromede"
_MAX_TOKEN_LENGTH = 256  # console tokens are 43 characters; anything far longer is not one
METRICS_SCRAPER = "metrics-scraper"  # who the access log names for the metrics token

# Declared for the OpenAPI document (clients and schemathesis learn the schemes from it); the
# header itself is parsed below, for both schemes at once.
_bearer_scheme = HTTPBearer(
    auto_error=False, description="Token from POST /api/v1/login.", scheme_name="bearer"
)
_sigv4_scheme = APIKeyHeader(
    name="Authorization",
    auto_error=False,
    scheme_name="sigv4",
    description=(
        "AWS Signature Version 4 with credential scope service 'andromede' and the "
        "deployment's region, by a tenant user's or a platform operator's access key."
    ),
)


@dataclass(frozen=True, slots=True)
class Caller:
    principal: Principal
    authenticated_by: Literal["sigv4", "bearer"]
    bearer_token: str | None = field(default=None, repr=False)


def context(request: Request) -> ApiContext:
    return cast(ApiContext, request.app.state.context)


async def caller(
    request: Request,
    ctx: Annotated[ApiContext, Depends(context)],
    _bearer: Annotated[object, Depends(_bearer_scheme)],
    _sigv4: Annotated[object, Depends(_sigv4_scheme)],
) -> Caller:
    """The authenticated caller; 401 otherwise."""
    headers = decode_headers(request.scope["headers"])
    authorization = headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    try:
        if scheme.lower() == "bearer":
            token = credentials.strip()
            if not token or len(token) > _MAX_TOKEN_LENGTH:
                raise not_authenticated("The bearer token is not valid.")
            principal = await ctx.identity.resolve_console_session(token)
            found = Caller(principal, "bearer", token)
        else:
            found = await _signed_caller(request, ctx, headers)
    except (ApiProblem, AndromedeError) as exc:
        problem = problem_for(exc)
        if problem is not None and problem.status == 401 and authorization:
            ctx.audit.record(
                request_id=ctx.request_id(request),
                tenant_id=None,
                principal=None,
                action="andromede:Authenticate",
                resource="*",
                outcome=Outcome.FAILURE,
                details={"error": problem.slug, "scheme": scheme.lower()[:16]},
            )
        raise
    request.scope[PRINCIPAL_SCOPE_KEY] = found.principal.arn
    return found


async def _signed_caller(request: Request, ctx: ApiContext, headers: dict[str, str]) -> Caller:
    body = await request.body()  # bounded by the outer app (max_api_body_size)
    try:
        signed_headers = headers_with_body_hash(headers, body)
    except BodyHashMismatch as exc:
        raise not_authenticated("x-amz-content-sha256 is not the body's SHA-256.") from exc
    scope = request.scope
    raw_path, raw_query = raw_target(scope)
    # Services other than S3 encode the (already encoded) path once more in the canonical
    # request; the verifier encodes what it gets once, so it gets the path encoded once here.
    canonical_path = quote(raw_path.encode("utf-8", "surrogateescape"), safe="/~")
    authenticated = await ctx.authenticator.authenticate(
        request.method, canonical_path, raw_query, signed_headers
    )
    if authenticated.principal.is_anonymous or authenticated.signed is None:
        raise not_authenticated(
            "Authenticate with 'Authorization: Bearer <token>' (POST /api/v1/login) or a "
            "SigV4 signature for the service 'andromede'."
        )
    if not ctx.rate_limiter.allow(authenticated.signed.access_key_id):
        raise ApiProblem(
            "throttled",
            429,
            "Too many requests",
            "This access key sends requests faster than the configured rate.",
            headers={"Retry-After": "1"},
        )
    return Caller(authenticated.principal, "sigv4")


async def operator(who: Annotated[Caller, Depends(caller)]) -> Caller:
    """The caller, who must be a platform operator: 403 otherwise."""
    if not who.principal.is_operator:
        raise ApiProblem(
            "operators-only", 403, "Access denied", "Only platform operators may do this."
        )
    return who


async def operator_or_scraper(
    request: Request,
    ctx: Annotated[ApiContext, Depends(context)],
    _bearer: Annotated[object, Depends(_bearer_scheme)],
    _sigv4: Annotated[object, Depends(_sigv4_scheme)],
) -> Caller | None:
    """A platform operator, or (None) the operators' metrics scraper presenting the token of
    ``api_metrics_token_file`` (decision 0389): Prometheus sends a bearer token, not a SigV4
    signature. The token is compared in constant time and opens the metrics routes alone;
    any other bearer token is a console session's, as everywhere."""
    expected = ctx.metrics_token
    if expected is not None:
        headers = decode_headers(request.scope["headers"])
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            credentials.strip().encode(), expected.encode()
        ):
            request.scope[PRINCIPAL_SCOPE_KEY] = METRICS_SCRAPER
            return None
    return await operator(await caller(request, ctx, _bearer, _sigv4))
