"""Compute's ports implemented at the composition root, where the bounded contexts meet.

- :class:`KmsDiskKeys`: volume data keys from ``kms.KeyService`` — a fresh data key wrapped
  under the tenant's key-encryption key (created on first use, as for objects), so destroying
  the tenant key makes its disks unreadable too (crypto-shredding covers compute). A volume
  made with a customer-managed KMS key (``KmsKeyId``) has its data key wrapped under that key's
  ring instead, bound to the volume's id (``aws:ebs:id``, as EBS): the caller is authorised
  once, at creation (``kms:GenerateDataKeyWithoutPlaintext`` through the key policy and IAM,
  ``kms:ViaService`` ``ec2.<region>.amazonaws.com``; ``kms:Decrypt`` on a snapshot's key to copy
  it, decision 0098); each later use (attach, boot, snapshot)
  is the platform's, as EBS uses its grant, and needs only the key to be usable — disabling it
  stops them, deleting it shreds the volume (decision 0062). A KMS key of an external key
  store wraps the disk key in two layers (decision 0094): its ring, then the customer's XKS
  proxy (GenerateDataKeyWithoutPlaintext at creation, Decrypt at each attach, boot or
  snapshot), so disabling the external key in the customer's HSM, or stopping the proxy,
  stops them too. Every use of a KMS key is audited. Provider calls block: inline with the
  local key file, in a thread with a PKCS#11 token (see object_keys).
- :class:`BucketImageSource`: ImportImage's read of an object in one of the tenant's buckets,
  authorised as the caller (``s3:GetObject`` through the S3 authoriser: identity and bucket
  policies), decrypted by the storage service; any refusal is the import task's failure.
- :func:`hypervisor_drivers`: the drivers the ``hypervisor`` setting names; with ``qemu``, the
  agent of each host of ``hypervisor_hosts`` over mutual TLS (decision 0022), or without them
  the local host's agent reached over its socket (every gateway worker shares the one agent);
- :func:`hypervisor_host_driver`: the QEMU driver the host's agent owns, whose volumes are
  files or Ceph RBD images as ``hypervisor_volume_backend`` says (:func:`hypervisor_volumes`).
- :func:`compute_limits`: the service's limits from the settings.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.compute.driver import HypervisorDriver
from andromede.compute.driver_memory import MemoryDriver
from andromede.compute.errors import (
    ComputeError,
    ImportFailed,
    IncorrectState,
    InvalidParameterValue,
    KeyAccessDenied,
    KeyUnusable,
)
from andromede.compute.model import InstanceType, Snapshot, Volume
from andromede.compute.service_core import ComputeLimits
from andromede.errors import AndromedeError
from andromede.hypervisor.agent_tls import agent_client_context
from andromede.hypervisor.images import QemuImg
from andromede.hypervisor.rbd_volumes import RbdConfig, RbdVolumes
from andromede.hypervisor.volumes import VolumeBackend
from andromede.iam.model import Principal
from andromede.kms.customer_keys import Caller, CustomerKeyService
from andromede.kms.errors import ExternalLayerNeeded, KeyDestroyed, KeyWithdrawn, KmsError
from andromede.kms.external_keys import ExternalWrappedKey, take_outer_layer
from andromede.kms.keys_errors import (
    CmkAccessDenied,
    CmkDisabled,
    CmkInvalidState,
    CustomerKeyError,
    InvalidKeyUsage,
)
from andromede.kms.model import context_digest
from andromede.kms.service import KeyService
from andromede.s3.authorise import S3Authoriser
from andromede.s3.operations import S3Operation
from andromede.settings import Settings
from andromede.storage.service import ObjectService

if TYPE_CHECKING:
    from andromede.hypervisor.qemu import QemuDriver

__all__ = [
    "BucketImageSource",
    "KmsDiskKeys",
    "compute_limits",
    "hypervisor_drivers",
    "hypervisor_host_driver",
    "hypervisor_volumes",
]

_T = TypeVar("_T")


class KmsDiskKeys:
    def __init__(
        self,
        keys: KeyService,
        *,
        inline: bool,
        customer_keys: CustomerKeyService | None = None,
        audit: AuditService | None = None,
    ) -> None:
        self._keys = keys
        self._inline = inline
        self._customer_keys = customer_keys
        self._audit = audit
        self._tenants_with_keys: set[str] = set()

    async def _call(self, work: Callable[[], _T]) -> _T:
        try:
            return work() if self._inline else await asyncio.to_thread(work)
        except ExternalLayerNeeded:  # for the caller: a key of an external key store
            raise
        except (KeyDestroyed, KeyWithdrawn):
            # Destroyed, or imported material deleted: the customer's act, as EC2 reports it.
            raise KeyUnusable("The encryption key of this volume is not available") from None
        except KmsError as exc:
            raise IncorrectState("The encryption key service is unavailable") from exc

    async def customer_key(
        self,
        caller: object,
        tenant_id: str,
        key_ref: str,
        resource_id: str,
        *,
        action: str = "kms:GenerateDataKeyWithoutPlaintext",
    ) -> str:
        customer_keys = self._with_customer_keys()
        if not isinstance(caller, Principal) or caller.tenant_id != tenant_id:
            raise KeyAccessDenied("Volumes under a KMS key are made by a principal of the account")
        asking = Caller(
            account_id=tenant_id,
            arn=caller.arn,
            principal=caller,
            secure=True,
            via_service=f"ec2.{customer_keys.region}.amazonaws.com",
        )
        try:
            found = await customer_keys.key_for_sse(
                asking, key_ref, _ebs_context(resource_id), action=action
            )
        except CustomerKeyError as exc:
            self._record(tenant_id, caller.arn, action, asking.resources, resource_id, exc)
            raise _compute_error(exc, key_ref) from None
        self._record(tenant_id, caller.arn, action, [found.arn], resource_id, None)
        return found.arn

    async def new_key(
        self, tenant_id: str, *, kms_key_arn: str | None = None, resource_id: str = ""
    ) -> tuple[bytes, bytes]:
        keys = self._keys
        if kms_key_arn is not None:
            ring = await self._usable_ring(tenant_id, kms_key_arn, resource_id, "GenerateDataKey")
            bound = context_digest(_ebs_context(resource_id))
            try:
                new = await self._call(lambda: keys.new_data_key(ring, bound))
            except ExternalLayerNeeded:
                return await self._new_external(ring, bound)
            return bytes(new.plaintext), new.wrapped
        if tenant_id not in self._tenants_with_keys:
            await self._call(lambda: keys.ensure_tenant_key(tenant_id))
            self._tenants_with_keys.add(tenant_id)
        new = await self._call(lambda: keys.new_data_key(tenant_id))
        return bytes(new.plaintext), new.wrapped

    async def open_key(self, owner: Volume | Snapshot) -> bytes:
        keys, wrapped = self._keys, owner.wrapped_key
        if owner.kms_key_arn is None:
            tenant_id = owner.tenant_id
            return bytes(await self._call(lambda: keys.unwrap_data_key(tenant_id, wrapped)))
        ring = await self._usable_ring(
            owner.tenant_id, owner.kms_key_arn, owner.resource_id, "Decrypt"
        )
        bound = context_digest(_ebs_context(owner.resource_id))
        try:
            return bytes(await self._call(lambda: keys.unwrap_data_key(ring, wrapped, bound)))
        except ExternalLayerNeeded as need:
            await self._open_external(need)
        try:
            return bytes(await self._call(lambda: keys.unwrap_data_key(ring, wrapped, bound)))
        except ExternalLayerNeeded:  # opened, yet not found: as the key service down
            raise IncorrectState("The encryption key service is unavailable") from None

    async def _new_external(self, ring: str, bound: bytes) -> tuple[bytes, bytes]:
        """A disk key of an external key store's KMS key: sealed under the ring, then by the
        customer's proxy (decision 0094)."""
        keys, proxy = self._keys, self._with_customer_keys()
        plaintext, version, inner = await self._call(
            lambda: keys.new_external_data_key(ring, bound)
        )
        try:
            layer = await proxy.wrap_data_key(
                ring,
                version,
                inner,
                bound,
                operation="GenerateDataKeyWithoutPlaintext",
                via_service=f"ec2.{proxy.region}.amazonaws.com",
            )
            return bytes(plaintext), ExternalWrappedKey(ring, version, layer).encode()
        except CustomerKeyError as exc:
            raise KeyUnusable(f"The KMS key provided is in an incorrect state: {exc}") from None
        finally:
            plaintext[:] = bytes(len(plaintext))

    async def _open_external(self, need: ExternalLayerNeeded) -> None:
        """The proxy's Decrypt of a two-layer disk key, opened by the key service (and kept
        for the cache lifetime)."""
        keys, proxy = self._keys, self._with_customer_keys()

        async def open_inner(parsed: ExternalWrappedKey, inner: bytes) -> None:
            await self._call(
                lambda: keys.open_external_data_key(
                    parsed.ring, need.wrapped, need.bound_context, inner
                )
            )

        try:
            await take_outer_layer(
                proxy,
                need.wrapped,
                need.ring,
                need.bound_context,
                f"ec2.{proxy.region}.amazonaws.com",
                open_inner,
            )
        except CustomerKeyError as exc:  # the proxy's answer: the KMS key's error
            raise KeyUnusable(f"The KMS key provided is in an incorrect state: {exc}") from None
        except KmsError:  # the key service's own were mapped by _call: the form is bad
            raise IncorrectState("The volume's wrapped key is damaged") from None

    async def _usable_ring(
        self, tenant_id: str, kms_key_arn: str, resource_id: str, operation: str
    ) -> str:
        """The ring of a volume's KMS key, for a use the platform makes on the volume's behalf
        (audited as EC2's, for the account): KeyUnusable when the customer disabled, scheduled
        for deletion or deleted it."""
        action = f"kms:{operation}"
        try:
            found = await self._with_customer_keys().key_for_service_use(kms_key_arn)
        except CustomerKeyError as exc:
            self._record(tenant_id, _EC2_SERVICE, action, [kms_key_arn], resource_id, exc)
            raise KeyUnusable("The KMS key provided is in an incorrect state") from None
        self._record(tenant_id, _EC2_SERVICE, action, [found.arn], resource_id, None)
        return found.key_ring_id

    def _with_customer_keys(self) -> CustomerKeyService:
        if self._customer_keys is None:
            raise InvalidParameterValue("Customer-managed KMS keys are not served here")
        return self._customer_keys

    def _record(
        self,
        tenant_id: str,
        principal: str,
        action: str,
        resources: list[str],
        resource_id: str,
        error: CustomerKeyError | None,
    ) -> None:
        if self._audit is None:
            return
        details = {"via": "ec2", "aws:ebs:id": resource_id}
        if error is not None:
            details["error"] = type(error).__name__
        for resource in resources or ["*"]:
            request_id = uuid.uuid4().hex.upper()[:16]
            outcome = Outcome.FAILURE if error is not None else Outcome.SUCCESS
            # The key of another account (a shared image's snapshot, decision 0147): its use
            # is in the key owner's trail too, as a cross-account KMS call is in CloudTrail.
            owners = dict.fromkeys((tenant_id, _account_of(resource) or tenant_id))
            for account in owners:
                self._audit.record(
                    request_id=request_id,
                    tenant_id=account,
                    principal=principal,
                    action=action,
                    resource=resource,
                    outcome=outcome,
                    details=(
                        details
                        if account == tenant_id
                        else {**details, "caller_account": tenant_id}
                    ),
                )


