"""The Multi-Region Access Point calls of S3 Control (decision 0385): parse, call the store
(and the object service for the buckets), serialise, in AWS's REST-XML shapes.

Create, Delete and PutMultiRegionAccessPointPolicy are asynchronous on AWS: each answers a
``RequestTokenARN`` that DescribeMultiRegionAccessPointOperation reads. Here the change is
made before the answer, so the operation it records has ``SUCCEEDED``; what AWS would fail
asynchronously (a missing bucket, a name taken, two buckets in one Region) is refused at
once with the same code. The token is derived from the call's ``ClientToken``, so a retried
call (same token) answers the first call's token and changes nothing again, as AWS's
idempotency promises. Get, List, the policy's and the routes' calls are synchronous.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import cast
from xml.etree.ElementTree import Element, tostring

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from andromede.http.response import Response
from andromede.http.xml import XmlWriter
from andromede.iam.policy import PolicyKind, is_public, load_policy
from andromede.s3control.documents import local_name, request_document
from andromede.s3control.errors import S3ControlError
from andromede.s3control.point_calls import (
    PageRequest,
    check_name,
    create_point,
    existing,
    refuse_public_policy,
    validate_policy,
    xml_response,
)
from andromede.s3control.public_access_block import NAMESPACE, parse_block
from andromede.storage.access_points import access_point_name_problem
from andromede.storage.errors import NoSuchBucket
from andromede.storage.model import PublicAccessBlock
from andromede.storage.multi_region_access_points import (
    ACTIVE,
    PASSIVE,
    AsyncOperation,
    MultiRegionAccessPoint,
    MultiRegionAccessPointStore,
    MultiRegionRoute,
    is_alias,
    new_alias,
)
from andromede.storage.service import ObjectService

__all__ = ["MultiRegionCalls"]

_STAMP = "%Y-%m-%dT%H:%M:%S.000Z"


def _child(parent: Element, name: str) -> Element | None:
    found = [c for c in parent if local_name(c.tag) == name]
    if len(found) > 1:
        raise S3ControlError("MalformedXML")
    return found[0] if found else None


def _text(parent: Element, name: str, *, required: bool = True) -> str:
    element = _child(parent, name)
    text = (element.text or "").strip() if element is not None else ""
    if required and not text:
        raise S3ControlError("InvalidRequest", f"{name} is required")
    return text


def _request(body: bytes, root_name: str) -> tuple[str, Element]:
    """The ``ClientToken`` and ``Details`` of an asynchronous call's document."""
    root = request_document(body, root_name)
    token = _text(root, "ClientToken")
    details = _child(root, "Details")
    if details is None:
        raise S3ControlError("MalformedXML")
    return token, details


def _name(details: Element) -> str:
    name = _text(details, "Name")
    check_name(name, "Multi-Region Access Point")
    return name


def _bad_name(name: str) -> bool:
    return access_point_name_problem(name) is not None


def _name_in(body: bytes) -> str:
    """The ``Details/Name`` of an asynchronous call's document, "" when it has none (the
    call itself then refuses the document)."""
    try:
        root = cast(Element, SafeET.fromstring(body))
    except (SafeET.ParseError, DefusedXmlException, ValueError, UnicodeError):
        return ""
    for details in root:
        if local_name(details.tag) == "Details":
            for child in details:
                if local_name(child.tag) == "Name":
                    return (child.text or "").strip()
    return ""


def _page_request(params: Mapping[str, str], page_max: int) -> PageRequest:
    """ListMultiRegionAccessPoints' page: ``maxResults`` 0 to 1000 (0: as many as served),
    ``nextToken`` the last name of the page before."""
    limit = page_max
    if "maxResults" in params:
        raw = params["maxResults"]
        if not raw.isdigit() or int(raw) > 1000:
            raise S3ControlError("InvalidRequest", "maxResults must be 0 to 1000")
        limit = min(limit, int(raw) or limit)
    after = params.get("nextToken") or None
    if after is not None and _bad_name(after):
        raise S3ControlError("InvalidRequest", "The continuation token is not valid")
    return PageRequest(limit, after)


def _block_xml(xml: XmlWriter, block: PublicAccessBlock) -> None:
    xml.open("PublicAccessBlock")
    xml.element("BlockPublicAcls", block.block_public_acls)
    xml.element("IgnorePublicAcls", block.ignore_public_acls)
    xml.element("BlockPublicPolicy", block.block_public_policy)
    xml.element("RestrictPublicBuckets", block.restrict_public_buckets)
    xml.close("PublicAccessBlock")


