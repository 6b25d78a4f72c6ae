"""AWS Signature Version 4 for the endpoint's APIs: parsing what the client claims, and checking it.

Pure functions over strings; no I/O, no framework. The flow at the S3 edge is::

    signed = parse_authentication(method, raw_path, raw_query, headers)   # None: anonymous
    secret = <look up signed.access_key_id>
    context = verify(signed, secret, ..., now=..., clock_skew=900, ...)   # raises SigV4Error
    # aws-chunked bodies then go through chunked.AwsChunkedDecoder(mode, context)

Encoding contract: ``raw_path`` and ``raw_query`` are the request-target exactly as sent, and
header values are the bytes as sent; when they are not ASCII, the caller decodes them with
``"utf-8", "surrogateescape"`` so that re-encoding here gives back the bytes the client hashed.

S3 differs from the other AWS services in two ways that matter here: the canonical URI is
neither normalised (``/a/../b`` stays) nor double-encoded, and the payload hash is whatever
``x-amz-content-sha256`` says (checking the body against it is the handler's job). The other
services (IAM, STS, KMS) take small bodies whose hash the server computes; their wire layer puts
that hash in ``x-amz-content-sha256`` before parsing, and only ever uses paths of ``/``, where
the two URI rules agree.

Error codes and messages follow what AWS S3 answers, so that SDKs show their usual errors:

    SigV4Error(code=...)
    ├── AuthorizationHeaderMalformed       bad Credential/SignedHeaders/region/date in the header
    ├── AuthorizationQueryParametersError  the same, for presigned URLs
    ├── InvalidRequest                     SigV2; missing x-amz-content-sha256
    ├── InvalidArgument                    two auth mechanisms at once; unknown scheme; bad hash
    ├── AccessDenied                       no usable date; presigned URL expired or not yet valid
    ├── RequestTimeTooSkewed               header-signed request outside the clock skew
    └── SignatureDoesNotMatch              the signature is wrong (details carry what we signed)
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import quote, unquote_to_bytes

from cryptography.hazmat.primitives.asymmetric import ec

from andromede.errors import AndromedeError
from andromede.http.sigv4a import (
    ALGORITHM_V4A,
    STREAMING_PAYLOAD_TRAILER_V4A,
    STREAMING_PAYLOAD_V4A,
    ecdsa_matches,
    public_key,
    string_to_sign_v4a,
)

__all__ = [
    "ALGORITHM",
    "MAX_PRESIGN_EXPIRY",
    "STREAMING_PAYLOAD",
    "STREAMING_PAYLOAD_TRAILER",
    "STREAMING_UNSIGNED_PAYLOAD_TRAILER",
    "UNSIGNED_PAYLOAD",
    "SigV4Error",
    "SignedRequest",
    "SigningContext",
    "canonical_request",
    "credential_service",
    "derive_signing_key",
    "parse_authentication",
    "sign",
    "string_to_sign",
    "verify",
]

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_PAYLOAD = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_PAYLOAD_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_PAYLOAD_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
#: AWS caps presigned URLs at seven days, whatever the operator configures.
MAX_PRESIGN_EXPIRY = 604_800

_TERMINAL = "aws4_request"
_AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_AMZ_DATE_RE = re.compile(r"\d{8}T\d{6}Z")
_SCOPE_DATE_RE = re.compile(r"\d{8}")
_SHA256_HEX_RE = re.compile(r"[0-9a-fA-F]{64}")
_PAYLOAD_TOKENS = frozenset(
    {UNSIGNED_PAYLOAD, STREAMING_PAYLOAD, STREAMING_PAYLOAD_TRAILER,
     STREAMING_UNSIGNED_PAYLOAD_TRAILER, STREAMING_PAYLOAD_V4A, STREAMING_PAYLOAD_TRAILER_V4A}
)  # fmt: skip
# Chunks signed by one algorithm cannot follow a seed signed by the other (decision 0380).
_STREAMING_BY_ALGORITHM = {
    ALGORITHM: frozenset({STREAMING_PAYLOAD, STREAMING_PAYLOAD_TRAILER}),
    ALGORITHM_V4A: frozenset({STREAMING_PAYLOAD_V4A, STREAMING_PAYLOAD_TRAILER_V4A}),
}

# Messages are AWS's own wording (observed answers of s3.amazonaws.com), kept verbatim because
# SDKs and people search for them.
_UNSUPPORTED_MECHANISM = (
    "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."
)
_NO_DATE = "AWS authentication requires a valid Date or x-amz-date header"
_MALFORMED_CREDENTIAL_HEADER = (
    "The authorization header is malformed; the Credential is mal-formed; "
    'expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'
)
_MALFORMED_CREDENTIAL_QUERY = (
    "Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; "
    'expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'
)
_QUERY_PARAMS_REQUIRED = (
    "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
    "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."
)
_SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your key and signing method."
)


class SigV4Error(AndromedeError):
    """An authentication failure, already in S3's vocabulary.

    ``code`` is the S3 error code to answer with; ``message`` is safe to show (never a secret);
    ``details`` are the extra elements AWS puts in its error XML (``Region``, ``StringToSign``…).
    """

    def __init__(self, code: str, message: str, **details: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details: dict[str, str] = details


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What the client claims, parsed from the Authorization header or a presigned query."""

    access_key_id: str
    scope_date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: datetime
    payload_hash: str
    presigned: bool
    expires: int | None
    # SigV4a (decision 0355): ``region`` is then the X-Amz-Region-Set (``*``, or a list).
    algorithm: str = ALGORITHM


