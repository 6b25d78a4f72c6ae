"""The Object Lambda access point calls of S3 Control (decision 0384): parse, call the Object
Lambda store (and the access point store for the supporting access point), serialise.

Create/Get/Delete/ListAccessPointsForObjectLambda, Get/PutAccessPointConfigurationFor
ObjectLambda, Put/Get/DeleteAccessPointPolicyForObjectLambda and
GetAccessPointPolicyStatusForObjectLambda, in AWS's REST-XML shapes. The configuration's
supporting access point must be one of the account's in this Region, its functions Lambda
function ARNs of the account in this Region, each action transformed by one configuration.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Final
from xml.etree.ElementTree import Element

from andromede.http.response import Response
from andromede.http.xml import XmlWriter
from andromede.s3control import point_calls
from andromede.s3control.documents import local_name, request_document
from andromede.s3control.errors import S3ControlError
from andromede.s3control.public_access_block import NAMESPACE
from andromede.storage.access_points import AccessPointStore
from andromede.storage.model import PublicAccessBlock
from andromede.storage.object_lambda_points import (
    ObjectLambdaAccessPoint,
    ObjectLambdaConfiguration,
    ObjectLambdaStore,
    Transformation,
    new_object_lambda_alias,
)

__all__ = ["ObjectLambdaCalls", "parse_configuration"]

ACTIONS: Final = ("GetObject", "HeadObject", "ListObjects", "ListObjectsV2")
FEATURES: Final = ("GetObject-Range", "GetObject-PartNumber", "HeadObject-Range",
    "HeadObject-PartNumber")  # fmt: skip
_NAME_MAX = 45  # AWS: Object Lambda access point names are 3 to 45 characters
_PAYLOAD_MAX = 1024
_SUPPORTING = re.compile(
    r"arn:aws:s3:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):accesspoint/(?P<name>[a-z0-9-]+)"
)
_FUNCTION = re.compile(
    r"arn:aws:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):function:"
    r"[a-zA-Z0-9_-]{1,64}(:(\$LATEST|[a-zA-Z0-9_-]{1,128}))?"
)


def _text(element: Element) -> str:
    return (element.text or "").strip()


def _children(element: Element, name: str) -> list[Element]:
    found = list(element)
    if any(local_name(child.tag) != name for child in found):
        raise S3ControlError("MalformedXML")
    return found


def _transformation(element: Element) -> Transformation:
    actions: tuple[str, ...] = ()
    function_arn = ""
    payload = None
    for child in element:
        name = local_name(child.tag)
        if name == "Actions":
            actions = tuple(_text(a) for a in _children(child, "Action"))
        elif name == "ContentTransformation":
            lambdas = _children(child, "AwsLambda")
            if len(lambdas) != 1:
                raise S3ControlError("MalformedXML")
            for field in lambdas[0]:
                field_name = local_name(field.tag)
                if field_name == "FunctionArn":
                    function_arn = _text(field)
                elif field_name == "FunctionPayload":
                    payload = field.text or ""
                else:
                    raise S3ControlError("MalformedXML")
        else:
            raise S3ControlError("MalformedXML")
    if not actions or not function_arn:
        raise S3ControlError("InvalidRequest", "A transformation needs Actions and a FunctionArn")
    unknown = [a for a in actions if a not in ACTIONS]
    if unknown:
        raise S3ControlError("InvalidRequest", f"The action {unknown[0][:64]!r} is not valid")
    if payload is not None and len(payload) > _PAYLOAD_MAX:
        raise S3ControlError("InvalidRequest", "FunctionPayload is too long")
    return Transformation(actions, function_arn, payload)


def parse_configuration(body: bytes, root_name: str) -> ObjectLambdaConfiguration:
    """The ``Configuration`` of a Create or PutAccessPointConfigurationForObjectLambda
    request: SupportingAccessPoint and TransformationConfigurations required, each action
    transformed once, AWS's actions and features only."""
    root = request_document(body, root_name)
    found = [child for child in root if local_name(child.tag) == "Configuration"]
    if len(found) != 1 or len(root) != 1:
        raise S3ControlError("MalformedXML")
    supporting = ""
    transformations: list[Transformation] = []
    features: tuple[str, ...] = ()
    metrics = False
    for child in found[0]:
        name = local_name(child.tag)
        if name == "SupportingAccessPoint":
            supporting = _text(child)
        elif name == "TransformationConfigurations":
            elements = _children(child, "TransformationConfiguration")
            transformations = [_transformation(e) for e in elements]
        elif name == "AllowedFeatures":
            features = tuple(_text(f) for f in _children(child, "AllowedFeature"))
        elif name == "CloudWatchMetricsEnabled":
            if _text(child) not in ("true", "false"):
                raise S3ControlError("MalformedXML")
            metrics = _text(child) == "true"
        else:
            raise S3ControlError("MalformedXML")
    if not supporting:
        raise S3ControlError("InvalidRequest", "SupportingAccessPoint is required")
    if not transformations:
        raise S3ControlError("InvalidRequest", "TransformationConfigurations is required")
    actions = [a for t in transformations for a in t.actions]
    if len(actions) != len(set(actions)):
        raise S3ControlError("InvalidRequest", "An action is transformed by one configuration")
    unknown = [f for f in features if f not in FEATURES]
    if unknown:
        raise S3ControlError("InvalidRequest", f"The feature {unknown[0][:64]!r} is not valid")
    return ObjectLambdaConfiguration(supporting, tuple(transformations), features, metrics)


