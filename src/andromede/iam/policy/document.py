"""Policy documents: JSON text in, an immutable, pre-compiled :class:`PolicyDocument` out.

:func:`parse_policy` is the only way to build a document. It validates the text the way IAM and
S3 do (strict JSON without duplicate keys, known elements only, Effect, Action/NotAction,
Resource/NotResource, Principal/NotPrincipal according to the :class:`PolicyKind`, unique Sids,
known condition operators, actions of catalogued services) and raises :class:`MalformedPolicy`
with a message naming the problem. It then compiles every pattern once, so evaluation does no
parsing: actions become a set plus one regex, resources likewise, conditions become
:class:`~andromede.iam.policy.conditions.ConditionClause` objects.

Size limits are the caller's choice (one per kind of policy, see the ``*_MAX`` constants); IAM
does not count whitespace, S3 counts the bytes of the bucket policy.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, TypeVar, cast

from andromede.iam.policy.actions import action_pattern_matches_any, known_action, known_service
from andromede.iam.policy.conditions import ConditionClause, parse_condition_block
from andromede.iam.policy.context import RequestContext, account_root_arn
from andromede.iam.policy.errors import MalformedPolicy, PolicyTooLarge
from andromede.iam.policy.wildcard import (
    Template,
    compile_resource_pattern,
    compile_wildcard,
    has_wildcard,
    parse_template,
    plain_text,
)

__all__ = [
    "IAM_GROUP_INLINE_POLICY_MAX",
    "IAM_MANAGED_POLICY_MAX",
    "IAM_ROLE_INLINE_POLICY_MAX",
    "IAM_TRUST_POLICY_MAX",
    "IAM_USER_INLINE_POLICY_MAX",
    "LOADED_POLICY_CACHE_SIZE",
    "S3_BUCKET_POLICY_MAX",
    "SESSION_POLICY_MAX",
    "VERSION_2008",
    "VERSION_2012",
    "Effect",
    "PolicyDocument",
    "PolicyKind",
    "Principal",
    "SizeLimit",
    "SizeMeasure",
    "Statement",
    "load_policy",
    "parse_policy",
]

VERSION_2012 = "2012-10-17"
VERSION_2008 = "2008-10-17"


class PolicyKind(enum.Enum):
    """Which grammar applies: identity policies name no principal, resource policies must."""

    IDENTITY = "identity"  # attached to a user, group or role; also session policies
    RESOURCE = "resource"  # bucket policy, key policy: Principal and Resource required
    TRUST = "trust"  # a role's trust policy: Principal required, no Resource


class Effect(enum.Enum):
    ALLOW = "Allow"
    DENY = "Deny"


class SizeMeasure(enum.Enum):
    CHARACTERS_WITHOUT_WHITESPACE = "characters without whitespace"  # IAM's way
    BYTES = "bytes"  # S3's way for bucket policies


@dataclass(frozen=True, slots=True)
class SizeLimit:
    max_size: int
    measure: SizeMeasure

    def size_of(self, text: str) -> int:
        if self.measure is SizeMeasure.BYTES:
            return len(text.encode("utf-8"))
        whitespace = text.count(" ") + text.count("\t") + text.count("\n") + text.count("\r")
        return len(text) - whitespace


# The limits AWS documents ("IAM and AWS STS quotas", "Bucket policy size").
IAM_MANAGED_POLICY_MAX = SizeLimit(6_144, SizeMeasure.CHARACTERS_WITHOUT_WHITESPACE)
IAM_USER_INLINE_POLICY_MAX = SizeLimit(2_048, SizeMeasure.CHARACTERS_WITHOUT_WHITESPACE)
IAM_ROLE_INLINE_POLICY_MAX = SizeLimit(10_240, SizeMeasure.CHARACTERS_WITHOUT_WHITESPACE)
IAM_GROUP_INLINE_POLICY_MAX = SizeLimit(5_120, SizeMeasure.CHARACTERS_WITHOUT_WHITESPACE)
IAM_TRUST_POLICY_MAX = SizeLimit(2_048, SizeMeasure.CHARACTERS_WITHOUT_WHITESPACE)
SESSION_POLICY_MAX = SizeLimit(2_048, SizeMeasure.CHARACTERS_WITHOUT_WHITESPACE)
S3_BUCKET_POLICY_MAX = SizeLimit(20 * 1024, SizeMeasure.BYTES)


@dataclass(frozen=True, slots=True)
class Principal:
    """A ``Principal``/``NotPrincipal`` element. Account ids are normalised to root ARNs."""

    wildcard: bool = False  # "*" or {"AWS": "*"}: everyone, anonymous included
    aws: frozenset[str] = frozenset()
    service: frozenset[str] = frozenset()
    canonical_user: frozenset[str] = frozenset()
    federated: frozenset[str] = frozenset()


class _ActionMatcher:
    """Action patterns, lower-cased (actions are case-insensitive): a set plus wildcards."""

    __slots__ = ("_all", "_exact", "_globs")

    def __init__(self, patterns: Sequence[str]) -> None:
        lowered = [pattern.lower() for pattern in patterns]
        self._all = "*" in lowered
        self._exact = frozenset(p for p in lowered if not has_wildcard(p))
        self._globs = tuple(compile_wildcard(p) for p in lowered if has_wildcard(p))

    def __call__(self, action_key: str) -> bool:
        if self._all or action_key in self._exact:
            return True
        return any(glob.fullmatch(action_key) for glob in self._globs)


def _is_prefix_pattern(pattern: str) -> bool:
    """``literal*``: one wildcard, a star at the end."""
    return pattern.endswith("*") and not has_wildcard(pattern[:-1])


class _ResourceMatcher:
    """Resource patterns: ``*``, a set of exact ARNs, wildcards, and templates with variables."""

    __slots__ = ("_all", "_exact", "_globs", "_prefixes", "_templates")

    def __init__(self, patterns: Sequence[str], variables: bool) -> None:
        static: list[str] = []
        templates: list[Template] = []
        for pattern in patterns:
            parsed = parse_template(pattern) if variables else pattern
            if isinstance(parsed, Template):
                templates.append(parsed)
            else:
                static.append(parsed)
        self._all = "*" in static
        self._exact = frozenset(plain_text(p) for p in static if not has_wildcard(p))
        # "literal*" (a bucket's objects, a folder's keys): the final star ends its segment, so
        # it matches any rest, colons included; a plain prefix test, one C call for them all.
        self._prefixes = tuple(plain_text(p[:-1]) for p in static if _is_prefix_pattern(p))
        self._globs = tuple(
            compile_resource_pattern(p)
            for p in static
            if has_wildcard(p) and not _is_prefix_pattern(p)
        )
        self._templates = tuple(templates)

    # Statement.applies tests ``_all``, ``_exact`` and ``_prefixes`` itself (a call less per
    # statement per request), then this for the rest.
    def others(self, context: RequestContext) -> bool:
        """Whether a pattern that is not ``*``, exact or ``literal*`` covers the resource."""
        resource = context.resource
        for glob in self._globs:
            if glob.fullmatch(resource):
                return True
        for template in self._templates:
            rendered = template.render(context.get_string, as_pattern=True)
            if rendered is not None and compile_resource_pattern(rendered).fullmatch(resource):
                return True
        return False


@dataclass(frozen=True, slots=True, eq=False)
class Statement:
    """One statement, as written (for display and audit) and compiled (for evaluation)."""

    index: int
    sid: str | None
    effect: Effect
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...] | None  # None: the element is absent (trust policies)
    not_resource: bool
    principal: Principal | None
    not_principal: bool
    conditions: tuple[ConditionClause, ...]
    _action_matcher: _ActionMatcher = field(repr=False)
    _resource_matcher: _ResourceMatcher | None = field(repr=False)

    def matches_action(self, action_key: str) -> bool:
        """Whether the statement covers the (lower-cased) action, NotAction taken into account."""
        return self._action_matcher(action_key) != self.not_action

    def applies(self, context: RequestContext) -> bool:
        """Resource and conditions hold for this request (the action was checked before)."""
        matcher = self._resource_matcher
        if matcher is not None:
            resource = context.resource
            covered = (
                matcher._all
                or resource in matcher._exact
                or resource.startswith(matcher._prefixes)
                or matcher.others(context)
            )
            if covered == self.not_resource:
                return False
        for clause in self.conditions:
            if not clause.test(context):
                return False
        return True


_CANDIDATE_CACHE_LIMIT = 1024
# Distinct policy texts kept parsed by load_policy; a bucket policy is at most 20 KiB, most are
# under 2 KiB.
LOADED_POLICY_CACHE_SIZE = 512
_MEMO_LIMIT = 4096
T = TypeVar("T")


@dataclass(frozen=True, slots=True, eq=False)
class PolicyDocument:
    """A parsed, validated, compiled policy. Immutable; safe to share between requests.

    ``candidates`` memoises, per action, the statements whose Action/NotAction covers it: the
    action set is small and bounded, and most statements of a bucket policy are about other
    actions, so evaluation only looks at the few statements that can apply.
    """

    version: str
    id: str | None
    kind: PolicyKind
    statements: tuple[Statement, ...]
    _by_action: dict[str, tuple[Statement, ...]] = field(
        default_factory=dict, repr=False, compare=False
    )
    _memo: dict[Hashable, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def variables_enabled(self) -> bool:
        return self.version == VERSION_2012

    def candidates(self, action_key: str) -> tuple[Statement, ...]:
        found = self._by_action.get(action_key)
        if found is None:
            found = tuple(s for s in self.statements if s.matches_action(action_key))
            if len(self._by_action) >= _CANDIDATE_CACHE_LIMIT:
                self._by_action.clear()
            self._by_action[action_key] = found
        return found

    def recall(self, key: Hashable) -> Any:
        """What :meth:`memoised` keeps for ``key``, None if nothing (yet): the request path's
        look-up, without building a closure to compute what is almost always there."""
        return self._memo.get(key)

    def memoised(self, key: Hashable, compute: Callable[[], T]) -> T:
        """A bounded per-document memo for facts derived from the document and ``key`` only.

        The evaluator keeps here, per (action, caller), the resource-policy statements that
        name the caller, so principal matching runs once per caller and not once per request.
        """
        try:
            return cast(T, self._memo[key])
        except KeyError:
            pass
        value = compute()
        if len(self._memo) >= _MEMO_LIMIT:
            self._memo.clear()
        self._memo[key] = value
        return value


# --- parsing ------------------------------------------------------------------------------------

_TOP_LEVEL = frozenset({"Version", "Id", "Statement"})
_STATEMENT_ELEMENTS = frozenset(
    {
        "Sid",
        "Effect",
        "Principal",
        "NotPrincipal",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
    }
)
_PRINCIPAL_TYPES = {
    "AWS": "aws",
    "Service": "service",
    "CanonicalUser": "canonical_user",
    "Federated": "federated",
}
_IAM_SID = re.compile(r"[0-9A-Za-z]*")
_ACTION = re.compile(r"([A-Za-z0-9*?-]+):([A-Za-z0-9*?-]+)")
_ACCOUNT_ID = re.compile(r"\d{12}")
_PRINCIPAL_ARN = re.compile(
    r"arn:[a-z0-9-]+:(?:iam::\d{12}:(?:root|user/.+|role/.+)"
    r"|sts::\d{12}:(?:assumed-role/[^/]+/.+|federated-user/.+))"
)
_VENDOR = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."


def _json_object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        if key in result:
            # Two parsers taking different copies of a key is how policies get smuggled.
            raise MalformedPolicy(f"Syntax errors in policy: duplicate key {key!r}")
        result[key] = value
    return result


def _json_constant(name: str) -> object:
    raise MalformedPolicy(f"Syntax errors in policy: {name} is not valid JSON")


def _load_json(text: str) -> object:
    try:
        return json.loads(text, object_pairs_hook=_json_object, parse_constant=_json_constant)
    except json.JSONDecodeError as exc:
        raise MalformedPolicy(
            f"Syntax errors in policy: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise MalformedPolicy("Syntax errors in policy: nested too deeply") from None


def parse_policy(
    text: str | bytes,
    *,
    kind: PolicyKind,
    max_size: SizeLimit | int | None = None,
) -> PolicyDocument:
    """Parse and validate ``text`` as a policy of ``kind``; raise :class:`MalformedPolicy`.

    ``max_size`` is one of the ``*_MAX`` constants (or a plain number of characters);
    :class:`PolicyTooLarge` (a :class:`MalformedPolicy`) is raised beyond it, before parsing.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedPolicy("Syntax errors in policy: the text is not UTF-8") from None
    if max_size is not None:
        limit = (
            max_size if isinstance(max_size, SizeLimit) else SizeLimit(max_size, SizeMeasure.BYTES)
        )
        size = limit.size_of(text)
        if size > limit.max_size:
            raise PolicyTooLarge(
                f"Policy document exceeds the maximum allowed size: {size} > {limit.max_size}"
                f" ({limit.measure.value})",
                limit=limit.max_size,
                size=size,
            )
    document = _load_json(text)
    if not isinstance(document, dict):
        raise MalformedPolicy("Syntax errors in policy: the document must be a JSON object")
    unknown = sorted(set(document) - _TOP_LEVEL)
    if unknown:
        raise MalformedPolicy(f"Syntax errors in policy: unknown element {unknown[0]!r}")
    version = document.get("Version", VERSION_2008)
    if not isinstance(version, str) or version not in (VERSION_2012, VERSION_2008):
        raise MalformedPolicy(
            f"The policy must contain a valid version string ({VERSION_2012} or {VERSION_2008})"
        )
    policy_id = document.get("Id")
    if policy_id is not None and not isinstance(policy_id, str):
        raise MalformedPolicy("Syntax errors in policy: Id must be a string")
    raw_statements = document.get("Statement")
    if raw_statements is None:
        raise MalformedPolicy("Missing required field Statement")
    if isinstance(raw_statements, dict):
        raw_statements = [raw_statements]
    if not isinstance(raw_statements, list) or not raw_statements:
        raise MalformedPolicy("Statement must be an object or a non-empty list of objects")
    variables = version == VERSION_2012
    statements = []
    seen_sids: set[str] = set()
    for index, raw in enumerate(raw_statements):
        statement = _parse_statement(index, raw, kind=kind, variables=variables)
        if statement.sid is not None and statement.sid != "":
            if statement.sid in seen_sids:
                raise MalformedPolicy(
                    f"Statement IDs (SID) in a single policy must be unique: {statement.sid!r}"
                )
            seen_sids.add(statement.sid)
        statements.append(statement)
    return PolicyDocument(version=version, id=policy_id, kind=kind, statements=tuple(statements))


