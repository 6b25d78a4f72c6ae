"""The S3 ASGI application: raw ASGI, no framework on the hot path.

Per request: request id → route (operation) → the addressed bucket and its region → authenticate
(SigV4 → principal) → authorise → handler → response, then one access-log line and, for mutating
operations and authentication failures, one audit event.

Regions (docs/decisions/0013-regions-and-residency.md): a bucket of a region this gateway does not
serve answers 301 PermanentRedirect with ``x-amz-bucket-region`` (and the region's endpoint when
one is declared), before authentication, as AWS does; a bucket-scoped request must be signed for
its bucket's region, else 400 AuthorizationHeaderMalformed names that region (SDKs retry with it).
GetBucketLocation, the way to learn a bucket's region, is answered for any bucket.

Every error leaves as S3's XML error with the request id; an unexpected exception is logged with
the request id and answered ``InternalError`` without detail.

This module owns the request's course (the S3 API, a bucket's website endpoint, a browser's
CORS preflight); beside it, ``operation_table.py`` says which handler serves each operation,
``admission.py`` what a request passes before its handler (its bucket and region,
authentication, authorisation), ``request_records.py`` what it leaves behind (audit event,
access-log line, billing, the bucket's server access record), and ``responses.py`` the XML
error document and the headers every answer carries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

from andromede.audit.service import AuditService
from andromede.billing.service import BillingService
from andromede.errors import AndromedeError
from andromede.http.asgi import (
    TRUSTED_PRINCIPAL_SCOPE_KEY,
    InProcessApp,
    decode_headers,
    new_request_id,
    raw_target,
)
from andromede.http.ratelimit import RateLimiter
from andromede.http.response import Message, Receive, Response, Scope, Send, send_response
from andromede.iam.model import ANONYMOUS, Principal
from andromede.iam.service import IdentityService
from andromede.s3.admission import RequestAdmission
from andromede.s3.auth import Authenticated, Authenticator
from andromede.s3.errors import S3Error, to_s3_error
from andromede.s3.handlers import cors
from andromede.s3.handlers.common import S3Services
from andromede.s3.operation_table import HANDLERS, MISSING_KEY_NEEDS_LIST
from andromede.s3.operations import S3Operation
from andromede.s3.request import ClientDisconnected, S3Context
from andromede.s3.request_payment import REQUEST_CHARGED_HEADER, is_billed
from andromede.s3.request_records import RequestRecords
from andromede.s3.responses import common_headers, error_response
from andromede.s3.router import Route, Router
from andromede.s3.website import ReadFailed, WebsiteEndpoint
from andromede.s3.website import error_page as website_error_page
from andromede.storage.model import AccessPointUse, Bucket
from andromede.storage.object_lambda_points import OBJECT_LAMBDA_ALIAS_SUFFIX

__all__ = ["S3App"]

log = logging.getLogger(__name__)

_O = S3Operation


class S3App:
    """The S3 API (and the buckets' website endpoints) as one ASGI callable."""

    def __init__(
        self,
        services: S3Services,
        identity: IdentityService,
        audit: AuditService,
        rate_limiter: RateLimiter | None = None,
        *,
        billing: BillingService | None = None,
    ) -> None:
        self._services = services
        self._settings = services.settings
        self._router = Router(
            self._settings.s3_domain,
            self._settings.s3_access_point_domain,
            self._settings.s3_multi_region_access_point_domain,
            fips_endpoints=self._settings.s3_access_point_fips_endpoints,
        )
        self._admission = RequestAdmission(
            services, Authenticator(identity, services.settings), audit
        )
        self._records = RequestRecords(services.settings, audit, billing)
        self._rate_limiter = rate_limiter or RateLimiter(services.settings.rate_limit_per_key)
        self._access_logs = services.access_logs
        self._request_metrics = services.request_metrics
        # The Object Lambda API (set by the wiring), which a request naming an Object Lambda
        # access point's alias as its bucket goes to (decision 0399).
        self.object_lambda: InProcessApp | None = None
        domain = services.settings.website_domain
        self._website = WebsiteEndpoint(services, domain) if domain.strip(".") else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        request_id = new_request_id()
        method: str = scope["method"]
        raw_path, raw_query = raw_target(scope)
        raw_headers: list[tuple[bytes, bytes]] = scope["headers"]
        headers = decode_headers(raw_headers)
        route: Route | None = None
        addressed: Bucket | None = None
        error_code: str | None = None
        principal: Principal = ANONYMOUS
        ctx: S3Context | None = None
        authenticated: Authenticated | None = None
        response: Response
        body_state = _BodyState(finished=not _declares_body(headers), read_at=started)
        through: AccessPointUse | None = None
        endpoint = self._website
        if endpoint is not None and (site := endpoint.bucket_from_host(headers.get("host", ""))):
            await self._serve_website(
                endpoint,
                site,
                scope,
                send,
                raw_headers,
                headers,
                raw_path,
                request_id,
                body_state,
                started,
            )
            return
        if method == "OPTIONS":
            await self._preflight(
                send, raw_headers, headers, raw_path, request_id, started, body_state
            )
            return
        try:
            self._check_header_size(raw_headers)
            query = dict(parse_qsl(raw_query, keep_blank_values=True))
            route = self._router.route(method, headers.get("host", ""), raw_path, query, headers)
            front = self.object_lambda
            if front is not None and (route.bucket or "").endswith(OBJECT_LAMBDA_ALIAS_SUFFIX):
                await front(scope, receive, send)  # an Object Lambda access point's (0399)
                return
            route, through = await self._admission.through_access_point(route, scope.get("client"))
            addressed, lookup = await self._admission.addressed_bucket(route, through)
            trusted = scope.get(TRUSTED_PRINCIPAL_SCOPE_KEY)
            authenticated = (
                Authenticated(trusted, None, None)
                if isinstance(trusted, Principal)
                else trusted  # verified by the API that handed it on (decision 0399)
                if isinstance(trusted, Authenticated)
                else await self._admission.authenticate(
                    route,
                    method,
                    raw_path,
                    raw_query,
                    headers,
                    request_id,
                    region=_signing_region(route, addressed),
                )
            )
            principal = authenticated.principal
            if (
                authenticated.signed is not None
                and trusted is None  # handed on: the API that verified it took its token (0411)
                and not self._rate_limiter.allow(authenticated.signed.access_key_id)
            ):
                raise S3Error("SlowDown")
            bucket_record, charged = await self._admission.authorise(
                route, principal, headers, query, scope, addressed, lookup
            )
            ctx = S3Context(
                request_id=request_id,
                query=query,
                headers=headers,
                route=route,
                principal=principal,
                # Anonymous and presigned requests may still declare a streaming or hex hash.
                payload_hash=authenticated.payload_hash or headers.get("x-amz-content-sha256"),
                signing=authenticated.signing,
                receive=self._timed_receive(receive, body_state),
                settings=self._settings,
                secure=scope.get("scheme") == "https",
                bucket_record=bucket_record,
                object_lookup=lookup,
                source_ip=client[0] if (client := scope.get("client")) else None,
                requester_charged=charged,
            )
            response = await HANDLERS[route.operation](ctx, self._services)
            if response.stream is not None and method != "HEAD":
                # The first chunk is read before the headers go: a store that cannot serve the
                # object (RADOS down, a blob unreadable) still gets its S3 error (503) instead
                # of a 200 cut short. A small object is all in its first chunk.
                await response.prime()
        except ClientDisconnected:
            self._records.finish(
                route,
                principal,
                authenticated,
                request_id,
                method,
                raw_path,
                499,
                ctx,
                0,
                started,
                addressed=addressed,
            )
            self._records.meter(route, addressed, principal, ctx, method, 499, 0)
            return
        except Exception as exc:
            if ctx is not None and ctx.route.operation in MISSING_KEY_NEEDS_LIST:
                exc = await self._admission.missing_key_unless_listable(ctx, exc)
            response = error_response(exc, route, raw_path, request_id, method)
            wire = to_s3_error(exc) if isinstance(exc, AndromedeError) else None
            error_code = wire.code if wire is not None else "InternalError"
            if not body_state.finished:
                # Answered before the body was read (or while it was): bytes of it may still be
                # on their way, or never come (a client waiting for 100-continue), and either
                # would be parsed as the next request on this connection. Close it, as S3 does.
                response.headers.append(("Connection", "close"))
        if ctx is not None and ctx.requester_charged and is_billed(response.status):
            response.headers.append(REQUEST_CHARGED_HEADER)  # AWS's word that the caller paid
        origin = headers.get("origin")
        if origin and route is not None and route.bucket is not None:
            # A browser's cross-origin request: the bucket's CORS rules say what it may read.
            await cors.add_cors_headers(self._services, route.bucket, method, origin, response)
        response.head = response.head or method == "HEAD"
        status = response.status
        sent = 0
        answered = time.perf_counter()
        try:
            sent = await send_response(send, response, common_headers(request_id))
        except Exception:
            # Headers are gone already: the only honest signal left is to cut the connection,
            # which the Content-Length mismatch makes visible to the client.
            log.exception("request %s failed while streaming its body", request_id)
            status = 500
            raise
        finally:
            self._records.finish(
                route,
                principal,
                authenticated,
                request_id,
                method,
                raw_path,
                status,
                ctx,
                sent,
                started,
                addressed=addressed,
            )
            self._records.meter(route, addressed, principal, ctx, method, status, sent)
            hook = self._request_metrics
            if (
                hook is not None
                and addressed is not None
                and route is not None
                and hook.observes(addressed.name)
            ):
                # CloudWatch request metrics (decision 0187): only for configured buckets.
                self._records.measure(
                    hook,
                    addressed,
                    route,
                    through,
                    headers,
                    method,
                    status,
                    ctx,
                    sent,
                    (started, body_state.read_at, answered),
                )
            logs = self._access_logs
            if (
                logs is not None
                and addressed is not None
                and route is not None
                and logs.logs(addressed.name)
            ):
                self._records.record_access(
                    logs,
                    addressed,
                    route,
                    ctx.principal if ctx is not None else principal,
                    authenticated,
                    scope,
                    headers,
                    request_id,
                    raw_query,
                    status,
                    error_code,
                    sent,
                    started,
                )

    async def _serve_website(
        self,
        endpoint: WebsiteEndpoint,
        site: str,
        scope: Scope,
        send: Send,
        raw_headers: list[tuple[bytes, bytes]],
        headers: dict[str, str],
        raw_path: str,
        request_id: str,
        body_state: _BodyState,
        started: float,
    ) -> None:
        """A request to ``site``'s website endpoint (``s3/website.py``): anonymous, its
        objects read as the S3 API reads them for an anonymous caller."""
        method: str = scope["method"]
        secure = scope.get("scheme") == "https"
        source_ip = client[0] if (client := scope.get("client")) else None

        async def read(
            bucket: Bucket, key: str, read_method: str, passed: Mapping[str, str]
        ) -> Response:
            return await self._read_anonymously(
                bucket, key, read_method, dict(passed), request_id, secure, source_ip, scope
            )

        origin = headers.get("origin")
        try:
            self._check_header_size(raw_headers)
            if method == "OPTIONS":
                # A site's scripts and fonts fetched from another origin: the bucket's CORS
                # rules answer the preflight, as on S3's website endpoints.
                response = await cors.preflight(self._services, site, headers)
            else:
                response = await endpoint.answer(
                    site, method, raw_path, headers, "https" if secure else "http", request_id, read
                )
                if origin:
                    await cors.add_cors_headers(self._services, site, method, origin, response)
        except Exception as exc:
            wire = to_s3_error(exc) if isinstance(exc, AndromedeError) else None
            if wire is None:
                log.error("request %s: unexpected error", request_id, exc_info=exc)
                wire = S3Error("InternalError")
            response = website_error_page(wire, request_id, bucket=site, method=method)
        if not body_state.finished:
            response.headers.append(("Connection", "close"))  # a body was announced, never read
        response.head = response.head or method == "HEAD"
        sent = 0
        route = Route(
            operation=_O.HeadObject if method == "HEAD" else _O.GetObject,
            bucket=site,
            key=None,
            virtual_host=True,
        )
        try:
            sent = await send_response(send, response, common_headers(request_id))
        finally:
            self._records.finish(
                route,
                ANONYMOUS,
                None,
                request_id,
                method,
                raw_path,
                response.status,
                None,
                sent,
                started,
            )
            logs = self._access_logs
            if logs is not None and logs.logs(site):
                # A website's readers are accesses too: S3 logs them as WEBSITE.<method>.
                with contextlib.suppress(AndromedeError):
                    bucket = await self._services.objects.get_bucket(site)
                    self._records.record_access(
                        logs,
                        bucket,
                        route,
                        ANONYMOUS,
                        None,
                        scope,
                        headers,
                        request_id,
                        raw_target(scope)[1],
                        response.status,
                        None,
                        sent,
                        started,
                        operation=(
                            "WEBSITE.OPTIONS.PREFLIGHT"
                            if method == "OPTIONS"
                            else f"WEBSITE.{method}.OBJECT"
                        ),
                    )

    async def _read_anonymously(
        self,
        bucket: Bucket,
        key: str,
        method: str,
        headers: dict[str, str],
        request_id: str,
        secure: bool,
        source_ip: str | None,
        scope: Scope,
    ) -> Response:
        """A website's read of ``key``: GetObject (HeadObject) as the anonymous caller, through
        the same authorisation and handler as on the S3 API; ``ReadFailed`` on an error."""
        operation = _O.HeadObject if method == "HEAD" else _O.GetObject
        route = Route(operation=operation, bucket=bucket.name, key=key, virtual_host=True)
        ctx: S3Context | None = None
        try:
            lookup = await self._services.objects.look_up_object(bucket.name, key)
            found, _ = await self._admission.authorise(
                route, ANONYMOUS, headers, {}, scope, lookup.bucket, lookup
            )
            ctx = S3Context(
                request_id=request_id,
                query={},
                headers=headers,
                route=route,
                principal=ANONYMOUS,
                payload_hash=None,
                signing=None,
                receive=_no_body,
                settings=self._settings,
                secure=secure,
                bucket_record=found,
                object_lookup=lookup,
                source_ip=source_ip,
            )
            response = await HANDLERS[operation](ctx, self._services)
            if response.stream is not None and method != "HEAD":
                await response.prime()
            return response
        except AndromedeError as exc:
            wire = to_s3_error(exc)
            if wire is None:
                raise
            told = wire
            if ctx is not None and wire.code == "NoSuchKey":
                hidden = await self._admission.missing_key_unless_listable(ctx, exc)
                told = hidden if isinstance(hidden, S3Error) else wire
            raise ReadFailed(told, missing=wire.code == "NoSuchKey") from exc

    async def _preflight(
        self,
        send: Send,
        raw_headers: list[tuple[bytes, bytes]],
        headers: dict[str, str],
        raw_path: str,
        request_id: str,
        started: float,
        body_state: _BodyState,
    ) -> None:
        """A browser's CORS preflight: unsigned, answered from the bucket's CORS rules alone
        (``handlers/cors.py``), never audited as an action (it is none)."""
        try:
            self._check_header_size(raw_headers)
            bucket, _, _ = self._router.bucket_and_key(headers.get("host", ""), raw_path)
            response = await cors.preflight(self._services, bucket, headers)
        except Exception as exc:
            response = error_response(exc, None, raw_path, request_id, "OPTIONS")
        if not body_state.finished:
            response.headers.append(("Connection", "close"))  # a body was announced, never read
        sent = 0
        try:
            sent = await send_response(send, response, common_headers(request_id))
        finally:
            self._records.finish(
                None,
                ANONYMOUS,
                None,
                request_id,
                "OPTIONS",
                raw_path,
                response.status,
                None,
                sent,
                started,
            )

    def _check_header_size(self, raw_headers: list[tuple[bytes, bytes]]) -> None:
        """The HTTP parser accepts any header size; S3 answers a bounded one, on every path
        (API, preflight, website)."""
        if sum(len(n) + len(v) for n, v in raw_headers) > self._settings.max_header_size:
            raise S3Error("RequestHeaderSectionTooLarge")

    def _timed_receive(self, receive: Receive, body_state: _BodyState) -> Receive:
        timeout = self._settings.body_read_timeout

        async def timed() -> Message:
            # asyncio.timeout, not wait_for: wait_for wraps every body chunk in a new task.
            try:
                async with asyncio.timeout(timeout):
                    message = await receive()
            except TimeoutError as exc:
                raise S3Error("RequestTimeout") from exc
            if not message.get("more_body", False):
                body_state.finished = True
                body_state.read_at = time.perf_counter()
            return message

        return timed


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


@dataclass(slots=True)
class _BodyState:
    finished: bool
    read_at: float  # when the body's last byte came (perf_counter; the start without one)


def _declares_body(headers: Mapping[str, str]) -> bool:
    length = headers.get("content-length", "0").strip()
    return "transfer-encoding" in headers or length not in ("", "0")


def _signing_region(route: Route, addressed: Bucket | None) -> str | None:
    """The region a request must be signed for: its bucket's (None: any region served here,
    for requests that name no existing bucket and for GetBucketLocation, which any gateway
    answers so that clients can learn where a bucket lives)."""
    if addressed is None or route.operation is _O.GetBucketLocation:
        return None
    return addressed.region


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
