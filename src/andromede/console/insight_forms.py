"""The Contributor Insights rule form (decision 0279): its fields read into the rule definition
CloudWatch takes (AWS's "Contributor Insights rule syntax", decision 0272). Pure: no I/O.

The log groups are the account's, ticked (``log_group:<name>``); the keys one a line; the
value summed (``ValueOf``) when given; the filters a JSON array as typed; a CLF rule's fields
``position=name`` one a line. What the form does not refuse — a path, a criterion, too many
keys or groups, a position that is no number — is sent as typed: CloudWatch checks the
definition and says what is wrong in its words.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Final

from andromede.console.handlers import FormFault

__all__ = [
    "AGGREGATIONS",
    "GROUP_FIELD",
    "LOG_FORMATS",
    "STATES",
    "definition_of",
    "ticked_groups",
]

LOG_FORMATS: Final = ("JSON", "CLF")
AGGREGATIONS: Final = ("Count", "Sum")
STATES: Final = ("ENABLED", "DISABLED")
GROUP_FIELD: Final = "log_group:"  # a ticked group's box: ``log_group:<name>`` = yes


def ticked_groups(fields: Mapping[str, str]) -> list[str]:
    """The log groups ticked, in the form's order."""
    return [
        key.removeprefix(GROUP_FIELD)
        for key, value in fields.items()
        if key.startswith(GROUP_FIELD) and value == "yes"
    ]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _clf_fields(text: str) -> dict[str, str]:
    """``4=IpAddress`` one a line: position to name (CloudWatch checks the positions)."""
    named: dict[str, str] = {}
    for line in _lines(text):
        position, _, name = line.partition("=")
        named[position.strip()] = name.strip()
    return named


def definition_of(fields: Mapping[str, str], _: Callable[[str], str]) -> str:
    """The rule definition (JSON text) the form describes."""
    groups = ticked_groups(fields)
    if not groups:
        raise FormFault(_("Tick at least one log group."))
    log_format = fields.get("log_format", "JSON")
    contribution: dict[str, Any] = {"Keys": _lines(fields.get("keys", ""))}
    if value_of := fields.get("value_of", "").strip():
        contribution["ValueOf"] = value_of
    if typed_filters := fields.get("filters", "").strip():
        try:
            filters = json.loads(typed_filters)
        except ValueError:
            filters = None
        if not isinstance(filters, list):
            raise FormFault(_("Give the filters as a JSON array of objects."))
        contribution["Filters"] = filters
    definition: dict[str, Any] = {
        "Schema": {"Name": "CloudWatchLogRule", "Version": 1},
        "LogGroupNames": groups,
        "LogFormat": log_format,
    }
    if log_format == "CLF" and (named := _clf_fields(fields.get("clf_fields", ""))):
        definition["Fields"] = named
    definition["Contribution"] = contribution
    definition["AggregateOn"] = fields.get("aggregate_on", "Count")
    return json.dumps(definition)
