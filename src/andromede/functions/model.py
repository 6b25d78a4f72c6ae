"""Lambda's functions as values (decision 0286), no I/O: a function's account-level record
(tags, aliases, resource policies, reserved concurrency, its version counter), each of its
versions' configuration (``$LATEST`` and the published ones), and the rules AWS checks on
their names, ARNs, handlers, timeouts, memory sizes and environments.

A version's environment variables are customer data: the model holds them sealed
(``sealed_environment``), the service opens them for those allowed to read them."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Final

from andromede.functions.errors import InvalidParameterValue
from andromede.functions.layer_model import FunctionLayer

__all__ = [
    "LATEST",
    "Alias",
    "FunctionRecord",
    "FunctionVersion",
    "NamedFunction",
    "check_alias_name",
    "check_handler",
    "check_memory",
    "check_timeout",
    "function_arn",
    "parse_function_name",
]

LATEST: Final = "$LATEST"
MIN_MEMORY: Final = 128
MAX_MEMORY: Final = 10_240
MAX_TIMEOUT: Final = 900
_NAME: Final = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_QUALIFIER: Final = re.compile(r"\$LATEST|[a-zA-Z0-9_-]{1,128}")
_ALIAS: Final = re.compile(r"(?!^[0-9]+$)[a-zA-Z0-9_-]{1,128}")
# module.function, the module possibly in a folder (``src/app.handler``), as AWS's pattern.
_HANDLER: Final = re.compile(r"[^\s]{1,128}")
_FULL_ARN: Final = re.compile(
    r"arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):function:"
    r"(?P<name>[^:]+)(?::(?P<qualifier>[^:]+))?"
)
_PARTIAL_ARN: Final = re.compile(
    r"(?P<account>\d{12}):function:(?P<name>[^:]+)(?::(?P<qualifier>[^:]+))?"
)


@dataclass(frozen=True, slots=True)
class NamedFunction:
    """What a ``FunctionName`` parameter names: the name, the account and Region an ARN gave,
    and the qualifier (version or alias) an ARN or the name's ``:qualifier`` suffix gave."""

    name: str
    account: str | None = None
    region: str | None = None
    qualifier: str | None = None


def parse_function_name(value: object, *, qualifier: object = None) -> NamedFunction:
    """A ``FunctionName`` (a name, ``name:qualifier``, a partial or full ARN) as AWS reads it;
    ``qualifier`` (the ``Qualifier`` parameter) must agree with the one it carries."""
    if not isinstance(value, str) or not value or len(value) > 170:
        raise InvalidParameterValue("FunctionName must be a name or ARN of 1 to 170 characters")
    found = _FULL_ARN.fullmatch(value) or _PARTIAL_ARN.fullmatch(value)
    if found is not None:
        groups = found.groupdict()
        named = NamedFunction(
            groups["name"], groups["account"], groups.get("region"), groups["qualifier"]
        )
    elif ":" in value:
        name, _, suffix = value.partition(":")
        named = NamedFunction(name, qualifier=suffix)
    else:
        named = NamedFunction(value)
    if _NAME.fullmatch(named.name) is None:
        raise InvalidParameterValue(
            f"1 validation error detected: Value '{value[:170]}' at 'functionName' failed to "
            "satisfy constraint: Member must satisfy regular expression pattern: "
            "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?"
            "(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
        )
    if qualifier is not None:
        if not isinstance(qualifier, str) or _QUALIFIER.fullmatch(qualifier) is None:
            raise InvalidParameterValue("Qualifier must be $LATEST, a version or an alias name")
        if named.qualifier is not None and named.qualifier != qualifier:
            raise InvalidParameterValue(
                "The derived qualifier from the function name does not match the specified "
                "qualifier."
            )
        named = replace(named, qualifier=qualifier)
    if named.qualifier is not None and _QUALIFIER.fullmatch(named.qualifier) is None:
        raise InvalidParameterValue("The qualifier must be $LATEST, a version or an alias name")
    return named


def function_arn(region: str, account: str, name: str, qualifier: str | None = None) -> str:
    arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
    return arn if qualifier is None else f"{arn}:{qualifier}"


