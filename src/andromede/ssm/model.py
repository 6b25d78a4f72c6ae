"""Systems Manager Parameter Store's values and rules (decision 0229), pure: a parameter and
its versions, AWS's rules for names, tiers, data types and labels, the ``name:version`` /
``name:label`` selectors, and the ``ParameterFilters`` of DescribeParameters and
GetParametersByPath.

A parameter is named within its account's region; a name is either one segment (``db-url``)
or a path of up to fifteen levels (``/prod/db/url``), 2048 characters at most, made of
letters, digits and ``_.-``, never under the reserved ``aws``/``ssm`` prefixes. Each write
is a version (1, 2, …); labels name versions, one version per label.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final

from andromede.ssm.errors import (
    HierarchyLevelLimitExceeded,
    IncompatiblePolicy,
    InvalidFilterKey,
    InvalidFilterOption,
    InvalidFilterValue,
    InvalidPolicyAttribute,
    InvalidPolicyType,
    PoliciesLimitExceeded,
    ReservedName,
    ValidationError,
)

__all__ = [
    "MAX_LABELS",
    "MAX_LEVELS",
    "Parameter",
    "ParameterFilter",
    "ParameterType",
    "ParameterVersion",
    "Tier",
    "check_name",
    "check_path",
    "invalid_label",
    "matches",
    "parameter_arn",
    "parse_policies",
    "policy_actions",
    "split_selector",
]

MAX_LEVELS: Final = 15
MAX_NAME: Final = 2048
MAX_LABELS: Final = 10  # AWS: a version carries 10 labels at most
TEXT: Final = "text"
AMI: Final = "aws:ec2:image"
DATA_TYPES: Final = (TEXT, AMI)
_SEGMENT: Final = re.compile(r"[a-zA-Z0-9_.\-]+")
_LABEL: Final = re.compile(r"[a-zA-Z0-9_.\-]{1,100}")
_AMI_ID: Final = re.compile(r"ami-[0-9a-f]{8}([0-9a-f]{9})?")
_NAME_RULES: Final = (
    'Parameter name: can\'t be prefixed with "aws" or "ssm" (case-insensitive). If formed as '
    "a path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed "
    "as a mix of letters, numbers and the following 3 symbols .-_"
)


class ParameterType(StrEnum):
    STRING = "String"
    STRING_LIST = "StringList"
    SECURE_STRING = "SecureString"


class Tier(StrEnum):
    STANDARD = "Standard"
    ADVANCED = "Advanced"
    INTELLIGENT = "Intelligent-Tiering"  # asked for, never held: a write picks one of the two


def parameter_arn(region: str, account: str, name: str) -> str:
    """AWS's ARN: the name without its leading slash after ``parameter/``."""
    return f"arn:aws:ssm:{region}:{account}:parameter/{name.removeprefix('/')}"


@dataclass(frozen=True, slots=True)
class ParameterVersion:
    """One version: its value sealed (under the account's key ring, or a SecureString's KMS
    key) and what the write said of it."""

    tenant_id: str
    region: str
    name: str
    version: int
    type: ParameterType
    sealed: bytes
    modified: datetime
    modified_user: str
    tier: Tier = Tier.STANDARD
    data_type: str = TEXT
    key_id: str | None = None  # a SecureString's key, as the caller named it
    description: str | None = None
    allowed_pattern: str | None = None
    labels: tuple[str, ...] = ()
    policies: str | None = None  # the Policies JSON as written (decision 0229: Expiration)
    expires: datetime | None = None  # its Expiration policy's time

    @property
    def arn(self) -> str:
        return parameter_arn(self.region, self.tenant_id, self.name)

    @property
    def kms_key_id(self) -> str | None:
        """The key the envelope seals under (None: the account's ``alias/aws/ssm``)."""
        return self.key_id