@lru_cache(maxsize=LOADED_POLICY_CACHE_SIZE)
def load_policy(text: str, *, kind: PolicyKind) -> PolicyDocument:
    """Parse a policy that was validated when it was stored, memoised by its text.

    Parsing a 20-statement policy costs about a millisecond, fifty times an evaluation, so the
    request path loads policies through here rather than :func:`parse_policy`. Equal texts give
    the same (immutable) document, which also keeps its per-action memos warm across requests.
    No size limit applies: the limit was checked when the policy was written.
    """
    return parse_policy(text, kind=kind)


def _where(index: int, sid: str | None) -> str:
    return f"statement {index}" + (f" ({sid})" if sid else "")


def _strings(raw: object, element: str, where: str) -> tuple[str, ...]:
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise MalformedPolicy(f"{element} in {where} must be a string or a list of strings")
    if not items:
        raise MalformedPolicy(f"{element} in {where} must not be empty")
    return tuple(items)


def _pick(raw: dict[str, object], name: str, where: str) -> tuple[object, bool] | None:
    """The element ``name`` or ``Not<name>`` (raw value, negated), None when neither is there."""
    positive, negative = raw.get(name), raw.get(f"Not{name}")
    if positive is not None and negative is not None:
        raise MalformedPolicy(f"{where} has both {name} and Not{name}")
    if positive is not None:
        return positive, False
    if negative is not None:
        return negative, True
    return None


