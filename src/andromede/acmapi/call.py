"""One ACM call's parameters and their checks, in AWS's wording (``ValidationException`` for a
value that breaks the API model's constraints, ``InvalidParameterException`` for one ACM
refuses), and the blobs (PEM text, base64 on the wire) decoded."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from andromede.acm.service import AcmService
from andromede.acmapi.errors import AcmWireError
from andromede.awsjson.members import JsonMembers, WireErrorType, validation_error

__all__ = ["AcmCall", "epoch", "invalid"]


def invalid(name: str, constraint: str) -> AcmWireError:
    return validation_error(AcmWireError, name, constraint)


def epoch(when: datetime) -> float:
    return round(when.timestamp(), 3)


@dataclass(slots=True)
class AcmCall(JsonMembers):
    """One action call: its parameters, the caller's account, its authorisation, and the
    service; ``resources`` collects the certificates' ARNs for the audit record."""

    params: Mapping[str, Any]
    tenant_id: str
    acm: AcmService
    authorise: Callable[[str, str, Mapping[str, Any]], Awaitable[None]]
    resources: list[str] = field(default_factory=list)
    wire_error: ClassVar[WireErrorType] = AcmWireError

    def arn(self) -> str:
        arn = self.string("CertificateArn", required=True, min_length=20, max_length=2048)
        assert arn is not None  # noqa: S101 (required)
        return arn

    def pem(self, name: str, *, required: bool, max_length: int) -> str | None:
        """A blob member (base64 on the wire) holding PEM text."""
        raw = self.string(name, required=required, max_length=max_length * 2)
        if raw is None:
            return None
        try:
            data = base64.b64decode(raw, validate=True)
            text = data.decode("ascii")
        except (binascii.Error, ValueError):
            raise AcmWireError("SerializationException", f"{name} is not valid base64") from None
        if not 1 <= len(data) <= max_length:
            raise invalid(name, f"Member must have length between 1 and {max_length}")
        return text

    def names(self, name: str, allowed: tuple[str, ...],
              source: Mapping[str, Any] | None = None) -> list[str] | None:  # fmt: skip
        """A list of enum values, each one of ``allowed``."""
        raw = (self.params if source is None else source).get(name)
        if raw is None:
            return None
        if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
            raise AcmWireError("SerializationException", f"{name} must be a list of strings")
        for value in raw:
            if value not in allowed:
                raise invalid(name, f"Member must satisfy enum value set: [{', '.join(allowed)}]")
        return [str(v) for v in raw]

    def tags(self, *, required: bool = False) -> list[tuple[str, str | None]]:
        """``Tags``: (key, value) pairs, the value None when not given."""
        raw = self.params.get("Tags")
        if raw is None:
            if required:
                raise invalid("Tags", "Member must not be null")
            return []
        if not isinstance(raw, list) or not all(
            isinstance(t, dict) and isinstance(t.get("Key"), str)
            and isinstance(t.get("Value", ""), str)
            for t in raw
        ):  # fmt: skip
            raise AcmWireError("SerializationException", "Tags must be a list of Tag")
        if not 1 <= len(raw) <= 50:
            raise invalid("Tags", "Member must have length between 1 and 50")
        pairs: list[tuple[str, str | None]] = [(str(t["Key"]), t.get("Value")) for t in raw]
        for key, value in pairs:
            if not 1 <= len(key) <= 128:
                raise invalid("Tags.member.Key", "Member must have length between 1 and 128")
            if value is not None and len(value) > 256:
                raise invalid("Tags.member.Value", "Member must have length between 0 and 256")
        return pairs
