"""The capacity one DynamoDB call consumed (decision 0247), for ``ReturnConsumedCapacity``.

The service counts every read and write it bills (``DynamoService.consumed``, the units of
decision 0237: a read unit per 4 KB begun, half of it eventually consistent; a write unit per
KB begun; a write's index writes as AWS counts them); while a call is being measured
(:func:`measuring`), each count is also added to that call's :class:`Tally`, per table and per
index, so that the answer reports what the bill counts. A context variable carries the tally
through the service without a parameter on every method: each request runs in its own task.

Reads inside :func:`on_index` are the index's (a query or scan of an index); reads inside
:func:`transactional` cost double (TransactGetItems, a PartiQL transaction's reads), as AWS
bills transactional reads — and the bill counts them doubled too, not only the answer.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from andromede.dynamodb.model import SecondaryIndex, Table

__all__ = [
    "Tally",
    "Units",
    "entered",
    "measured",
    "measuring",
    "on_index",
    "paid",
    "reading",
    "record",
    "throttled",
    "transactional",
]


@dataclass(slots=True)
class Units:
    read: float = 0.0
    write: float = 0.0

    @property
    def total(self) -> float:
        return self.read + self.write


@dataclass(slots=True)
class Tally:
    """What one call consumed: per table (in the order first touched), its own units and
    each index's (name → local?, units)."""

    tables: dict[str, Units] = field(default_factory=dict)
    indexes: dict[str, dict[str, tuple[bool, Units]]] = field(default_factory=dict)
    reading: SecondaryIndex | None = None
    scale: float = 1.0
    # Throttle events (decision 0267): (table, global index or None, a write?) each refusal.
    throttle_events: list[tuple[str, str | None, bool]] = field(default_factory=list)
    # Those refused for a hot partition key (decision 0291), among the above too.
    key_range_events: list[tuple[str, str | None, bool]] = field(default_factory=list)
    # The partition key value (index or None, key) the call was let in on, until paid.
    partition: tuple[str | None, str] | None = None

    def table(self, name: str) -> Units:
        self.indexes.setdefault(name, {})
        return self.tables.setdefault(name, Units())

    def index(self, table: str, index: SecondaryIndex) -> Units:
        held = self.indexes.setdefault(table, {})
        if index.name not in held:
            held[index.name] = (index.local, Units())
        return held[index.name][1]


_CURRENT: ContextVar[Tally | None] = ContextVar("dynamodb_capacity", default=None)


@contextmanager
def measuring() -> Iterator[Tally]:
    """A fresh tally for the call run inside."""
    tally = Tally()
    token = _CURRENT.set(tally)
    try:
        yield tally
    finally:
        _CURRENT.reset(token)


@contextmanager
def on_index(index: SecondaryIndex) -> Iterator[None]:
    tally = _CURRENT.get()
    if tally is None:
        yield
        return
    before, tally.reading = tally.reading, index
    try:
        yield
    finally:
        tally.reading = before


def measured() -> bool:
    """Whether a client's call is being measured (not the platform's own work: an import,
    the time-to-live upkeep), the calls whose capacity is enforced (decision 0267)."""
    return _CURRENT.get() is not None


def reading() -> SecondaryIndex | None:
    """The index the current call reads (inside :func:`on_index`), if any."""
    tally = _CURRENT.get()
    return None if tally is None else tally.reading


def throttled(table: str, index: str | None, write: bool, key_range: bool = False) -> None:
    """A refusal for want of capacity (decision 0267), or of a partition key's (``key_range``,
    decision 0291), told to the call's metrics."""
    tally = _CURRENT.get()
    if tally is not None:
        tally.throttle_events.append((table, index, write))
        if key_range:
            tally.key_range_events.append((table, index, write))


def entered(index: str | None, key: str) -> None:
    """The partition key value the current call was let in on (decision 0291)."""
    tally = _CURRENT.get()
    if tally is not None:
        tally.partition = (index, key)


def paid() -> tuple[str | None, str] | None:
    """The partition key value the current call was let in on, now paid for (forgotten, so a
    later read without one is not charged to it)."""
    tally = _CURRENT.get()
    if tally is None:
        return None
    held, tally.partition = tally.partition, None
    return held


@contextmanager
def transactional() -> Iterator[None]:
    """Reads made inside cost double (the bill too), as a transaction's reads on AWS."""
    tally = _CURRENT.get()
    token = None
    if tally is None:  # not measured: a tally of its own, so the scale still applies
        tally = Tally()
        token = _CURRENT.set(tally)
    before, tally.scale = tally.scale, 2.0
    try:
        yield
    finally:
        tally.scale = before
        if token is not None:
            _CURRENT.reset(token)


def record(
    table: Table, read: float, write: float, index_writes: Mapping[str, float]
) -> tuple[float, float]:
    """A count added to the current call's tally (if measured); the (read, write) units to
    bill: ``write`` is the table's own, ``index_writes`` each index's, the bill their sum."""
    tally = _CURRENT.get()
    if tally is None:
        return read, write + sum(index_writes.values())
    read *= tally.scale
    own = tally.table(table.name)
    if tally.reading is not None and read:
        tally.index(table.name, tally.reading).read += read
    else:
        own.read += read
    own.write += write
    for name, units in index_writes.items():
        index = table.index(name)
        if index is not None:
            tally.index(table.name, index).write += units
    return read, write + sum(index_writes.values())