@dataclass(frozen=True, slots=True)
class SigningContext:
    """What the aws-chunked decoder needs once the seed signature has been verified."""

    signing_key: bytes
    amz_date: str
    scope: str
    seed_signature: str
    # SigV4a (decision 0380): chunks are then ECDSA signatures checked with this key.
    ecdsa_key: ec.EllipticCurvePublicKey | None = None


# --------------------------------------------------------------------------- routing


def credential_service(raw_query: bytes, raw_headers: list[tuple[bytes, bytes]]) -> str | None:
    """The service named in the request's credential scope (``s3``, ``iam``, ``kms``…), or None.

    Called on every request before anything else to pick the API, so it only slices bytes; a
    malformed claim is left for the chosen API's full parse to reject in its own words.
    """
    credential: bytes | None = None
    for name, value in raw_headers:
        if name.lower() == b"authorization":
            start = value.find(b"Credential=")
            if start < 0:
                return None
            credential = value[start + 11 :].split(b",", 1)[0]
            if value.lstrip().startswith(ALGORITHM_V4A.encode()):
                # SigV4a's scope has no Region: key/date/service/aws4_request.
                parts = credential.strip().rsplit(b"/", 3)
                return parts[2].decode("latin-1") if len(parts) == 4 else None
            break
    if credential is None:
        start = raw_query.find(b"X-Amz-Credential=")
        if start < 0 or (start > 0 and raw_query[start - 1 : start] != b"&"):
            return None
        credential = unquote_to_bytes(raw_query[start + 17 :].split(b"&", 1)[0])
        if b"X-Amz-Algorithm=" + ALGORITHM_V4A.encode() in raw_query:
            parts = credential.strip().rsplit(b"/", 3)  # presigned SigV4a (decision 0380)
            return parts[2].decode("latin-1") if len(parts) == 4 else None
    parts = credential.strip().rsplit(b"/", 4)
    if len(parts) != 5:
        return None
    return parts[3].decode("latin-1")


# --------------------------------------------------------------------------- parsing


def parse_authentication(
    method: str, raw_path: str, raw_query: str, headers: Mapping[str, str]
) -> SignedRequest | None:
    """Parse the SigV4 claim of a request; ``None`` when the request is anonymous.

    ``headers`` maps lower-case names to values (repeated headers joined with ``","``).
    ``method`` and ``raw_path`` are not needed to parse; they are taken so that the signature
    of this function matches :func:`verify` and may be used for future checks.
    """
    del method, raw_path  # parsing depends only on the headers and the query
    authorization = headers.get("authorization")
    query_names = {_text(name) for name, _ in _split_query(raw_query)}
    presigned = "X-Amz-Algorithm" in query_names or "X-Amz-Credential" in query_names
    sigv2_query = "AWSAccessKeyId" in query_names and "Signature" in query_names
    if authorization is not None and (presigned or sigv2_query):
        raise SigV4Error(
            "InvalidArgument",
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
            "Signature query string parameter or the Authorization header should be specified",
            ArgumentName="Authorization",
        )
    if authorization is not None:
        return _parse_header(authorization, headers)
    if presigned:
        return _parse_query(raw_query, headers)
    if sigv2_query:
        raise SigV4Error("InvalidRequest", _UNSUPPORTED_MECHANISM)
    return None


