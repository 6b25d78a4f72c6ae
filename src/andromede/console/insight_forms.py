"""The Contributor Insights rule form (decision 0279): its fields read into the rule definition
CloudWatch takes (AWS's "Contributor Insights rule syntax", decision 0272). Pure: no I/O.

The log groups are the account's, ticked (``log_group:<name>``), and any other names or prefixes
(a trailing ``*``) typed one a line; the keys one a line; the value summed (``ValueOf``) when
given; the filters a JSON array as typed; a CLF rule's fields ``position=name`` one a line. A
rule's definition is read back into the same fields (``fields_of``) for its edit, which
PutInsightRule makes under the same name. What the form does not refuse — a path, a criterion,
too many keys or groups, a position that is no number — is sent as typed: CloudWatch checks the
definition and says what is wrong in its words.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from typing import Any, Final

from andromede.console.handlers import FormFault

__all__ = [
    "AGGREGATIONS",
    "GROUP_FIELD",
    "LOG_FORMATS",
    "STATES",
    "definition_of",
    "fields_of",
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
    groups += [name for name in _lines(fields.get("more_groups", "")) if name not in groups]
    if not groups:
        raise FormFault(_("Tick or name at least one log group."))
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


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def fields_of(definition: str, account_groups: Collection[str]) -> dict[str, str]:
    """The form's fields for a rule's ``definition`` (its edit): the account's groups it names
    ticked, its other names and prefixes typed. A definition that is no JSON object (or names
    ``LogGroupARNs``, which the form does not make) gives what it can."""
    try:
        document = json.loads(definition)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        return {}
    contribution = document.get("Contribution")
    contribution = contribution if isinstance(contribution, dict) else {}
    named = document.get("LogGroupNames")
    groups = [_text(n) for n in named] if isinstance(named, list) else []
    keys = contribution.get("Keys")
    fields_shown = document.get("Fields")
    filters = contribution.get("Filters")
    fields = {
        "log_format": _text(document.get("LogFormat", "JSON")),
        "aggregate_on": _text(document.get("AggregateOn", "Count")),
        "keys": "\n".join(_text(k) for k in keys) if isinstance(keys, list) else "",
        "value_of": _text(contribution.get("ValueOf", "")),
        "filters": json.dumps(filters) if filters else "",
        "clf_fields": "\n".join(f"{p}={_text(n)}" for p, n in fields_shown.items())
        if isinstance(fields_shown, dict)
        else "",
        "more_groups": "\n".join(g for g in groups if g not in account_groups),
    }
    fields.update({f"{GROUP_FIELD}{g}": "yes" for g in groups if g in account_groups})
    return fields
