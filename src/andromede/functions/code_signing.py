"""Lambda's code signing (decision 0386): code signing configurations (the signing profile
versions allowed to publish, and what to do with untrusted code: ``Warn`` or ``Enforce``),
the one a function uses, and the check of a code package at CreateFunction and
UpdateFunctionCode, and of each layer version a function is given while it uses a
configuration (AWS: "any layers that you add to the function must also be signed by an
allowed signing profile"; decision 0394), as AWS makes it:

- integrity (the package changed since it was signed, or its signature is malformed or was
  not made with its profile version's key): ``InvalidCodeSignatureException``, whatever the
  policy;
- no signature, a signature by a profile version not allowed (mismatch), an expired one, or
  a revoked one (its job's signature, or its profile from a time before it): under
  ``Enforce`` ``CodeVerificationFailedException``; under ``Warn`` the code is deployed and a
  warning logged, naming the function and why.

The signatures are read by a :data:`SignatureReader` (AWS Signer's, given by the wiring), so
this context knows nothing of the signer's keys."""

from __future__ import annotations

import logging
import re
import secrets
import string
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, Final, Protocol

from andromede.functions.errors import (
    CodeSigningConfigNotFound,
    CodeVerificationFailed,
    InvalidCodeSignature,
    InvalidParameterValue,
    ResourceConflict,
)

__all__ = [
    "CodeSignature",
    "CodeSigning",
    "CodeSigningConfig",
    "CodeSigningStore",
    "MemoryCodeSigningStore",
    "SignatureReader",
]

logger = logging.getLogger(__name__)

_ID_ALPHABET: Final = string.ascii_lowercase + string.digits
_CONFIG_ARN: Final = re.compile(
    r"arn:aws:lambda:(?P<region>[^:]+):(?P<account>[^:]+):code-signing-config:"
    r"(?P<id>csc-[a-z0-9]{17})"
)
_VERSION_ARN: Final = re.compile(r"arn:aws:signer:[^:]+:[^:]+:/signing-profiles/[^/]+/[^/]+")
_POLICIES: Final = ("Warn", "Enforce")
_MAX_PUBLISHERS: Final = 20


@dataclass(frozen=True, slots=True)
class CodeSignature:
    """A package's signature whose integrity was proven, as the signer reads it."""

    profile_version_arn: str
    job_arn: str
    signed_at: int  # epoch seconds
    expires_at: int
    revoked: str | None


# The signature a package carries (None: none); InvalidCodeSignature when it fails integrity.
SignatureReader = Callable[[bytes], Awaitable[CodeSignature | None]]


@dataclass(frozen=True, slots=True)
class CodeSigningConfig:
    tenant_id: str
    config_id: str
    publishers: tuple[str, ...]
    policy: str  # Warn or Enforce
    description: str
    last_modified: int  # epoch ms

    def replaced(self, **changes: Any) -> CodeSigningConfig:
        return replace(self, **changes)


class CodeSigningStore(Protocol):
    async def put(self, config: CodeSigningConfig) -> None: ...

    async def get(self, tenant_id: str, config_id: str) -> CodeSigningConfig | None: ...

    async def configs(self, tenant_id: str) -> list[CodeSigningConfig]:
        """The account's configurations, by id."""
        ...

    async def delete(self, tenant_id: str, config_id: str) -> None: ...

    async def attach(self, tenant_id: str, name: str, config_id: str) -> None: ...

    async def attached(self, tenant_id: str, name: str) -> str | None: ...

    async def detach(self, tenant_id: str, name: str) -> None: ...

    async def functions(self, tenant_id: str, config_id: str) -> list[str]:
        """The names of the account's functions using the configuration, sorted."""
        ...

    async def forget_tenant(self, tenant_id: str) -> int: ...