_EC2_SERVICE = "ec2.amazonaws.com"


def _account_of(resource: str) -> str | None:
    """The account of a KMS key ARN (``arn:aws:kms:<region>:<account>:key/<id>``); None for
    anything else."""
    parts = resource.split(":", 5)
    if len(parts) == 6 and parts[:3] == ["arn", "aws", "kms"] and parts[4]:
        return parts[4]
    return None


def _ebs_context(resource_id: str) -> dict[str, str]:
    """EBS's encryption context: the volume's or snapshot's id."""
    return {"aws:ebs:id": resource_id}


def _compute_error(exc: CustomerKeyError, key_ref: str) -> ComputeError:
    if isinstance(exc, CmkAccessDenied):
        return KeyAccessDenied(str(exc))
    if isinstance(exc, CmkDisabled | CmkInvalidState):
        return KeyUnusable(f"The KMS key provided is in an incorrect state: {exc}")
    if isinstance(exc, InvalidKeyUsage):
        return InvalidParameterValue(
            f"The KMS key '{key_ref[:256]}' is not a symmetric encryption key"
        )
    return InvalidParameterValue(f"The KMS key '{key_ref[:256]}' does not exist")


class BucketImageSource:
    def __init__(self, objects: ObjectService, authoriser: S3Authoriser) -> None:
        self._objects = objects
        self._authoriser = authoriser

    async def read(self, caller: object, bucket: str, key: str) -> AsyncIterator[bytes]:
        if not isinstance(caller, Principal):
            raise ImportFailed("The import has no caller")
        try:
            found = await self._objects.get_bucket(bucket)
            await self._authoriser.authorise(
                caller,
                S3Operation.GetObject,
                bucket=found,
                bucket_name=bucket,
                key=key,
                keys={},
                source_ip=None,
                secure=True,
            )
            record = await self._objects.head_object(bucket, key)
            await self._objects.check_customer_key(record, None)
            stream = self._objects.read_object(record, 0, record.size - 1)
        except AndromedeError as exc:
            # NoSuchBucket, NoSuchKey, AccessDenied, an SSE-C object: the task's status says so.
            raise ImportFailed(
                f"The object s3://{bucket}/{key[:256]} cannot be read ({type(exc).__name__})"
            ) from None
        async for chunk in stream:
            yield chunk


