"""One Parameter Store call: its JSON parameters, the caller (an :class:`Actor` of the
parameter service), and the checks of each parameter's shape against botocore's model of
``ssm`` 2014-11-06, in AWS's wording (``ValidationException`` "1 validation error
detected: …")."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Final, TypeVar

from andromede.awsjson.members import JsonMembers, WireErrorType, validation_error
from andromede.ssm.model import ParameterFilter, parameter_arn, split_selector
from andromede.ssm.service import Actor, ParameterService, name_of
from andromede.ssmapi.errors import SsmWireError

__all__ = ["SsmCall", "epoch", "invalid", "page"]

MAX_NAME: Final = 2048
E = TypeVar("E")


def invalid(name: str, constraint: str) -> SsmWireError:
    return validation_error(SsmWireError, name, constraint)


def epoch(when: datetime) -> float:
    """A timestamp as the JSON protocol carries it (epoch seconds)."""
    return round(when.timestamp(), 3)


def page(items: list[E], offset: int, size: int) -> tuple[list[E], dict[str, str]]:
    """One page of ``items`` and its ``NextToken`` (none on the last)."""
    chosen = items[offset : offset + size]
    if offset + size >= len(items):
        return chosen, {}
    return chosen, {"NextToken": base64.urlsafe_b64encode(str(offset + size).encode()).decode()}


@dataclass(slots=True)
class SsmCall(JsonMembers):
    """One action call: its parameters, who calls, and the service; ``resources`` collects the
    parameters' ARNs for the audit record (never a value)."""

    params: Mapping[str, Any]
    actor: Actor
    parameters: ParameterService
    resources: list[str] = field(default_factory=list)
    wire_error: ClassVar[WireErrorType] = SsmWireError

    def arn(self, reference: str) -> str:
        """The ARN a name (or ARN, or selector) of the caller's account names."""
        name = split_selector(name_of(reference))[0]
        return parameter_arn(self.actor.region, self.actor.account, name)

    def name(self, field_name: str = "Name") -> str:
        value = self.string(field_name, required=True, min_length=1)
        assert value is not None  # noqa: S101 (required)
        return value

    def boolean(self, name: str) -> bool:
        value = self.params.get(name)
        if value is not None and not isinstance(value, bool):
            raise SsmWireError("SerializationException", f"{name} must be a boolean")
        return bool(value)

    def strings(self, name: str, *, max_items: int, max_length: int = MAX_NAME) -> list[str]:
        raw = self.params.get(name)
        if raw is None:
            raise invalid(name, "Member must not be null")
        if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
            raise SsmWireError("SerializationException", f"{name} must be a list of strings")
        if not 1 <= len(raw) <= max_items:
            raise invalid(name, f"Member must have length between 1 and {max_items}")
        if any(not 1 <= len(v) <= max_length for v in raw):
            raise invalid(name, f"Member must have length between 1 and {max_length}")
        return raw

    def tags(self, name: str = "Tags", *, required: bool = False) -> tuple[tuple[str, str], ...]:
        raw = self.params.get(name)
        if raw is None:
            if required:
                raise invalid(name, "Member must not be null")
            return ()
        if not isinstance(raw, list) or not all(
            isinstance(t, dict)
            and isinstance(t.get("Key"), str)
            and isinstance(t.get("Value"), str)
            for t in raw
        ):
            raise SsmWireError("SerializationException", f"{name} must be a list of Key/Value")
        for t in raw:
            if not 1 <= len(t["Key"]) <= 128 or len(t["Value"]) > 256:
                raise invalid(f"{name}.member.Key", "Member must have length between 1 and 128")
        return tuple((t["Key"], t["Value"]) for t in raw)

    def parameter_filters(self, *, by_path: bool) -> list[ParameterFilter]:
        raw = self.params.get("ParameterFilters")
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise SsmWireError("SerializationException", "ParameterFilters must be a list")
        found = []
        for item in raw:
            if not isinstance(item, dict) or not isinstance(item.get("Key"), str):
                raise invalid("ParameterFilters.member.Key", "Member must not be null")
            key, option, values = item["Key"], item.get("Option"), item.get("Values", [])
            if not 1 <= len(key) <= 132:
                raise invalid("ParameterFilters.member.Key", "Member must have length <= 132")
            if option is not None and (not isinstance(option, str) or not 1 <= len(option) <= 10):
                raise invalid("ParameterFilters.member.Option", "Member must have length <= 10")
            if not isinstance(values, list) or not all(
                isinstance(v, str) and 1 <= len(v) <= 1024 for v in values
            ):
                raise invalid(
                    "ParameterFilters.member.Values", "Member must have length between 1 and 1024"
                )
            if len(values) > 50:
                raise invalid("ParameterFilters.member.Values", "Member must have length <= 50")
            found.append(ParameterFilter.checked(key, option, values, by_path=by_path))
        keys = [f.key for f in found]
        for key in keys:
            if keys.count(key) > 1:
                raise SsmWireError(
                    "InvalidFilterKey",
                    f"The following filter is duplicated in the request: {key}. A request can "
                    "contain only one occurrence of a specific filter.",
                )
        return found

    def offset(self) -> int:
        token = self.string("NextToken", max_length=4096)
        if token is None:
            return 0
        try:
            offset = int(base64.urlsafe_b64decode(token.encode()).decode())
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise SsmWireError("InvalidNextToken") from None
        if offset < 0:
            raise SsmWireError("InvalidNextToken")
        return offset
