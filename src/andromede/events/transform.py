"""What a target receives of a matched event (decision 0192): the whole event, a constant
``Input``, the part an ``InputPath`` names, or an ``InputTransformer``'s template filled from
its ``InputPathsMap``.

Paths are the JSONPath subset EventBridge documents: ``$``, then ``.name``, ``['name']`` or
``[index]`` steps. The template's ``<name>`` placeholders are filled as EventBridge fills
them: a string value is written as its text (escaped for JSON when the template is JSON, so
the result stays valid JSON; within a JSON template but outside its string literals, as
``{"state": <state>}``, as a JSON string, quotes and all, as AWS's examples show), any other
value as its JSON; a path the event does not have gives nothing in a text template and
``null`` in a JSON one. ``<aws.events.rule-arn>``,
``<aws.events.rule-name>``, ``<aws.events.event.ingestion-time>``, ``<aws.events.event>`` and
``<aws.events.event.json>`` are predefined.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

from andromede.events.errors import ValidationError

__all__ = ["check_path", "check_transformer", "is_missing", "read_path", "render_input"]

_MISSING: Final = object()
_STEP: Final = re.compile(
    r"\.(?P<name>[^.\[\]]+)|\[(?P<index>\d+)\]|\[(?P<quote>['\"])(?P<key>.*?)(?P=quote)\]"
)
_PLACEHOLDER: Final = re.compile(r"<([A-Za-z0-9_.\-]+)>")
_KEY: Final = re.compile(r"[A-Za-z0-9_\-]{1,256}")


def _steps(path: str) -> list[str | int]:
    if not path.startswith("$"):
        raise ValidationError(f"Invalid InputPath: {path[:256]} (it must start with $)")
    steps: list[str | int] = []
    index = 1
    while index < len(path):
        found = _STEP.match(path, index)
        if found is None:
            raise ValidationError(f"Invalid JSON path: {path[:256]}")
        if found["name"] is not None:
            steps.append(found["name"])
        elif found["index"] is not None:
            steps.append(int(found["index"]))
        else:
            steps.append(found["key"])
        index = found.end()
    return steps


def check_path(path: str, *, max_length: int = 256) -> str:
    if not path or len(path) > max_length:
        raise ValidationError(f"A JSON path must be 1 to {max_length} characters.")
    _steps(path)
    return path


def read_path(document: Any, path: str) -> Any:
    """The value at ``path``, or a marker that :func:`is_missing` tells apart."""
    value = document
    for step in _steps(path):
        if isinstance(step, int) and isinstance(value, list) and step < len(value):
            value = value[step]
        elif isinstance(step, str) and isinstance(value, dict) and step in value:
            value = value[step]
        else:
            return _MISSING
    return value


def is_missing(value: Any) -> bool:
    return value is _MISSING


def check_transformer(
    transformer: Mapping[str, Any], *, max_paths: int = 100, max_template: int = 8192
) -> None:
    """ValidationError unless ``transformer`` is an InputTransformer EventBridge would take."""
    template = transformer.get("InputTemplate")
    if not isinstance(template, str) or not template or len(template) > max_template:
        raise ValidationError(f"InputTemplate must be 1 to {max_template} characters.")
    paths = transformer.get("InputPathsMap") or {}
    if not isinstance(paths, dict):
        raise ValidationError("InputPathsMap must be a map of names to JSON paths.")
    if len(paths) > max_paths:
        raise ValidationError(f"InputPathsMap may hold at most {max_paths} entries.")
    for name, path in paths.items():
        if not _KEY.fullmatch(name) or name.startswith("aws."):
            raise ValidationError(f"InputPathsMap key {name[:256]!r} is not valid.")
        if not isinstance(path, str):
            raise ValidationError(f"InputPathsMap value of {name} must be a JSON path.")
        check_path(path)


def _quoted_spans(template: str) -> list[tuple[int, int]]:
    """The (opening, closing) offsets of a JSON template's string literals."""
    spans: list[tuple[int, int]] = []
    start: int | None = None
    index = 0
    while index < len(template):
        char = template[index]
        if start is not None and char == "\\":
            index += 2
            continue
        if char == '"':
            if start is None:
                start = index
            else:
                spans.append((start, index))
                start = None
        index += 1
    if start is not None:
        spans.append((start, len(template)))
    return spans


def render_input(
    event: dict[str, Any],
    *,
    constant: str | None,
    input_path: str | None,
    transformer: Mapping[str, Any] | None,
    rule_arn: str,
    rule_name: str,
) -> str:
    """The message a target receives for ``event``."""
    if constant is not None:
        return constant
    if input_path is not None:
        value = read_path(event, input_path)
        return "" if is_missing(value) else json.dumps(value, separators=(",", ":"))
    if transformer is None:
        return json.dumps(event, separators=(",", ":"))
    template: str = transformer["InputTemplate"]
    as_json = template.lstrip()[:1] in ("{", "[", '"')
    values: dict[str, Any] = {
        name: read_path(event, path)
        for name, path in (transformer.get("InputPathsMap") or {}).items()
    }
    values["aws.events.rule-arn"] = rule_arn
    values["aws.events.rule-name"] = rule_name
    values["aws.events.event.ingestion-time"] = event.get("time", "")
    values["aws.events.event"] = event
    values["aws.events.event.json"] = event

    quoted = _quoted_spans(template) if as_json else []

    def fill(found: re.Match[str]) -> str:
        name = found[1]
        if name not in values:
            return found[0]  # not a placeholder of this transformer: left as written
        value = values[name]
        if is_missing(value):
            return "null" if as_json else ""
        if isinstance(value, str):
            if not as_json:
                return value
            # Within a JSON string literal a string goes between the template's own quotes;
            # outside, it is a JSON string of its own.
            inside = any(start < found.start() < end for start, end in quoted)
            return json.dumps(value)[1:-1] if inside else json.dumps(value)
        return json.dumps(value, separators=(",", ":"))

    return _PLACEHOLDER.sub(fill, template)