def hypervisor_drivers(settings: Settings) -> list[HypervisorDriver]:
    """The hosts this gateway drives. One branch per ``hypervisor`` value."""
    if settings.hypervisor == "memory":
        return [
            MemoryDriver(
                vcpus=settings.memory_hypervisor_vcpus,
                memory_mib=settings.memory_hypervisor_memory_mib,
            )
        ]
    if settings.hypervisor == "qemu":
        # Imported here: it brings httpx, which took 0.26 s of every start of a server that
        # drives no agent (decision 0115).
        from andromede.hypervisor.remote import RemoteDriver

        # Every call goes to an agent, the one owner of its host's guests.
        timeout = settings.instance_stop_timeout + 120.0
        if not settings.hypervisor_hosts:
            return [
                RemoteDriver(
                    settings.hypervisor_agent_socket,
                    host=settings.hypervisor_host_name,
                    timeout=timeout,
                    connect_timeout=settings.hypervisor_agent_connect_timeout,
                    query_timeout=settings.hypervisor_agent_query_timeout,
                )
            ]
        cert, key, ca = (
            settings.hypervisor_client_tls_cert,
            settings.hypervisor_client_tls_key,
            settings.hypervisor_agent_tls_ca,
        )
        if cert is None or key is None or ca is None:  # the settings refuse it too
            raise ValueError("hypervisor_hosts needs the gateway's client certificate and CA")
        tls = agent_client_context(cert, key, ca)
        return [
            RemoteDriver(
                host.url,
                host=host.name,
                timeout=timeout,
                connect_timeout=settings.hypervisor_agent_connect_timeout,
                query_timeout=settings.hypervisor_agent_query_timeout,
                tls=tls,
            )
            for host in settings.hypervisor_hosts
        ]
    raise ValueError(f"unknown hypervisor {settings.hypervisor!r}")  # the settings refuse it


