"""Launch templates and their versions (decision 0092): create, version, describe, set the
default, delete; and the version a RunInstances names.

A template is a record of its own, and each version another, immutable. A new version is
written together with its template's new ``latest_version``/``last_version`` in one
transaction conditional on the template's revision (:meth:`ComputeStore.change`), so two
versions made at once get two numbers, and a version deleted while the default moves to it is
either deleted first (the move is refused) or not at all. The launch parameters are the EC2
layer's, checked there; compute keeps them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from andromede.compute.errors import (
    Duplicate,
    IdempotentParameterMismatch,
    IncorrectState,
    InvalidParameterValue,
    MissingParameter,
    NotFound,
    ResourceLimitExceeded,
)
from andromede.compute.launch_template import (
    DESCRIPTION_MAX,
    LaunchParameters,
    LaunchTemplate,
    LaunchTemplateVersion,
    check_template_name,
    version_key,
)
from andromede.compute.model import (
    Tags,
    check_id,
    check_tags,
    new_id,
    request_digest,
    token_id,
)
from andromede.compute.service_core import ServiceCore

__all__ = ["LaunchTemplatesMixin", "TemplateRef", "VersionFailure"]

# Attempts at a conditional write of a template another call changed meanwhile.
_ATTEMPTS = 16


@dataclass(frozen=True, slots=True)
class TemplateRef:
    """A launch template as a call names it: by id or by name, exactly one."""

    template_id: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class VersionFailure:
    """A version DeleteLaunchTemplateVersions could not delete, and EC2's code for why."""

    version: str
    code: str
    message: str


