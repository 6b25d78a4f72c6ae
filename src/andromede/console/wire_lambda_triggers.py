"""AWS Lambda's asynchronous invocation configuration (decision 0300), event source mappings
(decision 0301) and layers (decision 0302), as the console's pages (decision 0306) call them
in process as the signed-in principal through ``wire_lambda.LambdaWire``: Lambda's own
authorisation, checks, audit and errors answer them. Each answer is read into the small rows
the pages show; nothing here decides what Lambda allows.

Functions over ``LambdaWire.call`` rather than more methods of it, so that the console's one
Lambda wire stays the one ``Console.functions`` holds.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import quote

from andromede.console.wire import WireError
from andromede.console.wire_lambda import LambdaWire
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = [
    "AsyncConfig",
    "LayerVersionRow",
    "MappingRow",
    "create_mapping",
    "delete_async_config",
    "delete_layer_version",
    "delete_mapping",
    "get_async_config",
    "layer_versions",
    "list_mappings",
    "publish_layer_version",
    "put_async_config",
    "set_mapping_enabled",
    "update_mapping",
]

_EVENT_INVOKE: Final = "/2019-09-25/functions/{name}/event-invoke-config"
_MAPPINGS: Final = "/2015-03-31/event-source-mappings"
_LAYERS: Final = "/2018-10-31/layers"
_LISTED: Final = "50"  # Lambda's page bound for the mappings and layers a page shows


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _items(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _when(value: Any) -> str:
    """An epoch-seconds timestamp (as the mappings' ``LastModified``) as the pages show it."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return str(value or "")


@dataclass(frozen=True, slots=True)
class AsyncConfig:
    """A function's FunctionEventInvokeConfig: retries (None: Lambda's default, 2), maximum
    event age in seconds (None: 6 hours), and its destinations' ARNs ("" when none)."""

    retries: int | None = None
    max_age: int | None = None
    on_success: str = ""
    on_failure: str = ""


@dataclass(frozen=True, slots=True)
class MappingRow:
    """One of ListEventSourceMappings' mappings."""

    uuid: str
    source_arn: str
    state: str
    batch_size: int | None
    starting_position: str
    last_result: str
    last_modified: str
    # A stream mapping's settings (decision 0320): None where Lambda answered none.
    batching_window: int | None = None
    bisect: bool = False
    retries: int | None = None
    max_record_age: int | None = None
    parallelization: int | None = None
    tumbling_window: int | None = None
    on_failure: str = ""

    @property
    def from_stream(self) -> bool:
        """A Kinesis or DynamoDB stream's mapping (a queue's takes none of a stream's
        settings)."""
        return self.source_arn.startswith("arn:aws:kinesis:") or "/stream/" in self.source_arn


@dataclass(frozen=True, slots=True)
class LayerVersionRow:
    """One version of one of the account's layers (ListLayerVersions)."""

    layer: str
    version: int
    arn: str
    description: str
    runtimes: tuple[str, ...]
    license: str
    created: str


def _optional_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# -- asynchronous invocation ------------------------------------------------------------------
async def get_async_config(
    wire: LambdaWire, origin: Scope, principal: Principal, name: str
) -> AsyncConfig | None:
    """The function's ``$LATEST`` configuration; None when it has none (Lambda's
    ResourceNotFoundException)."""
    try:
        answer = await wire.call(
            origin, principal, "GET", _EVENT_INVOKE.format(name=quote(name, safe=""))
        )
    except WireError as exc:
        if exc.code == "ResourceNotFoundException":
            return None
        raise
    destinations = _mapping(answer.get("DestinationConfig"))
    return AsyncConfig(
        retries=_optional_int(answer.get("MaximumRetryAttempts")),
        max_age=_optional_int(answer.get("MaximumEventAgeInSeconds")),
        on_success=str(_mapping(destinations.get("OnSuccess")).get("Destination") or ""),
        on_failure=str(_mapping(destinations.get("OnFailure")).get("Destination") or ""),
    )


async def put_async_config(
    wire: LambdaWire,
    origin: Scope,
    principal: Principal,
    name: str,
    *,
    retries: int | str,
    max_age: int | str | None,
    on_success: str,
    on_failure: str,
) -> None:
    """PutFunctionEventInvokeConfig (the whole configuration replaced, as AWS's console
    saves it); a value not a number sent as typed, for Lambda to refuse."""
    body: dict[str, Any] = {"MaximumRetryAttempts": retries}
    if max_age is not None:
        body["MaximumEventAgeInSeconds"] = max_age
    destinations: dict[str, Any] = {}
    if on_success:
        destinations["OnSuccess"] = {"Destination": on_success}
    if on_failure:
        destinations["OnFailure"] = {"Destination": on_failure}
    body["DestinationConfig"] = destinations
    path = _EVENT_INVOKE.format(name=quote(name, safe=""))
    await wire.call(origin, principal, "PUT", path, body=body)


async def delete_async_config(
    wire: LambdaWire, origin: Scope, principal: Principal, name: str
) -> None:
    path = _EVENT_INVOKE.format(name=quote(name, safe=""))
    await wire.request(origin, principal, "DELETE", path)


# -- event source mappings ----------------------------------------------------------------
async def list_mappings(
    wire: LambdaWire, origin: Scope, principal: Principal, name: str
) -> list[MappingRow]:
    """The function's mappings (ListEventSourceMappings ``FunctionName``), Lambda's first
    page of them."""
    query = {"FunctionName": name, "MaxItems": _LISTED}
    answer = await wire.call(origin, principal, "GET", f"{_MAPPINGS}/", query=query)
    return [
        MappingRow(
            uuid=str(m.get("UUID", "")),
            source_arn=str(m.get("EventSourceArn", "")),
            state=str(m.get("State", "")),
            batch_size=_optional_int(m.get("BatchSize")),
            starting_position=str(m.get("StartingPosition") or ""),
            last_result=str(m.get("LastProcessingResult") or ""),
            last_modified=_when(m.get("LastModified")),
            batching_window=_optional_int(m.get("MaximumBatchingWindowInSeconds")),
            bisect=m.get("BisectBatchOnFunctionError") is True,
            retries=_optional_int(m.get("MaximumRetryAttempts")),
            max_record_age=_optional_int(m.get("MaximumRecordAgeInSeconds")),
            parallelization=_optional_int(m.get("ParallelizationFactor")),
            tumbling_window=_optional_int(m.get("TumblingWindowInSeconds")),
            on_failure=str(
                _mapping(_mapping(m.get("DestinationConfig")).get("OnFailure")).get("Destination")
                or ""
            ),
        )
        for m in _items(answer.get("EventSourceMappings"))
    ]


async def create_mapping(
    wire: LambdaWire,
    origin: Scope,
    principal: Principal,
    name: str,
    *,
    source_arn: str,
    batch_size: int | str | None,
    starting_position: str,
    enabled: bool,
    settings: Mapping[str, Any] | None = None,
) -> str:
    """CreateEventSourceMapping; its UUID. A stream's starting position is sent only when
    chosen (Lambda refuses a stream without one, and a queue with one, in its words);
    ``settings``: the other members as Lambda names them (batching window, bisect…)."""
    body: dict[str, Any] = {
        **(settings or {}),
        "FunctionName": name,
        "EventSourceArn": source_arn,
        "Enabled": enabled,
    }
    if batch_size is not None:
        body["BatchSize"] = batch_size
    if starting_position:
        body["StartingPosition"] = starting_position
    answer = await wire.call(origin, principal, "POST", f"{_MAPPINGS}/", body=body)
    return str(answer.get("UUID", ""))


async def set_mapping_enabled(
    wire: LambdaWire, origin: Scope, principal: Principal, uuid: str, enabled: bool
) -> None:
    path = f"{_MAPPINGS}/{quote(uuid, safe='')}"
    await wire.call(origin, principal, "PUT", path, body={"Enabled": enabled})


async def update_mapping(
    wire: LambdaWire, origin: Scope, principal: Principal, uuid: str, settings: Mapping[str, Any]
) -> None:
    """UpdateEventSourceMapping of ``settings`` (the members as Lambda names them)."""
    path = f"{_MAPPINGS}/{quote(uuid, safe='')}"
    await wire.call(origin, principal, "PUT", path, body=dict(settings))


async def delete_mapping(wire: LambdaWire, origin: Scope, principal: Principal, uuid: str) -> None:
    await wire.request(origin, principal, "DELETE", f"{_MAPPINGS}/{quote(uuid, safe='')}")


# -- layers -------------------------------------------------------------------------------
def _layer_version(layer: str, item: dict[str, Any]) -> LayerVersionRow:
    runtimes = item.get("CompatibleRuntimes")
    return LayerVersionRow(
        layer=layer,
        version=_optional_int(item.get("Version")) or 0,
        arn=str(item.get("LayerVersionArn", "")),
        description=str(item.get("Description") or ""),
        runtimes=tuple(str(r) for r in runtimes) if isinstance(runtimes, list) else (),
        license=str(item.get("LicenseInfo") or ""),
        created=str(item.get("CreatedDate") or ""),
    )


async def layer_versions(
    wire: LambdaWire, origin: Scope, principal: Principal
) -> list[LayerVersionRow]:
    """The account's layers (ListLayers, its first page) and each one's versions
    (ListLayerVersions, newest first, as Lambda lists them)."""
    listed = await wire.call(origin, principal, "GET", f"{_LAYERS}/", query={"MaxItems": _LISTED})
    rows: list[LayerVersionRow] = []
    for layer in _items(listed.get("Layers")):
        name = str(layer.get("LayerName", ""))
        answer = await wire.call(
            origin, principal, "GET", f"{_LAYERS}/{quote(name, safe='')}/versions",
            query={"MaxItems": _LISTED},
        )  # fmt: skip
        rows += [_layer_version(name, v) for v in _items(answer.get("LayerVersions"))]
    return rows


async def publish_layer_version(
    wire: LambdaWire,
    origin: Scope,
    principal: Principal,
    name: str,
    *,
    code: bytes,
    description: str,
    runtimes: Sequence[str],
    license_info: str,
) -> int:
    """PublishLayerVersion of ``code`` (a .zip); the version's number."""
    body: dict[str, Any] = {"Content": {"ZipFile": base64.b64encode(code).decode()}}
    if description:
        body["Description"] = description
    if runtimes:
        body["CompatibleRuntimes"] = list(runtimes)
    if license_info:
        body["LicenseInfo"] = license_info
    path = f"{_LAYERS}/{quote(name, safe='')}/versions"
    answer = await wire.call(origin, principal, "POST", path, body=body)
    return _optional_int(answer.get("Version")) or 0


async def delete_layer_version(
    wire: LambdaWire, origin: Scope, principal: Principal, name: str, version: str
) -> None:
    path = f"{_LAYERS}/{quote(name, safe='')}/versions/{quote(version, safe='')}"
    await wire.request(origin, principal, "DELETE", path)
