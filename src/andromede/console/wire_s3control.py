"""S3 Control's account-level Block Public Access calls (decision 0152), made in process as
the console's signed-in principal: Get, Put and DeletePublicAccessBlock; and the account's
access points on a bucket (ListAccessPoints, decision 0157).

How the console addresses S3 Control: it calls the running S3 Control app itself, as it calls
S3's, EC2's or KMS's, with the principal under ``TRUSTED_PRINCIPAL_SCOPE_KEY`` in place of a
signature. A client reaches the same app on the shared endpoint by the path under
``/v20180820/`` and the ``x-amz-account-id`` header (the account-prefixed host boto3 uses names
nothing the app reads); the console sends the path and the header, naming the signed-in
principal's own account, so S3 Control's checks apply unchanged: the account must be the
caller's, and the caller's identity policies must allow ``s3:GetAccountPublicAccessBlock`` or
``s3:PutAccountPublicAccessBlock``. A refusal comes back as the ``WireError`` S3 Control sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import urlencode
from xml.etree.ElementTree import Element, SubElement, tostring

import defusedxml.ElementTree as SafeET

# The in-process request and call of ``wire``'s S3Wire and QueryWire: S3 Control's answers
# differ only in their error document (``ErrorResponse/Error``), read here.
from andromede.console.wire import Answer, AsgiApp, WireError, _call, _scope
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = ["SWITCHES", "AccessPointRow", "AccountBlock", "S3ControlWire"]

_PATH: Final = "/v20180820/configuration/publicAccessBlock"
_ACCESS_POINTS_PATH: Final = "/v20180820/accesspoint"
_ACCOUNT_HEADER: Final = b"x-amz-account-id"
_NAMESPACE: Final = "http://awss3control.amazonaws.com/doc/2018-08-20/"
# The four switches, in S3's order.
SWITCHES: Final = (
    "BlockPublicAcls",
    "IgnorePublicAcls",
    "BlockPublicPolicy",
    "RestrictPublicBuckets",
)


@dataclass(frozen=True, slots=True)
class AccessPointRow:
    """One access point of the account, as ListAccessPoints names it."""

    name: str
    alias: str
    arn: str


@dataclass(frozen=True, slots=True)
class AccountBlock:
    """The account's switches by S3's names; ``configured`` False when none is set (S3
    Control's NoSuchPublicAccessBlockConfiguration), every switch then off."""

    switches: dict[str, bool]
    configured: bool


def _error(answer: Answer) -> WireError:
    code, message = "InternalError", ""
    try:
        root = SafeET.fromstring(answer.body) if answer.body else None
    except SafeET.ParseError:
        root = None
    if root is not None:
        code = root.findtext("Error/Code") or root.findtext("Code") or code
        message = root.findtext("Error/Message") or root.findtext("Message") or ""
    return WireError(code, message, answer.status)


class S3ControlWire:
    """The S3 Control calls the console makes, as ``principal``, for the request ``origin``."""

    def __init__(self, app: AsgiApp) -> None:
        self._app = app

    async def _request(
        self,
        origin: Scope,
        principal: Principal,
        method: str,
        body: bytes = b"",
        *,
        path: str = _PATH,
        query: str = "",
    ) -> Answer:
        headers = [(_ACCOUNT_HEADER, (principal.tenant_id or "").encode())]
        if body:
            headers += [
                (b"content-type", b"application/xml"),
                (b"content-length", str(len(body)).encode()),
            ]
        scope = _scope(origin, principal, method, path, query, headers)
        answer = await _call(self._app, scope, body)
        if answer.status >= 300:
            raise _error(answer)
        return answer

    async def account_block(self, origin: Scope, principal: Principal) -> AccountBlock:
        try:
            answer = await self._request(origin, principal, "GET")
        except WireError as exc:
            if exc.code == "NoSuchPublicAccessBlockConfiguration":
                return AccountBlock(dict.fromkeys(SWITCHES, False), configured=False)
            raise
        root = SafeET.fromstring(answer.body)
        values = {e.tag.rsplit("}", 1)[-1]: (e.text or "").strip() for e in root}
        return AccountBlock({s: values.get(s) == "true" for s in SWITCHES}, configured=True)

    async def put_account_block(
        self, origin: Scope, principal: Principal, switches: dict[str, bool]
    ) -> None:
        root = Element("PublicAccessBlockConfiguration", {"xmlns": _NAMESPACE})
        for name in SWITCHES:
            SubElement(root, name).text = "true" if switches.get(name) else "false"
        body = bytes(tostring(root, encoding="utf-8", xml_declaration=True))
        await self._request(origin, principal, "PUT", body)

    async def delete_account_block(self, origin: Scope, principal: Principal) -> None:
        await self._request(origin, principal, "DELETE")

    async def access_points(
        self, origin: Scope, principal: Principal, bucket: str
    ) -> list[AccessPointRow]:
        """The account's access points on ``bucket`` (ListAccessPoints, every page; decision
        0157)."""
        rows: list[AccessPointRow] = []
        token = ""
        while True:
            query = urlencode({"bucket": bucket, **({"nextToken": token} if token else {})})
            answer = await self._request(
                origin, principal, "GET", path=_ACCESS_POINTS_PATH, query=query
            )
            root = SafeET.fromstring(answer.body)
            for point in root.iter(f"{{{_NAMESPACE}}}AccessPoint"):
                rows.append(
                    AccessPointRow(
                        name=point.findtext(f"{{{_NAMESPACE}}}Name") or "",
                        alias=point.findtext(f"{{{_NAMESPACE}}}Alias") or "",
                        arn=point.findtext(f"{{{_NAMESPACE}}}AccessPointArn") or "",
                    )
                )
            token = root.findtext(f"{{{_NAMESPACE}}}NextToken") or ""
            if not token:
                return rows
