"""Wildcard patterns and policy-variable templates, compiled once.

Owns the three string-matching dialects of the policy language:

* the plain wildcard of ``Action`` and ``StringLike``: ``*`` matches any run of characters
  (``/`` and ``:`` included), ``?`` exactly one character;
* the resource wildcard of ``Resource``/``NotResource``: the same, except that a wildcard does
  not match a colon unless it is a ``*`` ending its colon-separated segment;
* the ARN wildcard of ``ArnLike``/``ArnEquals``: the ARN is split into its six colon-separated
  components and a wildcard never crosses a component boundary, except in the last one
  (the resource part, which may itself contain colons).

and the policy variables of Version 2012-10-17 (``${aws:username}``, ``${s3:prefix, 'x'}``,
the escapes ``${*}``, ``${?}``, ``${$}``), parsed into a :class:`Template` at parse time and
rendered per request.

Substituted values and escapes are always literal: a user-controlled value such as ``s3:prefix``
containing ``*`` cannot widen a pattern. They are carried to the compiler as private-use code
points (``LITERAL_STAR``, ``LITERAL_QUESTION``) that the compilers turn back into literal
characters.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "LITERAL_QUESTION",
    "LITERAL_STAR",
    "ArnGlob",
    "Glob",
    "ResourceGlob",
    "Template",
    "VariableRef",
    "compile_arn_pattern",
    "compile_resource_pattern",
    "compile_wildcard",
    "has_wildcard",
    "parse_template",
]

# Private-use code points stand for a literal "*" / "?" inside a rendered pattern.
LITERAL_STAR = "\ue000"
LITERAL_QUESTION = "\ue001"

_PATTERN_CACHE_SIZE = 4096


def has_wildcard(text: str) -> bool:
    return "*" in text or "?" in text


class _Segment:
    """A run of pattern text between two ``*``: a plain string, or fixed-length with ``?``."""

    __slots__ = ("_literal", "_regex", "length")

    def __init__(self, text: str) -> None:
        self.length = len(text)
        if "?" in text:
            source = "".join("." if char == "?" else re.escape(_plain(char)) for char in text)
            self._regex: re.Pattern[str] | None = re.compile(source, re.DOTALL)
            self._literal = ""
        else:
            self._regex = None
            self._literal = _plain(text)

    def at(self, text: str, position: int) -> bool:
        if self._regex is None:
            return text.startswith(self._literal, position)
        return self._regex.match(text, position) is not None

    def find(self, text: str, start: int, end: int) -> int:
        if self._regex is None:
            return text.find(self._literal, start, end)
        found = self._regex.search(text, start, end)
        return -1 if found is None else found.start()


class Glob:
    """A compiled plain wildcard (``*`` any run, ``?`` one character), matched in linear time.

    Not a regex on purpose: ``.*a.*a.*a…`` backtracks exponentially, and a tenant must not be
    able to burn the gateway's CPU with a crafted policy. Between stars every segment has a
    fixed length, so the leftmost occurrence of each middle segment is always the right choice.
    """

    __slots__ = ("_head", "_middles", "_minimum", "_stars", "_tail")

    def __init__(self, pattern: str) -> None:
        pieces = pattern.split("*")
        self._stars = len(pieces) > 1
        self._head = _Segment(pieces[0])
        self._tail = _Segment(pieces[-1])
        self._middles = tuple(_Segment(piece) for piece in pieces[1:-1] if piece)
        self._minimum = sum(len(piece) for piece in pieces)

    def fullmatch(self, text: str) -> bool:
        if not self._stars:
            return len(text) == self._minimum and self._head.at(text, 0)
        if len(text) < self._minimum or not self._head.at(text, 0):
            return False
        end = len(text) - self._tail.length
        if not self._tail.at(text, end):
            return False
        position = self._head.length
        for segment in self._middles:
            found = segment.find(text, position, end)
            if found < 0:
                return False
            position = found + segment.length
        return True


class ArnGlob:
    """An ARN pattern: the six colon-separated components are matched one by one, so a wildcard
    never crosses a component boundary; the pattern's last component absorbs the rest of the
    value, so ``*`` alone matches any ARN and a resource part may contain colons."""

    __slots__ = ("_components", "_count")

    def __init__(self, pattern: str) -> None:
        components = pattern.split(":", 5)
        self._count = len(components)
        self._components = tuple(Glob(component) for component in components)

    def fullmatch(self, text: str) -> bool:
        parts = text.split(":", self._count - 1)
        if len(parts) != self._count:
            return False
        for glob, part in zip(self._components, parts, strict=True):
            if not glob.fullmatch(part):
                return False
        return True


class _ColonAwareNfa:
    """The exact matcher for a ``Resource`` pattern, run as a bit-parallel NFA (shift-and).

    State ``i`` means "the first ``i`` non-star tokens matched"; a star is a self-loop on the
    state before the next token. A segment-final star loops on any character, any other star
    and ``?`` never consume a colon. One step per text character, whatever the pattern: no
    backtracking, so no pathological pattern.
    """

    __slots__ = ("_accept", "_any_loops", "_literals", "_question", "_segment_loops")

    def __init__(self, pattern: str) -> None:
        literals: dict[str, int] = {}
        question = any_loops = segment_loops = 0
        state = 0
        index = 0
        while index < len(pattern):
            char = pattern[index]
            if char == "*":
                end = index
                while end < len(pattern) and pattern[end] == "*":
                    end += 1
                if end == len(pattern) or pattern[end] == ":":
                    any_loops |= 1 << state
                else:
                    segment_loops |= 1 << state
                index = end
                continue
            state += 1
            if char == "?":
                question |= 1 << state
            else:
                literal = _plain(char)
                literals[literal] = literals.get(literal, 0) | 1 << state
            index += 1
        self._literals = literals
        self._question = question
        self._any_loops = any_loops
        self._segment_loops = segment_loops
        self._accept = 1 << state

    def fullmatch(self, text: str) -> bool:
        states = 1
        literals = self._literals
        for char in text:
            if char == ":":
                accepts = literals.get(char, 0)
                loops = self._any_loops
            else:
                accepts = literals.get(char, 0) | self._question
                loops = self._any_loops | self._segment_loops
            states = ((states << 1) & accepts) | (states & loops)
            if not states:
                return False
        return bool(states & self._accept)


def _needs_colon_rules(pattern: str) -> bool:
    """Whether some wildcard of ``pattern`` must not match a colon: a ``?``, or a ``*`` that
    does not end its colon-separated segment."""
    if "?" in pattern:
        return True
    index = pattern.find("*")
    while index >= 0:
        end = index
        while end < len(pattern) and pattern[end] == "*":
            end += 1
        if end < len(pattern) and pattern[end] != ":":
            return True
        index = pattern.find("*", end)
    return False


class ResourceGlob:
    """A ``Resource``/``NotResource`` pattern, with AWS's colon rule ("IAM JSON policy elements:
    Resource", Using wildcards in resource ARNs): wildcards match within a colon-separated
    segment, except a ``*`` that ends its segment, which may extend across colons — so
    ``arn:aws:s3:::bucket/*`` covers keys containing colons, ``bucket/*/public`` does not.

    The plain glob decides alone when the rule cannot matter: it rejects (the rule only
    narrows), or the pattern has no restricted wildcard, or the text has no colon beyond those
    the pattern spells out. The NFA settles the rest.
    """

    __slots__ = ("_colons", "_exact", "_plain")

    def __init__(self, pattern: str) -> None:
        self._plain = Glob(pattern)
        self._colons = pattern.count(":")
        self._exact = _ColonAwareNfa(pattern) if _needs_colon_rules(pattern) else None

    def fullmatch(self, text: str) -> bool:
        if not self._plain.fullmatch(text):
            return False
        if self._exact is None or text.count(":") == self._colons:
            return True
        return self._exact.fullmatch(text)


@lru_cache(maxsize=_PATTERN_CACHE_SIZE)
def compile_resource_pattern(pattern: str) -> ResourceGlob:
    return ResourceGlob(pattern)


@lru_cache(maxsize=_PATTERN_CACHE_SIZE)
def compile_wildcard(pattern: str) -> Glob:
    """A compiled plain wildcard. Cached: patterns with variables repeat across requests."""
    return Glob(pattern)


@lru_cache(maxsize=_PATTERN_CACHE_SIZE)
def compile_arn_pattern(pattern: str) -> ArnGlob:
    return ArnGlob(pattern)


@dataclass(frozen=True, slots=True)
class VariableRef:
    """``${key}`` or ``${key, 'default'}``; ``key`` is lower-cased (keys are case-insensitive)."""

    key: str
    default: str | None


_ESCAPES = {"*": LITERAL_STAR, "?": LITERAL_QUESTION, "$": "$"}
_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_DEFAULT = re.compile(r"^\s*([^,\s]+)\s*,\s*'([^']*)'\s*$")

# Resolves a lower-cased context key to its single string value, or None when absent.
Resolver = Callable[[str], str | None]


@dataclass(frozen=True, slots=True)
class Template:
    """A string with policy variables; ``parts`` alternate literal text and :class:`VariableRef`.

    Literal text keeps its wildcards; escapes are stored as their private-use literals.
    """

    parts: tuple[str | VariableRef, ...]

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(part.key for part in self.parts if isinstance(part, VariableRef))

    def render(self, resolve: Resolver, *, as_pattern: bool) -> str | None:
        """The text for this request, or None when a variable has no value and no default.

        With ``as_pattern`` substituted values have their ``*``/``?`` made literal, for a
        wildcard compiler; without it (exact comparisons) private-use literals become plain.
        """
        pieces: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                pieces.append(part if as_pattern else _plain(part))
                continue
            value = resolve(part.key)
            if value is None:
                value = part.default
                if value is None:
                    return None
            if as_pattern:
                value = value.replace("*", LITERAL_STAR).replace("?", LITERAL_QUESTION)
            pieces.append(value)
        return "".join(pieces)


def _plain(text: str) -> str:
    return text.replace(LITERAL_STAR, "*").replace(LITERAL_QUESTION, "?")


def parse_template(text: str) -> Template | str:
    """Split ``text`` into a :class:`Template`, or return it unchanged when it has no variable.

    Only escapes are found in a text like ``a${*}b``: the result is then a plain string with the
    escape replaced by its private-use literal. Text that merely looks like ``${`` without a
    closing brace stays literal, as AWS treats it.
    """
    if "${" not in text:
        return text
    parts: list[str | VariableRef] = []
    literal: list[str] = []
    position = 0
    for found in _VARIABLE.finditer(text):
        literal.append(text[position : found.start()])
        position = found.end()
        body = found.group(1)
        if body in _ESCAPES:
            literal.append(_ESCAPES[body])
            continue
        with_default = _DEFAULT.match(body)
        if with_default:
            ref = VariableRef(with_default.group(1).lower(), with_default.group(2))
        else:
            ref = VariableRef(body.strip().lower(), None)
        parts.append("".join(literal))
        literal.clear()
        parts.append(ref)
    literal.append(text[position:])
    tail = "".join(literal)
    if not any(isinstance(part, VariableRef) for part in parts):
        return tail
    parts.append(tail)
    return Template(tuple(part for part in parts if part != ""))


def plain_text(text: str) -> str:
    """Turn private-use literals back into ``*``/``?`` (for exact comparisons of static text)."""
    return _plain(text)
