"""The S3 access point calls of S3 Control (decision 0157): parse, call the access point store
(and the object service for the bucket), serialise.

Create/Get/Delete/ListAccessPoints and Put/Get/DeleteAccessPointPolicy,
GetAccessPointPolicyStatus, in AWS's REST-XML shapes. A ``VpcConfiguration`` names one of
the account's VPCs (decision 0157's addendum): the access point's network origin is then
``VPC`` and S3 serves it only through a VPC endpoint of that VPC. The Object Lambda calls are
refused (their own paths: ``NotImplemented`` from the operation table). CreateAccessPoint's
``Tags`` are the access point's first tags (decision 0392), as TagResource would set them.
Put/Get/DeleteAccessPointScope are for access points of directory buckets, which are not
served: one of that shape (``…--xa-s3``) is 501, any other name is not one of them (S3
Express's control endpoint answers ``NoSuchAccessPoint``).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import cast
from urllib.parse import parse_qs
from xml.etree.ElementTree import Element, tostring

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from andromede.http.response import Response
from andromede.http.xml import XmlWriter
from andromede.iam.policy import (
    S3_BUCKET_POLICY_MAX,
    MalformedPolicy,
    PolicyKind,
    is_public,
    load_policy,
    parse_policy,
)
from andromede.s3control.errors import S3ControlError
from andromede.s3control.public_access_block import NAMESPACE, parse_block
from andromede.s3control.resource_tags import parse_tag_list
from andromede.storage.access_points import (
    AccessPoint,
    AccessPointExists,
    AccessPointQuotaExceeded,
    AccessPointStore,
    Tags,
    access_point_name_problem,
    new_alias,
)
from andromede.storage.errors import NoSuchBucket
from andromede.storage.model import PublicAccessBlock
from andromede.storage.service import ObjectService

__all__ = ["AccessPointCalls"]

_XML = [("Content-Type", "application/xml")]
_CREATE_FIELDS = frozenset(
    {"Bucket", "BucketAccountId", "VpcConfiguration", "PublicAccessBlockConfiguration", "Tags"}
)
_VPC_ID = re.compile(r"vpc-[0-9a-f]{8,17}")
# A directory bucket's access point: a base name, its zone id, ``--xa-s3``.
_DIRECTORY_ACCESS_POINT_SUFFIX = "--xa-s3"
# Whether an account owns a VPC (account, VPC id); None where no compute service runs.
VpcOwned = Callable[[str, str], Awaitable[bool]]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _document(body: bytes, root_name: str) -> Element:
    if not body.strip():
        raise S3ControlError("MalformedXML")
    try:
        root = cast(Element, SafeET.fromstring(body))
    except (SafeET.ParseError, DefusedXmlException, ValueError, UnicodeError) as exc:
        raise S3ControlError("MalformedXML") from exc
    if _local(root.tag) != root_name:
        raise S3ControlError("MalformedXML")
    return root


@dataclass(frozen=True, slots=True)
class CreateRequest:
    bucket: str
    bucket_account: str | None
    block: PublicAccessBlock
    vpc_id: str | None = None
    tags: Tags = ()


def parse_create(body: bytes) -> CreateRequest:
    """A ``CreateAccessPointRequest``: ``Bucket`` required; Block Public Access all on unless
    the document says otherwise (a switch it leaves out: off, as in the configuration's own
    document); ``VpcConfiguration``'s ``VpcId`` a VPC id; ``Tags`` as TagResource takes them;
    ``Scope`` (directory buckets' access points only) not served (501) unless empty."""
    root = _document(body, "CreateAccessPointRequest")
    fields: dict[str, Element] = {}
    for child in root:
        name = _local(child.tag)
        if name == "Scope":
            # Some SDKs send them empty; one that says something is not served, rather than
            # ignored.
            if len(child) or (child.text or "").strip():
                raise S3ControlError("NotImplemented", f"CreateAccessPoint's {name} is not served")
            continue
        if name not in _CREATE_FIELDS or name in fields:
            raise S3ControlError("MalformedXML")
        fields[name] = child
    vpc_id = None
    if "VpcConfiguration" in fields:
        vpc_id = _vpc_id(fields["VpcConfiguration"])
    bucket_element = fields.get("Bucket")
    bucket = (bucket_element.text or "").strip() if bucket_element is not None else ""
    if not bucket:
        raise S3ControlError("InvalidRequest", "Bucket is required")
    account_element = fields.get("BucketAccountId")
    account = (account_element.text or "").strip() if account_element is not None else None
    block_element = fields.get("PublicAccessBlockConfiguration")
    block = PublicAccessBlock() if block_element is None else parse_block(tostring(block_element))
    tags = parse_tag_list(fields["Tags"]) if "Tags" in fields else ()
    return CreateRequest(bucket, account or None, block, vpc_id, tags)


def _vpc_id(element: Element) -> str:
    children = list(element)
    if len(children) != 1 or _local(children[0].tag) != "VpcId":
        raise S3ControlError("MalformedXML")
    vpc_id = (children[0].text or "").strip()
    if not _VPC_ID.fullmatch(vpc_id):
        raise S3ControlError("InvalidRequest", f"The VPC ID {vpc_id!r} is not valid")
    return vpc_id


def parse_policy_request(body: bytes) -> str:
    """The policy text of a ``PutAccessPointPolicyRequest``."""
    root = _document(body, "PutAccessPointPolicyRequest")
    texts = [child.text or "" for child in root if _local(child.tag) == "Policy"]
    if len(texts) != 1 or len(root) != 1:
        raise S3ControlError("MalformedXML")
    return texts[0]


def validate_policy(text: str, arn: str) -> None:
    """An access point policy as S3 takes it: the policy grammar, S3 actions, resources that
    are this access point (``<arn>``) or its objects (``<arn>/object/…``)."""
    if not text.strip():
        raise S3ControlError("MalformedPolicy", "Policies must be valid JSON")
    try:
        policy = parse_policy(
            text.encode("utf-8"), kind=PolicyKind.RESOURCE, max_size=S3_BUCKET_POLICY_MAX
        )
    except MalformedPolicy as exc:
        raise S3ControlError("MalformedPolicy", exc.message) from exc
    for statement in policy.statements:
        for action in statement.actions:
            if action != "*" and not action.lower().startswith("s3:"):
                raise S3ControlError("MalformedPolicy", "Policy has invalid action")
        for resource in statement.resources or ():
            if resource != arn and not resource.startswith(arn + "/object/"):
                raise S3ControlError("MalformedPolicy", "Policy has invalid resource")


def _token(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode()


def _after(token: str) -> str:
    try:
        name = base64.b64decode(token.encode(), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise S3ControlError("InvalidRequest", "The continuation token is not valid") from exc
    if access_point_name_problem(name) is not None:
        raise S3ControlError("InvalidRequest", "The continuation token is not valid")
    return name


class AccessPointCalls:
    """The access point calls of one S3 Control app."""

    def __init__(
        self,
        store: AccessPointStore,
        objects: ObjectService,
        *,
        region: str,
        endpoint: str,
        quota: int,
        page_max: int,
        vpc_owned: VpcOwned | None = None,
    ) -> None:
        self._store = store
        self._vpc_owned = vpc_owned
        self._objects = objects
        self._region = region
        self._endpoint = endpoint
        self._quota = quota
        self._page_max = page_max

    def arn(self, account: str, name: str) -> str:
        return f"arn:aws:s3:{self._region}:{account}:accesspoint/{name}"

    async def _get(self, account: str, name: str) -> AccessPoint:
        found = await self._store.get(account, name)
        if found is None:
            raise S3ControlError("NoSuchAccessPoint")
        return found

    async def create(self, account: str, name: str, body: bytes, now: datetime) -> Response:
        problem = access_point_name_problem(name)
        if problem is not None:
            raise S3ControlError("InvalidRequest", f"The access point name {problem}")
        request = parse_create(body)
        if request.vpc_id is not None and (
            self._vpc_owned is None or not await self._vpc_owned(account, request.vpc_id)
        ):
            # Another account's VPC is said not to exist, as EC2 says of it.
            raise S3ControlError("InvalidRequest", f"The VPC {request.vpc_id} does not exist")
        try:
            bucket = await self._objects.get_bucket(request.bucket)
        except NoSuchBucket as exc:
            raise S3ControlError("NoSuchBucket") from exc
        if request.bucket_account is not None and request.bucket_account != bucket.tenant_id:
            # Said as for a bucket that does not exist: whose a bucket is is not learnt here.
            raise S3ControlError("NoSuchBucket")
        point = AccessPoint(
            tenant_id=account,
            name=name,
            bucket=bucket.name,
            bucket_account=bucket.tenant_id,
            alias=new_alias(name),
            public_access_block=request.block,
            created_at=now,
            vpc_id=request.vpc_id,
            tags=request.tags,
        )
        try:
            await self._store.create(point, quota=self._quota)
        except AccessPointExists as exc:
            raise S3ControlError("AccessPointAlreadyOwnedByYou") from exc
        except AccessPointQuotaExceeded as exc:
            raise S3ControlError(
                "InvalidRequest",
                f"The account has reached its quota of {self._quota} access points",
            ) from exc
        xml = XmlWriter("CreateAccessPointResult", namespace=NAMESPACE)
        xml.element("AccessPointArn", point.arn(self._region))
        xml.element("Alias", point.alias)
        return Response(headers=list(_XML), body=xml.document())

    async def get(self, account: str, name: str) -> Response:
        point = await self._get(account, name)
        xml = XmlWriter("GetAccessPointResult", namespace=NAMESPACE)
        xml.element("Name", point.name)
        xml.element("Bucket", point.bucket)
        xml.element("NetworkOrigin", point.network_origin)
        if point.vpc_id is not None:
            xml.open("VpcConfiguration")
            xml.element("VpcId", point.vpc_id)
            xml.close("VpcConfiguration")
        block = point.public_access_block
        xml.open("PublicAccessBlockConfiguration")
        xml.element("BlockPublicAcls", block.block_public_acls)
        xml.element("IgnorePublicAcls", block.ignore_public_acls)
        xml.element("BlockPublicPolicy", block.block_public_policy)
        xml.element("RestrictPublicBuckets", block.restrict_public_buckets)
        xml.close("PublicAccessBlockConfiguration")
        xml.element("CreationDate", point.created_at.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
        xml.element("Alias", point.alias)
        xml.element("AccessPointArn", point.arn(self._region))
        xml.open("Endpoints")
        xml.open("entry")
        xml.element("key", "ipv4")
        xml.element("value", self._endpoint)
        xml.close("entry")
        xml.close("Endpoints")
        xml.element("BucketAccountId", point.bucket_account)
        return Response(headers=list(_XML), body=xml.document())

    async def delete(self, account: str, name: str) -> Response:
        if not await self._store.delete(account, name):
            raise S3ControlError("NoSuchAccessPoint")
        return Response(status=204)

    async def list(self, account: str, query: str) -> Response:
        params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        limit = self._page_max
        if "maxResults" in params:
            raw = params["maxResults"]
            if not raw.isdigit() or not 0 < int(raw) <= 1000:
                raise S3ControlError("InvalidRequest", "maxResults must be 1 to 1000")
            limit = min(limit, int(raw))
        token = params.get("nextToken")
        after = _after(token) if token else None
        bucket = params.get("bucket") or None
        page = await self._store.list(account, bucket=bucket, after=after, limit=limit + 1)
        xml = XmlWriter("ListAccessPointsResult", namespace=NAMESPACE)
        xml.open("AccessPointList")
        for point in page[:limit]:
            xml.open("AccessPoint")
            xml.element("Name", point.name)
            xml.element("NetworkOrigin", point.network_origin)
            if point.vpc_id is not None:
                xml.open("VpcConfiguration")
                xml.element("VpcId", point.vpc_id)
                xml.close("VpcConfiguration")
            xml.element("Bucket", point.bucket)
            xml.element("AccessPointArn", point.arn(self._region))
            xml.element("Alias", point.alias)
            xml.element("BucketAccountId", point.bucket_account)
            xml.close("AccessPoint")
        xml.close("AccessPointList")
        if len(page) > limit:
            xml.element("NextToken", _token(page[limit - 1].name))
        return Response(headers=list(_XML), body=xml.document())

    async def put_policy(self, account: str, name: str, body: bytes) -> Response:
        point = await self._get(account, name)
        text = parse_policy_request(body)
        validate_policy(text, point.arn(self._region))
        # BlockPublicPolicy of the access point, or of its account (the stricter wins).
        block = PublicAccessBlock.strictest(
            point.public_access_block, await self._objects.get_account_public_access_block(account)
        )
        if (
            block is not None
            and block.block_public_policy
            and is_public(load_policy(text, kind=PolicyKind.RESOURCE))
        ):
            raise S3ControlError("AccessDenied")
        if not await self._store.set_policy(account, name, text):
            raise S3ControlError("NoSuchAccessPoint")
        return Response(status=200)

    async def get_policy(self, account: str, name: str) -> Response:
        point = await self._get(account, name)
        if point.policy is None:
            raise S3ControlError("NoSuchAccessPointPolicy")
        xml = XmlWriter("GetAccessPointPolicyResult", namespace=NAMESPACE)
        xml.element("Policy", point.policy)
        return Response(headers=list(_XML), body=xml.document())

    async def delete_policy(self, account: str, name: str) -> Response:
        await self._get(account, name)
        await self._store.set_policy(account, name, None)
        return Response(status=204)

    async def policy_status(self, account: str, name: str) -> Response:
        point = await self._get(account, name)
        if point.policy is None:
            raise S3ControlError("NoSuchAccessPointPolicy")
        xml = XmlWriter("GetAccessPointPolicyStatusResult", namespace=NAMESPACE)
        xml.open("PolicyStatus")
        xml.element("IsPublic", is_public(load_policy(point.policy, kind=PolicyKind.RESOURCE)))
        xml.close("PolicyStatus")
        return Response(headers=list(_XML), body=xml.document())

    async def scope(self, account: str, name: str) -> Response:
        """Put/Get/DeleteAccessPointScope: a scope is a directory bucket's access point's
        (AWS sends these calls to S3 Express's control endpoint, which knows no general
        purpose bucket's access point)."""
        if name.endswith(_DIRECTORY_ACCESS_POINT_SUFFIX):
            raise S3ControlError("NotImplemented", "Directory buckets are not served")
        raise S3ControlError(
            "NoSuchAccessPoint",
            f"{name} is not an access point of a directory bucket: only those have a scope",
        )
