"""SigV4a (decision 0355): a request botocore signs with AWS's CRT (``AWS4-ECDSA-P256-SHA256``,
as its EventBridge ruleset asks for PutEvents naming a global endpoint) is routed to its
service and verified with the key the secret derives; a changed body, another secret, a
Region set without the endpoint's Region and a stale date are refused."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.crt.auth import CrtS3SigV4AsymQueryAuth, CrtSigV4AsymAuth

from andromede.http.sigv4 import SigV4Error, credential_service, parse_authentication, verify
from andromede.http.sigv4a import derive_private_value

KEY_ID, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
BODY = b'{"Entries": [{"Source": "a b", "DetailType": "c", "Detail": "{}"}]}'


def signed_request(region_set: str = "*", body: bytes = BODY) -> dict[str, str]:
    request = AWSRequest(
        method="POST",
        url="http://127.0.0.1:9000/",
        data=body,
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "AWSEvents.PutEvents",
        },
    )
    CrtSigV4AsymAuth(Credentials(KEY_ID, SECRET), "events", region_set).add_auth(request)
    headers = {k.lower(): v for k, v in request.headers.items()}
    headers["host"] = "127.0.0.1:9000"
    return headers


def check(
    headers: dict[str, str], *, body: bytes = BODY, secret: str = SECRET, **kw: object
) -> None:
    # The JSON APIs put the body's hash in x-amz-content-sha256 before parsing (SigV4 too).
    headers = {**headers, "x-amz-content-sha256": hashlib.sha256(body).hexdigest()}
    signed = parse_authentication("POST", "/", "", headers)
    assert signed is not None
    options: dict[str, object] = {
        "region": "eu-fr-1",
        "now": datetime.now(UTC),
        "clock_skew": 900,
        "max_presign_expiry": 604_800,
    }
    options.update(kw)
    verify(
        signed,
        secret,
        method="POST",
        raw_path="/",
        raw_query="",
        headers=headers,
        **options,  # type: ignore[arg-type]
    )


def test_botocore_sigv4a_is_routed_and_verified() -> None:
    headers = signed_request()
    assert headers["authorization"].startswith("AWS4-ECDSA-P256-SHA256 ")
    raw = [(k.encode(), v.encode()) for k, v in headers.items()]
    assert credential_service(b"", raw) == "events"
    signed = parse_authentication("POST", "/", "", {**headers, "x-amz-content-sha256": "0" * 64})
    assert signed is not None and (signed.region, signed.service) == ("*", "events")
    check(headers)
    check(signed_request("eu-fr-1,eu-de-1"))


def test_what_sigv4a_refuses() -> None:
    headers = signed_request()
    with pytest.raises(SigV4Error) as caught:
        check(headers, body=BODY.replace(b"a b", b"a c"))
    assert caught.value.code == "SignatureDoesNotMatch"
    with pytest.raises(SigV4Error) as caught:
        check(headers, secret=SECRET[:-1] + "L")
    assert caught.value.code == "SignatureDoesNotMatch"
    with pytest.raises(SigV4Error) as caught:
        check(signed_request("eu-de-1"))
    assert caught.value.code == "AuthorizationHeaderMalformed"
    with pytest.raises(SigV4Error) as caught:
        check(headers, now=datetime.now(UTC) + timedelta(hours=1))
    assert caught.value.code == "RequestTimeTooSkewed"
    missing = {k: v for k, v in headers.items() if k != "x-amz-region-set"}
    with pytest.raises(SigV4Error) as caught:
        check(missing)
    assert caught.value.code == "AuthorizationHeaderMalformed"
    # A Region set left out of the signature could be widened to "*" by anyone replaying it.
    unsigned = dict(headers)
    unsigned["authorization"] = unsigned["authorization"].replace(";x-amz-region-set", "")
    assert unsigned["authorization"] != headers["authorization"]
    with pytest.raises(SigV4Error) as caught:
        check(unsigned)
    assert caught.value.code == "AuthorizationHeaderMalformed"


def test_the_derived_key_is_a_p256_scalar() -> None:
    value = derive_private_value(KEY_ID, SECRET)
    assert 1 <= value < 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    assert value != derive_private_value("AKIDOTHER", SECRET)


def test_presigned_sigv4a_is_routed_and_streaming_modes_match_the_algorithm() -> None:
    """Decision 0380: the router finds S3 in a presigned SigV4a URL's shorter scope, and a
    seed of one algorithm cannot announce chunks signed by the other."""
    request = AWSRequest(method="GET", url="http://127.0.0.1:9000/photos/cat")
    CrtS3SigV4AsymQueryAuth(Credentials(KEY_ID, SECRET), "s3", "*", expires=60).add_auth(request)
    query = request.url.partition("?")[2]
    assert credential_service(query.encode(), []) == "s3"
    signed = parse_authentication("GET", "/photos/cat", query, {"host": "127.0.0.1:9000"})
    assert signed is not None and signed.presigned and signed.region == "*"
    verify(
        signed, SECRET, method="GET", raw_path="/photos/cat", raw_query=query,
        headers={"host": "127.0.0.1:9000"}, region="eu-fr-1", now=datetime.now(UTC),
        clock_skew=900, max_presign_expiry=604_800,
    )  # fmt: skip
    headers = {**signed_request(), "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"}
    claim = parse_authentication("POST", "/", "", headers)
    assert claim is not None
    with pytest.raises(SigV4Error) as caught:
        verify(
            claim, SECRET, method="POST", raw_path="/", raw_query="", headers=headers,
            region="eu-fr-1", now=datetime.now(UTC), clock_skew=900, max_presign_expiry=604_800,
        )  # fmt: skip
    assert caught.value.code == "InvalidArgument"