class LaunchTemplatesMixin(ServiceCore):
    async def launch_template(self, tenant_id: str, ref: TemplateRef) -> LaunchTemplate:
        """The tenant's template ``ref`` names; NotFound (``lt`` or ``lt-name``) otherwise,
        for another tenant's too."""
        if ref.template_id and ref.name:
            raise InvalidParameterValue(
                "Specify either the launch template ID or the launch template name, not both"
            )
        if ref.template_id:
            return await self._owned(LaunchTemplate, tenant_id, ref.template_id, "lt")
        if not ref.name:
            raise MissingParameter(
                "The request must contain the parameter LaunchTemplateName or LaunchTemplateId"
            )
        check_template_name(ref.name)
        found = await self.store.launch_templates_named(tenant_id, ref.name)
        if not found:
            raise NotFound("lt-name", ref.name)
        return found[0]

    async def create_launch_template(
        self,
        tenant_id: str,
        *,
        name: str,
        parameters: LaunchParameters,
        created_by: str,
        description: str = "",
        tags: Tags = (),
        client_token: str | None = None,
    ) -> tuple[LaunchTemplate, LaunchTemplateVersion]:
        """A new template with its version 1 (its default and latest), in one transaction.
        With a client token, at most once per account and token."""
        check_template_name(name)
        _check_description(description)
        check_tags(tags)
        digest = ""
        template_id = new_id("lt")
        if client_token is not None:
            _check_token(client_token)
            digest = request_digest(
                {"name": name, "parameters": parameters, "description": description, "tags": tags}
            )
            template_id = token_id("lt", tenant_id, client_token)
            earlier = await self._template_of_token(tenant_id, template_id, digest)
            if earlier is not None:
                return earlier
        held = await self.store.list(LaunchTemplate, tenant_id)
        if len(held) >= self.limits.max_launch_templates:
            raise ResourceLimitExceeded(
                f"An account here holds at most {self.limits.max_launch_templates} launch templates"
            )
        now = self.clock()
        template = LaunchTemplate(
            template_id=template_id,
            tenant_id=tenant_id,
            name=name,
            created_at=now,
            created_by=created_by,
            tags=tags,
            client_token=client_token,
            request_digest=digest,
        )
        version = LaunchTemplateVersion(
            template_id=template_id,
            tenant_id=tenant_id,
            number=1,
            created_at=now,
            created_by=created_by,
            parameters=parameters,
            description=description,
        )
        try:
            await self.store.insert(template, version)
        except Duplicate as exc:
            if client_token is None or exc.kind == "lt-name":
                raise
            # The same request on another gateway wrote it first.
            earlier = await self._template_of_token(tenant_id, template_id, digest)
            if earlier is None:
                raise
            return earlier
        return replace(template, revision=0), version

    async def _template_of_token(
        self, tenant_id: str, template_id: str, digest: str
    ) -> tuple[LaunchTemplate, LaunchTemplateVersion] | None:
        template = await self._made_with_token(LaunchTemplate, tenant_id, template_id, digest)
        if template is None:
            return None
        versions = await self.store.launch_template_versions(template_id)
        first = next((v for v in versions if v.number == 1), None)
        if first is None:
            raise NotFound("lt-version", f"1 of {template_id}")
        return template, first

    async def create_launch_template_version(
        self,
        tenant_id: str,
        template_id: str,
        *,
        parameters: LaunchParameters,
        created_by: str,
        description: str = "",
        client_token: str | None = None,
    ) -> tuple[LaunchTemplate, LaunchTemplateVersion]:
        """The template's next version (never a number used before)."""
        _check_description(description)
        digest = ""
        if client_token is not None:
            _check_token(client_token)
            digest = request_digest({"parameters": parameters, "description": description})
        for _ in range(_ATTEMPTS):
            template = await self._owned(LaunchTemplate, tenant_id, template_id, "lt")
            versions = await self.store.launch_template_versions(template_id)
            if client_token is not None:
                for earlier in versions:
                    if earlier.client_token == client_token:
                        if earlier.request_digest != digest:
                            raise IdempotentParameterMismatch(
                                "The client token was already used for a request with other "
                                "parameters"
                            )
                        return template, earlier
            if len(versions) >= self.limits.max_launch_template_versions:
                raise ResourceLimitExceeded(
                    f"A launch template here holds at most "
                    f"{self.limits.max_launch_template_versions} versions"
                )
            number = template.last_version + 1
            version = LaunchTemplateVersion(
                template_id=template_id,
                tenant_id=tenant_id,
                number=number,
                created_at=self.clock(),
                created_by=created_by,
                parameters=parameters,
                description=description,
                client_token=client_token,
                request_digest=digest,
            )
            moved = replace(template, latest_version=number, last_version=number)
            try:
                if await self.store.change(moved, insert=[version]):
                    return replace(moved, revision=moved.revision + 1), version
            except Duplicate:
                continue  # its number was taken meanwhile: read again
        raise _busy(template_id)

    async def launch_template_versions(
        self, tenant_id: str, ref: TemplateRef
    ) -> tuple[LaunchTemplate, list[LaunchTemplateVersion]]:
        """The template and its versions in number order, read at one revision of the
        template (a version made or deleted meanwhile is read again)."""
        for _ in range(_ATTEMPTS):
            template = await self.launch_template(tenant_id, ref)
            versions = await self.store.launch_template_versions(template.template_id)
            again = await self.store.get(LaunchTemplate, template.template_id)
            if again is not None and again.revision == template.revision:
                return template, versions
            ref = TemplateRef(template_id=template.template_id)
        raise _busy(ref.template_id or "")

    async def launch_template_version(
        self, tenant_id: str, ref: TemplateRef, version: str | None
    ) -> tuple[LaunchTemplate, LaunchTemplateVersion]:
        """The version ``version`` names (``$Default`` when None, ``$Latest``, a number)."""
        template, versions = await self.launch_template_versions(tenant_id, ref)
        by_number = {v.number: v for v in versions}
        number = template.resolve(version, set(by_number))
        return template, by_number[number]

    async def modify_launch_template(
        self, tenant_id: str, ref: TemplateRef, default_version: str | None
    ) -> LaunchTemplate:
        """Make ``default_version`` (a number or ``$Latest``) the template's default."""
        for _ in range(_ATTEMPTS):
            template, versions = await self.launch_template_versions(tenant_id, ref)
            ref = TemplateRef(template_id=template.template_id)
            if default_version is None:
                return template
            number = template.resolve(default_version, {v.number for v in versions})
            moved = replace(template, default_version=number)
            if await self.store.change(moved):
                return replace(moved, revision=moved.revision + 1)
        raise _busy(ref.template_id or "")

    async def delete_launch_template(self, tenant_id: str, ref: TemplateRef) -> LaunchTemplate:
        """Delete the template and every version of it, in one transaction."""
        for _ in range(_ATTEMPTS):
            template, versions = await self.launch_template_versions(tenant_id, ref)
            ref = TemplateRef(template_id=template.template_id)
            gone: list[tuple[type[LaunchTemplate | LaunchTemplateVersion], str]] = [
                (LaunchTemplateVersion, v.resource_id) for v in versions
            ]
            gone.append((LaunchTemplate, template.template_id))
            if await self.store.change(template, delete=gone):
                return template
        raise _busy(ref.template_id or "")

    async def delete_launch_template_versions(
        self, tenant_id: str, ref: TemplateRef, asked: Sequence[str]
    ) -> tuple[LaunchTemplate, list[int], list[VersionFailure]]:
        """Delete the versions asked for but the default: the template, the numbers deleted
        and, for each other one, why not (EC2's per-version codes)."""
        for _ in range(_ATTEMPTS):
            template, versions = await self.launch_template_versions(tenant_id, ref)
            ref = TemplateRef(template_id=template.template_id)
            existing = {v.number for v in versions}
            deleted: list[int] = []
            failed: list[VersionFailure] = []
            for text in asked:
                if not text.isdigit() or int(text) not in existing:
                    failed.append(
                        VersionFailure(
                            text,
                            "launchTemplateVersionDoesNotExist",
                            "The specified launch template version does not exist.",
                        )
                    )
                elif int(text) == template.default_version:
                    failed.append(
                        VersionFailure(
                            text,
                            "unexpectedError",
                            "You cannot delete the default version of a launch template: set "
                            "another version as the default first.",
                        )
                    )
                elif int(text) not in deleted:
                    deleted.append(int(text))
            remaining = existing - set(deleted)
            moved = replace(template, latest_version=max(remaining))
            gone = [(LaunchTemplateVersion, version_key(template.template_id, n)) for n in deleted]
            if not deleted or await self.store.change(moved, delete=gone):
                return moved, deleted, failed
        raise _busy(ref.template_id or "")

    async def describe_launch_templates(
        self, tenant_id: str, ids: Sequence[str], names: Sequence[str]
    ) -> list[LaunchTemplate]:
        """The tenant's templates, in id order; those named must exist (NotFound)."""
        if ids or names:
            found = {}
            for template_id in dict.fromkeys(ids):
                check_id(template_id, "lt")
                found[template_id] = await self._owned(LaunchTemplate, tenant_id, template_id, "lt")
            for name in dict.fromkeys(names):
                template = await self.launch_template(tenant_id, TemplateRef(name=name))
                found[template.template_id] = template
            return [found[key] for key in sorted(found)]
        return await self.store.list(LaunchTemplate, tenant_id)


_TOKEN_MAX = 128  # a launch template's client token may be longer than an instance's


def _check_token(token: str) -> None:
    if not 1 <= len(token) <= _TOKEN_MAX or not token.isascii():
        raise InvalidParameterValue(f"The client token must be 1 to {_TOKEN_MAX} ASCII characters")


def _check_description(description: str) -> None:
    if len(description) > DESCRIPTION_MAX:
        raise InvalidParameterValue(
            f"The version description must be at most {DESCRIPTION_MAX} characters"
        )


def _busy(template_id: str) -> IncorrectState:
    return IncorrectState(
        f"The launch template {template_id} is being changed by other calls; try again"
    )