def hypervisor_host_driver(settings: Settings) -> QemuDriver:
    """This host's QEMU driver, as its agent owns it."""
    # Imported here, by the hypervisor host alone: 0.1 s of every gateway's start (decision 0347).
    from andromede.hypervisor.qemu import QemuDriver, QemuDriverConfig
    from andromede.hypervisor.tenant_network import NetworkLayout

    config = QemuDriverConfig(
        cpu_overcommit=settings.hypervisor_cpu_overcommit,
        networking=settings.hypervisor_networking,
        network_layout=NetworkLayout(
            transit_cidr=settings.hypervisor_transit_cidr,
            public_cidr=settings.hypervisor_public_cidr,
            imds_port=settings.imds_port,
            vpce_port=settings.hypervisor_vpce_port,
            vpce_tls_port=settings.hypervisor_vpce_tls_port
            if settings.vpc_endpoint_tls_cert
            else 0,
            link_prefix=settings.hypervisor_link_prefix,
            underlay_address=settings.hypervisor_underlay_address,
            vxlan_port=settings.hypervisor_vxlan_port,
            underlay_mtu=settings.hypervisor_underlay_mtu,
            underlay_netns=settings.hypervisor_underlay_netns,
            elastic_ip_uplink=settings.hypervisor_elastic_ip_uplink,
            dns_upstream=settings.hypervisor_dns_upstream,
            dns_supervise_interval=settings.hypervisor_dns_supervise_interval,
            platform_cidrs=tuple(
                block
                for block in (
                    settings.elastic_ip_cidr,
                    *settings.vpc_endpoint_s3_addresses,
                    *settings.network_meter_platform_cidrs,
                )
                if block
            ),
        ),
        max_image_size=settings.max_image_size,
        flow_log_max_flows=settings.flow_log_max_flows,
        vpce_tls_certfile=str(settings.vpc_endpoint_tls_cert or ""),
        vpce_tls_keyfile=str(settings.vpc_endpoint_tls_key or ""),
    )
    return QemuDriver(
        settings.hypervisor_dir,
        host=settings.hypervisor_host_name,
        config=config,
        volumes=hypervisor_volumes(settings),
    )