class ObjectLambdaCalls:
    """The Object Lambda access point calls of one S3 Control app."""

    def __init__(
        self,
        store: ObjectLambdaStore,
        access_points: AccessPointStore,
        *,
        region: str,
        quota: int,
        page_max: int,
    ) -> None:
        self.store = store
        self._access_points = access_points
        self._region = region
        self._quota = quota
        self._page_max = page_max

    def arn(self, account: str, name: str) -> str:
        return f"arn:aws:s3-object-lambda:{self._region}:{account}:accesspoint/{name}"

    async def _check(self, account: str, configuration: ObjectLambdaConfiguration) -> None:
        """The supporting access point is one of the account's here; the functions the
        account's here (AWS runs the caller's function in the access point's Region)."""
        supporting = _SUPPORTING.fullmatch(configuration.supporting_access_point)
        if supporting is None or (supporting["region"], supporting["account"]) != (
            self._region,
            account,
        ):
            raise S3ControlError(
                "InvalidRequest",
                "SupportingAccessPoint must be the ARN of an access point of this account "
                "in this Region",
            )
        if await self._access_points.get(account, supporting["name"]) is None:
            raise S3ControlError("NoSuchAccessPoint", "The supporting access point does not exist")
        for transformation in configuration.transformations:
            function = _FUNCTION.fullmatch(transformation.function_arn)
            if function is None or (function["region"], function["account"]) != (
                self._region,
                account,
            ):
                raise S3ControlError(
                    "InvalidRequest",
                    "FunctionArn must be a Lambda function ARN of this account in this Region",
                )

    async def create(self, account: str, name: str, body: bytes, now: datetime) -> Response:
        point_calls.check_name(name, "access point", longest=_NAME_MAX)
        configuration = parse_configuration(body, "CreateAccessPointForObjectLambdaRequest")
        await self._check(account, configuration)
        point = ObjectLambdaAccessPoint(
            tenant_id=account,
            name=name,
            alias=new_object_lambda_alias(name),
            configuration=configuration,
            created_at=now,
        )
        kinds = "Object Lambda access points"
        await point_calls.create_point(self.store, point, quota=self._quota, kinds=kinds)
        xml = XmlWriter("CreateAccessPointForObjectLambdaResult", namespace=NAMESPACE)
        xml.element("ObjectLambdaAccessPointArn", point.arn(self._region))
        _alias(xml, point)
        return point_calls.xml_response(xml)

    async def get(self, account: str, name: str) -> Response:
        point = await point_calls.existing(self.store, account, name)
        xml = XmlWriter("GetAccessPointForObjectLambdaResult", namespace=NAMESPACE)
        xml.element("Name", point.name)
        # AWS's Object Lambda access points block all public access, and it cannot change.
        xml.open("PublicAccessBlockConfiguration")
        for switch in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy",
                "RestrictPublicBuckets"):  # fmt: skip
            xml.element(switch, True)
        xml.close("PublicAccessBlockConfiguration")
        xml.element("CreationDate", point.created_at.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
        _alias(xml, point)
        return point_calls.xml_response(xml)

    async def get_configuration(self, account: str, name: str) -> Response:
        point = await point_calls.existing(self.store, account, name)
        xml = XmlWriter("GetAccessPointConfigurationForObjectLambdaResult", namespace=NAMESPACE)
        _configuration(xml, point.configuration)
        return point_calls.xml_response(xml)

    async def put_configuration(self, account: str, name: str, body: bytes) -> Response:
        await point_calls.existing(self.store, account, name)
        configuration = parse_configuration(
            body, "PutAccessPointConfigurationForObjectLambdaRequest"
        )
        await self._check(account, configuration)
        if not await self.store.set_configuration(account, name, configuration):
            raise S3ControlError("NoSuchAccessPoint")
        return Response(status=200)

    async def delete(self, account: str, name: str) -> Response:
        return await point_calls.delete_point(self.store, account, name)

    async def list(self, account: str, query: str) -> Response:
        page = point_calls.page_request(point_calls.query_params(query), self._page_max)
        found = await self.store.list(account, after=page.after, limit=page.fetch)
        xml = XmlWriter("ListAccessPointsForObjectLambdaResult", namespace=NAMESPACE)
        xml.open("ObjectLambdaAccessPointList")
        for point in found[: page.limit]:
            xml.open("ObjectLambdaAccessPoint")
            xml.element("Name", point.name)
            xml.element("ObjectLambdaAccessPointArn", point.arn(self._region))
            _alias(xml, point)
            xml.close("ObjectLambdaAccessPoint")
        xml.close("ObjectLambdaAccessPointList")
        last = page.last_name(found)
        if last is not None:
            xml.element("NextToken", point_calls.name_token(last))
        return point_calls.xml_response(xml)

    async def put_policy(self, account: str, name: str, body: bytes) -> Response:
        point = await point_calls.existing(self.store, account, name)
        text = point_calls.put_policy_text(body, "PutAccessPointPolicyForObjectLambdaRequest")
        point_calls.validate_policy(text, point.arn(self._region), service="s3-object-lambda")
        # Block Public Access is always on for Object Lambda access points.
        point_calls.refuse_public_policy(text, PublicAccessBlock())
        if not await self.store.set_policy(account, name, text):
            raise S3ControlError("NoSuchAccessPoint")
        return Response(status=200)

    async def get_policy(self, account: str, name: str) -> Response:
        point = await point_calls.existing(self.store, account, name)
        result = "GetAccessPointPolicyForObjectLambdaResult"
        return point_calls.policy_response(result, point.policy)

    async def delete_policy(self, account: str, name: str) -> Response:
        return await point_calls.delete_policy(self.store, account, name)

    async def policy_status(self, account: str, name: str) -> Response:
        point = await point_calls.existing(self.store, account, name)
        result = "GetAccessPointPolicyStatusForObjectLambdaResult"
        return point_calls.policy_status_response(result, point.policy)


def _alias(xml: XmlWriter, point: ObjectLambdaAccessPoint) -> None:
    xml.open("Alias")
    xml.element("Value", point.alias)
    xml.element("Status", "READY")
    xml.close("Alias")


def _configuration(xml: XmlWriter, configuration: ObjectLambdaConfiguration) -> None:
    xml.open("Configuration")
    xml.element("SupportingAccessPoint", configuration.supporting_access_point)
    xml.element("CloudWatchMetricsEnabled", configuration.cloudwatch_metrics_enabled)
    if configuration.allowed_features:
        xml.open("AllowedFeatures")
        for feature in configuration.allowed_features:
            xml.element("AllowedFeature", feature)
        xml.close("AllowedFeatures")
    xml.open("TransformationConfigurations")
    for transformation in configuration.transformations:
        xml.open("TransformationConfiguration")
        xml.open("Actions")
        for action in transformation.actions:
            xml.element("Action", action)
        xml.close("Actions")
        xml.open("ContentTransformation")
        xml.open("AwsLambda")
        xml.element("FunctionArn", transformation.function_arn)
        if transformation.function_payload is not None:
            xml.element("FunctionPayload", transformation.function_payload)
        xml.close("AwsLambda")
        xml.close("ContentTransformation")
        xml.close("TransformationConfiguration")
    xml.close("TransformationConfigurations")
    xml.close("Configuration")
