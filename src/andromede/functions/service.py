"""Lambda's functions (decision 0286): the one public entry of the context. Creates,
changes, publishes and deletes functions over a :class:`FunctionStore`, sealing their code
and environments under the account's keys (a :class:`Sealer`) before they are kept, and
checking what AWS checks: the runtime one this host can run, the role one of the account's
trusting ``lambda.amazonaws.com`` (a :class:`RoleCheck`), the code a readable zip within the
bounds, the account's code storage, the ``RevisionId`` a caller names.

Aliases, resource policies, tags and reserved concurrency are the function's record's,
kept by ``functions.record_service``."""

from __future__ import annotations

import base64
import binascii
import io
import re
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from andromede.functions.code import CodeLimits, checked_zip, code_sha256
from andromede.functions.code_signing import CodeSignature, CodeSigning
from andromede.functions.environment import checked_variables, decoded, encoded
from andromede.functions.errors import (
    CodeStorageExceeded,
    FunctionChanged,
    InvalidParameterValue,
    PreconditionFailed,
    ResourceConflict,
    ResourceNotFound,
)
from andromede.functions.invoke_configs import DestinationCheck, checked_dead_letter
from andromede.functions.layer_model import FunctionLayer, FunctionLayers
from andromede.functions.model import (
    LATEST,
    FunctionRecord,
    FunctionVersion,
    check_handler,
    check_memory,
    check_timeout,
    function_arn,
    parse_function_name,
)
from andromede.functions.store import FunctionStore

__all__ = [
    "LAMBDA_PRINCIPAL",
    "CodeSource",
    "FunctionLimits",
    "FunctionsService",
    "RoleCheck",
    "Sealer",
]

LAMBDA_PRINCIPAL: Final = "lambda.amazonaws.com"
_ROLE: Final = re.compile(r"arn:aws[a-zA-Z-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+")
_NOT_SERVED: Final = (
    "Layers",
    "VpcConfig",
    "KMSKeyArn",
    "TracingConfig",
    "FileSystemConfigs",
    "ImageConfig",
    "SnapStart",
    "LoggingConfig",
)
_DEFAULT_PAGE: Final = 50
_MAX_PAGE: Final = 10_000
_RETRIES: Final = 8


class RoleCheck(Protocol):
    async def __call__(self, tenant_id: str, role_arn: str) -> bool:
        """Whether the role exists in the account and trusts ``lambda.amazonaws.com``."""
        ...


class Sealer(Protocol):
    """Seals under the account's keys; ``context`` binds the ciphertext to its place."""

    async def seal(self, tenant_id: str, plaintext: bytes, context: bytes) -> bytes: ...

    async def open(self, tenant_id: str, sealed: bytes, context: bytes) -> bytes: ...


class CodeSource(Protocol):
    async def __call__(
        self, caller: object, tenant_id: str, bucket: str, key: str, version: str | None
    ) -> bytes:
        """The object's bytes, read as ``caller`` (InvalidParameterValue when it cannot)."""
        ...


@dataclass(frozen=True, slots=True)
class FunctionLimits:
    runtimes: tuple[str, ...] = ("python3.11",)
    code: CodeLimits = field(default_factory=CodeLimits)
    max_code_storage: int = 75 * 1024**3
    max_environment_bytes: int = 4096
    max_policy_bytes: int = 20_480
    concurrency_limit: int = 1000
    max_tags: int = 50


def _now() -> int:
    return int(time.time() * 1000)


def page_token(name: str) -> str:
    return base64.urlsafe_b64encode(f"fn1:{name}".encode()).decode()


