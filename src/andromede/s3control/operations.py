"""The S3 Control operations: each request's method and path (under ``/v20180820``) to the
operation it is, and the IAM action it needs — the ones not served yet too, which answer
NotImplemented rather than a silent 200 (decision 0152; Batch Operations: its addendum;
access points: decision 0157; resource tags: decision 0392; Object Lambda access points:
decision 0384; Storage Lens configurations: decision 0415)."""

from __future__ import annotations

import enum
import re

__all__ = [
    "MULTI_REGION_OPERATIONS",
    "PATH_PREFIX",
    "SCOPE_OPERATIONS",
    "STORAGE_LENS_OPERATIONS",
    "TAG_OPERATIONS",
    "S3ControlOperation",
    "access_point_of",
    "job_of",
    "multi_region_of",
    "object_lambda_point_of",
    "route",
    "storage_lens_of",
]

PATH_PREFIX = "/v20180820/"


def _ol(name: str) -> tuple[str, str, bool]:
    """An Object Lambda access point or Storage Lens call: its IAM action is ``s3:`` and its
    own name."""
    return (name, f"s3:{name}", True)


class S3ControlOperation(enum.Enum):
    """(wire name, IAM action, implemented)."""

    GetPublicAccessBlock = ("GetPublicAccessBlock", "s3:GetAccountPublicAccessBlock", True)
    PutPublicAccessBlock = ("PutPublicAccessBlock", "s3:PutAccountPublicAccessBlock", True)
    DeletePublicAccessBlock = ("DeletePublicAccessBlock", "s3:PutAccountPublicAccessBlock", True)
    CreateJob = ("CreateJob", "s3:CreateJob", True)
    ListJobs = ("ListJobs", "s3:ListJobs", True)
    DescribeJob = ("DescribeJob", "s3:DescribeJob", True)
    UpdateJobPriority = ("UpdateJobPriority", "s3:UpdateJobPriority", True)
    UpdateJobStatus = ("UpdateJobStatus", "s3:UpdateJobStatus", True)
    PutJobTagging = ("PutJobTagging", "s3:PutJobTagging", True)
    GetJobTagging = ("GetJobTagging", "s3:GetJobTagging", True)
    DeleteJobTagging = ("DeleteJobTagging", "s3:DeleteJobTagging", True)
    # S3 access points (decision 0157).
    CreateAccessPoint = ("CreateAccessPoint", "s3:CreateAccessPoint", True)
    GetAccessPoint = ("GetAccessPoint", "s3:GetAccessPoint", True)
    DeleteAccessPoint = ("DeleteAccessPoint", "s3:DeleteAccessPoint", True)
    ListAccessPoints = ("ListAccessPoints", "s3:ListAccessPoints", True)
    PutAccessPointPolicy = ("PutAccessPointPolicy", "s3:PutAccessPointPolicy", True)
    GetAccessPointPolicy = ("GetAccessPointPolicy", "s3:GetAccessPointPolicy", True)
    DeleteAccessPointPolicy = ("DeleteAccessPointPolicy", "s3:DeleteAccessPointPolicy", True)
    GetAccessPointPolicyStatus = (
        "GetAccessPointPolicyStatus",
        "s3:GetAccessPointPolicyStatus",
        True,
    )
    # The scope of directory buckets' access points (S3 Express's control endpoint, its
    # s3express: actions): answered for general purpose buckets' (decision 0392).
    PutAccessPointScope = ("PutAccessPointScope", "s3express:PutAccessPointScope", True)
    GetAccessPointScope = ("GetAccessPointScope", "s3express:GetAccessPointScope", True)
    DeleteAccessPointScope = ("DeleteAccessPointScope", "s3express:DeleteAccessPointScope", True)
    # Tags of access points and buckets (decision 0392).
    TagResource = ("TagResource", "s3:TagResource", True)
    UntagResource = ("UntagResource", "s3:UntagResource", True)
    ListTagsForResource = ("ListTagsForResource", "s3:ListTagsForResource", True)
    # Multi-Region Access Points (decision 0385); AWS's IAM actions (the routes' are
    # s3:GetMultiRegionAccessPointRoutes and s3:SubmitMultiRegionAccessPointRoutes).
    CreateMultiRegionAccessPoint = (
        "CreateMultiRegionAccessPoint",
        "s3:CreateMultiRegionAccessPoint",
        True,
    )
    DeleteMultiRegionAccessPoint = (
        "DeleteMultiRegionAccessPoint",
        "s3:DeleteMultiRegionAccessPoint",
        True,
    )
    DescribeMultiRegionAccessPointOperation = (
        "DescribeMultiRegionAccessPointOperation",
        "s3:DescribeMultiRegionAccessPointOperation",
        True,
    )
    GetMultiRegionAccessPoint = ("GetMultiRegionAccessPoint", "s3:GetMultiRegionAccessPoint", True)
    ListMultiRegionAccessPoints = (
        "ListMultiRegionAccessPoints",
        "s3:ListMultiRegionAccessPoints",
        True,
    )
    PutMultiRegionAccessPointPolicy = (
        "PutMultiRegionAccessPointPolicy",
        "s3:PutMultiRegionAccessPointPolicy",
        True,
    )
    GetMultiRegionAccessPointPolicy = (
        "GetMultiRegionAccessPointPolicy",
        "s3:GetMultiRegionAccessPointPolicy",
        True,
    )
    GetMultiRegionAccessPointPolicyStatus = (
        "GetMultiRegionAccessPointPolicyStatus",
        "s3:GetMultiRegionAccessPointPolicyStatus",
        True,
    )
    GetMultiRegionAccessPointRoutes = (
        "GetMultiRegionAccessPointRoutes",
        "s3:GetMultiRegionAccessPointRoutes",
        True,
    )
    SubmitMultiRegionAccessPointRoutes = (
        "SubmitMultiRegionAccessPointRoutes",
        "s3:SubmitMultiRegionAccessPointRoutes",
        True,
    )
    # Object Lambda access points (decision 0384).
    CreateAccessPointForObjectLambda = _ol("CreateAccessPointForObjectLambda")
    GetAccessPointForObjectLambda = _ol("GetAccessPointForObjectLambda")
    DeleteAccessPointForObjectLambda = _ol("DeleteAccessPointForObjectLambda")
    ListAccessPointsForObjectLambda = _ol("ListAccessPointsForObjectLambda")
    GetAccessPointConfigurationForObjectLambda = _ol("GetAccessPointConfigurationForObjectLambda")
    PutAccessPointConfigurationForObjectLambda = _ol("PutAccessPointConfigurationForObjectLambda")
    PutAccessPointPolicyForObjectLambda = _ol("PutAccessPointPolicyForObjectLambda")
    GetAccessPointPolicyForObjectLambda = _ol("GetAccessPointPolicyForObjectLambda")
    DeleteAccessPointPolicyForObjectLambda = _ol("DeleteAccessPointPolicyForObjectLambda")
    GetAccessPointPolicyStatusForObjectLambda = _ol("GetAccessPointPolicyStatusForObjectLambda")
    # Storage Lens configurations (decision 0415).
    PutStorageLensConfiguration = _ol("PutStorageLensConfiguration")
    GetStorageLensConfiguration = _ol("GetStorageLensConfiguration")
    DeleteStorageLensConfiguration = _ol("DeleteStorageLensConfiguration")
    ListStorageLensConfigurations = _ol("ListStorageLensConfigurations")
    PutStorageLensConfigurationTagging = _ol("PutStorageLensConfigurationTagging")
    GetStorageLensConfigurationTagging = _ol("GetStorageLensConfigurationTagging")
    DeleteStorageLensConfigurationTagging = _ol("DeleteStorageLensConfigurationTagging")
    # Any other S3 Control path (Storage Lens groups, Access Grants…).
    Unknown = ("Unknown", "s3:*", False)

    def __init__(self, wire_name: str, action: str, implemented: bool) -> None:
        self.wire_name = wire_name
        self.action = action
        self.implemented = implemented


