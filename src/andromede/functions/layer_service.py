"""Lambda layers (decision 0302): publishes, reads, lists and deletes an account's layer
versions over a :class:`LayerStore`, their content read as function code is (a zip given
or an S3 object read as the caller, within the same bounds), sealed under the account's
keys by the functions service's sealer, counted in the account's code storage; keeps each
version's resource policy (AddLayerVersionPermission's statements); and answers the
functions service (:class:`~andromede.functions.layer_model.FunctionLayers`) which layer
versions a function may use and their content when its sandbox starts.

Versions are numbered from 1 by the store's primary key: a number is never given twice,
not even after its version was deleted (the tombstone keeps it, and the content for the
functions using it)."""

from __future__ import annotations

import base64
import binascii
import io
import json
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Final

from andromede.functions.code import code_sha256
from andromede.functions.errors import (
    CodeStorageExceeded,
    FunctionChanged,
    InvalidParameterValue,
    PreconditionFailed,
    ResourceConflict,
    ResourceNotFound,
)
from andromede.functions.layer_model import (
    ARCHITECTURES,
    MAX_FUNCTION_LAYERS,
    RUNTIMES,
    FunctionLayer,
    LayerVersion,
    check_layer_name,
    check_list,
    layer_arn,
    parse_layer_version_arn,
    version_number,
)
from andromede.functions.layer_store import LayerStore
from andromede.functions.permissions import Permission, with_statement, without_statement
from andromede.functions.service import FunctionsService

__all__ = ["LayersService", "content_context", "policy_document"]

_PAGE: Final = 50  # ListLayers' and ListLayerVersions' MaxItems bound
_RETRIES: Final = 8
_STALE: Final = (
    "The Revision Id provided does not match the latest Revision Id. Call the "
    "GetLayerVersionPolicy API to retrieve the latest Revision Id"
)


def _now() -> int:
    return int(time.time() * 1000)


def content_context(tenant_id: str, name: str, version: int) -> bytes:
    return f"lambda:{tenant_id}:layer:{name}:{version}:content".encode()