def _parse_statement(index: int, raw: object, *, kind: PolicyKind, variables: bool) -> Statement:
    if not isinstance(raw, dict):
        raise MalformedPolicy(f"Statement {index} must be an object")
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise MalformedPolicy(f"Sid of statement {index} must be a string")
    where = _where(index, sid)
    unknown = sorted(set(raw) - _STATEMENT_ELEMENTS)
    if unknown:
        raise MalformedPolicy(f"Syntax errors in policy: unknown element {unknown[0]!r} in {where}")
    if sid and kind is not PolicyKind.RESOURCE and not _IAM_SID.fullmatch(sid):
        raise MalformedPolicy(
            f"Statement IDs (SID) must be alpha-numeric: {sid!r}. Check that your input"
            " satisfies the regular expression [0-9A-Za-z]*"
        )

    effect_raw = raw.get("Effect")
    if effect_raw is None:
        raise MalformedPolicy(f"Missing required field Effect in {where}")
    try:
        effect = Effect(effect_raw)
    except ValueError:
        raise MalformedPolicy(f"Invalid effect {effect_raw!r} in {where}: Allow or Deny") from None

    picked_action = _pick(raw, "Action", where)
    if picked_action is None:
        raise MalformedPolicy(f"Policy statement must contain actions ({where})")
    actions = _strings(picked_action[0], "Action", where)
    for action in actions:
        _validate_action(action, where)

    picked_resource = _pick(raw, "Resource", where)
    resources: tuple[str, ...] | None = None
    if kind is PolicyKind.TRUST:
        if picked_resource is not None:
            raise MalformedPolicy(
                f"Has prohibited field Resource ({where}): trust policies name none"
            )
    elif picked_resource is None:
        raise MalformedPolicy(f"Policy statement must contain resources ({where})")
    else:
        resources = _strings(picked_resource[0], "Resource", where)
        for resource in resources:
            if resource != "*" and not (resource.startswith("arn:") and resource.count(":") >= 5):
                raise MalformedPolicy(f'Resource {resource} must be in ARN format or "*" ({where})')

    picked_principal = _pick(raw, "Principal", where)
    principal: Principal | None = None
    if kind is PolicyKind.IDENTITY:
        if picked_principal is not None:
            raise MalformedPolicy(f"Policy document should not specify a principal ({where})")
    elif picked_principal is None:
        raise MalformedPolicy(f"Missing required field Principal in {where}")
    else:
        principal = _parse_principal(picked_principal[0], where)

    conditions: tuple[ConditionClause, ...] = ()
    if "Condition" in raw:
        try:
            conditions = parse_condition_block(raw["Condition"], variables=variables)
        except MalformedPolicy as exc:
            raise MalformedPolicy(f"{exc.message} ({where})") from None

    return Statement(
        index=index,
        sid=sid,
        effect=effect,
        actions=actions,
        not_action=picked_action[1],
        resources=resources,
        not_resource=picked_resource[1] if picked_resource is not None else False,
        principal=principal,
        not_principal=picked_principal[1] if picked_principal is not None else False,
        conditions=conditions,
        _action_matcher=_ActionMatcher(actions),
        _resource_matcher=(
            _ResourceMatcher(resources, variables) if resources is not None else None
        ),
    )


