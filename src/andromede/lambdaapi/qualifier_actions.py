"""What the Lambda operations over a function's per-qualifier configurations share
(asynchronous invocation configs, decision 0300; URLs, 0312; provisioned concurrency, 0314):
only the function's account changes them; Delete (204) and List (``MaxItems``, ``Marker``,
``NextMarker``) answered alike; and DeleteFunction and DeleteAlias wrapped so that what
they delete takes its configurations with it, as on AWS."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

from andromede.functions.model import parse_function_name
from andromede.lambdaapi.actions import Handler, LambdaCall, found_function
from andromede.lambdaapi.errors import LambdaWireError
from andromede.lambdaapi.wire import Answer

__all__ = ["QualifierConfigs", "forgetting_deletes", "own_function", "qualifier_handlers"]

_C = TypeVar("_C")


class QualifierConfigs(Protocol[_C]):
    async def delete(self, tenant_id: str, name: str, qualifier: str | None) -> None: ...

    async def list(
        self, tenant_id: str, name: str, marker: object, max_items: object
    ) -> tuple[list[_C], str | None]: ...

    async def forget(self, tenant_id: str, name: str, qualifier: str | None) -> None: ...


def own_function(call: LambdaCall, owner: str) -> None:
    """A change of a configuration: the function's account's alone."""
    if owner != call.tenant_id:
        raise LambdaWireError("AccessDeniedException", "Only the function's account may change it")


def qualifier_handlers(
    configs: QualifierConfigs[_C],
    *,
    delete_action: str,
    list_action: str,
    listed_as: str,
    shape: Callable[[_C], dict[str, Any]],
) -> dict[str, Handler]:
    """The Delete and List operations over ``configs``: Delete of the qualifier called
    (204, empty), List of the unqualified function's, each ``shape``d under ``listed_as``."""

    async def delete_config(call: LambdaCall) -> dict[str, Any]:
        owner, named, _ = await found_function(call, delete_action)
        own_function(call, owner)
        await configs.delete(owner, named.name, named.qualifier)
        call.answer = Answer(status=204)
        return {}

    async def list_configs(call: LambdaCall) -> dict[str, Any]:
        owner, named, _ = await found_function(call, list_action, qualified=False)
        page, marker = await configs.list(
            owner, named.name, call.params.get("Marker"), call.params.get("MaxItems")
        )
        answer: dict[str, Any] = {listed_as: [shape(c) for c in page]}
        if marker is not None:
            answer["NextMarker"] = marker
        return answer

    return {delete_action: delete_config, list_action: list_configs}


def forgetting_deletes(
    configs: QualifierConfigs[Any],
    function_actions: Mapping[str, Handler],
    *,
    of_versions: bool = True,
) -> dict[str, Handler]:
    """DeleteFunction and DeleteAlias (``function_actions``' own, perhaps already wrapped)
    forgetting the configurations of what they delete: the function's all, a version's
    (unless versions have none: ``of_versions`` False), an alias's."""
    delete_function = function_actions["DeleteFunction"]
    delete_alias = function_actions["DeleteAlias"]

    async def deleting_function(call: LambdaCall) -> dict[str, Any]:
        answer = await delete_function(call)
        named = call.named()
        if of_versions or not named.qualifier:
            await configs.forget(call.tenant_id, named.name, named.qualifier or None)
        return answer

    async def deleting_alias(call: LambdaCall) -> dict[str, Any]:
        answer = await delete_alias(call)
        named = parse_function_name(call.params.get("FunctionName"))
        await configs.forget(call.tenant_id, named.name, str(call.params.get("Name", "")))
        return answer

    return {"DeleteFunction": deleting_function, "DeleteAlias": deleting_alias}
