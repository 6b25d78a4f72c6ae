"""S3 Object Lambda (decision 0384): its access points' SQL store, given to S3 Control's
calls, and the data path's API (``s3-object-lambda``), whose functions Lambda runs for the
caller."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, MutableMapping

from andromede.audit.service import AuditService
from andromede.db.database import Database
from andromede.functions.api_relay import SANDBOX_ENDPOINT
from andromede.functions.errors import ResourceNotFound
from andromede.functions.service_invoke import ServiceInvocations
from andromede.http.ratelimit import RateLimiter
from andromede.http.response import Receive, Scope, Send
from andromede.iam.service import IdentityService
from andromede.s3.app import S3App
from andromede.s3.errors import S3Error
from andromede.s3.router import Router
from andromede.s3control.app import S3ControlApp
from andromede.s3objectlambda.app import (
    FunctionMissing,
    FunctionOutcome,
    FunctionPolicies,
    FunctionRuns,
    ObjectLambdaApp,
)
from andromede.s3objectlambda.exchange import exchange_folder
from andromede.s3objectlambda.metrics import MetricsSink
from andromede.s3objectlambda.passthrough import SupportingS3
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


def _policies(invocations: ServiceInvocations) -> FunctionPolicies:
    async def policy(function_arn: str) -> str | None:
        try:
            return await invocations.resource_policy(function_arn)
        except ResourceNotFound as exc:
            raise FunctionMissing(function_arn) from exc

    return policy


class _SupportingS3:
    """The S3 API as an Object Lambda access point's pass-through uses it (decision 0399):
    its router names the operation of a path-style request, its app answers it."""

    def __init__(self, s3: S3App, settings: Settings) -> None:
        self._s3 = s3
        self._router = Router(settings.s3_domain)

    def operation(
        self, method: str, raw_path: str, query: Mapping[str, str], headers: Mapping[str, str]
    ) -> str | None:
        try:
            return self._router.route(method, "", raw_path, query, headers).operation.name
        except S3Error:
            return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._s3(scope, receive, send)


def supporting_s3(s3: S3App, settings: Settings) -> SupportingS3:
    return _SupportingS3(s3, settings)


def object_lambda(
    apis: MutableMapping[str, ASGIApp],
    settings: Settings,
    db: Database,
    identity: IdentityService,
    audit: AuditService,
    rate_limiter: RateLimiter | None,
    invocations: ServiceInvocations,
    background: list[asyncio.Task[None]] | None = None,
    s3: S3App | None = None,
    metrics: MetricsSink | None = None,
) -> None:
    """Object Lambda access points in S3 Control (found in ``apis``) and their data path
    under ``s3-object-lambda``; the function reads the object through its sandbox's API
    relay (decision 0303), which the presigned ``inputS3Url`` names. With ``background``,
    this worker's end of the answers' exchange between the ``serve``'s workers runs there
    (the folder they share: under the system's temporary folder, named after the data
    directory). With ``s3``, the operations a configuration does not transform are answered by
    it, and a request naming an Object Lambda access point's alias as its bucket comes from it
    (decision 0399); with ``metrics``, the AWS/S3ObjectLambda metrics of the access points
    that enable them are recorded there (0399, 0411). A caller of another account reaches a
    function through its resource-based policy, which Lambda's store gives (0411)."""
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
        supporting_s3=None if s3 is None else supporting_s3(s3, settings),
        metrics=metrics,
        rate_limiter=rate_limiter,
        function_policies=_policies(invocations),
    )
    apis[ObjectLambdaApp.name] = app
    if s3 is not None:
        s3.object_lambda = app
    if background is not None:
        background.append(asyncio.create_task(app.serve_exchange(), name="object-lambda"))
