"""Application Load Balancers' listener rules (decision 0216), pure: the conditions and
actions ELBv2 documents, their checks, their documents, and the evaluation of a request
against a listener's rules. No I/O here; the API (``elbapi.rules``) and the data plane's
HTTP proxy (``hypervisor.http_proxies``) both use it.

AWS's semantics, as its "Condition types for listener rules" page gives them:

- A rule's conditions must all match (and); a condition's values are alternatives (or).
- ``host-header``: the request's host name (the ``Host`` header without its port), not
  case-sensitive, ``*`` (zero or more characters) and ``?`` (exactly one) as wildcards.
- ``path-pattern``: the URL's path only (not its query string), case-sensitive, wildcards.
- ``http-header``: a named header (name not case-sensitive), its value not case-sensitive,
  wildcards; any of the header's occurrences may match. Not ``Host`` (``host-header`` is).
- ``http-request-method``: the method, case-sensitive, no wildcard.
- ``query-string``: ``key=value`` pairs (the key optional: any key), not case-sensitive,
  wildcards, compared with the request's percent-decoded parameters.
- ``source-ip``: the client's address (not ``X-Forwarded-For``) within one of the CIDRs.
- Limits: at most one ``host-header``, ``http-request-method``, ``path-pattern`` and
  ``source-ip`` condition a rule; at most 3 values a condition, 5 a rule, 5 wildcards a
  rule; values of visible ASCII only; a value of 128 characters at most.
- Rules are evaluated by priority (1 to 50000, lowest first); the default rule, with no
  condition, last.
"""

from __future__ import annotations

import ipaddress
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final
from urllib.parse import parse_qsl, unquote

from andromede.loadbalancing.errors import InvalidAction, LbValidationError

__all__ = [
    "FIELDS",
    "MAX_PRIORITY",
    "Condition",
    "FixedResponse",
    "Forward",
    "Redirect",
    "RequestFacts",
    "Rule",
    "RuleAction",
    "action_document",
    "action_from",
    "check_action",
    "check_conditions",
    "choose",
    "condition_document",
    "condition_from",
    "matches",
    "pick_group",
    "redirect_location",
    "rule_document",
    "rule_from",
    "wildcard",
]

FIELDS: Final = (
    "host-header",
    "path-pattern",
    "http-header",
    "http-request-method",
    "query-string",
    "source-ip",
)
_ONCE: Final = ("host-header", "path-pattern", "http-request-method", "source-ip")
MAX_PRIORITY: Final = 50000
MAX_VALUES_PER_CONDITION: Final = 3
MAX_VALUES_PER_RULE: Final = 5
MAX_WILDCARDS_PER_RULE: Final = 5
_MAX_VALUE: Final = 128
_HOST: Final = re.compile(r"^[A-Za-z0-9.*?-]+$")
_PATH: Final = re.compile(r"^[A-Za-z0-9_\-.$/~\"'@:+&*?]+$")
_METHOD: Final = re.compile(r"^[A-Z_-]+$")
_HEADER_NAME: Final = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,40}$")
_VISIBLE: Final = re.compile(r"^[\x20-\x7e]+$")
_STATUS: Final = re.compile(r"^[245]\d\d$")
CONTENT_TYPES: Final = (
    "text/plain",
    "text/css",
    "text/html",
    "application/javascript",
    "application/json",
)
MAX_FIXED_BODY: Final = 1024
MAX_FORWARD_GROUPS: Final = 5
MAX_WEIGHT: Final = 999
# TargetGroupStickinessConfig.DurationSeconds: 1 second to 7 days (decision 0231).
MAX_STICKINESS: Final = 604800


@dataclass(frozen=True, slots=True)
class Condition:
    """One condition: its field and values; an ``http-header`` condition's header name; a
    ``query-string`` condition's (key, value) pairs, the key "" when any key matches."""

    field: str
    values: tuple[str, ...] = ()
    header_name: str = ""
    pairs: tuple[tuple[str, str], ...] = ()

    @property
    def evaluations(self) -> tuple[str, ...]:
        """What the limits count: each value (each pair's key and value as one)."""
        if self.field == "query-string":
            return tuple(f"{k}={v}" for k, v in self.pairs)
        return self.values


@dataclass(frozen=True, slots=True)
class Forward:
    """``forward``: to one group, or to several by weight (``ForwardConfig.TargetGroups``);
    each (target group id, weight). ``stickiness``: the seconds a client keeps the group it
    was sent to (``TargetGroupStickinessConfig``, decision 0231; 0 when off)."""

    groups: tuple[tuple[str, int], ...]
    stickiness: int = 0


