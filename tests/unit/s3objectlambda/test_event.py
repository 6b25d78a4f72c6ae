"""S3 Object Lambda's pure parts (decision 0384): the hosts that name an Object Lambda access
point, the presigned inputS3Url (checked by the gateway's own SigV4 verifier, and by
botocore's presigner: the same URL), the WriteGetObjectResponse headers read back."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import urlsplit

import botocore.auth
import pytest
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from andromede.http.sigv4 import SigV4Error, parse_authentication, verify
from andromede.iam.model import Principal, PrincipalKind
from andromede.s3objectlambda.event import (
    HostParser,
    forwarded_answer,
    object_lambda_event,
    presigned_get,
)

NOW = datetime(2026, 12, 7, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("upper-123456789012.s3.localhost:9000", ("upper", "123456789012")),
        ("UPPER-123456789012.S3.LOCALHOST", ("upper", "123456789012")),
        ("my-ol-123456789012.s3-object-lambda.eu-west-3.localhost", ("my-ol", "123456789012")),
        ("upper-123456789012.s3-object-lambda.us-east-1.localhost", None),  # another Region
        ("upper-12345.s3.localhost", None),
        ("a.b-123456789012.s3.localhost", None),
        ("s3.localhost", None),
        ("upper-123456789012.elsewhere.example", None),
    ],
)
def test_hosts(host: str, expected: tuple[str, str] | None) -> None:
    assert HostParser("s3.localhost", "localhost", "eu-west-3").point(host) == expected


def test_the_own_endpoint_form_is_off_without_its_domain() -> None:
    parser = HostParser("s3.localhost", "", "eu-west-3")
    assert parser.point("upper-123456789012.s3-object-lambda.eu-west-3.localhost") is None


@pytest.mark.parametrize("token", [None, "FQoGZXIvYXdzE//token+with/slashes="])
def test_the_presigned_url_verifies_and_is_botocores(
    token: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = presigned_get(
        endpoint="http://127.0.0.1:9001",
        bucket="data-ap-abc-s3alias",
        key="dir/a file+ü.txt",
        access_key_id="AKIDEXAMPLE",
        secret_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        session_token=token,
        region="eu-west-3",
        now=NOW,
        expires=90,
    )
    parts = urlsplit(url)
    headers = {"host": parts.netloc}
    signed = parse_authentication("GET", parts.path, parts.query, headers)
    assert signed is not None and signed.presigned and signed.expires == 90
    assert signed.service == "s3" and signed.region == "eu-west-3"
    verify(signed, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", method="GET",
        raw_path=parts.path, raw_query=parts.query, headers=headers, region="eu-west-3",
        now=NOW, clock_skew=900, max_presign_expiry=604800)  # fmt: skip
    with pytest.raises(SigV4Error):
        verify(signed, "another secret", method="GET", raw_path=parts.path,
            raw_query=parts.query, headers=headers, region="eu-west-3", now=NOW,
            clock_skew=900, max_presign_expiry=604800)  # fmt: skip
    # botocore presigns the same request to the same signature.
    request = AWSRequest(method="GET", url=url.split("?", 1)[0])
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: NOW.replace(tzinfo=None))
    credentials = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    S3SigV4QueryAuth(credentials, "s3", "eu-west-3", expires=90).add_auth(request)
    assert request.url.rsplit("X-Amz-Signature=", 1)[1] == url.rsplit("X-Amz-Signature=", 1)[1]


def test_the_event() -> None:
    principal = Principal(
        tenant_id="123456789012",
        user_id="AIDAEXAMPLE",
        user_name="reader",
        kind=PrincipalKind.USER,
        arn="arn:aws:iam::123456789012:user/reader",
    )
    event = json.loads(
        object_lambda_event(
            request_id="REQ",
            point_arn="arn:aws:s3-object-lambda:eu-west-3:123456789012:accesspoint/upper",
            supporting_arn="arn:aws:s3:eu-west-3:123456789012:accesspoint/data-ap",
            payload=None,
            input_url="http://127.0.0.1:9001/x/k?sig",
            output_route="io-1",
            output_token="tok",
            user_url="http://upper-123456789012.s3.localhost/k",
            user_headers={
                "host": "h",
                "authorization": "secret",
                "x-amz-security-token": "t",
                "x-amz-date": "d",
            },
            principal=principal,
            access_key_id="AKIDEXAMPLE",
        )
    )
    assert event == {
        "xAmzRequestId": "REQ",
        "getObjectContext": {
            "inputS3Url": "http://127.0.0.1:9001/x/k?sig",
            "outputRoute": "io-1",
            "outputToken": "tok",
        },
        "configuration": {
            "accessPointArn": "arn:aws:s3-object-lambda:eu-west-3:123456789012:accesspoint/upper",
            "supportingAccessPointArn": "arn:aws:s3:eu-west-3:123456789012:accesspoint/data-ap",
        },
        "userRequest": {
            "url": "http://upper-123456789012.s3.localhost/k",
            "headers": {"Host": "h", "X-Amz-Date": "d"},
        },
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLE",
            "arn": "arn:aws:iam::123456789012:user/reader",
            "accountId": "123456789012",
            "accessKeyId": "AKIDEXAMPLE",
        },
        "protocolVersion": "1.00",
    }


def test_the_forwarded_answer() -> None:
    answer = forwarded_answer(
        {
            "x-amz-fwd-status": "206",
            "x-amz-fwd-header-content-type": "text/plain",
            "x-amz-fwd-header-etag": '"abc"',
            "x-amz-meta-colour": "blue",
            "x-amz-request-token": "not passed on",
            "authorization": "not passed on",
        }
    )
    assert answer is not None
    assert answer.status == 206
    assert answer.headers == [
        ("Content-Type", "text/plain"),
        ("Etag", '"abc"'),
        ("x-amz-meta-colour", "blue"),
    ]
    assert answer.error_code is None
    assert forwarded_answer({}) is not None
    assert forwarded_answer({"x-amz-fwd-status": "99"}) is None
    assert forwarded_answer({"x-amz-fwd-status": "OK"}) is None