def _parse_header(authorization: str, headers: Mapping[str, str]) -> SignedRequest:
    scheme, _, rest = authorization.strip().partition(" ")
    if scheme not in (ALGORITHM, ALGORITHM_V4A):
        # SigV2 ("AWS AKID:sig") is a real AWS mechanism that this endpoint does not offer;
        # AWS answers regions without SigV2 (all opened since 2014) with exactly this
        # InvalidRequest. Anything else is not an AWS scheme at all, for which AWS answers
        # InvalidArgument. SigV4a is checked since decision 0355.
        if scheme == "AWS":
            raise SigV4Error("InvalidRequest", _UNSUPPORTED_MECHANISM)
        raise SigV4Error(
            "InvalidArgument", "Unsupported Authorization Type", ArgumentName="Authorization"
        )
    fields: dict[str, str] = {}
    for component in rest.split(","):
        name, eq, value = component.strip().partition("=")
        if not eq:
            raise SigV4Error(
                "AuthorizationHeaderMalformed",
                f'The authorization header is malformed; the authorization component "{name}" '
                "is malformed.",
            )
        fields[name] = value.strip()
    missing = [f for f in ("Credential", "SignedHeaders", "Signature") if not fields.get(f)]
    if missing:
        raise SigV4Error(
            "AuthorizationHeaderMalformed",
            "The authorization header is malformed; the authorization header requires three "
            "components: Credential, SignedHeaders, and Signature.",
        )
    credential = fields["Credential"]
    if scheme == ALGORITHM_V4A:
        # SigV4a's scope names no Region (key/date/service/aws4_request): the signed
        # X-Amz-Region-Set says where the request may be used.
        parts = credential.rsplit("/", 3)
        region_set = headers.get("x-amz-region-set", "").strip()
        if len(parts) != 4 or not region_set or "/" in region_set:
            raise SigV4Error("AuthorizationHeaderMalformed", _MALFORMED_CREDENTIAL_HEADER)
        credential = "/".join([parts[0], parts[1], region_set, parts[2], parts[3]])
    access_key_id, scope_date, region, service = _parse_credential(credential, presigned=False)
    signed_headers = _parse_signed_headers(fields["SignedHeaders"], presigned=False)
    if scheme == ALGORITHM_V4A and "x-amz-region-set" not in signed_headers:
        # Unsigned, the Region set could be rewritten to "*" and the request replayed anywhere.
        raise SigV4Error("AuthorizationHeaderMalformed", _MALFORMED_CREDENTIAL_HEADER)
    amz_date = _header_date(headers)
    payload_hash = headers.get("x-amz-content-sha256")
    if payload_hash is None:
        raise SigV4Error(
            "InvalidRequest", "Missing required header for this request: x-amz-content-sha256"
        )
    payload_hash = payload_hash.strip()
    if payload_hash not in _PAYLOAD_TOKENS and not _SHA256_HEX_RE.fullmatch(payload_hash):
        raise SigV4Error(
            "InvalidArgument",
            "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER "
            "or a valid sha256 value.",
            ArgumentName="x-amz-content-sha256",
        )
    return SignedRequest(
        access_key_id=access_key_id,
        scope_date=scope_date,
        region=region,
        service=service,
        signed_headers=signed_headers,
        signature=fields["Signature"],
        amz_date=amz_date,
        payload_hash=payload_hash,
        presigned=False,
        expires=None,
        algorithm=scheme,
    )


