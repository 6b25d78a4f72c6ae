"""The IAM/STS Query APIs on the S3 endpoint, through boto3 and raw HTTP: dispatch by the
credential scope's service, the Query envelope, and its errors."""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from typing import Any

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from e2e.helpers import REGION
from support.server import ServerProcess

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def client(server: ServerProcess, service: str, secret: str | None = None) -> Any:
    access_key, secret_key = server.credentials()
    session = boto3.session.Session(
        aws_access_key_id=access_key,
        aws_secret_access_key=secret or secret_key,
        region_name=REGION,
    )
    return session.client(
        service, endpoint_url=server.endpoint, config=Config(retries={"max_attempts": 1})
    )


def signed_post(
    server: ServerProcess,
    service: str,
    body: bytes,
    *,
    method: str = "POST",
    extra_headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    access_key, secret_key = server.credentials()
    request = AWSRequest(
        method=method,
        url=server.endpoint + "/",
        data=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            **(extra_headers or {}),
        },
    )
    SigV4Auth(Credentials(access_key, secret_key), service, REGION).add_auth(request)
    prepared = urllib.request.Request(
        request.url, data=body or None, headers=dict(request.headers.items()), method=method
    )
    try:
        with urllib.request.urlopen(prepared, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_sts_get_caller_identity_names_the_root_user(server: ServerProcess) -> None:
    identity = client(server, "sts").get_caller_identity()
    account = identity["Account"]
    assert len(account) == 12 and account.isdigit()
    assert identity["Arn"] == f"arn:aws:iam::{account}:root"
    assert identity["UserId"] == account


def test_a_wrong_secret_is_refused_by_sts(server: ServerProcess) -> None:
    with pytest.raises(ClientError) as caught:
        client(server, "sts", secret="x" * 40).get_caller_identity()
    assert caught.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_unknown_action_gets_invalid_action_with_a_request_id(server: ServerProcess) -> None:
    status, body = signed_post(server, "sts", b"Action=MineBitcoin&Version=2011-06-15")
    assert status == 400
    assert b"<Code>InvalidAction</Code>" in body
    assert b"<RequestId>" in body and b"<ErrorResponse" in body


def test_missing_action_gets_missing_action(server: ServerProcess) -> None:
    status, body = signed_post(server, "sts", b"Version=2011-06-15")
    assert status == 400
    assert b"<Code>MissingAction</Code>" in body


def test_non_utf8_parameters_are_a_protocol_error(server: ServerProcess) -> None:
    status, body = signed_post(server, "sts", b"Action=GetCallerIdentity&X=%ff%fe")
    assert status == 404
    assert b"<Code>MalformedQueryString</Code>" in body


def test_a_body_over_the_limit_is_refused_without_reading_it_all(server: ServerProcess) -> None:
    status, body = signed_post(server, "sts", b"Action=GetCallerIdentity&Pad=" + b"a" * 300_000)
    assert status == 413
    assert b"<Code>RequestEntityTooLarge</Code>" in body


def test_a_signature_for_one_service_does_not_pass_for_s3(server: ServerProcess) -> None:
    """A request signed for a service this endpoint does not serve (RDS; SQS is served since
    decision 0158, DynamoDB since decision 0237, Lambda since decision 0286) falls to S3, which
    refuses a credential scope naming another service."""
    status, body = signed_post(
        server, "rds", b"", method="GET", extra_headers={"x-amz-content-sha256": EMPTY_SHA256}
    )
    assert status == 400
    assert b"AuthorizationHeaderMalformed" in body
    assert b"incorrect service" in body