@dataclass(frozen=True, slots=True)
class Parameter:
    """A parameter: its newest version, its tags, the revision a write checks, and when its
    next policy action is due (decision 0241: every action of the newest version's policies
    due at or after it is still to be taken; None, none)."""

    latest: ParameterVersion
    tags: tuple[tuple[str, str], ...] = ()
    revision: int = 1
    next_action: datetime | None = None

    @property
    def tenant_id(self) -> str:
        return self.latest.tenant_id

    @property
    def region(self) -> str:
        return self.latest.region

    @property
    def name(self) -> str:
        return self.latest.name

    @property
    def arn(self) -> str:
        return self.latest.arn


def check_name(name: str) -> None:
    """AWS's rules for a parameter's name (PutParameter's)."""
    bare = name.removeprefix("/")
    if bare.lower().startswith(("aws", "ssm")):
        if name.lower().startswith("/aws/") and name.count("/") > 1:
            raise ReservedName(f"No access to reserved parameter name: {name[:2048]}.")
        raise ValidationError(_NAME_RULES)
    if "/" in name and not name.startswith("/"):
        raise ValidationError("Parameter name must be a fully qualified name.")
    segments = bare.split("/")
    if not bare or not all(_SEGMENT.fullmatch(s) for s in segments):
        raise ValidationError(_NAME_RULES)
    if len(segments) > MAX_LEVELS:
        raise HierarchyLevelLimitExceeded(
            f"Parameter name: hierarchy level exceeds the max allowed level of {MAX_LEVELS}."
        )


def check_path(path: str) -> str:
    """A GetParametersByPath / Path filter's path, as a prefix ending in ``/``."""
    if path.lower().startswith(("/aws", "/ssm")) or not _path_ok(path):
        raise ValidationError(
            "The parameter doesn't meet the parameter name requirements. The parameter name "
            'must begin with a forward slash "/". It can\'t be prefixed with "aws" or "ssm" '
            "(case-insensitive). It must use only letters, numbers, or the following symbols: "
            ". (period), - (hyphen), _ (underscore). Special characters are not allowed. All "
            'sub-paths, if specified, must use the forward slash symbol "/". Valid example: '
            "/get/parameters2-/by1./path0_."
        )
    return path.rstrip("/") + "/"


def _path_ok(path: str) -> bool:
    if not path.startswith("/") or "//" in path:
        return False
    inner = path.strip("/")
    return not inner or all(_SEGMENT.fullmatch(s) for s in inner.split("/"))


def check_data_type(data_type: str, value: str) -> None:
    if data_type not in DATA_TYPES:
        raise ValidationError(
            f"The following data type is not supported: {data_type[:128]} (Data type names are "
            "all lowercase.)"
        )
    if data_type == AMI and not _AMI_ID.fullmatch(value):
        raise ValidationError(
            "Invalid formatted parameter value. Parameter value must be a valid Amazon Machine "
            "Image (AMI) ID of the format ami-12345678 or ami-1234567890abcdef0."
        )


def invalid_label(label: str) -> bool:
    """AWS's label rules: 1-100 of letters, digits and ``_.-``, not starting with a digit nor
    ``aws``/``ssm`` (case-insensitive)."""
    return (
        not _LABEL.fullmatch(label)
        or label[:1].isdigit()
        or label.lower().startswith(("aws", "ssm"))
    )


def split_selector(name: str) -> tuple[str, int | None, str | None]:
    """``name``, ``name:3`` or ``name:label`` → (name, version, label)."""
    base, sep, selector = name.partition(":")
    if not sep:
        return name, None, None
    if selector.isdigit():
        return base, int(selector), None
    return base, None, selector


# --- parameter policies ---------------------------------------------------------------------

MAX_POLICIES: Final = 10
EXPIRATION: Final = "Expiration"
EXPIRATION_NOTIFICATION: Final = "ExpirationNotification"
NO_CHANGE_NOTIFICATION: Final = "NoChangeNotification"
_NOTIFICATIONS: Final = {EXPIRATION_NOTIFICATION: "Before", NO_CHANGE_NOTIFICATION: "After"}
_UNITS: Final = {"Days": timedelta(days=1), "Hours": timedelta(hours=1)}


