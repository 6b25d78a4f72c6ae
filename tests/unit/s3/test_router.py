"""Routing: path-style and virtual-host-style, every sub-resource to its operation."""

from __future__ import annotations

import pytest

from andromede.s3.errors import S3Error
from andromede.s3.operations import S3Operation as O
from andromede.s3.router import Router

router = Router("s3.localhost")


def route(method: str, path: str, query: str = "", host: str = "127.0.0.1:9000", **headers: str):
    params = dict(p.split("=", 1) if "=" in p else (p, "") for p in query.split("&") if p)
    return router.route(
        method, host, path, params, {k.replace("_", "-"): v for k, v in headers.items()}
    )


@pytest.mark.parametrize(
    ("method", "path", "query", "operation"),
    [
        ("GET", "/", "", O.ListBuckets),
        ("PUT", "/b", "", O.CreateBucket),
        ("HEAD", "/b", "", O.HeadBucket),
        ("DELETE", "/b", "", O.DeleteBucket),
        ("GET", "/b", "", O.ListObjects),
        ("GET", "/b", "list-type=2", O.ListObjectsV2),
        ("GET", "/b", "location", O.GetBucketLocation),
        ("GET", "/b", "uploads", O.ListMultipartUploads),
        ("GET", "/b", "versioning", O.GetBucketVersioning),
        ("GET", "/b", "policyStatus", O.GetBucketPolicyStatus),
        ("POST", "/b", "delete", O.DeleteObjects),
        ("POST", "/b", "", O.PostObject),
        ("PUT", "/b/k", "", O.PutObject),
        ("PUT", "/b/k", "partNumber=1&uploadId=u", O.UploadPart),
        ("PUT", "/b/k", "tagging", O.PutObjectTagging),
        ("GET", "/b/k", "", O.GetObject),
        ("GET", "/b/k", "partNumber=2", O.GetObject),
        ("GET", "/b/k", "uploadId=u", O.ListParts),
        ("HEAD", "/b/k", "", O.HeadObject),
        ("DELETE", "/b/k", "", O.DeleteObject),
        ("DELETE", "/b/k", "uploadId=u", O.AbortMultipartUpload),
        ("POST", "/b/k", "uploads", O.CreateMultipartUpload),
        ("POST", "/b/k", "uploadId=u", O.CompleteMultipartUpload),
        ("POST", "/b/k", "select&select-type=2", O.SelectObjectContent),
    ],
)
def test_operations(method: str, path: str, query: str, operation: O) -> None:
    assert route(method, path, query).operation is operation


def test_copy_source_header_turns_put_into_copy() -> None:
    assert route("PUT", "/b/k", x_amz_copy_source="/a/b").operation is O.CopyObject
    assert (
        route("PUT", "/b/k", "partNumber=1&uploadId=u", x_amz_copy_source="/a/b").operation
        is O.UploadPartCopy
    )


def test_path_style_keys_keep_slashes_and_decode_utf8() -> None:
    r = route("GET", "/bucket/dir//sub/%C3%A9t%C3%A9%20x%2By")
    assert (r.bucket, r.key, r.virtual_host) == ("bucket", "dir//sub/été x+y", False)


def test_virtual_host_style() -> None:
    r = route("GET", "/photos/2024/a.jpg", host="my-bucket.s3.localhost:9000")
    assert (r.bucket, r.key, r.virtual_host) == ("my-bucket", "photos/2024/a.jpg", True)
    bucket_only = route("GET", "/", "list-type=2", host="my-bucket.S3.localhost")
    assert (bucket_only.bucket, bucket_only.key, bucket_only.operation) == (
        "my-bucket",
        None,
        O.ListObjectsV2,
    )


def test_the_bare_domain_is_path_style() -> None:
    assert route("GET", "/", host="s3.localhost").operation is O.ListBuckets


def test_invalid_utf8_is_invalid_uri() -> None:
    with pytest.raises(S3Error) as caught:
        route("GET", "/b/%FF%FE")
    assert caught.value.code == "InvalidURI"


@pytest.mark.parametrize(("method", "path"), [("PATCH", "/b/k"), ("POST", "/"), ("PUT", "/")])
def test_unknown_method_is_method_not_allowed(method: str, path: str) -> None:
    with pytest.raises(S3Error) as caught:
        route(method, path)
    assert caught.value.code == "MethodNotAllowed"
    assert caught.value.status == 405


def test_every_operation_has_an_iam_action() -> None:
    assert all(op.action.startswith("s3:") for op in O)


def test_operations_are_distinct_members() -> None:
    # Equal values would make Enum members aliases: PutObject would route to another handler.
    assert len({op.name for op in O}) == len(O.__members__)


# Access points' own endpoints (decision 0381).
ap_router = Router("s3.localhost", "example.net")


def test_an_access_point_endpoint_host_names_the_access_point_and_its_region() -> None:
    got = ap_router.route(
        "GET", "app-123456789012.s3-accesspoint.eu-west-1.example.net:9000", "/a/b", {}, {}
    )
    assert (got.operation, got.bucket, got.key) == (O.GetObject, "app-123456789012", "a/b")
    assert (got.virtual_host, got.access_point_region) == (True, "eu-west-1")


