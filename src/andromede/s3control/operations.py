"""The S3 Control operations: each request's method and path (under ``/v20180820``) to the
operation it is, and the IAM action it needs — the ones not served yet too, which answer
NotImplemented rather than a silent 200 (decision 0152; Batch Operations: its addendum;
access points: decision 0157; Object Lambda access points: decision 0384)."""

from __future__ import annotations

import enum
import re

__all__ = [
    "PATH_PREFIX",
    "S3ControlOperation",
    "access_point_of",
    "job_of",
    "object_lambda_point_of",
    "route",
]

PATH_PREFIX = "/v20180820/"


def _ol(name: str) -> tuple[str, str, bool]:
    """An Object Lambda access point call: its IAM action is ``s3:`` and its own name."""
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
    # Any other S3 Control path (Storage Lens, Multi-Region Access Points…).
    Unknown = ("Unknown", "s3:*", False)

    def __init__(self, wire_name: str, action: str, implemented: bool) -> None:
        self.wire_name = wire_name
        self.action = action
        self.implemented = implemented


_O = S3ControlOperation
_EXACT: dict[tuple[str, str], S3ControlOperation] = {
    ("GET", "configuration/publicAccessBlock"): _O.GetPublicAccessBlock,
    ("PUT", "configuration/publicAccessBlock"): _O.PutPublicAccessBlock,
    ("DELETE", "configuration/publicAccessBlock"): _O.DeletePublicAccessBlock,
    ("POST", "jobs"): _O.CreateJob,
    ("GET", "jobs"): _O.ListJobs,
    ("GET", "accesspoint"): _O.ListAccessPoints,
    ("GET", "accesspointforobjectlambda"): _O.ListAccessPointsForObjectLambda,
}
_ACCESS_POINT = re.compile(r"accesspoint/([^/]+)(?:/(policy|policyStatus))?")
_ACCESS_POINT_CALLS: dict[tuple[str, str | None], S3ControlOperation] = {
    ("PUT", None): _O.CreateAccessPoint,
    ("GET", None): _O.GetAccessPoint,
    ("DELETE", None): _O.DeleteAccessPoint,
    ("PUT", "policy"): _O.PutAccessPointPolicy,
    ("GET", "policy"): _O.GetAccessPointPolicy,
    ("DELETE", "policy"): _O.DeleteAccessPointPolicy,
    ("GET", "policyStatus"): _O.GetAccessPointPolicyStatus,
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
_JOB = re.compile(r"jobs/([^/]+)(?:/(priority|status|tagging))?")


def route(method: str, path: str) -> S3ControlOperation:
    """The operation of ``method`` on ``path`` (which starts with :data:`PATH_PREFIX`)."""
    rest = path[len(PATH_PREFIX) :].rstrip("/")
    found = _EXACT.get((method, rest))
    if found is not None:
        return found
    point = _ACCESS_POINT.fullmatch(rest)
    if point is not None:
        return _ACCESS_POINT_CALLS.get((method, point.group(2)), _O.Unknown)
    lambda_point = _OBJECT_LAMBDA.fullmatch(rest)
    if lambda_point is not None:
        return _OBJECT_LAMBDA_CALLS.get((method, lambda_point.group(2)), _O.Unknown)
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


def object_lambda_point_of(path: str) -> str:
    """The Object Lambda access point a ``/v20180820/accesspointforobjectlambda/{name}…``
    path names ("" for any other path)."""
    found = _OBJECT_LAMBDA.fullmatch(path[len(PATH_PREFIX) :].rstrip("/"))
    return "" if found is None else found.group(1)


def job_of(path: str) -> str:
    """The job id a ``/v20180820/jobs/{id}…`` path names ("" for any other path)."""
    found = _JOB.fullmatch(path[len(PATH_PREFIX) :].rstrip("/"))
    return "" if found is None else found.group(1)
