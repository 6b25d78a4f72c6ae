"""Route 53's DNSSEC signing operations (decision 0317): a public hosted zone's key-signing
keys (CreateKeySigningKey, ActivateKeySigningKey, DeactivateKeySigningKey,
DeleteKeySigningKey), its signing turned on and off (EnableHostedZoneDNSSEC,
DisableHostedZoneDNSSEC) and what GetDNSSEC says of it, with AWS's rules:

- a zone of the caller's account (``NoSuchHostedZone``), public (a private zone is not signed:
  ``InvalidInput``);
- a KSK's name of 3 to 128 letters, digits and underscores (``InvalidKeySigningKeyName``), its
  status ACTIVE or INACTIVE (``InvalidKeySigningKeyStatus``), its KMS key usable by
  ``dnssec-route53.amazonaws.com`` (``InvalidKMSArn``, :class:`KskKeys` checks: a customer
  managed key of the account, enabled, ``ECC_NIST_P256`` ``SIGN_VERIFY``, its policy letting
  the service describe it, read its public key and sign), unique in its zone by name and by
  key (``KeySigningKeyAlreadyExists``), two at most (``TooManyKeySigningKeys``);
- a KSK is deleted only INACTIVE, and the last active one of a signed zone cannot be
  deactivated (``KeySigningKeyInUse``); signing is enabled only with an ACTIVE KSK
  (``KeySigningKeyWithActiveStatusNotFound``) and disabled only where there are DNSSEC
  resources (``DNSSECNotFound``);
- when the parent zone is a public zone served here that delegates to this one (decision
  0324, ``dnssec_parent``), a KSK its DS names is not deactivated nor signing disabled
  (``KeySigningKeyInParentDSRecord``): resolvers would find the zone bogus; and GetDNSSEC's
  ``StatusMessage`` says when the parent holds no DS naming an active KSK (the chain of trust
  is not established yet).

Enabling makes the zone's first zone-signing key (``dnssec_material``); disabling drops them.
Each change tells the name servers (``changed``) to read the zones again."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from andromede.route53.dnssec_material import ZoneKeySealer, new_zone_key
from andromede.route53.dnssec_model import (
    MAX_KEY_SIGNING_KEYS,
    KeySigningKey,
    KskStatus,
    ServeSignature,
    ZoneSigning,
    valid_ksk_name,
)
from andromede.route53.dnssec_parent import keys_in_parent_ds, parent_ds
from andromede.route53.dnssec_store import DnssecStore
from andromede.route53.errors import (
    DNSSECNotFound,
    InvalidInput,
    InvalidKeySigningKeyName,
    InvalidKeySigningKeyStatus,
    KeySigningKeyInParentDSRecord,
    KeySigningKeyInUse,
    KeySigningKeyWithActiveStatusNotFound,
    NoSuchKeySigningKey,
    ZoneChanged,
)
from andromede.route53.model import HostedZone
from andromede.route53.service import Route53Service, Submitted

__all__ = ["DnssecService", "DnssecState", "KskKeys"]


class KskKeys(Protocol):
    async def public_key(self, tenant_id: str, zone_id: str, kms_arn: str) -> bytes:
        """The KMS key's public key (SubjectPublicKeyInfo DER) once it is found usable by
        ``dnssec-route53.amazonaws.com`` for the zone; ``InvalidKMSArn`` otherwise."""


@dataclass(frozen=True)
class DnssecState:
    serve_signature: ServeSignature
    status_message: str
    keys: list[KeySigningKey]


class DnssecService:
    def __init__(
        self,
        zones: Route53Service,
        store: DnssecStore,
        kms: KskKeys,
        sealer: ZoneKeySealer,
        clock: Callable[[], float] = time.time,
        max_keys: int = MAX_KEY_SIGNING_KEYS,
    ) -> None:
        self.zones = zones
        self.store = store
        self._kms = kms
        self._sealer = sealer
        self._clock = clock
        self._max_keys = max_keys

    def _now(self) -> int:
        return int(self._clock() * 1000)

    async def _public_zone(self, tenant_id: str, zone_id: str) -> HostedZone:
        zone = await self.zones.zone(tenant_id, zone_id)
        if zone.private:
            raise InvalidInput(
                "The input is not valid: DNSSEC signing is supported only for public hosted zones"
            )
        return zone

    def _changed(self) -> None:
        if self.zones.public_changed is not None:
            self.zones.public_changed()

    async def create_key(
        self,
        tenant_id: str,
        zone_id: str,
        name: str,
        kms_arn: str,
        status: str,
        caller_reference: str,
    ) -> tuple[KeySigningKey, Submitted]:
        zone = await self._public_zone(tenant_id, zone_id)
        if not valid_ksk_name(name):
            raise InvalidKeySigningKeyName(
                f"The key-signing key name {name[:128]} is not valid: 3 to 128 letters, digits"
                " and underscores (_)."
            )
        if status not in (KskStatus.ACTIVE.value, KskStatus.INACTIVE.value):
            raise InvalidKeySigningKeyStatus(
                f"The key-signing key status {status[:32]} is not valid: ACTIVE or INACTIVE."
            )
        if not 1 <= len(caller_reference) <= 128:
            raise InvalidInput("The input is not valid: CallerReference is 1 to 128 characters")
        public_key = await self._kms.public_key(tenant_id, zone.zone_id, kms_arn)
        now = self._now()
        ksk = KeySigningKey(
            tenant_id, zone.zone_id, name, kms_arn, KskStatus(status), public_key,
            caller_reference, now, now,
        )  # fmt: skip
        await self.store.add_key(ksk, self._max_keys)
        self._changed()
        return ksk, await self.zones.submit(tenant_id)

    async def _key(self, tenant_id: str, zone_id: str, name: str) -> KeySigningKey:
        await self._public_zone(tenant_id, zone_id)
        found = next((k for k in await self.store.keys(tenant_id, zone_id) if k.name == name), None)
        if found is None:
            raise NoSuchKeySigningKey(
                f"No key-signing key named {name[:128]} in the hosted zone {zone_id[:64]}."
            )
        return found

    async def _in_parent_ds(
        self, zone: HostedZone, keys: list[KeySigningKey]
    ) -> tuple[str, list[KeySigningKey]]:
        """The parent zone delegating to ``zone`` here ("" when none) and which of ``keys``
        its DS names."""
        parent, values = parent_ds(zone, await self.zones.store.public_zones())
        return parent, keys_in_parent_ds(zone.name, keys, values) if parent else []

    async def _refuse_if_in_parent_ds(self, zone: HostedZone, keys: list[KeySigningKey]) -> None:
        _, named = await self._in_parent_ds(zone, keys)
        if named:
            raise KeySigningKeyInParentDSRecord(
                f"The key-signing key (KSK) {named[0].name} is specified in a parent DS record."
            )

    async def _set_status(self, ksk: KeySigningKey, status: KskStatus) -> Submitted:
        if not await self.store.set_key_status(
            ksk.tenant_id, ksk.zone_id, ksk.name, status, self._now(), ""
        ):
            raise ZoneChanged("the key-signing key changed meanwhile")
        self._changed()
        return await self.zones.submit(ksk.tenant_id)

    async def activate_key(self, tenant_id: str, zone_id: str, name: str) -> Submitted:
        ksk = await self._key(tenant_id, zone_id, name)
        if ksk.status in (KskStatus.DELETING, KskStatus.INTERNAL_FAILURE):
            raise InvalidKeySigningKeyStatus(
                f"The key-signing key {name} is {ksk.status.value}: it cannot be activated."
            )
        # The key is checked again: its policy or state may have changed since.
        await self._kms.public_key(tenant_id, ksk.zone_id, ksk.kms_arn)
        return await self._set_status(ksk, KskStatus.ACTIVE)

    async def deactivate_key(self, tenant_id: str, zone_id: str, name: str) -> Submitted:
        ksk = await self._key(tenant_id, zone_id, name)
        if ksk.status in (KskStatus.DELETING, KskStatus.INTERNAL_FAILURE):
            raise InvalidKeySigningKeyStatus(
                f"The key-signing key {name} is {ksk.status.value}: it cannot be deactivated."
            )
        signing = await self.store.signing(tenant_id, ksk.zone_id)
        if signing is not None and signing.signing and ksk.status is not KskStatus.INACTIVE:
            others = [
                k
                for k in await self.store.keys(tenant_id, ksk.zone_id)
                if k.name != name and k.status is KskStatus.ACTIVE
            ]
            if not others:
                raise KeySigningKeyInUse(
                    f"The key-signing key {name} is the only active one of the hosted zone"
                    f" {ksk.zone_id}, which is signed: disable DNSSEC signing, or add or"
                    " activate another key-signing key."
                )
        if ksk.status is not KskStatus.INACTIVE:
            zone = await self._public_zone(tenant_id, ksk.zone_id)
            await self._refuse_if_in_parent_ds(zone, [ksk])
        return await self._set_status(ksk, KskStatus.INACTIVE)

    async def delete_key(self, tenant_id: str, zone_id: str, name: str) -> Submitted:
        ksk = await self._key(tenant_id, zone_id, name)
        if ksk.status is not KskStatus.INACTIVE:
            raise InvalidKeySigningKeyStatus(
                f"The key-signing key {name} is {ksk.status.value}: deactivate it before"
                " deleting it."
            )
        if not await self.store.delete_key(tenant_id, ksk.zone_id, name):
            raise NoSuchKeySigningKey(f"No key-signing key named {name[:128]}.")
        self._changed()
        return await self.zones.submit(tenant_id)

    async def enable(self, tenant_id: str, zone_id: str) -> Submitted:
        zone = await self._public_zone(tenant_id, zone_id)
        keys = await self.store.keys(tenant_id, zone.zone_id)
        if not any(k.status is KskStatus.ACTIVE for k in keys):
            raise KeySigningKeyWithActiveStatusNotFound(
                f"The hosted zone {zone.zone_id} has no key-signing key with the status ACTIVE."
            )
        held = await self.store.signing(tenant_id, zone.zone_id)
        if held is None or not held.signing:
            first = await new_zone_key(self._sealer, tenant_id, zone.zone_id, self._clock())
            signing = ZoneSigning(tenant_id, zone.zone_id, True, (first,), self._now())
            if not await self.store.put_signing(signing, None if held is None else held.version):
                raise ZoneChanged("the hosted zone's signing changed meanwhile")
            self._changed()
        return await self.zones.submit(tenant_id)

    async def disable(self, tenant_id: str, zone_id: str) -> Submitted:
        zone = await self._public_zone(tenant_id, zone_id)
        held = await self.store.signing(tenant_id, zone.zone_id)
        if held is None and not await self.store.keys(tenant_id, zone.zone_id):
            raise DNSSECNotFound(f"The hosted zone {zone.zone_id} has no DNSSEC resources.")
        if held is not None and held.signing:
            await self._refuse_if_in_parent_ds(zone, await self.store.keys(tenant_id, zone.zone_id))
            signing = ZoneSigning(tenant_id, zone.zone_id, False, (), self._now())
            if not await self.store.put_signing(signing, held.version):
                raise ZoneChanged("the hosted zone's signing changed meanwhile")
            self._changed()
        return await self.zones.submit(tenant_id)

    async def state(self, tenant_id: str, zone_id: str) -> DnssecState:
        zone = await self._public_zone(tenant_id, zone_id)
        keys = await self.store.keys(tenant_id, zone.zone_id)
        held = await self.store.signing(tenant_id, zone.zone_id)
        if held is None or not held.signing:
            return DnssecState(ServeSignature.NOT_SIGNING, "", keys)
        needing = [k for k in keys if k.status is KskStatus.ACTION_NEEDED]
        if needing:
            message = f"Key-signing key {needing[0].name}: {needing[0].status_message}"
            return DnssecState(ServeSignature.ACTION_NEEDED, message[:1024], keys)
        active = [k for k in keys if k.status is KskStatus.ACTIVE]
        parent, named = await self._in_parent_ds(zone, active)
        if parent and not named:
            message = (
                f"The parent zone {parent} delegates to this zone without a DS record naming"
                " an active key-signing key: the chain of trust is not established."
            )
            return DnssecState(ServeSignature.SIGNING, message, keys)
        return DnssecState(ServeSignature.SIGNING, "", keys)

    async def zone_deleted(self, tenant_id: str, zone_id: str) -> None:
        await self.store.delete_zone(tenant_id, zone_id)
