"""The Parameter Store actions served (decision 0229): each parses its parameters, calls the
parameter service and writes AWS's answer. Systems Manager's other features (Run Command,
Session Manager, documents, automation…) are not offered: their operations answer AWS's
``UnknownOperationException`` (``app``)."""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from typing import Any, Final

from andromede.ssm.errors import ParameterNotFound, ParameterVersionNotFound
from andromede.ssm.model import (
    ParameterFilter,
    ParameterType,
    ParameterVersion,
    Tier,
    split_selector,
)
from andromede.ssm.policy_actions import finished_policies
from andromede.ssm.service import NewValue, name_of
from andromede.ssmapi.call import SsmCall, epoch, invalid, page
from andromede.ssmapi.errors import SsmWireError
from andromede.ssmapi.resource_policies import RESOURCE_POLICY_ACTIONS

__all__ = ["ACTIONS"]

Action = Callable[[SsmCall], Awaitable[dict[str, Any]]]
_AWS_MANAGED: Final = "alias/aws/ssm"


def _key_id(version: ParameterVersion) -> str | None:
    if version.type is not ParameterType.SECURE_STRING:
        return None
    return version.key_id or _AWS_MANAGED


async def _value(call: SsmCall, version: ParameterVersion, decrypt: bool) -> str:
    """The value as AWS shows it: a SecureString's ciphertext (base64) unless decrypted."""
    if version.type is ParameterType.SECURE_STRING and not decrypt:
        return base64.b64encode(version.sealed).decode()
    return await call.parameters.value(call.actor, version)


async def _shown(
    call: SsmCall, version: ParameterVersion, decrypt: bool, selector: str | None = None
) -> dict[str, Any]:
    call.resources.append(version.arn)
    shown: dict[str, Any] = {
        "Name": version.name,
        "Type": str(version.type),
        "Value": await _value(call, version, decrypt),
        "Version": version.version,
        "LastModifiedDate": epoch(version.modified),
        "ARN": version.arn,
        "DataType": version.data_type,
    }
    if selector:
        shown["Selector"] = selector
    return shown


def _metadata(version: ParameterVersion, finished: frozenset[str] = frozenset()) -> dict[str, Any]:
    described: dict[str, Any] = {
        "Name": version.name,
        "ARN": version.arn,
        "Type": str(version.type),
        "LastModifiedDate": epoch(version.modified),
        "LastModifiedUser": version.modified_user,
        "Version": version.version,
        "Tier": str(version.tier),
        "Policies": _policies(version, finished),
        "DataType": version.data_type,
    }
    optional = {
        "KeyId": _key_id(version),
        "Description": version.description,
        "AllowedPattern": version.allowed_pattern,
    }
    described.update({k: v for k, v in optional.items() if v is not None})
    return described


def _policies(version: ParameterVersion, finished: frozenset[str]) -> list[dict[str, str]]:
    """The version's policies as ParameterInlinePolicy: Pending until they act, then Finished
    (the ``finished`` types; an expired parameter is deleted, so its Expiration is never
    shown Finished)."""
    if not version.policies:
        return []
    return [
        {
            "PolicyText": json.dumps(policy, separators=(",", ":")),
            "PolicyType": str(policy.get("Type")),
            "PolicyStatus": "Finished" if policy.get("Type") in finished else "Pending",
        }
        for policy in json.loads(version.policies)
    ]


def _selector(reference: str) -> str | None:
    _, number, label = split_selector(name_of(reference))
    return f":{number}" if number is not None else (f":{label}" if label is not None else None)


async def put_parameter(call: SsmCall) -> dict[str, Any]:
    value = call.params.get("Value")
    if value is None:
        raise invalid("Value", "Member must not be null")
    if not isinstance(value, str):
        raise SsmWireError("SerializationException", "Value must be a string")
    if not value:
        raise invalid("Value", "Member must have length greater than or equal to 1")
    kind = call.string("Type", max_length=32)
    tier = call.string("Tier", max_length=32)
    if kind is not None and kind not in tuple(ParameterType):
        raise invalid("Type", "Member must satisfy enum value set: [SecureString, StringList, "
                      "String]")  # fmt: skip
    if tier is not None and tier not in tuple(Tier):
        raise invalid("Tier", "Member must satisfy enum value set: [Advanced, "
                      "Intelligent-Tiering, Standard]")  # fmt: skip
    name = call.name()
    call.resources.append(call.arn(name))
    written = await call.parameters.put(
        call.actor,
        NewValue(
            name=name,
            value=value,
            type=None if kind is None else ParameterType(kind),
            overwrite=call.boolean("Overwrite"),
            description=call.string("Description", max_length=1024),
            allowed_pattern=call.string("AllowedPattern", max_length=1024),
            tier=None if tier is None else Tier(tier),
            data_type=call.string("DataType", max_length=128),
            key_id=call.string("KeyId", min_length=1, max_length=256),
            tags=call.tags(),
            policies=call.string("Policies", min_length=1, max_length=4096),
        ),
    )
    call.resources[-1] = written.arn
    return {"Version": written.version, "Tier": str(written.tier)}


