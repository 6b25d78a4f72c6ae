"""SigV4 for S3 against published vectors (AWS suite, S3 docs examples) and botocore as oracle."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSPreparedRequest, AWSRequest, AWSResponse
from botocore.compat import HTTPHeaders
from botocore.config import Config
from botocore.credentials import Credentials

from andromede.http.sigv4 import (
    SignedRequest,
    SigV4Error,
    canonical_request,
    credential_service,
    derive_signing_key,
    parse_authentication,
    sign,
    string_to_sign,
    verify,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

VECTORS = Path(__file__).parent / "vectors" / "aws4_testsuite" / "v4_header_signing.json"
SUITE = json.loads(VECTORS.read_text(encoding="utf-8"))

# --------------------------------------------------------------------------- AWS SigV4 suite


def _suite_request(case: dict[str, Any]) -> tuple[str, str, str, dict[str, str], tuple[str, ...]]:
    """Method, path, query, headers and signed headers of a suite case, signed as aws-c-auth."""
    head, _, body = case["request"].partition("\n\n")
    request_line, *header_lines = head.split("\n")
    method, _, rest = request_line.partition(" ")
    target = rest.rpartition(" ")[0]  # the suite's targets may hold spaces ("/example space/")
    path, _, query = target.partition("?")
    headers: dict[str, list[str]] = {}
    for line in header_lines:
        if line:
            name, _, value = line.partition(":")
            headers.setdefault(name.lower(), []).append(value.strip())
    headers["x-amz-date"] = [SUITE["context"]["timestamp"]]
    if case["sign_body"]:
        headers["x-amz-content-sha256"] = [hashlib.sha256(body.encode()).hexdigest()]
    if "token" in case and not case["omit_session_token"]:
        headers["x-amz-security-token"] = [case["token"]]
    signed = tuple(sorted(headers))
    if "token" in case and case["omit_session_token"]:
        headers["x-amz-security-token"] = [case["token"]]  # added after signing: unsigned
    return method, path, query, {k: ",".join(v) for k, v in headers.items()}, signed


SUITE_IDS = [case["name"] for case in SUITE["cases"]]


@pytest.mark.parametrize("case", SUITE["cases"], ids=SUITE_IDS)
def test_aws_suite_canonical_request_string_to_sign_and_signature(case: dict[str, Any]) -> None:
    ctx = SUITE["context"]
    method, path, query, headers, signed = _suite_request(case)
    payload = hashlib.sha256(case["request"].partition("\n\n")[2].encode()).hexdigest()

    creq = canonical_request(method, path, query, headers, signed, payload, presigned=False)
    assert creq == case["canonical_request"]
    sts = string_to_sign(
        ctx["timestamp"], f"20150830/{ctx['region']}/{ctx['service']}/aws4_request", creq
    )
    assert sts == case["string_to_sign"]
    key = derive_signing_key(ctx["secret_access_key"], "20150830", ctx["region"], ctx["service"])
    assert sign(key, sts) == case["signature"]


@pytest.mark.parametrize("case", SUITE["cases"], ids=SUITE_IDS)
def test_aws_suite_signature_verifies_and_a_flipped_one_does_not(case: dict[str, Any]) -> None:
    ctx = SUITE["context"]
    method, path, query, headers, signed = _suite_request(case)
    claim = SignedRequest(
        access_key_id=ctx["access_key_id"],
        scope_date="20150830",
        region=ctx["region"],
        service=ctx["service"],
        signed_headers=signed,
        signature=case["signature"],
        amz_date=datetime(2015, 8, 30, 12, 36, tzinfo=UTC),
        payload_hash=hashlib.sha256(case["request"].partition("\n\n")[2].encode()).hexdigest(),
        presigned=False,
        expires=None,
    )
    kwargs: dict[str, Any] = {
        "method": method, "raw_path": path, "raw_query": query, "headers": headers,
        "region": "us-east-1", "now": claim.amz_date, "clock_skew": 900,
        "max_presign_expiry": 604800,
    }  # fmt: skip
    context = verify(claim, ctx["secret_access_key"], **kwargs)
    assert context.seed_signature == case["signature"]
    assert context.scope == "20150830/us-east-1/service/aws4_request"
    flipped = case["signature"][:-1] + ("0" if case["signature"][-1] != "0" else "1")
    with pytest.raises(SigV4Error) as info:
        verify(replace(claim, signature=flipped), ctx["secret_access_key"], **kwargs)
    assert info.value.code == "SignatureDoesNotMatch"
    assert info.value.details["CanonicalRequest"] == case["canonical_request"]
    assert info.value.details["StringToSign"] == case["string_to_sign"]


# --------------------------------------------------------------------------- S3 docs examples
# "Signature Calculations for the Authorization Header: Transferring Payload in a Single Chunk"
# and "Authenticating Requests: Using Query Parameters", Amazon S3 API Reference.

DOC_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
DOC_AKID = "AKIAIOSFODNN7EXAMPLE"
DOC_HOST = "examplebucket.s3.amazonaws.com"
DOC_NOW = datetime(2013, 5, 24, tzinfo=UTC)
EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
WELCOME = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"

S3_DOC_EXAMPLES = [
    pytest.param(
        "GET", "/test.txt", "",
        {"range": "bytes=0-9", "x-amz-content-sha256": EMPTY},
        "host;range;x-amz-content-sha256;x-amz-date",
        f"GET\n/test.txt\n\nhost:{DOC_HOST}\nrange:bytes=0-9\nx-amz-content-sha256:{EMPTY}\n"
        f"x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n{EMPTY}",
        "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
        id="get-object-range",
    ),
    pytest.param(
        "PUT", "/test$file.text", "",
        {"date": "Fri, 24 May 2013 00:00:00 GMT", "x-amz-storage-class": "REDUCED_REDUNDANCY",
         "x-amz-content-sha256": WELCOME},
        "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
        f"PUT\n/test%24file.text\n\ndate:Fri, 24 May 2013 00:00:00 GMT\nhost:{DOC_HOST}\n"
        f"x-amz-content-sha256:{WELCOME}\nx-amz-date:20130524T000000Z\n"
        f"x-amz-storage-class:REDUCED_REDUNDANCY\n\n"
        f"date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n{WELCOME}",
        "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d",
        "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
        id="put-object",
    ),
    pytest.param(
        "GET", "/", "lifecycle",
        {"x-amz-content-sha256": EMPTY},
        "host;x-amz-content-sha256;x-amz-date",
        f"GET\n/\nlifecycle=\nhost:{DOC_HOST}\nx-amz-content-sha256:{EMPTY}\n"
        f"x-amz-date:20130524T000000Z\n\nhost;x-amz-content-sha256;x-amz-date\n{EMPTY}",
        "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca",
        "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
        id="get-bucket-lifecycle",
    ),
    pytest.param(
        "GET", "/", "max-keys=2&prefix=J",
        {"x-amz-content-sha256": EMPTY},
        "host;x-amz-content-sha256;x-amz-date",
        f"GET\n/\nmax-keys=2&prefix=J\nhost:{DOC_HOST}\nx-amz-content-sha256:{EMPTY}\n"
        f"x-amz-date:20130524T000000Z\n\nhost;x-amz-content-sha256;x-amz-date\n{EMPTY}",
        "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7",
        "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
        id="list-objects",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "query", "extra", "signed", "creq", "sts_hash", "signature"),
    S3_DOC_EXAMPLES,
)
def test_s3_documentation_examples(
    method: str, path: str, query: str, extra: dict[str, str], signed: str, creq: str,
    sts_hash: str, signature: str,
) -> None:  # fmt: skip
    headers = {"host": DOC_HOST, "x-amz-date": "20130524T000000Z", **extra}
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={DOC_AKID}/20130524/us-east-1/s3/aws4_request,"
        f"SignedHeaders={signed},Signature={signature}"
    )
    claim = parse_authentication(method, path, query, headers)
    assert claim is not None
    assert claim.signed_headers == tuple(signed.split(";"))
    assert (
        canonical_request(
            method, path, query, headers, claim.signed_headers, claim.payload_hash, presigned=False
        )
        == creq
    )
    assert string_to_sign("20130524T000000Z", "20130524/us-east-1/s3/aws4_request", creq) == (
        f"AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n{sts_hash}"
    )
    context = verify(
        claim, DOC_SECRET, method=method, raw_path=path, raw_query=query, headers=headers,
        region="us-east-1", now=DOC_NOW, clock_skew=900, max_presign_expiry=604800,
    )  # fmt: skip
    assert context.seed_signature == signature
    assert context.amz_date == "20130524T000000Z"


PRESIGNED_QUERY = (
    "X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
    "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
)


def _verify_doc_presigned(query: str, now: datetime, **overrides: Any) -> Any:
    headers = {"host": DOC_HOST}
    claim = parse_authentication("GET", "/test.txt", query, headers)
    assert claim is not None
    kwargs: dict[str, Any] = {
        "method": "GET", "raw_path": "/test.txt", "raw_query": query, "headers": headers,
        "region": "us-east-1", "now": now, "clock_skew": 900, "max_presign_expiry": 604800,
    }  # fmt: skip
    kwargs.update(overrides)
    return verify(claim, DOC_SECRET, **kwargs)


def test_s3_documentation_presigned_url() -> None:
    claim = parse_authentication("GET", "/test.txt", PRESIGNED_QUERY, {"host": DOC_HOST})
    assert claim is not None
    assert claim.presigned and claim.expires == 86400
    assert claim.payload_hash == "UNSIGNED-PAYLOAD"
    creq = canonical_request(
        "GET", "/test.txt", PRESIGNED_QUERY, {"host": DOC_HOST}, ("host",), "UNSIGNED-PAYLOAD",
        presigned=True,
    )  # fmt: skip
    assert hashlib.sha256(creq.encode()).hexdigest() == (
        "3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04"
    )
    context = _verify_doc_presigned(PRESIGNED_QUERY, DOC_NOW + timedelta(hours=23))
    assert context.seed_signature.startswith("aeeed9bb")


def test_presigned_url_expires() -> None:
    with pytest.raises(SigV4Error) as info:
        _verify_doc_presigned(PRESIGNED_QUERY, DOC_NOW + timedelta(seconds=86401))
    assert (info.value.code, info.value.message) == ("AccessDenied", "Request has expired")
    assert info.value.details == {
        "X-Amz-Expires": "86400",
        "Expires": "2013-05-25T00:00:00Z",
        "ServerTime": "2013-05-25T00:00:01Z",
    }


def test_presigned_url_not_valid_yet() -> None:
    with pytest.raises(SigV4Error) as info:
        _verify_doc_presigned(PRESIGNED_QUERY, DOC_NOW - timedelta(seconds=901))
    assert (info.value.code, info.value.message) == ("AccessDenied", "Request is not valid yet")
    # Within the skew it is accepted.
    _verify_doc_presigned(PRESIGNED_QUERY, DOC_NOW - timedelta(seconds=899))


def test_presigned_expiry_beyond_configured_maximum() -> None:
    with pytest.raises(SigV4Error) as info:
        _verify_doc_presigned(PRESIGNED_QUERY, DOC_NOW, max_presign_expiry=3600)
    assert info.value.code == "AuthorizationQueryParametersError"
    assert "maximum expires is 3600" in info.value.message


def test_presigned_wrong_region() -> None:
    with pytest.raises(SigV4Error) as info:
        _verify_doc_presigned(PRESIGNED_QUERY, DOC_NOW, region="eu-west-3")
    assert info.value.code == "AuthorizationQueryParametersError"
    assert info.value.message == (
        "Error parsing the X-Amz-Credential parameter; the region 'us-east-1' is wrong; "
        "expecting 'eu-west-3'"
    )
    assert info.value.details == {"Region": "eu-west-3"}


def test_presigned_tampered_query_does_not_match() -> None:
    query = PRESIGNED_QUERY + "&response-content-type=text%2Fhtml"
    with pytest.raises(SigV4Error) as info:
        _verify_doc_presigned(query, DOC_NOW)
    assert info.value.code == "SignatureDoesNotMatch"
    assert "response-content-type=text%2Fhtml" in info.value.details["CanonicalRequest"]
    assert "X-Amz-Signature" not in info.value.details["CanonicalRequest"]


# --------------------------------------------------------------------------- botocore as oracle

AKID = "AKIDANDROMEDE0000001"
SECRET = "s3cr3t/with+plus=and~tilde"


class _NoBody:
    def stream(self, **_: Any) -> Iterator[bytes]:
        return iter([b""])


def _capture(
    endpoint: str = "http://localhost:9000",
) -> tuple[S3Client, list[AWSPreparedRequest]]:
    """A real boto3 client whose requests are captured, fully signed, instead of being sent."""
    client = boto3.client(
        "s3", endpoint_url=endpoint, region_name="eu-west-3", aws_access_key_id=AKID,
        aws_secret_access_key=SECRET,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )  # fmt: skip
    sent: list[AWSPreparedRequest] = []

    def before_send(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        sent.append(request)
        return AWSResponse(request.url, 200, HTTPHeaders(), _NoBody())

    hook: Callable[..., None] = before_send  # type: ignore[assignment]  # botocore's hint is narrow: a before-send hook may answer
    client.meta.events.register("before-send.s3", hook)
    return client, sent


def _wire(request: AWSPreparedRequest) -> tuple[str, str, str, dict[str, str]]:
    url = urlsplit(request.url)
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        text = value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value
        key = name.lower()
        headers[key] = f"{headers[key]},{text}" if key in headers else text
    return request.method, url.path, url.query, headers


def _verify_wire(
    method: str, path: str, query: str, headers: dict[str, str], *, from_botocore: bool = True
) -> Any:
    claim = parse_authentication(method, path, query, headers)
    assert claim is not None
    if from_botocore:
        _assert_aws_form_reproduces(claim, method, path, query, headers)
    return verify(
        claim, SECRET, method=method, raw_path=path, raw_query=query, headers=headers,
        region="eu-west-3", now=claim.amz_date, clock_skew=900, max_presign_expiry=604800,
    )  # fmt: skip


def _assert_aws_form_reproduces(
    claim: SignedRequest, method: str, path: str, query: str, headers: dict[str, str]
) -> None:
    """AWS's canonical form, not only the as-sent fallback, reproduces botocore's signature."""
    creq = canonical_request(
        method, path, query, headers, claim.signed_headers, claim.payload_hash,
        presigned=claim.presigned,
    )  # fmt: skip
    scope = f"{claim.scope_date}/{claim.region}/{claim.service}/aws4_request"
    amz_date = claim.amz_date.strftime("%Y%m%dT%H%M%SZ")
    key = derive_signing_key(SECRET, claim.scope_date, claim.region, claim.service)
    assert sign(key, string_to_sign(amz_date, scope, creq)) == claim.signature


KEYS = [
    "plain.txt",
    "with space/and+plus=equals~tilde",
    "unicodé/ü/日本語.txt",
    "percent%2Fencoded%25literal",
    "a//double/./dot/../key",
    "specials !$&'()*,;:@[]",
]


@pytest.mark.parametrize("key", KEYS)
def test_botocore_header_signed_requests_verify(key: str) -> None:
    client, sent = _capture()
    client.put_object(Bucket="bkt", Key=key, Body=b"hello", Metadata={"note": "a  b"})
    client.get_object(Bucket="bkt", Key=key, Range="bytes=0-1")
    client.list_objects_v2(Bucket="bkt", Prefix=key, Delimiter="/")
    client.head_object(Bucket="bkt", Key=key, VersionId="v 1+2")
    for request in sent:
        _verify_wire(*_wire(request))


@pytest.mark.parametrize("key", KEYS)
def test_botocore_presigned_urls_verify(key: str) -> None:
    client, _ = _capture()
    url = urlsplit(
        client.generate_presigned_url(
            "get_object",
            Params={"Bucket": "bkt", "Key": key, "ResponseContentDisposition": "attachment; x=é"},
            ExpiresIn=600,
        )
    )
    context = _verify_wire("GET", url.path, url.query, {"host": url.netloc})
    assert len(context.seed_signature) == 64
    # The same URL for another key does not verify.
    with pytest.raises(SigV4Error) as info:
        _verify_wire("GET", url.path + "x", url.query, {"host": url.netloc}, from_botocore=False)
    assert info.value.code == "SignatureDoesNotMatch"


def test_botocore_streaming_upload_seed_signature_verifies() -> None:
    client, sent = _capture(endpoint="https://localhost:9000")
    client.put_object(Bucket="bkt", Key="k", Body=io.BytesIO(b"x" * 100), ChecksumAlgorithm="CRC32")
    method, path, query, headers = _wire(sent[-1])
    assert headers["x-amz-content-sha256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    _verify_wire(method, path, query, headers)


def test_client_that_signs_the_path_as_sent_is_accepted() -> None:
    # Some clients send '+' and '=' unencoded and sign exactly that; S3 re-encodes, and so do
    # we first, but the key is the same either way.
    path, query = "/bkt/a+b=c", "prefix=x+y"
    headers = {"host": "localhost:9000", "x-amz-date": "20240102T030405Z",
               "x-amz-content-sha256": EMPTY}  # fmt: skip
    signed = ("host", "x-amz-content-sha256", "x-amz-date")
    creq = f"GET\n{path}\n{query}\n" + "".join(f"{h}:{headers[h]}\n" for h in signed)
    creq += f"\n{';'.join(signed)}\n{EMPTY}"
    key = derive_signing_key(SECRET, "20240102", "eu-west-3", "s3")
    scope = "20240102/eu-west-3/s3/aws4_request"
    signature = sign(key, string_to_sign("20240102T030405Z", scope, creq))
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={AKID}/{scope}, SignedHeaders={';'.join(signed)}, "
        f"Signature={signature}"
    )
    _verify_wire("GET", path, query, headers, from_botocore=False)


def test_a_non_s3_path_encoded_twice_is_accepted() -> None:
    # AWS's SDKs encode a path twice outside S3 (EventBridge Pipes' /tags/<arn>; decision
    # 0258): botocore's own signer of the ``pipes`` service, verified here.
    path = "/tags/arn%3Aaws%3Apipes%3Aeu-west-3%3A000000000001%3Apipe%2Forders"
    request = AWSRequest(method="GET", url=f"http://localhost:9000{path}",
                         headers={"x-amz-content-sha256": EMPTY})  # fmt: skip
    SigV4Auth(Credentials(AKID, SECRET), "pipes", "eu-west-3").add_auth(request)
    headers = {k.lower(): str(v) for k, v in request.headers.items()}
    headers["host"] = "localhost:9000"
    _verify_wire("GET", path, "", headers, from_botocore=False)
    # The same signature over another ARN does not verify.
    with pytest.raises(SigV4Error):
        _verify_wire("GET", path.replace("orders", "other"), "", headers, from_botocore=False)


# --------------------------------------------------------------------------- error paths


def _signed_headers(**overrides: str | None) -> dict[str, str]:
    headers: dict[str, str | None] = {
        "host": "localhost:9000",
        "x-amz-date": "20240102T030405Z",
        "x-amz-content-sha256": EMPTY,
        "authorization": f"AWS4-HMAC-SHA256 Credential={AKID}/20240102/eu-west-3/s3/aws4_request, "
        f"SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={'0' * 64}",
    }
    headers.update(overrides)
    return {k: v for k, v in headers.items() if v is not None}


def _error(call: Callable[[], object]) -> SigV4Error:
    with pytest.raises(SigV4Error) as info:
        call()
    return info.value


def test_anonymous_request_is_none() -> None:
    assert parse_authentication("GET", "/bkt/k", "versionId=1", {"host": "h"}) is None


@pytest.mark.parametrize(
    ("headers", "query", "code", "message"),
    [
        pytest.param(
            {"authorization": "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg="},
            "",
            "InvalidRequest",
            "The authorization mechanism you have provided is not supported. "
            "Please use AWS4-HMAC-SHA256.",
            id="sigv2-header",
        ),
        pytest.param(
            {"authorization": None},
            "AWSAccessKeyId=AKID&Expires=1&Signature=abc",
            "InvalidRequest",
            "The authorization mechanism you have provided is not supported. "
            "Please use AWS4-HMAC-SHA256.",
            id="sigv2-query",
        ),
        pytest.param(
            {"authorization": "AWS4-ECDSA-P256-SHA256 Credential=x"},
            "",
            "AuthorizationHeaderMalformed",
            "The authorization header is malformed; the authorization header requires three "
            "components: Credential, SignedHeaders, and Signature.",
            id="sigv4a-malformed",  # SigV4a is checked since decision 0355
        ),
        pytest.param(
            {
                "authorization": "AWS4-ECDSA-P256-SHA256 Credential=x, SignedHeaders=host, "
                "Signature=00"
            },
            "",
            "AuthorizationHeaderMalformed",
            "The authorization header is malformed; the Credential is mal-formed; "
            'expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".',
            id="sigv4a-no-region-set",
        ),
        pytest.param(
            {"authorization": "Bearer token"},
            "",
            "InvalidArgument",
            "Unsupported Authorization Type",
            id="unknown-scheme",
        ),
        pytest.param(
            {},
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "InvalidArgument",
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
            "Signature query string parameter or the Authorization header should be specified",
            id="header-and-query",
        ),
        pytest.param(
            {
                "authorization": f"AWS4-HMAC-SHA256 Credential={AKID}/20240102/eu-west-3/s3/"
                "aws4_request, Signature=" + "0" * 64
            },
            "",
            "AuthorizationHeaderMalformed",
            "The authorization header is malformed; the authorization header requires three "
            "components: Credential, SignedHeaders, and Signature.",
            id="missing-signed-headers",
        ),
        pytest.param(
            {"authorization": "AWS4-HMAC-SHA256 Credential, SignedHeaders=host, Signature=0"},
            "",
            "AuthorizationHeaderMalformed",
            'The authorization header is malformed; the authorization component "Credential" '
            "is malformed.",
            id="component-without-value",
        ),
        pytest.param(
            {
                "authorization": f"AWS4-HMAC-SHA256 Credential={AKID}/20240102/eu-west-3/s3, "
                "SignedHeaders=host, Signature=" + "0" * 64
            },
            "",
            "AuthorizationHeaderMalformed",
            "The authorization header is malformed; the Credential is mal-formed; "
            'expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".',
            id="short-credential",
        ),
        pytest.param(
            {
                "authorization": f"AWS4-HMAC-SHA256 Credential={AKID}/20241399/eu-west-3/s3/"
                "aws4_request, SignedHeaders=host, Signature=" + "0" * 64
            },
            "",
            "AuthorizationHeaderMalformed",
            "The authorization header is malformed; the Credential is mal-formed; "
            'expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".',
            id="bad-credential-date",
        ),
        pytest.param(
            {
                "authorization": f"AWS4-HMAC-SHA256 Credential={AKID}/20240102/eu-west-3/s3/"
                "aws4_reques, SignedHeaders=host, Signature=" + "0" * 64
            },
            "",
            "AuthorizationHeaderMalformed",
            'The authorization header is malformed; incorrect terminal "aws4_reques". '
            'This endpoint uses "aws4_request".',
            id="bad-terminal",
        ),
        pytest.param(
            {
                "authorization": f"AWS4-HMAC-SHA256 Credential={AKID}/20240102/eu-west-3/s3/"
                "aws4_request, SignedHeaders=x-amz-date, Signature=" + "0" * 64
            },
            "",
            "AuthorizationHeaderMalformed",
            "The authorization header is malformed; SignedHeaders must include host.",
            id="host-not-signed",
        ),
        pytest.param(
            {"x-amz-date": None},
            "",
            "AccessDenied",
            "AWS authentication requires a valid Date or x-amz-date header",
            id="no-date",
        ),
        pytest.param(
            {"x-amz-date": "2024-01-02T03:04:05Z"},
            "",
            "AccessDenied",
            "AWS authentication requires a valid Date or x-amz-date header",
            id="bad-amz-date",
        ),
        pytest.param(
            {"x-amz-date": None, "date": "yesterday"},
            "",
            "AccessDenied",
            "AWS authentication requires a valid Date or x-amz-date header",
            id="bad-date",
        ),
        pytest.param(
            {"x-amz-content-sha256": None},
            "",
            "InvalidRequest",
            "Missing required header for this request: x-amz-content-sha256",
            id="no-content-sha256",
        ),
        pytest.param(
            {"x-amz-content-sha256": "not-a-hash"},
            "",
            "InvalidArgument",
            "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER "
            "or a valid sha256 value.",
            id="bad-content-sha256",
        ),
    ],
)
def test_header_parse_errors(
    headers: dict[str, str | None], query: str, code: str, message: str
) -> None:
    error = _error(lambda: parse_authentication("GET", "/b/k", query, _signed_headers(**headers)))
    assert (error.code, error.message) == (code, message)


_GOOD_QUERY = {
    "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
    "X-Amz-Credential": f"{AKID}%2F20240102%2Feu-west-3%2Fs3%2Faws4_request",
    "X-Amz-Date": "20240102T030405Z",
    "X-Amz-Expires": "3600",
    "X-Amz-SignedHeaders": "host",
    "X-Amz-Signature": "0" * 64,
}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param(
            {"X-Amz-Signature": None},
            "Query-string authentication version 4 requires the X-Amz-Algorithm, "
            "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and "
            "X-Amz-Expires parameters.",
            id="missing-signature",
        ),
        pytest.param(
            {"X-Amz-Algorithm": "AWS4-HMAC-SHA1"},
            'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"',
            id="algorithm",
        ),
        pytest.param(
            {"X-Amz-Credential": "AKID%2F20240102%2Feu-west-3"},
            "Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; "
            'expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".',
            id="credential",
        ),
        pytest.param(
            {"X-Amz-Date": "20240102"},
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"",
            id="date",
        ),
        pytest.param({"X-Amz-Expires": "soon"}, "X-Amz-Expires should be a number", id="nan"),
        pytest.param({"X-Amz-Expires": "-1"}, "X-Amz-Expires must be non-negative", id="neg"),
        pytest.param(
            {"X-Amz-Expires": "604801"},
            "X-Amz-Expires must be less than a week (in seconds) that is; "
            "the maximum expires is 604800",
            id="over-a-week",
        ),
        pytest.param(
            {"X-Amz-SignedHeaders": "x-amz-date"},
            "Query-string authentication requires the host header to be signed "
            "(X-Amz-SignedHeaders must include host).",
            id="host-not-signed",
        ),
    ],
)
def test_presigned_parse_errors(overrides: dict[str, str | None], message: str) -> None:
    params = {**_GOOD_QUERY, **overrides}
    query = "&".join(f"{k}={v}" for k, v in params.items() if v is not None)
    error = _error(lambda: parse_authentication("GET", "/b/k", query, {"host": "h"}))
    assert (error.code, error.message) == ("AuthorizationQueryParametersError", message)


def _header_claim(**overrides: Any) -> SignedRequest:
    claim = parse_authentication("GET", "/b/k", "", _signed_headers())
    assert claim is not None
    return replace(claim, **overrides)


def _verify_claim(
    claim: SignedRequest, now: datetime | None = None, region: str = "eu-west-3"
) -> Any:
    return verify(
        claim, SECRET, method="GET", raw_path="/b/k", raw_query="", headers=_signed_headers(),
        region=region, now=now or claim.amz_date, clock_skew=900, max_presign_expiry=604800,
    )  # fmt: skip


def test_wrong_region_in_header_scope() -> None:
    error = _error(lambda: _verify_claim(_header_claim(), region="us-east-1"))
    assert error.code == "AuthorizationHeaderMalformed"
    assert error.message == (
        "The authorization header is malformed; the region 'eu-west-3' is wrong; "
        "expecting 'us-east-1'"
    )
    assert error.details == {"Region": "us-east-1"}


def test_scope_date_differs_from_request_date() -> None:
    error = _error(lambda: _verify_claim(_header_claim(scope_date="20240101")))
    assert error.code == "AuthorizationHeaderMalformed"
    assert "Invalid credential date" in error.message


def test_presigned_scope_date_differs_from_request_date() -> None:
    query = "&".join(f"{k}={v}" for k, v in _GOOD_QUERY.items())
    claim = parse_authentication("GET", "/b/k", query, {"host": "h"})
    assert claim is not None
    error = _error(lambda: _verify_claim(replace(claim, scope_date="20240101")))
    assert error.code == "AuthorizationQueryParametersError"
    assert error.message == (
        'Invalid credential date "20240101". This date is not the same as X-Amz-Date: "20240102".'
    )


@pytest.mark.parametrize("delta", [timedelta(seconds=901), timedelta(seconds=-901)])
def test_request_time_too_skewed(delta: timedelta) -> None:
    claim = _header_claim()
    error = _error(lambda: _verify_claim(claim, now=claim.amz_date + delta))
    assert error.code == "RequestTimeTooSkewed"
    assert error.details["RequestTime"] == "20240102T030405Z"
    assert error.details["MaxAllowedSkewMilliseconds"] == "900000"
    assert error.details["ServerTime"] == (claim.amz_date + delta).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_skew_within_limit_goes_on_to_the_signature() -> None:
    claim = _header_claim()
    error = _error(lambda: _verify_claim(claim, now=claim.amz_date + timedelta(seconds=899)))
    assert error.code == "SignatureDoesNotMatch"
    assert error.details["AWSAccessKeyId"] == AKID
    assert error.details["SignatureProvided"] == "0" * 64
    assert SECRET not in str(error.details)


def test_date_header_is_used_without_x_amz_date() -> None:
    headers = _signed_headers(**{"x-amz-date": None, "date": "Tue, 02 Jan 2024 03:04:05 GMT"})
    claim = parse_authentication("GET", "/b/k", "", headers)
    assert claim is not None
    assert claim.amz_date == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_signing_key_is_memoised() -> None:
    derive_signing_key.cache_clear()
    first = derive_signing_key(SECRET, "20240102", "eu-west-3", "s3")
    assert derive_signing_key(SECRET, "20240102", "eu-west-3", "s3") is first
    assert derive_signing_key.cache_info().hits == 1


# --------------------------------------------------------------------------- routing

_SCOPE = b"Credential=AK/20261129/eu-fr-1/{}/aws4_request, SignedHeaders=host, Signature=x"


def _authorization(service: str) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", b"AWS4-HMAC-SHA256 " + _SCOPE.replace(b"{}", service.encode()))]


@pytest.mark.parametrize(
    ("query", "headers", "expected"),
    [
        (b"", _authorization("iam"), "iam"),
        (b"", [(b"Authorization", _authorization("kms")[0][1])], "kms"),
        (b"X-Amz-Credential=AK%2F20261129%2Fr%2Fs3%2Faws4_request&X-Amz-Date=1", [], "s3"),
        (b"a=1&X-Amz-Credential=AK%2F20261129%2Fr%2Fsts%2Faws4_request", [], "sts"),
        (b"", [], None),
        (b"", [(b"authorization", b"AWS AK:signature")], None),
        (b"", [(b"authorization", b"AWS4-HMAC-SHA256 Credential=AK/sts")], None),
        (b"NotX-Amz-Credential=AK%2F20261129%2Fr%2Fiam%2Faws4_request", [], None),
    ],
)
def test_credential_service_names_the_api_to_route_to(
    query: bytes, headers: list[tuple[bytes, bytes]], expected: str | None
) -> None:
    assert credential_service(query, headers) == expected
