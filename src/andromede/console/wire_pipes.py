"""Amazon EventBridge Pipes' calls (decision 0258) the console's pipe pages make (decision
0263), in process as the signed-in principal through Pipes' restJson1 protocol
(``pipesapi.app``: ``GET /v1/pipes``, ``POST``/``GET``/``DELETE /v1/pipes/<Name>``,
``POST /v1/pipes/<Name>/start`` and ``/stop``): its authorisation (``pipes:<Action>``), checks
(the role, the source and target as the role may reach them), audit and errors answer them.
A refusal's code is the ``x-amzn-ErrorType`` header's, its words the body's ``message``.
Nothing here decides what Pipes allows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import quote, urlencode

from andromede.console.wire import AsgiApp, WireError, _call, _scope
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = ["NewPipe", "PipeRow", "PipeSummary", "PipesWire"]

_PIPES: Final = "/v1/pipes"


def _when(value: Any) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return ""
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True, slots=True)
class PipeSummary:
    """One of ListPipes' pipes."""

    name: str
    arn: str
    current_state: str
    desired_state: str
    source: str
    target: str


@dataclass(frozen=True, slots=True)
class PipeRow:
    """A pipe as DescribePipe tells it; its parameters as indented JSON."""

    name: str
    arn: str
    description: str
    current_state: str
    desired_state: str
    state_reason: str
    source: str
    target: str
    role_arn: str
    source_parameters: str
    target_parameters: str
    created: str
    modified: str
    filter_patterns: tuple[str, ...] = ()  # SourceParameters' FilterCriteria, as written
    input_template: str = ""  # TargetParameters' InputTemplate


@dataclass(frozen=True, slots=True)
class NewPipe:
    """What the console's form makes: a pipe from a source to a target as a role, with an
    optional filter pattern (JSON text, as EventBridge reads it) and input template."""

    name: str
    source: str
    target: str
    role_arn: str
    description: str = ""
    filter_pattern: str = ""
    input_template: str = ""
    running: bool = True


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _patterns(source_parameters: Any) -> tuple[str, ...]:
    filters = _mapping(_mapping(source_parameters).get("FilterCriteria")).get("Filters")
    return tuple(
        str(f.get("Pattern", "")) for f in (filters if isinstance(filters, list) else [])
        if isinstance(f, dict)
    )  # fmt: skip


def _parameters(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) if value else ""


class PipesWire:
    """The Pipes calls the console makes, as ``principal``, for the request ``origin``."""

    def __init__(self, app: AsgiApp) -> None:
        self._app = app

    async def _rest(
        self, origin: Scope, principal: Principal, method: str, path: str,
        payload: dict[str, Any] | None = None, query: dict[str, str] | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """The answer's document, or Pipes' refusal as a :class:`WireError`."""
        body = json.dumps(payload).encode() if payload is not None else b""
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        scope = _scope(origin, principal, method, path, urlencode(query or {}), headers)
        answer = await _call(self._app, scope, body)
        try:
            document = json.loads(answer.body or b"{}")
        except ValueError:
            document = {}
        if not isinstance(document, dict):
            document = {}
        if answer.status >= 300:
            code = answer.headers.get("x-amzn-errortype", "") or str(document.get("__type", ""))
            code = code.split(":", 1)[0].rsplit("#", 1)[-1] or "InternalException"
            message = str(document.get("message") or document.get("Message") or "")
            raise WireError(code, message, answer.status)
        return document

    @staticmethod
    def _path(name: str, verb: str = "") -> str:
        return f"{_PIPES}/{quote(name, safe='')}" + (f"/{verb}" if verb else "")

    async def pipes(
        self, origin: Scope, principal: Principal, *, next_token: str, limit: int
    ) -> tuple[list[PipeSummary], str]:
        """One page of ListPipes; the token of the next ("" : the last)."""
        query = {"Limit": str(min(max(limit, 1), 100))}
        if next_token:
            query["NextToken"] = next_token
        answer = await self._rest(origin, principal, "GET", _PIPES, query=query)
        listed = answer.get("Pipes")
        rows = [
            PipeSummary(
                name=str(p.get("Name", "")),
                arn=str(p.get("Arn", "")),
                current_state=str(p.get("CurrentState", "")),
                desired_state=str(p.get("DesiredState", "")),
                source=str(p.get("Source", "")),
                target=str(p.get("Target", "")),
            )
            for p in (listed if isinstance(listed, list) else [])
            if isinstance(p, dict)
        ]
        return rows, str(answer.get("NextToken") or "")

    async def describe(self, origin: Scope, principal: Principal, name: str) -> PipeRow:
        p = await self._rest(origin, principal, "GET", self._path(name))
        return PipeRow(
            name=str(p.get("Name", "")),
            arn=str(p.get("Arn", "")),
            description=str(p.get("Description", "")),
            current_state=str(p.get("CurrentState", "")),
            desired_state=str(p.get("DesiredState", "")),
            state_reason=str(p.get("StateReason", "")),
            source=str(p.get("Source", "")),
            target=str(p.get("Target", "")),
            role_arn=str(p.get("RoleArn", "")),
            source_parameters=_parameters(p.get("SourceParameters")),
            target_parameters=_parameters(p.get("TargetParameters")),
            created=_when(p.get("CreationTime")),
            modified=_when(p.get("LastModifiedTime")),
            filter_patterns=_patterns(p.get("SourceParameters")),
            input_template=str(_mapping(p.get("TargetParameters")).get("InputTemplate", "")),
        )

    async def create(self, origin: Scope, principal: Principal, pipe: NewPipe) -> None:
        """CreatePipe; the filter and template sent only when typed (Pipes checks them)."""
        payload: dict[str, Any] = {
            "Source": pipe.source,
            "Target": pipe.target,
            "RoleArn": pipe.role_arn,
            "DesiredState": "RUNNING" if pipe.running else "STOPPED",
        }
        if pipe.description:
            payload["Description"] = pipe.description
        if pipe.filter_pattern:
            payload["SourceParameters"] = {
                "FilterCriteria": {"Filters": [{"Pattern": pipe.filter_pattern}]}
            }
        if pipe.input_template:
            payload["TargetParameters"] = {"InputTemplate": pipe.input_template}
        await self._rest(origin, principal, "POST", self._path(pipe.name), payload)

    async def start(self, origin: Scope, principal: Principal, name: str) -> None:
        await self._rest(origin, principal, "POST", self._path(name, "start"), {})

    async def stop(self, origin: Scope, principal: Principal, name: str) -> None:
        await self._rest(origin, principal, "POST", self._path(name, "stop"), {})

    async def delete(self, origin: Scope, principal: Principal, name: str) -> None:
        await self._rest(origin, principal, "DELETE", self._path(name))