class MemoryCodeSigningStore:
    def __init__(self) -> None:
        self._configs: dict[tuple[str, str], CodeSigningConfig] = {}
        self._attached: dict[tuple[str, str], str] = {}

    async def put(self, config: CodeSigningConfig) -> None:
        self._configs[(config.tenant_id, config.config_id)] = config

    async def get(self, tenant_id: str, config_id: str) -> CodeSigningConfig | None:
        return self._configs.get((tenant_id, config_id))

    async def configs(self, tenant_id: str) -> list[CodeSigningConfig]:
        return sorted(
            (c for c in self._configs.values() if c.tenant_id == tenant_id),
            key=lambda c: c.config_id,
        )

    async def delete(self, tenant_id: str, config_id: str) -> None:
        self._configs.pop((tenant_id, config_id), None)

    async def attach(self, tenant_id: str, name: str, config_id: str) -> None:
        self._attached[(tenant_id, name)] = config_id

    async def attached(self, tenant_id: str, name: str) -> str | None:
        return self._attached.get((tenant_id, name))

    async def detach(self, tenant_id: str, name: str) -> None:
        self._attached.pop((tenant_id, name), None)

    async def functions(self, tenant_id: str, config_id: str) -> list[str]:
        return sorted(
            n for (t, n), c in self._attached.items() if t == tenant_id and c == config_id
        )

    async def forget_tenant(self, tenant_id: str) -> int:
        configs = [k for k in self._configs if k[0] == tenant_id]
        attached = [k for k in self._attached if k[0] == tenant_id]
        for key in configs:
            del self._configs[key]
        for key in attached:
            del self._attached[key]
        return len(configs) + len(attached)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _publishers(value: object) -> tuple[str, ...]:
    arns = value.get("SigningProfileVersionArns") if isinstance(value, dict) else None
    if (
        not isinstance(arns, list)
        or not 1 <= len(arns) <= _MAX_PUBLISHERS
        or not all(isinstance(a, str) and _VERSION_ARN.fullmatch(a) for a in arns)
    ):
        raise InvalidParameterValue(
            "AllowedPublishers.SigningProfileVersionArns must list 1 to 20 signing profile "
            "version ARNs"
        )
    return tuple(dict.fromkeys(arns))


def _policy(value: object, default: str) -> str:
    if value is None:
        return default
    policy = (
        value.get("UntrustedArtifactOnDeployment", default) if isinstance(value, dict) else None
    )
    if policy not in _POLICIES:
        raise InvalidParameterValue(
            "CodeSigningPolicies.UntrustedArtifactOnDeployment must be Warn or Enforce"
        )
    return str(policy)


def _description(value: object, default: str) -> str:
    if value is None:
        return default
    if not isinstance(value, str) or len(value) > 256:
        raise InvalidParameterValue("Description must be a string of at most 256 characters")
    return value


