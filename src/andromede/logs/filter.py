"""CloudWatch Logs filter patterns (decision 0186), parsed once and matched against each
event's message. The subset served:

- ``""``: every event;
- terms: ``ERROR timeout`` (every term in the message, case-sensitive), ``"quoted phrase"``
  (the phrase as written), ``-term`` / ``-"phrase"`` (not in the message), and ``?a ?b`` (any
  of the terms) — as AWS, ``?`` terms are not mixed with the others;
- JSON: ``{ $.field = value }`` over a message that is a JSON object, with ``=``, ``!=``,
  ``<``, ``>``, ``<=``, ``>=``; strings quoted or bare, ``*`` a wildcard in ``=`` and ``!=``;
  numbers compared as numbers; ``IS NULL``, ``IS TRUE``, ``IS FALSE``, ``EXISTS`` and
  ``NOT EXISTS``; ``&&``, ``||`` and parentheses; paths ``$.a.b``, ``$.a[0]``, ``$.a[*]``;
- space-delimited: ``[ip, user, ..., status = 4*, size > 1000]``
  (:mod:`andromede.logs.filter_delimited`, session 48).

:meth:`FilterPattern.extract` answers a :class:`PatternMatch`: the values TestMetricFilter
shows (``$name`` of the named fields of a space-delimited pattern, each selector of a JSON
pattern) and the means to read a metric filter's ``$.field`` / ``$name`` selectors.

Refused with InvalidParameter: regular expressions (``%…%``) and anything else this parser
does not read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from andromede.logs.errors import InvalidParameter
from andromede.logs.filter_delimited import compile_delimited

__all__ = ["FilterPattern", "PatternMatch", "compile_pattern", "selector_steps"]

_MISSING: Final = object()
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<op>&&|\|\||!=|<=|>=|=|<|>|\(|\))
      | (?P<str>"(?:[^"\\]|\\.)*")
      | (?P<path>\$(?:\.[A-Za-z0-9_\-@]+|\[(?:\d+|\*)\])*)
      | (?P<word>[^\s()=!<>&|"]+)
    )""",
    re.VERBOSE,
)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")


def _refuse(pattern: str, why: str) -> InvalidParameter:
    return InvalidParameter(f"Invalid filter pattern {pattern[:128]!r}: {why} (decision 0186)")


@dataclass(frozen=True, slots=True)
class PatternMatch:
    """A message a pattern matched: ``extracted`` the values AWS shows for it, ``document``
    the message's JSON object when the pattern is a JSON one."""

    extracted: dict[str, str]
    document: Any = None

    def selected(self, selector: str) -> str | None:
        """The text a metric filter's selector reads: ``$.a.b`` in the JSON document,
        ``$name`` a named field of a space-delimited pattern; None when absent."""
        if selector.startswith("$."):
            if self.document is None:
                return None
            for value in _values(self.document, selector_steps(selector)):
                if value is not _MISSING and not isinstance(value, dict | list):
                    return _shown(value)
            return None
        return self.extracted.get(selector)


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)


@dataclass(frozen=True, slots=True)
class FilterPattern:
    """A compiled pattern: :meth:`matches` says whether a message passes it,
    :meth:`extract` what it extracts from one it matches (None when it does not)."""

    text: str
    _extract: Callable[[str], PatternMatch | None]
    delimited: bool = False
    json: bool = False  # a JSON pattern: its metric filters may select ``$.field`` values

    def matches(self, message: str) -> bool:
        return self._extract(message) is not None

    def extract(self, message: str) -> PatternMatch | None:
        return self._extract(message)


_NOTHING: Final = PatternMatch({})


def compile_pattern(text: str) -> FilterPattern:
    stripped = text.strip()
    if not stripped:
        return FilterPattern(text, lambda _m: _NOTHING)
    if stripped.startswith("{"):
        if not stripped.endswith("}"):
            raise _refuse(text, "a JSON pattern ends with '}'")
        parser = _JsonParser(text, stripped[1:-1])
        predicate = parser.parse()
        paths = list(dict.fromkeys(parser.paths))

        def json_match(message: str) -> PatternMatch | None:
            try:
                document = json.loads(message)
            except ValueError:
                return None
            if not predicate(document):
                return None
            shown = PatternMatch({}, document)
            extracted = {p: v for p in paths if (v := shown.selected(p)) is not None}
            return PatternMatch(extracted, document)

        return FilterPattern(text, json_match, json=True)
    if stripped.startswith("["):
        delimited = compile_delimited(text, stripped)

        def fields_match(message: str) -> PatternMatch | None:
            fields = delimited(message)
            return None if fields is None else PatternMatch(fields)

        return FilterPattern(text, fields_match, delimited=True)
    if stripped.startswith("%"):
        raise _refuse(text, "regular-expression patterns are not served")
    terms = _terms(text, stripped)
    return FilterPattern(text, lambda m: _NOTHING if terms(m) else None)


def _terms(text: str, stripped: str) -> Callable[[str], bool]:
    parts = re.findall(r'(-|\?)?("(?:[^"\\]|\\.)*"|[^\s"]+)', stripped)
    if not parts:
        raise _refuse(text, "no term")
    required: list[str] = []
    excluded: list[str] = []
    anyof: list[str] = []
    for sign, raw in parts:
        term = json.loads(raw) if raw.startswith('"') else raw
        if not term:
            raise _refuse(text, "an empty term")
        {"-": excluded, "?": anyof}.get(sign, required).append(term)
    if anyof and (required or excluded):
        raise _refuse(text, "'?' terms cannot be mixed with other terms")
    if anyof:
        return lambda m: any(t in m for t in anyof)
    return lambda m: all(t in m for t in required) and not any(t in m for t in excluded)