_O = S3ControlOperation
MULTI_REGION_OPERATIONS = frozenset(o for o in S3ControlOperation if "MultiRegion" in o.wire_name)
SCOPE_OPERATIONS = frozenset(
    {_O.PutAccessPointScope, _O.GetAccessPointScope, _O.DeleteAccessPointScope}
)
TAG_OPERATIONS = frozenset({_O.TagResource, _O.UntagResource, _O.ListTagsForResource})
STORAGE_LENS_OPERATIONS = frozenset(o for o in S3ControlOperation if "StorageLens" in o.wire_name)
_TAGS: dict[str, S3ControlOperation] = {
    "POST": _O.TagResource,
    "DELETE": _O.UntagResource,
    "GET": _O.ListTagsForResource,
}
_EXACT: dict[tuple[str, str], S3ControlOperation] = {
    ("GET", "configuration/publicAccessBlock"): _O.GetPublicAccessBlock,
    ("PUT", "configuration/publicAccessBlock"): _O.PutPublicAccessBlock,
    ("DELETE", "configuration/publicAccessBlock"): _O.DeletePublicAccessBlock,
    ("POST", "jobs"): _O.CreateJob,
    ("GET", "jobs"): _O.ListJobs,
    ("GET", "accesspoint"): _O.ListAccessPoints,
    ("POST", "async-requests/mrap/create"): _O.CreateMultiRegionAccessPoint,
    ("POST", "async-requests/mrap/delete"): _O.DeleteMultiRegionAccessPoint,
    ("POST", "async-requests/mrap/put-policy"): _O.PutMultiRegionAccessPointPolicy,
    ("GET", "mrap/instances"): _O.ListMultiRegionAccessPoints,
    ("GET", "accesspointforobjectlambda"): _O.ListAccessPointsForObjectLambda,
    ("GET", "storagelens"): _O.ListStorageLensConfigurations,
}
# A Multi-Region Access Point's calls: its name (or, for the routes, its ARN or alias; the
# labels are greedy, so an ARN's ``/`` stays in them), then what of it.
_MULTI_REGION = re.compile(r"mrap/instances/(.+?)(?:/(policy|policystatus|routes))?")
_MULTI_REGION_CALLS: dict[tuple[str, str | None], S3ControlOperation] = {
    ("GET", None): _O.GetMultiRegionAccessPoint,
    ("GET", "policy"): _O.GetMultiRegionAccessPointPolicy,
    ("GET", "policystatus"): _O.GetMultiRegionAccessPointPolicyStatus,
    ("GET", "routes"): _O.GetMultiRegionAccessPointRoutes,
    ("PATCH", "routes"): _O.SubmitMultiRegionAccessPointRoutes,
}
_ASYNC_REQUEST = re.compile(r"async-requests/mrap/(arn:.+)")
_ACCESS_POINT = re.compile(r"accesspoint/([^/]+)(?:/(policy|policyStatus|scope))?")
_ACCESS_POINT_CALLS: dict[tuple[str, str | None], S3ControlOperation] = {
    ("PUT", None): _O.CreateAccessPoint,
    ("GET", None): _O.GetAccessPoint,
    ("DELETE", None): _O.DeleteAccessPoint,
    ("PUT", "policy"): _O.PutAccessPointPolicy,
    ("GET", "policy"): _O.GetAccessPointPolicy,
    ("DELETE", "policy"): _O.DeleteAccessPointPolicy,
    ("GET", "policyStatus"): _O.GetAccessPointPolicyStatus,
    ("PUT", "scope"): _O.PutAccessPointScope,
    ("GET", "scope"): _O.GetAccessPointScope,
    ("DELETE", "scope"): _O.DeleteAccessPointScope,
}
_OBJECT_LAMBDA = re.compile(
    r"accesspointforobjectlambda/([^/]+)(?:/(configuration|policy|policyStatus))?"
)
_OBJECT_LAMBDA_CALLS: dict[tuple[str, str | None], S3ControlOperation] = {
    ("PUT", None): _O.CreateAccessPointForObjectLambda,
    ("GET", None): _O.GetAccessPointForObjectLambda,
    ("DELETE", None): _O.DeleteAccessPointForObjectLambda,
    ("GET", "configuration"): _O.GetAccessPointConfigurationForObjectLambda,
    ("PUT", "configuration"): _O.PutAccessPointConfigurationForObjectLambda,
    ("PUT", "policy"): _O.PutAccessPointPolicyForObjectLambda,
    ("GET", "policy"): _O.GetAccessPointPolicyForObjectLambda,
    ("DELETE", "policy"): _O.DeleteAccessPointPolicyForObjectLambda,
    ("GET", "policyStatus"): _O.GetAccessPointPolicyStatusForObjectLambda,
}
_STORAGE_LENS = re.compile(r"storagelens/([^/]+)(?:/(tagging))?")
_STORAGE_LENS_CALLS: dict[tuple[str, str | None], S3ControlOperation] = {
    ("PUT", None): _O.PutStorageLensConfiguration,
    ("GET", None): _O.GetStorageLensConfiguration,
    ("DELETE", None): _O.DeleteStorageLensConfiguration,
    ("PUT", "tagging"): _O.PutStorageLensConfigurationTagging,
    ("GET", "tagging"): _O.GetStorageLensConfigurationTagging,
    ("DELETE", "tagging"): _O.DeleteStorageLensConfigurationTagging,
}
_JOB = re.compile(r"jobs/([^/]+)(?:/(priority|status|tagging))?")


