"""Amazon EventBridge Pipes' calls (decisions 0258, 0268) the console's pipe pages make
(decisions 0263, 0276), in process as the signed-in principal through Pipes' restJson1 protocol
(``pipesapi.app``: ``GET /v1/pipes``, ``POST``/``GET``/``PUT``/``DELETE /v1/pipes/<Name>``,
``POST /v1/pipes/<Name>/start`` and ``/stop``, ``GET``/``POST``/``DELETE /tags/<ARN>``): its
authorisation (``pipes:<Action>``), checks
(the role, the source and target as the role may reach them), audit and errors answer them.
A refusal's code is the ``x-amzn-ErrorType`` header's, its words the body's ``message``.
Nothing here decides what Pipes allows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import quote, urlencode

from andromede.console.wire import AsgiApp, WireError, _call, _scope
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = ["NewPipe", "PipeLog", "PipeRow", "PipeSummary", "PipeUpdate", "PipesWire"]

_PIPES: Final = "/v1/pipes"
_TAGS: Final = "/tags/"


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
class PipeLog:
    """A pipe's LogConfiguration (decision 0268): its level and each destination ("" none)."""

    level: str = ""  # OFF, ERROR, INFO or TRACE; "" : no configuration
    log_group_arn: str = ""
    bucket: str = ""
    bucket_owner: str = ""
    prefix: str = ""
    output_format: str = "json"
    firehose_arn: str = ""
    include_execution_data: bool = False

    def payload(self) -> dict[str, Any] | None:
        """LogConfiguration as Pipes takes it; None (JSON null: removed) without a level."""
        if not self.level:
            return None
        sent: dict[str, Any] = {
            "Level": self.level,
            "IncludeExecutionData": ["ALL"] if self.include_execution_data else [],
        }
        if self.log_group_arn:
            sent["CloudwatchLogsLogDestination"] = {"LogGroupArn": self.log_group_arn}
        if self.bucket:
            s3: dict[str, Any] = {
                "BucketName": self.bucket,
                "BucketOwner": self.bucket_owner,
                "OutputFormat": self.output_format,
            }
            if self.prefix:
                s3["Prefix"] = self.prefix
            sent["S3LogDestination"] = s3
        if self.firehose_arn:
            sent["FirehoseLogDestination"] = {"DeliveryStreamArn": self.firehose_arn}
        return sent


def _log(value: Any) -> PipeLog:
    given = _mapping(value)
    s3 = _mapping(given.get("S3LogDestination"))
    return PipeLog(
        level=str(given.get("Level", "")),
        log_group_arn=str(
            _mapping(given.get("CloudwatchLogsLogDestination")).get("LogGroupArn", "")
        ),
        bucket=str(s3.get("BucketName", "")),
        bucket_owner=str(s3.get("BucketOwner", "")),
        prefix=str(s3.get("Prefix", "")),
        output_format=str(s3.get("OutputFormat", "json")),
        firehose_arn=str(
            _mapping(given.get("FirehoseLogDestination")).get("DeliveryStreamArn", "")
        ),
        include_execution_data=given.get("IncludeExecutionData") == ["ALL"],
    )


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
    # Decision 0268: the enrichment (an API destination's ARN, "" none) and its template, the
    # log configuration; the parameters as Pipes describes them, for UpdatePipe's merges.
    enrichment: str = ""
    enrichment_template: str = ""
    log: PipeLog = field(default_factory=PipeLog)
    source_raw: Mapping[str, Any] = field(default_factory=dict)
    target_raw: Mapping[str, Any] = field(default_factory=dict)
    enrichment_raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def source_member(self) -> str:
        """The source's parameters' member (SqsQueueParameters…); "" for another source."""
        return source_member(self.source)

    @property
    def stream_parameters(self) -> Mapping[str, Any]:
        """The source's own parameters (batch size, window, dead-letter, start…)."""
        return _mapping(self.source_raw.get(self.source_member))


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
    # Decision 0276: a stream source's starting position (required for one), the enrichment
    # and its template, the log configuration.
    starting_position: str = ""
    enrichment: str = ""
    enrichment_template: str = ""
    log: PipeLog = field(default_factory=PipeLog)
    # Decision 0316: a state machine target's InvocationType ("" Pipes' default).
    invocation_type: str = ""


