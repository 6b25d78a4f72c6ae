"""CloudWatch Contributor Insights rules (decision 0272): a rule's name, state and definition,
the definition's checks — AWS's "Contributor Insights rule syntax" — and what one log event
contributes to a rule.

A definition is a JSON object::

    {"Schema": {"Name": "CloudWatchLogRule", "Version": 1},
     "LogGroupNames": ["api-*", "web"],            (or "LogGroupARNs", never both)
     "LogFormat": "JSON" | "CLF",
     "Fields": {"4": "IpAddress", "7": "StatusCode"},   (CLF only: 1-based positions)
     "Contribution": {"Keys": ["$.ip"], "ValueOf": "$.bytes",
                      "Filters": [{"Match": "$.method", "In": ["PUT"]}]},
     "AggregateOn": "Count" | "Sum"}

A JSON rule's keys, value and filters are paths (``$.a.b[0]``) into the event's JSON object;
a CLF rule's are the names ``Fields`` gives to the positions of the event's space-separated
fields (a ``"quoted string"`` or a ``[bracketed time]`` is one field). Matching is case
sensitive, as AWS's. An event contributes when it parses, every key is present, every filter
holds, and, for ``Sum``, its ``ValueOf`` is a number; a missing field fails every criterion
but ``IsPresent: false``. What is refused is an ``InvalidParameterValue`` naming the member.
This module is pure: no I/O.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from andromede.metrics.errors import InvalidParameterValue, MissingParameter

__all__ = [
    "DISABLED",
    "ENABLED",
    "SCHEMA",
    "CompiledRule",
    "Criterion",
    "InsightRule",
    "check_rule_name",
    "compile_definition",
    "group_index",
    "insight_rule_arn",
]

ENABLED: Final = "ENABLED"
DISABLED: Final = "DISABLED"
SCHEMA: Final = "CloudWatchLogRule/1"  # DescribeInsightRules' Schema, as AWS writes it
# AWS's rule syntax bounds: they are the format's, not this deployment's to change.
MAX_KEYS: Final = 4
MAX_FILTERS: Final = 4
MAX_LOG_GROUPS: Final = 20
MAX_CRITERION_VALUES: Final = 10
_NAME: Final = re.compile(r"[\x20-\x7E]{1,128}")
_DEFINITION: Final = re.compile(r"[\x00-\x7F]{1,8192}")
_PATH_PART: Final = re.compile(r"([^.\[\]]+)((?:\[\d+\])*)")
_INDEX: Final = re.compile(r"\[(\d+)\]")
_CLF_FIELD: Final = re.compile(r'"(?:[^"\\]|\\.)*"|\[[^\]]*\]|\S+')
_TOP: Final = frozenset(
    {"Schema", "LogGroupNames", "LogGroupARNs", "LogFormat", "Fields", "Contribution",
     "AggregateOn"}
)  # fmt: skip
_STRING_CRITERIA: Final = ("In", "NotIn", "StartsWith")
_NUMBER_CRITERIA: Final = ("GreaterThan", "LessThan", "EqualTo", "NotEqualTo")
_CRITERIA: Final = (*_STRING_CRITERIA, *_NUMBER_CRITERIA, "IsPresent")


def insight_rule_arn(region: str, tenant_id: str, name: str) -> str:
    return f"arn:aws:cloudwatch:{region}:{tenant_id}:insight-rule/{name}"


def check_rule_name(name: Any) -> str:
    if name is None:
        raise MissingParameter("The parameter RuleName is required.")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidParameterValue(
            "The value for parameter RuleName must be 1 to 128 printable ASCII characters."
        )
    return name


def _bad(detail: str) -> InvalidParameterValue:
    return InvalidParameterValue(f"The RuleDefinition is not valid: {detail}")


@dataclass(frozen=True, slots=True)
class Criterion:
    """One filter: the field it reads and its one test."""

    field: tuple[str | int, ...]
    kind: str  # one of _CRITERIA
    strings: tuple[str, ...] = ()
    number: float = 0.0
    present: bool = True

    def holds(self, found: Any, missing: bool) -> bool:
        if self.kind == "IsPresent":
            return self.present != missing
        if missing:
            return False
        if self.kind in _STRING_CRITERIA:
            text = _text(found)
            if self.kind == "In":
                return text in self.strings
            if self.kind == "NotIn":
                return text not in self.strings
            return any(text.startswith(prefix) for prefix in self.strings)
        value = _number(found)
        if value is None:
            return False
        if self.kind == "GreaterThan":
            return value > self.number
        if self.kind == "LessThan":
            return value < self.number
        if self.kind == "EqualTo":
            return value == self.number
        return value != self.number


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A definition read: what :meth:`contribution` needs to read an event quickly."""

    log_format: str  # "JSON" or "CLF"
    group_names: tuple[str, ...]  # names, a trailing * a prefix; from ARNs too
    key_labels: tuple[str, ...]
    keys: tuple[tuple[str | int, ...], ...]
    value_of: tuple[str | int, ...] | None
    filters: tuple[Criterion, ...]
    aggregate_on: str  # "Count" or "Sum"

    def covers(self, group: str) -> bool:
        return any(
            group.startswith(n[:-1]) if n.endswith("*") else group == n for n in self.group_names
        )

    def contribution(self, message: str) -> tuple[tuple[str, ...], float] | None:
        """The (key values, value) the event contributes, or None when it does not match."""
        return self.read(self.parse(message))

    def parse(self, message: str) -> Any:
        """The event read in the rule's format (None when it is not): what :meth:`read`
        takes, the same for every rule of that format."""
        return _parse_json(message) if self.log_format == "JSON" else _parse_clf(message)

    def read(self, document: Any) -> tuple[tuple[str, ...], float] | None:
        """:meth:`contribution` of an event already parsed."""
        if document is None:
            return None
        for criterion in self.filters:
            found, missing = _lookup(document, criterion.field)
            if not criterion.holds(found, missing):
                return None
        values = []
        for path in self.keys:
            found, missing = _lookup(document, path)
            if missing or found is None:
                return None
            values.append(_text(found))
        if self.aggregate_on == "Count":
            return tuple(values), 1.0
        if self.value_of is None:  # a Sum rule has one: compile_definition checks it
            return None
        found, missing = _lookup(document, self.value_of)
        amount = None if missing else _number(found)
        if amount is None:
            return None
        return tuple(values), amount


