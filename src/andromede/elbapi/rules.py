"""ELBv2's Application Load Balancer calls (decision 0216): CreateListener and ModifyListener
of an HTTP listener (its default action), CreateRule, DescribeRules, ModifyRule, DeleteRule,
SetRulePriorities; the Query parameters of actions and conditions parsed into
:mod:`andromede.loadbalancing.http_rules`' values, and written back as ELBv2 shows them.

Served actions: ``forward`` (``TargetGroupArn`` or the weighted ``ForwardConfig``),
``fixed-response``, ``redirect``, one a rule; ``authenticate-*`` and ``jwt-validation`` are
refused as not here yet, as are ``RegexValues`` and transforms; a weighted forward's group
stickiness (``TargetGroupStickinessConfig``) is served since decision 0231.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Final

from andromede.elbapi.trust_stores import write_mutual
from andromede.elbapi.wire import page, refuse_unhandled, tags
from andromede.http.xml import XmlWriter
from andromede.iamapi.errors import QueryError
from andromede.iamapi.protocol import Call
from andromede.loadbalancing.http_rules import (
    MAX_STICKINESS,
    Condition,
    FixedResponse,
    Forward,
    Redirect,
    RuleAction,
)
from andromede.loadbalancing.listener_rules import PlacedRule
from andromede.loadbalancing.model import Listener, LoadBalancer
from andromede.loadbalancing.service import LoadBalancingService

__all__ = [
    "ACTION_PARAMETERS",
    "handlers",
    "parse_action",
    "parse_conditions",
    "write_actions",
]

Handler = Callable[[Call], Awaitable[None]]
_ACTION_FIELDS: Final = (
    r"Type|Order|TargetGroupArn"
    r"|ForwardConfig\.TargetGroups\.member\.\d+\.(TargetGroupArn|Weight)"
    r"|ForwardConfig\.TargetGroupStickinessConfig\.(Enabled|DurationSeconds)"
    r"|FixedResponseConfig\.(StatusCode|ContentType|MessageBody)"
    r"|RedirectConfig\.(Protocol|Port|Host|Path|Query|StatusCode)"
)
ACTION_PARAMETERS: Final = rf"DefaultActions\.member\.\d+\.({_ACTION_FIELDS})"
_CONDITION_FIELDS: Final = (
    r"Field|Values\.member\.\d+"
    r"|(HostHeaderConfig|PathPatternConfig|HttpRequestMethodConfig|SourceIpConfig)"
    r"\.Values\.member\.\d+"
    r"|HttpHeaderConfig\.(HttpHeaderName|Values\.member\.\d+)"
    r"|QueryStringConfig\.Values\.member\.\d+\.(Key|Value)"
)
_CONFIGS: Final = {
    "host-header": "HostHeaderConfig",
    "path-pattern": "PathPatternConfig",
    "http-request-method": "HttpRequestMethodConfig",
    "source-ip": "SourceIpConfig",
    "http-header": "HttpHeaderConfig",
    "query-string": "QueryStringConfig",
}
_NOT_YET_ACTIONS: Final = ("authenticate-oidc", "authenticate-cognito", "jwt-validation")


def parse_action(call: Call, prefix: str) -> RuleAction:
    """The one action of ``prefix`` (``DefaultActions`` or ``Actions``)."""
    kinds = call.members(prefix, "Type")
    if not kinds:
        raise QueryError("ValidationError", f"At least one action must be specified in {prefix}")
    for kind in kinds:
        if kind in _NOT_YET_ACTIONS:
            raise QueryError(
                "InvalidConfigurationRequest",
                f"Action type '{kind}' is not supported here yet (decision 0216)",
            )
        if kind not in ("forward", "fixed-response", "redirect"):
            raise QueryError(
                "ValidationError",
                f"Action type '{kind[:32]}' must be one of [forward, authenticate-oidc, "
                "authenticate-cognito, redirect, fixed-response, jwt-validation]",
            )
    if len(kinds) > 1:
        raise QueryError(
            "TooManyActions", "A rule can have only one forward, redirect or fixed-response action"
        )
    base = f"{prefix}.member.1"
    kind = kinds[0]
    if kind == "forward":
        return _forward(call, base)
    if kind == "fixed-response":
        config = f"{base}.FixedResponseConfig"
        return FixedResponse(
            status_code=call.required(f"{config}.StatusCode"),
            content_type=call.get(f"{config}.ContentType") or "",
            body=call.get(f"{config}.MessageBody") or "",
        )
    config = f"{base}.RedirectConfig"
    return Redirect(
        status_code=call.required(f"{config}.StatusCode"),
        protocol=call.get(f"{config}.Protocol") or "#{protocol}",
        host=call.get(f"{config}.Host") or "#{host}",
        port=call.get(f"{config}.Port") or "#{port}",
        path=call.get(f"{config}.Path") or "/#{path}",
        query=_given(call.get(f"{config}.Query"), "#{query}"),
    )


def _given(value: str | None, default: str) -> str:
    """A redirect's part: "" is a value (an empty query), absent is the keyword."""
    return default if value is None else value


