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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final
from urllib.parse import parse_qsl, urlsplit

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.billing.model import s3_request_meter
from andromede.billing.service import BillingService
from andromede.errors import AndromedeError
from andromede.http.access import log_access
from andromede.http.asgi import (
    TRUSTED_PRINCIPAL_SCOPE_KEY,
    decode_headers,
    new_request_id,
    raw_target,
)
from andromede.http.ratelimit import RateLimiter
from andromede.http.response import Message, Receive, Response, Scope, Send, send_response
from andromede.iam.errors import ExpiredToken
from andromede.iam.model import ANONYMOUS, Principal
from andromede.iam.service import IdentityService
from andromede.s3.access_log import access_record, log_operation
from andromede.s3.auth import Authenticated, Authenticator
from andromede.s3.authorise import request_condition_keys, version_action
from andromede.s3.errors import S3Error, to_s3_error
from andromede.s3.handlers import (
    access,
    access_logging,
    attributes,
    bucket,
    cors,
    encryption,
    lifecycle,
    listing,
    multipart,
    notification,
    object_lock,
    objects,
    post,
    replication,
    request_payment,
    tagging,
    unconfigured,
    versions,
    website,
)
from andromede.s3.handlers.common import Handler, S3Services
from andromede.s3.operations import S3Operation
from andromede.s3.operations import Scope as OpScope
from andromede.s3.request import ClientDisconnected, S3Context
from andromede.s3.request_payment import REQUEST_CHARGED_HEADER, check_request_payer, is_billed
from andromede.s3.router import Route, Router
from andromede.s3.website import ReadFailed, WebsiteEndpoint
from andromede.s3.website import error_page as website_error_page
from andromede.s3.xml import XmlWriter
from andromede.storage.access_log_delivery import AccessLogDelivery
from andromede.storage.errors import DeleteMarkerFound, NoSuchBucket, NoSuchKey, NoSuchVersion
from andromede.storage.model import Bucket, ObjectLookup, ObjectRecord
from andromede.storage.versioning import is_version_id

__all__ = ["S3App"]

log = logging.getLogger(__name__)