@dataclass(frozen=True, slots=True)
class FixedResponse:
    status_code: str
    content_type: str = ""
    body: str = ""


@dataclass(frozen=True, slots=True)
class Redirect:
    """``redirect``: each part a value or its ``#{…}`` keyword (AWS's defaults keep it)."""

    status_code: str
    protocol: str = "#{protocol}"
    host: str = "#{host}"
    port: str = "#{port}"
    path: str = "/#{path}"
    query: str = "#{query}"


RuleAction = Forward | FixedResponse | Redirect


@dataclass(frozen=True, slots=True)
class Rule:
    """A listener's rule; ``priority`` None for the default rule (its listener's default
    actions, no condition)."""

    rule_id: str
    priority: int | None
    conditions: tuple[Condition, ...]
    action: RuleAction

    @property
    def is_default(self) -> bool:
        return self.priority is None


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What the conditions look at in one request."""

    method: str
    path: str
    query: str
    host: str
    headers: tuple[tuple[str, str], ...]
    source: str


# -- checks ------------------------------------------------------------------------------------


def _check_value(value: str, what: str) -> None:
    if not value or len(value) > _MAX_VALUE or not _VISIBLE.match(value):
        raise LbValidationError(
            f"A {what} condition value must be 1 to {_MAX_VALUE} visible ASCII characters"
        )


def check_conditions(conditions: Sequence[Condition]) -> None:
    """AWS's rules on a rule's conditions (module docstring); LbValidationError else."""
    if not conditions:
        raise LbValidationError("A rule must have at least one condition")
    fields = [c.field for c in conditions]
    for name in fields:
        if name not in FIELDS:
            raise LbValidationError(
                f"Condition field '{name[:64]}' must be one of [{', '.join(FIELDS)}]"
            )
    for name in _ONCE:
        if fields.count(name) > 1:
            raise LbValidationError(f"A rule can only have one '{name}' condition")
    total = 0
    wildcards = 0
    for condition in conditions:
        values = condition.evaluations
        if not values:
            raise LbValidationError(f"A '{condition.field}' condition must have a value")
        if len(values) > MAX_VALUES_PER_CONDITION:
            raise LbValidationError(
                f"A condition can only have '{MAX_VALUES_PER_CONDITION}' values"
            )
        total += len(values)
        _check_condition(condition)
        if condition.field not in ("http-request-method", "source-ip"):
            wildcards += sum(v.count("*") + v.count("?") for v in values)
    if total > MAX_VALUES_PER_RULE:
        raise LbValidationError(f"A rule can only have '{MAX_VALUES_PER_RULE}' condition values")
    if wildcards > MAX_WILDCARDS_PER_RULE:
        raise LbValidationError(f"A rule can only have '{MAX_WILDCARDS_PER_RULE}' wildcards")


def _check_condition(condition: Condition) -> None:
    name = condition.field
    for value in condition.values:
        _check_value(value, name)
        if name == "host-header" and not _HOST.match(value):
            raise LbValidationError(f"Host header value '{value}' contains invalid characters")
        if name == "path-pattern" and not _PATH.match(value):
            raise LbValidationError(f"Path pattern '{value}' contains invalid characters")
        if name == "http-request-method" and not _METHOD.match(value):
            raise LbValidationError(
                f"HTTP request method '{value}' can contain only A-Z, hyphens and underscores"
            )
        if name == "source-ip":
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError as exc:
                raise LbValidationError(f"Source IP '{value}' is not a valid CIDR") from exc
            if "/" not in value:
                raise LbValidationError(f"Source IP '{value}' must be in CIDR notation")
    if name == "http-header":
        if not _HEADER_NAME.match(condition.header_name):
            raise LbValidationError(
                "An http-header condition's header name must be 1 to 40 token characters"
            )
        if condition.header_name.lower() == "host":
            raise LbValidationError(
                "The 'Host' header cannot be used in an http-header condition; use host-header"
            )
    for key, value in condition.pairs:
        if key:
            _check_value(key, name)
        _check_value(value, name)


def check_action(action: RuleAction) -> None:
    """AWS's checks of one action (InvalidAction / LbValidationError)."""
    if isinstance(action, Forward):
        if not 1 <= len(action.groups) <= MAX_FORWARD_GROUPS:
            raise LbValidationError(
                f"A forward action can have 1 to {MAX_FORWARD_GROUPS} target groups"
            )
        ids = [g for g, _ in action.groups]
        if len(set(ids)) != len(ids):
            raise LbValidationError("A target group can be specified only once in a forward action")
        for _, weight in action.groups:
            if not 0 <= weight <= MAX_WEIGHT:
                raise LbValidationError(f"A target group weight must be between 0 and {MAX_WEIGHT}")
        if not 0 <= action.stickiness <= MAX_STICKINESS:
            raise LbValidationError(
                f"The target group stickiness duration must be between 1 and {MAX_STICKINESS} "
                "seconds"
            )
    elif isinstance(action, FixedResponse):
        if not _STATUS.match(action.status_code):
            raise LbValidationError(
                f"Fixed response status code '{action.status_code[:16]}' must match ^(2|4|5)\\d\\d$"
            )
        if action.content_type and action.content_type not in CONTENT_TYPES:
            raise LbValidationError(
                f"Content type '{action.content_type[:64]}' must be one of "
                f"[{', '.join(CONTENT_TYPES)}]"
            )
        if len(action.body) > MAX_FIXED_BODY:
            raise LbValidationError(
                f"A fixed response message body can be at most {MAX_FIXED_BODY} characters"
            )
    else:
        _check_redirect(action)


