"""One Secrets Manager call: its JSON parameters, the caller (an :class:`Actor` of the secrets
service), and the checks of each parameter's shape, in AWS's wording
(``InvalidParameterException`` for a value out of its range, ``ValidationException`` for a
value that breaks the API model's constraints, as AWS answers each)."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Final

from andromede.awsjson.members import JsonMembers, WireErrorType, validation_error
from andromede.secrets.model import FILTER_KEYS
from andromede.secrets.service import Actor, SecretService, SecretValue
from andromede.secretsapi.errors import SecretsWireError

__all__ = ["SecretsCall", "epoch", "invalid", "next_token"]

_REGION: Final = re.compile(r"([a-z]+-)+\d+")


def invalid(name: str, constraint: str) -> SecretsWireError:
    return validation_error(SecretsWireError, name, constraint)


def epoch(when: datetime | None) -> float | None:
    """A timestamp as the JSON protocol carries it (epoch seconds)."""
    return None if when is None else round(when.timestamp(), 3)


@dataclass(slots=True)
class SecretsCall(JsonMembers):
    """One action call: its parameters, who calls, and the service; ``resources`` collects
    the secrets' ARNs for the audit record."""

    params: Mapping[str, Any]
    actor: Actor
    secrets: SecretService
    max_policy_size: int
    resources: list[str] = field(default_factory=list)
    # An action on another service's resource the call needs (RotateSecret's
    # ``lambda:InvokeFunction``, decision 0303): (action, resource ARN).
    authorise_other: Callable[[str, str], Awaitable[None]] | None = None
    wire_error: ClassVar[WireErrorType] = SecretsWireError

    def secret_id(self) -> str:
        value = self.string("SecretId", required=True, min_length=1)
        assert value is not None  # noqa: S101 (required)
        return value

    def token(self) -> str | None:
        return self.string("ClientRequestToken", min_length=32, max_length=64)

    def boolean(self, name: str) -> bool | None:
        value = self.params.get(name)
        if value is not None and not isinstance(value, bool):
            raise SecretsWireError("SerializationException", f"{name} must be a boolean")
        return value

    def strings(self, name: str, *, max_items: int, max_length: int = 256) -> list[str] | None:
        raw = self.params.get(name)
        if raw is None:
            return None
        if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
            raise SecretsWireError("SerializationException", f"{name} must be a list of strings")
        if not 1 <= len(raw) <= max_items or any(not 1 <= len(v) <= max_length for v in raw):
            raise invalid(name, f"Member must have 1 to {max_items} items")
        return raw

    def value(self, *, required: bool) -> SecretValue | None:
        """``SecretString`` or ``SecretBinary`` (base64 on the wire), never both."""
        limit = self.secrets.limits.max_value_size
        text = self.params.get("SecretString")
        blob = self.params.get("SecretBinary")
        if text is not None and blob is not None:
            raise SecretsWireError(
                "InvalidParameterException",
                "You can't specify both a binary secret value and a string secret value in "
                "the same secret.",
            )
        if text is None and blob is None:
            if required:
                raise SecretsWireError(
                    "InvalidRequestException",
                    "You must provide either SecretString or SecretBinary.",
                )
            return None
        if text is not None:
            if not isinstance(text, str):
                raise SecretsWireError("SerializationException", "SecretString must be a string")
            data = text.encode()
            if len(data) > limit:
                raise invalid(
                    "SecretString", f"Member must have length less than or equal to {limit}"
                )
            return SecretValue(data, binary=False)
        if not isinstance(blob, str):
            raise SecretsWireError("SerializationException", "SecretBinary must be a blob")
        try:
            data = base64.b64decode(blob, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise SecretsWireError(
                "SerializationException", "SecretBinary is not valid base64"
            ) from exc
        if len(data) > limit:
            raise invalid("SecretBinary", f"Member must have length less than or equal to {limit}")
        return SecretValue(data, binary=True)

    def tags(self, name: str = "Tags", *, required: bool = False) -> list[tuple[str, str]]:
        raw = self.params.get(name)
        if raw is None:
            if required:
                raise invalid(name, "Member must not be null")
            return []
        if not isinstance(raw, list) or not all(
            isinstance(t, dict)
            and isinstance(t.get("Key"), str)
            and isinstance(t.get("Value"), str)
            for t in raw
        ):
            raise SecretsWireError("SerializationException", f"{name} must be a list of Key/Value")
        return [(t["Key"], t["Value"]) for t in raw]

    def replica_regions(self, *, required: bool) -> list[tuple[str, str | None]]:
        """``AddReplicaRegions``: (Region, KmsKeyId) of each replica asked for."""
        raw = self.params.get("AddReplicaRegions")
        if raw is None:
            if required:
                raise invalid("AddReplicaRegions", "Member must not be null")
            return []
        if not isinstance(raw, list) or not raw:
            raise invalid("AddReplicaRegions", "Member must have length greater than or equal to 1")
        found: list[tuple[str, str | None]] = []
        for item in raw:
            region = item.get("Region") if isinstance(item, dict) else None
            key = item.get("KmsKeyId") if isinstance(item, dict) else None
            if not isinstance(region, str) or not isinstance(key, str | None):
                raise SecretsWireError(
                    "SerializationException", "AddReplicaRegions must be a list of RegionType"
                )
            if not _REGION.fullmatch(region):
                raise invalid(
                    "AddReplicaRegions.member.Region", "Member must satisfy regular expression"
                )
            found.append((region, key or None))
        return found

    def filters(self) -> list[tuple[str, list[str]]]:
        raw = self.params.get("Filters")
        if raw is None:
            return []
        if not isinstance(raw, list) or len(raw) > 10:
            raise invalid("Filters", "Member must have at most 10 items")
        found = []
        for item in raw:
            if not isinstance(item, dict):
                raise SecretsWireError("SerializationException", "Filters must be a list of Filter")
            key, values = item.get("Key"), item.get("Values")
            if key not in FILTER_KEYS:
                raise invalid("Filters.member.Key", "Member must satisfy enum value set")
            if (
                not isinstance(values, list)
                or not 1 <= len(values) <= 10
                or not all(isinstance(v, str) and len(v) <= 512 for v in values)
            ):
                raise invalid("Filters.member.Values", "Member must have 1 to 10 items")
            found.append((str(key), [str(v) for v in values]))
        return found

    def page(self, default: int = 100, maximum: int = 100) -> tuple[int, int]:
        """(offset, size) of a listing page, from ``NextToken`` and ``MaxResults``."""
        size = self.integer("MaxResults", minimum=1, maximum=maximum) or default
        token = self.string("NextToken", max_length=4096)
        if token is None:
            return 0, size
        try:
            offset = int(base64.urlsafe_b64decode(token.encode()).decode())
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise SecretsWireError("InvalidNextTokenException") from None
        if offset < 0:
            raise SecretsWireError("InvalidNextTokenException")
        return offset, size


def next_token(offset: int, size: int, total: int) -> dict[str, str]:
    if offset + size >= total:
        return {}
    return {"NextToken": base64.urlsafe_b64encode(str(offset + size).encode()).decode()}
