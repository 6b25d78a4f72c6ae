"""One KMS action call: its JSON parameters, who calls, the key service, and the checks of
each parameter's JSON shape in AWS's ValidationException wording (``1 validation error
detected: …``), shared by every action module."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from andromede.kms.asymmetric import RSA_ENCRYPTION_ALGORITHMS
from andromede.kms.customer_keys import Caller, CustomerKeyService
from andromede.kms.grants import MAX_GRANT_TOKENS
from andromede.kmsapi.errors import KmsWireError

__all__ = [
    "DEFAULT_LIST_LIMIT",
    "MAX_LIST_LIMIT",
    "SYMMETRIC_DEFAULT",
    "KmsCall",
    "check_grant_tokens",
    "invalid",
    "refuse_service_principals",
]

MAX_LIST_LIMIT: Final = 1000
DEFAULT_LIST_LIMIT: Final = 100
SYMMETRIC_DEFAULT: Final = "SYMMETRIC_DEFAULT"


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def invalid(name: str, value: object, constraint: str) -> KmsWireError:
    return KmsWireError(
        "ValidationException",
        f"1 validation error detected: Value '{value}' at '{_camel(name)}' failed to satisfy "
        f"constraint: {constraint}",
    )


@dataclass(frozen=True, slots=True)
class KmsCall:
    """One action call: its JSON parameters, who calls, and the key service."""

    params: Mapping[str, Any]
    caller: Caller
    keys: CustomerKeyService

    def string(self, name: str, *, required: bool = False, max_length: int = 8192) -> str | None:
        value = self.params.get(name)
        if value is None:
            if required:
                raise invalid(name, "null", "Member must not be null")
            return None
        if not isinstance(value, str):
            raise KmsWireError("SerializationException", f"{name} must be a string")
        if required and not value:
            raise invalid(name, value, "Member must have length greater than or equal to 1")
        if len(value) > max_length:
            raise invalid(name, "…", f"Member must have length less than or equal to {max_length}")
        return value

    def required(self, name: str, *, max_length: int = 2048) -> str:
        value = self.string(name, required=True, max_length=max_length)
        assert value is not None  # noqa: S101 (string(required=True) never returns None)
        return value

    def integer(self, name: str, *, minimum: int, maximum: int) -> int | None:
        value = self.params.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise KmsWireError("SerializationException", f"{name} must be an integer")
        if value < minimum:
            raise invalid(name, value, f"Member must have value greater than or equal to {minimum}")
        if value > maximum:
            raise invalid(name, value, f"Member must have value less than or equal to {maximum}")
        return value

    def boolean(self, name: str) -> bool | None:
        value = self.params.get(name)
        if value is not None and not isinstance(value, bool):
            raise KmsWireError("SerializationException", f"{name} must be a boolean")
        return value

    def blob(self, name: str, *, max_size: int) -> bytes:
        value = self.required(name, max_length=4 * max_size)
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise KmsWireError("SerializationException", f"{name} is not valid base64") from exc
        if not 1 <= len(data) <= max_size:
            raise invalid(name, "…", f"Member must have length between 1 and {max_size} bytes")
        return data

    def context(self, name: str = "EncryptionContext") -> dict[str, str]:
        value = self.params.get(name)
        if value is None:
            return {}
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise KmsWireError("SerializationException", f"{name} must map strings to strings")
        return value

    def encryption_algorithm(self, name: str = "EncryptionAlgorithm") -> str:
        """``SYMMETRIC_DEFAULT`` when absent, or an RSAES-OAEP algorithm."""
        value = self.string(name, max_length=64)
        if value is None:
            return SYMMETRIC_DEFAULT
        if value == SYMMETRIC_DEFAULT or value in RSA_ENCRYPTION_ALGORITHMS:
            return value
        if value == "SM2PKE":  # AWS's China regions' SM2 keys
            raise KmsWireError("InvalidKeyUsageException", f"{value} is not offered")
        raise invalid(name, value, "Member must satisfy enum value set")

    def tags(self) -> list[tuple[str, str]]:
        raw = self.params.get("Tags") or []
        if not isinstance(raw, list) or not all(
            isinstance(t, dict)
            and isinstance(t.get("TagKey"), str)
            and isinstance(t.get("TagValue"), str)
            for t in raw
        ):
            raise KmsWireError("SerializationException", "Tags must be a list of TagKey/TagValue")
        return [(t["TagKey"], t["TagValue"]) for t in raw]

    def strings(self, name: str) -> list[str]:
        raw = self.params.get(name)
        if raw is None:
            raise invalid(name, "null", "Member must not be null")
        if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
            raise KmsWireError("SerializationException", f"{name} must be a list of strings")
        return raw

    def required_enum(self, name: str, values: tuple[str, ...] | frozenset[str]) -> str:
        value = self.enum(name, values, required=True)
        assert value is not None  # noqa: S101 (enum(required=True) never returns None)
        return value

    def enum_list(self, name: str, values: tuple[str, ...]) -> list[str]:
        """A list member of enum values (none given: empty), each once at most."""
        raw = self.params.get(name)
        if raw is None:
            return []
        if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
            raise KmsWireError("SerializationException", f"{name} must be a list of strings")
        if not 1 <= len(raw) <= len(values) or len(set(raw)) != len(raw):
            raise invalid(name, "…", f"Member must have 1 to {len(values)} distinct values")
        for value in raw:
            if value not in values:
                raise invalid(name, value[:64], "Member must satisfy enum value set")
        return raw

    def enum(
        self, name: str, values: tuple[str, ...] | frozenset[str], *, required: bool
    ) -> str | None:
        value = self.string(name, required=required, max_length=64)
        if value is not None and value not in values:
            raise invalid(name, value, "Member must satisfy enum value set")
        return value

    def timestamp(self, name: str) -> datetime | None:
        """A timestamp member: epoch seconds, as botocore sends them in the JSON protocol."""
        value = self.params.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise KmsWireError("SerializationException", f"{name} must be a timestamp")
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            raise invalid(name, value, "Member must be a valid timestamp") from None

    def limit(self) -> int:
        limit = self.integer("Limit", minimum=1, maximum=MAX_LIST_LIMIT)
        return DEFAULT_LIST_LIMIT if limit is None else limit


def check_grant_tokens(call: KmsCall) -> None:
    """``GrantTokens`` are accepted and checked for shape: a grant takes effect here as soon as
    CreateGrant answers, so no request needs one."""
    raw = call.params.get("GrantTokens")
    if raw is None:
        return
    if not isinstance(raw, list) or not all(isinstance(t, str) for t in raw):
        raise KmsWireError("SerializationException", "GrantTokens must be a list of strings")
    if len(raw) > MAX_GRANT_TOKENS or not all(1 <= len(t) <= 8192 for t in raw):
        raise invalid("GrantTokens", "…", f"Member must have at most {MAX_GRANT_TOKENS} tokens")


def refuse_service_principals(call: KmsCall, *names: str) -> None:
    """Grants to and for AWS service principals: there are no AWS services here to hold one,
    so a request naming one is refused rather than taken for another kind of principal."""
    for name in names:
        if call.params.get(name) is not None:
            raise KmsWireError(
                "UnsupportedOperationException",
                f"{name}: grants to AWS service principals are not offered",
            )
