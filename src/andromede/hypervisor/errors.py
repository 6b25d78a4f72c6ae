"""The QEMU driver's errors. No HTTP, no secrets in messages (a key never reaches one).

::

    HypervisorError            the host refused or failed an operation
    ├── VolumeNotFound         no such volume or snapshot file on this host
    ├── InstanceNotRunning     the call needs a running QEMU and there is none
    ├── InstanceBusy           the call needs a stopped instance (release, start twice)
    ├── ImageRefused           an image's bytes do not match its checksum, format or size cap
    └── ImageInUse             forget_image while a volume on this host reads from the copy
"""

from __future__ import annotations

from andromede.errors import AndromedeError

__all__ = [
    "HypervisorError",
    "ImageInUse",
    "ImageRefused",
    "InstanceBusy",
    "InstanceNotRunning",
    "VolumeNotFound",
]


class HypervisorError(AndromedeError):
    """The host refused or failed an operation."""


class VolumeNotFound(HypervisorError):
    pass


class InstanceNotRunning(HypervisorError):
    pass


class InstanceBusy(HypervisorError):
    pass


class ImageRefused(HypervisorError):
    pass


class ImageInUse(HypervisorError):
    pass
