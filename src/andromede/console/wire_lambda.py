"""AWS Lambda's calls (decision 0286) the console's function pages make (decision 0296), in
process as the signed-in principal through Lambda's REST-JSON protocol (``lambdaapi.app``,
paths under its dated prefixes): its authorisation (``lambda:<Action>`` by the user's policies
and the function's resource policy, ``iam:PassRole`` on the role), checks, audit, metering and
errors answer them. A refusal's code is its ``x-amzn-ErrorType``, its words the body's
``message``. Each answer is read into the small rows the pages show; nothing here decides
what Lambda allows.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import quote, urlencode

from andromede.console.wire import AsgiApp, WireError, _call, _scope
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = [
    "AliasRow",
    "FunctionDetail",
    "FunctionRow",
    "InvokeResult",
    "LambdaWire",
    "Statement",
    "VersionRow",
    "function_path",
]

_FUNCTIONS: Final = "/2015-03-31/functions"


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _items(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


@dataclass(frozen=True, slots=True)
class FunctionRow:
    """One of ListFunctions' functions."""

    name: str
    runtime: str
    memory: int
    timeout: int
    modified: str
    arn: str = ""


@dataclass(frozen=True, slots=True)
class FunctionDetail:
    """A function as GetFunction tells it (its ``$LATEST`` configuration, tags, reserve)."""

    name: str
    arn: str
    runtime: str
    handler: str
    role: str
    description: str
    memory: int
    timeout: int
    modified: str
    code_size: int
    code_sha256: str
    state: str
    version: str
    environment: list[tuple[str, str]]
    tags: list[tuple[str, str]]
    reserved_concurrency: int | None
    dead_letter: str = ""  # DeadLetterConfig's TargetArn, "" when none
    layers: tuple[str, ...] = ()  # the layer versions' ARNs, in their order


@dataclass(frozen=True, slots=True)
class VersionRow:
    """One of ListVersionsByFunction's versions."""

    version: str
    description: str
    code_sha256: str
    modified: str


@dataclass(frozen=True, slots=True)
class AliasRow:
    """One of ListAliases' aliases: its version and, when it routes some of the traffic to
    a second one, that version and its weight (0.0 to 1.0)."""

    name: str
    version: str
    description: str
    second_version: str = ""
    second_weight: float = 0.0


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement of the function's resource policy, as GetPolicy's document holds it."""

    sid: str
    effect: str
    principal: str
    action: str
    condition: str


@dataclass(frozen=True, slots=True)
class InvokeResult:
    """A synchronous invocation's answer: its status, the payload returned, the function's
    error (``Unhandled``; "" when none), the version run and the log's tail (decoded)."""

    status: int
    payload: str
    function_error: str
    executed_version: str
    log_tail: str


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[Any] = field(default_factory=list)
    next_marker: str = ""


def _row(item: dict[str, Any]) -> FunctionRow:
    return FunctionRow(
        name=str(item.get("FunctionName", "")),
        runtime=str(item.get("Runtime", "")),
        memory=_int(item.get("MemorySize")),
        timeout=_int(item.get("Timeout")),
        modified=str(item.get("LastModified", "")),
        arn=str(item.get("FunctionArn", "")),
    )


