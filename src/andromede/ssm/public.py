"""Public parameters (decision 0241): the ``/aws/service/…`` parameters every account reads
to find the operator's public images, as AWS publishes its own and the distributions' AMIs
(``data "aws_ssm_parameter" { name = "/aws/service/debian/release/12/latest/amd64" }``).

They are read through from the image library, never copied into an account's store: each
available public image is published under paths derived from its name (no image field names
a path: the operator's ``image import --name`` chooses them):

- ``/aws/service/andromede/images/<name>``, every public image (characters a parameter
  name does not take, such as spaces and parentheses, become ``-``);
- ``/aws/service/debian/release/<major>/latest/<arch>`` and
  ``/aws/service/debian/release/<codename>/latest/<arch>``, Debian's own paths on AWS, for an
  image named ``debian-<major>…`` (``debian-12``, ``debian-12-genericcloud``…), ``<arch>``
  ``amd64`` or ``arm64`` from its architecture.

When several images claim one path, the newest holds it (``latest``). A public parameter's
ARN has an empty account, as AWS's: ``arn:aws:ssm:<region>::parameter/aws/service/…``; its
type is ``String``, its data type ``aws:ec2:image``, its value the image id, its version 1
and its modification time the image's creation.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from andromede.ssm.model import AMI, ParameterType, ParameterVersion

__all__ = [
    "PUBLIC_PREFIX",
    "PublicImage",
    "PublicImages",
    "is_public",
    "public_parameters",
    "public_version",
]

PUBLIC_PREFIX: Final = "/aws/service/"
_LIBRARY: Final = "/aws/service/andromede/images/"
_DEBIAN: Final = re.compile(r"debian-(\d+)(?:[-_. ].*)?", re.IGNORECASE)
_CODENAMES: Final = {
    "10": "buster",
    "11": "bullseye",
    "12": "bookworm",
    "13": "trixie",
    "14": "forky",
}
_ARCHITECTURES: Final = {"x86_64": "amd64", "arm64": "arm64"}
_NOT_IN_A_NAME: Final = re.compile(r"[^a-zA-Z0-9_.\-]+")


@dataclass(frozen=True, slots=True)
class PublicImage:
    """What the image library tells of one available public image."""

    image_id: str
    name: str
    architecture: str
    created: datetime


PublicImages = Callable[[], Awaitable[Sequence[PublicImage]]]


def is_public(name: str) -> bool:
    return name.startswith(PUBLIC_PREFIX)


def _paths(image: PublicImage) -> list[str]:
    paths = [_LIBRARY + (_NOT_IN_A_NAME.sub("-", image.name).strip("-") or image.image_id)]
    debian = _DEBIAN.fullmatch(image.name)
    arch = _ARCHITECTURES.get(image.architecture)
    if debian is not None and arch is not None:
        major = debian.group(1)
        for release in (major, _CODENAMES.get(major)):
            if release is not None:
                paths.append(f"{PUBLIC_PREFIX}debian/release/{release}/latest/{arch}")
    return paths


def public_version(region: str, name: str, image: PublicImage) -> ParameterVersion:
    """The parameter ``name`` publishes ``image`` as: its value (the image id) in ``sealed``,
    in clear (``ParameterService.value`` reads it so), and the empty account of AWS's ARN."""
    return ParameterVersion(
        tenant_id="",
        region=region,
        name=name,
        version=1,
        type=ParameterType.STRING,
        sealed=image.image_id.encode(),
        modified=image.created,
        modified_user="",
        data_type=AMI,
    )


def public_parameters(region: str, images: Iterable[PublicImage]) -> dict[str, ParameterVersion]:
    """Every public parameter by name, the newest image holding a path several claim."""
    chosen: dict[str, PublicImage] = {}
    for image in images:
        for path in _paths(image):
            held = chosen.get(path)
            if held is None or (image.created, image.image_id) > (held.created, held.image_id):
                chosen[path] = image
    return {path: public_version(region, path, image) for path, image in sorted(chosen.items())}
