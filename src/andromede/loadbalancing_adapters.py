"""Load balancing's view of the VPCs over the compute service (decision 0191): the adapter
between bounded contexts, which do not import each other.

A load balancer's node holds its address as a requester-managed network interface of the
subnet described ``ELB net/<name>/<id>``, so no instance, endpoint or other node is given it.
"""

from __future__ import annotations

from collections.abc import Sequence

from andromede.acm import errors as acm_errors
from andromede.acm.service import AcmService
from andromede.compute import errors as compute_errors
from andromede.compute.model import Instance, InstanceState, SecurityGroup
from andromede.compute.network import merge_firewall
from andromede.compute.network_interfaces import InterfaceRequest
from andromede.compute.service import ComputeService
from andromede.errors import AndromedeError
from andromede.iam import errors as iam_errors
from andromede.iam.model import Principal
from andromede.iam.service import IdentityService
from andromede.loadbalancing.certificates import CertificateMaterial, Certificates
from andromede.loadbalancing.errors import (
    InvalidConfiguration,
    InvalidSecurityGroup,
    InvalidSubnet,
    NotFound,
)
from andromede.loadbalancing.network import InstanceFacts, SubnetFacts
from andromede.s3.authorise import S3Authoriser
from andromede.s3.operations import S3Operation
from andromede.storage.service import ObjectService

__all__ = [
    "AccountCertificates",
    "AcmCertificates",
    "BucketObjects",
    "ComputeNetwork",
    "IdentityCertificates",
]


class ComputeNetwork:
    """:class:`~andromede.loadbalancing.network.Network` over the compute service."""

    def __init__(self, compute: ComputeService) -> None:
        self._compute = compute

    async def subnets(self, tenant_id: str, subnet_ids: Sequence[str]) -> list[SubnetFacts]:
        try:
            found = await self._compute.describe_subnets(tenant_id, list(subnet_ids))
        except (compute_errors.NotFound, compute_errors.InvalidId) as exc:
            raise NotFound("SubnetNotFound", f"The specified subnet does not exist: {exc}") from exc
        by_id = {s.subnet_id: s for s in found}
        return [
            SubnetFacts(s, by_id[s].vpc_id, by_id[s].cidr, by_id[s].availability_zone)
            for s in subnet_ids
        ]

    async def vpc_exists(self, tenant_id: str, vpc_id: str) -> bool:
        try:
            return bool(await self._compute.describe_vpcs(tenant_id, [vpc_id]))
        except (compute_errors.NotFound, compute_errors.InvalidId):
            return False

    async def reserve(
        self,
        tenant_id: str,
        subnet_id: str,
        address: str | None,
        description: str,
        group_ids: Sequence[str] = (),
    ) -> tuple[str, str]:
        # The load balancer's groups on its nodes' interfaces, as AWS's: DeleteSecurityGroup
        # refuses a group an NLB still has (DependencyViolation).
        request = InterfaceRequest(
            subnet_id=subnet_id,
            private_ip=address,
            description=description,
            group_ids=tuple(group_ids),
        )
        try:
            interface = await self._compute.create_network_interface(tenant_id, request)
        except compute_errors.ResourceInUse as exc:
            raise InvalidConfiguration(f"The address {address} is in use in {subnet_id}") from exc
        except compute_errors.NetworkLimitExceeded as exc:
            raise InvalidSubnet(f"Not enough free addresses in subnet '{subnet_id}'") from exc
        except compute_errors.ComputeError as exc:
            raise InvalidConfiguration(str(exc)) from exc
        return interface.interface_id, interface.private_ip

    async def set_interface_groups(
        self, tenant_id: str, interface_id: str, group_ids: Sequence[str]
    ) -> None:
        try:
            await self._compute.modify_network_interface(
                tenant_id, interface_id, group_ids=group_ids
            )
        except compute_errors.NotFound:
            return  # the node's interface is gone: nothing to hold the groups
        except compute_errors.ComputeError as exc:
            raise InvalidSecurityGroup(str(exc)) from exc

    async def release(self, tenant_id: str, interface_id: str) -> None:
        try:
            await self._compute.delete_network_interface(tenant_id, interface_id)
        except compute_errors.NotFound:
            return  # gone already

    async def instances(self, tenant_id: str, ids: Sequence[str]) -> dict[str, InstanceFacts]:
        found: dict[str, InstanceFacts] = {}
        for instance_id in dict.fromkeys(ids):
            try:
                held = await self._compute.describe_instances(tenant_id, [instance_id])
            except (compute_errors.NotFound, compute_errors.InvalidId):
                continue
            for instance in held:
                fact = _facts(instance)
                if fact is not None:
                    found[instance.instance_id] = fact
        return found

    async def security_groups(self, tenant_id: str, group_ids: Sequence[str]) -> dict[str, str]:
        held = await self._compute.store.list(SecurityGroup, tenant_id)
        return {g.group_id: g.vpc_id or "" for g in held if g.group_id in group_ids}

    async def default_security_group(self, tenant_id: str, vpc_id: str) -> str:
        return (await self._compute.default_group_of(tenant_id, vpc_id)).group_id

    async def group_ingress(
        self, tenant_id: str, group_ids: Sequence[str]
    ) -> list[tuple[str, int, int, str]]:
        held = await self._compute.store.list(SecurityGroup, tenant_id)
        groups = [g for g in held if g.group_id in group_ids]
        members: dict[str, list[str]] = {}
        for instance in await self._compute.store.list(Instance, tenant_id):
            if instance.private_ip is None or instance.state not in _HOLDS_ADDRESS:
                continue
            for group_id in instance.security_group_ids:
                members.setdefault(group_id, []).append(instance.private_ip)
        lists = await self._compute.prefix_list_cidrs(tenant_id)
        merged = merge_firewall(groups, members, lists)
        return [(r.protocol, r.from_port, r.to_port, r.cidr) for r in merged.ingress]