@dataclass(frozen=True, slots=True)
class InsightRule:
    tenant_id: str
    name: str
    state: str
    definition: str  # as the client gave it, never rewritten
    apply_on_transformed_logs: bool
    created: datetime
    tags: tuple[tuple[str, str], ...] = ()
    # A managed rule's resource (decision 0278): the ARN of the DynamoDB table or index
    # whose Contributor Insights made it, fed by that service, not by log events; "" for
    # the account's own rules.
    managed_by: str = ""
    compiled: CompiledRule | None = field(default=None, compare=False)

    def rule(self) -> CompiledRule:
        return self.compiled or compile_definition(self.definition, self.tenant_id)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _parse_json(message: str) -> Any:
    if not message.startswith("{"):
        return None
    try:
        document = json.loads(message)
    except (ValueError, RecursionError):
        return None
    return document if isinstance(document, dict) else None


def _parse_clf(message: str) -> dict[int, str]:
    fields = {}
    for position, match in enumerate(_CLF_FIELD.finditer(message), start=1):
        text = match.group(0)
        if len(text) >= 2 and text[0] + text[-1] in ('""', "[]"):
            text = text[1:-1]
        fields[position] = text
    return fields


def _lookup(document: Any, path: tuple[str | int, ...]) -> tuple[Any, bool]:
    """The value at ``path`` and whether it is missing."""
    node = document
    for part in path:
        if isinstance(part, int) and isinstance(node, list) and part < len(node):
            node = node[part]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return None, True
    return node, False