async def get_parameter(call: SsmCall) -> dict[str, Any]:
    reference = call.name()
    version = await call.parameters.get(call.actor, reference, "ssm:GetParameter")
    decrypt = call.boolean("WithDecryption")
    return {"Parameter": await _shown(call, version, decrypt, _selector(reference))}


async def get_parameters(call: SsmCall) -> dict[str, Any]:
    names = call.strings("Names", max_items=10)
    decrypt = call.boolean("WithDecryption")
    found, missing = [], []
    for reference in dict.fromkeys(names):
        try:
            version = await call.parameters.get(call.actor, reference, "ssm:GetParameters")
        except (ParameterNotFound, ParameterVersionNotFound):
            missing.append(reference)
            continue
        found.append(await _shown(call, version, decrypt, _selector(reference)))
    return {"Parameters": found, "InvalidParameters": missing}


async def get_parameters_by_path(call: SsmCall) -> dict[str, Any]:
    path = call.name("Path")
    size = call.integer("MaxResults", minimum=1, maximum=10) or 10
    filters = call.parameter_filters(by_path=True)
    decrypt = call.boolean("WithDecryption")
    held = await call.parameters.by_path(call.actor, path, call.boolean("Recursive"), filters)
    chosen, token = page(held, call.offset(), size)
    return {
        "Parameters": [await _shown(call, v, decrypt) for v in chosen],
        **token,
    }


def _legacy_filters(call: SsmCall) -> list[ParameterFilter]:
    """DescribeParameters' deprecated ``Filters`` (Name, Type, KeyId; any value)."""
    raw = call.params.get("Filters")
    if raw is None:
        return []
    if call.params.get("ParameterFilters") is not None:
        raise SsmWireError(
            "ValidationException",
            "You can use either Filters or ParameterFilters in a single request.",
        )
    if not isinstance(raw, list):
        raise SsmWireError("SerializationException", "Filters must be a list")
    found = []
    for item in raw:
        key = item.get("Key") if isinstance(item, dict) else None
        values = item.get("Values") if isinstance(item, dict) else None
        if key not in ("Name", "Type", "KeyId"):
            raise invalid("Filters.member.Key", "Member must satisfy enum value set: [Name, "
                          "Type, KeyId]")  # fmt: skip
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise invalid("Filters.member.Values", "Member must not be null")
        option = "BeginsWith" if key == "Name" else "Equals"
        found.append(ParameterFilter.checked(str(key), option, values, by_path=False))
    return found


async def describe_parameters(call: SsmCall) -> dict[str, Any]:
    size = call.integer("MaxResults", minimum=1, maximum=50) or 50
    filters = _legacy_filters(call) or call.parameter_filters(by_path=False)
    if call.boolean("Shared"):
        # Other accounts' parameters shared with the caller (decision 0249).
        held = await call.parameters.describe_shared(call.actor, filters)
        call.resources.extend(p.arn for p in held)  # each owner's trail has it too
    else:
        held = await call.parameters.describe(call.actor, filters)
    chosen, token = page(held, call.offset(), size)
    return {
        "Parameters": [
            _metadata(p.latest, finished_policies(p.latest, p.next_action)) for p in chosen
        ],
        **token,
    }


