"""EventBridge Pipes' operations (decision 0258): one handler per operation, each authorising
``pipes:<Action>`` on the pipe's ARN (the request's tags as ``aws:RequestTag/…`` and
``aws:TagKeys``, the pipe's as ``aws:ResourceTag/…``) — and ``iam:PassRole`` on the role a
CreatePipe or UpdatePipe makes the pipe act as — before it calls the service, then answering in
the API model's shape."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from andromede.pipes.model import Pipe, check_name, pipe_arn
from andromede.pipes.service import ListFilter, PipesService
from andromede.pipesapi.errors import PipesWireError

__all__ = ["ACTIONS", "PipesCall"]

Authorise = Callable[[str, str, Mapping[str, Any]], Awaitable[None]]
Handler = Callable[["PipesCall"], Awaitable[dict[str, Any]]]
_MAX_LIMIT: Final = 100
_STATES: Final = (
    "RUNNING",
    "STOPPED",
    "CREATING",
    "UPDATING",
    "DELETING",
    "STARTING",
    "STOPPING",
    "CREATE_FAILED",
    "UPDATE_FAILED",
    "START_FAILED",
    "STOP_FAILED",
    "DELETE_FAILED",
    "CREATE_ROLLBACK_FAILED",
    "DELETE_ROLLBACK_FAILED",
    "UPDATE_ROLLBACK_FAILED",
)


@dataclass
class PipesCall:
    params: dict[str, Any]
    tenant_id: str
    pipes: PipesService
    authorise: Authorise
    resources: list[str] = field(default_factory=list)

    def name(self) -> str:
        return check_name(self.params.get("Name"))


def _tag_keys(pipe: Pipe) -> dict[str, Any]:
    return {f"aws:ResourceTag/{k}": v for k, v in pipe.tags}


def _request_tags(tags: Any) -> dict[str, Any]:
    if not isinstance(tags, Mapping):
        return {}
    keys: dict[str, Any] = {f"aws:RequestTag/{k}": v for k, v in tags.items()}
    keys["aws:TagKeys"] = [str(k) for k in tags]
    return keys


async def _pipe(call: PipesCall, action: str, extra: Mapping[str, Any] | None = None) -> Pipe:
    """The named pipe, once the caller may ``action`` on it (a pipe that does not exist is
    authorised on its would-be ARN first, so that no one probes names)."""
    name = call.name()
    arn = pipe_arn(call.pipes.region, call.tenant_id, name)
    call.resources.append(arn)
    found = await call.pipes.store.get(call.tenant_id, name)
    keys = dict(extra or {}) | ({} if found is None else _tag_keys(found))
    await call.authorise(f"pipes:{action}", arn, keys)
    return found or await call.pipes.get(call.tenant_id, name)


def _epoch(ms: int) -> float:
    return round(ms / 1000, 3)


def _summary(pipe: Pipe) -> dict[str, Any]:
    return {
        "Arn": pipe.arn,
        "Name": pipe.name,
        "DesiredState": pipe.desired_state,
        "CurrentState": pipe.current_state.value,
        "CreationTime": _epoch(pipe.created),
        "LastModifiedTime": _epoch(pipe.updated),
    }


async def _pass_role(call: PipesCall) -> None:
    role = call.params.get("RoleArn")
    if isinstance(role, str) and role:
        await call.authorise("iam:PassRole", role[:1600], {})


async def create_pipe(call: PipesCall) -> dict[str, Any]:
    name = call.name()
    arn = pipe_arn(call.pipes.region, call.tenant_id, name)
    call.resources.append(arn)
    await call.authorise("pipes:CreatePipe", arn, _request_tags(call.params.get("Tags")))
    await _pass_role(call)
    pipe = await call.pipes.create(call.tenant_id, name, call.params)
    return _summary(pipe)


async def describe_pipe(call: PipesCall) -> dict[str, Any]:
    pipe = await _pipe(call, "DescribePipe")
    described = _summary(pipe) | {
        "Source": pipe.source,
        "SourceParameters": pipe.source_parameters,
        "Target": pipe.target,
        "TargetParameters": pipe.target_parameters,
        "RoleArn": pipe.role_arn,
        "Tags": dict(pipe.tags),
        "Description": pipe.description,
        "StateReason": pipe.state_reason,
    }
    if pipe.log_configuration is not None:
        described["LogConfiguration"] = pipe.log_configuration
    if pipe.enrichment:
        described["Enrichment"] = pipe.enrichment
        described["EnrichmentParameters"] = pipe.enrichment_parameters
    return described


async def update_pipe(call: PipesCall) -> dict[str, Any]:
    await _pipe(call, "UpdatePipe")
    await _pass_role(call)
    return _summary(await call.pipes.update(call.tenant_id, call.name(), call.params))


async def delete_pipe(call: PipesCall) -> dict[str, Any]:
    await _pipe(call, "DeletePipe")
    return _summary(await call.pipes.delete(call.tenant_id, call.name()))


async def start_pipe(call: PipesCall) -> dict[str, Any]:
    await _pipe(call, "StartPipe")
    return _summary(await call.pipes.start(call.tenant_id, call.name()))


async def stop_pipe(call: PipesCall) -> dict[str, Any]:
    await _pipe(call, "StopPipe")
    return _summary(await call.pipes.stop(call.tenant_id, call.name()))


def _state(value: Any, allowed: tuple[str, ...], name: str) -> str | None:
    if value is None:
        return None
    if value not in allowed:
        raise PipesWireError(
            "ValidationException", f"{name} must be one of {', '.join(allowed)}.", fieldList=[]
        )
    return str(value)


def _after(token: Any) -> str | None:
    if token is None:
        return None
    try:
        return base64.urlsafe_b64decode(str(token).encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise PipesWireError("ValidationException", "Invalid NextToken.", fieldList=[]) from None


async def list_pipes(call: PipesCall) -> dict[str, Any]:
    await call.authorise("pipes:ListPipes", "*", {})
    params = call.params
    try:
        limit = int(params.get("Limit", _MAX_LIMIT))
    except ValueError:
        limit = 0
    if not 1 <= limit <= _MAX_LIMIT:
        raise PipesWireError(
            "ValidationException",
            f"Limit must be between 1 and {_MAX_LIMIT}.",
            fieldList=[{"name": "limit", "message": "out of range"}],
        )
    where = ListFilter(
        name_prefix=params.get("NamePrefix"),
        source_prefix=params.get("SourcePrefix"),
        target_prefix=params.get("TargetPrefix"),
        desired_state=_state(params.get("DesiredState"), ("RUNNING", "STOPPED"), "DesiredState"),
        current_state=_state(params.get("CurrentState"), _STATES, "CurrentState"),
    )
    page, last = await call.pipes.list(
        call.tenant_id, where, _after(params.get("NextToken")), limit
    )
    answer: dict[str, Any] = {
        "Pipes": [
            _summary(p) | {"Source": p.source, "Target": p.target, "StateReason": p.state_reason}
            for p in page
        ]
    }
    if last is not None:
        answer["NextToken"] = base64.urlsafe_b64encode(last.encode()).decode()
    return answer


async def _tagged(call: PipesCall, action: str, extra: Mapping[str, Any]) -> Pipe:
    arn = call.params.get("resourceArn")
    prefix = f"arn:aws:pipes:{call.pipes.region}:{call.tenant_id}:pipe/"
    if not isinstance(arn, str) or not arn.startswith(prefix):
        raise PipesWireError("NotFoundException", f"Resource {str(arn)[:256]} does not exist.")
    call.params["Name"] = arn.removeprefix(prefix)
    return await _pipe(call, action, extra)


async def tag_resource(call: PipesCall) -> dict[str, Any]:
    tags = call.params.get("tags")
    pipe = await _tagged(call, "TagResource", _request_tags(tags))
    await call.pipes.tag(pipe, tags)
    return {}


async def untag_resource(call: PipesCall) -> dict[str, Any]:
    keys = call.params.get("tagKeys")
    if not isinstance(keys, list) or not keys:
        raise PipesWireError("ValidationException", "tagKeys is required.", fieldList=[])
    pipe = await _tagged(call, "UntagResource", {"aws:TagKeys": [str(k) for k in keys]})
    await call.pipes.untag(pipe, [str(k) for k in keys])
    return {}


async def list_tags_for_resource(call: PipesCall) -> dict[str, Any]:
    pipe = await _tagged(call, "ListTagsForResource", {})
    return {"tags": dict(pipe.tags)}


ACTIONS: Final[dict[str, Handler]] = {
    "CreatePipe": create_pipe,
    "DescribePipe": describe_pipe,
    "UpdatePipe": update_pipe,
    "DeletePipe": delete_pipe,
    "StartPipe": start_pipe,
    "StopPipe": stop_pipe,
    "ListPipes": list_pipes,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListTagsForResource": list_tags_for_resource,
}
