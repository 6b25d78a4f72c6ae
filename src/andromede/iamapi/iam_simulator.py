"""IAM handlers of the policy simulator (decision 0193): SimulatePrincipalPolicy,
SimulateCustomPolicy, GetContextKeysForPrincipalPolicy and GetContextKeysForCustomPolicy.

Parameters as botocore sends them: ``ActionNames.member.N``, ``PolicyInputList.member.N``,
``ContextEntries.member.N.ContextKeyName`` / ``.ContextKeyType`` /
``.ContextKeyValues.member.M``. One ``EvaluationResults`` member per action per resource, paged
with ``MaxItems``/``Marker``; ``ResourceSpecificResults`` when ``ResourceArns`` named resources.
"""

from __future__ import annotations

import re

from andromede.http.xml import XmlWriter
from andromede.iam.policy import ContextValue, PrincipalType
from andromede.iam.policy_simulator import (
    ContextEntry,
    MatchedStatement,
    PolicySource,
    SimulatedCaller,
    SimulationInput,
    SimulationResult,
    SourceType,
    context_keys,
    context_value,
)
from andromede.iamapi.errors import QueryError
from andromede.iamapi.iam_common import page, refuse_unsupported, write_truncation
from andromede.iamapi.protocol import Call

__all__ = [
    "get_context_keys_for_custom_policy",
    "get_context_keys_for_principal_policy",
    "policy_source_resource",
    "simulate_custom_policy",
    "simulate_principal_policy",
]

_ACCOUNT = re.compile(r"(?:arn:aws:iam::)?(\d{12})(?::root)?")


def _inputs(call: Call, name: str, prefix: str) -> list[PolicySource]:
    return [
        PolicySource(f"{prefix}.{index}", SourceType.NONE, text)
        for index, text in enumerate(call.members(name), start=1)
    ]


def _context(call: Call) -> dict[str, ContextValue]:
    entries: dict[str, ContextValue] = {}
    index = 1
    while True:
        base = f"ContextEntries.member.{index}"
        name = call.get(f"{base}.ContextKeyName")
        if name is None:
            return entries
        entry = ContextEntry(
            name,
            call.get(f"{base}.ContextKeyType") or "string",
            tuple(call.members(f"{base}.ContextKeyValues")),
        )
        entries[name] = context_value(entry)
        index += 1


def _owner(call: Call) -> str | None:
    raw = call.get("ResourceOwner")
    if raw is None:
        return None
    matched = _ACCOUNT.fullmatch(raw)
    if matched is None:
        raise QueryError("InvalidInput", f"Invalid ResourceOwner {raw!r}: an account's ARN")
    return matched.group(1)


def _resource_policy(call: Call) -> PolicySource | None:
    text = call.get("ResourcePolicy")
    return None if text is None else PolicySource("ResourcePolicy", SourceType.RESOURCE, text)


async def _run(
    call: Call,
    caller: SimulatedCaller,
    identity: list[PolicySource],
    boundary: list[PolicySource],
) -> None:
    refuse_unsupported(call, "ResourceHandlingOption")
    actions = call.members("ActionNames")
    if not actions:
        call.required("ActionNames")
    named = call.members("ResourceArns")
    resource_policy = _resource_policy(call)
    if resource_policy is not None and caller.arn is None:
        raise QueryError("InvalidInput", "CallerArn is required when a ResourcePolicy is simulated")
    given = SimulationInput(
        caller=caller,
        identity=identity,
        boundary=boundary,
        resource_policy=resource_policy,
        resource_owner=_owner(call) or (call.tenant_id if resource_policy else None),
        context=_context(call),
    )
    results = call.identity.run_simulation(given, actions, named or ["*"])
    numbered = list(enumerate(results))
    chosen, marker = page(call, numbered, lambda item: f"{item[0]:09d}")
    xml = call.result
    xml.open("EvaluationResults")
    for _, result in chosen:
        _write_result(xml, result, specific=bool(named))
    xml.close("EvaluationResults")
    write_truncation(xml, marker)


