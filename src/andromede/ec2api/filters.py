"""EC2's ``Filter.N`` semantics: a record matches when, for every filter, one of its values
for the filter's name matches one of the filter's values (``*`` and ``?`` are wildcards)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Generic, TypeVar

from andromede.ec2api.errors import Ec2Error

__all__ = ["Filters", "matches", "with_tags"]

_R = TypeVar("_R")
Getter = Callable[[_R], list[str]]


class Filters(Generic[_R]):
    """Filters resolved against the names one resource type knows."""

    def __init__(
        self, given: Mapping[str, Sequence[str]], resolve: Callable[[str], Getter[_R] | None]
    ) -> None:
        self.checks: list[tuple[Getter[_R], Sequence[str]]] = []
        for name, values in given.items():
            getter = resolve(name)
            if getter is None:
                raise Ec2Error("InvalidParameterValue", f"The filter '{name[:64]}' is invalid")
            self.checks.append((getter, values))


def matches(filters: Filters[_R], record: _R) -> bool:
    for getter, wanted in filters.checks:
        have = getter(record)
        if not any(fnmatchcase(value, pattern) for value in have for pattern in wanted):
            return False
    return True


def _tag_getter(name: str) -> Callable[[object], list[str]] | None:
    """The tag filters every resource type supports (``tag:K``, ``tag-key``, ``tag-value``)."""
    if name.startswith("tag:"):
        key = name[4:]
        return lambda r: [v for k, v in getattr(r, "tags", ()) if k == key]
    if name == "tag-key":
        return lambda r: [k for k, _ in getattr(r, "tags", ())]
    if name == "tag-value":
        return lambda r: [v for _, v in getattr(r, "tags", ())]
    return None


def with_tags(
    fields: dict[str, Callable[[object], list[str]]],
) -> Callable[[str], Callable[[object], list[str]] | None]:
    """A resolver of ``fields`` and of the tag filters."""
    return lambda name: fields.get(name) or _tag_getter(name)
