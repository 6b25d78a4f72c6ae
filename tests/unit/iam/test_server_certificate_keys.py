"""A server certificate's private key and crypto-shredding (decision 0205): sealed under the
account's own key ring in the key service, so destroying that ring (closing the account) makes
the stored key unreadable — whatever copy of the database is kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from andromede.iam.errors import InvalidInput
from andromede.iam.service import BootstrapResult, IdentityService
from andromede.kms.errors import KeyDestroyed
from andromede.wiring.queues import KeySealer
from support.clock import Clock
from support.keys import key_service_in


def self_signed(at: float) -> tuple[str, str]:
    """A certificate valid around ``at`` (the service's clock), and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.fromtimestamp(at, UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "www.example.org")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    body = certificate.public_bytes(serialization.Encoding.PEM).decode()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return body, pem


async def test_closing_the_key_ring_shreds_the_private_key(
    identity: IdentityService, tenant: BootstrapResult, clock: Clock, tmp_path: Path
) -> None:
    keys = key_service_in(tmp_path / "keys")
    identity.certificate_sealer = KeySealer(keys)
    body, pem = self_signed(clock.now)
    tenant_id = tenant.tenant.id
    await identity.upload_server_certificate(tenant_id, "www", body, pem)
    assert await identity.server_certificate_private_key(tenant_id, "www") == pem.encode()
    keys.destroy_tenant_key(tenant_id)
    with pytest.raises(KeyDestroyed):
        await identity.server_certificate_private_key(tenant_id, "www")


async def test_without_a_sealer_nothing_is_kept(
    identity: IdentityService, tenant: BootstrapResult, clock: Clock
) -> None:
    body, pem = self_signed(clock.now)
    with pytest.raises(InvalidInput, match="not offered"):
        await identity.upload_server_certificate(tenant.tenant.id, "www", body, pem)
