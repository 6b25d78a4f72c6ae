"""The keys the public name servers sign with (decision 0317): each signed zone's zone-signing
keys, made, sealed and rolled here, and its DNSKEY set's signatures by its key-signing keys,
asked of KMS and kept until they near their end.

Zone-signing keys (ZSKs) are ECDSA P-256 keys Route 53 makes for each zone: the private key
(PKCS#8) is sealed under the account's key (:class:`ZoneKeySealer`) before it is stored, and
opened in memory only. They roll on a schedule, by pre-publication (RFC 6781 §4.1.1.1): once
the active key is ``rotation - DNSKEY_TTL`` seconds old, a new one is made and published;
it signs once it has been published a DNSKEY TTL (every resolver's cached DNSKEY set then
holds it); the old one stays published while signatures it made may still be cached
(``validity`` plus a DNSKEY TTL after its successor took over), then goes. Several gateways
may roll at once: the write is compare-and-set, the loser reads the winner's keys.

A KSK's signature of the DNSKEY set is made by KMS (:class:`KskSigner`: the key's policy must
still let ``dnssec-route53.amazonaws.com`` sign) and kept until less than half its validity
is left or the set changes. A KSK KMS refuses is marked ``ACTION_NEEDED`` (GetDNSSEC says
why), stays published and is tried again after ``RETRY`` (``ACTIVE`` again once KMS signs);
its zone goes on being answered with the signatures the other KSKs made.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol

import dns.name
import dns.rrset
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from dns.rdtypes.ANY.DNSKEY import DNSKEY

from andromede.route53.dnssec_model import (
    KSK_FLAG,
    ZSK_FLAG,
    GenericPrivateKey,
    GenericPublicKey,
    KeySigningKey,
    KskStatus,
    ZoneSigning,
    ZoneSigningKey,
    dnskey_of,
    dnssec,
)
from andromede.route53.dnssec_signer import CLOCK_SKEW, DNSKEY_TTL, ZoneKeys
from andromede.route53.dnssec_store import DnssecStore

__all__ = [
    "RETRY",
    "KskRefused",
    "KskSigner",
    "SigningMaterial",
    "ZoneKeySealer",
    "active_zone_key",
    "new_zone_key",
    "rolled",
]

log = logging.getLogger(__name__)

RETRY: Final = 60.0  # seconds before a KSK KMS refused is asked again
# A KSK KMS refused stays published (and is asked again): the customer fixes its key.
_PUBLISHED: Final = frozenset({KskStatus.ACTIVE, KskStatus.ACTION_NEEDED})


class KskRefused(Exception):
    """KMS did not sign with the KSK's key (its message says why, with no secret)."""


class KskSigner(Protocol):
    async def sign(self, ksk: KeySigningKey, message: bytes) -> bytes:
        """The key's ECDSA_SHA_256 signature (DER) of ``message``; ``KskRefused``."""


class ZoneKeySealer(Protocol):
    async def seal(self, tenant_id: str, plaintext: bytes, context: bytes) -> bytes: ...

    async def open(self, tenant_id: str, sealed: bytes, context: bytes) -> bytes: ...


def _context(zone_id: str, created: int) -> bytes:
    return f"route53-zsk\n{zone_id}\n{created}".encode()


async def new_zone_key(
    sealer: ZoneKeySealer, tenant_id: str, zone_id: str, now: float
) -> ZoneSigningKey:
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    created = int(now)
    sealed = await sealer.seal(tenant_id, der, _context(zone_id, created))
    return ZoneSigningKey(created, public, sealed)


def active_zone_key(keys: tuple[ZoneSigningKey, ...], now: float) -> ZoneSigningKey:
    """The ZSK that signs now: the newest published a DNSKEY TTL already (the first one
    signs at once: nothing was cached before it)."""
    ready = [k for k in keys if k.created + DNSKEY_TTL <= now]
    return ready[-1] if ready else keys[0]