def _parse_query(raw_query: str, headers: Mapping[str, str]) -> SignedRequest:
    params: dict[str, str] = {}
    for name, value in _split_query(raw_query):
        params.setdefault(_text(name), _text(value))
    required = (
        "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date",
        "X-Amz-SignedHeaders", "X-Amz-Expires",
    )  # fmt: skip
    if any(name not in params for name in required):
        raise SigV4Error("AuthorizationQueryParametersError", _QUERY_PARAMS_REQUIRED)
    algorithm = params["X-Amz-Algorithm"]
    if algorithm not in (ALGORITHM, ALGORITHM_V4A):
        raise SigV4Error(
            "AuthorizationQueryParametersError",
            # AWS's wording, kept although SigV4a is accepted too (decision 0380).
            'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"',
        )
    credential = params["X-Amz-Credential"]
    if algorithm == ALGORITHM_V4A:
        # As in the header (decision 0355): the scope names no Region, X-Amz-Region-Set does.
        # Every query parameter but the signature is signed, so the set is signed too.
        parts = credential.rsplit("/", 3)
        region_set = params.get("X-Amz-Region-Set", "").strip()
        if len(parts) != 4 or not region_set or "/" in region_set:
            raise SigV4Error("AuthorizationQueryParametersError", _MALFORMED_CREDENTIAL_QUERY)
        credential = "/".join([parts[0], parts[1], region_set, parts[2], parts[3]])
    access_key_id, scope_date, region, service = _parse_credential(credential, presigned=True)
    raw_date = params["X-Amz-Date"]
    amz_date = _parse_amz_date(raw_date)
    if amz_date is None:
        raise SigV4Error(
            "AuthorizationQueryParametersError",
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"",
        )
    raw_expires = params["X-Amz-Expires"]
    if not raw_expires.lstrip("-").isdigit() or not raw_expires.isascii():
        raise SigV4Error("AuthorizationQueryParametersError", "X-Amz-Expires should be a number")
    expires = int(raw_expires)
    if expires < 0:
        raise SigV4Error("AuthorizationQueryParametersError", "X-Amz-Expires must be non-negative")
    if expires > MAX_PRESIGN_EXPIRY:
        raise _expiry_too_long(MAX_PRESIGN_EXPIRY)
    signed_headers = _parse_signed_headers(params["X-Amz-SignedHeaders"], presigned=True)
    # A presigned URL says nothing about the body unless the client sent a hash anyway; botocore
    # signs the header's value when present, and the query parameter is AWS's documented form.
    payload_hash = headers.get("x-amz-content-sha256") or params.get(
        "X-Amz-Content-Sha256", UNSIGNED_PAYLOAD
    )
    return SignedRequest(
        access_key_id=access_key_id,
        scope_date=scope_date,
        region=region,
        service=service,
        signed_headers=signed_headers,
        signature=params["X-Amz-Signature"],
        amz_date=amz_date,
        payload_hash=payload_hash.strip(),
        presigned=True,
        expires=expires,
        algorithm=algorithm,
    )


def _parse_credential(credential: str, *, presigned: bool) -> tuple[str, str, str, str]:
    # rsplit: the scope has exactly four parts after the key id, whatever the key id holds.
    parts = credential.rsplit("/", 4)
    malformed = _MALFORMED_CREDENTIAL_QUERY if presigned else _MALFORMED_CREDENTIAL_HEADER
    code = "AuthorizationQueryParametersError" if presigned else "AuthorizationHeaderMalformed"
    if len(parts) != 5 or not all(parts[:4]):
        raise SigV4Error(code, malformed)
    access_key_id, scope_date, region, service, terminal = parts
    if not _SCOPE_DATE_RE.fullmatch(scope_date) or not _is_valid_day(scope_date):
        raise SigV4Error(code, malformed)
    if terminal != _TERMINAL:
        prefix = (
            "Error parsing the X-Amz-Credential parameter;"
            if presigned
            else "The authorization header is malformed;"
        )
        raise SigV4Error(
            code, f'{prefix} incorrect terminal "{terminal}". This endpoint uses "aws4_request".'
        )
    return access_key_id, scope_date, region, service


def _parse_signed_headers(value: str, *, presigned: bool) -> tuple[str, ...]:
    names = tuple(name.strip().lower() for name in value.split(";"))
    if "host" not in names or any(not name for name in names):
        # SigV4 requires the host to be signed, else a request could be replayed to another
        # endpoint sharing the key; AWS refuses such requests as malformed.
        if presigned:
            raise SigV4Error(
                "AuthorizationQueryParametersError",
                "Query-string authentication requires the host header to be signed "
                "(X-Amz-SignedHeaders must include host).",
            )
        raise SigV4Error(
            "AuthorizationHeaderMalformed",
            "The authorization header is malformed; SignedHeaders must include host.",
        )
    return names


