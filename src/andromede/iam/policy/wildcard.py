"""Wildcard patterns and policy-variable templates, compiled once.

Owns the two string-matching dialects of the policy language:

* the plain wildcard of ``Action``, ``Resource`` and ``StringLike``: ``*`` matches any run of
  characters (``/`` and ``:`` included), ``?`` exactly one character;
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
    "Template",
    "VariableRef",
    "compile_arn_pattern",
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