def route(method: str, path: str) -> S3ControlOperation:
    """The operation of ``method`` on ``path`` (which starts with :data:`PATH_PREFIX`)."""
    rest = path[len(PATH_PREFIX) :].rstrip("/")
    found = _EXACT.get((method, rest))
    if found is not None:
        return found
    if rest.startswith("tags/") and len(rest) > len("tags/"):
        # The resource's ARN follows, its own ``/`` included (``{resourceArn+}``).
        return _TAGS.get(method, _O.Unknown)
    point = _ACCESS_POINT.fullmatch(rest)
    if point is not None:
        return _ACCESS_POINT_CALLS.get((method, point.group(2)), _O.Unknown)
    multi_region = _MULTI_REGION.fullmatch(rest)
    if multi_region is not None:
        return _MULTI_REGION_CALLS.get((method, multi_region.group(2)), _O.Unknown)
    if method == "GET" and _ASYNC_REQUEST.fullmatch(rest) is not None:
        return _O.DescribeMultiRegionAccessPointOperation
    lambda_point = _OBJECT_LAMBDA.fullmatch(rest)
    if lambda_point is not None:
        return _OBJECT_LAMBDA_CALLS.get((method, lambda_point.group(2)), _O.Unknown)
    lens = _STORAGE_LENS.fullmatch(rest)
    if lens is not None:
        return _STORAGE_LENS_CALLS.get((method, lens.group(2)), _O.Unknown)
    job = _JOB.fullmatch(rest)
    if job is not None:
        if job.group(2) is None and method == "GET":
            return _O.DescribeJob
        if job.group(2) == "priority" and method == "POST":
            return _O.UpdateJobPriority
        if job.group(2) == "status" and method == "POST":
            return _O.UpdateJobStatus
        if job.group(2) == "tagging":
            tagging = {"PUT": _O.PutJobTagging, "GET": _O.GetJobTagging}
            found = tagging.get(method, _O.DeleteJobTagging if method == "DELETE" else None)
            if found is not None:
                return found
    return _O.Unknown