def _header_date(headers: Mapping[str, str]) -> datetime:
    raw = headers.get("x-amz-date")
    if raw is not None:
        parsed = _parse_amz_date(raw.strip())
        if parsed is None:
            raise SigV4Error("AccessDenied", _NO_DATE)
        return parsed
    raw = headers.get("date")
    if raw is None:
        raise SigV4Error("AccessDenied", _NO_DATE)
    try:
        parsed = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError) as exc:
        raise SigV4Error("AccessDenied", _NO_DATE) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _parse_amz_date(raw: str) -> datetime | None:
    if not _AMZ_DATE_RE.fullmatch(raw):
        return None
    # Slicing instead of strptime: this runs on every signed request, and strptime's locale-aware
    # machinery cost more than the rest of the date handling together. The regular expression
    # has already checked the shape; datetime() checks the ranges.
    try:
        return datetime(
            int(raw[0:4]),
            int(raw[4:6]),
            int(raw[6:8]),
            int(raw[9:11]),
            int(raw[11:13]),
            int(raw[13:15]),
            tzinfo=UTC,
        )
    except ValueError:
        return None


def _is_valid_day(day: str) -> bool:
    if len(day) != 8 or not day.isdigit():
        return False
    try:
        datetime(int(day[0:4]), int(day[4:6]), int(day[6:8]))
    except ValueError:
        return False
    return True


def _expiry_too_long(maximum: int) -> SigV4Error:
    return SigV4Error(
        "AuthorizationQueryParametersError",
        "X-Amz-Expires must be less than a week (in seconds) that is; "
        f"the maximum expires is {maximum}",
    )


# --------------------------------------------------------------------------- verification


def verify(
    signed: SignedRequest,
    secret_key: str,
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    region: str,
    now: datetime,
    clock_skew: int,
    max_presign_expiry: int,
) -> SigningContext:
    """Check a parsed claim against the secret key; return what chunk checking needs.

    The checks run in AWS's order: region, credential date, time window, then signature.
    """
    amz_date = signed.amz_date.astimezone(UTC).strftime(_AMZ_DATE_FORMAT)
    code = (
        "AuthorizationQueryParametersError" if signed.presigned else "AuthorizationHeaderMalformed"
    )
    if signed.payload_hash.startswith("STREAMING-AWS4-") and (
        signed.payload_hash not in _STREAMING_BY_ALGORITHM[signed.algorithm]
    ):
        raise SigV4Error(
            "InvalidArgument",
            f"x-amz-content-sha256 {signed.payload_hash} does not match the signing algorithm "
            f"{signed.algorithm}.",
            ArgumentName="x-amz-content-sha256",
        )
    if signed.algorithm == ALGORITHM_V4A:
        return _verify_v4a(
            signed, secret_key, method=method, raw_path=raw_path, raw_query=raw_query,
            headers=headers, region=region, now=now, clock_skew=clock_skew,
            max_presign_expiry=max_presign_expiry,
        )  # fmt: skip
    if signed.region != region:
        prefix = (
            "Error parsing the X-Amz-Credential parameter;"
            if signed.presigned
            else "The authorization header is malformed;"
        )
        raise SigV4Error(
            code,
            f"{prefix} the region '{signed.region}' is wrong; expecting '{region}'",
            Region=region,
        )
    if signed.scope_date != amz_date[:8]:
        if signed.presigned:
            message = (
                f'Invalid credential date "{signed.scope_date}". '
                f'This date is not the same as X-Amz-Date: "{amz_date[:8]}".'
            )
        else:
            message = (
                "The authorization header is malformed; Invalid credential date. "
                "Date is not the same as X-Amz-Date."
            )
        raise SigV4Error(code, message)
    _check_time(signed, amz_date, now=now, clock_skew=clock_skew, max_expiry=max_presign_expiry)

    scope = f"{signed.scope_date}/{signed.region}/{signed.service}/{_TERMINAL}"
    key = derive_signing_key(secret_key, signed.scope_date, signed.region, signed.service)
    provided = signed.signature.encode("utf-8", "replace")
    attempts: list[tuple[str, str]] = []
    # A third form for the services other than S3, whose paths AWS's SDKs encode twice (a
    # restJson1 API's ARN in the path, EventBridge Pipes' ``/tags/arn%3Aaws…``; decision 0258).
    twice = signed.service != "s3" and "%" in raw_path
    for as_sent, path in ((False, raw_path), (True, raw_path), (True, _twice(raw_path))):
        if as_sent and path == raw_path and not _differs_as_sent(raw_path, raw_query):
            continue  # the second form would be the same request: no need to sign it again
        if as_sent and path != raw_path and not twice:
            break
        creq = _canonical_request(
            method, path, raw_query, headers, signed.signed_headers, signed.payload_hash,
            presigned=signed.presigned, as_sent=as_sent,
        )  # fmt: skip
        sts = string_to_sign(amz_date, scope, creq)
        if hmac.compare_digest(sign(key, sts).encode("ascii"), provided):
            return SigningContext(
                signing_key=key, amz_date=amz_date, scope=scope, seed_signature=signed.signature
            )
        attempts.append((creq, sts))
    creq, sts = attempts[0]  # report AWS's form, the one every SDK signs
    raise SigV4Error(
        "SignatureDoesNotMatch",
        _SIGNATURE_MISMATCH,
        AWSAccessKeyId=signed.access_key_id,
        StringToSign=sts,
        SignatureProvided=_printable(signed.signature),
        StringToSignBytes=" ".join(f"{b:02x}" for b in _utf8(sts)),
        CanonicalRequest=_printable(creq),
        CanonicalRequestBytes=" ".join(f"{b:02x}" for b in _utf8(creq)),
    )


