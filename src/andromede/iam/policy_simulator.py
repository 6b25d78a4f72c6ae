"""The policy simulator (decision 0193): SimulatePrincipalPolicy and SimulateCustomPolicy decide
each action on each resource with the engine the request path uses (``iam/policy``), and say
why — the statements that matched, with where they sit in their policy's text, the condition
keys the policies need that the simulation was not given, what the permissions boundary and the
resource policy each decided.

Pure: no I/O. The policies come in as text with their source (``PolicySource``); the engine's
hot path is untouched — the simulator finds the matching statements itself, after the engine's
decision, with the same ``candidates``/``applies`` the engine uses.

A simulation knows only what it is told. The request's global keys (``aws:SourceIp``,
``aws:CurrentTime``, ``aws:SecureTransport``, ``aws:MultiFactorAuthPresent``…) are absent unless
a ``ContextEntries`` entry gives them, as AWS's simulator has them; the principal's own keys
(``aws:username``, ``aws:userid``, ``aws:PrincipalArn``, ``aws:PrincipalType``,
``aws:PrincipalAccount``) come from the simulated caller.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final, cast

from andromede.iam.errors import InvalidInput, MalformedPolicyDocument
from andromede.iam.policy import (
    ContextValue,
    MalformedPolicy,
    Outcome,
    PolicyDocument,
    PolicyKind,
    PrincipalType,
    RequestContext,
    Statement,
    evaluate,
    parse_policy,
)
from andromede.iam.policy.conditions import parse_date
from andromede.iam.policy.document import Effect

__all__ = [
    "ContextEntry",
    "MatchedStatement",
    "PolicySource",
    "Position",
    "SimulatedCaller",
    "SimulationInput",
    "SimulationResult",
    "SourceType",
    "context_keys",
    "context_value",
    "simulate",
    "statement_spans",
]


class SourceType(StrEnum):
    """AWS's ``PolicySourceType`` values."""

    USER = "user"
    GROUP = "group"
    ROLE = "role"
    AWS_MANAGED = "aws-managed"
    USER_MANAGED = "user-managed"
    RESOURCE = "resource"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class PolicySource:
    """One policy of a simulation: its ``SourcePolicyId`` (an inline policy's name, a managed
    policy's name, ``PolicyInputList.N``…), its type and its text."""

    id: str
    type: SourceType
    text: str


@dataclass(frozen=True, slots=True)
class Position:
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class MatchedStatement:
    source_id: str
    source_type: SourceType
    start: Position
    end: Position


@dataclass(frozen=True, slots=True)
class SimulatedCaller:
    """Whom the simulation acts as; ``arn`` None for a custom policy without ``CallerArn``."""

    account: str
    kind: PrincipalType = PrincipalType.USER
    arn: str | None = None
    role_arn: str | None = None
    user_name: str | None = None
    user_id: str | None = None