_O = S3Operation
HANDLERS: Final[Mapping[S3Operation, Handler]] = {
    _O.ListBuckets: bucket.list_buckets,
    _O.CreateBucket: bucket.create_bucket,
    _O.HeadBucket: bucket.head_bucket,
    _O.DeleteBucket: bucket.delete_bucket,
    _O.GetBucketLocation: bucket.get_bucket_location,
    _O.GetBucketPolicy: access.get_bucket_policy,
    _O.PutBucketPolicy: access.put_bucket_policy,
    _O.DeleteBucketPolicy: access.delete_bucket_policy,
    _O.GetBucketPolicyStatus: access.get_bucket_policy_status,
    _O.GetBucketAcl: access.get_bucket_acl,
    _O.PutBucketAcl: access.put_bucket_acl,
    _O.GetObjectAcl: access.get_object_acl,
    _O.PutObjectAcl: access.put_object_acl,
    _O.GetBucketOwnershipControls: access.get_bucket_ownership_controls,
    _O.PutBucketOwnershipControls: access.put_bucket_ownership_controls,
    _O.DeleteBucketOwnershipControls: access.delete_bucket_ownership_controls,
    _O.GetPublicAccessBlock: access.get_public_access_block,
    _O.PutPublicAccessBlock: access.put_public_access_block,
    _O.DeletePublicAccessBlock: access.delete_public_access_block,
    _O.GetBucketEncryption: encryption.get_bucket_encryption,
    _O.PutBucketEncryption: encryption.put_bucket_encryption,
    _O.DeleteBucketEncryption: encryption.delete_bucket_encryption,
    _O.GetBucketTagging: tagging.get_bucket_tagging,
    _O.PutBucketTagging: tagging.put_bucket_tagging,
    _O.DeleteBucketTagging: tagging.delete_bucket_tagging,
    _O.GetObjectTagging: tagging.get_object_tagging,
    _O.PutObjectTagging: tagging.put_object_tagging,
    _O.DeleteObjectTagging: tagging.delete_object_tagging,
    _O.GetObjectAttributes: attributes.get_object_attributes,
    _O.GetBucketCors: cors.get_bucket_cors,
    _O.PutBucketCors: cors.put_bucket_cors,
    _O.DeleteBucketCors: cors.delete_bucket_cors,
    _O.GetBucketLifecycleConfiguration: lifecycle.get_bucket_lifecycle_configuration,
    _O.PutBucketLifecycleConfiguration: lifecycle.put_bucket_lifecycle_configuration,
    _O.DeleteBucketLifecycle: lifecycle.delete_bucket_lifecycle,
    _O.GetBucketLogging: access_logging.get_bucket_logging,
    _O.PutBucketLogging: access_logging.put_bucket_logging,
    _O.GetBucketNotificationConfiguration: notification.get_bucket_notification_configuration,
    _O.PutBucketNotificationConfiguration: notification.put_bucket_notification_configuration,
    _O.GetBucketReplication: replication.get_bucket_replication,
    _O.PutBucketReplication: replication.put_bucket_replication,
    _O.DeleteBucketReplication: replication.delete_bucket_replication,
    _O.GetObjectLockConfiguration: object_lock.get_object_lock_configuration,
    _O.PutObjectLockConfiguration: object_lock.put_object_lock_configuration,
    _O.GetObjectRetention: object_lock.get_object_retention,
    _O.PutObjectRetention: object_lock.put_object_retention,
    _O.GetObjectLegalHold: object_lock.get_object_legal_hold,
    _O.PutObjectLegalHold: object_lock.put_object_legal_hold,
    _O.GetBucketAccelerateConfiguration: unconfigured.get_bucket_accelerate_configuration,
    _O.GetBucketRequestPayment: request_payment.get_bucket_request_payment,
    _O.PutBucketRequestPayment: request_payment.put_bucket_request_payment,
    _O.GetBucketWebsite: website.get_bucket_website,
    _O.PutBucketWebsite: website.put_bucket_website,
    _O.DeleteBucketWebsite: website.delete_bucket_website,
    _O.GetBucketVersioning: versions.get_bucket_versioning,
    _O.PutBucketVersioning: versions.put_bucket_versioning,
    _O.ListObjectVersions: versions.list_object_versions,
    _O.PostObject: post.post_object,
    _O.ListObjects: listing.list_objects,
    _O.ListObjectsV2: listing.list_objects_v2,
    _O.ListMultipartUploads: listing.list_multipart_uploads,
    _O.ListParts: listing.list_parts,
    _O.PutObject: objects.put_object,
    _O.GetObject: objects.get_object,
    _O.HeadObject: objects.head_object,
    _O.DeleteObject: objects.delete_object,
    _O.DeleteObjects: objects.delete_objects,
    _O.CopyObject: objects.copy_object,
    _O.CreateMultipartUpload: multipart.create_multipart_upload,
    _O.UploadPart: multipart.upload_part,
    _O.UploadPartCopy: multipart.upload_part_copy,
    _O.CompleteMultipartUpload: multipart.complete_multipart_upload,
    _O.AbortMultipartUpload: multipart.abort_multipart_upload,
}
_READ_PREFIXES = ("Get", "Head", "List")
# The reads of a bucket's data that its data-events setting audits (decision 0109): what an
# object holds or says (content, tags, ACL, attributes, lock) and which objects, versions,
# uploads and parts there are. Reads of the bucket's configuration are not data.
_DATA_READS = frozenset(
    {
        *(op for op in _O if op.scope is OpScope.OBJECT and op.name.startswith(_READ_PREFIXES)),
        _O.ListObjects,
        _O.ListObjectsV2,
        _O.ListObjectVersions,
        _O.ListMultipartUploads,
    }
)
_SECRET_QUERY_VALUES = re.compile(r"(X-Amz-Signature|X-Amz-Security-Token)=[^&]*", re.IGNORECASE)
_AUTHORISED_BY_HANDLER = frozenset(
    {
        _O.DeleteObjects,
        _O.PutObjectTagging,
        _O.PostObject,
        # Once their body names the retention or hold a policy may test (decision 0104).
        _O.PutObjectRetention,
        _O.PutObjectLegalHold,
    }
)
# Object reads: their object is read with their bucket, in one query (_addressed_bucket).
_READS_OBJECT = frozenset({_O.GetObject, _O.HeadObject})
# The object calls that take a version id in a versioned bucket (decision 0097).
_VERSION_ADDRESSED = frozenset(
    {
        _O.GetObject,
        _O.HeadObject,
        _O.DeleteObject,
        _O.GetObjectTagging,
        _O.PutObjectTagging,
        _O.DeleteObjectTagging,
        _O.GetObjectAcl,
        _O.PutObjectAcl,
        _O.GetObjectAttributes,
        _O.GetObjectRetention,
        _O.PutObjectRetention,
        _O.GetObjectLegalHold,
        _O.PutObjectLegalHold,
    }
)
# Reads that tell a missing key apart only to a caller who may list the bucket (decision 0080).
_MISSING_KEY_NEEDS_LIST = frozenset({_O.GetObject, _O.HeadObject, _O.GetObjectAttributes})