def _verify_v4a(
    signed: SignedRequest,
    secret_key: str,
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    region: str,
    now: datetime,
    clock_skew: int,
    max_presign_expiry: int,
) -> SigningContext:
    """SigV4a (decisions 0355, 0380): the Region set must hold ``region`` (or be ``*``); the
    signature is ECDSA over the string to sign, by the key the secret derives. Presigned
    URLs keep SigV4's time bounds and errors."""
    amz_date = signed.amz_date.astimezone(UTC).strftime(_AMZ_DATE_FORMAT)
    code, prefix = (
        ("AuthorizationQueryParametersError", "Error parsing the X-Amz-Credential parameter;")
        if signed.presigned
        else ("AuthorizationHeaderMalformed", "The authorization header is malformed;")
    )
    allowed = {r.strip() for r in signed.region.split(",")}
    if "*" not in allowed and region not in allowed:
        raise SigV4Error(
            code,
            f"{prefix} the region set '{signed.region}' does not include '{region}'",
            Region=region,
        )
    if signed.scope_date != amz_date[:8]:
        raise SigV4Error(
            code, f"{prefix} Invalid credential date. Date is not the same as X-Amz-Date."
        )
    _check_time(signed, amz_date, now=now, clock_skew=clock_skew, max_expiry=max_presign_expiry)
    scope = f"{signed.scope_date}/{signed.service}/{_TERMINAL}"
    creq = _canonical_request(
        method, raw_path, raw_query, headers, signed.signed_headers, signed.payload_hash,
        presigned=signed.presigned, as_sent=False,
    )  # fmt: skip
    sts = string_to_sign_v4a(amz_date, scope, creq)
    key = public_key(signed.access_key_id, secret_key)
    if ecdsa_matches(key, sts, signed.signature):
        return SigningContext(
            signing_key=b"",
            amz_date=amz_date,
            scope=scope,
            seed_signature=signed.signature,
            ecdsa_key=key,
        )
    raise SigV4Error(
        "SignatureDoesNotMatch",
        _SIGNATURE_MISMATCH,
        AWSAccessKeyId=signed.access_key_id,
        StringToSign=sts,
        SignatureProvided=_printable(signed.signature),
        CanonicalRequest=_printable(creq),
    )


def _check_time(
    signed: SignedRequest, amz_date: str, *, now: datetime, clock_skew: int, max_expiry: int
) -> None:
    server_time = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    skew = timedelta(seconds=clock_skew)
    if not signed.presigned:
        if abs(now - signed.amz_date) > skew:
            raise SigV4Error(
                "RequestTimeTooSkewed",
                "The difference between the request time and the current time is too large.",
                RequestTime=amz_date,
                ServerTime=server_time,
                MaxAllowedSkewMilliseconds=str(clock_skew * 1000),
            )
        return
    expires = signed.expires if signed.expires is not None else 0
    if expires > max_expiry:
        raise _expiry_too_long(max_expiry)
    if signed.amz_date - now > skew:
        raise SigV4Error("AccessDenied", "Request is not valid yet", ServerTime=server_time)
    expiry = signed.amz_date + timedelta(seconds=expires)
    if now > expiry:
        raise SigV4Error(
            "AccessDenied",
            "Request has expired",
            **{"X-Amz-Expires": str(expires)},
            Expires=expiry.strftime("%Y-%m-%dT%H:%M:%SZ"),
            ServerTime=server_time,
        )


