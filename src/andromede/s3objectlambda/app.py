"""The S3 Object Lambda ASGI application: requests signed for ``s3-object-lambda`` on the
shared endpoint (decision 0384).

GetObject: request id → the Object Lambda access point its Host names → SigV4 → the
caller's policies and the access point's must allow ``s3-object-lambda:GetObject`` on the
access point, the caller's ``lambda:InvokeFunction`` on the function → the function runs
with AWS's event, its ``inputS3Url`` a URL presigned with the caller's own credentials for
the object through the supporting access point (so that access point's policy and the
bucket's judge the read, as on AWS), reachable from the sandbox through its API relay
(decision 0303) → the GET waits, at most ``s3_object_lambda_response_timeout``, for the
function's WriteGetObjectResponse, whose status, headers and body it streams to the caller.
HeadObject, ListObjects and ListObjectsV2 that the configuration transforms run the function
with their own context, and its return value is the answer (``returned.py``).

WriteGetObjectResponse: SigV4 → the caller's policies must allow
``s3-object-lambda:WriteGetObjectResponse`` → ``answers.py``: the route and token name a
waiting GET (``rendezvous.py``; another worker's: passed on to it, ``exchange.py``), its body
passes through, its hash checked as it goes when it was signed, or its aws-chunked encoding
decoded and each chunk's signature checked (decision 0399), and it is counted for the GET's
access point (decision 0411).

Errors leave in S3's XML shape with the request id; each request is audited and logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Protocol
from urllib.parse import parse_qsl, unquote_to_bytes

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.errors import AndromedeError
from andromede.http.access import log_access
from andromede.http.asgi import decode_headers, new_request_id, raw_target
from andromede.http.ratelimit import RateLimiter
from andromede.http.response import Message, Receive, Response, Scope, Send, send_response
from andromede.http.sigv4 import (
    credential_service,
)
from andromede.iam.authn import Authenticated, Authenticator
from andromede.iam.model import ANONYMOUS, Principal
from andromede.iam.policy import PolicyKind, load_policy
from andromede.iam.policy_context import policies_allow, principal_context, principal_keys
from andromede.iam.service import IdentityService
from andromede.s3objectlambda.answers import FunctionAnswers
from andromede.s3objectlambda.errors import (
    FUNCTION_ERROR_CODE,
    ObjectLambdaError,
    error_response,
    to_wire_error,
)
from andromede.s3objectlambda.event import (
    ForwardedAnswer,
    HostParser,
    object_lambda_event,
    presigned_get,
)
from andromede.s3objectlambda.metrics import (
    AnswerSource,
    MeasuredRequest,
    MetricsSink,
    record_answer,
    record_request,
)
from andromede.s3objectlambda.passthrough import (
    ANSWERED_WITHOUT_ACTION,
    OBJECT_LAMBDA_ACTIONS,
    SupportingS3,
    forwarded_scope,
    object_lambda_action,
)
from andromede.s3objectlambda.rendezvous import Pending
from andromede.s3objectlambda.returned import CONTEXTS, OPERATION_ACTIONS, returned_response
from andromede.settings import Settings
from andromede.storage.access_points import AccessPointStore
from andromede.storage.object_lambda_points import ObjectLambdaAccessPoint, ObjectLambdaStore

__all__ = [
    "FunctionMissing",
    "FunctionOutcome",
    "FunctionPolicies",
    "FunctionRuns",
    "ObjectLambdaApp",
]

log = logging.getLogger(__name__)

SERVICE: Final = "s3-object-lambda"
_WRITE_PATH: Final = "/WriteGetObjectResponse"
_GET_ACTION: Final = "s3-object-lambda:GetObject"
_WRITE_ACTION: Final = "s3-object-lambda:WriteGetObjectResponse"
_INVOKE_ACTION: Final = "lambda:InvokeFunction"
_HEX_HASH_LENGTH: Final = 64


class FunctionMissing(AndromedeError):
    """The configuration's function does not exist (any more)."""


@dataclass(frozen=True, slots=True)
class FunctionOutcome:
    ok: bool
    error_type: str | None = None  # the handler's, or the runtime's (a timeout: …Timedout)
    payload: bytes = b""  # what the handler returned (JSON)


