"""An instance's termination and stop protection, what its guest's own power-off does, and
its metadata options (decision 0145): checked here when a launch asks for them, changed here
afterwards (ModifyInstanceAttribute, ModifyInstanceMetadataOptions; and its CPU options,
ModifyInstanceCpuOptions, decision 0214), and the protection's
check that TerminateInstances and StopInstances make before touching anything.

Protection guards the API only, as on EC2: a guest powering itself off with the
``terminate`` behaviour is terminated whatever ``disable_api_termination`` says, and an
instance under stop protection still stops when its guest shuts down.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Final

from andromede.compute.cpu_options import CpuOptionsRequest, check_cpu_options
from andromede.compute.errors import (
    Duplicate,
    IncorrectInstanceState,
    IncorrectState,
    InvalidParameterValue,
    MissingParameter,
    OperationNotPermitted,
    Unsupported,
)
from andromede.compute.metadata_defaults import MetadataDefaults
from andromede.compute.model import Instance, InstanceState, MetadataOptions, Tags, merge_tags
from andromede.compute.service_core import ServiceCore

__all__ = [
    "GUEST_CRASHED_REASON",
    "GUEST_SHUTDOWN_REASON",
    "MAX_HOP_LIMIT",
    "SHUTDOWN_BEHAVIORS",
    "InstanceOptionsMixin",
    "check_metadata_options",
    "check_shutdown_behavior",
    "refuse_protected",
]

SHUTDOWN_BEHAVIORS: Final = ("stop", "terminate")
MAX_HOP_LIMIT: Final = 64  # EC2's bounds of HttpPutResponseHopLimit: 1 to 64
# EC2's state reason, word for word, for an instance whose guest powered itself off.
GUEST_SHUTDOWN_REASON: Final = "Client.InstanceInitiatedShutdown: Instance initiated shutdown"
# A guest whose QEMU died without exiting: EC2's code for a fault on its side.
GUEST_CRASHED_REASON: Final = "Server.InternalError: Internal error"
_GONE: Final = (InstanceState.SHUTTING_DOWN, InstanceState.TERMINATED)
_CHOICES: Final = {
    "http_tokens": ("HttpTokens", ("optional", "required")),
    "http_endpoint": ("HttpEndpoint", ("enabled", "disabled")),
    "instance_metadata_tags": ("InstanceMetadataTags", ("enabled", "disabled")),
    "http_protocol_ipv6": ("HttpProtocolIpv6", ("enabled", "disabled")),
}


def check_shutdown_behavior(value: str) -> str:
    if value not in SHUTDOWN_BEHAVIORS:
        raise InvalidParameterValue(
            f"Value ({value[:32]}) for parameter instanceInitiatedShutdownBehavior is invalid. "
            "Valid values are 'stop' and 'terminate'."
        )
    return value


def check_metadata_options(options: MetadataOptions) -> MetadataOptions:
    """``options`` if each value is one EC2 takes, else InvalidParameterValue naming the
    parameter as EC2 does; IPv6 on is UnsupportedOperation."""
    for attribute, (name, allowed) in _CHOICES.items():
        value = getattr(options, attribute)
        if value not in allowed:
            raise InvalidParameterValue(
                f"The value '{str(value)[:32]}' is not valid for the '{name}' parameter: "
                f"it is one of {', '.join(allowed)}"
            )
    if options.http_protocol_ipv6 == "enabled":
        # The tenant networks are IPv4 only: an IPv6 endpoint would answer nobody.
        raise Unsupported(
            "HttpProtocolIpv6 'enabled' is not supported here yet (the tenant networks are "
            "IPv4 only); leave it out"
        )
    if not 1 <= options.hop_limit <= MAX_HOP_LIMIT:
        raise InvalidParameterValue(
            f"The value '{options.hop_limit}' is not valid for the 'HttpPutResponseHopLimit' "
            f"parameter: it is 1 to {MAX_HOP_LIMIT}"
        )
    return options


def refuse_protected(instances: Sequence[Instance], *, stop: bool) -> None:
    """OperationNotPermitted, with EC2's message, for the first instance the call may not
    terminate (``stop`` False) or stop (``stop`` True): nothing of the call is done."""
    for instance in instances:
        if instance.state in _GONE:
            continue
        if stop and instance.disable_api_stop:
            raise OperationNotPermitted(
                f"The instance '{instance.instance_id}' may not be stopped. Modify its "
                "'disableApiStop' instance attribute and try again."
            )
        if not stop and instance.disable_api_termination:
            raise OperationNotPermitted(
                f"The instance '{instance.instance_id}' may not be terminated. Modify its "
                "'disableApiTermination' instance attribute and try again."
            )


class InstanceOptionsMixin(ServiceCore):
    async def _live_instance(self, tenant_id: str, instance_id: str) -> Instance:
        instance = await self._owned(Instance, tenant_id, instance_id, "i")
        if instance.state in _GONE:
            raise IncorrectState(f"The instance '{instance_id}' is terminating or terminated")
        return instance

    async def set_instance_options(
        self,
        tenant_id: str,
        instance_id: str,
        *,
        disable_api_termination: bool | None = None,
        disable_api_stop: bool | None = None,
        shutdown_behavior: str | None = None,
    ) -> Instance:
        """ModifyInstanceAttribute's protection flags and shutdown behaviour; each None is
        left as it is."""
        if shutdown_behavior is not None:
            check_shutdown_behavior(shutdown_behavior)
        for _ in range(10):
            instance = await self._live_instance(tenant_id, instance_id)
            changed = replace(
                instance,
                disable_api_termination=(
                    instance.disable_api_termination
                    if disable_api_termination is None
                    else disable_api_termination
                ),
                disable_api_stop=(
                    instance.disable_api_stop if disable_api_stop is None else disable_api_stop
                ),
                shutdown_behavior=shutdown_behavior or instance.shutdown_behavior,
            )
            if await self.store.replace(changed):
                return replace(changed, revision=changed.revision + 1)
        raise IncorrectState(f"{instance_id} changed concurrently; retry")

    async def set_autoscaling_group(
        self, tenant_id: str, instance_id: str, group: str | None, tags: Tags = ()
    ) -> Instance:
        """Auto Scaling's AttachInstances (``group`` named, ``tags`` the group's propagated
        ones set) and DetachInstances (None: its ``aws:autoscaling:groupName`` goes, the
        tags stay, as on AWS), decision 0182."""
        for _ in range(10):
            instance = await self._live_instance(tenant_id, instance_id)
            changed = replace(
                instance, autoscaling_group=group, tags=merge_tags(instance.tags, tags)
            )
            if await self.store.replace(changed):
                return replace(changed, revision=changed.revision + 1)
        raise IncorrectState(f"{instance_id} changed concurrently; retry")

    async def metadata_defaults(self, tenant_id: str) -> MetadataDefaults:
        """The tenant's instance metadata defaults (none set: every field None)."""
        found = await self.store.get(MetadataDefaults, tenant_id)
        return found if found is not None else MetadataDefaults(tenant_id)

    async def set_metadata_defaults(
        self, tenant_id: str, **changes: str | int | None
    ) -> MetadataDefaults:
        """ModifyInstanceMetadataDefaults: each field given is set, None clearing it ("no
        preference"); values are checked as an instance's."""
        chosen = {name: value for name, value in changes.items() if value is not None}
        # Checked as a launch would take them: on EC2's own defaults.
        check_metadata_options(replace(MetadataOptions(), **chosen))  # type: ignore[arg-type]
        for _ in range(10):
            current = await self.store.get(MetadataDefaults, tenant_id)
            base = current if current is not None else MetadataDefaults(tenant_id)
            wanted = replace(base, **changes)  # type: ignore[arg-type]
            try:
                if current is None:
                    await self.store.insert(wanted)
                    return wanted
                if await self.store.replace(wanted):
                    return replace(wanted, revision=wanted.revision + 1)
            except Duplicate:  # another gateway made the row first: read it again
                continue
        raise IncorrectState(f"the metadata defaults of {tenant_id} changed concurrently; retry")

    async def set_metadata_options(
        self, tenant_id: str, instance_id: str, **changes: str | int
    ) -> Instance:
        """ModifyInstanceMetadataOptions: the fields of :class:`MetadataOptions` given in
        ``changes``, the others as they are. The metadata service reads them at each request,
        so a change applies at the next one."""
        for _ in range(10):
            instance = await self._live_instance(tenant_id, instance_id)
            # Each value's type and range is checked by check_metadata_options.
            asked = replace(instance.metadata_options, **changes)  # type: ignore[arg-type]
            options = check_metadata_options(asked)
            changed = replace(instance, metadata_options=options)
            if await self.store.replace(changed):
                return replace(changed, revision=changed.revision + 1)
        raise IncorrectState(f"{instance_id} changed concurrently; retry")

    async def set_cpu_options(
        self, tenant_id: str, instance_id: str, core_count: int | None, threads_per_core: int | None
    ) -> Instance:
        """ModifyInstanceCpuOptions: the stopped instance's topology, both counts given, as
        EC2 asks; its guest has it from its next start (decision 0214)."""
        if core_count is None or threads_per_core is None:
            raise MissingParameter(
                "When specifying CpuOptions you must specify both CoreCount and ThreadsPerCore."
            )
        for _ in range(10):
            instance = await self._owned(Instance, tenant_id, instance_id, "i")
            if instance.state is not InstanceState.STOPPED:
                raise IncorrectInstanceState(
                    instance_id,
                    instance.state.label,
                    "modify",
                    f"The instance '{instance_id}' is not in the 'stopped' state.",
                )
            asked = CpuOptionsRequest(core_count, threads_per_core)
            chosen = check_cpu_options(instance.instance_type, instance.vcpus, asked)
            changed = replace(instance, cpu_options=chosen)
            if await self.store.replace(changed):
                return replace(changed, revision=changed.revision + 1)
        raise IncorrectState(f"{instance_id} changed concurrently; retry")