def _differs_as_sent(raw_path: str, raw_query: str) -> bool:
    """Whether the target as sent differs from AWS's re-encoding of it.

    Clients disagree on what to percent-encode ('+', '=', '!', "'", '*' in keys, '%2F' for a
    slash); AWS SDKs sign AWS's re-encoding, which is what S3 computes and what we try first.
    A second try accepts clients that signed exactly the bytes they sent: both forms denote
    the same key and query, so accepting either grants nothing more.
    """
    return _canonical_uri(raw_path) != (raw_path or "/") or _canonical_query(
        raw_query, presigned=False
    ) != _raw_sorted_query(raw_query, presigned=False)


# --------------------------------------------------------------------------- canonical forms


def canonical_request(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    signed_headers: Sequence[str],
    payload_hash: str,
    *,
    presigned: bool,
) -> str:
    """The canonical request of an S3 request, with the path and query re-encoded AWS's way."""
    return _canonical_request(
        method, raw_path, raw_query, headers, signed_headers, payload_hash,
        presigned=presigned, as_sent=False,
    )  # fmt: skip


def _canonical_request(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    signed_headers: Sequence[str],
    payload_hash: str,
    *,
    presigned: bool,
    as_sent: bool,
) -> str:
    if as_sent:
        uri, query = raw_path or "/", _raw_sorted_query(raw_query, presigned=presigned)
    else:
        uri, query = _canonical_uri(raw_path), _canonical_query(raw_query, presigned=presigned)
    names = sorted(set(signed_headers))
    lines = "".join(f"{name}:{_trim(headers.get(name, ''))}\n" for name in names)
    return f"{method.upper()}\n{uri}\n{query}\n{lines}\n{';'.join(names)}\n{payload_hash}"


def string_to_sign(amz_date: str, scope: str, canonical_request: str) -> str:
    digest = hashlib.sha256(_utf8(canonical_request)).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


@functools.lru_cache(maxsize=512)
def derive_signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    """HMAC chain AWS4+secret → date → region → service → aws4_request (memoised: hot path)."""
    key = _hmac(f"AWS4{secret_key}".encode(), date)
    key = _hmac(key, region)
    key = _hmac(key, service)
    return _hmac(key, _TERMINAL)


def sign(signing_key: bytes, string_to_sign: str) -> str:
    return hmac.new(signing_key, _utf8(string_to_sign), hashlib.sha256).hexdigest()


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def _canonical_uri(raw_path: str) -> str:
    if not raw_path:
        return "/"
    # Decode to bytes then encode everything but A-Za-z0-9-._~ and '/': S3 does not normalise
    # ('//' and '/./' are parts of a key) and does not encode twice.
    return quote(unquote_to_bytes(_raw_bytes(raw_path)), safe="/")


def _twice(raw_path: str) -> str:
    """The path as sent, encoded once more (what AWS's SDKs sign outside S3)."""
    return quote(raw_path, safe="/~")


def _canonical_query(raw_query: str, *, presigned: bool) -> str:
    pairs = sorted(
        (quote(name, safe=""), quote(value, safe=""))
        for name, value in _split_query(raw_query)
        if not (presigned and name == b"X-Amz-Signature")
    )
    return "&".join(f"{name}={value}" for name, value in pairs)


def _raw_sorted_query(raw_query: str, *, presigned: bool) -> str:
    pairs = sorted(
        (name.decode("utf-8", "surrogateescape"), value.decode("utf-8", "surrogateescape"))
        for name, value in _split_raw_query(raw_query)
        if not (presigned and name == b"X-Amz-Signature")
    )
    return "&".join(f"{name}={value}" for name, value in pairs)


def _split_raw_query(raw_query: str) -> list[tuple[bytes, bytes]]:
    pairs = []
    for segment in _raw_bytes(raw_query).split(b"&"):
        if segment:
            name, _, value = segment.partition(b"=")
            pairs.append((name, value))
    return pairs


def _split_query(raw_query: str) -> list[tuple[bytes, bytes]]:
    """Query pairs, percent-decoded to bytes ('+' stays '+': S3 signs it as %2B)."""
    return [
        (unquote_to_bytes(name), unquote_to_bytes(value))
        for name, value in _split_raw_query(raw_query)
    ]


def _trim(value: str) -> str:
    # Trimall as botocore implements it: strip, and fold every whitespace run to one space.
    return " ".join(value.split())


def _raw_bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def _printable(text: str) -> str:
    """Text safe to put in an XML error body (no lone surrogates)."""
    return _utf8(text).decode("utf-8", "replace")
