"""The JSONPath of the Amazon States Language (decision 0271): reading a path of a state's
input or of the context object (``$$``), and writing a reference path (``ResultPath``).

Served: ``$``, ``.name``, ``['name']``, ``[n]`` (negative from the end), ``[*]`` and ``.*``,
slices ``[a:b]``, ``..name`` (every descendant's), and filters ``[?(@.f <op> literal)]`` with
``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=`` (or ``[?(@.f)]``, present). A path with a
wildcard, slice, descendant or filter answers a list; a definite one its value. A path that
selects nothing of a definite document is :class:`PathMissing` (AWS's ``States.Runtime``)."""

from __future__ import annotations

import copy
import itertools
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

__all__ = ["PathMissing", "is_definite", "read_path", "write_path"]

_NAME: Final = re.compile(r"[A-Za-z0-9_$\-]+|[^\x00-\x7f]+")
_FILTER: Final = re.compile(r"\?\(@((?:\.[A-Za-z0-9_\-]+)+)\s*(?:(==|!=|<=|>=|<|>)\s*(.+))?\)")


class PathMissing(Exception):
    """The path selects nothing of the document, or is no path this interpreter reads."""


@dataclass(frozen=True, slots=True)
class _Step:
    kind: str  # key, index, wild, slice, descend, filter
    key: str = ""
    index: int = 0
    stop: int | None = None
    field: tuple[str, ...] = ()
    op: str = ""
    literal: Any = None


@lru_cache(maxsize=512)
def _parse(path: str) -> tuple[_Step, ...]:
    if not path.startswith("$"):
        raise PathMissing(f"The path {path[:256]!r} does not start with $")
    steps: list[_Step] = []
    at = 1
    while at < len(path):
        if path.startswith("..", at):
            match = _NAME.match(path, at + 2)
            if match is None:
                raise PathMissing(f"Invalid path {path[:256]!r}")
            steps.append(_Step("descend", key=match.group()))
            at = match.end()
        elif path[at] == ".":
            if path.startswith(".*", at):
                steps.append(_Step("wild"))
                at += 2
                continue
            match = _NAME.match(path, at + 1)
            if match is None:
                raise PathMissing(f"Invalid path {path[:256]!r}")
            steps.append(_Step("key", key=match.group()))
            at = match.end()
        elif path[at] == "[":
            close = path.find("]", at)
            if close < 0:
                raise PathMissing(f"Invalid path {path[:256]!r}")
            steps.append(_bracket(path[at + 1 : close].strip(), path))
            at = close + 1
        else:
            raise PathMissing(f"Invalid path {path[:256]!r}")
    return tuple(steps)


def _bracket(inner: str, path: str) -> _Step:
    if inner == "*":
        return _Step("wild")
    if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
        return _Step("key", key=inner[1:-1])
    if re.fullmatch(r"-?\d+", inner):
        return _Step("index", index=int(inner))
    slice_ = re.fullmatch(r"(-?\d*):(-?\d*)", inner)
    if slice_:
        start, stop = slice_.groups()
        return _Step("slice", index=int(start or 0), stop=int(stop) if stop else None)
    matched = _FILTER.fullmatch(inner)
    if matched:
        fields, op, literal = matched.groups()
        value = None
        if op is not None:
            try:
                value = json.loads(literal.strip().replace("'", '"'))
            except ValueError as exc:
                raise PathMissing(f"Invalid filter in {path[:256]!r}") from exc
        return _Step("filter", field=tuple(fields[1:].split(".")), op=op or "", literal=value)
    raise PathMissing(f"Invalid path {path[:256]!r}")


def is_definite(path: str) -> bool:
    return all(step.kind in ("key", "index") for step in _parse(path))


def _compare(value: Any, op: str, literal: Any) -> bool:
    if op == "":
        return True
    if op == "==":
        return bool(value == literal)
    if op == "!=":
        return bool(value != literal)
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (value, literal))
    strings = isinstance(value, str) and isinstance(literal, str)
    if not (numbers or strings):
        return False
    return bool({"<": value < literal, "<=": value <= literal, ">": value > literal,
                 ">=": value >= literal}[op])  # fmt: skip


def _descend(node: Any, key: str) -> list[Any]:
    found: list[Any] = []
    if isinstance(node, dict):
        if key in node:
            found.append(node[key])
        for child in node.values():
            found += _descend(child, key)
    elif isinstance(node, list):
        for child in node:
            found += _descend(child, key)
    return found


def _apply(step: _Step, node: Any) -> list[Any]:
    if step.kind == "key":
        return [node[step.key]] if isinstance(node, dict) and step.key in node else []
    if step.kind == "index":
        if isinstance(node, list) and -len(node) <= step.index < len(node):
            return [node[step.index]]
        return []
    if step.kind == "wild":
        return (
            list(node.values())
            if isinstance(node, dict)
            else list(node)
            if isinstance(node, list)
            else []
        )
    if step.kind == "slice":
        return list(node[step.index : step.stop]) if isinstance(node, list) else []
    if step.kind == "descend":
        return _descend(node, step.key)
    items = (
        node if isinstance(node, list) else list(node.values()) if isinstance(node, dict) else []
    )
    kept = []
    for item in items:
        value: Any = item
        present = True
        for name in step.field:
            if isinstance(value, dict) and name in value:
                value = value[name]
            else:
                present = False
                break
        if present and _compare(value, step.op, step.literal):
            kept.append(item)
    return kept


def read_path(document: Any, path: str) -> Any:
    """The value ``path`` selects of ``document`` (a list for an indefinite path)."""
    steps = _parse(path)
    nodes = [document]
    for step in steps:
        nodes = [found for node in nodes for found in _apply(step, node)]
    if all(step.kind in ("key", "index") for step in steps):
        if not nodes:
            raise PathMissing(f"The path {path[:256]!r} could not be found in the input")
        return nodes[0]
    return nodes


def write_path(document: Any, path: str, value: Any) -> Any:
    """``document`` with ``value`` at the reference path ``path`` (``$``: the value itself),
    the objects on the way made as needed; the document itself is not changed."""
    steps = _parse(path)
    if not steps:
        return value
    if any(step.kind not in ("key", "index") for step in steps):
        raise PathMissing(f"The path {path[:256]!r} is no reference path")
    root = copy.deepcopy(document)
    if not isinstance(root, dict) and steps[0].kind == "key":
        raise PathMissing(f"Unable to apply ResultPath {path[:256]!r} to a non-object input")
    node = root
    for step, following in itertools.pairwise(steps):
        node = _child(node, step, following, path)
    last = steps[-1]
    if last.kind == "key" and isinstance(node, dict):
        node[last.key] = value
    elif last.kind == "index" and isinstance(node, list) and -len(node) <= last.index < len(node):
        node[last.index] = value
    else:
        raise PathMissing(f"Unable to apply ResultPath {path[:256]!r}")
    return root


def _child(node: Any, step: _Step, following: _Step, path: str) -> Any:
    if step.kind == "key" and isinstance(node, dict):
        if not isinstance(node.get(step.key), dict | list):
            node[step.key] = {} if following.kind == "key" else []
        return node[step.key]
    if step.kind == "index" and isinstance(node, list) and -len(node) <= step.index < len(node):
        return node[step.index]
    raise PathMissing(f"Unable to apply ResultPath {path[:256]!r}")