@dataclass(frozen=True, slots=True)
class ContextEntry:
    name: str
    type: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SimulationInput:
    caller: SimulatedCaller
    identity: Sequence[PolicySource]
    boundary: Sequence[PolicySource] = ()
    resource_policy: PolicySource | None = None
    resource_owner: str | None = None  # an account id
    context: Mapping[str, ContextValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SimulationResult:
    action: str
    resource: str
    decision: str  # allowed | explicitDeny | implicitDeny
    matched: tuple[MatchedStatement, ...]
    missing: tuple[str, ...]
    boundary_allows: bool | None  # None: no permissions boundary in the simulation
    details: Mapping[str, str]  # EvalDecisionDetails: only with a resource policy


_DECISIONS: Final = {
    Outcome.ALLOW: "allowed",
    Outcome.EXPLICIT_DENY: "explicitDeny",
    Outcome.IMPLICIT_DENY: "implicitDeny",
}
# The request's global keys, absent from a simulation unless ContextEntries give them.
_REQUEST_KEYS: Final = (
    "aws:sourceip",
    "aws:securetransport",
    "aws:multifactorauthpresent",
    "aws:multifactorauthage",
    "aws:currenttime",
    "aws:epochtime",
    "aws:requestedregion",
)
_SCALAR_TYPES: Final = frozenset({"string", "numeric", "boolean", "ip", "binary", "date"})


# -- context entries --------------------------------------------------------------------------
def context_value(entry: ContextEntry) -> ContextValue:
    """A ``ContextEntries`` entry as the engine reads it, checked against its type (AWS's
    ``ContextKeyType``): InvalidInput for a value its type refuses, or for several values of a
    single-valued type."""
    kind = entry.type
    scalar = kind in _SCALAR_TYPES
    base = kind if scalar else kind.removesuffix("List")
    if base not in _SCALAR_TYPES or (not scalar and not kind.endswith("List")):
        raise InvalidInput(f"Invalid ContextKeyType {kind!r} for {entry.name}")
    if not entry.values:
        raise InvalidInput(f"The context key {entry.name} needs at least one value")
    if scalar and len(entry.values) > 1:
        raise InvalidInput(f"The context key {entry.name} of type {kind} takes one value")
    for value in entry.values:
        _check_typed(entry.name, base, value)
    if not scalar:
        return list(entry.values)
    value = entry.values[0]
    if base == "boolean":
        return value.lower() == "true"
    if base == "date":
        return datetime.fromtimestamp(parse_date(value) or 0.0, UTC)
    if base == "binary":
        return base64.b64decode(value)
    return value


def _check_typed(name: str, base: str, value: str) -> None:
    ok = True
    if base == "numeric":
        try:
            float(value)
        except ValueError:
            ok = False
    elif base == "boolean":
        ok = value.lower() in ("true", "false")
    elif base == "date":
        ok = parse_date(value) is not None
    elif base == "binary":
        try:
            base64.b64decode(value, validate=True)
        except binascii.Error:
            ok = False
    if not ok:
        raise InvalidInput(f"The value {value!r} of the context key {name} is not a {base}")


# -- where statements are in a policy's text --------------------------------------------------
def _skip_space(text: str, at: int) -> int:
    while at < len(text) and text[at] in " \t\r\n":
        at += 1
    return at


def _string_end(text: str, at: int) -> int:
    """The index after the JSON string starting at ``at`` (its opening quote)."""
    at += 1
    while text[at] != '"':
        at += 2 if text[at] == "\\" else 1
    return at + 1


def _value_end(text: str, at: int) -> int:
    """The index after the JSON value starting at ``at``."""
    if text[at] == '"':
        return _string_end(text, at)
    if text[at] in "{[":
        depth = 0
        while True:
            char = text[at]
            if char == '"':
                at = _string_end(text, at)
                continue
            if char in "{[":
                depth += 1
            elif char in "}]":
                depth -= 1
                if depth == 0:
                    return at + 1
            at += 1
    while at < len(text) and text[at] not in ",}] \t\r\n":
        at += 1
    return at


def statement_spans(text: str) -> list[tuple[int, int]]:
    """The offsets of each statement's opening and closing brace in a valid policy's text,
    in the order of the statements (one for a lone ``Statement`` object)."""
    at = _skip_space(text, 0) + 1  # past the document's "{"
    while True:
        at = _skip_space(text, at)
        if text[at] == "}":
            return []
        key_end = _string_end(text, at)
        key = text[at + 1 : key_end - 1]
        at = _skip_space(text, _skip_space(text, key_end) + 1)  # past ":"
        end = _value_end(text, at)
        if key == "Statement":
            if text[at] == "{":
                return [(at, end - 1)]
            spans = []
            item = _skip_space(text, at + 1)
            while text[item] != "]":
                item_end = _value_end(text, item)
                spans.append((item, item_end - 1))
                item = _skip_space(text, item_end)
                if text[item] == ",":
                    item = _skip_space(text, item + 1)
            return spans
        at = _skip_space(text, end)
        if text[at] == ",":
            at += 1


def _position(text: str, offset: int) -> Position:
    """1-based line and column of ``offset``."""
    line_start = text.rfind("\n", 0, offset) + 1
    return Position(text.count("\n", 0, offset) + 1, offset - line_start + 1)


# -- simulation -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Parsed:
    source: PolicySource
    document: PolicyDocument
    spans: list[tuple[int, int]]

    def matched(self, statement: Statement) -> MatchedStatement:
        start, end = self.spans[statement.index]
        text = self.source.text
        return MatchedStatement(
            self.source.id, self.source.type, _position(text, start), _position(text, end)
        )


def _parse(source: PolicySource, kind: PolicyKind) -> _Parsed:
    try:
        document = parse_policy(source.text, kind=kind)
    except MalformedPolicy as exc:
        raise MalformedPolicyDocument(f"{source.id}: {exc.message}") from exc
    count = len(document.statements)
    try:
        spans = statement_spans(source.text)
    except IndexError:  # the scanner reads valid JSON only; the parser accepted this text
        spans = []
    if len(spans) != count:
        # A "Statement" key the scanner does not see as written (JSON escapes in the key):
        # each statement is then placed at the whole document.
        spans = [(0, len(source.text.rstrip()) - 1)] * count
    return _Parsed(source, document, spans)


def context_keys(sources: Sequence[PolicySource]) -> list[str]:
    """Every condition key the policies use, as first written, each once (case-insensitively),
    in the order met: GetContextKeysFor*Policy's answer."""
    seen: dict[str, str] = {}
    for source in sources:
        kind = PolicyKind.RESOURCE if source.type is SourceType.RESOURCE else PolicyKind.IDENTITY
        for statement in _parse(source, kind).document.statements:
            for clause in statement.conditions:
                seen.setdefault(clause.key.lower(), clause.key)
    return list(seen.values())


def _request(
    given: SimulationInput, action: str, resource: str, keys: Mapping[str, ContextValue]
) -> RequestContext:
    caller = given.caller
    return RequestContext(
        action=action,
        resource=resource,
        principal_type=caller.kind,
        principal_arn=caller.arn,
        principal_account=caller.account,
        role_arn=caller.role_arn,
        user_id=caller.user_id,
        username=caller.user_name,
        keys=keys,
    )


def _applying(
    policies: Sequence[_Parsed], context: RequestContext, effect: Effect
) -> list[MatchedStatement]:
    found = []
    for parsed in policies:
        for statement in parsed.document.candidates(context.action_key):
            if statement.effect is effect and statement.applies(context):
                found.append(parsed.matched(statement))
    return found


def _missing(policies: Sequence[_Parsed], context: RequestContext) -> list[str]:
    missing: dict[str, str] = {}
    for parsed in policies:
        for statement in parsed.document.candidates(context.action_key):
            for clause in statement.conditions:
                if context.get(clause.key.lower()) is None:
                    missing.setdefault(clause.key.lower(), clause.key)
    return list(missing.values())


def simulate(
    given: SimulationInput, actions: Sequence[str], resources: Sequence[str]
) -> list[SimulationResult]:
    """One result per action per resource, in that order."""
    identity = [_parse(source, PolicyKind.IDENTITY) for source in given.identity]
    boundary = [_parse(source, PolicyKind.IDENTITY) for source in given.boundary]
    resource_policy = (
        _parse(given.resource_policy, PolicyKind.RESOURCE)
        if given.resource_policy is not None
        else None
    )
    # The request's keys absent unless given; None is how the context says "absent".
    keys = cast(
        "dict[str, ContextValue]", dict.fromkeys(_REQUEST_KEYS) | {
            name.lower(): value for name, value in given.context.items()
        }
    )  # fmt: skip
    results = []
    for action in actions:
        for resource in resources:
            context = _request(given, action, resource, keys)
            results.append(_one(given, context, identity, boundary, resource_policy))
    return results


def _boundary_document(boundary: Sequence[_Parsed]) -> PolicyDocument | None:
    """The engine takes one boundary: several (PermissionsBoundaryPolicyInputList) intersect,
    so the simulator decides them one by one and passes the first; the others are checked in
    ``_one``."""
    return boundary[0].document if boundary else None


def _one(
    given: SimulationInput,
    context: RequestContext,
    identity: Sequence[_Parsed],
    boundary: Sequence[_Parsed],
    resource_policy: _Parsed | None,
) -> SimulationResult:
    every = [*identity, *boundary, *([resource_policy] if resource_policy else [])]
    owner = given.resource_owner
    decision = evaluate(
        context,
        identity_policies=[p.document for p in identity],
        resource_policy=resource_policy.document if resource_policy else None,
        resource_account=owner,
        permissions_boundary=_boundary_document(boundary),
    )
    outcome = decision.outcome
    boundary_allows: bool | None = None
    if boundary:
        boundary_allows = all(
            evaluate(context, identity_policies=[p.document]).allowed for p in boundary
        )
        if outcome is Outcome.ALLOW and not boundary_allows:
            # A later boundary of the list refuses: the boundaries intersect.
            outcome = (
                Outcome.EXPLICIT_DENY
                if _applying(boundary, context, Effect.DENY)
                else Outcome.IMPLICIT_DENY
            )
    if outcome is Outcome.EXPLICIT_DENY:
        matched = _applying(every, context, Effect.DENY)
    elif outcome is Outcome.ALLOW:
        matched = _applying(
            [*identity, *([resource_policy] if resource_policy else [])], context, Effect.ALLOW
        )
    else:
        matched = []
    details: dict[str, str] = {}
    if resource_policy is not None:
        alone = evaluate(context, identity_policies=[p.document for p in identity])
        details["IAM Policy"] = _DECISIONS[alone.outcome]
        by_resource = evaluate(
            context, resource_policy=resource_policy.document, resource_account=owner
        )
        # The resource policy alone: the engine allows from it only a statement that names
        # the caller itself (one naming its account delegates to the identity policies).
        details["Resource Policy"] = _DECISIONS[by_resource.outcome]
    return SimulationResult(
        action=context.action,
        resource=context.resource,
        decision=_DECISIONS[outcome],
        matched=tuple(matched),
        missing=tuple(_missing(every, context)),
        boundary_allows=boundary_allows,
        details=details,
    )
