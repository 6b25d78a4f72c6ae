"""An Application Load Balancer's actions and rules (decision 0216) as the console's pages
send and show them: the action a form chose (``ActionChoice``) written as ELBv2's Query
parameters, an action and a rule ELBv2 answers read into small rows (``ActionRow``,
``RuleRow``), and the rule calls — DescribeRules, CreateRule, DeleteRule,
SetRulePriorities — made as the signed-in principal through ``wire_elb.ElbWire``. ELBv2
decides what it accepts; nothing here checks a value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final
from xml.etree.ElementTree import Element

if TYPE_CHECKING:  # ``wire_elb`` reads listeners' default actions with this module's rows
    from andromede.console.wire_elb import ElbWire
    from andromede.http.response import Scope
    from andromede.iam.model import Principal

__all__ = [
    "CONDITION_FIELDS",
    "ActionChoice",
    "ActionRow",
    "ConditionChoice",
    "ConditionRow",
    "RuleRow",
    "action_params",
    "create_rule",
    "delete_rule",
    "group_name",
    "read_action",
    "rules",
    "set_rule_priority",
]

# The condition fields ELBv2 serves here, and the element of each one's values (decision 0216).
CONDITION_FIELDS: Final = {
    "path-pattern": "PathPatternConfig",
    "host-header": "HostHeaderConfig",
    "http-request-method": "HttpRequestMethodConfig",
    "query-string": "QueryStringConfig",
    "source-ip": "SourceIpConfig",
    "http-header": "HttpHeaderConfig",
}


def group_name(arn: str) -> str:
    """A target group's name inside its ARN (``…:targetgroup/NAME/ID``)."""
    parts = arn.rsplit(":", 1)[-1].split("/")
    return parts[1] if len(parts) == 3 else arn


@dataclass(frozen=True, slots=True)
class ActionChoice:
    """An action as a form chose it: ``kind`` forward (``target_group_arn``), fixed-response
    (status, content type, body) or redirect (protocol, host, port, path, query, status
    HTTP_301 or HTTP_302). Empty fields are not sent: ELBv2's defaults (a redirect's
    ``#{…}`` keywords)."""

    kind: str
    target_group_arn: str = ""
    status_code: str = ""
    content_type: str = ""
    body: str = ""
    protocol: str = ""
    host: str = ""
    port: str = ""
    path: str = ""
    query: str = ""


def action_params(prefix: str, choice: ActionChoice) -> dict[str, str]:
    """``choice`` as the Query parameters of ``prefix`` (``DefaultActions`` or ``Actions``)."""
    base = f"{prefix}.member.1"
    if choice.kind == "fixed-response":
        config = f"{base}.FixedResponseConfig"
        chosen = {
            f"{config}.StatusCode": choice.status_code,
            f"{config}.ContentType": choice.content_type,
            f"{config}.MessageBody": choice.body,
        }
    elif choice.kind == "redirect":
        config = f"{base}.RedirectConfig"
        chosen = {
            f"{config}.StatusCode": choice.status_code,
            f"{config}.Protocol": choice.protocol,
            f"{config}.Host": choice.host,
            f"{config}.Port": choice.port,
            f"{config}.Path": choice.path,
            f"{config}.Query": choice.query,
        }
    else:
        chosen = {f"{base}.TargetGroupArn": choice.target_group_arn}
    return {f"{base}.Type": choice.kind or "forward", **{k: v for k, v in chosen.items() if v}}


@dataclass(frozen=True, slots=True)
class ActionRow:
    """An action as ELBv2 shows it (a forward's groups with their weights)."""

    kind: str
    target_groups: tuple[tuple[str, str], ...] = ()  # (ARN, weight)
    status_code: str = ""
    content_type: str = ""
    body: str = ""
    protocol: str = ""
    host: str = ""
    port: str = ""
    path: str = ""
    query: str = ""

    @property
    def group_names(self) -> tuple[tuple[str, str], ...]:
        """The forwarded groups as (name, weight), for the links to their pages."""
        return tuple((group_name(arn), weight) for arn, weight in self.target_groups)


def _text(element: Element, path: str) -> str:
    return element.findtext(path) or ""


def read_action(item: Element) -> ActionRow:
    """One ``member`` of ``DefaultActions`` or ``Actions``."""
    kind = _text(item, "Type")
    if kind == "fixed-response":
        return ActionRow(
            kind,
            status_code=_text(item, "FixedResponseConfig/StatusCode"),
            content_type=_text(item, "FixedResponseConfig/ContentType"),
            body=_text(item, "FixedResponseConfig/MessageBody"),
        )
    if kind == "redirect":
        return ActionRow(
            kind,
            status_code=_text(item, "RedirectConfig/StatusCode"),
            protocol=_text(item, "RedirectConfig/Protocol"),
            host=_text(item, "RedirectConfig/Host"),
            port=_text(item, "RedirectConfig/Port"),
            path=_text(item, "RedirectConfig/Path"),
            query=_text(item, "RedirectConfig/Query"),
        )
    weighted = tuple(
        (_text(m, "TargetGroupArn"), _text(m, "Weight"))
        for m in item.iterfind("ForwardConfig/TargetGroups/member")
    )
    single = _text(item, "TargetGroupArn")
    return ActionRow(kind, weighted or ((single, ""),))