async def get_parameter_history(call: SsmCall) -> dict[str, Any]:
    reference = call.name()
    size = call.integer("MaxResults", minimum=1, maximum=50) or 50
    decrypt = call.boolean("WithDecryption")
    versions = await call.parameters.history(call.actor, reference)
    chosen, token = page(versions, call.offset(), size)
    newest = versions[-1] if versions else None
    held = None
    if newest is not None and newest.policies:
        held = await call.parameters.store.get(newest.tenant_id, newest.region, newest.name)
    shown = []
    for version in chosen:
        # The newest version's policies are the ones that act (decision 0241).
        finished: frozenset[str] = frozenset()
        if held is not None and version.version == held.latest.version:
            finished = finished_policies(version, held.next_action)
        entry = _metadata(version, finished)
        del entry["ARN"]
        entry["Value"] = await _value(call, version, decrypt)
        entry["Labels"] = list(version.labels)
        shown.append(entry)
    if versions:
        call.resources.append(versions[-1].arn)
    return {"Parameters": shown, **token}


async def delete_parameter(call: SsmCall) -> dict[str, Any]:
    call.resources.append(await call.parameters.delete(call.actor, call.name()))
    return {}


async def delete_parameters(call: SsmCall) -> dict[str, Any]:
    names = call.strings("Names", max_items=10)
    deleted, missing = await call.parameters.delete_many(call.actor, names)
    call.resources.extend(call.arn(n) for n in deleted)
    return {"DeletedParameters": deleted, "InvalidParameters": missing}


def _labels(call: SsmCall) -> list[str]:
    return call.strings("Labels", max_items=10, max_length=100)


async def label_parameter_version(call: SsmCall) -> dict[str, Any]:
    reference = call.name()
    number = call.integer("ParameterVersion", minimum=1, maximum=2**63 - 1)
    refused, labelled = await call.parameters.label(call.actor, reference, number,
                                                    _labels(call))  # fmt: skip
    call.resources.append(call.arn(reference))
    return {"InvalidLabels": refused, "ParameterVersion": labelled}


async def unlabel_parameter_version(call: SsmCall) -> dict[str, Any]:
    reference = call.name()
    number = call.integer("ParameterVersion", minimum=1, maximum=2**63 - 1)
    if number is None:
        raise invalid("ParameterVersion", "Member must not be null")
    removed, missing = await call.parameters.unlabel(call.actor, reference, number,
                                                     _labels(call))  # fmt: skip
    call.resources.append(call.arn(reference))
    return {"RemovedLabels": removed, "InvalidLabels": missing}


def _tagged(call: SsmCall) -> str:
    kind = call.string("ResourceType", required=True, max_length=64)
    resource = call.string("ResourceId", required=True, min_length=1)
    assert resource is not None  # noqa: S101 (required)
    if kind != "Parameter":
        # The other resource types are features not offered here: none of them exists.
        raise SsmWireError("InvalidResourceType")
    call.resources.append(call.arn(resource))
    return resource


async def add_tags_to_resource(call: SsmCall) -> dict[str, Any]:
    resource = _tagged(call)
    try:
        await call.parameters.tag(call.actor, resource, call.tags(required=True))
    except ParameterNotFound:
        raise SsmWireError("InvalidResourceId") from None
    return {}


async def remove_tags_from_resource(call: SsmCall) -> dict[str, Any]:
    resource = _tagged(call)
    keys = call.strings("TagKeys", max_items=1000, max_length=128)
    try:
        await call.parameters.untag(call.actor, resource, keys)
    except ParameterNotFound:
        raise SsmWireError("InvalidResourceId") from None
    return {}


async def list_tags_for_resource(call: SsmCall) -> dict[str, Any]:
    resource = _tagged(call)
    try:
        tags = await call.parameters.tags(call.actor, resource)
    except ParameterNotFound:
        raise SsmWireError("InvalidResourceId") from None
    return {"TagList": [{"Key": k, "Value": v} for k, v in tags]}


ACTIONS: Final[dict[str, Action]] = {
    "AddTagsToResource": add_tags_to_resource,
    "DeleteParameter": delete_parameter,
    "DeleteParameters": delete_parameters,
    "DescribeParameters": describe_parameters,
    "GetParameter": get_parameter,
    "GetParameterHistory": get_parameter_history,
    "GetParameters": get_parameters,
    "GetParametersByPath": get_parameters_by_path,
    "LabelParameterVersion": label_parameter_version,
    "ListTagsForResource": list_tags_for_resource,
    "PutParameter": put_parameter,
    "RemoveTagsFromResource": remove_tags_from_resource,
    "UnlabelParameterVersion": unlabel_parameter_version,
    **RESOURCE_POLICY_ACTIONS,
}
