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


def _fragment(text: str, star: str, question: str) -> str:
    """Regex source for one wildcard run (no anchors)."""
    out: list[str] = []
    run: list[str] = []
    for char in text:
        if char == "*" or char == "?":
            if run:
                out.append(re.escape("".join(run)))
                run.clear()
            out.append(star if char == "*" else question)
        elif char == LITERAL_STAR:
            run.append("*")
        elif char == LITERAL_QUESTION:
            run.append("?")
        else:
            run.append(char)
    if run:
        out.append(re.escape("".join(run)))
    return "".join(out)


def wildcard_source(pattern: str) -> str:
    """Regex source (unanchored) of a plain wildcard pattern."""
    return _fragment(pattern, ".*", ".")


@lru_cache(maxsize=_PATTERN_CACHE_SIZE)
def compile_wildcard(pattern: str) -> re.Pattern[str]:
    """A compiled plain wildcard; use ``fullmatch``. Cached: patterns repeat across requests."""
    return re.compile(wildcard_source(pattern), re.DOTALL)


def arn_source(pattern: str) -> str:
    """Regex source of an ARN pattern: wildcards stay inside their colon-separated component.

    The pattern's last component absorbs the rest of the value, so ``*`` alone matches any ARN
    and ``arn:aws:s3:::bucket/*`` matches keys containing colons.
    """
    components = pattern.split(":", 5)
    last = len(components) - 1
    return ":".join(
        _fragment(part, ".*", ".") if index == last else _fragment(part, "[^:]*", "[^:]")
        for index, part in enumerate(components)
    )


@lru_cache(maxsize=_PATTERN_CACHE_SIZE)
def compile_arn_pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(arn_source(pattern), re.DOTALL)


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
