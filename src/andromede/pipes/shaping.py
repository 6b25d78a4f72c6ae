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

**Enrichment** (decision 0268). An enrichment receives the batch's events past the filters as
one JSON array, each shaped by the enrichment's own ``InputTemplate`` (:func:`render` with
``stage="enrichment"``); its answer is read by :func:`enriched_events` into the events passed
on to the target, as AWS passes an enrichment's response: a JSON array's items, any other
JSON value as one event, none for an empty answer (``""``, ``{}``, ``[]``: the enrichment
filtered them all out).
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

__all__ = ["batch_payload", "enriched_events", "matchable", "passes", "render"]

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


def render(pipe: Pipe, event: Any, seen: Any, ingested: str, *, stage: str = "target") -> str:
    """What the target (or with ``stage="enrichment"``, the enrichment) receives of
    ``event``. An event that is no JSON object (an enrichment's answer may give any JSON
    value) is given as its text when it is a string, else as its JSON; a template reads
    object events only."""
    parameters = pipe.target_parameters if stage == "target" else pipe.enrichment_parameters
    template = parameters.get("InputTemplate")
    if template is None or not isinstance(event, dict):
        if isinstance(event, str) and stage == "target":
            return event
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


def batch_payload(rendered: Sequence[str]) -> str:
    """The JSON array an enrichment receives of a batch's rendered events (a rendering that
    is no JSON is given as a JSON string)."""
    items: list[str] = []
    for text in rendered:
        try:
            json.loads(text)
        except ValueError:
            text = json.dumps(text)
        items.append(text)
    return "[" + ",".join(items) + "]"


def enriched_events(answer: bytes) -> list[Any]:
    """The events an enrichment's answer passes on to the target."""
    text = answer.decode("utf-8", errors="replace").strip()
    if not text:
        return []
    try:
        value = json.loads(text)
    except ValueError:
        return [text]  # plain text: one event, as the target receives it
    if value in ("", {}, []):
        return []
    return list(value) if isinstance(value, list) else [value]
