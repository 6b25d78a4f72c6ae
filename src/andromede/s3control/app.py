"""The S3 Control ASGI application on the shared endpoint (decision 0152).

Per request: request id → operation (method + path under ``/v20180820/``) → bounded body →
SigV4 (service ``s3``) → the ``x-amz-account-id`` header must name the caller's own account
→ the caller's identity policies must allow the operation's ``s3:`` action (S3 Control's
account-level actions have no resource policy) → handler → answer, then an audit event and
an access-log line. Errors leave in S3 Control's XML shape with ``x-amz-request-id``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import parse_qs

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.awswire.signed import SignedRequests
from andromede.errors import AndromedeError
from andromede.http.access import log_access
from andromede.http.asgi import (
    BodyTimeout,
    BodyTooLarge,
    ClientGone,
    decode_headers,
    new_request_id,
    read_small_body,
)
from andromede.http.ratelimit import RateLimiter
from andromede.http.response import Receive, Response, Scope, Send, send_response
from andromede.iam.model import ANONYMOUS, Principal
from andromede.iam.policy.context import ContextValue
from andromede.iam.policy_context import policies_allow, principal_context, principal_keys
from andromede.iam.service import IdentityService
from andromede.s3control import job_tags
from andromede.s3control import jobs as batch
from andromede.s3control import public_access_block as pab
from andromede.s3control.access_points import AccessPointCalls, VpcOwned
from andromede.s3control.errors import S3ControlError, error_response, to_wire_error
from andromede.s3control.job_conditions import job_condition_keys
from andromede.s3control.multi_region_access_points import MultiRegionCalls
from andromede.s3control.object_lambda import ObjectLambdaCalls
from andromede.s3control.operations import (
    MULTI_REGION_OPERATIONS,
    PATH_PREFIX,
    SCOPE_OPERATIONS,
    STORAGE_LENS_OPERATIONS,
    TAG_OPERATIONS,
    S3ControlOperation,
    access_point_of,
    job_of,
    multi_region_of,
    object_lambda_point_of,
    route,
    storage_lens_of,
)
from andromede.s3control.resource_tags import ResourceTagCalls, resource_of, tagged_resource
from andromede.s3control.storage_lens import StorageLensCalls, lens_condition_keys
from andromede.s3control.tag_conditions import tag_condition_keys
from andromede.settings import Settings
from andromede.storage.access_points import AccessPointStore, MemoryAccessPointStore
from andromede.storage.batch_jobs import BatchJobStore
from andromede.storage.multi_region_access_points import (
    MemoryMultiRegionAccessPointStore,
    MultiRegionAccessPointStore,
)
from andromede.storage.object_lambda_points import MemoryObjectLambdaStore, ObjectLambdaStore
from andromede.storage.service import ObjectService
from andromede.storage.storage_lens import MemoryStorageLensStore, StorageLensStore

__all__ = ["ACCOUNT_HEADER", "S3ControlApp", "is_s3_control"]

log = logging.getLogger(__name__)

ACCOUNT_HEADER = "x-amz-account-id"
_O = S3ControlOperation


def is_s3_control(scope: Scope) -> bool:
    """Whether a request (signed for ``s3``, or unsigned) is S3 Control's: its path under
    ``/v20180820/`` and the account header every S3 Control call carries, which no S3 call
    does — so a bucket named ``v20180820`` stays reachable."""
    path: str = scope.get("path", "")
    if not path.startswith(PATH_PREFIX):
        return False
    name = ACCOUNT_HEADER.encode()
    return any(key.lower() == name for key, _ in scope.get("headers", ()))


class S3ControlApp:
    """S3 Control's REST-XML protocol over the object service's account settings."""

    name = "s3control"

    def __init__(
        self,
        objects: ObjectService,
        identity: IdentityService,
        audit: AuditService,
        settings: Settings,
        jobs: BatchJobStore,
        rate_limiter: RateLimiter | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        access_points: AccessPointStore | None = None,
        vpc_owned: VpcOwned | None = None,
        multi_region: MultiRegionAccessPointStore | None = None,
        object_lambda: ObjectLambdaStore | None = None,
        storage_lens: StorageLensStore | None = None,
    ) -> None:
        self._objects = objects
        self._multi_region = MultiRegionCalls(
            multi_region if multi_region is not None else MemoryMultiRegionAccessPointStore(),
            objects,
            region=settings.region,
            quota=settings.max_multi_region_access_points_per_account,
            page_max=settings.access_point_list_max,
        )
        self._access_point_store = (
            access_points if access_points is not None else MemoryAccessPointStore()
        )
        self._tags = ResourceTagCalls(self._access_point_store, objects)
        self._access_points = AccessPointCalls(
            self._access_point_store,
            objects,
            region=settings.region,
            endpoint=settings.s3_domain,
            quota=settings.max_access_points_per_account,
            page_max=settings.access_point_list_max,
            vpc_owned=vpc_owned,
        )
        # Object Lambda access points (decision 0384); the wiring gives their SQL store.
        self.object_lambda = ObjectLambdaCalls(
            object_lambda if object_lambda is not None else MemoryObjectLambdaStore(),
            self._access_point_store,
            region=settings.region,
            quota=settings.max_object_lambda_access_points_per_account,
            page_max=settings.access_point_list_max,
        )
        # Storage Lens configurations (decision 0415); the wiring gives their SQL store.
        self.storage_lens = StorageLensCalls(
            storage_lens if storage_lens is not None else MemoryStorageLensStore(),
            region=settings.region,
            quota=settings.s3_max_storage_lens_configurations,
            page_max=settings.access_point_list_max,
            clock=clock,
        )
        self._jobs = jobs
        self._clock = clock
        self._identity = identity
        self._audit = audit
        self._settings = settings
        self._signed = SignedRequests(
            identity,
            audit,
            settings,
            rate_limiter,
            service="s3",
            also_accepted_regions=settings.served_region_names,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        request_id = new_request_id()
        headers = decode_headers(scope["headers"])
        method: str = scope["method"]
        operation = route(method, scope["path"])
        account = headers.get(ACCOUNT_HEADER, "").strip()
        principal: Principal = ANONYMOUS
        resource = self._resource(account, scope)
        try:
            body = await self._read_body(receive)
            principal = await self._authenticate(scope, headers, body, request_id, operation)
            if account != principal.tenant_id:
                # Another account's settings, or an operator's or anonymous call: refused as
                # AWS refuses an account id that is not the caller's.
                raise S3ControlError("AccessDenied")
            if operation in MULTI_REGION_OPERATIONS:
                # Named in the path or in the document; by its alias once it exists.
                resource = await self._multi_region.resource(
                    account, multi_region_of(scope["path"]), body
                )
            query = scope.get("query_string", b"").decode("latin-1")
            extra = await job_condition_keys(
                operation, self._jobs, account, job_of(scope["path"]), body, query
            )
            extra.update(
                await tag_condition_keys(
                    operation,
                    account=account,
                    region=self._settings.region,
                    access_point=access_point_of(scope["path"]),
                    resource_arn=resource_of(scope["path"]),
                    body=body,
                    query=query,
                    access_points=self._access_point_store,
                    tag_calls=self._tags,
                )
            )
            if operation in STORAGE_LENS_OPERATIONS:
                extra.update(
                    await lens_condition_keys(
                        operation.wire_name,
                        self.storage_lens,
                        account,
                        storage_lens_of(scope["path"]),
                        body,
                    )
                )
            await self._authorise(principal, operation, scope, resource, extra)
            response = await self._dispatch(operation, account, body, scope)
        except ClientGone:
            self._finish(
                operation, principal, account, resource, request_id, 499, "ClientGone", started
            )
            return
        except Exception as exc:
            wire = to_wire_error(exc)
            if wire is None:
                log.error("request %s: unexpected error", request_id, exc_info=exc)
                wire = S3ControlError("InternalError")
            response = error_response(wire, request_id)
            if wire.code == "EntityTooLarge":
                # The rest of the body was left unread: it must not become the next request.
                response.headers.append(("Connection", "close"))
            self._finish(
                operation, principal, account, resource, request_id, wire.status, wire.code, started
            )
        else:
            self._finish(
                operation, principal, account, resource, request_id, response.status, None, started
            )
        await send_response(send, response, [(b"x-amz-request-id", request_id.encode())])

    async def _read_body(self, receive: Receive) -> bytes:
        try:
            return await read_small_body(
                receive,
                limit=self._settings.max_api_body_size,
                timeout=self._settings.body_read_timeout,
            )
        except BodyTooLarge as exc:
            raise S3ControlError("EntityTooLarge") from exc
        except BodyTimeout as exc:
            raise S3ControlError("InvalidRequest", "The request body did not arrive") from exc

    async def _authenticate(
        self,
        scope: Scope,
        headers: dict[str, str],
        body: bytes,
        request_id: str,
        operation: S3ControlOperation,
    ) -> Principal:
        authenticated = await self._signed.authenticate(
            scope,
            headers,
            body,
            request_id=request_id,
            action=operation.action,
            hash_mismatch=lambda: S3ControlError("SignatureDoesNotMatch"),
            error_code=_error_code,
        )
        if not self._signed.allow(authenticated):
            raise S3ControlError("SlowDown")
        return authenticated.principal

    def _resource(self, account: str, scope: Scope) -> str:
        """The resource a call acts on: the access point its path names (its ARN), the
        resource a tagging call names (its ARN), else the account (``*`` in policies: the
        account-level actions name no resource)."""
        tagged = resource_of(scope["path"])
        if tagged:
            return tagged
        name = access_point_of(scope["path"])
        if name:
            return self._access_points.arn(account, name)
        lens = storage_lens_of(scope["path"])
        if lens:
            return self.storage_lens.arn(account, lens)
        lambda_point = object_lambda_point_of(scope["path"])
        return self.object_lambda.arn(account, lambda_point) if lambda_point else "*"

    async def _authorise(
        self,
        principal: Principal,
        operation: S3ControlOperation,
        scope: Scope,
        resource: str,
        extra: dict[str, ContextValue],
    ) -> None:
        """The caller's identity policies decide (the account root acts unopposed); S3
        Control's account-level actions name no resource (``*``), as AWS's reference has it;
        an access point's calls name the access point. ``extra``: Batch Operations' condition
        keys (``job_conditions``)."""
        policies = await self._identity.policies_for(principal)
        client = scope.get("client")
        context = principal_context(
            principal,
            action=operation.action,
            resource=resource,
            source_ip=client[0] if client else None,
            secure=scope.get("scheme") == "https",
            region=self._settings.region,
            keys={**principal_keys(policies), **extra},
        )
        if not policies_allow(context, policies):
            raise S3ControlError("AccessDenied")

    async def _dispatch(
        self, operation: S3ControlOperation, account: str, body: bytes, scope: Scope
    ) -> Response:
        query = scope.get("query_string", b"").decode("latin-1")
        job_id = job_of(scope["path"])
        region = self._settings.region
        if operation is _O.CreateJob:
            return await batch.create_job(self._jobs, account, body, self._clock())
        if operation is _O.DescribeJob:
            return await batch.describe_job(self._jobs, account, region, job_id)
        if operation is _O.ListJobs:
            return await batch.list_jobs(self._jobs, account, query)
        if operation is _O.UpdateJobPriority:
            return await batch.update_priority(self._jobs, account, job_id, query)
        if operation is _O.UpdateJobStatus:
            return await batch.update_status(self._jobs, account, job_id, query, self._clock())
        if operation is _O.PutJobTagging:
            return await job_tags.put_tags(self._jobs, account, job_id, body)
        if operation is _O.GetJobTagging:
            return await job_tags.get_tags(self._jobs, account, job_id)
        if operation is _O.DeleteJobTagging:
            return await job_tags.delete_tags(self._jobs, account, job_id)
        if operation in MULTI_REGION_OPERATIONS:
            return await self._dispatch_multi_region(operation, account, body, scope)
        if operation in TAG_OPERATIONS:
            resource = tagged_resource(resource_of(scope["path"]), account, region)
            if operation is _O.TagResource:
                return await self._tags.tag(account, resource, body)
            if operation is _O.UntagResource:
                return await self._tags.untag(account, resource, query)
            return await self._tags.list(account, resource)
        name = access_point_of(scope["path"])
        points = self._access_points
        if operation is _O.CreateAccessPoint:
            return await points.create(account, name, body, self._clock())
        if operation is _O.GetAccessPoint:
            return await points.get(account, name)
        if operation is _O.DeleteAccessPoint:
            return await points.delete(account, name)
        if operation is _O.ListAccessPoints:
            return await points.list(account, query)
        if operation is _O.PutAccessPointPolicy:
            return await points.put_policy(account, name, body)
        if operation is _O.GetAccessPointPolicy:
            return await points.get_policy(account, name)
        if operation is _O.DeleteAccessPointPolicy:
            return await points.delete_policy(account, name)
        if operation is _O.GetAccessPointPolicyStatus:
            return await points.policy_status(account, name)
        if operation in SCOPE_OPERATIONS:
            return await points.scope(account, name)
        if operation in STORAGE_LENS_OPERATIONS:
            return await self._storage_lens_call(operation, account, body, scope)
        if operation.wire_name.endswith("ForObjectLambda"):
            return await self._object_lambda_call(operation, account, body, scope)
        if operation is _O.GetPublicAccessBlock:
            return await pab.get_block(self._objects, account)
        if operation is _O.PutPublicAccessBlock:
            return await pab.put_block(self._objects, account, body)
        if operation is _O.DeletePublicAccessBlock:
            return await pab.delete_block(self._objects, account)
        raise S3ControlError("NotImplemented")

    async def _dispatch_multi_region(
        self, operation: S3ControlOperation, account: str, body: bytes, scope: Scope
    ) -> Response:
        calls = self._multi_region
        named = multi_region_of(scope["path"])
        now = self._clock()
        if operation is _O.CreateMultiRegionAccessPoint:
            return await calls.create(account, body, now)
        if operation is _O.DeleteMultiRegionAccessPoint:
            return await calls.delete(account, body, now)
        if operation is _O.PutMultiRegionAccessPointPolicy:
            return await calls.put_policy(account, body, now)
        if operation is _O.DescribeMultiRegionAccessPointOperation:
            return await calls.describe(account, named)
        if operation is _O.GetMultiRegionAccessPoint:
            return await calls.get(account, named)
        if operation is _O.ListMultiRegionAccessPoints:
            query = scope.get("query_string", b"").decode("latin-1")
            params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
            return await calls.list(account, params)
        if operation is _O.GetMultiRegionAccessPointPolicy:
            return await calls.get_policy(account, named)
        if operation is _O.GetMultiRegionAccessPointPolicyStatus:
            return await calls.policy_status(account, named)
        if operation is _O.GetMultiRegionAccessPointRoutes:
            return await calls.routes(account, named)
        return await calls.submit_routes(account, named, body)

    async def _object_lambda_call(
        self, operation: S3ControlOperation, account: str, body: bytes, scope: Scope
    ) -> Response:
        name = object_lambda_point_of(scope["path"])
        calls = self.object_lambda
        if operation is _O.CreateAccessPointForObjectLambda:
            return await calls.create(account, name, body, self._clock())
        if operation is _O.GetAccessPointForObjectLambda:
            return await calls.get(account, name)
        if operation is _O.DeleteAccessPointForObjectLambda:
            return await calls.delete(account, name)
        if operation is _O.ListAccessPointsForObjectLambda:
            return await calls.list(account, scope.get("query_string", b"").decode("latin-1"))
        if operation is _O.GetAccessPointConfigurationForObjectLambda:
            return await calls.get_configuration(account, name)
        if operation is _O.PutAccessPointConfigurationForObjectLambda:
            return await calls.put_configuration(account, name, body)
        if operation is _O.PutAccessPointPolicyForObjectLambda:
            return await calls.put_policy(account, name, body)
        if operation is _O.GetAccessPointPolicyForObjectLambda:
            return await calls.get_policy(account, name)
        if operation is _O.DeleteAccessPointPolicyForObjectLambda:
            return await calls.delete_policy(account, name)
        return await calls.policy_status(account, name)

    async def _storage_lens_call(
        self, operation: S3ControlOperation, account: str, body: bytes, scope: Scope
    ) -> Response:
        config_id = storage_lens_of(scope["path"])
        calls = self.storage_lens
        if operation is _O.PutStorageLensConfiguration:
            return await calls.put(account, config_id, body)
        if operation is _O.GetStorageLensConfiguration:
            return await calls.get(account, config_id)
        if operation is _O.DeleteStorageLensConfiguration:
            return await calls.delete(account, config_id)
        if operation is _O.ListStorageLensConfigurations:
            return await calls.list(account, scope.get("query_string", b"").decode("latin-1"))
        if operation is _O.PutStorageLensConfigurationTagging:
            return await calls.put_tags(account, config_id, body)
        if operation is _O.GetStorageLensConfigurationTagging:
            return await calls.get_tags(account, config_id)
        return await calls.delete_tags(account, config_id)

    def _finish(
        self,
        operation: S3ControlOperation,
        principal: Principal,
        account: str,
        resource: str,
        request_id: str,
        status: int,
        error: str | None,
        started: float,
    ) -> None:
        if not principal.is_anonymous:
            details = {"operation": operation.wire_name, "status": str(status)}
            details.update(principal.audit_details)
            if error is not None:
                details["error"] = error
            self._audit.record(
                request_id=request_id,
                tenant_id=principal.tenant_id,
                principal=principal.arn,
                action=operation.action,
                resource=resource
                if resource != "*"
                else f"arn:aws:s3:{self._settings.region}:{account or '-'}:account",
                outcome=Outcome.SUCCESS if status < 400 else Outcome.FAILURE,
                details=details,
            )
        if self._settings.access_log:
            level = logging.WARNING if status >= 500 else logging.INFO
            log_access(
                level,
                "%s %s s3control:%s %d %.1fms",
                request_id,
                principal.arn,
                operation.wire_name,
                status,
                (time.perf_counter() - started) * 1000,
            )


def _error_code(exc: AndromedeError) -> str | None:
    wire = to_wire_error(exc)
    return None if wire is None else wire.code