def _forward(call: Call, base: str) -> Forward:
    stickiness = 0
    config = f"{base}.ForwardConfig.TargetGroupStickinessConfig"
    if call.boolean(f"{config}.Enabled", default=False):
        # Decision 0231: the duration is asked when stickiness is on (ELBv2's model).
        if call.get(f"{config}.DurationSeconds") is None:
            raise QueryError(
                "ValidationError",
                "A duration must be specified when target group stickiness is enabled",
            )
        stickiness = call.integer(
            f"{config}.DurationSeconds", minimum=1, maximum=MAX_STICKINESS, default=0
        )
    arns = call.members(f"{base}.ForwardConfig.TargetGroups", "TargetGroupArn")
    single = call.get(f"{base}.TargetGroupArn")
    if not arns:
        if not single:
            raise QueryError("ValidationError", "A forward action must name a target group")
        return Forward(((single, 1),), stickiness)
    if single and arns != [single]:
        raise QueryError(
            "ValidationError",
            "TargetGroupArn and ForwardConfig's target groups must name the same group",
        )
    groups = []
    for index, arn in enumerate(arns, start=1):
        name = f"{base}.ForwardConfig.TargetGroups.member.{index}.Weight"
        groups.append((arn, call.integer(name, minimum=0, maximum=999, default=1)))
    return Forward(tuple(groups), stickiness)


def parse_conditions(call: Call) -> list[Condition]:
    found = []
    index = 1
    while (field := call.get(f"Conditions.member.{index}.Field")) is not None:
        base = f"Conditions.member.{index}"
        config = _CONFIGS.get(field, "")
        plain = call.members(f"{base}.Values")
        if plain and field not in ("host-header", "path-pattern"):
            raise QueryError(
                "ValidationError",
                f"Values can be specified only for host-header and path-pattern conditions; "
                f"use {config or 'the condition config'}",
            )
        if field == "query-string":
            pairs = []
            pair = 1
            prefix = f"{base}.QueryStringConfig.Values.member"
            while (value := call.get(f"{prefix}.{pair}.Value")) is not None:
                pairs.append((call.get(f"{prefix}.{pair}.Key") or "", value))
                pair += 1
            found.append(Condition(field, pairs=tuple(pairs)))
        else:
            configured = call.members(f"{base}.{config}.Values") if config else []
            if plain and configured:
                raise QueryError(
                    "ValidationError", f"Specify Values or {config}, not both, for {field}"
                )
            found.append(
                Condition(
                    field,
                    tuple(configured or plain),
                    header_name=call.get(f"{base}.HttpHeaderConfig.HttpHeaderName") or ""
                    if field == "http-header"
                    else "",
                )
            )
        index += 1
    return found


async def _group_arns(
    service: LoadBalancingService, tenant_id: str, actions: list[RuleAction]
) -> dict[str, str]:
    arns = {}
    for action in actions:
        if isinstance(action, Forward):
            for tg_id, _ in action.groups:
                if tg_id not in arns:
                    arns[tg_id] = service.tg_arn(await service.target_group(tenant_id, tg_id))
    return arns