class FunctionRuns(Protocol):
    async def __call__(self, function_arn: str, event: bytes) -> FunctionOutcome:
        """Run the function ``function_arn`` names with ``event`` now (RequestResponse);
        FunctionMissing when there is none."""
        ...


class FunctionPolicies(Protocol):
    async def __call__(self, function_arn: str) -> str | None:
        """The resource-based policy of the function ``function_arn`` names (of its
        qualifier, as AddPermission wrote it; None: none); FunctionMissing when there is
        no such function."""
        ...


class ObjectLambdaApp:
    name = SERVICE

    def __init__(
        self,
        points: ObjectLambdaStore,
        access_points: AccessPointStore,
        identity: IdentityService,
        audit: AuditService,
        settings: Settings,
        functions: FunctionRuns,
        *,
        sandbox_endpoint: str,
        exchange_folder: Path | None = None,
        supporting_s3: SupportingS3 | None = None,
        metrics: MetricsSink | None = None,
        function_policies: FunctionPolicies | None = None,
        rate_limiter: RateLimiter | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._points = points
        self._access_points = access_points
        self._identity = identity
        self._audit = audit
        self._settings = settings
        self._functions = functions
        self._function_policies = function_policies
        self._sandbox_endpoint = sandbox_endpoint
        self._clock = clock
        self._rate_limiter = rate_limiter or RateLimiter(settings.rate_limit_per_key)
        self._auth = Authenticator.for_settings(identity, settings, service=SERVICE)
        # An alias named as a bucket comes from the S3 API, signed for s3 (decision 0399).
        self._s3_auth = Authenticator.for_settings(identity, settings, service="s3")
        self._s3 = supporting_s3
        self._metrics = metrics
        self._hosts = HostParser(settings.s3_domain, settings.s3_access_point_domain,
            settings.region)  # fmt: skip
        self._answers = FunctionAnswers(self._count_answer,
            body_timeout=settings.body_read_timeout, exchange_folder=exchange_folder)  # fmt: skip
        self.rendezvous = self._answers.rendezvous

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        request_id = new_request_id()
        method: str = scope["method"]
        headers = decode_headers(scope["headers"])
        raw_path, raw_query = raw_target(scope)
        writing = method == "POST" and raw_path == _WRITE_PATH
        action = _WRITE_ACTION if writing else _GET_ACTION
        principal: Principal = ANONYMOUS
        resource = "*"
        run: asyncio.Task[FunctionOutcome] | None = None
        pending: Pending | None = None
        relay = _Relay(send)
        uploaded = _Received(receive)
        status = 500
        measured: tuple[ObjectLambdaAccessPoint, str, str] | None = None
        refused_here = writing  # an answer refused before its body is read: counted here
        try:
            try:
                authenticated = await self._authenticate(
                    method, raw_path, raw_query, headers, request_id, action
                )
                principal = authenticated.principal
                if writing:
                    if not await self._allowed(principal, _WRITE_ACTION, "*", scope):
                        raise ObjectLambdaError("AccessDenied")
                    refused_here = False  # the answers count what follows
                    await self._answers.take(headers, authenticated.signing, receive)
                    response = Response(status=200)
                else:
                    point, rest = await self._addressed(headers.get("host", ""), raw_path)
                    resource = point.arn(self._settings.region)
                    supporting = await self._supporting_alias(point)
                    query = dict(parse_qsl(raw_query, keep_blank_values=True))
                    operation = self._operation(method, supporting, rest, query, headers)
                    action = OBJECT_LAMBDA_ACTIONS.get(operation, action)
                    transformation = point.configuration.transformation_for(operation)
                    measured = (point, operation, point.configuration.supporting_access_point
                        if transformation is None else transformation.function_arn)  # fmt: skip
                    if transformation is None:
                        # Not transformed: the supporting access point answers (0399).
                        await self._pass_through(point, supporting, operation, rest, query,
                            authenticated, scope, uploaded, relay)  # fmt: skip
                        status = relay.status
                        return
                    pending = self.rendezvous.open(
                        AnswerSource(point.tenant_id, point.name, transformation.function_arn)
                        if point.configuration.cloudwatch_metrics_enabled
                        else None
                    )
                    response, run = await self._get(
                        point, supporting, operation, _key(rest), authenticated, headers,
                        raw_path, raw_query, scope, request_id, pending,
                    )  # fmt: skip
            except Exception as exc:
                if relay.started:
                    raise  # the S3 API's answer has begun: only cutting it is left
                wire = to_wire_error(exc)
                if wire is None:
                    log.error("request %s: unexpected error", request_id, exc_info=exc)
                    wire = ObjectLambdaError("InternalError")
                response = error_response(wire, request_id)
            response.head = method == "HEAD"  # an error's document is not a HEAD's answer
            status = response.status
            await send_response(relay, response, [(b"x-amz-request-id", request_id.encode())])
            if refused_here:
                await self._answers.refused(headers.get("x-amz-request-route", ""), status)
        finally:
            if pending is not None:
                self.rendezvous.close(pending)
            if run is not None:
                await _finish_run(run, self._settings.s3_object_lambda_response_timeout)
            self._finish(principal, action, resource, request_id, status, started)
            if measured is not None and self._metrics is not None:
                self._measure(self._metrics, measured, method, status, relay, uploaded, started)

    def _measure(
        self,
        sink: MetricsSink,
        measured: tuple[ObjectLambdaAccessPoint, str, str],
        method: str,
        status: int,
        relay: _Relay,
        uploaded: _Received,
        started: float,
    ) -> None:
        """AWS/S3ObjectLambda's metrics of this request (decisions 0399, 0411), when
        enabled."""
        point, operation, source = measured
        if not point.configuration.cloudwatch_metrics_enabled:
            return
        ended = time.perf_counter()
        record_request(sink, MeasuredRequest(
            tenant_id=point.tenant_id, point_name=point.name, data_source=source, method=method,
            operation=operation, status=status, invoked=source.startswith("arn:aws:lambda:"),
            bytes_downloaded=relay.body_bytes, bytes_uploaded=uploaded.body_bytes,
            first_byte_ms=((relay.started_at or ended) - started) * 1000,
            total_ms=(ended - started) * 1000,
        ))  # fmt: skip

    def _count_answer(self, source: AnswerSource, status: int) -> None:
        """A function's WriteGetObjectResponse for ``source``'s GET (decision 0411)."""
        if self._metrics is not None:
            record_answer(self._metrics, source, status)

    async def _authenticate(
        self,
        method: str,
        raw_path: str,
        raw_query: str,
        headers: dict[str, str],
        request_id: str,
        action: str,
    ) -> Authenticated:
        try:
            signed_for = credential_service(raw_query.encode(), _raw(headers))
            auth = self._s3_auth if signed_for == "s3" else self._auth
            authenticated = await auth.authenticate(method, raw_path, raw_query, headers)
        except AndromedeError as exc:
            wire = to_wire_error(exc)
            self._audit.authentication_failed(
                request_id=request_id, action=action, error=wire.code if wire else "AccessDenied"
            )
            raise
        if authenticated.principal.is_anonymous:
            # Object Lambda serves signed requests only: there is no anonymous access.
            raise ObjectLambdaError("AccessDenied")
        signed = authenticated.signed
        if signed is not None and not self._rate_limiter.allow(signed.access_key_id):
            raise ObjectLambdaError("SlowDown")
        return authenticated

    async def _addressed(self, host: str, raw_path: str) -> tuple[ObjectLambdaAccessPoint, str]:
        """The Object Lambda access point a request names — by its ARN's host, or its alias
        as the bucket (decision 0399) — and the raw path after it."""
        named = self._hosts.point(host)
        if named is not None:
            point = await self._points.get(named[1], named[0])
            if point is None:
                raise ObjectLambdaError("NoSuchAccessPoint")
            return point, raw_path
        aliased = self._hosts.alias(host, raw_path)
        if aliased is None:
            raise ObjectLambdaError(
                "InvalidRequest", "The request names no Object Lambda access point"
            )
        point = await self._points.by_alias(aliased[0])
        if point is None:
            raise ObjectLambdaError("InvalidAccessPointAliasError")
        return point, aliased[1]

    async def _supporting_alias(self, point: ObjectLambdaAccessPoint) -> str:
        name = point.configuration.supporting_access_point.rsplit("/", 1)[-1]
        supporting = await self._access_points.get(point.tenant_id, name)
        if supporting is None:
            raise ObjectLambdaError("NoSuchAccessPoint", "The supporting access point is gone")
        return supporting.alias

    def _operation(
        self,
        method: str,
        supporting: str,
        rest: str,
        query: dict[str, str],
        headers: dict[str, str],
    ) -> str:
        """The S3 operation of the request, as S3's router names it."""
        if self._s3 is None:
            raise ObjectLambdaError("NotImplemented", "The S3 API is not reachable from here")
        operation = self._s3.operation(method, f"/{supporting}{rest}", query, headers)
        if operation is None:
            raise ObjectLambdaError("MethodNotAllowed")
        return operation

    async def _pass_through(
        self,
        point: ObjectLambdaAccessPoint,
        supporting: str,
        operation: str,
        rest: str,
        query: dict[str, str],
        authenticated: Authenticated,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        """An operation the configuration does not transform, answered by the S3 API through
        the supporting access point's alias as the caller (``passthrough.py``), once the
        Object Lambda access point's policy and the caller's allow its action."""
        action = object_lambda_action(operation, query)
        if self._s3 is None or (action is None and operation not in ANSWERED_WITHOUT_ACTION):
            raise ObjectLambdaError(
                "InvalidRequest", f"{operation} is not supported through an Object Lambda access "
                "point"
            )  # fmt: skip
        arn = point.arn(self._settings.region)
        if action is not None and not await self._allowed(
            authenticated.principal, action, arn, scope, point.policy, point.tenant_id
        ):
            raise ObjectLambdaError("AccessDenied")
        forwarded = forwarded_scope(scope, f"/{supporting}{rest}", self._settings.s3_domain,
            authenticated)  # fmt: skip
        await self._s3(forwarded, receive, send)

    async def _allowed(
        self,
        principal: Principal,
        action: str,
        resource: str,
        scope: Scope,
        resource_policy: str | None = None,
        resource_account: str | None = None,
    ) -> bool:
        policies = await self._identity.policies_for(principal)
        client = scope.get("client")
        context = principal_context(
            principal,
            action=action,
            resource=resource,
            source_ip=client[0] if client else None,
            secure=scope.get("scheme") == "https",
            region=self._settings.region,
            keys=principal_keys(policies),
        )
        document = (
            None
            if resource_policy is None
            else load_policy(resource_policy, kind=PolicyKind.RESOURCE)
        )
        return policies_allow(
            context, policies, resource_policy=document, resource_account=resource_account
        )

    async def _may_invoke(
        self, principal: Principal, point: ObjectLambdaAccessPoint, function: str, scope: Scope
    ) -> bool:
        """Whether the caller may invoke the access point's function (``lambda:
        InvokeFunction``). The function is of the access point's account (AWS: "must be in
        the same AWS account"); a caller of another account, whom the access point's policy
        let in, also needs the function's resource-based policy to grant it (decision 0411)."""
        if principal.tenant_id == point.tenant_id:
            return await self._allowed(principal, _INVOKE_ACTION, function, scope)
        if self._function_policies is None:
            return False
        try:
            policy = await self._function_policies(function)
        except FunctionMissing as exc:
            raise ObjectLambdaError("LambdaNotFound") from exc
        return policy is not None and await self._allowed(
            principal, _INVOKE_ACTION, function, scope, policy, point.tenant_id
        )

    async def _get(
        self,
        point: ObjectLambdaAccessPoint,
        supporting_alias: str,
        operation: str,
        key: str,
        authenticated: Authenticated,
        headers: dict[str, str],
        raw_path: str,
        raw_query: str,
        scope: Scope,
        request_id: str,
        pending: Pending,
    ) -> tuple[Response, asyncio.Task[FunctionOutcome] | None]:
        """An operation the configuration transforms (GetObject, HeadObject, the listings)."""
        principal = authenticated.principal
        region = self._settings.region
        arn = point.arn(region)
        query = dict(parse_qsl(raw_query, keep_blank_values=True))
        if not await self._allowed(principal, OPERATION_ACTIONS[operation], arn, scope,
                point.policy, point.tenant_id):  # fmt: skip
            raise ObjectLambdaError("AccessDenied")
        configuration = point.configuration
        if (
            key
            and "range" in headers
            and (f"{operation}-Range" not in configuration.allowed_features)
        ):
            raise ObjectLambdaError(
                "NotImplemented", "This Object Lambda access point does not serve Range requests"
            )
        if (
            key
            and "partNumber" in query
            and (f"{operation}-PartNumber" not in configuration.allowed_features)
        ):
            raise ObjectLambdaError(
                "NotImplemented", "This Object Lambda access point does not serve partNumber"
            )
        transformation = configuration.transformation_for(operation)
        if transformation is None:  # the caller checked; the configuration is one read
            raise ObjectLambdaError("InternalError")
        function = transformation.function_arn
        if not await self._may_invoke(principal, point, function, scope):
            raise ObjectLambdaError("LambdaPermissionError")
        if operation != "GetObject":
            # The function's return value is the answer (``returned.py``).
            params = {k: v for k, v in query.items() if not k.lower().startswith("x-amz-")}
            event = object_lambda_event(
                request_id=request_id,
                point_arn=arn,
                supporting_arn=configuration.supporting_access_point,
                payload=transformation.function_payload,
                input_url=await self._input_url(
                    authenticated,
                    headers,
                    supporting_alias,
                    key,
                    "HEAD" if key else "GET",
                    params if not key else None,
                ),
                output_route=None,
                output_token=None,
                user_url=_user_url(scope, headers, raw_path, raw_query),
                user_headers=headers,
                principal=principal,
                access_key_id=authenticated.signed.access_key_id if authenticated.signed else None,
                context=CONTEXTS[operation],
            )
            return returned_response(operation, await self._run_to_end(function, event)), None
        event = object_lambda_event(
            request_id=request_id,
            point_arn=arn,
            supporting_arn=configuration.supporting_access_point,
            payload=transformation.function_payload,
            input_url=await self._input_url(authenticated, headers, supporting_alias, key),
            output_route=pending.route,
            output_token=pending.token,
            user_url=_user_url(scope, headers, raw_path, raw_query),
            user_headers=headers,
            principal=principal,
            access_key_id=authenticated.signed.access_key_id if authenticated.signed else None,
        )
        run = asyncio.ensure_future(self._functions(function, event))
        try:
            answer = await self._answer(pending, run)
        except BaseException:
            run.cancel()
            with contextlib.suppress(BaseException):
                await run
            raise
        if answer.error_code is not None:
            # The function's error: S3's error document with its code (a code not of AWS's
            # form is the function's failure, InternalError). A status without a code is an
            # answer like any other, its body the function's.
            code = answer.error_code
            if not FUNCTION_ERROR_CODE.fullmatch(code):
                code = "InternalError"
            status = answer.status if answer.status >= 400 else 500
            raise_later = ObjectLambdaError(code, answer.error_message or "", status=status)
            return error_response(raise_later, request_id), run
        length = next((v for n, v in answer.headers if n.lower() == "content-length"), None)
        response = Response(
            status=answer.status,
            headers=[(n, v) for n, v in answer.headers if n.lower() != "content-length"],
            stream=pending.body.chunks(),
            content_length=int(length) if length is not None and length.isdigit() else None,
        )
        return response, run

    async def _answer(
        self, pending: Pending, run: asyncio.Task[FunctionOutcome]
    ) -> ForwardedAnswer:
        """The function's WriteGetObjectResponse, or the error its absence is."""
        timeout = self._settings.s3_object_lambda_response_timeout
        waiting: set[asyncio.Future[object]] = {pending.answer, run}  # type: ignore[arg-type]
        done, _ = await asyncio.wait(waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if pending.answer in done or pending.answer.done():
            return pending.answer.result()
        if run not in done:
            raise ObjectLambdaError("LambdaResponseNotReceived")
        try:
            outcome = run.result()
        except FunctionMissing as exc:
            raise ObjectLambdaError("LambdaNotFound") from exc
        if not outcome.ok:
            if (outcome.error_type or "").endswith("Timedout"):
                raise ObjectLambdaError("LambdaTimeout")
            raise ObjectLambdaError("LambdaRuntimeError")
        raise ObjectLambdaError("LambdaResponseNotReceived")

    async def _run_to_end(self, function: str, event: bytes) -> bytes:
        """The function's return value, or the error its failure is."""
        try:
            async with asyncio.timeout(self._settings.s3_object_lambda_response_timeout):
                outcome = await self._functions(function, event)
        except TimeoutError as exc:
            raise ObjectLambdaError("LambdaTimeout") from exc
        except FunctionMissing as exc:
            raise ObjectLambdaError("LambdaNotFound") from exc
        if not outcome.ok:
            if (outcome.error_type or "").endswith("Timedout"):
                raise ObjectLambdaError("LambdaTimeout")
            raise ObjectLambdaError("LambdaRuntimeError")
        return outcome.payload

    async def _input_url(
        self,
        authenticated: Authenticated,
        headers: dict[str, str],
        alias: str,
        key: str,
        method: str = "GET",
        params: dict[str, str] | None = None,
    ) -> str:
        """The object through the supporting access point (its alias, path-style), presigned
        with the caller's own key — the caller's permissions judge the function's read."""
        signed = authenticated.signed
        if signed is None:
            raise ObjectLambdaError("AccessDenied")
        token = headers.get("x-amz-security-token")
        secret, _ = await self._identity.resolve_access_key(signed.access_key_id, token)
        return presigned_get(
            endpoint=self._sandbox_endpoint,
            bucket=alias,
            key=key,
            method=method,
            params=params,
            access_key_id=signed.access_key_id,
            secret_key=secret,
            session_token=token,
            region=self._settings.region,
            now=self._clock(),
            expires=self._settings.s3_object_lambda_input_url_expiry,
        )

    async def serve_exchange(self) -> None:
        """This worker's end of the answers' exchange between workers (a background task;
        returns at once without one)."""
        await self._answers.serve()

    def _finish(
        self,
        principal: Principal,
        action: str,
        resource: str,
        request_id: str,
        status: int,
        started: float,
    ) -> None:
        if not principal.is_anonymous and principal.tenant_id:
            details = {"status": str(status), **principal.audit_details}
            self._audit.record(
                request_id=request_id,
                tenant_id=principal.tenant_id,
                principal=principal.arn,
                action=action,
                resource=resource,
                outcome=Outcome.SUCCESS if status < 400 else Outcome.FAILURE,
                details=details,
            )
        if self._settings.access_log:
            log_access(
                logging.WARNING if status >= 500 else logging.INFO,
                "%s %s %s %d %.1fms",
                request_id,
                principal.arn,
                action,
                status,
                (time.perf_counter() - started) * 1000,
            )


class _Received:
    """The receive of a request, counting its body's bytes (``BytesUploaded``)."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self.body_bytes = 0

    async def __call__(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self.body_bytes += len(message.get("body", b""))
        return message


class _Relay:
    """The send of a request: its status, whether and when it began, its body's bytes."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False
        self.started_at: float | None = None
        self.status = 500
        self.body_bytes = 0

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            self.started_at = time.perf_counter()
            self.status = int(message["status"])
        elif message["type"] == "http.response.body":
            self.body_bytes += len(message.get("body", b""))
        await self._send(message)


def _raw(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("utf-8", "surrogateescape")) for k, v in headers.items()]


async def _finish_run(task: asyncio.Task[FunctionOutcome], timeout: float) -> None:
    """The function's run, which may outlast its answer by a little (its return): awaited, so
    no task is left behind; cancelled past ``timeout``, or when this request is."""
    try:
        async with asyncio.timeout(timeout):
            await asyncio.shield(task)
    except TimeoutError:
        task.cancel()
    except Exception:  # noqa: S110 — the GET already had its answer; the run's end is moot
        pass
    except asyncio.CancelledError:
        task.cancel()
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise  # this request's own cancellation, not the run's


def _key(raw_path: str) -> str:
    try:
        path = unquote_to_bytes(raw_path).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ObjectLambdaError("InvalidRequest", "The key is not UTF-8") from exc
    return path[1:] if path.startswith("/") else path


def _user_url(scope: Scope, headers: dict[str, str], raw_path: str, raw_query: str) -> str:
    scheme = "https" if scope.get("scheme") == "https" else "http"
    url = f"{scheme}://{headers.get('host', '')}{raw_path}"
    return f"{url}?{raw_query}" if raw_query else url