async def rolled(
    signing: ZoneSigning,
    sealer: ZoneKeySealer,
    now: float,
    rotation: int,
    validity: int,
) -> ZoneSigning | None:
    """``signing`` with its ZSKs rolled as the schedule says, None when nothing is due."""
    keys = signing.zone_keys
    if not keys:
        fresh = await new_zone_key(sealer, signing.tenant_id, signing.zone_id, now)
        return _with_keys(signing, (fresh,), now)
    active = active_zone_key(keys, now)
    newest = keys[-1]
    if newest is active and now >= active.created + rotation - DNSKEY_TTL:
        fresh = await new_zone_key(sealer, signing.tenant_id, signing.zone_id, now)
        return _with_keys(signing, (*keys, fresh), now)
    at = keys.index(active)
    took_over = active.created + DNSKEY_TTL
    if at > 0 and now >= took_over + validity + DNSKEY_TTL + CLOCK_SKEW:
        return _with_keys(signing, keys[at:], now)
    return None


def _with_keys(signing: ZoneSigning, keys: tuple[ZoneSigningKey, ...], now: float) -> ZoneSigning:
    return ZoneSigning(
        signing.tenant_id, signing.zone_id, signing.signing, keys, int(now * 1000), signing.version
    )


class _CapturedData(GenericPrivateKey):
    """A private key for ``dns.dnssec.sign`` that keeps the data to sign (RFC 4034 §3.1.8.1,
    made by dnspython) and signs nothing: KMS signs it afterwards."""

    public_cls = GenericPublicKey

    def __init__(self, key: Any = None) -> None:
        self.data = b""

    def sign(self, data: bytes, verify: bool = False, deterministic: bool = True) -> bytes:
        self.data = data
        return bytes(64)

    def public_key(self) -> GenericPublicKey:
        raise NotImplementedError

    @classmethod
    def from_pem(cls, private_pem: bytes, password: bytes | None = None) -> _CapturedData:
        raise NotImplementedError

    def to_pem(self, password: bytes | None = None) -> bytes:
        raise NotImplementedError


