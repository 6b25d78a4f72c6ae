"""One Kinesis call's parameters and their checks, in AWS's wording (``ValidationException``
for a value that breaks the API model's constraints, ``InvalidArgumentException`` for one
Kinesis refuses), and the stream a call names by ``StreamName`` or ``StreamARN``.

A ``StreamName`` is always the caller's own; a ``StreamARN`` (or ``ConsumerARN``) may name
another account's stream for the calls AWS lets a resource policy share
(:data:`SHARED_ACTIONS`, decision 0248): the call's :attr:`KinesisCall.account` is then the
stream's owner, whose stream the service acts on. Any other call naming another account's
stream is refused ``AccessDeniedException`` before anything is looked up."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, Protocol

from andromede.awsjson.members import JsonMembers, WireErrorType, validation_error
from andromede.kinesis.model import stream_arn
from andromede.kinesis.service import KinesisService
from andromede.kinesisapi.errors import KinesisWireError
from andromede.kinesisapi.fanout import Subscription, Subscriptions

__all__ = ["SHARED_ACTIONS", "Authorise", "Handler", "KinesisCall", "invalid"]

# The calls another account may make on a stream (or its consumers) its resource policy
# shares, as AWS lists them for Kinesis resource policies (decision 0248).
SHARED_ACTIONS: Final = frozenset(
    {
        "DescribeStreamSummary",
        "GetRecords",
        "GetShardIterator",
        "ListShards",
        "PutRecord",
        "PutRecords",
        "RegisterStreamConsumer",
        "DescribeStreamConsumer",
        "SubscribeToShard",
    }
)

_NAME: Final = re.compile(r"[a-zA-Z0-9_.-]{1,128}")
_ARN: Final = re.compile(
    r"arn:aws[\w-]*:kinesis:([a-z0-9-]+):(\d{12}):stream/([a-zA-Z0-9_.-]{1,128})"
)


def invalid(name: str, constraint: str) -> KinesisWireError:
    return validation_error(KinesisWireError, name, constraint)


def _serialization(name: str, kind: str) -> KinesisWireError:
    return KinesisWireError("SerializationException", f"{name} must be {kind}")


class Authorise(Protocol):
    """AccessDeniedException unless the caller may do ``action`` on ``resource``: its
    identity policies, and ``policy`` (the stream's or consumer's resource policy, of
    ``owner``'s account) as AWS combines them (decision 0248)."""

    def __call__(
        self, action: str, resource: str, keys: Mapping[str, Any], /,
        policy: str | None = None, owner: str | None = None,
    ) -> Awaitable[None]: ...  # fmt: skip


@dataclass(slots=True)
class KinesisCall(JsonMembers):
    """One action call: its parameters, the caller's account and Region, its authorisation
    and the service; ``resources`` collects the streams' ARNs for the audit record;
    ``account`` the account of the stream the call names (the caller's unless a shared
    call names another's by ARN); ``shared`` the stream of another account the call
    reached (its owner's trail records the call too)."""

    params: Mapping[str, Any]
    tenant_id: str
    region: str
    kinesis: KinesisService
    authorise: Authorise
    max_record_size: int
    max_policy_size: int = 20_480
    action: str = ""
    account: str = ""
    shared: str | None = None
    resources: list[str] = field(default_factory=list)
    # The caller as KMS judges it (``kms.customer_keys.Caller``), for a stream's KMS key.
    kms_caller: object = None
    # The gateway's enhanced fan-out register, and the subscription this call opened.
    subscriptions: Subscriptions | None = None
    subscription: Subscription | None = None
    wire_error: ClassVar[WireErrorType] = KinesisWireError

    def required(self, name: str, *, min_length: int = 1, max_length: int = 2048) -> str:
        value = self.string(name, required=True, min_length=min_length, max_length=max_length)
        assert value is not None  # noqa: S101 (required)
        return value

    def boolean(self, name: str) -> bool | None:
        value = self.params.get(name)
        if value is not None and not isinstance(value, bool):
            raise _serialization(name, "a boolean")
        return value

    def timestamp(self, name: str, source: Mapping[str, Any] | None = None) -> int | None:
        """An epoch-seconds timestamp (botocore's JSON form) as milliseconds."""
        value = (self.params if source is None else source).get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _serialization(name, "a timestamp")
        return int(value * 1000)

    def mapping(self, name: str) -> dict[str, Any] | None:
        value = self.params.get(name)
        if value is not None and not isinstance(value, dict):
            raise _serialization(name, "a structure")
        return value

    def stream_name(self) -> str:
        """The stream ``StreamName`` or ``StreamARN`` names (one of them, of the caller's
        account and Region)."""
        name = self.string("StreamName", min_length=1, max_length=128)
        arn = self.string("StreamARN", min_length=1, max_length=2048)
        if name is None and arn is None:
            raise KinesisWireError(
                "InvalidArgumentException", "Either StreamName or StreamARN should be provided."
            )
        if arn is not None:
            named = self.arn_name(arn)
            if name is not None and name != named:
                raise KinesisWireError(
                    "InvalidArgumentException", "StreamName and StreamARN name different streams."
                )
            name = named
        assert name is not None  # noqa: S101 (one of the two)
        if not _NAME.fullmatch(name):
            raise invalid("StreamName", "Member must satisfy regular expression pattern: "
                          "[a-zA-Z0-9_.-]+")  # fmt: skip
        return name

    def arn_name(self, arn: str) -> str:
        """The stream's name; :attr:`account` its account (another's only for a call of
        :data:`SHARED_ACTIONS`)."""
        match = _ARN.fullmatch(arn)
        if match is None:
            raise invalid("StreamARN", "Member must satisfy regular expression pattern: "
                          "arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+")  # fmt: skip
        region, account, name = match.groups()
        foreign = account != self.tenant_id
        if region != self.region or (foreign and self.action not in SHARED_ACTIONS):
            raise KinesisWireError(
                "AccessDeniedException",
                f"Stream {arn[:256]} is not one of account {self.tenant_id} in {self.region}: "
                f"another account's stream is shared for data calls only (decision 0248).",
            )
        self.account = account
        return name

    def arn(self, name: str) -> str:
        return stream_arn(self.region, self.account or self.tenant_id, name)

    def tag_map(self, name: str = "Tags", *, required: bool = False) -> list[tuple[str, str]]:
        raw = self.params.get(name)
        if raw is None:
            if required:
                raise invalid(name, "Member must not be null")
            return []
        if not isinstance(raw, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
        ):
            raise _serialization(name, "a map of strings")
        if not 1 <= len(raw) <= 200:
            raise invalid(name, "Member must have length between 1 and 200")
        for key, value in raw.items():
            if not 1 <= len(key) <= 128 or len(value) > 256:
                raise invalid(f"{name}.key", "Member must have length between 1 and 128")
            if key.startswith("aws:"):
                raise KinesisWireError(
                    "InvalidArgumentException", f"Tag key {key!r} uses the reserved prefix aws:."
                )
        return list(raw.items())

    def tag_keys(self, name: str = "TagKeys") -> list[str]:
        keys = self.params.get(name)
        if (
            not isinstance(keys, list)
            or not 1 <= len(keys) <= 50
            or not all(isinstance(k, str) and 1 <= len(k) <= 128 for k in keys)
        ):
            raise invalid(name, "Member must have length between 1 and 50")
        return list(keys)

    def data(self, record: Mapping[str, Any], name: str = "Data") -> bytes:
        """A record's ``Data`` (base64 on the wire), at most ``max_record_size`` bytes."""
        raw = record.get("Data")
        if not isinstance(raw, str):
            raise invalid(name, "Member must not be null")
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise KinesisWireError("SerializationException", "Data is not valid base64") from exc
        if len(data) > self.max_record_size:
            raise invalid(
                name, f"Member must have length less than or equal to {self.max_record_size}"
            )
        return data


Handler = Callable[[KinesisCall], Awaitable[dict[str, Any]]]
