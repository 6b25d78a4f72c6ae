"""Helpers for the customer-managed key tests: the service over the in-memory store, a real
key-file provider, the KMS authoriser with identity policies set per user, and a clock the
tests move by hand."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from andromede.iam.model import Principal, PrincipalKind, PrincipalPolicies
from andromede.kms.customer_keys import Caller, CustomerKeyService
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.keys_store import MemoryCustomerKeyStore
from andromede.kms.service import KeyService
from andromede.kmsapi.authorise import KmsAuthoriser, alias_names

REGION = "eu-fr-1"
ACCOUNT_A = "111111111111"
ACCOUNT_B = "222222222222"
T0 = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)


@dataclass
class ManualClock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class IdentityPolicies:
    """Identity policies by user id: what ``IdentityService.policies_for`` would return."""

    by_user: dict[str, list[str]] = field(default_factory=dict)
    boundaries: dict[str, str] = field(default_factory=dict)

    async def __call__(self, principal: Principal) -> PrincipalPolicies:
        user_id = principal.user_id or ""
        return PrincipalPolicies(tuple(self.by_user.get(user_id, [])), self.boundaries.get(user_id))


def root(account: str) -> Caller:
    principal = Principal(
        tenant_id=account,
        user_id=None,
        user_name=None,
        kind=PrincipalKind.ROOT,
        arn=f"arn:aws:iam::{account}:root",
    )
    return Caller(account_id=account, arn=principal.arn, principal=principal)


def user(account: str, name: str) -> Caller:
    principal = Principal(
        tenant_id=account,
        user_id=f"AIDA{name.upper()}",
        user_name=name,
        kind=PrincipalKind.USER,
        arn=f"arn:aws:iam::{account}:user/{name}",
    )
    return Caller(account_id=account, arn=principal.arn, principal=principal)


@dataclass
class Kit:
    service: CustomerKeyService
    store: MemoryCustomerKeyStore
    keys: KeyService
    clock: ManualClock
    policies: IdentityPolicies

    def limited(self, **limits: int) -> CustomerKeyService:
        """A service over the same store, keys, clock and policies, with other quotas
        (``on_demand_rotations``, ``grants_per_key``)."""
        return CustomerKeyService(
            self.store,
            self.keys,
            KmsAuthoriser(self.policies, REGION, key_aliases=alias_names(self.store)),
            region=REGION,
            clock=self.clock,
            **limits,
        )


def kit_over(directory: Path, *, regions: Sequence[str] | None = None) -> Iterator[Kit]:
    """A kit on a key file under ``directory`` (a fixture yields from it): the memory store, a
    manual clock, no identity policies; ``regions``: the declared regions (default: ``REGION``
    alone)."""
    store = MemoryCustomerKeyStore()
    keys = KeyService(LocalKeyFileProvider(directory / "keys"))
    clock = ManualClock()
    policies = IdentityPolicies()
    extra = {} if regions is None else {"regions": tuple(regions)}
    service = CustomerKeyService(
        store,
        keys,
        KmsAuthoriser(policies, REGION, key_aliases=alias_names(store)),
        region=REGION,
        clock=clock,
        **extra,
    )
    try:
        yield Kit(service, store, keys, clock, policies)
    finally:
        keys.close()


_HASHES = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}


def independently_verify(
    public_der: bytes, algorithm: str, message: bytes, signature: bytes
) -> None:
    """What any client does with GetPublicKey's answer (a KMS signing algorithm's name, the
    message): raises if the signature is wrong."""
    public = serialization.load_der_public_key(public_der)
    if algorithm == "ED25519_SHA_512":  # pure Ed25519: the message itself, no hash chosen
        assert isinstance(public, ed25519.Ed25519PublicKey)
        public.verify(signature, message)
        return
    chosen = _HASHES[algorithm.rsplit("_", 1)[1]]
    if isinstance(public, rsa.RSAPublicKey):
        pad: padding.AsymmetricPadding = (
            padding.PSS(mgf=padding.MGF1(chosen), salt_length=chosen.digest_size)
            if "PSS" in algorithm
            else padding.PKCS1v15()
        )
        public.verify(signature, message, pad, chosen)
    else:
        assert isinstance(public, ec.EllipticCurvePublicKey)
        public.verify(signature, message, ec.ECDSA(chosen))