def _report(xml: XmlWriter, point: MultiRegionAccessPoint) -> None:
    xml.element("Name", point.name)
    xml.element("Alias", point.alias)
    xml.element("CreatedAt", point.created_at.strftime(_STAMP))
    _block_xml(xml, point.public_access_block)
    xml.element("Status", "READY")
    xml.open("Regions")
    for route in point.routes:
        xml.open("Region")
        xml.element("Bucket", route.bucket)
        xml.element("Region", route.region)
        xml.element("BucketAccountId", route.bucket_account)
        xml.close("Region")
    xml.close("Regions")


class MultiRegionCalls:
    """The Multi-Region Access Point calls of one S3 Control app."""

    def __init__(
        self,
        store: MultiRegionAccessPointStore,
        objects: ObjectService,
        *,
        region: str,
        quota: int,
        page_max: int,
    ) -> None:
        self._store = store
        self._objects = objects
        self._region = region
        self._quota = quota
        self._page_max = page_max

    async def resource(self, account: str, named: str, body: bytes) -> str:
        """The resource IAM sees for a call: the Multi-Region Access Point's ARN (by its
        alias, AWS's resource form) when the call names an existing one — by name in its path
        or its document, by ARN for the routes' calls —, ``arn:aws:s3::<account>:accesspoint/
        <name>`` for one not made yet (Create), the token for Describe, ``*`` for List."""
        if named.startswith("arn:"):
            return named
        name = named or _name_in(body)
        if not name:
            return "*"
        found = await self._store.get(account, name) if not _bad_name(name) else None
        return found.arn if found is not None else f"arn:aws:s3::{account}:accesspoint/{name}"

    def _token(self, account: str, operation: str, client_token: str) -> str:
        digest = hashlib.sha256(f"{account}\0{operation}\0{client_token}".encode()).hexdigest()
        kind = {"CreateMultiRegionAccessPoint": "create", "DeleteMultiRegionAccessPoint": "delete"}
        path = kind.get(operation, "put-policy")
        return f"arn:aws:s3:{self._region}:{account}:async-request/mrap/{path}/{digest[:32]}"

    async def _get(self, account: str, name: str) -> MultiRegionAccessPoint:
        return await existing(self._store, account, name, missing="NoSuchMultiRegionAccessPoint")

    async def _by_id(self, account: str, mrap: str) -> MultiRegionAccessPoint:
        """The Multi-Region Access Point a routes call names: its ARN (AWS's form), or its
        alias, of this account."""
        prefix = f"arn:aws:s3::{account}:accesspoint/"
        alias = mrap[len(prefix) :] if mrap.startswith(prefix) else mrap
        found = await self._store.by_alias(alias) if is_alias(alias) else None
        if found is None or found.tenant_id != account:
            raise S3ControlError("NoSuchMultiRegionAccessPoint")
        return found

    async def _answer(self, result: str, token: str) -> Response:
        xml = XmlWriter(result, namespace=NAMESPACE)
        xml.element("RequestTokenARN", token)
        return xml_response(xml)

    async def _replayed(self, account: str, token: str) -> bool:
        return await self._store.operation(account, token) is not None

    async def create(self, account: str, body: bytes, now: datetime) -> Response:
        client_token, details = _request(body, "CreateMultiRegionAccessPointRequest")
        name = _name(details)
        token = self._token(account, "CreateMultiRegionAccessPoint", client_token)
        if await self._replayed(account, token):
            return await self._answer("CreateMultiRegionAccessPointResult", token)
        block_element = _child(details, "PublicAccessBlock")
        block = PublicAccessBlock()
        if block_element is not None:
            # The switches of S3 Control's configuration, under another element name.
            block_element.tag = "PublicAccessBlockConfiguration"
            block = parse_block(tostring(block_element))
        regions = _child(details, "Regions")
        entries = [] if regions is None else [c for c in regions if local_name(c.tag) == "Region"]
        if not entries:
            raise S3ControlError("InvalidRequest", "Regions must name at least one bucket")
        routes: list[MultiRegionRoute] = []
        for entry in entries:
            bucket_name = _text(entry, "Bucket")
            bucket_account = _text(entry, "BucketAccountId", required=False) or None
            try:
                bucket = await self._objects.get_bucket(bucket_name)
            except NoSuchBucket as exc:
                raise S3ControlError("NoSuchBucket") from exc
            if bucket_account is not None and bucket_account != bucket.tenant_id:
                raise S3ControlError("NoSuchBucket")  # whose a bucket is is not learnt here
            if any(r.region == bucket.region for r in routes):
                raise S3ControlError(
                    "InvalidRequest", f"Only one bucket per Region: two in {bucket.region}"
                )
            routes.append(MultiRegionRoute(bucket.name, bucket.tenant_id, bucket.region))
        point = MultiRegionAccessPoint(
            tenant_id=account,
            name=name,
            alias=new_alias(),
            routes=tuple(routes),
            public_access_block=block,
            created_at=now,
        )
        kinds = "Multi-Region Access Points"
        await create_point(self._store, point, quota=self._quota, kinds=kinds)
        parameters = {
            "Name": name,
            "PublicAccessBlock": json.loads(block.to_json()),
            "Regions": [[r.bucket, r.bucket_account] for r in routes],
        }
        await self._record(account, token, "CreateMultiRegionAccessPoint", parameters, routes, now)
        return await self._answer("CreateMultiRegionAccessPointResult", token)

    async def _record(
        self,
        account: str,
        token: str,
        operation: str,
        parameters: Mapping[str, object],
        routes: Sequence[MultiRegionRoute],
        now: datetime,
    ) -> None:
        await self._store.record(
            AsyncOperation(
                tenant_id=account,
                token=token,
                operation=operation,
                details=json.dumps(parameters),
                regions=tuple(r.region for r in routes),
                created_at=now,
            )
        )

    async def delete(self, account: str, body: bytes, now: datetime) -> Response:
        client_token, details = _request(body, "DeleteMultiRegionAccessPointRequest")
        name = _name(details)
        token = self._token(account, "DeleteMultiRegionAccessPoint", client_token)
        if await self._replayed(account, token):
            return await self._answer("DeleteMultiRegionAccessPointResult", token)
        point = await self._get(account, name)
        await self._store.delete(account, name)
        await self._record(
            account, token, "DeleteMultiRegionAccessPoint", {"Name": name}, point.routes, now
        )
        return await self._answer("DeleteMultiRegionAccessPointResult", token)

    async def put_policy(self, account: str, body: bytes, now: datetime) -> Response:
        client_token, details = _request(body, "PutMultiRegionAccessPointPolicyRequest")
        name = _name(details)
        element = _child(details, "Policy")
        text = element.text or "" if element is not None else ""
        token = self._token(account, "PutMultiRegionAccessPointPolicy", client_token)
        if await self._replayed(account, token):
            return await self._answer("PutMultiRegionAccessPointPolicyResult", token)
        point = await self._get(account, name)
        validate_policy(text, point.arn)
        account_block = await self._objects.get_account_public_access_block(account)
        refuse_public_policy(
            text, PublicAccessBlock.strictest(point.public_access_block, account_block)
        )
        if not await self._store.set_policy(account, name, text):
            raise S3ControlError("NoSuchMultiRegionAccessPoint")
        parameters = {"Name": name, "Policy": text}
        await self._record(
            account, token, "PutMultiRegionAccessPointPolicy", parameters, point.routes, now
        )
        return await self._answer("PutMultiRegionAccessPointPolicyResult", token)

    async def describe(self, account: str, token: str) -> Response:
        found = await self._store.operation(account, token)
        if found is None:
            raise S3ControlError("NoSuchAsyncRequest")
        details = json.loads(found.details)
        xml = XmlWriter("DescribeMultiRegionAccessPointOperationResult", namespace=NAMESPACE)
        xml.open("AsyncOperation")
        xml.element("CreationTime", found.created_at.strftime(_STAMP))
        xml.element("Operation", found.operation)
        xml.element("RequestTokenARN", found.token)
        xml.open("RequestParameters")
        xml.open(f"{found.operation}Request")
        xml.element("Name", str(details["Name"]))
        if "Policy" in details:
            xml.element("Policy", str(details["Policy"]))
        if "PublicAccessBlock" in details:
            _block_xml(xml, PublicAccessBlock(*(bool(f) for f in details["PublicAccessBlock"])))
        if "Regions" in details:
            xml.open("Regions")
            for bucket, bucket_account in details["Regions"]:
                xml.open("Region")
                xml.element("Bucket", str(bucket))
                xml.element("BucketAccountId", str(bucket_account))
                xml.close("Region")
            xml.close("Regions")
        xml.close(f"{found.operation}Request")
        xml.close("RequestParameters")
        xml.element("RequestStatus", found.status)
        xml.open("ResponseDetails")
        xml.open("MultiRegionAccessPointDetails")
        xml.open("Regions")
        for region in found.regions:
            xml.open("Region")
            xml.element("Name", region)
            xml.element("RequestStatus", "COMPLETED")
            xml.close("Region")
        xml.close("Regions")
        xml.close("MultiRegionAccessPointDetails")
        xml.close("ResponseDetails")
        xml.close("AsyncOperation")
        return xml_response(xml)

    async def get(self, account: str, name: str) -> Response:
        point = await self._get(account, name)
        xml = XmlWriter("GetMultiRegionAccessPointResult", namespace=NAMESPACE)
        xml.open("AccessPoint")
        _report(xml, point)
        xml.close("AccessPoint")
        return xml_response(xml)

    async def list(self, account: str, params: dict[str, str]) -> Response:
        page = _page_request(params, self._page_max)
        found = await self._store.list(account, after=page.after, limit=page.fetch)
        xml = XmlWriter("ListMultiRegionAccessPointsResult", namespace=NAMESPACE)
        xml.open("AccessPoints")
        for point in found[: page.limit]:
            xml.open("AccessPoint")
            _report(xml, point)
            xml.close("AccessPoint")
        xml.close("AccessPoints")
        last = page.last_name(found)
        if last is not None:
            xml.element("NextToken", last)  # the name itself, as this call always answered
        return xml_response(xml)

    async def get_policy(self, account: str, name: str) -> Response:
        point = await self._get(account, name)
        xml = XmlWriter("GetMultiRegionAccessPointPolicyResult", namespace=NAMESPACE)
        xml.open("Policy")
        if point.policy is not None:
            # Applied before PutMultiRegionAccessPointPolicy answered: established at once.
            for state in ("Established", "Proposed"):
                xml.open(state)
                xml.element("Policy", point.policy)
                xml.close(state)
        xml.close("Policy")
        return xml_response(xml)

    async def policy_status(self, account: str, name: str) -> Response:
        point = await self._get(account, name)
        public = point.policy is not None and is_public(
            load_policy(point.policy, kind=PolicyKind.RESOURCE)
        )
        xml = XmlWriter("GetMultiRegionAccessPointPolicyStatusResult", namespace=NAMESPACE)
        xml.open("Established")
        xml.element("IsPublic", public)
        xml.close("Established")
        return xml_response(xml)

    async def routes(self, account: str, mrap: str) -> Response:
        point = await self._by_id(account, mrap)
        xml = XmlWriter("GetMultiRegionAccessPointRoutesResult", namespace=NAMESPACE)
        xml.element("Mrap", mrap)
        xml.open("Routes")
        for route in point.routes:
            xml.open("Route")
            xml.element("Bucket", route.bucket)
            xml.element("Region", route.region)
            xml.element("TrafficDialPercentage", str(route.dial))
            xml.close("Route")
        xml.close("Routes")
        return xml_response(xml)

    async def submit_routes(self, account: str, mrap: str, body: bytes) -> Response:
        point = await self._by_id(account, mrap)
        root = request_document(body, "SubmitMultiRegionAccessPointRoutesRequest")
        updates = _child(root, "RouteUpdates")
        if updates is None:
            raise S3ControlError("MalformedXML")
        routes = {r.region: r for r in point.routes}
        for update in updates:
            if local_name(update.tag) != "Route":
                raise S3ControlError("MalformedXML")
            bucket = _text(update, "Bucket", required=False)
            region = _text(update, "Region", required=False)
            raw = _text(update, "TrafficDialPercentage")
            if raw not in (str(ACTIVE), str(PASSIVE)):
                raise S3ControlError(
                    "InvalidRequest", "TrafficDialPercentage must be 0 (passive) or 100 (active)"
                )
            matched = [
                r
                for r in routes.values()
                if (not bucket or r.bucket == bucket) and (not region or r.region == region)
            ]
            if not (bucket or region) or len(matched) != 1:
                raise S3ControlError(
                    "InvalidRequest",
                    "Each route must name a Bucket or Region of the Multi-Region Access Point"
                    " (both: the bucket in that Region)",
                )
            routes[matched[0].region] = MultiRegionRoute(
                matched[0].bucket, matched[0].bucket_account, matched[0].region, int(raw)
            )
        if not any(r.active for r in routes.values()):
            raise S3ControlError(
                "InvalidRequest", "At least one Region of the routing configuration must be active"
            )
        new_routes = tuple(routes[r.region] for r in point.routes)
        if not await self._store.set_routes(account, point.name, new_routes):
            raise S3ControlError("NoSuchMultiRegionAccessPoint")
        xml = XmlWriter("SubmitMultiRegionAccessPointRoutesResult", namespace=NAMESPACE)
        return xml_response(xml)