def _token(kind: str, value: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{value}".encode()).decode()


def _after(kind: str, token: object) -> str | None:
    if token is None or token == "":
        return None
    try:
        text = base64.urlsafe_b64decode(str(token).encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    if not text.startswith(f"{kind}:"):
        raise InvalidParameterValue("Invalid Marker")
    return text[len(kind) + 1 :]


def _page_size(value: object) -> int:
    if value is None:
        return _PAGE
    try:
        size = int(str(value))
    except ValueError:
        size = 0
    if not 1 <= size <= _PAGE:
        raise InvalidParameterValue(f"MaxItems must be between 1 and {_PAGE}")
    return size


def _unzipped_size(data: bytes) -> int:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return sum(member.file_size for member in archive.infolist())


def _filter(value: object, allowed: frozenset[str], name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value not in allowed:
        raise InvalidParameterValue(f"{name} must be one of {sorted(allowed)}")
    return value


class LayersService:
    def __init__(
        self,
        store: LayerStore,
        functions: FunctionsService,
        max_function_layers: int = MAX_FUNCTION_LAYERS,
        clock: Callable[[], int] = _now,
    ) -> None:
        self.store = store
        self.functions = functions
        self.max_function_layers = max_function_layers
        self._clock = clock

    @property
    def region(self) -> str:
        return self.functions.region

    def arn(self, tenant_id: str, name: str, version: int | None = None) -> str:
        return layer_arn(self.region, tenant_id, name, version)

    # -- publishing and reading ------------------------------------------------------------

    async def publish(
        self, caller: object, tenant_id: str, name: str, params: dict[str, Any]
    ) -> LayerVersion:
        check_layer_name(name)
        content = params.get("Content")
        if not isinstance(content, dict):
            raise InvalidParameterValue("Content must give ZipFile or S3Bucket and S3Key")
        description = params.get("Description", "")
        if not isinstance(description, str) or len(description) > 256:
            raise InvalidParameterValue("Description must be at most 256 characters")
        license_info = params.get("LicenseInfo", "")
        if not isinstance(license_info, str) or len(license_info) > 512:
            raise InvalidParameterValue("LicenseInfo must be at most 512 characters")
        runtimes = check_list(params.get("CompatibleRuntimes"), RUNTIMES, "compatibleRuntimes", 15)
        architectures = check_list(
            params.get("CompatibleArchitectures"), ARCHITECTURES, "compatibleArchitectures", 2
        )
        data = await self.functions.code_zip(caller, tenant_id, content, "PublishLayerVersion")
        await self._room_for(tenant_id, len(data))
        sha = code_sha256(data)
        signing = self.functions.code_signing
        signature = None if signing is None else await signing.signature_of(data)
        for _ in range(_RETRIES):
            number = await self.store.last_number(tenant_id, name) + 1
            version = LayerVersion(
                tenant_id=tenant_id,
                name=name,
                version=number,
                code_sha256=sha,
                code_size=len(data),
                unzipped_size=_unzipped_size(data),
                created=self._clock(),
                description=description,
                runtimes=runtimes,
                architectures=architectures,
                license_info=license_info,
                signing_profile_version_arn=signature.profile_version_arn if signature else "",
                signing_job_arn=signature.job_arn if signature else "",
            )
            sealed = await self.functions.seal(
                tenant_id, data, content_context(tenant_id, name, number)
            )
            try:
                await self.store.add(version, sealed)
            except FunctionChanged:
                continue  # another gateway took the number: the next one
            return version
        raise ResourceConflict(f"The layer {name} is being published: try again")

    async def version(self, tenant_id: str, name: str, number: object) -> LayerVersion:
        """A live version; ResourceNotFound (AWS's words) for none or a deleted one."""
        wanted = version_number(number)
        found = await self.store.get(tenant_id, name, wanted)
        if found is None or found.deleted:
            raise ResourceNotFound(
                f"Layer version {self.arn(tenant_id, name, wanted)} does not exist."
            )
        return found

    async def content(self, version: LayerVersion) -> bytes:
        sealed = await self.store.content(version.tenant_id, version.name, version.version)
        if sealed is None:
            raise ResourceNotFound(
                f"The content of {self.arn(version.tenant_id, version.name, version.version)}"
            )
        return await self.functions.open(
            version.tenant_id,
            sealed,
            content_context(version.tenant_id, version.name, version.version),
        )

    async def list_layers(
        self, tenant_id: str, params: dict[str, Any]
    ) -> tuple[list[LayerVersion], str | None]:
        """Each layer's latest version the filters keep, by name (ListLayers)."""
        runtime = _filter(params.get("CompatibleRuntime"), RUNTIMES, "CompatibleRuntime")
        architecture = _filter(
            params.get("CompatibleArchitecture"), ARCHITECTURES, "CompatibleArchitecture"
        )
        after = _after("ly1", params.get("Marker"))
        size = _page_size(params.get("MaxItems"))
        latest: dict[str, LayerVersion] = {}
        for found in await self.store.versions(tenant_id):
            if found.matches(runtime, architecture) and (after is None or found.name > after):
                latest[found.name] = found  # by number: the last one wins
        kept = [latest[name] for name in sorted(latest)]
        page = kept[:size]
        return page, _token("ly1", page[-1].name) if len(kept) > size else None

    async def list_versions(
        self, tenant_id: str, name: str, params: dict[str, Any]
    ) -> tuple[list[LayerVersion], str | None]:
        """The layer's versions the filters keep, newest first (ListLayerVersions)."""
        runtime = _filter(params.get("CompatibleRuntime"), RUNTIMES, "CompatibleRuntime")
        architecture = _filter(
            params.get("CompatibleArchitecture"), ARCHITECTURES, "CompatibleArchitecture"
        )
        after = _after("lv1", params.get("Marker"))
        size = _page_size(params.get("MaxItems"))
        below = int(after) if after is not None and after.isdigit() else None
        kept = [
            v
            for v in reversed(await self.store.versions(tenant_id, name))
            if v.matches(runtime, architecture) and (below is None or v.version < below)
        ]
        page = kept[:size]
        return page, _token("lv1", str(page[-1].version)) if len(kept) > size else None

    async def delete(self, tenant_id: str, name: str, number: object) -> None:
        """Idempotent, as AWS's: the version becomes a tombstone, its content kept for the
        functions that use it."""
        await self.store.mark_deleted(tenant_id, name, version_number(number))

    # -- the layer version's policy ---------------------------------------------------------

    async def add_permission(
        self,
        tenant_id: str,
        name: str,
        number: object,
        params: dict[str, Any],
        checked: Callable[[str], None] = lambda policy: None,
    ) -> LayerVersion:
        """The version with the statement added to its policy; ``checked`` refuses a policy
        the IAM engine could not evaluate."""
        sid, action, principal = (
            params.get("StatementId"),
            params.get("Action"),
            params.get("Principal"),
        )
        organisation = params.get("OrganizationId")
        if action != "lambda:GetLayerVersion":
            raise InvalidParameterValue(
                f"1 validation error detected: Value '{str(action)[:64]}' at 'action' failed "
                "to satisfy constraint: Member must satisfy regular expression pattern: "
                "lambda:GetLayerVersion"
            )
        if not isinstance(principal, str) or not (
            principal == "*"
            or (len(principal) == 12 and principal.isdigit())
            or (principal.startswith("arn:aws:iam::") and principal.endswith(":root"))
        ):
            raise InvalidParameterValue(
                "Principal must be an account ID, the root ARN of an account, or *"
            )
        if organisation is not None:
            if not isinstance(organisation, str) or not organisation.startswith("o-"):
                raise InvalidParameterValue("OrganizationId must be an organization's ID")
            if principal != "*":
                raise InvalidParameterValue(
                    "OrganizationId can only be specified with Principal '*'."
                )
        permission = replace(
            Permission.of({"StatementId": sid, "Action": action, "Principal": principal}),
            principal_org_id=organisation,
        )
        for _ in range(_RETRIES):
            current = await self.version(tenant_id, name, number)
            _check_revision(current, params.get("RevisionId"))
            statement = permission.statement(self.arn(tenant_id, name, current.version))
            policy = with_statement(
                current.policy, statement, self.functions.limits.max_policy_bytes
            )
            checked(policy)
            revision = str(uuid.uuid4())
            try:
                await self.store.replace_policy(
                    tenant_id, name, current.version, policy, revision, current.policy_revision
                )
            except FunctionChanged:
                continue
            return current.replaced(policy=policy, policy_revision=revision)
        raise ResourceConflict(f"The layer {name} is being changed: try again")

    async def remove_permission(
        self, tenant_id: str, name: str, number: object, statement_id: object, revision: object
    ) -> None:
        if not isinstance(statement_id, str):
            raise InvalidParameterValue("StatementId must be given")
        for _ in range(_RETRIES):
            current = await self.version(tenant_id, name, number)
            _check_revision(current, revision)
            policy = without_statement(current.policy, statement_id)
            try:
                await self.store.replace_policy(
                    tenant_id,
                    name,
                    current.version,
                    policy,
                    str(uuid.uuid4()),
                    current.policy_revision,
                )
            except FunctionChanged:
                continue
            return
        raise ResourceConflict(f"The layer {name} is being changed: try again")

    # -- what functions use (FunctionLayers) -------------------------------------------------

    async def grants(self, arn: object) -> tuple[str, str, LayerVersion | None]:
        """(the version's ARN, its account, the live version or None) for authorising
        ``lambda:GetLayerVersion`` on it with its policy."""
        parsed = parse_layer_version_arn(arn)
        if parsed.region != self.region:  # attach words AWS's refusal
            return str(arn), parsed.account, None
        found = await self.store.get(parsed.account, parsed.name, parsed.version)
        canonical = self.arn(parsed.account, parsed.name, parsed.version)
        return canonical, parsed.account, None if found is None or found.deleted else found

    async def attach(self, tenant_id: str, arns: object) -> tuple[FunctionLayer, ...]:
        if not isinstance(arns, list) or not all(isinstance(a, str) for a in arns):
            raise InvalidParameterValue("Layers must be a list of layer version ARNs")
        if len(arns) > self.max_function_layers:
            raise InvalidParameterValue(
                f"1 validation error detected: Value '{str(arns)[:512]}' at 'layers' failed to "
                "satisfy constraint: Member must have length less than or equal to "
                f"{self.max_function_layers}"
            )
        attached: list[FunctionLayer] = []
        names: set[tuple[str, str]] = set()
        for arn in arns:
            parsed = parse_layer_version_arn(arn)
            if parsed.region != self.region:
                raise InvalidParameterValue(
                    f"Layers are not in the same region as the function. Layers are expected "
                    f"to be in region {self.region}."
                )
            if (parsed.account, parsed.name) in names:
                raise InvalidParameterValue(
                    "Two different versions of the same layer are not allowed to be referenced "
                    "in the same function. " + arn[:200]
                )
            names.add((parsed.account, parsed.name))
            found = await self.store.get(parsed.account, parsed.name, parsed.version)
            canonical = self.arn(parsed.account, parsed.name, parsed.version)
            if found is None or found.deleted:
                raise InvalidParameterValue(f"Layer version {canonical} does not exist.")
            attached.append(
                FunctionLayer(
                    canonical,
                    found.code_size,
                    found.unzipped_size,
                    found.signing_profile_version_arn,
                    found.signing_job_arn,
                )
            )
        return tuple(attached)

    async def contents(self, layers: tuple[FunctionLayer, ...]) -> list[bytes]:
        opened = []
        for layer in layers:
            parsed = parse_layer_version_arn(layer.arn)
            found = await self.store.get(parsed.account, parsed.name, parsed.version)
            if found is None:  # its account was closed: the function cannot start
                raise ResourceNotFound(f"Layer version {layer.arn} does not exist.")
            opened.append(await self.content(found))
        return opened

    async def stored_bytes(self, tenant_id: str) -> int:
        return await self.store.live_bytes(tenant_id)

    async def _room_for(self, tenant_id: str, more: int) -> None:
        used = await self.functions.store.code_bytes(tenant_id) + await self.stored_bytes(tenant_id)
        if used + more > self.functions.limits.max_code_storage:
            raise CodeStorageExceeded("Code storage limit exceeded.")


def _check_revision(version: LayerVersion, revision: object) -> None:
    if revision is not None and revision != version.policy_revision:
        raise PreconditionFailed(_STALE)


def policy_document(version: LayerVersion) -> str:
    """The version's policy as GetLayerVersionPolicy gives it."""
    if version.policy is None:
        raise ResourceNotFound("No policy is associated with the given resource.")
    return json.dumps(json.loads(version.policy), separators=(",", ":"))