def _principal(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(str(v) for v in value.values())
    return str(value or "")


def _statements(policy: str) -> list[Statement]:
    try:
        document = json.loads(policy)
    except ValueError:
        return []
    return [
        Statement(
            sid=str(s.get("Sid", "")),
            effect=str(s.get("Effect", "")),
            principal=_principal(s.get("Principal")),
            action=str(s.get("Action", "")),
            condition=json.dumps(s["Condition"], sort_keys=True) if s.get("Condition") else "",
        )
        for s in _items(_mapping(document).get("Statement"))
    ]


def _alias(item: dict[str, Any]) -> AliasRow:
    weights = _mapping(_mapping(item.get("RoutingConfig")).get("AdditionalVersionWeights"))
    second, weight = next(iter(weights.items()), ("", 0.0))
    return AliasRow(
        name=str(item.get("Name", "")),
        version=str(item.get("FunctionVersion", "")),
        description=str(item.get("Description", "")),
        second_version=str(second),
        second_weight=float(weight) if isinstance(weight, int | float) else 0.0,
    )


def function_path(name: str, suffix: str = "") -> str:
    """The path of the function ``name`` (a name or an ARN) under Lambda's 2015 prefix."""
    return f"{_FUNCTIONS}/{quote(name, safe='')}{suffix}"


def alias_routing(second_version: str, weight: float | None) -> dict[str, Any]:
    """The alias's ``RoutingConfig``: empty (no second version) unless both are given."""
    if not second_version or weight is None:
        return {"AdditionalVersionWeights": {}}
    return {"AdditionalVersionWeights": {second_version: weight}}


class LambdaWire:
    """The function calls the console makes, as ``principal``, for the request ``origin``;
    ``runtimes``: those this deployment's Lambda accepts, the creation form's choice."""

    def __init__(self, app: AsgiApp, runtimes: Sequence[str] = ()) -> None:
        self._app = app
        self.runtimes = tuple(runtimes)

    async def request(
        self,
        origin: Scope,
        principal: Principal,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | bytes | None = None,
        headers: Sequence[tuple[bytes, bytes]] = (),
    ) -> tuple[int, dict[str, str], bytes]:
        """Lambda's status, headers and body, or its refusal as a :class:`WireError`."""
        sent = (
            body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
        )
        sent_headers = [(b"content-length", str(len(sent)).encode()), *headers]
        if sent:
            sent_headers.append((b"content-type", b"application/json"))
        scope = _scope(origin, principal, method, path, urlencode(query or {}), sent_headers)
        answer = await _call(self._app, scope, sent)
        if answer.status >= 300:
            try:
                document = _mapping(json.loads(answer.body or b"{}"))
            except ValueError:
                document = {}
            code = answer.headers.get("x-amzn-errortype", "") or str(document.get("Type", ""))
            message = str(document.get("message") or document.get("Message") or "")
            raise WireError(code.split(":", 1)[0] or "ServiceException", message, answer.status)
        return answer.status, dict(answer.headers), answer.body

    async def call(
        self, origin: Scope, principal: Principal, method: str, path: str, **kwargs: Any
    ) -> dict[str, Any]:
        _, _, body = await self.request(origin, principal, method, path, **kwargs)
        try:
            return _mapping(json.loads(body or b"{}"))
        except ValueError:
            return {}

    # -- functions ------------------------------------------------------------------------
    async def functions(
        self, origin: Scope, principal: Principal, *, marker: str, limit: int
    ) -> Page:
        query = {"MaxItems": str(limit)}
        if marker:
            query["Marker"] = marker
        answer = await self.call(origin, principal, "GET", f"{_FUNCTIONS}/", query=query)
        rows = [_row(f) for f in _items(answer.get("Functions"))]
        return Page(rows, str(answer.get("NextMarker") or ""))

    async def function(self, origin: Scope, principal: Principal, name: str) -> FunctionDetail:
        answer = await self.call(origin, principal, "GET", function_path(name))
        config = _mapping(answer.get("Configuration"))
        variables = _mapping(_mapping(config.get("Environment")).get("Variables"))
        reserve = _mapping(answer.get("Concurrency")).get("ReservedConcurrentExecutions")
        return FunctionDetail(
            name=str(config.get("FunctionName", "")),
            arn=str(config.get("FunctionArn", "")),
            runtime=str(config.get("Runtime", "")),
            handler=str(config.get("Handler", "")),
            role=str(config.get("Role", "")),
            description=str(config.get("Description", "")),
            memory=_int(config.get("MemorySize")),
            timeout=_int(config.get("Timeout")),
            modified=str(config.get("LastModified", "")),
            code_size=_int(config.get("CodeSize")),
            code_sha256=str(config.get("CodeSha256", "")),
            state=str(config.get("State", "")),
            version=str(config.get("Version", "")),
            environment=sorted((str(k), str(v)) for k, v in variables.items()),
            tags=sorted((str(k), str(v)) for k, v in _mapping(answer.get("Tags")).items()),
            reserved_concurrency=reserve if isinstance(reserve, int) else None,
            dead_letter=str(_mapping(config.get("DeadLetterConfig")).get("TargetArn") or ""),
            layers=tuple(str(x.get("Arn", "")) for x in _items(config.get("Layers"))),
        )

    async def create(
        self, origin: Scope, principal: Principal, settings: Mapping[str, Any], code: bytes
    ) -> None:
        """CreateFunction of ``settings`` (FunctionName, Runtime, Handler, Role, MemorySize,
        Timeout, Environment, Tags as Lambda names them) with ``code`` as its zip."""
        payload = {**settings, "Code": {"ZipFile": base64.b64encode(code).decode()}}
        await self.call(origin, principal, "POST", _FUNCTIONS, body=payload)

    async def update_code(
        self, origin: Scope, principal: Principal, name: str, code: bytes
    ) -> None:
        payload = {"ZipFile": base64.b64encode(code).decode()}
        await self.call(origin, principal, "PUT", function_path(name, "/code"), body=payload)

    async def update_configuration(
        self, origin: Scope, principal: Principal, name: str, settings: Mapping[str, Any]
    ) -> None:
        await self.call(
            origin, principal, "PUT", function_path(name, "/configuration"), body=settings
        )

    async def delete(self, origin: Scope, principal: Principal, name: str) -> None:
        await self.request(origin, principal, "DELETE", function_path(name))

    # -- versions and aliases -------------------------------------------------------------
    async def versions(self, origin: Scope, principal: Principal, name: str) -> list[VersionRow]:
        """The function's published versions (``$LATEST`` left out), up to Lambda's page."""
        answer = await self.call(
            origin, principal, "GET", function_path(name, "/versions"), query={"MaxItems": "50"}
        )
        return [
            VersionRow(
                version=str(v.get("Version", "")),
                description=str(v.get("Description", "")),
                code_sha256=str(v.get("CodeSha256", "")),
                modified=str(v.get("LastModified", "")),
            )
            for v in _items(answer.get("Versions"))
            if v.get("Version") != "$LATEST"
        ]

    async def publish(
        self, origin: Scope, principal: Principal, name: str, description: str
    ) -> str:
        body = {"Description": description} if description else {}
        answer = await self.call(
            origin, principal, "POST", function_path(name, "/versions"), body=body
        )
        return str(answer.get("Version", ""))

    async def aliases(self, origin: Scope, principal: Principal, name: str) -> list[AliasRow]:
        answer = await self.call(
            origin, principal, "GET", function_path(name, "/aliases"), query={"MaxItems": "50"}
        )
        return [_alias(a) for a in _items(answer.get("Aliases"))]

    async def put_alias(
        self,
        origin: Scope,
        principal: Principal,
        name: str,
        alias: str,
        *,
        version: str,
        description: str,
        routing: Mapping[str, Any],
        create: bool,
    ) -> None:
        """CreateAlias (``create``) or UpdateAlias of ``alias`` to ``version``."""
        body: dict[str, Any] = {
            "FunctionVersion": version,
            "Description": description,
            "RoutingConfig": routing,
        }
        if create:
            body["Name"] = alias
            path = function_path(name, "/aliases")
            await self.call(origin, principal, "POST", path, body=body)
        else:
            path = function_path(name, f"/aliases/{quote(alias, safe='')}")
            await self.call(origin, principal, "PUT", path, body=body)

    async def delete_alias(
        self, origin: Scope, principal: Principal, name: str, alias: str
    ) -> None:
        path = function_path(name, f"/aliases/{quote(alias, safe='')}")
        await self.request(origin, principal, "DELETE", path)

    # -- resource policy, concurrency, tags -----------------------------------------------
    async def statements(self, origin: Scope, principal: Principal, name: str) -> list[Statement]:
        """The resource policy's statements (none: Lambda's ResourceNotFoundException for a
        function without a policy)."""
        try:
            answer = await self.call(origin, principal, "GET", function_path(name, "/policy"))
        except WireError as exc:
            if exc.code == "ResourceNotFoundException":
                return []
            raise
        return _statements(str(answer.get("Policy", "")))

    async def add_permission(
        self, origin: Scope, principal: Principal, name: str, permission: Mapping[str, str]
    ) -> None:
        """AddPermission of ``permission`` (StatementId, Action, Principal, SourceArn…)."""
        body = {k: v for k, v in permission.items() if v}
        await self.call(origin, principal, "POST", function_path(name, "/policy"), body=body)

    async def remove_permission(
        self, origin: Scope, principal: Principal, name: str, sid: str
    ) -> None:
        path = function_path(name, f"/policy/{quote(sid, safe='')}")
        await self.request(origin, principal, "DELETE", path)

    async def set_concurrency(
        self, origin: Scope, principal: Principal, name: str, reserved: int | None
    ) -> None:
        """PutFunctionConcurrency of ``reserved``; DeleteFunctionConcurrency for None."""
        path = f"/2017-10-31/functions/{quote(name, safe='')}/concurrency"
        if reserved is None:
            await self.request(origin, principal, "DELETE", path)
        else:
            body = {"ReservedConcurrentExecutions": reserved}
            await self.call(origin, principal, "PUT", path, body=body)

    async def tag(
        self, origin: Scope, principal: Principal, arn: str, tags: Sequence[tuple[str, str]]
    ) -> None:
        await self.call(
            origin, principal, "POST", f"/2017-03-31/tags/{arn}", body={"Tags": dict(tags)}
        )

    async def untag(self, origin: Scope, principal: Principal, arn: str, key: str) -> None:
        await self.request(
            origin, principal, "DELETE", f"/2017-03-31/tags/{arn}", query={"tagKeys": key}
        )

    # -- invocation -----------------------------------------------------------------------
    async def invoke(
        self, origin: Scope, principal: Principal, name: str, event: str, qualifier: str
    ) -> InvokeResult:
        """A synchronous invocation (``RequestResponse``) of ``event``, its log's tail asked
        (``LogType`` Tail)."""
        query = {"Qualifier": qualifier} if qualifier else {}
        status, headers, body = await self.request(
            origin, principal, "POST", function_path(name, "/invocations"), query=query,
            body=event.encode(), headers=[(b"x-amz-log-type", b"Tail")],
        )  # fmt: skip
        tail = headers.get("x-amz-log-result", "")
        try:
            log = base64.b64decode(tail).decode("utf-8", "replace") if tail else ""
        except ValueError:
            log = ""
        return InvokeResult(
            status=status,
            payload=body.decode("utf-8", "replace"),
            function_error=headers.get("x-amz-function-error", ""),
            executed_version=headers.get("x-amz-executed-version", ""),
            log_tail=log,
        )
