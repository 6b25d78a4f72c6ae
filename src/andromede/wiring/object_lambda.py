"""S3 Object Lambda (decision 0384): its access points' SQL store, given to S3 Control's
calls, and the data path's API (``s3-object-lambda``), whose functions Lambda runs for the
caller."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping

from andromede.audit.service import AuditService
from andromede.db.database import Database
from andromede.functions.api_relay import SANDBOX_ENDPOINT
from andromede.functions.errors import ResourceNotFound
from andromede.functions.service_invoke import ServiceInvocations
from andromede.http.ratelimit import RateLimiter
from andromede.http.response import Receive, Scope, Send
from andromede.iam.service import IdentityService
from andromede.s3control.app import S3ControlApp
from andromede.s3objectlambda.app import (
    FunctionMissing,
    FunctionOutcome,
    FunctionRuns,
    ObjectLambdaApp,
)
from andromede.settings import Settings
from andromede.storage.access_points import SqlAccessPointStore
from andromede.storage.object_lambda_points import SqlObjectLambdaStore

__all__ = ["object_lambda"]

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _runs(invocations: ServiceInvocations) -> FunctionRuns:
    async def run(function_arn: str, event: bytes) -> FunctionOutcome:
        try:
            done = await invocations.run_for_caller(function_arn, event)
        except ResourceNotFound as exc:
            raise FunctionMissing(function_arn) from exc
        return FunctionOutcome(ok=done.ok, error_type=done.error_type)

    return run


def object_lambda(
    apis: MutableMapping[str, ASGIApp],
    settings: Settings,
    db: Database,
    identity: IdentityService,
    audit: AuditService,
    rate_limiter: RateLimiter | None,
    invocations: ServiceInvocations,
) -> None:
    """Object Lambda access points in S3 Control (found in ``apis``) and their data path
    under ``s3-object-lambda``; the function reads the object through its sandbox's API
    relay (decision 0303), which the presigned ``inputS3Url`` names."""
    store = SqlObjectLambdaStore(db)
    control = apis.get(S3ControlApp.name)
    if isinstance(control, S3ControlApp):
        control.object_lambda.store = store
    apis[ObjectLambdaApp.name] = ObjectLambdaApp(
        store,
        SqlAccessPointStore(db),
        identity,
        audit,
        settings,
        _runs(invocations),
        sandbox_endpoint=SANDBOX_ENDPOINT,
        rate_limiter=rate_limiter,
    )