def check_handler(value: object) -> str:
    if not isinstance(value, str) or _HANDLER.fullmatch(value) is None or "." not in value:
        raise InvalidParameterValue(
            "Handler must be module.function, at most 128 characters without spaces"
        )
    return value


def check_timeout(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TIMEOUT:
        raise InvalidParameterValue(
            f"1 validation error detected: Value '{value}' at 'timeout' failed to satisfy "
            f"constraint: Member must have value between 1 and {MAX_TIMEOUT}"
        )
    return value


def check_memory(value: object) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not MIN_MEMORY <= value <= MAX_MEMORY
    ):
        raise InvalidParameterValue(
            f"1 validation error detected: Value '{value}' at 'memorySize' failed to satisfy "
            f"constraint: Member must have value between {MIN_MEMORY} and {MAX_MEMORY}"
        )
    return value


def check_alias_name(value: object) -> str:
    if not isinstance(value, str) or _ALIAS.fullmatch(value) is None:
        raise InvalidParameterValue(
            "An alias name is 1 to 128 letters, digits, hyphens or underscores, not only digits"
        )
    return value


@dataclass(frozen=True, slots=True)
class Alias:
    name: str
    version: str
    description: str = ""
    revision_id: str = ""
    # RoutingConfig's AdditionalVersionWeights: (version, weight) pairs.
    weights: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True, slots=True)
class FunctionVersion:
    """One version's configuration: ``$LATEST`` (changed in place, guarded by its
    ``revision_id``) or a published number (never changed)."""

    tenant_id: str
    name: str
    version: str
    runtime: str
    role: str
    handler: str
    code_sha256: str  # base64 of the zip's SHA-256, as AWS gives it
    code_size: int
    revision_id: str
    last_modified: int  # ms
    description: str = ""
    timeout: int = 3
    memory_size: int = 128
    architectures: tuple[str, ...] = ("x86_64",)
    sealed_environment: bytes = b""
    ephemeral_storage: int = 512
    dead_letter_target: str = ""  # DeadLetterConfig's TargetArn (decision 0300)
    layers: tuple[FunctionLayer, ...] = ()  # decision 0302, in the order they merge
    # The deployed package's signature, when it carries one (code signing, decision 0394).
    signing_profile_version_arn: str = ""
    signing_job_arn: str = ""

    def replaced(self, **fields: object) -> FunctionVersion:
        return replace(self, **fields)  # type: ignore[arg-type]

    def same_as(self, other: FunctionVersion) -> bool:
        """Whether publishing ``self`` would repeat ``other``: same code and configuration,
        as AWS compares them before it makes a new version."""
        return self.code_sha256 == other.code_sha256 and self.settings() == other.settings()

    def settings(self) -> tuple[object, ...]:
        return (
            self.runtime,
            self.role,
            self.handler,
            self.description,
            self.timeout,
            self.memory_size,
            self.architectures,
            self.sealed_environment,
            self.ephemeral_storage,
            self.dead_letter_target,
            tuple(layer.arn for layer in self.layers),
        )


@dataclass(frozen=True, slots=True)
class FunctionRecord:
    """What a function holds beside its versions, written whole by compare-and-set on
    ``version``: tags, aliases, the resource policy of each qualifier ("" for the function
    itself), reserved concurrency, the recursive loop setting (decision 0328) and the last
    version number published."""

    tenant_id: str
    name: str
    created: int  # ms
    tags: tuple[tuple[str, str], ...] = ()
    aliases: tuple[Alias, ...] = ()
    policies: tuple[tuple[str, str], ...] = ()  # (qualifier or "", policy JSON)
    reserved_concurrency: int | None = None
    recursive_loop: str = "Terminate"  # AWS's default (functions.lineage)
    last_version: int = 0
    version: int = 1

    def replaced(self, **fields: object) -> FunctionRecord:
        return replace(self, version=self.version + 1, **fields)  # type: ignore[arg-type]

    def alias(self, name: str) -> Alias | None:
        return next((a for a in self.aliases if a.name == name), None)

    def policy(self, qualifier: str) -> str | None:
        return next((p for q, p in self.policies if q == qualifier), None)