class S3App:
    def __init__(
        self,
        services: S3Services,
        identity: IdentityService,
        audit: AuditService,
        rate_limiter: RateLimiter | None = None,
        *,
        billing: BillingService | None = None,
    ) -> None:
        self._authoriser = services.authoriser
        self._billing = billing
        self._services = services
        self._settings = services.settings
        self._router = Router(services.settings.s3_domain)
        self._auth = Authenticator(identity, services.settings)
        self._audit = audit
        self._rate_limiter = rate_limiter or RateLimiter(services.settings.rate_limit_per_key)
        self._served = services.settings.served_region_names
        self._access_logs = services.access_logs
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
        body_state = _BodyState(finished=not _declares_body(headers))
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
            addressed, lookup = await self._addressed_bucket(route)
            trusted = scope.get(TRUSTED_PRINCIPAL_SCOPE_KEY)
            authenticated = (
                Authenticated(trusted, None, None)
                if isinstance(trusted, Principal)
                else await self._authenticate(
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
            if authenticated.signed is not None and not self._rate_limiter.allow(
                authenticated.signed.access_key_id
            ):
                raise S3Error("SlowDown")
            bucket_record, charged = await self._authorise(
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
            self._finish(
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
            self._meter(route, addressed, principal, ctx, method, 499, 0)
            return
        except Exception as exc:
            if ctx is not None and ctx.route.operation in _MISSING_KEY_NEEDS_LIST:
                exc = await self._missing_key_unless_listable(ctx, exc)
            response = self._error_response(exc, route, raw_path, request_id, method)
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
        try:
            sent = await send_response(send, response, _common_headers(request_id))
        except Exception:
            # Headers are gone already: the only honest signal left is to cut the connection,
            # which the Content-Length mismatch makes visible to the client.
            log.exception("request %s failed while streaming its body", request_id)
            status = 500
            raise
        finally:
            self._finish(
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
            self._meter(route, addressed, principal, ctx, method, status, sent)
            logs = self._access_logs
            if (
                logs is not None
                and addressed is not None
                and route is not None
                and logs.logs(addressed.name)
            ):
                self._record_access(
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

    def _record_access(
        self,
        logs: AccessLogDelivery,
        bucket: Bucket,
        route: Route,
        principal: Principal,
        authenticated: Authenticated | None,
        scope: Scope,
        headers: Mapping[str, str],
        request_id: str,
        raw_query: str,
        status: int,
        error_code: str | None,
        sent: int,
        started: float,
        *,
        operation: str | None = None,
    ) -> None:
        """A request to a logging bucket: its access record, in S3's format (decision 0084).
        ``operation``: S3's name for it, when not the route's (a website read)."""
        method: str = scope["method"]
        raw_path = raw_target(scope)[0]
        client = scope.get("client")
        # A presigned URL is a bearer credential until it expires, a session token a secret:
        # neither goes into a log that others may read.
        query = _SECRET_QUERY_VALUES.sub(r"\1=-", raw_query)
        target = f"{raw_path}?{query}" if query else raw_path
        signed = authenticated is not None and authenticated.signed is not None
        if "authorization" in headers:
            authentication = "AuthHeader"
        elif "X-Amz-Signature=" in raw_query:
            authentication = "QueryString"
        else:
            authentication = None
        record = access_record(
            bucket_owner=bucket.owner_id,
            bucket=bucket.name,
            at=datetime.now(UTC),
            remote_ip=client[0] if client else None,
            requester=None if principal.is_anonymous else principal.arn,
            request_id=request_id,
            operation=operation
            or log_operation(
                route.operation, method, dict(parse_qsl(raw_query, keep_blank_values=True))
            ),
            key=route.key,
            request_line=f"{method} {target} HTTP/{scope.get('http_version', '1.1')}",
            status=status,
            error_code=error_code,
            bytes_sent=sent,
            total_ms=(time.perf_counter() - started) * 1000,
            headers=headers,
            signature_version="SigV4" if signed else None,
            authentication_type=authentication,
        )
        logs.record(bucket.name, record)

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
            sent = await send_response(send, response, _common_headers(request_id))
        finally:
            self._finish(
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
                    self._record_access(
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
            found, _ = await self._authorise(
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
                hidden = await self._missing_key_unless_listable(ctx, exc)
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
            response = self._error_response(exc, None, raw_path, request_id, "OPTIONS")
        if not body_state.finished:
            response.headers.append(("Connection", "close"))  # a body was announced, never read
        sent = 0
        try:
            sent = await send_response(send, response, _common_headers(request_id))
        finally:
            self._finish(
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

    async def _authenticate(
        self,
        route: Route,
        method: str,
        raw_path: str,
        raw_query: str,
        headers: dict[str, str],
        request_id: str,
        *,
        region: str | None,
    ) -> Authenticated:
        try:
            return await self._auth.authenticate(
                method, raw_path, raw_query, headers, region=region
            )
        except AndromedeError as exc:
            wire = to_s3_error(exc)
            expired = exc.principal if isinstance(exc, ExpiredToken) else None
            if expired is not None and expired.is_operator_access:
                # An operator's credentials used after their request's end: the tenant's log
                # shows the attempt (decision 0107), not only the platform's.
                self._audit.record(
                    request_id=request_id,
                    tenant_id=expired.tenant_id,
                    principal=expired.arn,
                    action=route.operation.action,
                    resource=_resource_arn(route),
                    outcome=Outcome.FAILURE,
                    details={"error": "ExpiredToken", **expired.audit_details},
                )
                raise
            self._audit.authentication_failed(
                request_id=request_id,
                action=route.operation.action,
                resource=_resource_arn(route),
                error=wire.code if wire else type(exc).__name__,
            )
            raise

    async def _addressed_bucket(self, route: Route) -> tuple[Bucket | None, ObjectLookup | None]:
        """The bucket a bucket- or object-scoped request names (None: none, or no such bucket
        — answered once the caller is authenticated); PermanentRedirect when its region's
        data is not served here. Read once, for authentication, authorisation and handler;
        for GetObject and HeadObject together with the object, in the same query."""
        if route.bucket is None or route.operation is _O.CreateBucket:
            return None, None
        lookup = None
        try:
            if route.operation in _READS_OBJECT and route.key is not None:
                lookup = await self._services.objects.look_up_object(route.bucket, route.key)
                found = lookup.bucket
            else:
                found = await self._services.objects.get_bucket(route.bucket)
        except NoSuchBucket:
            return None, None
        if found.region not in self._served and route.operation is not _O.GetBucketLocation:
            declared = self._settings.region_settings(found.region)
            endpoint = urlsplit(declared.endpoint).netloc if declared and declared.endpoint else ""
            redirect = S3Error("PermanentRedirect", **({"Endpoint": endpoint} if endpoint else {}))
            redirect.response_headers = (("x-amz-bucket-region", found.region),)
            raise redirect
        return found, lookup

    async def _authorise(
        self,
        route: Route,
        principal: Principal,
        headers: Mapping[str, str],
        query: Mapping[str, str],
        scope: Scope,
        addressed: Bucket | None,
        lookup: ObjectLookup | None = None,
    ) -> tuple[Bucket | None, bool]:
        """The policy engine's decision for the operation (``s3/authorise.py``), after a
        Requester Pays bucket's own refusals (``s3/request_payment.py``).

        Returns the bucket the operation addresses (None for ListBuckets and CreateBucket), read
        before authentication (``addressed``) and passed on to the handler, and whether the
        caller rather than the bucket owner pays for the request."""
        operation = route.operation
        if not operation.implemented:
            raise S3Error(
                "NotImplemented",
                f"{operation.name} is not implemented by this server",
            )
        if operation.scope is OpScope.OBJECT and route.key is not None:
            if len(route.key.encode()) > self._settings.max_key_length:
                raise S3Error("KeyTooLongError", MaxSizeAllowed=str(self._settings.max_key_length))
            # The only version of a bucket never versioned is "null"; in a versioned bucket,
            # GET, HEAD, DELETE, tagging, ACL and attributes take any well-formed id (0097,
            # 0099), and the other object calls are refused one rather than made on the
            # current version.
            version_id = query.get("versionId", "null")
            if version_id != "null" and not (
                operation in _VERSION_ADDRESSED
                and addressed is not None
                and addressed.versioning is not None
                and is_version_id(version_id)
            ):
                raise S3Error("InvalidArgument", "Invalid version id specified")
        client = scope.get("client")
        source_ip = client[0] if client else None
        secure = scope.get("scheme") == "https"
        keys = request_condition_keys(operation, query, headers)
        if operation is _O.ListBuckets or operation is _O.CreateBucket:
            if principal.is_anonymous:
                raise S3Error("AccessDenied")
            if operation is _O.CreateBucket:
                # Authorised by its handler, once the body names the region: policies may
                # condition it on s3:LocationConstraint (handlers/bucket.py, _bucket_region).
                return None, False
            await self._authoriser.authorise(
                principal,
                operation,
                bucket=None,
                bucket_name=None,
                key=None,
                keys=keys,
                source_ip=source_ip,
                secure=secure,
            )
            return None, False
        bucket_name = route.bucket or ""
        if addressed is None:
            raise NoSuchBucket(bucket_name)
        found = addressed
        # Before the policy engine: a Requester Pays bucket refuses an anonymous caller
        # whatever its policy grants. A form's signer is known to its handler only. Any other
        # bucket pays one attribute test, not a call (the GET and PUT paths are benchmarked).
        charged = (
            found.requester_pays
            and operation is not _O.PostObject
            and check_request_payer(found, principal, operation, headers, query)
        )
        # DeleteObjects is authorised key by key, as S3 does; PutObjectTagging once its body
        # names the tags a policy may test (handlers/tagging.py), PutObjectRetention and
        # PutObjectLegalHold the lock (handlers/object_lock.py); PostObject once its form
        # names its signer and key (handlers/post.py).
        if operation not in _AUTHORISED_BY_HANDLER:
            object_key = route.key if operation.scope is OpScope.OBJECT else None
            objects = self._services.objects

            # The ACL grants of the version named count, not the current object's (0099).
            named = query.get("versionId") if found.versioning is not None else None

            async def load_object() -> ObjectRecord | None:
                try:
                    if named is not None:
                        return await objects.get_version(bucket_name, object_key or "", named)
                    return await objects.head_object(bucket_name, object_key or "", lookup=lookup)
                except (NoSuchKey, NoSuchVersion, DeleteMarkerFound):
                    return None  # no grant: a delete marker has no ACL

            await self._authoriser.authorise(
                principal,
                operation,
                bucket=found,
                bucket_name=bucket_name,
                key=object_key,
                keys=keys,
                source_ip=source_ip,
                secure=secure,
                load_object=load_object if object_key is not None else None,
                action=version_action(operation, query),
            )
        expected_owner = headers.get("x-amz-expected-bucket-owner")
        if expected_owner is not None and expected_owner != found.tenant_id:
            raise S3Error("AccessDenied")
        return found, charged

    async def _missing_key_unless_listable(self, ctx: S3Context, exc: Exception) -> Exception:
        """``exc`` unless it says the key does not exist to a caller who may not list the
        bucket: as S3 does, such a caller learns only AccessDenied (403), so that reading rights
        on keys, anonymous ones included, do not reveal which other keys exist."""
        wire = to_s3_error(exc) if isinstance(exc, AndromedeError) else None
        bucket = ctx.bucket_record
        if wire is None or wire.code != "NoSuchKey" or bucket is None:
            return exc
        try:
            await self._authoriser.authorise(
                ctx.principal,
                _O.ListObjects,
                bucket=bucket,
                bucket_name=bucket.name,
                key=None,
                keys=request_condition_keys(_O.ListObjects, {}, {}),
                source_ip=ctx.source_ip,
                secure=ctx.secure,
            )
        except S3Error as denied:
            return denied
        return exc

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
            return message

        return timed

    def _error_response(
        self, exc: Exception, route: Route | None, raw_path: str, request_id: str, method: str
    ) -> Response:
        wire = to_s3_error(exc) if isinstance(exc, AndromedeError) else None
        if wire is None:
            log.error("request %s: unexpected error", request_id, exc_info=exc)
            wire = S3Error("InternalError")
        elif wire.status >= 500:
            log.warning("request %s: %s", request_id, wire.code)
        xml = XmlWriter("Error", namespace=None)
        xml.element("Code", wire.code)
        xml.element("Message", wire.message)
        for name, value in wire.details.items():
            xml.element(name, value)
        if route is not None and route.bucket is not None:
            xml.element("BucketName", route.bucket)
        if route is not None and route.key is not None:
            xml.element("Key", route.key)
        xml.element("Resource", raw_path)
        xml.element("RequestId", request_id)
        headers = [("Content-Type", "application/xml"), *wire.response_headers]
        if wire.code == "AuthorizationHeaderMalformed" and "Region" in wire.details:
            headers.append(("x-amz-bucket-region", wire.details["Region"]))
        return Response(
            status=wire.status, headers=headers, body=xml.document(), head=method == "HEAD"
        )

    def _meter(
        self,
        route: Route | None,
        addressed: Bucket | None,
        principal: Principal,
        ctx: S3Context | None,
        method: str,
        status: int,
        sent: int,
    ) -> None:
        """Count the request and its bytes for the bucket owner (the caller, for requests
        on no existing bucket, and for a requester charged by a Requester Pays bucket:
        decision 0133), in the bucket's region (decision 0108). Requests refused (403),
        redirected to their region (301) or failed by the server (5xx) are not billed; the
        bytes that moved are."""
        billing = self._billing
        if billing is None or route is None:
            return
        if ctx is not None:
            principal = ctx.principal  # a PostObject's is its form's signer
        if addressed is not None:
            tenant_id, region = addressed.tenant_id, addressed.region
            if ctx is not None and ctx.requester_charged and principal.tenant_id is not None:
                tenant_id = principal.tenant_id
        elif principal.tenant_id is not None:
            tenant_id, region = principal.tenant_id, self._settings.region
        else:
            return  # an anonymous request that names no bucket: nobody to bill
        if is_billed(status):
            meter = s3_request_meter(route.operation.name, method)
            if meter is not None:
                billing.count(tenant_id, region, meter)
        if ctx is not None and ctx.bytes_received:
            billing.count(tenant_id, region, "s3.transfer.in", ctx.bytes_received)
        if sent:
            billing.count(tenant_id, region, "s3.transfer.out", sent)

    def _finish(
        self,
        route: Route | None,
        principal: Principal,
        authenticated: Authenticated | None,
        request_id: str,
        method: str,
        raw_path: str,
        status: int,
        ctx: S3Context | None,
        sent: int,
        started: float,
        *,
        addressed: Bucket | None = None,
    ) -> None:
        operation = route.operation if route is not None else None
        if ctx is not None:
            principal = ctx.principal  # a PostObject's is its form's signer (handlers/post.py)
        # Every mutating operation of an authenticated (or anonymous) caller is audited, denied
        # ones included, and every request of an operator under an access request, reads too
        # (decision 0107); a failed authentication was recorded where it failed.
        if operation is not None and authenticated is not None:
            if not operation.name.startswith(_READ_PREFIXES) or principal.is_operator_access:
                tenant_id = principal.tenant_id
                details = {"operation": operation.name, "status": str(status)}
                if ctx is not None and status < 400:
                    details.update(ctx.audit_details)
            elif addressed is not None and addressed.data_reads_logged and operation in _DATA_READS:
                # A data read of a bucket whose owner asked for them (decision 0109): an event
                # of the owner's log, whoever read, as the bucket's access records are.
                tenant_id = addressed.tenant_id
                details = {
                    "operation": operation.name,
                    "status": str(status),
                    "bytes_sent": str(sent),
                }
            else:
                tenant_id = None
                details = None
            if details is not None:
                self._audit.record(
                    request_id=request_id,
                    tenant_id=tenant_id,
                    principal=principal.arn,
                    action=operation.action,
                    resource=_resource_arn(route),
                    outcome=Outcome.SUCCESS if status < 400 else Outcome.FAILURE,
                    details={**details, **principal.audit_details},
                )
        if self._settings.access_log:
            level = logging.WARNING if status >= 500 else logging.INFO
            log_access(
                level,
                "%s %s %s %s %s %d in=%d out=%d %.1fms",
                request_id,
                principal.arn,
                operation.name if operation else "-",
                method,
                raw_path,
                status,
                ctx.bytes_received if ctx else 0,
                sent,
                (time.perf_counter() - started) * 1000,
            )


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


@dataclass(slots=True)
class _BodyState:
    finished: bool


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


def _resource_arn(route: Route | None) -> str:
    if route is None or route.bucket is None:
        return "arn:aws:s3:::*"
    if route.key is None:
        return f"arn:aws:s3:::{route.bucket}"
    return f"arn:aws:s3:::{route.bucket}/{route.key}"


def _common_headers(request_id: str) -> list[tuple[bytes, bytes]]:
    rid = request_id.encode()
    return [(b"x-amz-request-id", rid), (b"x-amz-id-2", rid), (b"server", b"Andromede")]


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