class _JsonParser:
    """expr := and ('||' and)* ; and := unit ('&&' unit)* ; unit := '(' expr ')' | test."""

    def __init__(self, text: str, body: str) -> None:
        self._text = text
        self._tokens: list[tuple[str, str]] = []
        pos = 0
        body = body.rstrip()
        while pos < len(body):
            found = _TOKEN.match(body, pos)
            if found is None or found.end() == pos:
                raise _refuse(text, f"unexpected text at {body[pos : pos + 16]!r}")
            kind = found.lastgroup or "word"
            self._tokens.append((kind, found.group(kind)))
            pos = found.end()
        self._at = 0
        self.paths: list[str] = []

    def parse(self) -> Callable[[Any], bool]:
        if not self._tokens:
            raise _refuse(self._text, "an empty JSON pattern")
        predicate = self._or()
        if self._at != len(self._tokens):
            raise _refuse(self._text, f"unexpected {self._tokens[self._at][1]!r}")
        return predicate

    def _peek(self) -> tuple[str, str] | None:
        return self._tokens[self._at] if self._at < len(self._tokens) else None

    def _take(self) -> tuple[str, str]:
        token = self._peek()
        if token is None:
            raise _refuse(self._text, "the pattern ends too soon")
        self._at += 1
        return token

    def _or(self) -> Callable[[Any], bool]:
        parts = [self._and()]
        while self._peek() == ("op", "||"):
            self._take()
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else (lambda d: any(p(d) for p in parts))

    def _and(self) -> Callable[[Any], bool]:
        parts = [self._unit()]
        while self._peek() == ("op", "&&"):
            self._take()
            parts.append(self._unit())
        return parts[0] if len(parts) == 1 else (lambda d: all(p(d) for p in parts))

    def _unit(self) -> Callable[[Any], bool]:
        kind, value = self._take()
        if (kind, value) == ("op", "("):
            inner = self._or()
            if self._take() != ("op", ")"):
                raise _refuse(self._text, "a '(' is not closed")
            return inner
        if kind != "path":
            raise _refuse(self._text, f"a selector ($.field) is expected, not {value!r}")
        steps = selector_steps(value)
        self.paths.append(value)
        kind, op = self._take()
        if kind == "word" and op.upper() in ("IS", "NOT", "EXISTS"):
            return self._keyword(steps, op.upper())
        if kind != "op" or op not in ("=", "!=", "<", ">", "<=", ">="):
            raise _refuse(self._text, f"an operator is expected, not {op!r}")
        kind, raw = self._take()
        if kind not in ("str", "word"):
            raise _refuse(self._text, f"a value is expected, not {raw!r}")
        return _comparison(self._text, steps, op, kind, raw)

    def _keyword(self, steps: list[str | int | None], word: str) -> Callable[[Any], bool]:
        if word == "EXISTS":
            return lambda d: any(v is not _MISSING for v in _values(d, steps))
        if word == "NOT":
            if self._take()[1].upper() != "EXISTS":
                raise _refuse(self._text, "NOT is followed by EXISTS")
            return lambda d: all(v is _MISSING for v in _values(d, steps))
        what = self._take()[1].upper()
        wanted = {"NULL": None, "TRUE": True, "FALSE": False}
        if what not in wanted:
            raise _refuse(self._text, "IS is followed by NULL, TRUE or FALSE")
        target = wanted[what]
        return lambda d: any(v is target for v in _values(d, steps))


def selector_steps(path: str) -> list[str | int | None]:
    steps: list[str | int | None] = []
    for name, index in re.findall(r"\.([^.\[]+)|\[(\d+|\*)\]", path[1:]):
        if name:
            steps.append(name)
        else:
            steps.append(None if index == "*" else int(index))
    return steps


def _values(document: Any, steps: list[str | int | None]) -> list[Any]:
    current = [document]
    for step in steps:
        following: list[Any] = []
        for value in current:
            if isinstance(step, str) and isinstance(value, dict) and step in value:
                following.append(value[step])
            elif isinstance(step, int) and isinstance(value, list) and step < len(value):
                following.append(value[step])
            elif step is None and isinstance(value, list):
                following.extend(value)
        current = following
    return current or [_MISSING]


def _comparison(
    text: str, steps: list[str | int | None], op: str, kind: str, raw: str
) -> Callable[[Any], bool]:
    if kind == "word" and _NUMBER.fullmatch(raw):
        number = float(raw)
        compare: dict[str, Callable[[float], bool]] = {
            "=": lambda v: v == number,
            "!=": lambda v: v != number,
            "<": lambda v: v < number,
            ">": lambda v: v > number,
            "<=": lambda v: v <= number,
            ">=": lambda v: v >= number,
        }
        check = compare[op]

        def numeric(d: Any) -> bool:
            return any(
                isinstance(v, int | float) and not isinstance(v, bool) and check(float(v))
                for v in _values(d, steps)
            )

        return numeric
    if op not in ("=", "!="):
        raise _refuse(text, f"{op} compares numbers only")
    string = json.loads(raw) if kind == "str" else raw
    wildcard = re.compile(".*".join(re.escape(p) for p in string.split("*")), re.DOTALL)

    def textual(v: Any) -> bool:
        if isinstance(v, bool):
            shown = "true" if v else "false"
        elif isinstance(v, str | int | float):
            shown = str(v)
        else:
            return False
        return wildcard.fullmatch(shown) is not None

    if op == "=":
        return lambda d: any(textual(v) for v in _values(d, steps) if v is not _MISSING)
    return lambda d: any(not textual(v) for v in _values(d, steps) if v is not _MISSING)