@pytest.mark.parametrize(
    "host",
    [
        "app-12345678901.s3-accesspoint.eu-west-1.example.net",  # 11 digits
        "app.s3-accesspoint.eu-west-1.example.net",  # no account
        "app-123456789012.s3-accesspoint.eu-west-1.example.org",  # another domain
        "app-123456789012.s3-accesspoint.example.net",  # no region
    ],
)
def test_other_hosts_are_no_access_point_endpoint(host: str) -> None:
    assert ap_router.access_point_from_host(host) is None
    assert ap_router.route("GET", host, "/b/k", {}, {}).access_point_region is None


@pytest.mark.parametrize(
    "host",
    [
        "app-123456789012.s3-accesspoint.dualstack.eu-west-1.example.net",
        "app-123456789012.s3-accesspoint-fips.eu-west-1.example.net:443",
        "APP-123456789012.s3-accesspoint-fips.dualstack.eu-west-1.example.net.",
    ],
)
def test_the_dual_stack_and_fips_forms_name_the_access_point(host: str) -> None:
    # The hosts botocore builds with use_dualstack_endpoint / use_fips_endpoint (decision
    # 0392); FIPS ones only where the deployment declares FIPS endpoints.
    router = Router("s3.example.net", "example.net", fips_endpoints=True)
    got = router.route("PUT", host, "/k", {}, {})
    assert (got.operation, got.bucket, got.key) == (O.PutObject, "app-123456789012", "k")
    assert got.access_point_region == "eu-west-1"


def test_the_dual_stack_form_needs_no_fips_declaration() -> None:
    got = ap_router.route(
        "GET", "app-123456789012.s3-accesspoint.dualstack.eu-west-1.example.net", "/k", {}, {}
    )
    assert (got.bucket, got.access_point_region) == ("app-123456789012", "eu-west-1")


@pytest.mark.parametrize(
    "host",
    [
        "app-123456789012.s3-accesspoint-fips.eu-west-1.example.net",
        "app-123456789012.s3-accesspoint-fips.dualstack.eu-west-1.example.net",
    ],
)
def test_fips_forms_are_refused_where_the_deployment_declares_none(host: str) -> None:
    with pytest.raises(S3Error) as caught:
        ap_router.route("GET", host, "/k", {}, {})
    assert (caught.value.code, caught.value.status) == ("EndpointNotFound", 400)


@pytest.mark.parametrize(
    "host",
    [
        "app-123456789012.s3-accesspoint.dualstack.fips.eu-west-1.example.net",
        "app-123456789012.s3-accesspoint-dualstack.eu-west-1.example.net",
    ],
)
def test_forms_botocore_never_builds_are_no_access_point_endpoint(host: str) -> None:
    assert ap_router.access_point_from_host(host) is None


def test_an_empty_access_point_domain_turns_the_endpoints_off() -> None:
    host = "app-123456789012.s3-accesspoint.eu-west-1.localhost"
    assert Router("s3.localhost").route("GET", host, "/b/k", {}, {}).bucket == "b"


def test_an_arn_host_under_the_s3_domain_is_a_virtual_hosted_name() -> None:
    # <name>-<account>.<s3_domain>: which one it names is decided by what exists (admission).
    got = route("GET", "/k", host="app-123456789012.s3.localhost:9000")
    assert (got.bucket, got.key, got.virtual_host, got.access_point_region) == (
        "app-123456789012",
        "k",
        True,
        None,
    )


# Multi-Region Access Points' global hosts (decision 0385).
mrap_router = Router("s3.localhost", "example.net", "amazonaws.com")


def test_a_global_host_names_the_multi_region_access_point_by_its_alias() -> None:
    host = "mfzwi23gnjvgw.mrap.accesspoint.s3-global.amazonaws.com"
    got = mrap_router.route("PUT", host, "/dir/a.txt", {}, {})
    assert (got.operation, got.bucket, got.key) == (O.PutObject, "mfzwi23gnjvgw.mrap", "dir/a.txt")
    assert got.virtual_host and got.multi_region and got.access_point_region is None
    listed = mrap_router.route("GET", host + ":443", "/", {"list-type": "2"}, {})
    assert (listed.operation, listed.bucket, listed.multi_region) == (
        O.ListObjectsV2,
        "mfzwi23gnjvgw.mrap",
        True,
    )


@pytest.mark.parametrize(
    "host",
    [
        "mfzwi23gnjvgw.accesspoint.s3-global.amazonaws.com",  # no .mrap
        "1fzwi23gnjvgw.mrap.accesspoint.s3-global.amazonaws.com",  # begins with a digit
        "mfzwi23gnjvgw.mrap.accesspoint.s3-global.example.org",  # another domain
        "mfzwi23gnjvgw.mrap.s3-global.amazonaws.com",
    ],
)
def test_other_hosts_are_no_global_host(host: str) -> None:
    assert mrap_router.multi_region_alias(host) is None
    assert not mrap_router.route("GET", host, "/b/k", {}, {}).multi_region


def test_an_empty_multi_region_domain_turns_the_global_hosts_off() -> None:
    host = "mfzwi23gnjvgw.mrap.accesspoint.s3-global.localhost"
    got = Router("s3.localhost", "localhost").route("GET", host, "/b/k", {}, {})
    assert (got.bucket, got.multi_region) == ("b", False)