class CodeSigning:
    def __init__(
        self,
        store: CodeSigningStore,
        region: str,
        reader: SignatureReader,
        max_configs: int = 100,
        clock: Callable[[], int] = _now_ms,
    ) -> None:
        self.store = store
        self.region = region
        self._reader = reader
        self._max_configs = max_configs
        self._clock = clock

    def arn(self, config: CodeSigningConfig) -> str:
        return (
            f"arn:aws:lambda:{self.region}:{config.tenant_id}:code-signing-config:"
            f"{config.config_id}"
        )

    def config_id(self, tenant_id: str, arn: object) -> str:
        """The id an ARN of the account's names; CodeSigningConfigNotFound otherwise (another
        account's configuration is not the caller's to use)."""
        found = _CONFIG_ARN.fullmatch(arn) if isinstance(arn, str) else None
        if found is None:
            raise InvalidParameterValue("CodeSigningConfigArn is not a code signing config ARN")
        if found["account"] != tenant_id or found["region"] != self.region:
            raise CodeSigningConfigNotFound(f"Code signing config not found: {arn}")
        return found["id"]

    async def create(self, tenant_id: str, params: dict[str, Any]) -> CodeSigningConfig:
        if params.get("Tags"):
            raise InvalidParameterValue(
                "Tags on a code signing configuration are not supported by this Lambda yet"
            )
        if len(await self.store.configs(tenant_id)) >= self._max_configs:
            raise InvalidParameterValue(
                f"An account holds at most {self._max_configs} code signing configurations"
            )
        config = CodeSigningConfig(
            tenant_id=tenant_id,
            config_id="csc-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(17)),
            publishers=_publishers(params.get("AllowedPublishers")),
            policy=_policy(params.get("CodeSigningPolicies"), "Warn"),
            description=_description(params.get("Description"), ""),
            last_modified=self._clock(),
        )
        await self.store.put(config)
        return config

    async def get(self, tenant_id: str, arn: object) -> CodeSigningConfig:
        config_id = self.config_id(tenant_id, arn)
        found = await self.store.get(tenant_id, config_id)
        if found is None:
            raise CodeSigningConfigNotFound(f"Code signing config not found: {arn}")
        return found

    async def update(
        self, tenant_id: str, arn: object, params: dict[str, Any]
    ) -> CodeSigningConfig:
        current = await self.get(tenant_id, arn)
        publishers = params.get("AllowedPublishers")
        changed = current.replaced(
            publishers=current.publishers if publishers is None else _publishers(publishers),
            policy=_policy(params.get("CodeSigningPolicies"), current.policy),
            description=_description(params.get("Description"), current.description),
            last_modified=self._clock(),
        )
        await self.store.put(changed)
        return changed

    async def delete(self, tenant_id: str, arn: object) -> None:
        config = await self.get(tenant_id, arn)
        if await self.store.functions(tenant_id, config.config_id):
            raise ResourceConflict(
                "The code signing configuration cannot be deleted because it is used by one or "
                "more functions"
            )
        await self.store.delete(tenant_id, config.config_id)

    async def attach(self, tenant_id: str, name: str, arn: object) -> CodeSigningConfig:
        config = await self.get(tenant_id, arn)
        await self.store.attach(tenant_id, name, config.config_id)
        return config

    async def attached(self, tenant_id: str, name: str) -> CodeSigningConfig | None:
        config_id = await self.store.attached(tenant_id, name)
        return None if config_id is None else await self.store.get(tenant_id, config_id)

    async def check(
        self, tenant_id: str, name: str, data: bytes, config_arn: str | None = None
    ) -> CodeSignature | None:
        """Judge a code package deployed to the function: under ``config_arn`` when given (a
        CreateFunction's), else under the configuration the function uses (none: nothing to
        check). The package's signature, whatever the judgement under ``Warn`` (GetFunction
        answers its profile version and job); None when unsigned or nothing judges it."""
        config = await self._judge_under(tenant_id, name, config_arn)
        if config is None:
            return None
        return await self._judge(config, tenant_id, name, data, "the code package")

    async def signature_of(self, data: bytes) -> CodeSignature | None:
        """The signature a package carries, not judged (PublishLayerVersion shows a layer's,
        decision 0394); None for none, or for one that fails integrity: a layer is judged,
        and refused, where a function uses it."""
        try:
            return await self._reader(data)
        except InvalidCodeSignature:
            return None

    async def check_layers(
        self,
        tenant_id: str,
        name: str,
        layers: list[tuple[str, bytes]],
        config_arn: str | None = None,
    ) -> None:
        """Judge each layer version (ARN, content) added to the function as its code is
        judged, under the same configuration (decision 0394)."""
        config = await self._judge_under(tenant_id, name, config_arn) if layers else None
        if config is None:
            return
        for arn, content in layers:
            await self._judge(config, tenant_id, name, content, f"the layer version {arn}")

    async def _judge_under(
        self, tenant_id: str, name: str, config_arn: str | None
    ) -> CodeSigningConfig | None:
        if config_arn is None:
            return await self.attached(tenant_id, name)
        return await self.get(tenant_id, config_arn)

    async def _judge(
        self, config: CodeSigningConfig, tenant_id: str, name: str, data: bytes, what: str
    ) -> CodeSignature | None:
        signature = await self._reader(data)  # InvalidCodeSignature: refused whatever the policy
        now = self._clock() // 1000
        if signature is None:
            why = f"{what} is not signed"
        elif signature.profile_version_arn not in config.publishers:
            why = f"{what} was not signed by an allowed signing profile version"
        elif now >= signature.expires_at:
            why = f"{what}'s signature has expired"
        elif signature.revoked is not None:
            why = f"{what}'s signature was revoked: {signature.revoked}"
        else:
            return signature
        if config.policy == "Enforce":
            raise CodeVerificationFailed(f"Lambda cannot deploy the function: {why}")
        logger.warning(
            "code signing (Warn) of %s:%s in %s: %s", tenant_id, name, self.arn(config), why
        )
        return signature