def hypervisor_volumes(settings: Settings) -> Callable[[Path, QemuImg], VolumeBackend] | None:
    """The QEMU driver's volume backend: None for files in its state directory (the driver's
    default), or Ceph RBD images of ``hypervisor_rbd_pool``."""
    if settings.hypervisor_volume_backend == "file":
        return None
    if settings.ceph_conf is None or settings.ceph_keyring is None:
        raise ValueError("hypervisor_volume_backend = rbd needs ceph_conf and ceph_keyring")
    rbd = RbdConfig(
        conf_file=settings.ceph_conf,
        keyring=settings.ceph_keyring,
        user=settings.ceph_user,
        pool=settings.hypervisor_rbd_pool,
        namespace=settings.hypervisor_rbd_namespace,
        connect_timeout=settings.ceph_connect_timeout,
        op_timeout=settings.ceph_op_timeout,
        release_timeout=settings.hypervisor_rbd_release_timeout,
    )
    return lambda root, img: RbdVolumes(rbd, img)


def endpoint_dns_names(settings: Settings) -> tuple[str, ...]:
    """The names clients reach the platform's APIs by, which a VPC's resolver answers with an
    Interface endpoint's addresses (decision 0166): the S3 domain (dnsmasq's ``--address``
    covers the names under it: virtual-hosted buckets) and the host of the region's public
    URL, when the operator gives one."""
    names = [settings.s3_domain.strip(".").lower()]
    for region in settings.regions:
        if region.name == settings.region and region.endpoint:
            host = urlsplit(region.endpoint).hostname
            if host and not host.replace(".", "").isdigit():
                names.append(host.lower())
    return tuple(n for n in dict.fromkeys(names) if n)