def _check_redirect(action: Redirect) -> None:
    if action.status_code not in ("HTTP_301", "HTTP_302"):
        raise LbValidationError("Redirect status code must be one of [HTTP_301, HTTP_302]")
    if action.protocol not in ("HTTP", "HTTPS", "#{protocol}"):
        raise LbValidationError("Redirect protocol must be one of [HTTP, HTTPS, #{protocol}]")
    if action.port != "#{port}" and not (action.port.isdigit() and 1 <= int(action.port) <= 65535):
        raise LbValidationError("Redirect port must be between 1 and 65535, or #{port}")
    if not action.path.startswith("/"):
        raise LbValidationError("Redirect path must start with a '/'")
    if action.query.startswith("?"):
        raise LbValidationError("Redirect query must not start with '?'")
    if not action.host:
        raise LbValidationError("Redirect host must not be empty")
    for part in (action.host, action.path, action.query):
        if len(part) > _MAX_VALUE:
            raise LbValidationError(f"A redirect component can be at most {_MAX_VALUE} characters")
    if (action.protocol, action.host, action.port, action.path, action.query) == (
        "#{protocol}",
        "#{host}",
        "#{port}",
        "/#{path}",
        "#{query}",
    ):
        # AWS: a URL cannot redirect to itself.
        raise InvalidAction("The redirect configuration is not valid: it redirects to itself")


# -- documents ---------------------------------------------------------------------------------


def condition_document(condition: Condition) -> dict[str, Any]:
    return {
        "field": condition.field,
        "values": list(condition.values),
        "header": condition.header_name,
        "pairs": [list(p) for p in condition.pairs],
    }


def condition_from(doc: Mapping[str, Any]) -> Condition:
    return Condition(
        field=str(doc["field"]),
        values=tuple(str(v) for v in doc.get("values") or ()),
        header_name=str(doc.get("header") or ""),
        pairs=tuple((str(k), str(v)) for k, v in doc.get("pairs") or ()),
    )


def action_document(action: RuleAction) -> dict[str, Any]:
    if isinstance(action, Forward):
        found: dict[str, Any] = {"type": "forward", "groups": [list(g) for g in action.groups]}
        if action.stickiness:
            found["stickiness"] = action.stickiness
        return found
    if isinstance(action, FixedResponse):
        return {
            "type": "fixed-response",
            "status": action.status_code,
            "content_type": action.content_type,
            "body": action.body,
        }
    return {
        "type": "redirect",
        "status": action.status_code,
        "protocol": action.protocol,
        "host": action.host,
        "port": action.port,
        "path": action.path,
        "query": action.query,
    }


def action_from(doc: Mapping[str, Any]) -> RuleAction:
    kind = doc["type"]
    if kind == "forward":
        groups = tuple((str(g), int(w)) for g, w in doc["groups"])
        return Forward(groups, int(doc.get("stickiness", 0)))
    if kind == "fixed-response":
        return FixedResponse(
            str(doc["status"]), str(doc.get("content_type") or ""), str(doc.get("body") or "")
        )
    return Redirect(
        str(doc["status"]),
        str(doc["protocol"]),
        str(doc["host"]),
        str(doc["port"]),
        str(doc["path"]),
        str(doc["query"]),
    )


