"""CloudWatch Logs' space-delimited filter patterns (decision 0186, session 48 addendum):
``[ip, user, username, timestamp, request, status_code = 4*, bytes > 1000]``.

A message is split into fields at spaces, text between ``"…"`` or ``[…]`` being one field
(its quotes or brackets dropped), as AWS splits an Apache access line. A pattern names its
fields in order; ``...`` stands for any number of fields (none included). A field may carry
conditions on itself: ``=``, ``!=`` with a string (``*`` a wildcard, quoted or bare) or a
number, ``<``, ``>``, ``<=``, ``>=`` with a number, joined by ``&&`` and ``||`` (``&&``
binding first): ``status_code = 4* || status_code = 5*``. The pattern matches when the
message's fields can be laid over the pattern's with every condition true; the named
fields are then the extracted values ``$name`` (TestMetricFilter's ``extractedValues``, a
metric filter's ``$name`` selectors).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from andromede.logs.errors import InvalidParameter

__all__ = ["compile_delimited", "split_fields"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_CONDITION = re.compile(
    r"""\s*(?P<name>[A-Za-z_][A-Za-z0-9_\-]*)\s*(?P<op>!=|<=|>=|=|<|>)\s*
        (?P<value>"(?:[^"\\]|\\.)*"|[^\s"|&]+)\s*""",
    re.VERBOSE,
)
_FIELD_SPLIT = re.compile(r'"([^"]*)"|\[([^\]]*)\]|(\S+)')
ELLIPSIS: Final = "..."


def _refuse(pattern: str, why: str) -> InvalidParameter:
    return InvalidParameter(f"Invalid filter pattern {pattern[:128]!r}: {why} (decision 0186)")


def split_fields(message: str) -> list[str]:
    """The message's fields as AWS splits them: at spaces, quoted or bracketed text whole."""
    return [q if q is not None else b if b is not None else w for q, b, w in (
        (m.group(1), m.group(2), m.group(3)) for m in _FIELD_SPLIT.finditer(message)
    )]  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Slot:
    """One place of the pattern: ``...``, or a named field with its condition (or none)."""

    name: str
    check: Callable[[str], bool] | None = None

    @property
    def is_ellipsis(self) -> bool:
        return self.name == ELLIPSIS


def _comparison(pattern: str, op: str, raw: str) -> Callable[[str], bool]:
    if not raw.startswith('"') and _NUMBER.fullmatch(raw):
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

        def numeric(field: str) -> bool:
            if _NUMBER.fullmatch(field) is None:
                return op == "!="
            return check(float(field))

        return numeric
    if op not in ("=", "!="):
        raise _refuse(pattern, f"{op} compares numbers only")
    text = json.loads(raw) if raw.startswith('"') else raw
    wildcard = re.compile(".*".join(re.escape(p) for p in text.split("*")), re.DOTALL)
    if op == "=":
        return lambda field: wildcard.fullmatch(field) is not None
    return lambda field: wildcard.fullmatch(field) is None


def _slot(pattern: str, text: str) -> _Slot:
    text = text.strip()
    if text == ELLIPSIS:
        return _Slot(ELLIPSIS)
    if _NAME.fullmatch(text):
        return _Slot(text)
    name = ""
    alternatives: list[list[Callable[[str], bool]]] = [[]]
    at = 0
    while at < len(text):
        found = _CONDITION.match(text, at)
        if found is None:
            raise _refuse(pattern, f"cannot read the field {text[:64]!r}")
        if name and found.group("name") != name:
            raise _refuse(pattern, f"a field's conditions name that field, not {found['name']!r}")
        name = found.group("name")
        alternatives[-1].append(_comparison(pattern, found.group("op"), found.group("value")))
        at = found.end()
        if at >= len(text):
            break
        if text.startswith("&&", at):
            at += 2
        elif text.startswith("||", at):
            at += 2
            alternatives.append([])
        else:
            raise _refuse(pattern, f"'&&' or '||' expected in {text[:64]!r}")
        if at >= len(text.rstrip()):
            raise _refuse(pattern, f"a condition is missing in {text[:64]!r}")

    def check(field: str) -> bool:
        return any(all(c(field) for c in group) for group in alternatives)

    return _Slot(name, check)


def _split_slots(pattern: str, body: str) -> list[str]:
    """The pattern's places at commas outside quotes."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in body:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    if quoted:
        raise _refuse(pattern, "a quoted value is not closed")
    parts.append("".join(current))
    if any(not p.strip() for p in parts):
        raise _refuse(pattern, "an empty field")
    return parts


def compile_delimited(pattern: str, stripped: str) -> Callable[[str], dict[str, str] | None]:
    """The matcher of ``[ … ]``: the named fields' values (``$name``) when it matches."""
    if not stripped.endswith("]"):
        raise _refuse(pattern, "a space-delimited pattern ends with ']'")
    slots = [_slot(pattern, part) for part in _split_slots(pattern, stripped[1:-1])]
    names = [s.name for s in slots if not s.is_ellipsis]
    if len(set(names)) != len(names):
        raise _refuse(pattern, "a field is named twice")

    def match(message: str) -> dict[str, str] | None:
        fields = split_fields(message)
        laid = _lay(slots, fields, 0, 0, {})
        return None if laid is None else {f"${k}": v for k, v in laid.items()}

    return match


def _lay(
    slots: list[_Slot], fields: list[str], s: int, f: int, taken: dict[str, str]
) -> dict[str, str] | None:
    """Lay ``fields[f:]`` over ``slots[s:]``; an ellipsis takes as few fields as it can."""
    while s < len(slots) and not slots[s].is_ellipsis:
        if f >= len(fields):
            return None
        slot = slots[s]
        if slot.check is not None and not slot.check(fields[f]):
            return None
        taken = {**taken, slot.name: fields[f]}
        s, f = s + 1, f + 1
    if s == len(slots):
        return taken if f == len(fields) else None
    rest = sum(1 for slot in slots[s + 1 :] if not slot.is_ellipsis)
    for skip in range(len(fields) - f - rest + 1):
        laid = _lay(slots, fields, s + 1, f + skip, taken)
        if laid is not None:
            return laid
    return None
