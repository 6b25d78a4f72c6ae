"""S3 Object Lambda (decision 0384): its access points' SQL store, given to S3 Control's
calls, and the data path's API (``s3-object-lambda``), whose functions Lambda runs for the
caller."""

from __future__ import annotations

import asyncio
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
from andromede.s3objectlambda.exchange import exchange_folder
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
        return FunctionOutcome(ok=done.ok, error_type=done.error_type, payload=done.payload)

    return run


def object_lambda(
    apis: MutableMapping[str, ASGIApp],
    settings: Settings,
    db: Database,
    identity: IdentityService,
    audit: AuditService,
    rate_limiter: RateLimiter | None,
    invocations: ServiceInvocations,
    background: list[asyncio.Task[None]] | None = None,
) -> None:
    """Object Lambda access points in S3 Control (found in ``apis``) and their data path
    under ``s3-object-lambda``; the function reads the object through its sandbox's API
    relay (decision 0303), which the presigned ``inputS3Url`` names. With ``background``,
    this worker's end of the answers' exchange between the ``serve``'s workers runs there
    (the folder they share: under the system's temporary folder, named after the data
    directory)."""
    store = SqlObjectLambdaStore(db)
    control = apis.get(S3ControlApp.name)
    if isinstance(control, S3ControlApp):
        control.object_lambda.store = store
    app = ObjectLambdaApp(
        store,
        SqlAccessPointStore(db),
        identity,
        audit,
        settings,
        _runs(invocations),
        sandbox_endpoint=SANDBOX_ENDPOINT,
        exchange_folder=None if background is None else exchange_folder(settings.data_dir),
        rate_limiter=rate_limiter,
    )
    apis[ObjectLambdaApp.name] = app
    if background is not None:
        background.append(asyncio.create_task(app.serve_exchange(), name="object-lambda"))
