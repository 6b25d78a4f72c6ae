"""A state's ``Retry`` and ``Catch`` rules as the Amazon States Language reads them (decision
0271): which rule an error matches (``ErrorEquals``, ``States.ALL`` and ``States.TaskFailed``
never matching the terminal errors) and how long a retrier waits before its next attempt
(``IntervalSeconds``, ``BackoffRate``, ``MaxDelaySeconds``, ``JitterStrategy``). Shared by the
interpreter and the branches' steps."""

from __future__ import annotations

import random
from typing import Any, Final

__all__ = ["delay_of", "is_parked", "matching_rule"]

# Errors no ``States.ALL`` (or ``States.TaskFailed``) rule catches or retries, as on AWS: only a
# rule naming them does.
_TERMINAL_ERRORS: Final = frozenset({"States.Runtime", "States.DataLimitExceeded"})


def is_parked(resource: str) -> bool:
    """Whether a Task waits for an answer by its token: an activity's, a
    ``.waitForTaskToken`` integration's, or a ``.sync`` one's (answered when its job ends)."""
    return resource.endswith((".waitForTaskToken", ".sync", ".sync:2")) or (
        ":activity:" in resource
    )


def matching_rule(rules: list[dict[str, Any]], error: str) -> tuple[int, dict[str, Any] | None]:
    """The first rule whose ``ErrorEquals`` matches ``error``, and its index; (-1, None)."""
    for index, rule in enumerate(rules):
        if _matches_error(rule.get("ErrorEquals", []), error):
            return index, rule
    return -1, None


def delay_of(retrier: dict[str, Any], made: int) -> float:
    """Seconds to wait before the retrier's next attempt, ``made`` attempts made already."""
    delay = (
        float(retrier.get("IntervalSeconds", 1)) * float(retrier.get("BackoffRate", 2.0)) ** made
    )
    if "MaxDelaySeconds" in retrier:
        delay = min(delay, float(retrier["MaxDelaySeconds"]))
    if retrier.get("JitterStrategy") == "FULL":
        delay = random.uniform(0, delay)  # noqa: S311 - spreading retries, not a secret
    return delay


def _matches_error(names: list[str], error: str) -> bool:
    if error in names:
        return True
    if error in _TERMINAL_ERRORS:
        return False
    if "States.ALL" in names:
        return True
    return "States.TaskFailed" in names and error != "States.Timeout"
