"""The QEMU driver's errors. No HTTP, no secrets in messages (a key never reaches one).

::

    HypervisorError            the host refused or failed an operation
    ├── VolumeNotFound         no such volume or snapshot file on this host
    ├── InstanceNotRunning     the call needs a running QEMU and there is none
    ├── InstanceBusy           the call needs a stopped instance (release, start twice)
    ├── AddressRefused         an Elastic IP the host cannot route to the instance
    ├── ImageRefused           an image's bytes do not match its checksum, format or size cap
    └── ImageInUse             forget_image while a volume on this host reads from the copy
"""

from __future__ import annotations

from andromede.errors import AndromedeError

__all__ = [
    "AddressRefused",
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


class AddressRefused(HypervisorError):
    """Not an IPv4 address, one of the host's own ranges, another instance's, or an instance
    whose network the host does not route (user-mode networking)."""


class ImageRefused(HypervisorError):
    pass


class ImageInUse(HypervisorError):
    pass
