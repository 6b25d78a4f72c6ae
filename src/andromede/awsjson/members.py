"""A JSON call's members read and checked in AWS's wording (decision 0357), shared by the
call classes of ACM, Firehose, Kinesis, Secrets Manager and Systems Manager, each raising its
own service's wire error: a member of the wrong JSON type is a ``SerializationException``
(``<Name> must be a string``), one that breaks the API model's constraints a
``ValidationException`` (``1 validation error detected: Value at '<name>' failed to satisfy
constraint: …``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Protocol, TypeVar

from andromede.awsjson.endpoint import JsonWireError

__all__ = ["JsonMembers", "WireErrorType", "validation_error"]

E = TypeVar("E", bound=JsonWireError)


class WireErrorType(Protocol):
    """A service's wire error, made from its type and message (``AcmWireError``…)."""

    def __call__(self, error_type: str, message: str, /) -> JsonWireError: ...


def validation_error(wire_error: Callable[[str, str], E], name: str, constraint: str) -> E:
    """The ``ValidationException`` of the member ``name`` breaking ``constraint``."""
    field_name = name[:1].lower() + name[1:]
    return wire_error(
        "ValidationException",
        f"1 validation error detected: Value at '{field_name}' failed to satisfy constraint: "
        f"{constraint}",
    )


class JsonMembers:
    """The readers of a call's ``params``; a subclass (a slotted dataclass) holds them and
    names its service's ``wire_error``. ``source``: a structure of the call to read from
    instead of its top level."""

    __slots__ = ()
    wire_error: ClassVar[WireErrorType]
    params: Mapping[str, Any]

    def string(
        self, name: str, *, required: bool = False, min_length: int = 0, max_length: int = 2048,
        source: Mapping[str, Any] | None = None,
    ) -> str | None:  # fmt: skip
        value = (self.params if source is None else source).get(name)
        if value is None:
            if required:
                raise validation_error(self.wire_error, name, "Member must not be null")
            return None
        if not isinstance(value, str):
            raise self.wire_error("SerializationException", f"{name} must be a string")
        if not min_length <= len(value) <= max_length:
            raise validation_error(
                self.wire_error,
                name,
                f"Member must have length between {min_length} and {max_length}",
            )
        return value

    def integer(self, name: str, *, minimum: int, maximum: int,
                source: Mapping[str, Any] | None = None) -> int | None:  # fmt: skip
        value = (self.params if source is None else source).get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.wire_error("SerializationException", f"{name} must be an integer")
        if not minimum <= value <= maximum:
            raise validation_error(
                self.wire_error, name, f"Member must have value between {minimum} and {maximum}"
            )
        return value
