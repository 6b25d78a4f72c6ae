"""S3 Control's wire layer (decision 0152): which requests are S3 Control's, their operations,
the Block Public Access document, the error shape; and the stricter-wins rule."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from andromede.http.sigv4 import SigV4Error
from andromede.iam.errors import ExpiredToken, InvalidClientTokenId
from andromede.s3control.app import is_s3_control
from andromede.s3control.errors import S3ControlError, error_response, to_wire_error
from andromede.s3control.operations import S3ControlOperation as Op
from andromede.s3control.operations import job_of, route
from andromede.s3control.public_access_block import parse_block
from andromede.storage.model import Bucket, PublicAccessBlock

_PAB = "/v20180820/configuration/publicAccessBlock"


def _scope(path: str, *headers: tuple[bytes, bytes]) -> dict[str, object]:
    return {"type": "http", "path": path, "headers": list(headers)}


def test_s3_control_is_its_path_and_its_account_header() -> None:
    account = (b"x-amz-account-id", b"123456789012")
    assert is_s3_control(_scope(_PAB, account))
    assert is_s3_control(_scope("/v20180820/jobs", (b"X-Amz-Account-Id", b"1")))
    # A bucket named v20180820 stays S3's: S3 requests carry no account header.
    assert not is_s3_control(_scope("/v20180820/configuration/publicAccessBlock"))
    assert not is_s3_control(_scope("/bucket/v20180820/", account))


@pytest.mark.parametrize(
    ("method", "path", "operation"),
    [
        ("GET", _PAB, Op.GetPublicAccessBlock),
        ("PUT", _PAB, Op.PutPublicAccessBlock),
        ("DELETE", _PAB, Op.DeletePublicAccessBlock),
        ("POST", "/v20180820/jobs", Op.CreateJob),
        ("GET", "/v20180820/jobs", Op.ListJobs),
        ("GET", "/v20180820/jobs/abc", Op.DescribeJob),
        ("POST", "/v20180820/jobs/abc/priority", Op.UpdateJobPriority),
        ("POST", "/v20180820/jobs/abc/status", Op.UpdateJobStatus),
        ("PUT", "/v20180820/jobs/abc/tagging", Op.PutJobTagging),
        ("GET", "/v20180820/jobs/abc/tagging", Op.GetJobTagging),
        ("DELETE", "/v20180820/jobs/abc/tagging", Op.DeleteJobTagging),
        ("POST", "/v20180820/jobs/abc/tagging", Op.Unknown),
        ("POST", _PAB, Op.Unknown),
        ("GET", "/v20180820/storagelens/lens1", Op.GetStorageLensConfiguration),
        ("GET", "/v20180820/storagelens", Op.ListStorageLensConfigurations),
        (
            "DELETE",
            "/v20180820/storagelens/lens1/tagging",
            Op.DeleteStorageLensConfigurationTagging,
        ),
        ("POST", "/v20180820/storagelens/lens1", Op.Unknown),
        ("GET", "/v20180820/storagelensgroup/g1", Op.Unknown),
        ("DELETE", "/v20180820/jobs/abc", Op.Unknown),
    ],
)
def test_routes(method: str, path: str, operation: Op) -> None:
    assert route(method, path) is operation


def test_the_operations_need_the_account_level_actions() -> None:
    assert Op.GetPublicAccessBlock.action == "s3:GetAccountPublicAccessBlock"
    assert Op.PutPublicAccessBlock.action == "s3:PutAccountPublicAccessBlock"
    assert Op.DeletePublicAccessBlock.action == "s3:PutAccountPublicAccessBlock"
    assert Op.CreateJob.action == "s3:CreateJob"
    assert Op.CreateJob.implemented
    assert Op.PutJobTagging.action == "s3:PutJobTagging"
    assert Op.GetJobTagging.action == "s3:GetJobTagging"
    assert Op.DeleteJobTagging.action == "s3:DeleteJobTagging"
    assert not Op.Unknown.implemented


def test_the_job_id_is_read_from_the_path() -> None:
    assert job_of("/v20180820/jobs/abc") == "abc"
    assert job_of("/v20180820/jobs/abc/status") == "abc"
    assert job_of("/v20180820/jobs/abc/tagging") == "abc"
    assert job_of("/v20180820/jobs") == ""


def test_parse_block_missing_switches_are_off() -> None:
    body = (
        b'<PublicAccessBlockConfiguration xmlns="http://awss3control.amazonaws.com/doc/'
        b'2018-08-20/"><BlockPublicAcls>true</BlockPublicAcls>'
        b"<RestrictPublicBuckets> TRUE </RestrictPublicBuckets></PublicAccessBlockConfiguration>"
    )
    assert parse_block(body) == PublicAccessBlock(True, False, False, True)
    assert parse_block(b"<PublicAccessBlockConfiguration/>") == PublicAccessBlock(
        False, False, False, False
    )


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<PublicAccessBlockConfiguration>",
        b"<Other/>",
        b"<PublicAccessBlockConfiguration><BlockPublicAcls>yes</BlockPublicAcls>"
        b"</PublicAccessBlockConfiguration>",
        b"<PublicAccessBlockConfiguration><Unknown>true</Unknown></PublicAccessBlockConfiguration>",
        b'<!DOCTYPE x [<!ENTITY a "b">]><PublicAccessBlockConfiguration/>',
    ],
)
def test_parse_block_refuses_malformed(body: bytes) -> None:
    with pytest.raises(S3ControlError) as caught:
        parse_block(body)
    assert caught.value.code == "MalformedXML"


def test_error_shape_carries_the_request_id() -> None:
    response = error_response(S3ControlError("NoSuchPublicAccessBlockConfiguration"), "RID1")
    assert response.status == 404
    assert response.body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    assert b"<ErrorResponse><Error><Code>NoSuchPublicAccessBlockConfiguration</Code>" in (
        response.body
    )
    assert b"<RequestId>RID1</RequestId>" in response.body


def test_authentication_errors_map_to_s3_codes() -> None:
    signature = to_wire_error(SigV4Error("SignatureDoesNotMatch", "no"))
    assert signature is not None
    assert (signature.code, signature.status) == ("SignatureDoesNotMatch", 403)
    unknown = to_wire_error(InvalidClientTokenId("k"))
    assert unknown is not None
    assert unknown.code == "InvalidAccessKeyId"
    expired = to_wire_error(ExpiredToken("k"))
    assert expired is not None
    assert expired.code == "ExpiredToken"
    assert to_wire_error(RuntimeError("boom")) is None


def test_the_stricter_block_wins() -> None:
    bucket_block = PublicAccessBlock(True, False, False, False)
    account_block = PublicAccessBlock(False, False, True, False)
    assert PublicAccessBlock.strictest(bucket_block, account_block) == PublicAccessBlock(
        True, False, True, False
    )
    assert PublicAccessBlock.strictest(None, account_block) == account_block
    assert PublicAccessBlock.strictest(bucket_block, None) == bucket_block
    assert PublicAccessBlock.strictest(None, None) is None


def test_a_bucket_enforces_its_accounts_block_too() -> None:
    bucket = Bucket(
        name="b",
        tenant_id="t",
        owner_id="o",
        region="r",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        public_access_block=None,
        account_public_access_block=PublicAccessBlock(False, True, False, True),
    )
    assert bucket.effective_public_access_block == PublicAccessBlock(False, True, False, True)