def access_point_of(path: str) -> str:
    """The access point name a ``/v20180820/accesspoint/{name}…`` path names ("" for any
    other path)."""
    found = _ACCESS_POINT.fullmatch(path[len(PATH_PREFIX) :].rstrip("/"))
    return "" if found is None else found.group(1)


def multi_region_of(path: str) -> str:
    """What a Multi-Region Access Point call's path names: the name (or the routes' ARN or
    alias) under ``mrap/instances/``, the request token ARN under ``async-requests/mrap/``
    ("" for any other path)."""
    rest = path[len(PATH_PREFIX) :].rstrip("/")
    found = _MULTI_REGION.fullmatch(rest) or _ASYNC_REQUEST.fullmatch(rest)
    return "" if found is None else found.group(1)


def object_lambda_point_of(path: str) -> str:
    """The Object Lambda access point a ``/v20180820/accesspointforobjectlambda/{name}…``
    path names ("" for any other path)."""
    found = _OBJECT_LAMBDA.fullmatch(path[len(PATH_PREFIX) :].rstrip("/"))
    return "" if found is None else found.group(1)


def job_of(path: str) -> str:
    """The job id a ``/v20180820/jobs/{id}…`` path names ("" for any other path)."""
    found = _JOB.fullmatch(path[len(PATH_PREFIX) :].rstrip("/"))
    return "" if found is None else found.group(1)


def storage_lens_of(path: str) -> str:
    """The configuration id a ``/v20180820/storagelens/{id}…`` path names ("" for any other
    path)."""
    found = _STORAGE_LENS.fullmatch(path[len(PATH_PREFIX) :].rstrip("/"))
    return "" if found is None else found.group(1)
