"""What a pipe does to each event between its source and its target (decision 0258): its
``FilterCriteria`` (EventBridge's own pattern matcher, ``events.pattern``, on the event as
the source gives it, an SQS message's ``body`` and a Kinesis record's ``data`` read as JSON
when they are) and its ``InputTemplate`` (EventBridge's input transformer,
``events.transform``).

A template's placeholders are JSON paths into the event (``<$.body.orderId>``) or the
predefined ``<aws.pipes.pipe-arn>``, ``<aws.pipes.pipe-name>``, ``<aws.pipes.source-arn>``,
``<aws.pipes.target-arn>``, ``<aws.pipes.event.ingestion-time>``, ``<aws.pipes.event>`` and
``<aws.pipes.event.json>``; they are filled as EventBridge fills its transformer's (a string
as its text, escaped when the template is JSON; any other value as its JSON). Without a
template the target receives the event as the source gave it, as compact JSON.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Sequence
from typing import Any, Final

from andromede.events.pattern import EventPattern
from andromede.events.transform import render_input
from andromede.pipes.model import Pipe

__all__ = ["matchable", "passes", "render"]

_PATH_PLACEHOLDER: Final = re.compile(r"<(\$(?:\.[^<>\s]+|\[[^<>\s]+\])*)>")


def _json_object(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, dict | list) else text


def matchable(event: dict[str, Any]) -> dict[str, Any]:
    """The event as filters and templates see it: an SQS ``body`` or a Kinesis record's
    ``data`` (base64) that is JSON read as JSON, as AWS's filtering does."""
    seen = dict(event)
    if "body" in seen:
        seen["body"] = _json_object(seen["body"])
    if "data" in seen and isinstance(seen["data"], str):
        try:
            decoded = base64.b64decode(seen["data"], validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return seen
        parsed = _json_object(decoded)
        if parsed is not decoded:
            seen["data"] = parsed
    return seen


def passes(filters: Sequence[EventPattern], seen: dict[str, Any]) -> bool:
    """Whether an event passes the pipe's filters (any one; none: every event)."""
    return not filters or any(f.matches(seen) for f in filters)


def render(pipe: Pipe, event: dict[str, Any], seen: dict[str, Any], ingested: str) -> str:
    """What the target receives of ``event``."""
    template = pipe.target_parameters.get("InputTemplate")
    if template is None:
        return json.dumps(event, separators=(",", ":"))
    paths: dict[str, str] = {}

    def named(found: re.Match[str]) -> str:
        name = f"pipes-path-{len(paths)}"
        paths[name] = found[1]
        return f"<{name}>"

    # The predefined names map onto the transformer's own; the ARNs are plain text.
    text = _PATH_PLACEHOLDER.sub(named, template)
    for placeholder, value in (
        ("<aws.pipes.pipe-arn>", "<aws.events.rule-arn>"),
        ("<aws.pipes.pipe-name>", "<aws.events.rule-name>"),
        ("<aws.pipes.event.json>", "<aws.events.event.json>"),
        ("<aws.pipes.event>", "<aws.events.event>"),
        ("<aws.pipes.source-arn>", pipe.source),
        ("<aws.pipes.target-arn>", pipe.target),
        ("<aws.pipes.event.ingestion-time>", ingested),
    ):
        text = text.replace(placeholder, value)
    return render_input(
        seen,
        constant=None,
        input_path=None,
        transformer={"InputTemplate": text, "InputPathsMap": paths},
        rule_arn=pipe.arn,
        rule_name=pipe.name,
    )
