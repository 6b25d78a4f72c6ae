"""Request routing: host-style or path-style bucket, then the operation, as table look-ups.

A request is parsed into a :class:`Route` before anything else runs: which bucket and key (if
any) it names and which :class:`S3Operation` it asks for. The operation comes from the method,
the scope (service, bucket, object) and the first sub-resource query parameter found, in the
order of the tables below (S3 gives ``uploadId`` precedence over ``partNumber`` and so on).
An access point's own endpoint, ``<name>-<account>.s3-accesspoint.<region>.<domain>``, names
it unambiguously (decision 0381): the route carries its region. Its dual-stack form
(``s3-accesspoint.dualstack``) is the same endpoint; its FIPS forms (``s3-accesspoint-fips``,
``s3-accesspoint-fips.dualstack``) only where the deployment declares FIPS endpoints, else
``EndpointNotFound`` (decision 0392).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote_to_bytes

from andromede.s3.errors import S3Error
from andromede.s3.operations import S3Operation, Scope

__all__ = ["Route", "Router", "bucket_under"]

_O = S3Operation

# (method, scope) -> ordered (query parameter, operation) pairs, then the default (or None).
_SUBRESOURCES: Final[
    dict[tuple[str, Scope], tuple[tuple[tuple[str, S3Operation], ...], S3Operation | None]]
] = {
    ("GET", Scope.SERVICE): ((), _O.ListBuckets),
    ("HEAD", Scope.SERVICE): ((), _O.ListBuckets),
    ("PUT", Scope.BUCKET): (
        (
            ("acl", _O.PutBucketAcl),
            ("policy", _O.PutBucketPolicy),
            ("versioning", _O.PutBucketVersioning),
            ("cors", _O.PutBucketCors),
            ("lifecycle", _O.PutBucketLifecycleConfiguration),
            ("tagging", _O.PutBucketTagging),
            ("encryption", _O.PutBucketEncryption),
            ("website", _O.PutBucketWebsite),
            ("logging", _O.PutBucketLogging),
            ("notification", _O.PutBucketNotificationConfiguration),
            ("replication", _O.PutBucketReplication),
            ("ownershipControls", _O.PutBucketOwnershipControls),
            ("abac", _O.PutBucketAbac),
            ("publicAccessBlock", _O.PutPublicAccessBlock),
            ("object-lock", _O.PutObjectLockConfiguration),
            ("accelerate", _O.PutBucketAccelerateConfiguration),
            ("requestPayment", _O.PutBucketRequestPayment),
            ("inventory", _O.PutBucketInventoryConfiguration),
            ("metrics", _O.PutBucketMetricsConfiguration),
        ),
        _O.CreateBucket,
    ),
    ("GET", Scope.BUCKET): (
        (
            ("location", _O.GetBucketLocation),
            ("uploads", _O.ListMultipartUploads),
            ("versions", _O.ListObjectVersions),
            ("acl", _O.GetBucketAcl),
            ("policyStatus", _O.GetBucketPolicyStatus),
            ("policy", _O.GetBucketPolicy),
            ("versioning", _O.GetBucketVersioning),
            ("cors", _O.GetBucketCors),
            ("lifecycle", _O.GetBucketLifecycleConfiguration),
            ("tagging", _O.GetBucketTagging),
            ("encryption", _O.GetBucketEncryption),
            ("website", _O.GetBucketWebsite),
            ("logging", _O.GetBucketLogging),
            ("notification", _O.GetBucketNotificationConfiguration),
            ("replication", _O.GetBucketReplication),
            ("ownershipControls", _O.GetBucketOwnershipControls),
            ("abac", _O.GetBucketAbac),
            ("publicAccessBlock", _O.GetPublicAccessBlock),
            ("object-lock", _O.GetObjectLockConfiguration),
            ("accelerate", _O.GetBucketAccelerateConfiguration),
            ("requestPayment", _O.GetBucketRequestPayment),
            # Without ``id``: ListBucketInventoryConfigurations (``Router.route``).
            ("inventory", _O.GetBucketInventoryConfiguration),
            # Without ``id``: ListBucketMetricsConfigurations (decision 0187).
            ("metrics", _O.GetBucketMetricsConfiguration),
        ),
        None,  # ListObjects or ListObjectsV2, by list-type
    ),
    ("HEAD", Scope.BUCKET): ((), _O.HeadBucket),
    ("DELETE", Scope.BUCKET): (
        (
            ("policy", _O.DeleteBucketPolicy),
            ("cors", _O.DeleteBucketCors),
            ("lifecycle", _O.DeleteBucketLifecycle),
            ("tagging", _O.DeleteBucketTagging),
            ("encryption", _O.DeleteBucketEncryption),
            ("website", _O.DeleteBucketWebsite),
            ("replication", _O.DeleteBucketReplication),
            ("ownershipControls", _O.DeleteBucketOwnershipControls),
            ("publicAccessBlock", _O.DeletePublicAccessBlock),
            ("inventory", _O.DeleteBucketInventoryConfiguration),
            ("metrics", _O.DeleteBucketMetricsConfiguration),
        ),
        _O.DeleteBucket,
    ),
    ("POST", Scope.BUCKET): ((("delete", _O.DeleteObjects),), _O.PostObject),
    ("PUT", Scope.OBJECT): (
        (
            ("uploadId", _O.UploadPart),
            ("acl", _O.PutObjectAcl),
            ("tagging", _O.PutObjectTagging),
            ("retention", _O.PutObjectRetention),
            ("legal-hold", _O.PutObjectLegalHold),
        ),
        _O.PutObject,
    ),
    ("GET", Scope.OBJECT): (
        (
            ("uploadId", _O.ListParts),
            ("acl", _O.GetObjectAcl),
            ("tagging", _O.GetObjectTagging),
            ("attributes", _O.GetObjectAttributes),
            ("retention", _O.GetObjectRetention),
            ("legal-hold", _O.GetObjectLegalHold),
            ("torrent", _O.GetObjectTorrent),
        ),
        _O.GetObject,
    ),
    ("HEAD", Scope.OBJECT): ((), _O.HeadObject),
    ("DELETE", Scope.OBJECT): (
        (("uploadId", _O.AbortMultipartUpload), ("tagging", _O.DeleteObjectTagging)),
        _O.DeleteObject,
    ),
    ("POST", Scope.OBJECT): (
        (
            ("uploads", _O.CreateMultipartUpload),
            ("uploadId", _O.CompleteMultipartUpload),
            ("restore", _O.RestoreObject),
            ("select", _O.SelectObjectContent),
        ),
        None,
    ),
}


@dataclass(frozen=True, slots=True)
class Route:
    operation: S3Operation
    bucket: str | None
    key: str | None
    virtual_host: bool
    # The region of an access point's own endpoint host (decision 0381), None for any other
    # host: ``bucket`` is then ``<name>-<account>``, an access point's and never a bucket's.
    access_point_region: str | None = None
    # The request came to a Multi-Region Access Point's global host (decision 0385):
    # ``bucket`` is then its alias, never a bucket's name.
    multi_region: bool = False


def bucket_under(host: str, suffix: str) -> str | None:
    """The bucket a Host header names under a domain (``suffix``: ``.<domain>``, lower case):
    ``BUCKET.<domain>``, with or without a port; None for any other host."""
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.lower().rstrip(".")
    if name.endswith(suffix) and len(name) > len(suffix):
        return name[: -len(suffix)]
    return None


class Router:
    def __init__(
        self,
        domain: str,
        access_point_domain: str = "",
        multi_region_domain: str = "",
        *,
        fips_endpoints: bool = False,
    ) -> None:
        self._suffix = "." + domain.lower().strip(".")
        mrap_domain = multi_region_domain.lower().strip(".")
        # AWS's Multi-Region Access Point host: <alias>.accesspoint.s3-global.<domain>, the
        # alias ``<letters and digits>.mrap`` (decision 0385).
        self._multi_region_host = (
            re.compile(
                rf"(?P<alias>[a-z][a-z0-9]{{1,57}}\.mrap)\.accesspoint\.s3-global\."
                rf"{re.escape(mrap_domain)}"
            )
            if mrap_domain
            else None
        )
        ap_domain = access_point_domain.lower().strip(".")
        # AWS's access point endpoint: <name>-<account>.s3-accesspoint.<region>.<domain>, and
        # the forms botocore builds with use_dualstack_endpoint / use_fips_endpoint:
        # s3-accesspoint.dualstack, s3-accesspoint-fips, s3-accesspoint-fips.dualstack.
        self._access_point_host = (
            re.compile(
                r"(?P<bucket>[a-z0-9][a-z0-9-]{1,48}[a-z0-9]-[0-9]{12})"
                r"\.s3-accesspoint(?P<fips>-fips)?(?:\.dualstack)?"
                rf"\.(?P<region>[a-z0-9][a-z0-9-]*[a-z0-9])\.{re.escape(ap_domain)}"
            )
            if ap_domain
            else None
        )
        self._fips_endpoints = fips_endpoints

    def access_point_from_host(self, host: str) -> tuple[str, str] | None:
        """``<name>-<account>`` and the region of an access point endpoint's host."""
        if self._access_point_host is None:
            return None
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        found = self._access_point_host.fullmatch(name.lower().rstrip("."))
        if found is None:
            return None
        if found["fips"] and not self._fips_endpoints:
            # A client that asks for a FIPS endpoint relies on FIPS-validated cryptography;
            # serving it from a deployment that does not declare it would be a false promise.
            raise S3Error("EndpointNotFound", "This deployment serves no FIPS endpoint")
        return found["bucket"], found["region"]

    def multi_region_alias(self, host: str) -> str | None:
        """The alias a Multi-Region Access Point's global host names (None: another host)."""
        if self._multi_region_host is None:
            return None
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        found = self._multi_region_host.fullmatch(name.lower().rstrip("."))
        return None if found is None else found["alias"]

    def bucket_from_host(self, host: str) -> str | None:
        """``BUCKET.<domain>`` names a bucket (an access point endpoint's host, its access
        point; a Multi-Region Access Point's, its alias); any other host is path-style."""
        alias = self.multi_region_alias(host)
        if alias is not None:
            return alias
        access_point = self.access_point_from_host(host)
        if access_point is not None:
            return access_point[0]
        return bucket_under(host, self._suffix)

    def bucket_and_key(self, host: str, raw_path: str) -> tuple[str | None, str, bool]:
        """The bucket and key a request names, host-style or path-style, and whether the
        host named the bucket (InvalidURI for a path that is not UTF-8)."""
        path = _decode_path(raw_path)
        host_bucket = self.bucket_from_host(host)
        if host_bucket is not None:
            return host_bucket, path[1:] if path.startswith("/") else path, True
        stripped = path[1:] if path.startswith("/") else path
        bucket_part, sep, key = stripped.partition("/")
        return bucket_part or None, key if sep else "", False

    def route(
        self,
        method: str,
        host: str,
        raw_path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
    ) -> Route:
        bucket, key, virtual_host = self.bucket_and_key(host, raw_path)
        scope = Scope.SERVICE if bucket is None else Scope.OBJECT if key else Scope.BUCKET
        entry = _SUBRESOURCES.get((method, scope))
        if entry is None:
            raise S3Error("MethodNotAllowed")
        subresources, default = entry
        operation = default
        for parameter, candidate in subresources:
            if parameter in query:
                operation = candidate
                break
        if operation is _O.GetBucketInventoryConfiguration and "id" not in query:
            operation = _O.ListBucketInventoryConfigurations
        if operation is _O.GetBucketMetricsConfiguration and "id" not in query:
            operation = _O.ListBucketMetricsConfigurations
        if operation is None:
            if scope is Scope.BUCKET:  # GET bucket with no sub-resource
                operation = _O.ListObjectsV2 if query.get("list-type") == "2" else _O.ListObjects
            else:
                raise S3Error("MethodNotAllowed")
        if "x-amz-copy-source" in headers:
            if operation is _O.PutObject:
                operation = _O.CopyObject
            elif operation is _O.UploadPart:
                operation = _O.UploadPartCopy
        access_point = self.access_point_from_host(host)
        return Route(
            operation=operation,
            bucket=bucket,
            key=key or None,
            virtual_host=virtual_host,
            access_point_region=None if access_point is None else access_point[1],
            multi_region=self.multi_region_alias(host) is not None,
        )


def _decode_path(raw_path: str) -> str:
    """Percent-decode the path as UTF-8; S3 answers InvalidURI for bytes that are not UTF-8."""
    try:
        return unquote_to_bytes(raw_path).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise S3Error("InvalidURI") from exc
