"""AWS Lambda's wiring (decision 0286): the functions service over the metadata database,
its code and environments sealed under the account's key ring (the queues' sealer), the
runtimes this host can run (the ``python3.x`` interpreters on its ``PATH``), a role checked
against the identity service (the account's, trusting ``lambda.amazonaws.com``), code read
from the account's buckets as the caller, and its REST-JSON app put into ``apis`` under
``lambda``, the SigV4 service its calls are signed for."""

from __future__ import annotations

import shutil
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Final

from andromede.audit.service import AuditService
from andromede.db.database import Database
from andromede.function_code_buckets import BucketCode
from andromede.functions.code import CodeLimits
from andromede.functions.service import (
    LAMBDA_PRINCIPAL,
    FunctionLimits,
    FunctionsService,
    RoleCheck,
)
from andromede.functions.store_sql import SqlFunctionStore
from andromede.http.ratelimit import RateLimiter
from andromede.http.response import Receive, Scope, Send
from andromede.iam.errors import IamError
from andromede.iam.service import IdentityService
from andromede.kms.service import KeyService
from andromede.lambdaapi.app import LambdaApp
from andromede.replication_grants import role_trusts
from andromede.s3.authorise import S3Authoriser
from andromede.settings import Settings
from andromede.storage.service import ObjectService
from andromede.wiring.queues import KeySealer

__all__ = ["function_limits", "host_runtimes", "lambda_api", "trusting_roles"]

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
# The Python runtimes AWS offers, newest first; a host serves those it has an interpreter of.
PYTHON_RUNTIMES: Final = ("python3.13", "python3.12", "python3.11", "python3.10", "python3.9")


def host_runtimes() -> tuple[str, ...]:
    """The ``python3.x`` runtimes whose interpreter this host has."""
    return tuple(r for r in PYTHON_RUNTIMES if shutil.which(r) is not None)


def function_limits(settings: Settings, runtimes: tuple[str, ...]) -> FunctionLimits:
    return FunctionLimits(
        runtimes=runtimes,
        code=CodeLimits(
            max_zip_bytes=settings.lambda_max_zip_bytes,
            max_unzipped_bytes=settings.lambda_max_unzipped_bytes,
        ),
        max_code_storage=settings.lambda_code_storage_bytes,
        max_environment_bytes=settings.lambda_max_environment_bytes,
        max_policy_bytes=settings.lambda_max_policy_bytes,
        concurrency_limit=settings.lambda_concurrency_limit,
    )


def trusting_roles(identity: IdentityService) -> RoleCheck:
    """Whether a role is the account's and trusts Lambda, as the identity service knows it."""

    async def trusted(tenant_id: str, role_arn: str) -> bool:
        try:
            role = await identity.get_role_by_arn(role_arn)
        except IamError:
            return False
        return role.tenant_id == tenant_id and role_trusts(
            role.assume_role_policy_document, LAMBDA_PRINCIPAL
        )

    return trusted


def lambda_api(
    apis: MutableMapping[str, ASGIApp],
    settings: Settings,
    db: Database,
    keys: KeyService,
    identity: IdentityService,
    audit: AuditService,
    rate_limiter: RateLimiter | None,
    objects: ObjectService | None,
) -> Callable[[str], Awaitable[int]]:
    """Lambda's app of ``serve`` put into ``apis``, and what closing a tenant deletes of it
    (its functions, versions and code)."""
    store = SqlFunctionStore(db)
    service = FunctionsService(
        store,
        settings.region,
        KeySealer(keys),
        trusting_roles(identity),
        function_limits(settings, host_runtimes()),
        None
        if objects is None
        else BucketCode(
            objects,
            S3Authoriser(identity.policies_for, settings.region),
            settings.lambda_max_zip_bytes,
        ),
    )
    apis[LambdaApp.name] = LambdaApp(service, identity, audit, settings, rate_limiter)
    return store.forget_tenant
