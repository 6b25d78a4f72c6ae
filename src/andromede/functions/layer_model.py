"""Lambda layers as values (decision 0302), no I/O: a layer version (its description,
compatible runtimes and architectures, licence, code digest and sizes, resource policy),
the rules AWS checks on layer names, version ARNs and filters, and what a function keeps of
each layer it uses (:class:`FunctionLayer`). The content itself, a zip sealed under the
layer's account's keys, is the store's.

A deleted layer version is kept as a tombstone (``deleted``): its number is never given
again, and the functions whose versions use it still run with its content, as AWS keeps
it for them."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Final, Protocol

from andromede.functions.errors import InvalidParameterValue

__all__ = [
    "ARCHITECTURES",
    "MAX_FUNCTION_LAYERS",
    "RUNTIMES",
    "FunctionLayer",
    "FunctionLayers",
    "LayerVersion",
    "LayerVersionArn",
    "check_layer_name",
    "check_list",
    "check_region",
    "layer_arn",
    "parse_layer_name",
    "parse_layer_version_arn",
    "version_number",
]

MAX_FUNCTION_LAYERS: Final = 5  # AWS's bound on a function's layers
# What CompatibleRuntimes may name (AWS's enumeration, the runtimes a layer may declare
# even where this host runs only its python3.x).
RUNTIMES: Final = frozenset(
    {
        "nodejs18.x", "nodejs20.x", "nodejs22.x", "python3.8", "python3.9", "python3.10",
        "python3.11", "python3.12", "python3.13", "java8.al2", "java11", "java17", "java21",
        "dotnet6", "dotnet8", "ruby3.2", "ruby3.3", "ruby3.4", "provided", "provided.al2",
        "provided.al2023",
    }
)  # fmt: skip
ARCHITECTURES: Final = frozenset({"x86_64", "arm64"})
_NAME: Final = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_LAYER_ARN: Final = re.compile(
    r"arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):layer:"
    r"(?P<name>[a-zA-Z0-9_-]{1,64})"
)
_VERSION_ARN: Final = re.compile(_LAYER_ARN.pattern + r":(?P<version>[0-9]{1,10})")


@dataclass(frozen=True, slots=True)
class LayerVersionArn:
    region: str
    account: str
    name: str
    version: int


def layer_arn(region: str, account: str, name: str, version: int | None = None) -> str:
    arn = f"arn:aws:lambda:{region}:{account}:layer:{name}"
    return arn if version is None else f"{arn}:{version}"


def check_layer_name(value: object) -> str:
    if not isinstance(value, str) or _NAME.fullmatch(value) is None:
        raise InvalidParameterValue(
            f"1 validation error detected: Value '{str(value)[:140]}' at 'layerName' failed to "
            "satisfy constraint: Member must satisfy regular expression pattern: "
            "(arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+)|"
            "[a-zA-Z0-9-_]+"
        )
    return value


def parse_layer_name(value: object, region: str) -> tuple[str | None, str]:
    """A ``LayerName`` (a name or the layer's ARN, of ``region``): (the ARN's account or
    None, the name)."""
    if isinstance(value, str):
        found = _LAYER_ARN.fullmatch(value)
        if found is not None:
            check_region(found["region"], region)
            return found["account"], found["name"]
    return None, check_layer_name(value)


def check_region(named: str, region: str) -> None:
    if named != region:
        raise InvalidParameterValue(f"The layer ARN names Region {named}, not {region}")


def version_number(value: object) -> int:
    """A ``VersionNumber``: a layer's versions are numbered from 1."""
    try:
        number = int(str(value))
    except ValueError:
        number = 0
    if not 1 <= number <= 2**31:
        raise InvalidParameterValue("VersionNumber must be a version of the layer, from 1")
    return number


def parse_layer_version_arn(value: object) -> LayerVersionArn:
    found = _VERSION_ARN.fullmatch(value) if isinstance(value, str) else None
    if found is None or int(found["version"]) < 1:
        raise InvalidParameterValue(
            f"1 validation error detected: Value '{str(value)[:140]}' at 'arn' failed to "
            "satisfy constraint: Member must satisfy regular expression pattern: "
            "(arn:(aws[a-zA-Z-]*)?:lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:"
            "\\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+)"
        )
    return LayerVersionArn(found["region"], found["account"], found["name"], int(found["version"]))


def check_list(value: object, allowed: frozenset[str], field: str, limit: int) -> tuple[str, ...]:
    """``CompatibleRuntimes`` / ``CompatibleArchitectures``: at most ``limit`` known names."""
    if value is None:
        return ()
    if (
        not isinstance(value, list)
        or len(value) > limit
        or not all(isinstance(v, str) and v in allowed for v in value)
    ):
        raise InvalidParameterValue(
            f"1 validation error detected: Value '{str(value)[:256]}' at '{field}' failed to "
            f"satisfy constraint: Member must have length less than or equal to {limit}, and "
            f"each member must be one of {sorted(allowed)}"
        )
    return tuple(dict.fromkeys(value))


@dataclass(frozen=True, slots=True)
class LayerVersion:
    """One published version of a layer, never changed but for its policy (guarded by
    ``policy_revision``) and its deletion."""

    tenant_id: str
    name: str
    version: int
    code_sha256: str  # base64 of the zip's SHA-256, as AWS gives it
    code_size: int
    unzipped_size: int
    created: int  # ms
    description: str = ""
    runtimes: tuple[str, ...] = ()
    architectures: tuple[str, ...] = ()
    license_info: str = ""
    policy: str | None = None
    policy_revision: str = ""
    deleted: bool = False
    # The content's signature when it carries one (decision 0394; judged where it is used).
    signing_profile_version_arn: str = ""
    signing_job_arn: str = ""

    def replaced(self, **fields: object) -> LayerVersion:
        return replace(self, **fields)  # type: ignore[arg-type]

    def matches(self, runtime: str | None, architecture: str | None) -> bool:
        """Whether ListLayers' and ListLayerVersions' filters keep it."""
        return (runtime is None or runtime in self.runtimes) and (
            architecture is None or architecture in self.architectures
        )


@dataclass(frozen=True, slots=True)
class FunctionLayer:
    """A layer version a function version uses: its ARN, zipped size (``Layers[].CodeSize``)
    and unzipped size (counted with the function's against AWS's 250 MB), and its content's
    signature (``Layers[].SigningProfileVersionArn``/``SigningJobArn``, decision 0394)."""

    arn: str
    code_size: int
    unzipped_size: int
    signing_profile_version_arn: str = ""
    signing_job_arn: str = ""


class FunctionLayers(Protocol):
    """What the functions service asks of the layers (``functions.layer_service``)."""

    async def attach(self, tenant_id: str, arns: object) -> tuple[FunctionLayer, ...]:
        """The layer versions ``arns`` names for a function of ``tenant_id``, in order;
        InvalidParameterValue for more than the bound, a malformed ARN, one of another
        Region, or a version that does not exist (or was deleted)."""
        ...

    async def contents(self, layers: tuple[FunctionLayer, ...]) -> list[bytes]:
        """The layers' zips, in order (a deleted version's too)."""
        ...

    async def grants(self, arn: object) -> tuple[str, str, LayerVersion | None]:
        """(the version's ARN, its account, the live version or None): what authorising
        ``lambda:GetLayerVersion`` on it needs, its policy the version's."""
        ...

    async def stored_bytes(self, tenant_id: str) -> int:
        """The account's live layer versions' zipped sizes (its code storage)."""
        ...
