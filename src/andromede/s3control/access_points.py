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

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from xml.etree.ElementTree import Element, tostring

from andromede.http.response import Response
from andromede.http.xml import XmlWriter
from andromede.s3control import point_calls
from andromede.s3control.documents import local_name, request_document
from andromede.s3control.errors import S3ControlError
from andromede.s3control.public_access_block import NAMESPACE, parse_block
from andromede.s3control.resource_tags import parse_tag_list
from andromede.storage.access_points import AccessPoint, AccessPointStore, Tags, new_alias
from andromede.storage.errors import NoSuchBucket
from andromede.storage.model import PublicAccessBlock
from andromede.storage.service import ObjectService

__all__ = ["AccessPointCalls"]

_CREATE_FIELDS = frozenset(
    {"Bucket", "BucketAccountId", "VpcConfiguration", "PublicAccessBlockConfiguration", "Tags"}
)
_VPC_ID = re.compile(r"vpc-[0-9a-f]{8,17}")
# A directory bucket's access point: a base name, its zone id, ``--xa-s3``.
_DIRECTORY_ACCESS_POINT_SUFFIX = "--xa-s3"
# Whether an account owns a VPC (account, VPC id); None where no compute service runs.
VpcOwned = Callable[[str, str], Awaitable[bool]]


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
    root = request_document(body, "CreateAccessPointRequest")
    fields: dict[str, Element] = {}
    for child in root:
        name = local_name(child.tag)
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
    if len(children) != 1 or local_name(children[0].tag) != "VpcId":
        raise S3ControlError("MalformedXML")
    vpc_id = (children[0].text or "").strip()
    if not _VPC_ID.fullmatch(vpc_id):
        raise S3ControlError("InvalidRequest", f"The VPC ID {vpc_id!r} is not valid")
    return vpc_id


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

    async def create(self, account: str, name: str, body: bytes, now: datetime) -> Response:
        point_calls.check_name(name, "access point")
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
        await point_calls.create_point(self._store, point, quota=self._quota, kinds="access points")
        xml = XmlWriter("CreateAccessPointResult", namespace=NAMESPACE)
        xml.element("AccessPointArn", point.arn(self._region))
        xml.element("Alias", point.alias)
        return point_calls.xml_response(xml)

    async def get(self, account: str, name: str) -> Response:
        point = await point_calls.existing(self._store, account, name)
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
        return point_calls.xml_response(xml)

    async def delete(self, account: str, name: str) -> Response:
        return await point_calls.delete_point(self._store, account, name)

    async def list(self, account: str, query: str) -> Response:
        params = point_calls.query_params(query)
        page = point_calls.page_request(params, self._page_max)
        bucket = params.get("bucket") or None
        found = await self._store.list(account, bucket=bucket, after=page.after, limit=page.fetch)
        xml = XmlWriter("ListAccessPointsResult", namespace=NAMESPACE)
        xml.open("AccessPointList")
        for point in found[: page.limit]:
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
        last = page.last_name(found)
        if last is not None:
            xml.element("NextToken", point_calls.name_token(last))
        return point_calls.xml_response(xml)

    async def put_policy(self, account: str, name: str, body: bytes) -> Response:
        point = await point_calls.existing(self._store, account, name)
        text = point_calls.put_policy_text(body, "PutAccessPointPolicyRequest")
        point_calls.validate_policy(text, point.arn(self._region))
        # BlockPublicPolicy of the access point, or of its account (the stricter wins).
        account_block = await self._objects.get_account_public_access_block(account)
        point_calls.refuse_public_policy(
            text, PublicAccessBlock.strictest(point.public_access_block, account_block)
        )
        if not await self._store.set_policy(account, name, text):
            raise S3ControlError("NoSuchAccessPoint")
        return Response(status=200)

    async def get_policy(self, account: str, name: str) -> Response:
        point = await point_calls.existing(self._store, account, name)
        return point_calls.policy_response("GetAccessPointPolicyResult", point.policy)

    async def delete_policy(self, account: str, name: str) -> Response:
        return await point_calls.delete_policy(self._store, account, name)

    async def policy_status(self, account: str, name: str) -> Response:
        point = await point_calls.existing(self._store, account, name)
        return point_calls.policy_status_response("GetAccessPointPolicyStatusResult", point.policy)

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