def parse_policies(text: str, now: datetime) -> tuple[str | None, datetime | None]:
    """A PutParameter's ``Policies``: (the text kept, None for ``[]``; the Expiration time).
    Expiration deletes the parameter; ExpirationNotification (``Before``) and
    NoChangeNotification (``After``), in ``Days`` or ``Hours``, send their events (decision
    0241)."""
    try:
        policies = json.loads(text)
    except ValueError:
        raise InvalidPolicyAttribute("The policies are not a JSON list of policies.") from None
    if not isinstance(policies, list):
        raise InvalidPolicyAttribute("The policies are not a JSON list of policies.")
    if len(policies) > MAX_POLICIES:
        raise PoliciesLimitExceeded(
            "You specified more than the maximum number of allowed policies for the parameter. "
            f"The maximum is {MAX_POLICIES}."
        )
    expires = None
    seen: set[str] = set()
    for policy in policies:
        kind = policy.get("Type") if isinstance(policy, dict) else None
        if kind not in (EXPIRATION, *_NOTIFICATIONS):
            raise InvalidPolicyType(f"The parameter policy type {str(kind)[:64]} is not valid.")
        assert isinstance(policy, dict)  # noqa: S101 (its Type was read)
        if kind in seen:
            raise IncompatiblePolicy(f"A parameter can have one {kind} policy.")
        seen.add(str(kind))
        attributes = policy.get("Attributes")
        if policy.get("Version", "1.0") != "1.0" or not isinstance(attributes, dict):
            raise InvalidPolicyAttribute(f"A {kind} policy needs Version 1.0 and Attributes.")
        if kind == EXPIRATION:
            expires = _expiration(attributes, now)
        else:
            _period(str(kind), attributes)
    return (text if policies else None), expires


def _expiration(attributes: dict[str, object], now: datetime) -> datetime:
    stamp = attributes.get("Timestamp")
    if not isinstance(stamp, str):
        raise InvalidPolicyAttribute("An Expiration policy needs a Timestamp attribute.")
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidPolicyAttribute(f"The Timestamp {stamp[:64]} is not valid.") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if when <= now:
        raise InvalidPolicyAttribute(
            f"The Timestamp {stamp[:64]} of the Expiration policy is not in the future."
        )
    return when


def _period(kind: str, attributes: dict[str, object]) -> timedelta:
    """A notification's ``Before``/``After`` and ``Unit`` as a duration."""
    field_name = _NOTIFICATIONS[kind]
    amount, unit = attributes.get(field_name), attributes.get("Unit")
    if (
        not isinstance(amount, str | int)
        or isinstance(amount, bool)
        or not str(amount).isdigit()
        or int(amount) < 1
    ):
        raise InvalidPolicyAttribute(
            f"The {field_name} attribute of a {kind} policy must be a positive whole number."
        )
    if unit not in _UNITS:
        raise InvalidPolicyAttribute(
            f"The Unit attribute of a {kind} policy must be one of Days, Hours."
        )
    return int(amount) * _UNITS[str(unit)]


def policy_actions(version: ParameterVersion) -> list[tuple[datetime, dict[str, object]]]:
    """When each of the version's policies acts, earliest first: its Expiration at its time,
    an ExpirationNotification ``Before`` it (none without an Expiration), a
    NoChangeNotification ``After`` the version was written."""
    if not version.policies:
        return []
    actions = []
    for policy in json.loads(version.policies):
        kind = policy["Type"]
        if kind == EXPIRATION and version.expires is not None:
            actions.append((version.expires, policy))
        elif kind == EXPIRATION_NOTIFICATION and version.expires is not None:
            actions.append((version.expires - _period(kind, policy["Attributes"]), policy))
        elif kind == NO_CHANGE_NOTIFICATION:
            actions.append((version.modified + _period(kind, policy["Attributes"]), policy))
    return sorted(actions, key=lambda action: (action[0], str(action[1]["Type"])))


# --- ParameterFilters -----------------------------------------------------------------------

