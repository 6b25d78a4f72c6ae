"""What an S3 request passes before its handler, in this order.

The addressed bucket, read once (with the object, for GetObject and HeadObject) and redirected
to its region when this gateway does not serve it (decision 0013); the signature, whose failure
is audited (an operator's expired access too: decision 0107); then the policy engine's decision
(``authorise.py``), after the version id's and a Requester Pays bucket's own refusals. Also
what hides a missing key from a caller who may not list the bucket (decision 0080), and what
an access point's alias, or its ARN's host ``<name>-<account>.<s3_domain>``, resolves to
(decisions 0157, 0381), and which bucket a Multi-Region Access Point's global host reaches
(decision 0385).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.errors import AndromedeError
from andromede.http.response import Scope
from andromede.http.sigv4a import ALGORITHM_V4A
from andromede.iam.errors import ExpiredToken
from andromede.iam.model import Principal
from andromede.s3.auth import Authenticated, Authenticator
from andromede.s3.authorise import request_condition_keys, version_action
from andromede.s3.errors import S3Error, to_s3_error
from andromede.s3.handlers.common import S3Services
from andromede.s3.operation_table import (
    ACCESS_POINT_OPERATIONS,
    AUTHORISED_BY_HANDLER,
    READS_OBJECT,
    VERSION_ADDRESSED,
)
from andromede.s3.operations import S3Operation
from andromede.s3.operations import Scope as OpScope
from andromede.s3.request import S3Context
from andromede.s3.request_payment import check_request_payer
from andromede.s3.request_records import resource_arn
from andromede.s3.router import Route
from andromede.storage.access_points import ALIAS_SUFFIX, AccessPoint
from andromede.storage.errors import DeleteMarkerFound, NoSuchBucket, NoSuchKey, NoSuchVersion
from andromede.storage.model import AccessPointUse, Bucket, ObjectLookup, ObjectRecord
from andromede.storage.multi_region_access_points import client_region, serving_route
from andromede.storage.versioning import is_version_id

__all__ = ["RequestAdmission"]

_O = S3Operation
# The host botocore builds from an access point ARN and a custom endpoint (decision 0381):
# ``<name>-<account>.<endpoint host>`` — a name of AWS's rules, a 12-digit account.
_ARN_HOST = re.compile(r"(?P<name>[a-z0-9][a-z0-9-]{1,48}[a-z0-9])-(?P<account>[0-9]{12})")


def _require_sigv4a(authenticated: Authenticated) -> None:
    """A request through a Multi-Region Access Point must be signed with SigV4a (AWS: "Multi-
    Region Access Points don't support anonymous requests"; "requests must be signed using
    Signature Version 4A"), whose Region set the verifier already checked holds the serving
    Region (decision 0391). An HMAC signature, even one for the serving bucket's Region, is
    refused in the words of a wrong signature scope — AuthorizationHeaderMalformed, or
    AuthorizationQueryParametersError for a presigned URL, as AWS answers one (decision 0391)."""
    signed = authenticated.signed
    if signed is None:
        raise S3Error("AccessDenied", "Multi-Region Access Points don't support anonymous requests")
    if signed.algorithm == ALGORITHM_V4A:
        return
    code, prefix = (
        ("AuthorizationQueryParametersError", "Error parsing the X-Amz-Credential parameter;")
        if signed.presigned
        else ("AuthorizationHeaderMalformed", "The authorization header is malformed;")
    )
    raise S3Error(
        code,
        f"{prefix} requests through a Multi-Region Access Point must be signed with "
        f"{ALGORITHM_V4A} (SigV4a), not {signed.algorithm}",
    )


class RequestAdmission:
    def __init__(
        self, services: S3Services, authenticator: Authenticator, audit: AuditService
    ) -> None:
        self._services = services
        self._settings = services.settings
        self._authoriser = services.authoriser
        self._auth = authenticator
        self._audit = audit
        self._served = services.settings.served_region_names

    async def authenticate(
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
            authenticated = await self._auth.authenticate(
                method, raw_path, raw_query, headers, region=region
            )
            if route.multi_region:
                _require_sigv4a(authenticated)
            return authenticated
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
                    resource=resource_arn(route),
                    outcome=Outcome.FAILURE,
                    details={"error": "ExpiredToken", **expired.audit_details},
                )
                raise
            self._audit.authentication_failed(
                request_id=request_id,
                action=route.operation.action,
                resource=resource_arn(route),
                error=wire.code if wire else type(exc).__name__,
            )
            raise

    async def through_access_point(
        self, route: Route, client: tuple[str, int] | None = None
    ) -> tuple[Route, AccessPointUse | None]:
        """A request naming an access point's alias as its bucket (decision 0157): the route
        to the access point's bucket, and the access point it goes through. Only the
        operations AWS serves through access points pass (object calls, listings, the
        bucket's location); any other is InvalidRequest. An alias nobody holds stays a
        bucket name, which no bucket can have (NoSuchBucket). The hosts of an access point's
        ARN (decision 0381) go to it too: its own endpoint's, and ``<name>-<account>`` under
        the S3 domain, which botocore builds with a custom endpoint. ``client`` is the
        request's source (ASGI's ``client``): a Multi-Region Access Point routes it to the
        active Region nearest it (decision 0413)."""
        store = self._services.access_points
        name = route.bucket
        if name is None:
            return route, None
        if route.multi_region:
            return await self._through_multi_region(route, name, client[0] if client else None)
        if route.access_point_region is not None:
            point: AccessPoint | None = await self._by_endpoint_host(
                name, route.access_point_region
            )
        elif store is None:
            return route, None
        elif name.endswith(ALIAS_SUFFIX):
            point = await store.by_alias(name)
        elif route.virtual_host and (arn_host := _ARN_HOST.fullmatch(name)) is not None:
            point = await self._by_arn_host(name, arn_host["account"], arn_host["name"])
        else:
            point = None
        if point is None:
            return route, None
        if route.operation not in ACCESS_POINT_OPERATIONS:
            raise S3Error(
                "InvalidRequest",
                f"{route.operation.name} is not supported through an access point",
            )
        return dataclasses.replace(route, bucket=point.bucket), point.use(self._settings.region)

    async def _through_multi_region(
        self, route: Route, alias: str, client: str | None
    ) -> tuple[Route, AccessPointUse | None]:
        """A request to a Multi-Region Access Point's global host (decision 0385): the route
        to the bucket of the active Region nearest ``client`` (``client_region``, decision
        0413, else the gateway's: ``serving_route``), through the Multi-
        Region Access Point — its ARN and policy, authorised as an access point's are. An
        alias nobody holds is NoSuchAccessPoint; the same operations as access points."""
        store = self._services.multi_region_access_points
        point = None if store is None else await store.by_alias(alias)
        if point is None:
            raise S3Error("NoSuchAccessPoint")
        if route.operation not in ACCESS_POINT_OPERATIONS:
            raise S3Error(
                "InvalidRequest",
                f"{route.operation.name} is not supported through a Multi-Region Access Point",
            )
        nearest = client_region(
            self._settings.region,
            self._served,
            point.routes,
            self._services.nearest_region,
            client,
        )
        chosen = serving_route(point.routes, nearest, self._served)
        if chosen is None:
            # SubmitMultiRegionAccessPointRoutes refuses to make every Region passive; a
            # record that says so anyway has no Region to serve it.
            raise S3Error("ServiceUnavailable")
        return dataclasses.replace(route, bucket=chosen.bucket), point.use()

    async def _by_endpoint_host(self, host_name: str, region: str) -> AccessPoint:
        """The access point its own endpoint's host names (decision 0381): none of that name
        in that account and this Region (access points are regional) is NoSuchAccessPoint."""
        store = self._services.access_points
        account_at = host_name.rfind("-")
        point = None
        if store is not None and region == self._settings.region:
            point = await store.get(host_name[account_at + 1 :], host_name[:account_at])
        if point is None:
            raise S3Error("NoSuchAccessPoint")
        return point

    async def _by_arn_host(self, host_name: str, account: str, name: str) -> AccessPoint | None:
        """The access point an ARN's host ``<name>-<account>.<s3_domain>`` names (decision
        0381), None when it names a bucket. A bucket may bear that name too (S3 keeps the two
        under different hosts, a custom endpoint does not): the account's access point takes
        the host unless a bucket of that name exists; a bucket of the same account keeps it
        (the account made both), one of another account beside the access point is refused
        rather than guessed, so that neither account's requests reach the other's data."""
        store = self._services.access_points
        point = None if store is None else await store.get(account, name)
        if point is None:
            return None
        try:
            bucket = await self._services.objects.get_bucket(host_name)
        except NoSuchBucket:
            return point
        if bucket.tenant_id == account:
            return None
        raise S3Error(
            "InvalidRequest",
            f"{host_name} names both a bucket and an access point of account {account}; "
            "use the access point's alias or the bucket path-style",
        )

    async def addressed_bucket(
        self, route: Route, through: AccessPointUse | None = None
    ) -> tuple[Bucket | None, ObjectLookup | None]:
        """The bucket a bucket- or object-scoped request names (None: none, or no such bucket
        — answered once the caller is authenticated); PermanentRedirect when its region's
        data is not served here. Read once, for authentication, authorisation and handler;
        for GetObject and HeadObject together with the object, in the same query."""
        if route.bucket is None or route.operation is _O.CreateBucket:
            return None, None
        lookup = None
        try:
            if route.operation in READS_OBJECT and route.key is not None:
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
        if through is not None:
            # This request's copy of the bucket carries the access point: every authorisation
            # of the request, its handler's included, goes through the access point's policy.
            found = dataclasses.replace(found, access_point=through)
        return found, lookup

    async def authorise(
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
                operation in VERSION_ADDRESSED
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
        if operation not in AUTHORISED_BY_HANDLER:
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

    async def missing_key_unless_listable(self, ctx: S3Context, exc: Exception) -> Exception:
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