def _validate_action(action: str, where: str) -> None:
    if action == "*":
        return
    if ":" not in action:
        raise MalformedPolicy(f"Invalid Action {action!r} ({where}): {_VENDOR}")
    matched = _ACTION.fullmatch(action)
    if matched is None:
        raise MalformedPolicy(f"Invalid Action {action!r} ({where})")
    service, name = matched.groups()
    if has_wildcard(service) or not known_service(service):
        return  # AWS accepts actions of services it does not validate
    if has_wildcard(name):
        if not action_pattern_matches_any(service, name):
            raise MalformedPolicy(
                f"Invalid Action {action!r} ({where}): the pattern matches no {service} action"
            )
    elif not known_action(service, name):
        raise MalformedPolicy(f"Invalid Action: the action {action} does not exist ({where})")


def _parse_principal(raw: object, where: str) -> Principal:
    if raw == "*":
        return Principal(wildcard=True)
    if not isinstance(raw, dict) or not raw:
        raise MalformedPolicy(f'Invalid principal in policy ({where}): "*" or an object')
    found: dict[str, frozenset[str]] = {}
    wildcard = False
    for principal_type, values in raw.items():
        attribute = _PRINCIPAL_TYPES.get(principal_type)
        if attribute is None:
            raise MalformedPolicy(f"Invalid principal in policy ({where}): type {principal_type!r}")
        entries = _strings(values, f"Principal {principal_type}", where)
        normalised: set[str] = set()
        for entry in entries:
            if principal_type == "AWS":
                if entry == "*":
                    wildcard = True
                    continue
                if _ACCOUNT_ID.fullmatch(entry):
                    entry = account_root_arn(entry)
                elif not _PRINCIPAL_ARN.fullmatch(entry) or has_wildcard(entry):
                    raise MalformedPolicy(f"Invalid principal in policy ({where}): {entry!r}")
            elif entry == "" or has_wildcard(entry):
                raise MalformedPolicy(f"Invalid principal in policy ({where}): {entry!r}")
            normalised.add(entry)
        found[attribute] = frozenset(normalised)
    return Principal(wildcard=wildcard, **found)
