"""Launch templates, pure (decision 0092): a template, its immutable versions, and the rules of
names, version numbers and ``$Latest``/``$Default``.

A version's launch parameters are kept as RunInstances takes them (``ImageId``,
``BlockDeviceMapping.1.Ebs.VolumeSize``, ``TagSpecification.1.Tag.1.Key``…), already checked
by the EC2 layer against what RunInstances here acts on: a launch from the template is then the
same RunInstances as one that names those parameters itself, checked by the same code, and
nothing a template holds can be started differently from what it says.

Version numbers are never reused: ``last_version`` counts every version ever made, so that an
instance tagged ``aws:ec2launchtemplate:version`` 3 never comes to point at another version 3
after 3 was deleted. ``latest_version`` is the highest that exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from andromede.compute.errors import InvalidParameterValue, NotFound
from andromede.compute.model import FORMAT_VERSION, Tags

__all__ = [
    "DEFAULT",
    "LATEST",
    "LaunchParameters",
    "LaunchTemplate",
    "LaunchTemplateVersion",
    "MalformedTemplateName",
    "check_template_name",
    "version_key",
]

LATEST: Final = "$Latest"
DEFAULT: Final = "$Default"
NAME_PATTERN: Final = re.compile(r"^[a-zA-Z0-9().\-/_]{3,128}$")
DESCRIPTION_MAX: Final = 255

# RunInstances parameter name → value, in the order given.
LaunchParameters = tuple[tuple[str, str], ...]


class MalformedTemplateName(InvalidParameterValue):
    """A launch template name outside EC2's pattern (3 to 128 of ``[a-zA-Z0-9().-/_]``)."""


def check_template_name(name: str) -> str:
    if NAME_PATTERN.match(name) is None:
        raise MalformedTemplateName(
            "A launch template name must be between 3 and 128 characters, and may contain "
            "letters, numbers, and the following characters: - ( ) . / _.'"
        )
    return name


def version_key(template_id: str, number: int) -> str:
    """A version's record id: its template's id and its number."""
    return f"{template_id}/{number}"


@dataclass(frozen=True, slots=True)
class LaunchTemplate:
    template_id: str
    tenant_id: str
    name: str
    created_at: datetime
    created_by: str  # the ARN of the principal that made it
    default_version: int = 1
    latest_version: int = 1
    last_version: int = 1  # the highest number ever given, deleted or not
    tags: Tags = ()
    # CreateLaunchTemplate's ClientToken and a digest of its request, as for instances.
    client_token: str | None = None
    request_digest: str = ""
    format_version: int = FORMAT_VERSION
    revision: int = 0

    @property
    def resource_id(self) -> str:
        return self.template_id

    def resolve(self, version: str | None, existing: set[int] | None = None) -> int:
        """The number ``version`` names: ``$Latest``, ``$Default`` (also when None) or a
        number; NotFound (``lt-version``) for one that is not a number or, when ``existing``
        is given, not among them."""
        if version is None or version in ("", DEFAULT):
            return self.default_version
        if version == LATEST:
            return self.latest_version
        if not version.isdigit() or not 1 <= int(version) <= self.last_version:
            raise NotFound("lt-version", f"{version[:32]} of {self.template_id}")
        number = int(version)
        if existing is not None and number not in existing:
            raise NotFound("lt-version", f"{number} of {self.template_id}")
        return number


@dataclass(frozen=True, slots=True)
class LaunchTemplateVersion:
    """One version, immutable once made (deleted, never changed)."""

    template_id: str
    tenant_id: str
    number: int
    created_at: datetime
    created_by: str
    parameters: LaunchParameters = ()
    description: str = ""
    client_token: str | None = None
    request_digest: str = ""
    format_version: int = FORMAT_VERSION
    revision: int = 0

    @property
    def resource_id(self) -> str:
        return version_key(self.template_id, self.number)

    def get(self, name: str) -> str | None:
        return dict(self.parameters).get(name)
