"""EC2's dialect of the Query protocol: how parameters nest, and the calls' shared shape.

EC2 flattens lists as ``Name.N`` (N from 1) — ``InstanceId.1``, ``Filter.1.Name``,
``Filter.1.Value.1``, ``TagSpecification.1.Tag.1.Key`` — where IAM writes ``Name.member.N``.
An answer is the action's elements directly under ``<ActionResponse xmlns=…>`` after a
``<requestId>``, with no Result wrapper; lists are ``<xxxSet><item>…</item></xxxSet>``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from andromede.compute.model import Tags
from andromede.compute.service import ComputeService
from andromede.ec2api.errors import Ec2Error
from andromede.http.xml import XmlWriter
from andromede.iam.model import Principal
from andromede.iam.policy import ContextValue
from andromede.iam.service import IdentityService

__all__ = [
    "NAMESPACE",
    "VERSION",
    "Action",
    "Call",
    "Conditions",
    "Handler",
    "Params",
    "arn_of",
    "iso8601",
    "page_after",
    "page_token",
    "paged",
]

NAMESPACE = "http://ec2.amazonaws.com/doc/2016-11-15/"
VERSION = "2016-11-15"


def iso8601(moment: datetime) -> str:
    """EC2's timestamps: ``2026-11-29T10:57:18.000Z``."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def page_token(last_id: str) -> str:
    """The NextToken of a page of records listed in id order: after the last id given."""
    return base64.urlsafe_b64encode(last_id.encode()).decode()


def page_after(token: str | None) -> str | None:
    """The id a NextToken resumes after (None: from the start)."""
    if token is None:
        return None
    try:
        # Strictly: the lenient decoder drops what is not base64, and "%%%" would resume
        # from the start instead of being refused.
        return base64.b64decode(token.encode(), altchars=b"-_", validate=True).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise Ec2Error("InvalidParameterValue", "Invalid NextToken") from None


_T = TypeVar("_T")


def paged(
    params: Params, items: Sequence[_T], key: Callable[[_T], str], *, most: int, ids: str
) -> tuple[list[_T], str | None]:
    """EC2's pages of ``items`` in ``key`` order: ``MaxResults`` 5 to ``most`` a page,
    resumed by ``NextToken``, all at once without it; never beside the ``ids`` parameter
    (InvalidParameterCombination, as EC2)."""
    max_results = params.integer("MaxResults", minimum=5, maximum=most)
    if max_results is not None and params.values(ids):
        raise Ec2Error(
            "InvalidParameterCombination",
            f"The parameter {ids} cannot be used with the parameter MaxResults",
        )
    chosen = sorted(items, key=key)
    after = page_after(params.get("NextToken"))
    if after is not None:
        chosen = [item for item in chosen if key(item) > after]
    if max_results is None or len(chosen) <= max_results:
        return chosen, None
    chosen = chosen[:max_results]
    return chosen, page_token(key(chosen[-1]))


_PROTOCOL_PARAMETERS = frozenset({"Action", "Version", "DryRun"})


