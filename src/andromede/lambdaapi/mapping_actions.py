"""AWS Lambda's event source mapping operations (decision 0295): CreateEventSourceMapping
and ListEventSourceMappings authorised as ``lambda:<Action>`` on ``*``, Get, Update and
Delete on the mapping's ARN (``arn:aws:lambda:<region>:<account>:event-source-mapping:<UUID>``),
each with the ``lambda:FunctionArn`` condition key of the function it names, as AWS's
reference gives them; answered in the API model's ``EventSourceMappingConfiguration`` shape
(202 for creations, changes and deletions, as AWS)."""

from __future__ import annotations

from typing import Any, Final

from andromede.functions.mapping_service import EventSourceMappings
from andromede.functions.mappings import EventSourceMapping
from andromede.functions.model import parse_function_name
from andromede.lambdaapi.actions import Handler, LambdaCall
from andromede.lambdaapi.wire import Answer

__all__ = ["mapping_actions", "mapping_shape"]

# Answered as kept: the stream mappings' (decision 0301) every one, their defaults included.
_KEPT_MEMBERS: Final = (
    "FilterCriteria",
    "ScalingConfig",
    "StartingPosition",
    "StartingPositionTimestamp",
    "ParallelizationFactor",
    "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds",
    "BisectBatchOnFunctionError",
    "TumblingWindowInSeconds",
    "DestinationConfig",
    "MetricsConfig",
)


def mapping_shape(mappings: EventSourceMappings, mapping: EventSourceMapping) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "UUID": mapping.uuid,
        "EventSourceMappingArn": mappings.arn(mapping.tenant_id, mapping.uuid),
        "EventSourceArn": mapping.source_arn,
        "FunctionArn": mapping.function_arn,
        "BatchSize": mapping.batch_size,
        "MaximumBatchingWindowInSeconds": mapping.window_seconds,
        "LastModified": mapping.last_modified / 1000,
        "State": mapping.state,
        "StateTransitionReason": mapping.state_reason,
        "FunctionResponseTypes": list(mapping.parameters.get("FunctionResponseTypes", [])),
        "LastProcessingResult": mapping.last_result,
    }
    for member in _KEPT_MEMBERS:
        if member in mapping.parameters:
            shape[member] = mapping.parameters[member]
    return shape


def mapping_actions(mappings: EventSourceMappings) -> dict[str, Handler]:
    """The handlers of the five operations over ``mappings``."""

    def function_arn(call: LambdaCall, given: object) -> dict[str, Any]:
        if not isinstance(given, str):
            return {}
        named = parse_function_name(given)
        owner = named.account or call.tenant_id
        return {"lambda:FunctionArn": call.functions.arn(owner, named.name, named.qualifier)}

    async def found(call: LambdaCall, action: str) -> EventSourceMapping:
        uuid = str(call.params.get("UUID", ""))[:64]
        arn = mappings.arn(call.tenant_id, uuid)
        call.resources.append(arn)
        existing = await call_store_get(call, uuid)
        keys = {} if existing is None else {"lambda:FunctionArn": existing.function_arn}
        if action == "UpdateEventSourceMapping" and call.params.get("FunctionName") is not None:
            keys = function_arn(call, call.params["FunctionName"])
        await call.authorise(f"lambda:{action}", arn, keys, None, call.tenant_id)
        return await mappings.get(call.tenant_id, uuid)

    async def call_store_get(call: LambdaCall, uuid: str) -> EventSourceMapping | None:
        return await mappings.store.get(call.tenant_id, uuid) if uuid else None

    async def create(call: LambdaCall) -> dict[str, Any]:
        keys = function_arn(call, call.params.get("FunctionName"))
        call.resources.append(keys.get("lambda:FunctionArn", "*"))
        await call.authorise("lambda:CreateEventSourceMapping", "*", keys, None, call.tenant_id)
        made = await mappings.create(call.tenant_id, call.params)
        call.resources[-1] = mappings.arn(call.tenant_id, made.uuid)
        call.answer = Answer(status=202)
        return mapping_shape(mappings, made)

    async def get(call: LambdaCall) -> dict[str, Any]:
        return mapping_shape(mappings, await found(call, "GetEventSourceMapping"))

    async def update(call: LambdaCall) -> dict[str, Any]:
        mapping = await found(call, "UpdateEventSourceMapping")
        changed = await mappings.update(call.tenant_id, mapping.uuid, call.params)
        call.answer = Answer(status=202)
        return mapping_shape(mappings, changed)

    async def delete(call: LambdaCall) -> dict[str, Any]:
        mapping = await found(call, "DeleteEventSourceMapping")
        deleting = await mappings.delete(call.tenant_id, mapping.uuid)
        call.answer = Answer(status=202)
        return mapping_shape(mappings, deleting)

    async def listed(call: LambdaCall) -> dict[str, Any]:
        keys = function_arn(call, call.params.get("FunctionName"))
        await call.authorise("lambda:ListEventSourceMappings", "*", keys, None, call.tenant_id)
        page, marker = await mappings.list(
            call.tenant_id,
            call.params.get("EventSourceArn"),
            call.params.get("FunctionName"),
            call.params.get("Marker"),
            call.params.get("MaxItems"),
        )
        answer: dict[str, Any] = {"EventSourceMappings": [mapping_shape(mappings, m) for m in page]}
        if marker is not None:
            answer["NextMarker"] = marker
        return answer

    return {
        "CreateEventSourceMapping": create,
        "GetEventSourceMapping": get,
        "UpdateEventSourceMapping": update,
        "DeleteEventSourceMapping": delete,
        "ListEventSourceMappings": listed,
    }
