"""What S3 Object Lambda says to a function and reads back (decision 0384), as pure
functions: the Object Lambda access point a Host names, the event of a GetObject
(``getObjectContext``, ``configuration``, ``userRequest``, ``userIdentity``), the presigned
``inputS3Url`` of the object through the supporting access point, and the answer's headers
out of WriteGetObjectResponse's ``x-amz-fwd-header-…``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from urllib.parse import quote, unquote

from andromede.http.sigv4 import canonical_request, derive_signing_key, sign, string_to_sign
from andromede.iam.model import Principal, PrincipalKind
from andromede.storage.object_lambda_points import OBJECT_LAMBDA_ALIAS_SUFFIX

__all__ = [
    "ForwardedAnswer",
    "HostParser",
    "forwarded_answer",
    "object_lambda_event",
    "presigned_get",
]

PROTOCOL_VERSION: Final = "1.00"
_FORWARDED_PREFIX: Final = "x-amz-fwd-header-"
# Headers of the caller's request the function is not shown: its credentials.
_HIDDEN: Final = frozenset({"authorization", "x-amz-security-token"})
_NAME_ACCOUNT = re.compile(r"(?P<name>[a-z0-9][a-z0-9-]{1,43}[a-z0-9])-(?P<account>[0-9]{12})")
_IDENTITY_TYPES: Final = {
    PrincipalKind.ROOT: "Root",
    PrincipalKind.USER: "IAMUser",
    PrincipalKind.ROLE_SESSION: "AssumedRole",
    PrincipalKind.FEDERATED_USER: "FederatedUser",
}


class HostParser:
    """The Object Lambda access point (name, account) a request's Host names: AWS's own
    endpoint ``<name>-<account>.s3-object-lambda.<region>.<access point domain>`` (this
    Region's only), or ``<name>-<account>.<s3 domain>`` — the host botocore builds from an
    Object Lambda ARN and a custom endpoint, told from a bucket's by its signature's
    service, ``s3-object-lambda``."""

    def __init__(self, s3_domain: str, access_point_domain: str, region: str) -> None:
        self._suffix = "." + s3_domain.lower().strip(".")
        domain = access_point_domain.lower().strip(".")
        self._own = (
            re.compile(
                rf"(?P<label>[a-z0-9-]+)\.s3-object-lambda\.{re.escape(region)}\."
                rf"{re.escape(domain)}"
            )
            if domain
            else None
        )

    def point(self, host: str) -> tuple[str, str] | None:
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        name = name.lower().rstrip(".")
        label = None
        own = self._own.fullmatch(name) if self._own is not None else None
        if own is not None:
            label = own["label"]
        elif name.endswith(self._suffix) and "." not in name[: -len(self._suffix)]:
            label = name[: -len(self._suffix)]
        found = _NAME_ACCOUNT.fullmatch(label) if label else None
        return None if found is None else (found["name"], found["account"])

    def alias(self, host: str, raw_path: str) -> tuple[str, str] | None:
        """An Object Lambda access point's alias a request names as its bucket (decision
        0399), and the raw path after it: ``<alias>.<s3 domain>``, or path-style
        ``/<alias>/…`` on any other host; None when it names none."""
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        name = name.lower().rstrip(".")
        if name.endswith(self._suffix) and "." not in name[: -len(self._suffix)]:
            label = name[: -len(self._suffix)]
            return (label, raw_path or "/") if label.endswith(OBJECT_LAMBDA_ALIAS_SUFFIX) else None
        first, _, rest = raw_path.removeprefix("/").partition("/")
        segment = unquote(first)
        return (segment, "/" + rest) if segment.endswith(OBJECT_LAMBDA_ALIAS_SUFFIX) else None


def presigned_get(
    *,
    endpoint: str,
    bucket: str,
    key: str,
    method: str = "GET",
    params: Mapping[str, str] | None = None,
    access_key_id: str,
    secret_key: str,
    session_token: str | None,
    region: str,
    now: datetime,
    expires: int,
) -> str:
    """A SigV4 presigned ``method`` (GET, HEAD) of ``key`` path-style under ``endpoint``
    (``http://host:port``, whose host is signed), with query ``params``, for service
    ``s3``."""
    host = endpoint.split("://", 1)[1]
    path = "/" + quote(bucket, safe="") + "/" + quote(key, safe="/~")
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    date = amz_date[:8]
    scope = f"{date}/{region}/s3/aws4_request"
    query = {
        **(params or {}),
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": f"{access_key_id}/{scope}",
        "X-Amz-Date": amz_date,
        "X-Amz-Expires": str(expires),
        "X-Amz-SignedHeaders": "host",
    }
    if session_token:
        query["X-Amz-Security-Token"] = session_token
    raw_query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query.items())
    canonical = canonical_request(
        method, path, raw_query, {"host": host}, ("host",), "UNSIGNED-PAYLOAD", presigned=True
    )
    signature = sign(
        derive_signing_key(secret_key, date, region, "s3"),
        string_to_sign(amz_date, scope, canonical),
    )
    return f"{endpoint}{path}?{raw_query}&X-Amz-Signature={signature}"


def _identity(principal: Principal, access_key_id: str | None) -> dict[str, object]:
    identity: dict[str, object] = {
        "type": _IDENTITY_TYPES.get(principal.kind, "Unknown"),
        "principalId": principal.aws_user_id,
        "arn": principal.arn,
        "accountId": principal.tenant_id or "",
    }
    if access_key_id:
        identity["accessKeyId"] = access_key_id
    if principal.kind is PrincipalKind.ROLE_SESSION:
        identity["sessionContext"] = {
            "attributes": {"mfaAuthenticated": str(principal.mfa_present).lower()}
        }
    return identity


def object_lambda_event(
    *,
    request_id: str,
    point_arn: str,
    supporting_arn: str,
    payload: str | None,
    input_url: str,
    output_route: str | None,
    output_token: str | None,
    user_url: str,
    user_headers: Mapping[str, str],
    principal: Principal,
    access_key_id: str | None,
    context: str = "getObjectContext",
) -> bytes:
    """The event of a request through an Object Lambda access point, as AWS sends it: its
    ``context`` (``getObjectContext`` with the answer's route and token, or another
    operation's with the input URL alone)."""
    configuration: dict[str, str] = {
        "accessPointArn": point_arn,
        "supportingAccessPointArn": supporting_arn,
    }
    if payload is not None:
        configuration["payload"] = payload
    event = {
        "xAmzRequestId": request_id,
        context: {
            "inputS3Url": input_url,
            **({"outputRoute": output_route} if output_route is not None else {}),
            **({"outputToken": output_token} if output_token is not None else {}),
        },
        "configuration": configuration,
        "userRequest": {
            "url": user_url,
            "headers": {
                _title(name): value for name, value in user_headers.items() if name not in _HIDDEN
            },
        },
        "userIdentity": _identity(principal, access_key_id),
        "protocolVersion": PROTOCOL_VERSION,
    }
    return json.dumps(event, separators=(",", ":")).encode()


def _title(name: str) -> str:
    """``x-amz-date`` → ``X-Amz-Date``: the case AWS shows headers in."""
    return "-".join(part[:1].upper() + part[1:] for part in name.split("-"))


@dataclass(frozen=True, slots=True)
class ForwardedAnswer:
    status: int
    headers: list[tuple[str, str]]
    error_code: str | None
    error_message: str | None


def forwarded_answer(headers: Mapping[str, str]) -> ForwardedAnswer | None:
    """The answer a WriteGetObjectResponse's headers describe (lower-case names): its status
    (``x-amz-fwd-status``, 200 by default), the caller's headers (``x-amz-fwd-header-…``
    without the prefix, ``x-amz-meta-…`` as they are), the error it names; None when the
    status is not an HTTP status."""
    raw_status = headers.get("x-amz-fwd-status", "200").strip()
    if not raw_status.isdigit() or not 200 <= int(raw_status) <= 599:
        return None
    answer: list[tuple[str, str]] = []
    for name, value in headers.items():
        if name.startswith(_FORWARDED_PREFIX) and len(name) > len(_FORWARDED_PREFIX):
            answer.append((_title(name[len(_FORWARDED_PREFIX) :]), value))
        elif name.startswith("x-amz-meta-"):
            answer.append((name, value))
    return ForwardedAnswer(
        status=int(raw_status),
        headers=answer,
        error_code=headers.get("x-amz-fwd-error-code"),
        error_message=headers.get("x-amz-fwd-error-message"),
    )