def write_actions(xml: XmlWriter, tag: str, action: RuleAction, arns: dict[str, str]) -> None:
    xml.open(tag)
    xml.open("member")
    if isinstance(action, Forward):
        xml.element("Type", "forward")
        if len(action.groups) == 1:
            xml.element("TargetGroupArn", arns[action.groups[0][0]])
        xml.element("Order", 1)
        xml.open("ForwardConfig")
        xml.open("TargetGroups")
        for tg_id, weight in action.groups:
            xml.open("member")
            xml.element("TargetGroupArn", arns[tg_id])
            xml.element("Weight", weight)
            xml.close("member")
        xml.close("TargetGroups")
        xml.open("TargetGroupStickinessConfig")
        xml.element("Enabled", "true" if action.stickiness else "false")
        if action.stickiness:
            xml.element("DurationSeconds", action.stickiness)
        xml.close("TargetGroupStickinessConfig")
        xml.close("ForwardConfig")
    elif isinstance(action, FixedResponse):
        xml.element("Type", "fixed-response")
        xml.element("Order", 1)
        xml.open("FixedResponseConfig")
        if action.body:
            xml.element("MessageBody", action.body)
        xml.element("StatusCode", action.status_code)
        if action.content_type:
            xml.element("ContentType", action.content_type)
        xml.close("FixedResponseConfig")
    else:
        xml.element("Type", "redirect")
        xml.element("Order", 1)
        xml.open("RedirectConfig")
        xml.element("Protocol", action.protocol)
        xml.element("Port", action.port)
        xml.element("Host", action.host)
        xml.element("Path", action.path)
        xml.element("Query", action.query)
        xml.element("StatusCode", action.status_code)
        xml.close("RedirectConfig")
    xml.close("member")
    xml.close(tag)


def _write_condition(xml: XmlWriter, condition: Condition) -> None:
    xml.open("member")
    xml.element("Field", condition.field)
    if condition.field in ("host-header", "path-pattern"):
        xml.open("Values")
        for value in condition.values:
            xml.element("member", value)
        xml.close("Values")
    xml.open(_CONFIGS[condition.field])
    if condition.field == "http-header":
        xml.element("HttpHeaderName", condition.header_name)
    xml.open("Values")
    if condition.field == "query-string":
        for key, value in condition.pairs:
            xml.open("member")
            if key:
                xml.element("Key", key)
            xml.element("Value", value)
            xml.close("member")
    else:
        for value in condition.values:
            xml.element("member", value)
    xml.close("Values")
    xml.close(_CONFIGS[condition.field])
    xml.close("member")


def write_rule(
    xml: XmlWriter, service: LoadBalancingService, placed: PlacedRule, arns: dict[str, str]
) -> None:
    rule = placed.rule
    xml.open("member")
    xml.element("RuleArn", service.rule_arn(placed))
    xml.element("Priority", "default" if rule.priority is None else str(rule.priority))
    xml.open("Conditions")
    for condition in rule.conditions:
        _write_condition(xml, condition)
    xml.close("Conditions")
    write_actions(xml, "Actions", rule.action, arns)
    xml.element("IsDefault", "true" if rule.is_default else "false")
    xml.close("member")


async def write_http_listener(
    xml: XmlWriter, service: LoadBalancingService, lb: LoadBalancer, listener: Listener
) -> None:
    """An HTTP listener as ELBv2 shows it: its default action in full."""
    if listener.default_action is None:
        raise QueryError("ValidationError", "The listener is not an HTTP listener")
    arns = await _group_arns(service, lb.tenant_id, [listener.default_action])
    xml.element("ListenerArn", service.listener_arn(lb, listener))
    xml.element("LoadBalancerArn", service.lb_arn(lb))
    xml.element("Port", listener.port)
    xml.element("Protocol", listener.protocol)
    if listener.protocol == "HTTPS":  # its default certificate and policy, as ELBv2 shows
        xml.open("Certificates")
        xml.open("member")
        xml.element("CertificateArn", listener.certificates[0] if listener.certificates else "")
        xml.close("member")
        xml.close("Certificates")
        xml.element("SslPolicy", listener.ssl_policy)
    write_actions(xml, "DefaultActions", listener.default_action, arns)
    await write_mutual(xml, service, listener)  # decision 0256


