"""EC2's ``Filter.N`` semantics: a record matches when, for every filter, one of its values
for the filter's name matches one of the filter's values (``*`` and ``?`` are wildcards)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Generic, TypeVar

from andromede.ec2api.errors import Ec2Error

__all__ = ["Filters", "matches"]

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