class Params:
    """The parameters under one prefix (the whole request, or one ``Filter.1.``)."""

    __slots__ = ("_params", "_prefix")

    def __init__(self, params: Mapping[str, str], prefix: str = "") -> None:
        self._params = params
        self._prefix = prefix

    def get(self, name: str) -> str | None:
        return self._params.get(self._prefix + name)

    def required(self, name: str) -> str:
        value = self.get(name)
        if value is None or value == "":
            raise Ec2Error(
                "MissingParameter",
                f"The request must contain the parameter {self._prefix}{name}",
            )
        return value

    def integer(
        self,
        name: str,
        *,
        default: int | None = None,
        minimum: int = -(2**31),
        maximum: int = 2**31 - 1,
    ) -> int | None:
        raw = self.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise Ec2Error(
                "InvalidParameterValue", f"Invalid value '{raw[:32]}' for {self._prefix}{name}"
            ) from None
        if not minimum <= value <= maximum:
            raise Ec2Error(
                "InvalidParameterValue",
                f"Value ({value}) for parameter {self._prefix}{name} is invalid. "
                f"It must be between {minimum} and {maximum}.",
            )
        return value

    def boolean(self, name: str, *, default: bool) -> bool:
        raw = self.get(name)
        if raw is None:
            return default
        if raw.lower() not in ("true", "false"):
            raise Ec2Error("InvalidParameterValue", f"Invalid boolean '{raw[:16]}' for {name}")
        return raw.lower() == "true"

    def view(self, prefix: str) -> Params:
        """The parameters under ``prefix`` within this view (``LaunchTemplateData.``)."""
        return Params(self._params, self._prefix + prefix)

    def names(self) -> list[str]:
        """The parameter names under this view's prefix, the prefix removed."""
        cut = len(self._prefix)
        return [key[cut:] for key in self._params if key.startswith(self._prefix)]

    def refuse_unhandled(
        self,
        action: str,
        handled: frozenset[str],
        harmless: Mapping[str, frozenset[str]] | None = None,
    ) -> None:
        """UnsupportedOperation for a parameter the action does not act on: one whose name is
        not ``handled`` (as a top-level name, or as its whole ``Struct.Member`` path) and is
        not a ``harmless`` path holding one of the values listed there
        (``DisableApiTermination``: ``false``), so that nothing asked of an instance or volume
        is dropped on the way."""
        harmless = harmless or {}
        for name in self.names():
            top = name.split(".", 1)[0]
            if top in _PROTOCOL_PARAMETERS or top in handled or name in handled:
                continue
            allowed = harmless.get(name)
            if allowed is not None and (self.get(name) or "").lower() in allowed:
                continue
            raise Ec2Error(
                "UnsupportedOperation",
                f"{action}: the parameter {name[:64]} is not supported here yet; leave it out",
            )

    def values(self, name: str) -> list[str]:
        """``Name.1``, ``Name.2``… in order (EC2's flattened list of strings)."""
        found: list[str] = []
        while (value := self.get(f"{name}.{len(found) + 1}")) is not None:
            found.append(value)
        return found

    def structs(self, name: str) -> list[Params]:
        """``Name.1.*``, ``Name.2.*``… as views (EC2's flattened list of structures)."""
        found: list[Params] = []
        while True:
            prefix = f"{self._prefix}{name}.{len(found) + 1}."
            if not any(key.startswith(prefix) for key in self._params):
                return found
            found.append(Params(self._params, prefix))

    def tags(self, name: str = "Tag") -> Tags:
        return tuple((t.required("Key"), t.get("Value") or "") for t in self.structs(name))

    def tag_specifications(self, resource_type: str) -> Tags:
        """The tags a ``TagSpecification.N`` names for ``resource_type``."""
        tags: list[tuple[str, str]] = []
        for spec in self.structs("TagSpecification"):
            kind = spec.required("ResourceType")
            if kind == resource_type:
                tags.extend(spec.tags())
        return tuple(tags)

    def filters(self) -> dict[str, list[str]]:
        """``Filter.N.Name`` → its ``Filter.N.Value.M`` values."""
        return {f.required("Name"): f.values("Value") for f in self.structs("Filter")}


class Allow(Protocol):
    """Authorises ``action`` on every one of ``resources`` for the caller, with the request
    condition keys ``keys`` besides the caller's own."""

    def __call__(
        self,
        action: str,
        resources: list[str],
        keys: Mapping[str, ContextValue] | None = None,
    ) -> Awaitable[None]: ...


@dataclass(slots=True)
class Call:
    """One action call: who, with what parameters, and the writer for its answer."""

    action: str
    params: Params
    principal: Principal
    tenant_id: str
    request_id: str
    compute: ComputeService
    region: str
    result: XmlWriter
    identity: IdentityService
    # Authorises a further action on resources for this caller (UnauthorizedOperation if
    # denied): what a call needs beyond its own ``ec2:`` action, as ``iam:PassRole``.
    allow: Allow
    # The resources authorised, for the audit record.
    context: dict[str, Any] = field(default_factory=dict)

    def arn(self, kind: str, resource_id: str = "*") -> str:
        return f"arn:aws:ec2:{self.region}:{self.tenant_id}:{kind}/{resource_id}"


Handler = Callable[[Call], Awaitable[None]]
# The ARNs of the resources a call acts on, from its parameters.
Resources = Callable[[Call], list[str]]
# Further resources a call acts on that only the store can name (a launch template named by
# its name), and the request's condition keys that come with them (``ec2:LaunchTemplate``).
Conditions = Callable[[Call], Awaitable[tuple[list[str], Mapping[str, ContextValue]]]]


@dataclass(frozen=True, slots=True)
class Action:
    handler: Handler
    mutating: bool
    resources: Resources | None = None  # None: "*"
    conditions: Conditions | None = None


def arn_of(kind: str, param: str) -> Resources:
    """The ARN of the ``kind`` resource a call names in its ``param`` (``kind/*`` without)."""
    return lambda call: [call.arn(kind, call.params.get(param) or "*")]
