"""The QEMU hypervisor driver: instances as QEMU processes driven over QMP, volumes as
LUKS-encrypted qcow2 files, NoCloud seeds, tenant networks (user-mode networking with port
forwards where the host cannot build them).

Implements :class:`andromede.compute.driver.HypervisorDriver`. Modules:

- :mod:`~andromede.hypervisor.qemu`: :class:`QemuDriver`, the port's implementation;
  with its parts ``qemu_core``, ``qemu_storage`` and ``qemu_network``;
- :mod:`~andromede.hypervisor.process`: one instance's QEMU process and files on the host;
- :mod:`~andromede.hypervisor.monitor`: a QMP session (keys kept out of logs);
- :mod:`~andromede.hypervisor.images`: ``qemu-img`` and ``cryptsetup`` with keys through pipes;
- :mod:`~andromede.hypervisor.qcow2`: a new LUKS qcow2 volume's layout, around cryptsetup's header;
- :mod:`~andromede.hypervisor.seed`: the NoCloud ``cidata`` ISO;
- :mod:`~andromede.hypervisor.accelerator`: does KVM really run a guest here, else TCG;
- :mod:`~andromede.hypervisor.errors`;
- :mod:`~andromede.hypervisor.tenant_network`: tenant networks (namespaces, bridges, nftables);
  the class composes ``tenant_network_core``, ``_rules``, ``_dnsmasq``, ``_build``,
  ``_instances`` and ``_routing``; :mod:`~andromede.hypervisor.network_layout` (their address
  plan), :mod:`~andromede.hypervisor.network_guards` (the overlay filter, the metadata guard)
  and :mod:`~andromede.hypervisor.netns_commands` (commands, threads inside a namespace);
- :mod:`~andromede.hypervisor.network_probe`: can this host build them (else user mode);
- :mod:`~andromede.hypervisor.user_network`: QEMU's user-mode networking, the fallback;
- :mod:`~andromede.hypervisor.metadata_listeners`: the metadata app on each network's transit
  address;
- :mod:`~andromede.hypervisor.agent` and :mod:`~andromede.hypervisor.remote`: one owner of the
  host's driver, reached by every gateway worker over a private socket.
"""

from typing import TYPE_CHECKING, Any

from andromede.hypervisor.accelerator import AcceleratorProbe, probe_accelerator
from andromede.hypervisor.errors import (
    HypervisorError,
    InstanceBusy,
    InstanceNotRunning,
    VolumeNotFound,
)

if TYPE_CHECKING:
    from andromede.hypervisor.qemu import QemuDriver, QemuDriverConfig

__all__ = [
    "AcceleratorProbe",
    "HypervisorError",
    "InstanceBusy",
    "InstanceNotRunning",
    "QemuDriver",
    "QemuDriverConfig",
    "VolumeNotFound",
    "probe_accelerator",
]

# The driver is imported on first use of its name: a gateway imports this package for its
# agent's socket and TLS (and its wire, its errors) whatever its hypervisor, and the driver's
# modules (QMP, the NoCloud ISO, the networks) were 0.1 s of every start (decision 0347).
_DRIVER_NAMES = frozenset({"QemuDriver", "QemuDriverConfig"})


def __getattr__(name: str) -> Any:
    if name in _DRIVER_NAMES:
        from andromede.hypervisor import qemu

        return getattr(qemu, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
