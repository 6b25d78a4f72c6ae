"""Reading a CloudWatch Logs request's JSON parameters (decision 0186): each of the type its
shape says, or InvalidParameterException naming it — never a 500."""

from __future__ import annotations

from typing import Any

from andromede.logs.errors import InvalidParameter

__all__ = ["boolean", "integer", "mapping", "optional_str", "required_str", "strings"]


def _wrong(name: str, kind: str) -> InvalidParameter:
    return InvalidParameter(
        f"1 validation error detected: Value at '{name}' failed to satisfy constraint: "
        f"Member must be {kind}"
    )


def optional_str(params: dict[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _wrong(name, "a string")
    return value


def required_str(params: dict[str, Any], name: str) -> str:
    value = optional_str(params, name)
    if value is None:
        raise InvalidParameter(
            f"1 validation error detected: Value null at '{name}' failed to satisfy "
            "constraint: Member must not be null"
        )
    return value


def integer(params: dict[str, Any], name: str) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    # A long, as the model's shapes: a larger number must not reach the database.
    if isinstance(value, bool) or not isinstance(value, int) or not -(2**63) <= value < 2**63:
        raise _wrong(name, "an integer")
    return value


def boolean(params: dict[str, Any], name: str, default: bool) -> bool:
    value = params.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _wrong(name, "a boolean")
    return value


def strings(params: dict[str, Any], name: str) -> list[str] | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _wrong(name, "a list of strings")
    return list(value)


def mapping(params: dict[str, Any], name: str) -> dict[str, str]:
    value = params.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise _wrong(name, "a map of strings to strings")
    return dict(value)