def _json_path(text: Any, member: str) -> tuple[str | int, ...]:
    if not isinstance(text, str) or not text.startswith("$.") or len(text) > 256:
        raise _bad(f"{member} must be a JSON path such as $.field.child, not {str(text)[:64]!r}.")
    parts: list[str | int] = []
    for piece in text[2:].split("."):
        match = _PATH_PART.fullmatch(piece)
        if match is None:
            raise _bad(f"{member} {text[:64]!r} is not a valid JSON path.")
        parts.append(match.group(1))
        parts += [int(i) for i in _INDEX.findall(match.group(2))]
    return tuple(parts)


class _Reader:
    """Reads one definition's members, JSON paths or CLF field names alike."""

    def __init__(self, log_format: str, fields: Mapping[str, int]) -> None:
        self.log_format = log_format
        self.fields = fields

    def path(self, text: Any, member: str) -> tuple[str | int, ...]:
        if self.log_format == "JSON":
            return _json_path(text, member)
        if not isinstance(text, str) or text not in self.fields:
            raise _bad(f"{member} {str(text)[:64]!r} is not a name given in Fields.")
        return (self.fields[text],)

    def criterion(self, index: int, item: Any) -> Criterion:
        where = f"Contribution.Filters[{index}]"
        if not isinstance(item, dict) or "Match" not in item:
            raise _bad(f"{where} must be an object with a Match.")
        tests = [k for k in item if k != "Match"]
        if len(tests) != 1 or tests[0] not in _CRITERIA:
            raise _bad(f"{where} must hold exactly one of {', '.join(_CRITERIA)}.")
        kind = tests[0]
        path = self.path(item["Match"], f"{where}.Match")
        value = item[kind]
        if kind in _STRING_CRITERIA:
            if (
                not isinstance(value, list)
                or not 1 <= len(value) <= MAX_CRITERION_VALUES
                or not all(isinstance(v, str | int | float) for v in value)
            ):
                raise _bad(f"{where}.{kind} must be an array of 1 to 10 values.")
            return Criterion(path, kind, strings=tuple(_text(v) for v in value))
        if kind == "IsPresent":
            if not isinstance(value, bool):
                raise _bad(f"{where}.IsPresent must be true or false.")
            return Criterion(path, kind, present=value)
        number = None if isinstance(value, str) else _number(value)
        if number is None:
            raise _bad(f"{where}.{kind} must be a number.")
        return Criterion(path, kind, number=number)


def _group_names(document: Mapping[str, Any], tenant_id: str) -> tuple[str, ...]:
    names = document.get("LogGroupNames")
    arns = document.get("LogGroupARNs")
    if (names is None) == (arns is None):
        raise _bad("Specify either LogGroupNames or LogGroupARNs, but not both.")
    given = names if names is not None else arns
    member = "LogGroupNames" if names is not None else "LogGroupARNs"
    if not isinstance(given, list) or not 1 <= len(given) <= MAX_LOG_GROUPS:
        raise _bad(f"{member} must be an array of 1 to {MAX_LOG_GROUPS} strings.")
    found = []
    for item in given:
        if not isinstance(item, str) or not 1 <= len(item) <= 2048:
            raise _bad(f"{member} must hold strings of 1 to 2048 characters.")
        if names is not None:
            found.append(item)
            continue
        # arn:aws:logs:<region>:<account>:log-group:<name>, this account's only: cross-account
        # observability (a monitoring account) is not served (decision 0272).
        parts = item.split(":", 6)
        if len(parts) != 7 or parts[2] != "logs" or parts[5] not in ("log-group", "log-group/"):
            raise _bad(f"{item[:128]!r} is not a log group ARN.")
        if parts[4] not in (tenant_id, "*"):
            raise _bad(f"{item[:128]!r} is a log group of another account.")
        found.append(parts[6].removesuffix(":*"))
    return tuple(found)


def _fields(document: Mapping[str, Any], log_format: str) -> dict[str, int]:
    given = document.get("Fields")
    if log_format == "JSON":
        if given is not None:
            raise _bad("Fields is for a CLF rule only.")
        return {}
    if not isinstance(given, dict) or not given:
        raise _bad("A CLF rule must name its fields' positions in Fields.")
    fields = {}
    for position, name in given.items():
        if not position.isdigit() or int(position) < 1 or not isinstance(name, str) or not name:
            raise _bad('Fields maps positions from 1 ("4") to names.')
        fields[name] = int(position)
    return fields


