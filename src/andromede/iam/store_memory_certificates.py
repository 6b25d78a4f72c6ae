"""The in-memory identity store's server certificates (decision 0205): mixed into
:class:`~andromede.iam.store_memory.MemoryIdentityStore`, split off for size."""

from __future__ import annotations

from dataclasses import replace

from andromede.iam.errors import EntityAlreadyExists, NoSuchEntity
from andromede.iam.model import ServerCertificate

__all__ = ["MemoryServerCertificatesMixin"]


class MemoryServerCertificatesMixin:
    _certificates: dict[tuple[str, str], ServerCertificate]  # (tenant, name) -> certificate

    def _held_certificates(self) -> dict[tuple[str, str], ServerCertificate]:
        return self._certificates

    async def create_server_certificate(self, certificate: ServerCertificate) -> None:
        held = self._held_certificates()
        key = (certificate.tenant_id, certificate.name)
        if key in held:
            raise EntityAlreadyExists(certificate.name)
        held[key] = certificate

    async def get_server_certificate(self, tenant_id: str, name: str) -> ServerCertificate | None:
        return self._held_certificates().get((tenant_id, name))

    async def list_server_certificates(self, tenant_id: str) -> list[ServerCertificate]:
        return sorted(
            (c for (tenant, _), c in self._held_certificates().items() if tenant == tenant_id),
            key=lambda c: c.name,
        )

    async def update_server_certificate(
        self, certificate: ServerCertificate, read: ServerCertificate
    ) -> bool:
        held = self._held_certificates()
        current = held.get((read.tenant_id, read.name))
        if current is None or current.certificate_id != read.certificate_id:
            raise NoSuchEntity(read.name)
        if (current.path, current.tags) != (read.path, read.tags):
            return False
        if certificate.name != read.name and (certificate.tenant_id, certificate.name) in held:
            raise EntityAlreadyExists(certificate.name)
        del held[(read.tenant_id, read.name)]
        held[(certificate.tenant_id, certificate.name)] = replace(
            current, name=certificate.name, path=certificate.path, tags=certificate.tags
        )
        return True

    async def delete_server_certificate(self, tenant_id: str, name: str) -> bool:
        return self._held_certificates().pop((tenant_id, name), None) is not None