async def _write_rules(call: Call, service: LoadBalancingService, rules: list[PlacedRule]) -> None:
    arns = await _group_arns(service, call.tenant_id, [p.rule.action for p in rules])
    call.result.open("Rules")
    for placed in rules:
        write_rule(call.result, service, placed, arns)
    call.result.close("Rules")


def handlers(service: LoadBalancingService) -> dict[str, tuple[Handler, bool, str | None]]:
    """The rule calls: (handler, mutating, the parameter naming the resource)."""

    async def create_rule(call: Call) -> None:
        refuse_unhandled(
            call,
            rf"ListenerArn|Priority|Conditions\.member\.\d+\.({_CONDITION_FIELDS})"
            rf"|Actions\.member\.\d+\.({_ACTION_FIELDS})|Tags\.member\.\d+\.(Key|Value)",
        )
        call.required("Priority")
        placed = await service.create_rule(
            call.tenant_id,
            call.required("ListenerArn"),
            call.integer("Priority", minimum=1, maximum=50000, default=1),
            parse_conditions(call),
            parse_action(call, "Actions"),
            tags(call),
        )
        await _write_rules(call, service, [placed])

    async def describe_rules(call: Call) -> None:
        refuse_unhandled(call, r"ListenerArn|RuleArns\.member\.\d+|Marker|PageSize")
        listener_arn = call.get("ListenerArn")
        arns = call.members("RuleArns")
        if not listener_arn and not arns:
            raise QueryError(
                "ValidationError", "You must specify either listener ARNs or rule ARNs"
            )
        found = await service.rules(call.tenant_id, listener_arn, arns)
        ordered = {p.rule.rule_id: f"{p.rule.priority or 50001:05d}" for p in found}
        chosen, marker = page(call, found, lambda p: ordered[p.rule.rule_id])
        await _write_rules(call, service, chosen)
        if marker is not None:
            call.result.element("NextMarker", marker)

    async def modify_rule(call: Call) -> None:
        refuse_unhandled(
            call,
            rf"RuleArn|Conditions\.member\.\d+\.({_CONDITION_FIELDS})"
            rf"|Actions\.member\.\d+\.({_ACTION_FIELDS})",
        )
        conditions = parse_conditions(call)
        placed = await service.modify_rule(
            call.tenant_id,
            call.required("RuleArn"),
            conditions or None,
            parse_action(call, "Actions") if call.get("Actions.member.1.Type") else None,
        )
        await _write_rules(call, service, [placed])

    async def delete_rule(call: Call) -> None:
        await service.delete_rule(call.tenant_id, call.required("RuleArn"))

    async def set_priorities(call: Call) -> None:
        refuse_unhandled(call, r"RulePriorities\.member\.\d+\.(RuleArn|Priority)")
        pairs = []
        index = 1
        while (arn := call.get(f"RulePriorities.member.{index}.RuleArn")) is not None:
            name = f"RulePriorities.member.{index}.Priority"
            call.required(name)
            pairs.append((arn, call.integer(name, minimum=1, maximum=50000, default=1)))
            index += 1
        placed = await service.set_rule_priorities(call.tenant_id, pairs)
        await _write_rules(call, service, placed)

    return {
        "CreateRule": (create_rule, True, "ListenerArn"),
        "DescribeRules": (describe_rules, False, None),
        "ModifyRule": (modify_rule, True, "RuleArn"),
        "DeleteRule": (delete_rule, True, "RuleArn"),
        "SetRulePriorities": (set_priorities, True, "RulePriorities.member.1.RuleArn"),
    }


def is_http(call: Call) -> bool:
    """Whether a CreateListener/ModifyListener speaks of an HTTP listener (by its protocol
    or its load balancer's ARN)."""
    arn = call.get("LoadBalancerArn") or call.get("ListenerArn") or ""
    return (
        call.get("Protocol") in ("HTTP", "HTTPS")
        or re.search(r":listener/app/|:loadbalancer/app/", arn) is not None
    )
