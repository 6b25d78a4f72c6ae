"""What the DynamoDB API tells of each call once answered (decision 0254): the account, the
action, the tables it named, what it consumed and returned, its error type and how long it
took, for ``AWS/DynamoDB``'s metrics (``wiring.dynamodb_metrics``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from andromede.dynamodb.capacity import Tally

__all__ = ["CallObserver", "FinishedCall", "table_names"]


@dataclass(frozen=True, slots=True)
class FinishedCall:
    tenant_id: str
    action: str
    tables: tuple[str, ...]
    tally: Tally | None
    returned: int | None
    status: int
    error_type: str | None
    seconds: float


class CallObserver(Protocol):
    def finished(self, call: FinishedCall) -> None: ...


def table_names(resources: list[str]) -> tuple[str, ...]:
    """The table names of a call's audited ARNs (``…:table/<name>[/index/…]``), each once."""
    names: dict[str, None] = {}
    for arn in resources:
        _, _, rest = arn.partition(":table/")
        if rest:
            names[rest.split("/", 1)[0]] = None
    return tuple(names)