def rule_document(rule: Rule) -> dict[str, Any]:
    """A whole rule as a document (what a host is handed of an HTTP listener's rules)."""
    return {
        "id": rule.rule_id,
        "priority": rule.priority,
        "conditions": [condition_document(c) for c in rule.conditions],
        "action": action_document(rule.action),
    }


def rule_from(doc: Mapping[str, Any]) -> Rule:
    priority = doc.get("priority")
    return Rule(
        rule_id=str(doc["id"]),
        priority=None if priority is None else int(priority),
        conditions=tuple(condition_from(c) for c in doc.get("conditions") or ()),
        action=action_from(doc["action"]),
    )


# -- evaluation --------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def wildcard(pattern: str, *, case_sensitive: bool) -> re.Pattern[str]:
    """AWS's wildcards as a regular expression: ``*`` any run, ``?`` one character."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(rf"\A{body}\Z", 0 if case_sensitive else re.IGNORECASE | re.DOTALL)


def _like(pattern: str, value: str, *, case_sensitive: bool) -> bool:
    return wildcard(pattern, case_sensitive=case_sensitive).match(value) is not None


def host_name(host: str) -> str:
    """The host name of a ``Host`` header: its port taken away (an IPv6 literal's brackets
    kept)."""
    if host.startswith("["):
        return host.partition("]")[0] + "]"
    return host.rpartition(":")[0] if ":" in host else host


def matches(condition: Condition, facts: RequestFacts) -> bool:
    name = condition.field
    if name == "host-header":
        host = host_name(facts.host)
        return any(_like(v, host, case_sensitive=False) for v in condition.values)
    if name == "path-pattern":
        return any(_like(v, facts.path, case_sensitive=True) for v in condition.values)
    if name == "http-request-method":
        return facts.method in condition.values
    if name == "http-header":
        wanted = condition.header_name.lower()
        found = [v for k, v in facts.headers if k.lower() == wanted]
        return any(
            _like(p, value, case_sensitive=False) for p in condition.values for value in found
        )
    if name == "query-string":
        params = parse_qsl(facts.query, keep_blank_values=True)
        return any(
            (not key or _like(unquote(key), k, case_sensitive=False))
            and _like(unquote(value), v, case_sensitive=False)
            for key, value in condition.pairs
            for k, v in params
        )
    if name == "source-ip":
        try:
            source = ipaddress.ip_address(facts.source)
        except ValueError:
            return False
        return any(
            source in ipaddress.ip_network(v, strict=False)
            for v in condition.values
            if ipaddress.ip_network(v, strict=False).version == source.version
        )
    return False


def choose(rules: Sequence[Rule], facts: RequestFacts) -> Rule | None:
    """The rule a request takes: the lowest priority whose conditions all match, else the
    default rule (None when there is none)."""
    ordered = sorted(rules, key=lambda r: MAX_PRIORITY + 1 if r.priority is None else r.priority)
    for rule in ordered:
        if rule.is_default or all(matches(c, facts) for c in rule.conditions):
            return rule
    return None


def pick_group(action: Forward, draw: random.Random | None = None) -> str | None:
    """A forward action's target group for one request: by weight among several (weight 0:
    never), the only one otherwise; None when every weight is 0."""
    if len(action.groups) == 1:
        return action.groups[0][0]
    weighted = [(g, w) for g, w in action.groups if w > 0]
    if not weighted:
        return None
    chooser = draw or random.SystemRandom()
    return chooser.choices([g for g, _ in weighted], weights=[w for _, w in weighted])[0]


def redirect_location(action: Redirect, facts: RequestFacts, *, protocol: str, port: int) -> str:
    """The ``Location`` of a redirect: each ``#{…}`` keyword replaced by the request's part
    (``#{path}`` is the path without its leading ``/``); the default port of the scheme
    left out."""
    host = host_name(facts.host) or "localhost"
    values = {
        "#{protocol}": protocol.lower(),
        "#{host}": host,
        "#{port}": str(port),
        "#{path}": facts.path.lstrip("/"),
        "#{query}": facts.query,
    }

    def fill(template: str) -> str:
        for keyword, value in values.items():
            template = template.replace(keyword, value)
        return template

    scheme = fill(action.protocol).lower()
    target_port = fill(action.port)
    default = {"http": "80", "https": "443"}.get(scheme)
    authority = fill(action.host) + ("" if target_port == default else f":{target_port}")
    query = fill(action.query)
    return f"{scheme}://{authority}{fill(action.path)}" + (f"?{query}" if query else "")