# An instance holds its address (a group's rule naming it admits it) while pending or running.
_HOLDS_ADDRESS = frozenset({InstanceState.PENDING, InstanceState.RUNNING})


def _facts(instance: Instance) -> InstanceFacts | None:
    if instance.vpc_id is None or instance.private_ip is None:
        return None
    if instance.state is InstanceState.TERMINATED:
        return None
    return InstanceFacts(
        instance.instance_id,
        instance.vpc_id,
        instance.private_ip,
        instance.availability_zone,
        instance.state is InstanceState.RUNNING,
    )


class IdentityCertificates:
    """:class:`~andromede.loadbalancing.certificates.Certificates` over IAM's server
    certificates (decision 0210): an ARN names one when it is the account's and its path and
    name are a stored certificate's (a renamed certificate has a new ARN, as in IAM)."""

    def __init__(self, identity: IdentityService) -> None:
        self._identity = identity

    async def _found(self, tenant_id: str, arn: str) -> str | None:
        prefix = f"arn:aws:iam::{tenant_id}:server-certificate/"
        if not arn.startswith(prefix):
            return None
        name = arn.rsplit("/", 1)[-1]
        try:
            found = await self._identity.get_server_certificate(tenant_id, name)
        except iam_errors.NoSuchEntity:
            return None
        return name if found.arn == arn else None

    async def exists(self, tenant_id: str, arn: str) -> bool:
        return await self._found(tenant_id, arn) is not None

    async def material(self, tenant_id: str, arn: str) -> CertificateMaterial:
        name = await self._found(tenant_id, arn)
        if name is None:
            raise NotFound("CertificateNotFound", f"Certificate '{arn[:512]}' not found")
        found = await self._identity.get_server_certificate(tenant_id, name)
        key = await self._identity.server_certificate_private_key(tenant_id, name)
        return CertificateMaterial(arn, found.body, found.chain or "", key)


class AcmCertificates:
    """:class:`~andromede.loadbalancing.certificates.Certificates` over Certificate Manager's
    imported certificates (decision 0230): an ARN names one when it is a certificate of the
    account in ACM; a re-imported certificate keeps its ARN, so its listeners present the new
    one at their next refresh."""

    def __init__(self, acm: AcmService) -> None:
        self._acm = acm

    async def exists(self, tenant_id: str, arn: str) -> bool:
        try:
            await self._acm.get(tenant_id, arn)
        except (acm_errors.CertificateNotFound, acm_errors.InvalidArn):
            return False
        return True

    async def material(self, tenant_id: str, arn: str) -> CertificateMaterial:
        try:
            found = await self._acm.get(tenant_id, arn)
            key = await self._acm.private_key(tenant_id, arn)
        except (acm_errors.CertificateNotFound, acm_errors.InvalidArn):
            raise NotFound("CertificateNotFound", f"Certificate '{arn[:512]}' not found") from None
        return CertificateMaterial(arn, found.body, found.chain or "", key)


class AccountCertificates:
    """The account's certificates for its listeners (decisions 0210 and 0230): an ARN of
    service ``iam`` is a server certificate's, of ``acm`` an ACM certificate's."""

    def __init__(self, iam: Certificates, acm: Certificates) -> None:
        self._by_service = {"iam": iam, "acm": acm}

    def _of(self, arn: str) -> Certificates | None:
        parts = arn.split(":", 3)
        return self._by_service.get(parts[2]) if len(parts) == 4 and parts[0] == "arn" else None

    async def exists(self, tenant_id: str, arn: str) -> bool:
        certificates = self._of(arn)
        return certificates is not None and await certificates.exists(tenant_id, arn)

    async def material(self, tenant_id: str, arn: str) -> CertificateMaterial:
        certificates = self._of(arn)
        if certificates is None:
            raise NotFound("CertificateNotFound", f"Certificate '{arn[:512]}' not found")
        return await certificates.material(tenant_id, arn)


class BucketObjects:
    """Trust stores' bundles and revocation lists (decision 0256) read from the account's
    bucket as the caller: ``s3:GetObject`` (``s3:GetObjectVersion`` for a version) through
    the S3 authoriser — identity and bucket policies —, decrypted by the object service as
    ImportImage's reads are; any refusal, an SSE-C object or a missing one is None."""

    def __init__(self, objects: ObjectService, authoriser: S3Authoriser) -> None:
        self._objects = objects
        self._authoriser = authoriser

    async def read(
        self, caller: object, bucket: str, key: str, version: str | None, limit: int
    ) -> bytes | None:
        if not isinstance(caller, Principal):
            return None
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
                action=None if version is None else "s3:GetObjectVersion",
            )
            record = (
                await self._objects.head_object(bucket, key)
                if version is None
                else await self._objects.get_version(bucket, key, version)
            )
            await self._objects.check_customer_key(record, None)
            if record.size > limit:
                return bytes(limit + 1)  # too large: its bytes are not read
            data = bytearray()
            async for chunk in self._objects.read_object(record, 0, record.size - 1):
                data += chunk
        except AndromedeError:
            return None
        return bytes(data)
