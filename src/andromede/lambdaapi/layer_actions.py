"""AWS Lambda's layer operations (decision 0302): PublishLayerVersion, GetLayerVersion,
GetLayerVersionByArn, ListLayers, ListLayerVersions, DeleteLayerVersion,
AddLayerVersionPermission, RemoveLayerVersionPermission and GetLayerVersionPolicy, each
authorising ``lambda:<Action>`` as AWS's reference says — on the layer's ARN for
PublishLayerVersion, on the version's ARN for the others, ``*`` for the lists — before it
calls :class:`~andromede.functions.layer_service.LayersService`, then answering in the API
model's shape.

A layer version named by another account's ARN is read (GetLayerVersion,
GetLayerVersionByArn) only when its policy grants the caller ``lambda:GetLayerVersion``;
only the layer's own account publishes, lists, deletes or changes its policy."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from andromede.functions.layer_model import (
    LayerVersion,
    check_region,
    parse_layer_name,
    parse_layer_version_arn,
    version_number,
)
from andromede.functions.layer_service import LayersService, policy_document
from andromede.iam.policy.document import PolicyKind, load_policy
from andromede.iam.policy.errors import MalformedPolicy
from andromede.lambdaapi.actions import LambdaCall
from andromede.lambdaapi.errors import LambdaWireError
from andromede.lambdaapi.layer_location import layer_location
from andromede.lambdaapi.shapes import lambda_date, signed_by
from andromede.lambdaapi.wire import Answer

__all__ = ["layer_actions", "layer_version_shape"]

Handler = Callable[[LambdaCall], Awaitable[dict[str, Any]]]


def layer_version_shape(layers: LayersService, version: LayerVersion) -> dict[str, Any]:
    """``LayerVersionsListItem``: what ListLayerVersions and ListLayers give of a version."""
    shape: dict[str, Any] = {
        "LayerVersionArn": layers.arn(version.tenant_id, version.name, version.version),
        "Version": version.version,
        "Description": version.description,
        "CreatedDate": lambda_date(version.created),
        "CompatibleRuntimes": list(version.runtimes),
        "CompatibleArchitectures": list(version.architectures),
    }
    if version.license_info:
        shape["LicenseInfo"] = version.license_info
    return shape


def layer_actions(layers: LayersService) -> dict[str, Handler]:
    """The layer operations over ``layers``, for ``LambdaApp``'s ``extra_actions``."""

    def own(call: LambdaCall, account: str | None) -> None:
        if account not in (None, call.tenant_id):
            raise LambdaWireError(
                "AccessDeniedException", "Only the layer's account may list or change it"
            )

    async def full_shape(call: LambdaCall, version: LayerVersion) -> dict[str, Any]:
        location = await layer_location(
            call.functions, call.base_url, version.tenant_id, version.name, version.version
        )
        return {
            "Content": {
                "Location": location,
                "CodeSha256": version.code_sha256,
                "CodeSize": version.code_size,
                **signed_by(version.signing_profile_version_arn, version.signing_job_arn),
            },
            "LayerArn": layers.arn(version.tenant_id, version.name),
            **layer_version_shape(layers, version),
        }

    async def found_version(
        call: LambdaCall, action: str, account: str, name: str, number: object
    ) -> LayerVersion:
        """The live version once the caller may ``action`` on it: authorised on its
        would-be ARN first, so that no one probes names."""
        stored = await layers.store.get(account, name, version_number(number))
        live = None if stored is None or stored.deleted else stored
        arn = layers.arn(account, name, version_number(number))
        call.resources.append(arn)
        policy = None if live is None else live.policy
        await call.authorise(f"lambda:{action}", arn, {}, policy, account)
        return await layers.version(account, name, number)

    async def publish_layer_version(call: LambdaCall) -> dict[str, Any]:
        account, name = parse_layer_name(call.params.get("LayerName"), layers.region)
        arn = layers.arn(call.tenant_id, name)
        call.resources.append(arn)
        await call.authorise("lambda:PublishLayerVersion", arn, {}, None, call.tenant_id)
        own(call, account)
        version = await layers.publish(call.caller, call.tenant_id, name, call.params)
        call.resources[-1] = layers.arn(call.tenant_id, name, version.version)
        call.answer = Answer(status=201)
        return await full_shape(call, version)

    async def get_layer_version(call: LambdaCall) -> dict[str, Any]:
        account, name = parse_layer_name(call.params.get("LayerName"), layers.region)
        owner = account or call.tenant_id
        number = call.params.get("VersionNumber")
        version = await found_version(call, "GetLayerVersion", owner, name, number)
        return await full_shape(call, version)

    async def get_layer_version_by_arn(call: LambdaCall) -> dict[str, Any]:
        parsed = parse_layer_version_arn(call.params.get("Arn"))
        check_region(parsed.region, layers.region)
        version = await found_version(
            call, "GetLayerVersion", parsed.account, parsed.name, parsed.version
        )
        return await full_shape(call, version)

    async def list_layers(call: LambdaCall) -> dict[str, Any]:
        await call.authorise("lambda:ListLayers", "*", {}, None, call.tenant_id)
        page, marker = await layers.list_layers(call.tenant_id, call.params)
        answer: dict[str, Any] = {
            "Layers": [
                {
                    "LayerName": version.name,
                    "LayerArn": layers.arn(version.tenant_id, version.name),
                    "LatestMatchingVersion": layer_version_shape(layers, version),
                }
                for version in page
            ]
        }
        if marker is not None:
            answer["NextMarker"] = marker
        return answer

    async def list_layer_versions(call: LambdaCall) -> dict[str, Any]:
        account, name = parse_layer_name(call.params.get("LayerName"), layers.region)
        await call.authorise("lambda:ListLayerVersions", "*", {}, None, call.tenant_id)
        own(call, account)
        page, marker = await layers.list_versions(call.tenant_id, name, call.params)
        answer: dict[str, Any] = {
            "LayerVersions": [layer_version_shape(layers, version) for version in page]
        }
        if marker is not None:
            answer["NextMarker"] = marker
        return answer

    async def delete_layer_version(call: LambdaCall) -> dict[str, Any]:
        account, name = parse_layer_name(call.params.get("LayerName"), layers.region)
        number = version_number(call.params.get("VersionNumber"))
        arn = layers.arn(call.tenant_id, name, number)
        call.resources.append(arn)
        await call.authorise("lambda:DeleteLayerVersion", arn, {}, None, call.tenant_id)
        own(call, account)
        await layers.delete(call.tenant_id, name, number)
        call.answer = Answer(status=204)
        return {}

    async def add_layer_version_permission(call: LambdaCall) -> dict[str, Any]:
        account, name = parse_layer_name(call.params.get("LayerName"), layers.region)
        own(call, account)
        number = call.params.get("VersionNumber")
        await found_version(call, "AddLayerVersionPermission", call.tenant_id, name, number)
        changed = await layers.add_permission(
            call.tenant_id, name, number, call.params, checked=_engine_reads
        )
        statement = next(
            s for s in _statements(changed.policy) if s.get("Sid") == call.params.get("StatementId")
        )
        call.answer = Answer(status=201)
        return {
            "Statement": _compact(statement),
            "RevisionId": changed.policy_revision,
        }

    async def remove_layer_version_permission(call: LambdaCall) -> dict[str, Any]:
        account, name = parse_layer_name(call.params.get("LayerName"), layers.region)
        own(call, account)
        number = call.params.get("VersionNumber")
        await found_version(call, "RemoveLayerVersionPermission", call.tenant_id, name, number)
        await layers.remove_permission(
            call.tenant_id,
            name,
            number,
            call.params.get("StatementId"),
            call.params.get("RevisionId"),
        )
        call.answer = Answer(status=204)
        return {}

    async def get_layer_version_policy(call: LambdaCall) -> dict[str, Any]:
        account, name = parse_layer_name(call.params.get("LayerName"), layers.region)
        own(call, account)
        number = call.params.get("VersionNumber")
        version = await found_version(call, "GetLayerVersionPolicy", call.tenant_id, name, number)
        return {"Policy": policy_document(version), "RevisionId": version.policy_revision}

    return {
        "PublishLayerVersion": publish_layer_version,
        "GetLayerVersion": get_layer_version,
        "GetLayerVersionByArn": get_layer_version_by_arn,
        "ListLayers": list_layers,
        "ListLayerVersions": list_layer_versions,
        "DeleteLayerVersion": delete_layer_version,
        "AddLayerVersionPermission": add_layer_version_permission,
        "RemoveLayerVersionPermission": remove_layer_version_permission,
        "GetLayerVersionPolicy": get_layer_version_policy,
    }


def _statements(policy: str | None) -> list[dict[str, Any]]:
    return list(json.loads(policy)["Statement"]) if policy else []


def _compact(statement: dict[str, Any]) -> str:
    return json.dumps(statement, separators=(",", ":"))


def _engine_reads(policy: str) -> None:
    """The policy once the IAM engine can evaluate it (as AddPermission's)."""
    try:
        load_policy(policy, kind=PolicyKind.RESOURCE)
    except MalformedPolicy as exc:
        raise LambdaWireError(
            "InvalidParameterValueException", f"The policy is not valid: {exc}"
        ) from None