def compile_definition(definition: Any, tenant_id: str) -> CompiledRule:
    """The definition read, or :class:`InvalidParameterValue` saying what is wrong."""
    if definition is None:
        raise MissingParameter("The parameter RuleDefinition is required.")
    if not isinstance(definition, str) or not _DEFINITION.fullmatch(definition):
        raise InvalidParameterValue(
            "The value for parameter RuleDefinition must be 1 to 8192 ASCII characters."
        )
    try:
        document = json.loads(definition)
    except (ValueError, RecursionError) as exc:
        raise _bad("it is not a JSON object.") from exc
    if not isinstance(document, dict):
        raise _bad("it is not a JSON object.")
    unknown = sorted(set(document) - _TOP)
    if unknown:
        raise _bad(f"unknown field {unknown[0][:64]!r}.")
    schema = document.get("Schema")
    if not isinstance(schema, dict) or schema.get("Name") != "CloudWatchLogRule":
        raise _bad('Schema must be {"Name": "CloudWatchLogRule", "Version": 1}.')
    if schema.get("Version") != 1 or isinstance(schema.get("Version"), bool):
        raise _bad("Schema.Version must be 1.")
    log_format = document.get("LogFormat")
    if log_format not in ("JSON", "CLF"):
        raise _bad("LogFormat must be JSON or CLF.")
    aggregate_on = document.get("AggregateOn")
    if aggregate_on not in ("Count", "Sum"):
        raise _bad("AggregateOn must be Count or Sum.")
    groups = _group_names(document, tenant_id)
    reader = _Reader(log_format, _fields(document, log_format))
    contribution = document.get("Contribution")
    if not isinstance(contribution, dict):
        raise _bad("Contribution is required.")
    extra = sorted(set(contribution) - {"Keys", "ValueOf", "Filters"})
    if extra:
        raise _bad(f"unknown field Contribution.{extra[0][:64]}.")
    labels = contribution.get("Keys")
    if not isinstance(labels, list) or not 1 <= len(labels) <= MAX_KEYS:
        raise _bad(f"Contribution.Keys must hold 1 to {MAX_KEYS} keys.")
    keys = tuple(reader.path(k, "Contribution.Keys") for k in labels)
    value_of = contribution.get("ValueOf")
    if aggregate_on == "Sum" and value_of is None:
        raise _bad("A rule with AggregateOn Sum needs Contribution.ValueOf.")
    if aggregate_on == "Count" and value_of is not None:
        raise _bad("Contribution.ValueOf is for a rule with AggregateOn Sum only.")
    filters = contribution.get("Filters", [])
    if not isinstance(filters, list) or len(filters) > MAX_FILTERS:
        raise _bad(f"Contribution.Filters must hold at most {MAX_FILTERS} filters.")
    return CompiledRule(
        log_format=log_format,
        group_names=groups,
        key_labels=tuple(labels),
        keys=keys,
        value_of=None if value_of is None else reader.path(value_of, "Contribution.ValueOf"),
        filters=tuple(reader.criterion(i, f) for i, f in enumerate(filters)),
        aggregate_on=aggregate_on,
    )


def group_index(
    rules: Sequence[InsightRule],
) -> tuple[dict[str, list[InsightRule]], list[tuple[str, InsightRule]]]:
    """The rules by the exact group names they cover, and the (prefix, rule) of their
    wildcards: an event's group finds its rules without reading every rule's names."""
    exact: dict[str, list[InsightRule]] = {}
    prefixes: list[tuple[str, InsightRule]] = []
    for rule in rules:
        for name in rule.rule().group_names:
            if name.endswith("*"):
                prefixes.append((name[:-1], rule))
            else:
                exact.setdefault(name, []).append(rule)
    return exact, prefixes