@dataclass(frozen=True, slots=True)
class ConditionChoice:
    """A rule's condition as a form typed it: ``values`` (a query-string condition's as
    ``key=value``, a key left out as ``=value`` or ``value``), an http-header's name."""

    field: str
    values: tuple[str, ...]
    header_name: str = ""


def _condition_params(index: int, condition: ConditionChoice) -> dict[str, str]:
    base = f"Conditions.member.{index}"
    config = f"{base}.{CONDITION_FIELDS.get(condition.field, 'Values')}"
    params = {f"{base}.Field": condition.field}
    if condition.field == "http-header":
        params[f"{config}.HttpHeaderName"] = condition.header_name
    for n, value in enumerate(condition.values, start=1):
        if condition.field == "query-string":
            key, _, pair_value = value.rpartition("=")
            if key:
                params[f"{config}.Values.member.{n}.Key"] = key
            params[f"{config}.Values.member.{n}.Value"] = pair_value
        else:
            params[f"{config}.Values.member.{n}"] = value
    return params


@dataclass(frozen=True, slots=True)
class ConditionRow:
    field: str
    values: tuple[str, ...]  # a query-string condition's as ``key=value`` (``value``: no key)
    header_name: str = ""


@dataclass(frozen=True, slots=True)
class RuleRow:
    arn: str
    priority: str  # "default" for the listener's default rule
    conditions: tuple[ConditionRow, ...]
    action: ActionRow | None
    is_default: bool


def _condition(item: Element) -> ConditionRow:
    field = _text(item, "Field")
    config = CONDITION_FIELDS.get(field, "")
    if field == "query-string":
        values = tuple(
            f"{_text(m, 'Key')}={_text(m, 'Value')}" if _text(m, "Key") else _text(m, "Value")
            for m in item.iterfind(f"{config}/Values/member")
        )
    else:
        values = tuple(m.text or "" for m in item.iterfind(f"{config}/Values/member"))
        values = values or tuple(m.text or "" for m in item.iterfind("Values/member"))
    return ConditionRow(field, values, _text(item, f"{config}/HttpHeaderName"))


def _rule(item: Element) -> RuleRow:
    action = item.find("Actions/member")
    return RuleRow(
        arn=_text(item, "RuleArn"),
        priority=_text(item, "Priority"),
        conditions=tuple(_condition(m) for m in item.iterfind("Conditions/member")),
        action=None if action is None else read_action(action),
        is_default=_text(item, "IsDefault") == "true",
    )


async def rules(elb: ElbWire, origin: Scope, who: Principal, listener_arn: str) -> list[RuleRow]:
    """The listener's rules, by priority (DescribeRules' order), its default rule last."""
    found: list[RuleRow] = []
    marker = ""
    while True:
        params = {"ListenerArn": listener_arn, **({"Marker": marker} if marker else {})}
        root = await elb.call(origin, who, "DescribeRules", params)
        found.extend(_rule(m) for m in root.iterfind(".//Rules/member"))
        marker = _text(root, ".//NextMarker")
        if not marker:
            return found


async def create_rule(
    elb: ElbWire,
    origin: Scope,
    who: Principal,
    listener_arn: str,
    priority: str,
    conditions: Sequence[ConditionChoice],
    action: ActionChoice,
) -> None:
    params = {"ListenerArn": listener_arn, "Priority": priority, **action_params("Actions", action)}
    for index, condition in enumerate(conditions, start=1):
        params.update(_condition_params(index, condition))
    await elb.call(origin, who, "CreateRule", params)


async def delete_rule(elb: ElbWire, origin: Scope, who: Principal, rule_arn: str) -> None:
    await elb.call(origin, who, "DeleteRule", {"RuleArn": rule_arn})


async def set_rule_priority(
    elb: ElbWire, origin: Scope, who: Principal, rule_arn: str, priority: str
) -> None:
    """SetRulePriorities of one rule (ELBv2 refuses a priority in use: ``PriorityInUse``)."""
    params = {
        "RulePriorities.member.1.RuleArn": rule_arn,
        "RulePriorities.member.1.Priority": priority,
    }
    await elb.call(origin, who, "SetRulePriorities", params)
