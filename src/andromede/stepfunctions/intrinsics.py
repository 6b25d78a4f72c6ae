"""The Amazon States Language's intrinsic functions (decision 0271): a call such as
``States.Format('Hello, {}', $.name)`` parsed (string literals in single quotes with ``\\'``,
``\\{``, ``\\}`` and ``\\\\`` escapes, numbers, ``null``/``true``/``false``, paths into the
input, the context or a workflow variable (``$name``, decision 0329), nested calls) and
evaluated. A function's misuse is
:class:`IntrinsicFailure` (AWS's ``States.IntrinsicFailure``)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import random
import uuid
from collections.abc import Callable
from typing import Any, Final

from andromede.stepfunctions import variables
from andromede.stepfunctions.jsonpath import PathMissing, read_path

__all__ = ["IntrinsicFailure", "evaluate_intrinsic", "is_intrinsic"]

_MAX_ARRAY: Final = 1000  # AWS: ArrayRange makes at most 1,000 items
_HASHES: Final = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384",
                  "SHA-512": "sha512"}  # fmt: skip


class IntrinsicFailure(Exception):
    pass


class _Literal(str):
    """A string literal as written, its escapes kept: Format reads ``\\{`` as a brace, not a
    placeholder; every other use reads it unescaped."""

    __slots__ = ()


def is_intrinsic(text: Any) -> bool:
    return isinstance(text, str) and text.startswith("States.") and text.rstrip().endswith(")")


class _Parser:
    def __init__(self, text: str, data: Any, context: Any) -> None:
        self.text = text
        self.at = 0
        self.data = data
        self.context = context

    def fail(self, why: str) -> IntrinsicFailure:
        return IntrinsicFailure(f"Invalid intrinsic function {self.text[:256]!r}: {why}")

    def skip(self) -> None:
        while self.at < len(self.text) and self.text[self.at] == " ":
            self.at += 1

    def call(self) -> Any:
        self.skip()
        start = self.at
        while self.at < len(self.text) and (self.text[self.at].isalnum() or
                                            self.text[self.at] == "."):  # fmt: skip
            self.at += 1
        name = self.text[start : self.at]
        if not name.startswith("States.") or self.text[self.at : self.at + 1] != "(":
            raise self.fail("expected a function call")
        self.at += 1
        args: list[Any] = []
        self.skip()
        if self.text[self.at : self.at + 1] == ")":
            self.at += 1
        else:
            while True:
                args.append(self.argument())
                self.skip()
                sep = self.text[self.at : self.at + 1]
                self.at += 1
                if sep == ")":
                    break
                if sep != ",":
                    raise self.fail("expected , or )")
        function = _FUNCTIONS.get(name)
        if function is None:
            raise self.fail(f"unknown function {name}")
        if name != "States.Format":
            args = [_plain(a) for a in args]
        return function(args)

    def argument(self) -> Any:
        self.skip()
        char = self.text[self.at : self.at + 1]
        if char == "'":
            return self.string()
        if char == "$":
            start = self.at
            depth = 0
            while self.at < len(self.text):
                c = self.text[self.at]
                if c == "[":
                    depth += 1
                elif c == "]":
                    depth -= 1
                elif depth == 0 and c in ",) ":
                    break
                self.at += 1
            path = self.text[start : self.at]
            try:
                if path.startswith("$$"):
                    return read_path(self.context, path[1:])
                if variables.is_reference(path):  # a workflow variable (decision 0329)
                    return variables.read_reference(path)
                return read_path(self.data, path)
            except PathMissing as exc:
                raise IntrinsicFailure(str(exc)) from exc
        if self.text.startswith("States.", self.at):
            return self.call()
        start = self.at
        while self.at < len(self.text) and self.text[self.at] not in ",) ":
            self.at += 1
        literal = self.text[start : self.at]
        try:
            return json.loads(literal)
        except ValueError:
            raise self.fail(f"invalid argument {literal[:64]!r}") from None

    def string(self) -> _Literal:
        self.at += 1
        out: list[str] = []
        while self.at < len(self.text):
            c = self.text[self.at]
            if c == "\\" and self.at + 1 < len(self.text):
                out.append("\\" + self.text[self.at + 1])  # kept for Format's braces
                self.at += 2
                continue
            if c == "'":
                self.at += 1
                return _Literal("".join(out))
            out.append(c)
            self.at += 1
        raise self.fail("unterminated string")


def _plain(value: Any) -> Any:
    return _unescape(value) if isinstance(value, _Literal) else value


def _unescape(text: str) -> str:
    out, at = [], 0
    while at < len(text):
        if text[at] == "\\" and at + 1 < len(text):
            out.append(text[at + 1])
            at += 2
        else:
            out.append(text[at])
            at += 1
    return "".join(out)


def evaluate_intrinsic(text: str, data: Any, context: Any) -> Any:
    parser = _Parser(text, data, context)
    value = parser.call()
    parser.skip()
    if parser.at != len(text):
        raise parser.fail("unexpected text after the call")
    return value


def _count(args: list[Any], least: int, most: int | None = None) -> list[Any]:
    if len(args) < least or (most is not None and len(args) > most):
        raise IntrinsicFailure(f"Wrong number of arguments: {len(args)}")
    return args


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise IntrinsicFailure("An argument must be a string")
    return value


def _int(value: Any) -> int:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise IntrinsicFailure("An argument must be an integer")
    return value


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise IntrinsicFailure("An argument must be an array")
    return value


def _format(args: list[Any]) -> str:
    _count(args, 1)
    template = args[0]
    if not isinstance(template, str):
        raise IntrinsicFailure("The template must be a string")
    out, at, used = [], 0, 1
    while at < len(template):
        if template[at] == "\\" and at + 1 < len(template):
            out.append(template[at + 1])
            at += 2
        elif template.startswith("{}", at):
            if used >= len(args):
                raise IntrinsicFailure("Not enough arguments for the template's placeholders")
            value = _plain(args[used])
            out.append(value if isinstance(value, str) else json.dumps(value))
            used += 1
            at += 2
        else:
            out.append(template[at])
            at += 1
    if used != len(args):
        raise IntrinsicFailure("More arguments than the template's placeholders")
    return "".join(out)


def _string_to_json(args: list[Any]) -> Any:
    _count(args, 1, 1)
    try:
        return json.loads(_str(args[0]))
    except ValueError as exc:
        raise IntrinsicFailure("The string is not JSON") from exc


def _partition(args: list[Any]) -> list[Any]:
    _count(args, 2, 2)
    items, size = _list(args[0]), _int(args[1])
    if size <= 0:
        raise IntrinsicFailure("The chunk size must be positive")
    return [items[i : i + size] for i in range(0, len(items), size)]


def _range(args: list[Any]) -> list[int]:
    _count(args, 3, 3)
    start, end, step = (_int(a) for a in args)
    if step == 0:
        raise IntrinsicFailure("The step must not be 0")
    made = list(range(start, end + (1 if step > 0 else -1), step))
    if len(made) > _MAX_ARRAY:
        raise IntrinsicFailure(f"ArrayRange may make at most {_MAX_ARRAY} items")
    return made


def _get_item(args: list[Any]) -> Any:
    _count(args, 2, 2)
    items, index = _list(args[0]), _int(args[1])
    if not 0 <= index < len(items):
        raise IntrinsicFailure("The index is out of the array's bounds")
    return items[index]


def _unique(args: list[Any]) -> list[Any]:
    _count(args, 1, 1)
    kept: list[Any] = []
    for item in _list(args[0]):
        if item not in kept:
            kept.append(item)
    return kept


def _b64decode(args: list[Any]) -> str:
    _count(args, 1, 1)
    try:
        return base64.b64decode(_str(args[0]), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise IntrinsicFailure("The string is not base64 of UTF-8 text") from exc


def _hash(args: list[Any]) -> str:
    _count(args, 2, 2)
    algorithm = _HASHES.get(_str(args[1]))
    if algorithm is None:
        raise IntrinsicFailure(f"The algorithm must be one of {', '.join(_HASHES)}")
    data = args[0] if isinstance(args[0], str) else json.dumps(args[0])
    return hashlib.new(algorithm, data.encode()).hexdigest()


def _merge(args: list[Any]) -> dict[str, Any]:
    _count(args, 3, 3)
    left, right, deep = args
    if not isinstance(left, dict) or not isinstance(right, dict):
        raise IntrinsicFailure("JsonMerge merges two objects")
    if deep is not False:
        raise IntrinsicFailure("JsonMerge serves the shallow merge only (its third argument false)")
    return {**left, **right}


def _random(args: list[Any]) -> int:
    _count(args, 2, 3)
    start, end = _int(args[0]), _int(args[1])
    if start > end:
        raise IntrinsicFailure("The start must not be above the end")
    made = random.Random(_int(args[2])) if len(args) == 3 else random.SystemRandom()  # noqa: S311
    return made.randint(start, end)


def _split(args: list[Any]) -> list[str]:
    _count(args, 2, 2)
    text, delimiters = _str(args[0]), _str(args[1])
    parts = [text]
    for delimiter in delimiters:
        parts = [piece for part in parts for piece in part.split(delimiter)]
    return [p for p in parts if p]


_FUNCTIONS: Final[dict[str, Callable[[list[Any]], Any]]] = {
    "States.Format": _format,
    "States.StringToJson": _string_to_json,
    "States.JsonToString": lambda a: json.dumps(_count(a, 1, 1)[0], separators=(",", ":")),
    "States.Array": list,
    "States.ArrayPartition": _partition,
    "States.ArrayContains": lambda a: _count(a, 2, 2)[1] in _list(a[0]),
    "States.ArrayRange": _range,
    "States.ArrayGetItem": _get_item,
    "States.ArrayLength": lambda a: len(_list(_count(a, 1, 1)[0])),
    "States.ArrayUnique": _unique,
    "States.Base64Encode": lambda a: base64.b64encode(_str(_count(a, 1, 1)[0]).encode()).decode(),
    "States.Base64Decode": _b64decode,
    "States.Hash": _hash,
    "States.JsonMerge": _merge,
    "States.MathRandom": _random,
    "States.MathAdd": lambda a: _int(_count(a, 2, 2)[0]) + _int(a[1]),
    "States.StringSplit": _split,
    "States.UUID": lambda a: str(uuid.uuid4()) if not _count(a, 0, 0) else "",
}