# AWS: "For DescribeParameters, all of the listed patterns are valid except Label. For
# GetParametersByPath, the following patterns listed for Key aren't valid: tag, DataType,
# Name, Path, and Tier."
_KEYS: Final = ("Name", "Type", "KeyId", "Path", "Tier", "DataType")
_BY_PATH_KEYS: Final = ("Type", "KeyId", "Label")


@dataclass(frozen=True, slots=True)
class ParameterFilter:
    key: str
    option: str
    values: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def checked(
        cls, key: str, option: str | None, values: Sequence[str], *, by_path: bool
    ) -> ParameterFilter:
        """A filter as AWS accepts it, or its InvalidFilter* / validation error."""
        allowed = _BY_PATH_KEYS if by_path else _KEYS
        if key not in allowed and (by_path or not key.startswith("tag:")):
            raise InvalidFilterKey(
                f"The following filter key is not valid: {key[:132]}. Valid filter keys "
                f"include: [{', '.join(allowed)}]."
            )
        if key == "Path":
            option = option or "OneLevel"
            if option not in ("Recursive", "OneLevel"):
                raise InvalidFilterOption(
                    f"The following filter option is not valid: {option[:10]}. Valid options "
                    "include: [Recursive, OneLevel]."
                )
            for value in values:
                check_path(value)
        elif key.startswith("tag:"):
            option = option or "Equals"
            if option != "Equals":
                raise InvalidFilterOption(
                    f"The following filter option is not valid: {option[:10]}. Valid options "
                    "include: [Equals]."
                )
            return cls(key, option, tuple(values))
        else:
            option = option or "Equals"
            options = (
                ("BeginsWith", "Equals")
                if key not in ("Label", "Tier", "DataType")
                else ("Equals",)
            )
            if option not in options:
                raise InvalidFilterOption(
                    f"The following filter option is not valid: {option[:10]}. Valid options "
                    f"include: [{', '.join(options)}]."
                )
        if not values:
            raise InvalidFilterValue(
                f"The following filter values are missing : null for filter key {key}."
            )
        valid = {"Type": tuple(ParameterType), "Tier": (Tier.STANDARD, Tier.ADVANCED)}.get(key)
        for value in values:
            if valid is not None and value not in valid:
                raise InvalidFilterValue(
                    f"The following filter value is not valid: {value[:128]}. Valid values "
                    f"include: [{', '.join(valid)}]."
                )
        return cls(key, option, tuple(values))


def matches(parameter: Parameter, filters: Sequence[ParameterFilter]) -> bool:
    """Whether the parameter's newest version passes every filter (any value of each) but
    Label, which selects among its versions (``ParameterService.by_path``)."""
    latest = parameter.latest
    for f in filters:
        if f.key == "Label":
            # GetParametersByPath's: the service picks the version carrying the label.
            continue
        if f.key.startswith("tag:"):
            tag = dict(parameter.tags).get(f.key[4:])
            if tag is None or (f.values and tag not in f.values):
                return False
            continue
        if f.key == "Path":
            if not any(_under(latest.name, v, f.option == "Recursive") for v in f.values):
                return False
            continue
        seen = {
            "Name": "/" + latest.name.removeprefix("/"),
            "Type": str(latest.type),
            "KeyId": latest.key_id
            or ("alias/aws/ssm" if latest.type is ParameterType.SECURE_STRING else None),
            "Tier": str(latest.tier),
            "DataType": latest.data_type,
        }.get(f.key)
        if seen is None:
            return False
        wanted = ["/" + v.removeprefix("/") for v in f.values] if f.key == "Name" else f.values
        if f.option == "BeginsWith":
            if not any(seen.startswith(v) for v in wanted):
                return False
        elif seen not in wanted:
            return False
    return True


def _under(name: str, path: str, recursive: bool) -> bool:
    prefix = check_path(path)
    full = "/" + name.removeprefix("/") if prefix == "/" else name
    if not full.startswith(prefix):
        return False
    return recursive or "/" not in full[len(prefix) :]
