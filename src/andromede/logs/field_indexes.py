"""CloudWatch Logs' field index policies (decision 0232): a group's (PutIndexPolicy) and the
account's (PutAccountPolicy of ``FIELD_INDEX_POLICY``), their documents and the account
policies' selection criteria checked as AWS checks them, and which policy applies to a
group. Pure: no I/O here; ``logs.index_policies`` keeps them.

**Kept and described, not indexed.** AWS builds indexes so that Logs Insights queries naming
an indexed field scan fewer events: a saving in cost and time, never in results. Here every
query scans the events in its range whatever the policies (its results are the same), so the
policies are kept and answered, and nothing else changes; Logs Insights' ``filterIndex``
command, which *restricts* a query to indexed events, is still refused.

A document is a JSON object of ``Fields`` (names) and/or ``FieldsV2`` (name to
``{"type": "FIELD_INDEX" | "FACET"}``), the two disjoint, at least one field, at most 20
fields of at most 100 characters. An account policy's selection criteria is
``LogGroupNamePrefix IN ["a", "b"]`` (none: every group); ``DataSourceName`` criteria name
data sources not served here."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any, Final

from andromede.logs.errors import InvalidParameter

__all__ = [
    "MAX_FIELDS",
    "MAX_PREFIXES",
    "check_index_document",
    "check_prefix_selection",
    "matching_prefix",
    "overlapping",
]

MAX_FIELDS: Final = 20
MAX_FIELD_NAME: Final = 100
MAX_DOCUMENT: Final = 51_200  # PutIndexPolicy's policyDocument bound (botocore's model)
MAX_PREFIXES: Final = 20  # of one selection: ours, the bound of the account's policies too
MAX_SELECTION_BYTES: Final = 25 * 1024
_FIELD_TYPES: Final = ("FIELD_INDEX", "FACET")
_SELECTION = re.compile(r"\s*LogGroupNamePrefix\s+IN\s*(\[.*\])\s*", re.DOTALL)


def _invalid(why: str) -> InvalidParameter:
    return InvalidParameter(f"Invalid index policy document: {why}")


def _field_name(name: object) -> str:
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_FIELD_NAME:
        raise _invalid(f"a field name is a string of 1 to {MAX_FIELD_NAME} characters")
    return name


def check_index_document(document: object, max_length: int = MAX_DOCUMENT) -> str:
    """The document as it was put, once checked."""
    if not isinstance(document, str) or not 1 <= len(document) <= max_length:
        raise InvalidParameter(
            "1 validation error detected: Value at 'policyDocument' failed to satisfy "
            f"constraint: Member must have length between 1 and {max_length}"
        )
    try:
        parsed: Any = json.loads(document)
    except ValueError:
        raise _invalid("it is not JSON") from None
    if not isinstance(parsed, dict):
        raise _invalid("it must be a JSON object")
    unknown = sorted(set(parsed) - {"Fields", "FieldsV2"})
    if unknown:
        raise _invalid(f"unknown field {unknown[0][:64]!r}: Fields and FieldsV2 only")
    fields = parsed.get("Fields", [])
    typed = parsed.get("FieldsV2", {})
    if not isinstance(fields, list) or not isinstance(typed, dict):
        raise _invalid("Fields is a list of names, FieldsV2 an object of names")
    names = [_field_name(n) for n in fields]
    for name, spec in typed.items():
        _field_name(name)
        if not isinstance(spec, dict) or set(spec) != {"type"} or spec["type"] not in _FIELD_TYPES:
            raise _invalid(f'FieldsV2 {name[:100]!r} must be {{"type": "FIELD_INDEX" | "FACET"}}')
    if set(names) & set(typed):
        raise _invalid("a field is named in both Fields and FieldsV2")
    count = len(set(names)) + len(typed)
    if count == 0:
        raise _invalid("it must name at least one field")
    if count > MAX_FIELDS:
        raise _invalid(f"a policy can have at most {MAX_FIELDS} fields ({count} given)")
    return document


def check_prefix_selection(selection: object) -> tuple[str, ...] | None:
    """The prefixes of ``LogGroupNamePrefix IN [...]`` (None: the policy covers every group)."""
    if selection is None:
        return None
    if not isinstance(selection, str) or len(selection.encode()) > MAX_SELECTION_BYTES:
        raise InvalidParameter(
            f"selectionCriteria must be a string of at most {MAX_SELECTION_BYTES} bytes"
        )
    if selection.lstrip().startswith("DataSource"):
        raise InvalidParameter(
            "DataSourceName and DataSourceType selection criteria name data sources, which "
            "this deployment does not serve: use LogGroupNamePrefix IN [...] (decision 0232)"
        )
    found = _SELECTION.fullmatch(selection)
    prefixes: Any = None
    if found is not None:
        try:
            prefixes = json.loads(found.group(1))
        except ValueError:
            prefixes = None
    if (
        not isinstance(prefixes, list)
        or not prefixes
        or not all(isinstance(p, str) and 1 <= len(p) <= 512 for p in prefixes)
    ):
        raise InvalidParameter(
            "Invalid selectionCriteria: a FIELD_INDEX_POLICY's selection criteria is "
            'LogGroupNamePrefix IN ["prefix", ...]'
        )
    if len(prefixes) > MAX_PREFIXES:
        raise InvalidParameter(f"Invalid selectionCriteria: at most {MAX_PREFIXES} prefixes")
    return tuple(dict.fromkeys(prefixes))


def overlapping(ours: Sequence[str], theirs: Iterable[str]) -> str | None:
    """A prefix of ``theirs`` that is, or starts, or is started by, one of ``ours`` (AWS: no
    two account policies' prefixes may overlap)."""
    for other in theirs:
        for prefix in ours:
            if other.startswith(prefix) or prefix.startswith(other):
                return other
    return None


def matching_prefix(prefixes: Sequence[str], group: str) -> str | None:
    return next((p for p in prefixes if group.startswith(p)), None)