def _write_matched(xml: XmlWriter, matched: tuple[MatchedStatement, ...]) -> None:
    xml.open("MatchedStatements")
    for statement in matched:
        xml.open("member")
        xml.element("SourcePolicyId", statement.source_id)
        xml.element("SourcePolicyType", statement.source_type.value)
        for tag, position in (
            ("StartPosition", statement.start),
            ("EndPosition", statement.end),
        ):
            xml.open(tag)
            xml.element("Line", position.line)
            xml.element("Column", position.column)
            xml.close(tag)
        xml.close("member")
    xml.close("MatchedStatements")


def _write_explanation(xml: XmlWriter, result: SimulationResult) -> None:
    _write_matched(xml, result.matched)
    xml.open("MissingContextValues")
    for key in result.missing:
        xml.element("member", key)
    xml.close("MissingContextValues")
    if result.details:
        xml.open("EvalDecisionDetails")
        for key, value in result.details.items():
            xml.open("entry")
            xml.element("key", key)
            xml.element("value", value)
            xml.close("entry")
        xml.close("EvalDecisionDetails")
    if result.boundary_allows is not None:
        xml.open("PermissionsBoundaryDecisionDetail")
        xml.element("AllowedByPermissionsBoundary", result.boundary_allows)
        xml.close("PermissionsBoundaryDecisionDetail")


def _write_result(xml: XmlWriter, result: SimulationResult, *, specific: bool) -> None:
    xml.open("member")
    xml.element("EvalActionName", result.action)
    xml.element("EvalResourceName", result.resource)
    xml.element("EvalDecision", result.decision)
    _write_explanation(xml, result)
    if specific:
        xml.open("ResourceSpecificResults")
        xml.open("member")
        xml.element("EvalResourceName", result.resource)
        xml.element("EvalResourceDecision", result.decision)
        _write_explanation(xml, result)
        xml.close("member")
        xml.close("ResourceSpecificResults")
    xml.close("member")


async def policy_source_resource(call: Call) -> str:
    """The principal simulated: AWS authorises these calls on its ARN."""
    return call.required("PolicySourceArn")


async def _caller(call: Call, default: SimulatedCaller) -> SimulatedCaller:
    arn = call.get("CallerArn")
    if arn is None:
        return default
    return await call.identity.simulated_user(call.tenant_id, arn)


async def simulate_principal_policy(call: Call) -> None:
    sources = await call.identity.simulation_sources(
        call.tenant_id, call.required("PolicySourceArn")
    )
    caller = await _caller(call, sources.caller)
    given_boundary = _inputs(
        call, "PermissionsBoundaryPolicyInputList", "PermissionsBoundaryPolicyInputList"
    )
    # AWS: a boundary given here replaces the entity's (one boundary is in effect at a time).
    boundary = given_boundary or list(sources.boundary)
    identity = [*sources.policies, *_inputs(call, "PolicyInputList", "PolicyInputList")]
    await _run(call, caller, identity, boundary)


async def simulate_custom_policy(call: Call) -> None:
    policies = _inputs(call, "PolicyInputList", "PolicyInputList")
    if not policies:
        call.required("PolicyInputList")
    default = SimulatedCaller(call.tenant_id, PrincipalType.USER)
    caller = await _caller(call, default)
    boundary = _inputs(
        call, "PermissionsBoundaryPolicyInputList", "PermissionsBoundaryPolicyInputList"
    )
    await _run(call, caller, policies, boundary)


def _write_keys(call: Call, sources: list[PolicySource]) -> None:
    xml = call.result
    xml.open("ContextKeyNames")
    for key in context_keys(sources):
        xml.element("member", key)
    xml.close("ContextKeyNames")


async def get_context_keys_for_principal_policy(call: Call) -> None:
    sources = await call.identity.simulation_sources(
        call.tenant_id, call.required("PolicySourceArn")
    )
    _write_keys(call, [*sources.policies, *_inputs(call, "PolicyInputList", "PolicyInputList")])


async def get_context_keys_for_custom_policy(call: Call) -> None:
    policies = _inputs(call, "PolicyInputList", "PolicyInputList")
    if not policies:
        call.required("PolicyInputList")
    _write_keys(call, policies)