def after_token(token: object) -> str | None:
    if token is None or token == "":
        return None
    try:
        text = base64.urlsafe_b64decode(str(token).encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    if not text.startswith("fn1:"):
        raise InvalidParameterValue("Invalid Marker")
    return text[4:]


def page_size(value: object) -> int:
    if value is None:
        return _DEFAULT_PAGE
    try:
        size = int(str(value))
    except ValueError:
        size = 0
    if not 1 <= size <= _MAX_PAGE:
        raise InvalidParameterValue(f"MaxItems must be between 1 and {_MAX_PAGE}")
    return size


def _text(params: dict[str, Any], name: str, limit: int, default: str = "") -> str:
    value = params.get(name, default)
    if value is None:
        return default
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidParameterValue(f"{name} must be a string of at most {limit} characters")
    return value


class FunctionsService:
    def __init__(
        self,
        store: FunctionStore,
        region: str,
        sealer: Sealer,
        roles: RoleCheck,
        limits: FunctionLimits | None = None,
        code_source: CodeSource | None = None,
        clock: Callable[[], int] = _now,
        dead_letter_check: DestinationCheck | None = None,
    ) -> None:
        self.store = store
        self.region = region
        self.limits = limits or FunctionLimits()
        self._sealer = sealer
        self._roles = roles
        self._code_source = code_source
        self._clock = clock
        # The execution role's right to send to a DeadLetterConfig's target (decision 0300).
        self._dead_letter_check = dead_letter_check
        # The account's layers (decision 0302), set by the wiring; without them a function's
        # ``Layers`` are refused.
        self.layers: FunctionLayers | None = None
        # Code signing (decision 0386), set by the wiring; without it a CodeSigningConfigArn
        # is refused.
        self.code_signing: CodeSigning | None = None

    def arn(self, tenant_id: str, name: str, qualifier: str | None = None) -> str:
        return function_arn(self.region, tenant_id, name, qualifier)

    # -- reading ------------------------------------------------------------------------

    async def record(self, tenant_id: str, name: str) -> FunctionRecord:
        found = await self.store.get(tenant_id, name)
        if found is None:
            raise ResourceNotFound(f"Function not found: {self.arn(tenant_id, name)}")
        return found

    async def resolve(
        self, tenant_id: str, name: str, qualifier: str | None
    ) -> tuple[FunctionRecord, FunctionVersion]:
        """The function and the version ``qualifier`` names (a version, an alias, or
        ``$LATEST`` when None)."""
        record = await self.record(tenant_id, name)
        wanted = qualifier or LATEST
        alias = record.alias(wanted)
        number = alias.version if alias is not None else wanted
        found = await self.store.version(tenant_id, name, number)
        if found is None:
            raise ResourceNotFound(f"Function not found: {self.arn(tenant_id, name, wanted)}")
        return record, found

    async def environment(self, version: FunctionVersion) -> dict[str, str]:
        if not version.sealed_environment:
            return {}
        opened = await self._sealer.open(
            version.tenant_id, version.sealed_environment, _environment_context(version)
        )
        return decoded(opened)

    async def code(self, version: FunctionVersion) -> bytes:
        return await self.code_by_sha(version.tenant_id, version.name, version.code_sha256)

    async def code_by_sha(self, tenant_id: str, name: str, sha: str) -> bytes:
        """The zip kept for the function under ``sha`` (while a version uses it)."""
        sealed = await self.store.code(tenant_id, name, sha)
        if sealed is None:
            raise ResourceNotFound(f"The code of {self.arn(tenant_id, name)}")
        return await self._sealer.open(tenant_id, sealed, _code_context(tenant_id, name, sha))

    async def seal(self, tenant_id: str, data: bytes, context: bytes) -> bytes:
        """Customer data of the account (a queued event's payload) sealed under its keys."""
        return await self._sealer.seal(tenant_id, data, context)

    async def open(self, tenant_id: str, sealed: bytes, context: bytes) -> bytes:
        return await self._sealer.open(tenant_id, sealed, context)

    async def list_latest(
        self, tenant_id: str, marker: object, max_items: object
    ) -> tuple[list[FunctionVersion], str | None]:
        after = after_token(marker)
        size = page_size(max_items)
        found = [
            v
            for v in await self.store.latest_versions(tenant_id)
            if after is None or v.name > after
        ]
        page = found[:size]
        return page, page_token(page[-1].name) if len(found) > size else None

    # -- creating and changing ------------------------------------------------------------

    async def create(
        self, caller: object, tenant_id: str, params: dict[str, Any]
    ) -> tuple[FunctionRecord, FunctionVersion]:
        named = parse_function_name(params.get("FunctionName"))
        if named.qualifier is not None or (named.account not in (None, tenant_id)):
            raise InvalidParameterValue("FunctionName must name a function of your account")
        name = named.name
        _refuse_not_served(params, self.layers is not None)
        if params.get("PackageType", "Zip") != "Zip":
            raise InvalidParameterValue("Only Zip packages are supported by this Lambda yet")
        runtime = self._runtime(params.get("Runtime"))
        role = await self._role(tenant_id, params.get("Role"))
        handler = check_handler(params.get("Handler"))
        code = params.get("Code")
        if not isinstance(code, dict):
            raise InvalidParameterValue("Code must give ZipFile or S3Bucket and S3Key")
        data = await self._zip(caller, tenant_id, code, "CreateFunction")
        signing = params.get("CodeSigningConfigArn")
        if signing is not None and self.code_signing is None:
            raise InvalidParameterValue("CodeSigningConfigArn is not supported by this Lambda")
        layers = await self._layers(tenant_id, params.get("Layers"), data)
        if await self.store.get(tenant_id, name) is not None:
            raise ResourceConflict(f"Function already exist: {name}")
        signature = None
        if signing is not None and self.code_signing is not None:
            signature = await self.code_signing.check(tenant_id, name, data, str(signing))
            await self._check_layers(tenant_id, name, layers, (), str(signing))
        await self._room_for(tenant_id, len(data))
        now = self._clock()
        sha = code_sha256(data)
        variables = checked_variables(params.get("Environment"), self.limits.max_environment_bytes)
        latest = FunctionVersion(
            tenant_id=tenant_id,
            name=name,
            version=LATEST,
            runtime=runtime,
            role=role,
            handler=handler,
            code_sha256=sha,
            code_size=len(data),
            revision_id=str(uuid.uuid4()),
            last_modified=now,
            description=_text(params, "Description", 256),
            timeout=check_timeout(params.get("Timeout", 3)),
            memory_size=check_memory(params.get("MemorySize", 128)),
            architectures=_architectures(params.get("Architectures")),
            ephemeral_storage=_ephemeral(params.get("EphemeralStorage")),
            dead_letter_target=await self._dead_letter(tenant_id, role, params),
            layers=layers,
            signing_profile_version_arn=signature.profile_version_arn if signature else "",
            signing_job_arn=signature.job_arn if signature else "",
        )
        latest = latest.replaced(sealed_environment=await self._seal_environment(latest, variables))
        record = FunctionRecord(
            tenant_id=tenant_id, name=name, created=now, tags=self.checked_tags(params.get("Tags"))
        )
        await self.store.put_code(
            tenant_id, name, sha, await self._seal_code(tenant_id, name, sha, data)
        )
        try:
            await self.store.create(record, latest)
        except FunctionChanged:
            raise ResourceConflict(f"Function already exist: {name}") from None
        if signing is not None and self.code_signing is not None:
            await self.code_signing.attach(tenant_id, name, signing)
        if params.get("Publish") is True:
            latest = await self.publish(tenant_id, name, {})
        return record, latest

    async def update_code(
        self, caller: object, tenant_id: str, name: str, params: dict[str, Any]
    ) -> FunctionVersion:
        if params.get("ImageUri") is not None:
            raise InvalidParameterValue("Only Zip packages are supported by this Lambda yet")
        if params.get("Architectures") is not None:
            _architectures(params.get("Architectures"))
        data = await self._zip(caller, tenant_id, params, "UpdateFunctionCode")
        sha = code_sha256(data)
        current = await self._latest(tenant_id, name, params.get("RevisionId"))
        _check_unzipped(data, current.layers, self.limits.code.max_unzipped_bytes)
        signature = None
        if self.code_signing is not None:  # the function's configuration judges the new code
            signature = await self.code_signing.check(tenant_id, name, data)
        if params.get("DryRun") is True:
            return current.replaced(code_sha256=sha, code_size=len(data), **_signed_by(signature))
        await self._room_for(tenant_id, len(data) - current.code_size)
        await self.store.put_code(
            tenant_id, name, sha, await self._seal_code(tenant_id, name, sha, data)
        )
        changed = current.replaced(
            code_sha256=sha,
            code_size=len(data),
            revision_id=str(uuid.uuid4()),
            last_modified=self._clock(),
            **_signed_by(signature),
        )
        await self._replace_latest(changed, current.revision_id)
        await self.store.drop_unused_code(tenant_id, name)
        if params.get("Publish") is True:
            return await self.publish(tenant_id, name, {})
        return changed

    async def update_configuration(
        self, tenant_id: str, name: str, params: dict[str, Any]
    ) -> FunctionVersion:
        _refuse_not_served(params, self.layers is not None)
        current = await self._latest(tenant_id, name, params.get("RevisionId"))
        changes: dict[str, Any] = {}
        if params.get("Layers") is not None and self.layers is not None:
            changes["layers"] = await self._layers(
                tenant_id, params["Layers"], await self.code(current)
            )
            await self._check_layers(tenant_id, name, changes["layers"], current.layers)
        if params.get("Runtime") is not None:
            changes["runtime"] = self._runtime(params["Runtime"])
        if params.get("Role") is not None:
            changes["role"] = await self._role(tenant_id, params["Role"])
        if params.get("Handler") is not None:
            changes["handler"] = check_handler(params["Handler"])
        if params.get("Description") is not None:
            changes["description"] = _text(params, "Description", 256)
        if params.get("Timeout") is not None:
            changes["timeout"] = check_timeout(params["Timeout"])
        if params.get("MemorySize") is not None:
            changes["memory_size"] = check_memory(params["MemorySize"])
        if params.get("EphemeralStorage") is not None:
            changes["ephemeral_storage"] = _ephemeral(params["EphemeralStorage"])
        if params.get("DeadLetterConfig") is not None or "role" in changes:
            changes["dead_letter_target"] = await self._dead_letter(
                tenant_id,
                changes.get("role", current.role),
                params if params.get("DeadLetterConfig") is not None
                else {"DeadLetterConfig": {"TargetArn": current.dead_letter_target}},
            )  # fmt: skip
        changed = current.replaced(
            **changes, revision_id=str(uuid.uuid4()), last_modified=self._clock()
        )
        if params.get("Environment") is not None:
            variables = checked_variables(params["Environment"], self.limits.max_environment_bytes)
            changed = changed.replaced(
                sealed_environment=await self._seal_environment(changed, variables)
            )
        await self._replace_latest(changed, current.revision_id)
        return changed

    async def publish(self, tenant_id: str, name: str, params: dict[str, Any]) -> FunctionVersion:
        """A new numbered version of ``$LATEST``, or the last one when nothing changed since
        (as AWS answers)."""
        for _ in range(_RETRIES):
            record = await self.record(tenant_id, name)
            latest = await self._latest(tenant_id, name, params.get("RevisionId"))
            wanted_sha = params.get("CodeSha256")
            if wanted_sha is not None and wanted_sha != latest.code_sha256:
                raise InvalidParameterValue(
                    f"CodeSHA256 ({str(wanted_sha)[:64]}) is different from current CodeSHA256 "
                    f"in $LATEST ({latest.code_sha256}). Please try again with the CodeSHA256 "
                    "in $LATEST."
                )
            if record.last_version:
                last = await self.store.version(tenant_id, name, str(record.last_version))
                if last is not None and latest.same_as(last):
                    return last
            number = record.last_version + 1
            try:
                await self.store.replace(record.replaced(last_version=number))
            except FunctionChanged:
                continue
            description = _text(params, "Description", 256, latest.description)
            published = latest.replaced(
                version=str(number),
                description=description,
                revision_id=str(uuid.uuid4()),
                last_modified=self._clock(),
            )
            await self.store.add_version(published)
            return published
        raise ResourceConflict(f"The function {name} is being changed: try again")

    async def delete(self, tenant_id: str, name: str, qualifier: str | None) -> None:
        record = await self.record(tenant_id, name)
        if qualifier is None or qualifier == "":
            await self.store.delete(tenant_id, name)
            return
        if qualifier == LATEST:
            raise InvalidParameterValue(
                "$LATEST version cannot be deleted without deleting the function."
            )
        using = sorted(a.name for a in record.aliases if a.version == qualifier)
        if using:
            raise ResourceConflict(
                "Unable to delete version because the following aliases reference it: " + str(using)
            )
        if not await self.store.delete_version(tenant_id, name, qualifier):
            raise ResourceNotFound(f"Function not found: {self.arn(tenant_id, name, qualifier)}")
        await self.store.drop_unused_code(tenant_id, name)

    def checked_tags(self, tags: object) -> tuple[tuple[str, str], ...]:
        if tags is None:
            return ()
        if not isinstance(tags, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and 0 < len(k) <= 128 and len(v) <= 256
            for k, v in tags.items()
        ):
            raise InvalidParameterValue("Tags must map keys of 1 to 128 characters to values")
        if any(k.startswith("aws:") for k in tags):
            raise InvalidParameterValue("Tag keys may not start with aws:")
        if len(tags) > self.limits.max_tags:
            raise InvalidParameterValue(f"A function may have at most {self.limits.max_tags} tags")
        return tuple(sorted(tags.items()))

    async def code_zip(
        self, caller: object, tenant_id: str, code: dict[str, Any], operation: str
    ) -> bytes:
        """A zip given as ``ZipFile`` or ``S3Bucket``/``S3Key``/``S3ObjectVersion`` (read as
        ``caller``), checked as function code is: a layer's content (decision 0302)."""
        return await self._zip(caller, tenant_id, code, operation)

    # -- helpers ---------------------------------------------------------------------------

    async def _layers(self, tenant_id: str, arns: object, code: bytes) -> tuple[FunctionLayer, ...]:
        """The layer versions ``arns`` names, the function's code and theirs unzipped within
        AWS's bound (decision 0302)."""
        if arns is None or arns == [] or self.layers is None:
            return ()
        layers = await self.layers.attach(tenant_id, arns)
        _check_unzipped(code, layers, self.limits.code.max_unzipped_bytes)
        return layers

    async def _check_layers(
        self,
        tenant_id: str,
        name: str,
        layers: tuple[FunctionLayer, ...],
        had: tuple[FunctionLayer, ...],
        config_arn: str | None = None,
    ) -> None:
        """The layer versions added to the function (not in ``had``) judged under its code
        signing configuration, as AWS judges "any layers that you add" (decision 0394)."""
        added = tuple(layer for layer in layers if layer not in had)
        if self.code_signing is None or self.layers is None or not added:
            return
        contents = await self.layers.contents(added)
        await self.code_signing.check_layers(
            tenant_id,
            name,
            [(layer.arn, content) for layer, content in zip(added, contents, strict=True)],
            config_arn,
        )

    def _runtime(self, runtime: object) -> str:
        if not isinstance(runtime, str) or runtime not in self.limits.runtimes:
            raise InvalidParameterValue(
                f"The runtime parameter of {str(runtime)[:32]} is not supported by this "
                "deployment: its hosts run " + ", ".join(self.limits.runtimes)
            )
        return runtime

    async def _role(self, tenant_id: str, role: object) -> str:
        if not isinstance(role, str) or _ROLE.fullmatch(role) is None:
            raise InvalidParameterValue(
                f"1 validation error detected: Value '{str(role)[:256]}' at 'role' failed to "
                "satisfy constraint: Member must satisfy regular expression pattern: "
                "arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+"
            )
        if not await self._roles(tenant_id, role):
            raise InvalidParameterValue(
                "The role defined for the function cannot be assumed by Lambda."
            )
        return role

    async def _zip(
        self, caller: object, tenant_id: str, code: dict[str, Any], operation: str
    ) -> bytes:
        zipped = code.get("ZipFile")
        bucket, key = code.get("S3Bucket"), code.get("S3Key")
        if zipped is not None:
            if isinstance(zipped, str):
                try:
                    zipped = base64.b64decode(zipped, validate=True)
                except (binascii.Error, ValueError) as exc:
                    raise InvalidParameterValue("ZipFile must be base64") from exc
            if not isinstance(zipped, bytes):
                raise InvalidParameterValue("ZipFile must be the zip's bytes")
            return checked_zip(zipped, self.limits.code, operation)
        if isinstance(bucket, str) and isinstance(key, str):
            if self._code_source is None:
                raise InvalidParameterValue("Code from S3 is not offered by this deployment")
            version = code.get("S3ObjectVersion")
            data = await self._code_source(
                caller, tenant_id, bucket, key, version if isinstance(version, str) else None
            )
            return checked_zip(data, self.limits.code, operation)
        raise InvalidParameterValue("Please provide a source for function code.")

    async def _dead_letter(self, tenant_id: str, role: str, params: dict[str, Any]) -> str:
        target = checked_dead_letter(params.get("DeadLetterConfig"), tenant_id, self.region)
        if target and self._dead_letter_check is not None:
            await self._dead_letter_check(tenant_id, role, target)
        return target

    async def _room_for(self, tenant_id: str, more: int) -> None:
        if (
            more > 0
            and await self.store.code_bytes(tenant_id)
            + (0 if self.layers is None else await self.layers.stored_bytes(tenant_id))
            + more
            > self.limits.max_code_storage
        ):
            raise CodeStorageExceeded("Code storage limit exceeded.")

    async def _latest(self, tenant_id: str, name: str, revision_id: object) -> FunctionVersion:
        _, latest = await self.resolve(tenant_id, name, None)
        if revision_id is not None and revision_id != latest.revision_id:
            raise PreconditionFailed(
                "The Revision Id provided does not match the latest Revision Id. Call the "
                "GetFunction/GetAlias API to retrieve the latest Revision Id"
            )
        return latest

    async def _replace_latest(self, changed: FunctionVersion, revision_id: str) -> None:
        try:
            await self.store.replace_latest(changed, revision_id)
        except FunctionChanged:
            raise PreconditionFailed(
                "The Revision Id provided does not match the latest Revision Id. Call the "
                "GetFunction/GetAlias API to retrieve the latest Revision Id"
            ) from None

    async def _seal_environment(self, version: FunctionVersion, variables: dict[str, str]) -> bytes:
        if not variables:
            return b""
        return await self._sealer.seal(
            version.tenant_id, encoded(variables), _environment_context(version)
        )

    async def _seal_code(self, tenant_id: str, name: str, sha: str, data: bytes) -> bytes:
        return await self._sealer.seal(tenant_id, data, _code_context(tenant_id, name, sha))


def _environment_context(version: FunctionVersion) -> bytes:
    # Not the version: a published version keeps $LATEST's sealed environment as it is.
    return f"lambda:{version.tenant_id}:{version.name}:environment".encode()


def _code_context(tenant_id: str, name: str, sha: str) -> bytes:
    return f"lambda:{tenant_id}:{name}:code:{sha}".encode()


def _signed_by(signature: CodeSignature | None) -> dict[str, str]:
    """A version's record of its package's signature (GetFunction's SigningProfileVersionArn
    and SigningJobArn, decision 0394): none for an unsigned package."""
    if signature is None:
        return {"signing_profile_version_arn": "", "signing_job_arn": ""}
    return {
        "signing_profile_version_arn": signature.profile_version_arn,
        "signing_job_arn": signature.job_arn,
    }


def _check_unzipped(code: bytes, layers: tuple[FunctionLayer, ...], limit: int) -> None:
    if not layers:
        return
    with zipfile.ZipFile(io.BytesIO(code)) as archive:
        unzipped = sum(member.file_size for member in archive.infolist())
    if unzipped + sum(layer.unzipped_size for layer in layers) > limit:
        raise InvalidParameterValue(
            f"Function code combined with layers exceeds the maximum allowed size of {limit} "
            "bytes. The actual size is "
            f"{unzipped + sum(layer.unzipped_size for layer in layers)} bytes."
        )


def _refuse_not_served(params: dict[str, Any], layers_served: bool) -> None:
    for name in _NOT_SERVED:
        if name == "Layers" and layers_served:
            continue
        value = params.get(name)
        if value not in (None, [], {}, "") and not (
            name == "VpcConfig" and isinstance(value, dict) and not any(value.values())
        ):
            raise InvalidParameterValue(f"{name} is not supported by this Lambda yet")


def _architectures(value: object) -> tuple[str, ...]:
    if value is None:
        return ("x86_64",)
    if value != ["x86_64"]:
        raise InvalidParameterValue(
            "Architectures must be [x86_64]: the hosts of this Lambda run no arm64"
        )
    return ("x86_64",)


def _ephemeral(value: object) -> int:
    size = value.get("Size") if isinstance(value, dict) else 512 if value is None else None
    if isinstance(size, bool) or not isinstance(size, int) or not 512 <= size <= 10_240:
        raise InvalidParameterValue("EphemeralStorage Size must be between 512 and 10240 MB")
    return size