@dataclass(frozen=True, slots=True)
class PipeUpdate:
    """What the pipe page's form sends by UpdatePipe: its members as Pipes takes them (the
    source's and target's parameters merged with those described by ``pages_pipes``)."""

    role_arn: str
    description: str
    desired_state: str
    source_parameters: Mapping[str, Any]
    target_parameters: Mapping[str, Any] | None  # None: unchanged, not sent
    enrichment: str
    enrichment_parameters: Mapping[str, Any]
    log: PipeLog

    def payload(self) -> dict[str, Any]:
        sent: dict[str, Any] = {
            "RoleArn": self.role_arn,
            "Description": self.description,
            "DesiredState": self.desired_state,
            "SourceParameters": dict(self.source_parameters),
            "Enrichment": self.enrichment,
            "LogConfiguration": self.log.payload(),
        }
        if self.enrichment:
            sent["EnrichmentParameters"] = dict(self.enrichment_parameters)
        if self.target_parameters is not None:
            sent["TargetParameters"] = dict(self.target_parameters)
        return sent


_SOURCE_MEMBERS: Final = {
    "sqs": "SqsQueueParameters",
    "kinesis": "KinesisStreamParameters",
    "dynamodb": "DynamoDBStreamParameters",
}


def source_member(source: str) -> str:
    """The SourceParameters member of a source's ARN ("" for a kind not served)."""
    parts = source.split(":", 3)
    return _SOURCE_MEMBERS.get(parts[2], "") if len(parts) > 2 else ""


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
            enrichment=str(p.get("Enrichment") or ""),
            enrichment_template=str(
                _mapping(p.get("EnrichmentParameters")).get("InputTemplate", "")
            ),
            log=_log(p.get("LogConfiguration")),
            source_raw=_mapping(p.get("SourceParameters")),
            target_raw=_mapping(p.get("TargetParameters")),
            enrichment_raw=_mapping(p.get("EnrichmentParameters")),
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
        source: dict[str, Any] = {}
        if pipe.filter_pattern:
            source["FilterCriteria"] = {"Filters": [{"Pattern": pipe.filter_pattern}]}
        member = source_member(pipe.source)
        if pipe.starting_position and member and member != "SqsQueueParameters":
            source[member] = {"StartingPosition": pipe.starting_position}
        if source:
            payload["SourceParameters"] = source
        target: dict[str, Any] = {}
        if pipe.input_template:
            target["InputTemplate"] = pipe.input_template
        if pipe.invocation_type:
            target["StepFunctionStateMachineParameters"] = {"InvocationType": pipe.invocation_type}
        if target:
            payload["TargetParameters"] = target
        if pipe.enrichment:
            payload["Enrichment"] = pipe.enrichment
            if pipe.enrichment_template:
                payload["EnrichmentParameters"] = {"InputTemplate": pipe.enrichment_template}
        if (log := pipe.log.payload()) is not None:
            payload["LogConfiguration"] = log
        await self._rest(origin, principal, "POST", self._path(pipe.name), payload)

    async def update(
        self, origin: Scope, principal: Principal, name: str, update: PipeUpdate
    ) -> None:
        """UpdatePipe (``PUT``): Pipes checks every member and merges the source's."""
        await self._rest(origin, principal, "PUT", self._path(name), update.payload())

    async def tags(self, origin: Scope, principal: Principal, arn: str) -> list[tuple[str, str]]:
        """ListTagsForResource, sorted by key."""
        answer = await self._rest(origin, principal, "GET", _TAGS + arn)
        return sorted((str(k), str(v)) for k, v in _mapping(answer.get("tags")).items())

    async def tag(
        self, origin: Scope, principal: Principal, arn: str, tags: Sequence[tuple[str, str]]
    ) -> None:
        await self._rest(origin, principal, "POST", _TAGS + arn, {"tags": dict(tags)})

    async def untag(self, origin: Scope, principal: Principal, arn: str, key: str) -> None:
        await self._rest(origin, principal, "DELETE", _TAGS + arn, query={"tagKeys": key})

    async def start(self, origin: Scope, principal: Principal, name: str) -> None:
        await self._rest(origin, principal, "POST", self._path(name, "start"), {})

    async def stop(self, origin: Scope, principal: Principal, name: str) -> None:
        await self._rest(origin, principal, "POST", self._path(name, "stop"), {})

    async def delete(self, origin: Scope, principal: Principal, name: str) -> None:
        await self._rest(origin, principal, "DELETE", self._path(name))