class SigningMaterial:
    """Each signed zone's :class:`ZoneKeys`, for the name servers' view of the zones."""

    def __init__(
        self,
        store: DnssecStore,
        signer: KskSigner,
        sealer: ZoneKeySealer,
        validity: int,
        rotation: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._signer = signer
        self._sealer = sealer
        self.validity = validity
        self._rotation = rotation
        self.clock = clock
        self._private: dict[tuple[str, int], ec.EllipticCurvePrivateKey] = {}
        # (zone id, KSK name, DNSKEY set's wire) -> (its RRSIG, when it expires)
        self._signatures: dict[tuple[str, str, bytes], tuple[Any, int]] = {}
        self._refused: dict[tuple[str, str], float] = {}  # (zone id, KSK name) -> when

    async def zone_keys(self, zones: Mapping[str, tuple[str, str]]) -> dict[str, ZoneKeys]:
        """The keys of the signed zones among ``zones`` (name -> (account, zone id))."""
        wanted = {(tenant, zone_id): name for name, (tenant, zone_id) in zones.items()}
        found: dict[str, ZoneKeys] = {}
        for signing, ksks in await self._store.signed_zones():
            name = wanted.get((signing.tenant_id, signing.zone_id))
            if name is None:
                continue
            try:
                found[name] = await self._keys_of(name, signing, ksks)
            except Exception:  # this zone is answered unsigned; the others still signed
                log.exception("Route 53 DNSSEC: zone %s could not be signed", signing.zone_id)
        return found

    async def _keys_of(
        self, name: str, signing: ZoneSigning, ksks: list[KeySigningKey]
    ) -> ZoneKeys:
        now = self.clock()
        changed = await rolled(signing, self._sealer, now, self._rotation, self.validity)
        if changed is not None:
            if await self._store.put_signing(changed, signing.version):
                signing = changed
            else:  # another gateway rolled first: its keys
                signing = await self._store.signing(signing.tenant_id, signing.zone_id) or signing
        active = active_zone_key(signing.zone_keys, now)
        private = await self._private_key(signing, active)
        owner = dns.name.from_text(name)
        published = [k for k in ksks if k.status in _PUBLISHED]
        dnskeys = [dnskey_of(k.public_key, KSK_FLAG) for k in published]
        dnskeys += [dnskey_of(z.public_key, ZSK_FLAG) for z in signing.zone_keys]
        rrset = dns.rrset.from_rdata_list(owner, DNSKEY_TTL, dnskeys)
        signatures = []
        for ksk, dnskey in zip(published, dnskeys, strict=False):
            made = await self._ksk_signature(signing.zone_id, ksk, dnskey, rrset, now)
            if made is not None:
                signatures.append(made)
        return ZoneKeys(
            zone=name,
            dnskeys=rrset,
            dnskey_signatures=(
                dns.rrset.from_rdata_list(owner, DNSKEY_TTL, signatures) if signatures else None
            ),
            zone_key=private,
            zone_dnskey=dnskey_of(active.public_key, ZSK_FLAG),
        )

    async def _private_key(
        self, signing: ZoneSigning, key: ZoneSigningKey
    ) -> ec.EllipticCurvePrivateKey:
        cached = self._private.get((signing.zone_id, key.created))
        if cached is not None:
            return cached
        der = await self._sealer.open(
            signing.tenant_id, key.sealed_private_key, _context(signing.zone_id, key.created)
        )
        private = serialization.load_der_private_key(der, password=None)
        if not isinstance(private, ec.EllipticCurvePrivateKey):
            raise ValueError("a zone-signing key is not an ECDSA key")
        self._private[(signing.zone_id, key.created)] = private
        return private

    async def _ksk_signature(
        self,
        zone_id: str,
        ksk: KeySigningKey,
        dnskey: DNSKEY,
        rrset: dns.rrset.RRset,
        now: float,
    ) -> Any:
        wire = b"".join(sorted(d.to_digestable(dns.name.root) for d in rrset))
        cached = self._signatures.get((zone_id, ksk.name, wire))
        if cached is not None and cached[1] - now > self.validity / 2:
            return cached[0]
        refused_at = self._refused.get((zone_id, ksk.name))
        if refused_at is not None and now - refused_at < RETRY:
            return None if cached is None or cached[1] <= now else cached[0]
        capture = _CapturedData()
        expiration = int(now) + self.validity
        template = dnssec.sign(
            rrset,
            capture,
            rrset.name,
            dnskey,
            inception=int(now) - CLOCK_SKEW,
            expiration=expiration,
        )
        try:
            der = await self._signer.sign(ksk, capture.data)
        except KskRefused as exc:
            self._refused[(zone_id, ksk.name)] = now
            log.warning("Route 53 DNSSEC: KSK %s of zone %s refused: %s", ksk.name, zone_id, exc)
            await self._store.set_key_status(
                ksk.tenant_id, zone_id, ksk.name, KskStatus.ACTION_NEEDED, int(now * 1000),
                str(exc)[:512],
            )  # fmt: skip
            return None
        self._refused.pop((zone_id, ksk.name), None)
        if ksk.status is KskStatus.ACTION_NEEDED:  # its key works again
            await self._store.set_key_status(
                ksk.tenant_id, zone_id, ksk.name, KskStatus.ACTIVE, int(now * 1000), ""
            )
        r, s = utils.decode_dss_signature(der)
        rrsig = template.replace(signature=r.to_bytes(32, "big") + s.to_bytes(32, "big"))
        for key in [k for k in self._signatures if k[:2] == (zone_id, ksk.name)]:
            del self._signatures[key]
        self._signatures[(zone_id, ksk.name, wire)] = (rrsig, expiration)
        return rrsig
