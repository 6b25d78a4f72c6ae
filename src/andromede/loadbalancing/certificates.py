"""What load balancing needs of the account's certificates (decision 0210), as a
:class:`Certificates` port: IAM's server certificates and Certificate Manager's (decision
0230) answer it through adapters (``loadbalancing_adapters.AccountCertificates``, dispatching
by the ARN's service), since bounded contexts do not import each other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["CertificateMaterial", "Certificates"]


@dataclass(frozen=True, slots=True, repr=False)
class CertificateMaterial:
    """A certificate as a TLS server presents it: its PEM body and chain, and its PEM
    private key, opened for the terminator (never logged: no repr)."""

    arn: str
    body: str
    chain: str
    private_key: bytes


class Certificates(Protocol):
    async def exists(self, tenant_id: str, arn: str) -> bool:
        """Whether ``arn`` names one of the account's certificates."""
        ...

    async def material(self, tenant_id: str, arn: str) -> CertificateMaterial:
        """The certificate and its opened key; ``NotFound("CertificateNotFound", …)`` when
        it is gone."""
        ...