def compute_limits(settings: Settings) -> ComputeLimits:
    return ComputeLimits(
        instance_types=tuple(
            InstanceType(name, vcpus, memory, disk)
            for name, (vcpus, memory, disk) in settings.instance_types.items()
        ),
        max_instances_per_tenant=settings.max_instances_per_tenant,
        max_vcpus_per_tenant=settings.max_vcpus_per_tenant,
        max_user_data_size=settings.max_user_data_size,
        stop_timeout=settings.instance_stop_timeout,
        region=settings.region,
        availability_zone=settings.availability_zone,
        max_image_size=settings.max_image_size,
        terminated_retention=settings.terminated_instance_retention,
        max_volumes_per_instance=settings.max_volumes_per_instance,
        max_image_launch_permissions=settings.max_image_launch_permissions,
        forward_address=str(settings.instance_forward_address),
        max_launch_templates=settings.max_launch_templates_per_tenant,
        spot_price_interval=settings.spot_price_interval,
        spot_price_floor_ratio=settings.spot_price_floor_ratio,
        spot_interruption_notice=settings.spot_interruption_notice,
        max_spot_requests_per_tenant=settings.max_spot_requests_per_tenant,
        spot_price_history_days=settings.spot_price_history_days,
        max_launch_template_versions=settings.max_launch_template_versions,
        max_vpcs=settings.max_vpcs_per_tenant,
        max_subnets_per_vpc=settings.max_subnets_per_vpc,
        max_route_tables_per_vpc=settings.max_route_tables_per_vpc,
        max_routes_per_route_table=settings.max_routes_per_route_table,
        max_network_acls_per_vpc=settings.max_network_acls_per_vpc,
        max_network_acl_entries=settings.max_network_acl_entries,
        max_nat_gateways_per_az=settings.max_nat_gateways_per_az,
        nat_gateway_deleted_visible_seconds=settings.nat_gateway_deleted_visible_seconds,
        max_vpc_peerings_per_vpc=settings.max_vpc_peerings_per_vpc,
        max_dhcp_options=settings.max_dhcp_options_per_tenant,
        max_prefix_lists=settings.max_prefix_lists_per_tenant,
        max_flow_logs=settings.max_flow_logs_per_tenant,
        max_vpc_endpoints=settings.max_vpc_endpoints_per_tenant,
        vpc_endpoint_s3_addresses=settings.vpc_endpoint_s3_addresses,
        max_interface_endpoints_per_vpc=settings.max_interface_endpoints_per_vpc,
        endpoint_private_dns_names=endpoint_dns_names(settings),
        max_interfaces_per_instance=settings.max_network_interfaces_per_instance,
        max_private_ips_per_interface=settings.max_private_ips_per_interface,
        ipv6_pool=settings.vpc_ipv6_pool,
        max_ipv6_addresses_per_interface=settings.max_ipv6_addresses_per_interface,
        max_prefix_list_entries=settings.max_prefix_list_entries,
        prefix_list_versions_kept=settings.prefix_list_versions_kept,
        max_rules_per_security_group=settings.max_rules_per_security_group,
        reserved_cidrs=tuple(
            block
            for block in (
                settings.hypervisor_transit_cidr,
                settings.hypervisor_public_cidr,
                settings.elastic_ip_cidr,
            )
            if block
        ),
        elastic_ip_cidr=settings.elastic_ip_cidr,
        max_elastic_ips=settings.max_elastic_ips_per_tenant,
        public_dns_domain=settings.public_dns_domain,
        image_creation_lease=settings.image_creation_lease,
    )
