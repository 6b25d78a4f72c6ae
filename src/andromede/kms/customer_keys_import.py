"""Imported key material (origin EXTERNAL, decisions 0046 and 0085): GetParametersForImport,
ImportKeyMaterial (one material for an asymmetric or HMAC key; for a symmetric key, material
staged for an on-demand rotation too) and DeleteImportedKeyMaterial.

Mixed into :class:`~andromede.kms.customer_keys.CustomerKeyService`; split off only for size.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from andromede.kms import asymmetric, importing
from andromede.kms.ciphertext import CiphertextBlob
from andromede.kms.errors import AlgorithmNotOffered, KeyAlreadyExists, KeyDestroyed, KeyNotFound
from andromede.kms.keys_errors import (
    CmkInvalidState,
    CmkNotFound,
    ExpiredImportToken,
    IncorrectKeyMaterial,
    InvalidCiphertext,
    InvalidImportToken,
    InvalidKeyParameter,
    UnsupportedKeyOperation,
)
from andromede.kms.keys_interface import Caller, ImportedMaterial, ImportParameters, RequestKeys
from andromede.kms.keys_model import (
    EXPIRATION_KEY_MATERIAL_DOES_NOT_EXPIRE,
    EXPIRATION_KEY_MATERIAL_EXPIRES,
    IMPORT_NEW_KEY_MATERIAL,
    KEY_USAGE_ENCRYPT_DECRYPT,
    KEY_USAGE_KEY_AGREEMENT,
    MAX_MATERIAL_VALIDITY_DAYS,
    CustomerKey,
    KeyMaterial,
    KeyState,
    MaterialState,
)
from andromede.kms.model import DATA_KEY_SIZE
from andromede.kms.providers import MaterialMismatch, check_private_key_material

if TYPE_CHECKING:  # custom_key_stores imports customer_keys' Caller and KeyAuthoriser
    pass

from andromede.kms.customer_keys_core import CustomerKeysCore

__all__ = ["ImportMixin"]


class ImportMixin(CustomerKeysCore):
    """Imported key material (mixed into CustomerKeyService)."""

    @staticmethod
    def _external(key: CustomerKey) -> CustomerKey:
        if not key.external:
            raise UnsupportedKeyOperation(
                f"{key.arn} has origin {key.origin}: only keys of origin EXTERNAL take imported "
                "key material"
            )
        return key

    async def get_parameters_for_import(
        self, caller: Caller, key_ref: str, algorithm: str, key_spec: str
    ) -> ImportParameters:
        """A fresh wrapping key pair and the token that brings its private half back, valid
        for 24 hours, for one import into the EXTERNAL key ``key_ref``."""
        key = self._external(
            await self._resolve(
                caller,
                key_ref,
                "kms:GetParametersForImport",
                request={"kms:WrappingAlgorithm": algorithm, "kms:WrappingKeySpec": key_spec},
            )
        )
        self._not_pending(key)
        if algorithm not in importing.OFFERED_WRAPPING_ALGORITHMS:
            raise UnsupportedKeyOperation(
                f"WrappingAlgorithm {algorithm} is not offered: use RSAES_OAEP_SHA_256 or "
                "RSA_AES_KEY_WRAP_SHA_256"
            )
        if key_spec not in importing.OFFERED_WRAPPING_KEY_SPECS:
            raise UnsupportedKeyOperation(f"WrappingKeySpec {key_spec} is not offered")
        if key.key_spec in asymmetric.ASYMMETRIC_KEY_SPECS and algorithm.startswith("RSAES_"):
            # A private key is longer than RSAES-OAEP can carry (AWS's rule too).
            raise InvalidKeyParameter(
                f"{key.key_spec} key material is imported with RSA_AES_KEY_WRAP_SHA_1 or "
                "RSA_AES_KEY_WRAP_SHA_256"
            )
        private_der, public_der = await asyncio.to_thread(asymmetric.generate_key_pair, key_spec)
        valid_to = (self._clock() + importing.IMPORT_PARAMETERS_LIFETIME).replace(microsecond=0)
        await self._provider(self._keys.ensure_tenant_key, importing.IMPORT_TOKEN_RING)
        sealed = await self._seal_in(
            importing.IMPORT_TOKEN_RING,
            private_der,
            importing.token_context(key.arn, algorithm, key_spec, valid_to),
        )
        token = importing.ImportToken(valid_to, algorithm, key_spec, sealed)
        return ImportParameters(key, public_der, token.encode(), valid_to)

    async def import_key_material(
        self,
        caller: Caller,
        key_ref: str,
        import_token: bytes,
        encrypted_material: bytes,
        *,
        expiration_model: str = EXPIRATION_KEY_MATERIAL_EXPIRES,
        valid_to: datetime | None = None,
        expected_material_id: str | None = None,
        import_type: str | None = None,
        material_description: str | None = None,
    ) -> ImportedMaterial:
        """Open ``encrypted_material`` with the token's wrapping key and make it the key's
        material: the first import fixes which material the key has (its id), and later
        imports — after a deletion, or to change the expiry — must bring the same (and the
        material ``expected_material_id`` names, when given). A symmetric key also takes new
        material (``import_type`` NEW_KEY_MATERIAL), staged until RotateKeyOnDemand makes it
        current (decision 0085)."""
        request: dict[str, str | int | bool | Sequence[str]] = {
            "kms:ExpirationModel": expiration_model
        }
        if valid_to is not None:
            request["kms:ValidTo"] = int(valid_to.timestamp())
        key = self._external(
            await self._resolve(caller, key_ref, "kms:ImportKeyMaterial", request=request)
        )
        self._not_pending(key)
        if not key.symmetric and (import_type is not None or material_description is not None):
            raise UnsupportedKeyOperation(
                f"{key.arn} is not a symmetric encryption key: its one material takes no "
                "ImportType or KeyMaterialDescription"
            )
        if import_type == IMPORT_NEW_KEY_MATERIAL and expected_material_id is not None:
            raise InvalidKeyParameter(
                "KeyMaterialId names material imported before: it is not given with ImportType "
                "NEW_KEY_MATERIAL"
            )
        valid_to = self._check_expiration(expiration_model, valid_to)
        material = await self._open_import(key, import_token, encrypted_material)
        public_key = self._material_public_key(key, material)  # before any claim: it fits
        material_id = importing.material_id(key.key_id, material)
        if expected_material_id is not None and expected_material_id != material_id:
            raise IncorrectKeyMaterial(f"The key material is not {expected_material_id}")
        if key.multi_region:
            if import_type == IMPORT_NEW_KEY_MATERIAL and key.imported_materials:
                # AWS stages it in every region (PENDING_MULTI_REGION_IMPORT_AND_ROTATION):
                # not offered yet, so a multi-Region key keeps its one material.
                raise UnsupportedKeyOperation(
                    f"{key.arn} is a multi-Region key: new key material for it is not offered"
                )
            await self._multi_region.check_material(key, material_id)
        if key.symmetric:
            terms = KeyMaterial(
                material_id,
                0,  # the version is the record's, claimed below
                MaterialState.CURRENT,
                imported=True,
                expiration_model=expiration_model,
                valid_to=valid_to,
                description=material_description,
            )
            imported_key = await self._import_symmetric(
                caller, key_ref, key, material, terms, import_type, request
            )
            return ImportedMaterial(imported_key, material_id)

        def claim(current: CustomerKey) -> CustomerKey:
            # The first import decides which material the key has, before any reaches the
            # provider: two first imports of different material cannot both get in.
            known = current.key_material_id
            if known is None:
                return replace(current, key_material_id=material_id)
            if not secrets.compare_digest(known, material_id):
                raise IncorrectKeyMaterial(
                    f"The key material is not the material previously imported into {key.arn}"
                )
            return current

        def imported(current: CustomerKey) -> CustomerKey:
            with_material = claim(current).with_material(material_id, expiration_model, valid_to)
            return replace(with_material, public_key=public_key)

        action = "kms:ImportKeyMaterial"
        claimed = await self._change(caller, key_ref, action, claim, request=request)
        await self._settle_claim(caller, key_ref, key, claimed, material_id)
        await self._install_material(key, material)
        imported_key = await self._change(caller, key_ref, action, imported, request=request)
        return ImportedMaterial(imported_key, material_id)

    async def _import_symmetric(
        self,
        caller: Caller,
        key_ref: str,
        key: CustomerKey,
        material: bytes,
        terms: KeyMaterial,
        import_type: str | None,
        request: RequestKeys,
    ) -> CustomerKey:
        """Import a symmetric key's material (decision 0085): the first, current at once; new
        material, staged as PENDING_ROTATION in the next version of the ring; or material
        imported before, back into its own version (after its deletion or expiry, or for
        another expiry or description). The record claims the material (and its version)
        before any of it reaches the provider, so two imports cannot both get in; then the
        ring takes it; then the record says it is there."""
        material_id = terms.material_id
        action = "kms:ImportKeyMaterial"

        def claim(current: CustomerKey) -> CustomerKey:
            held = current.material(material_id)
            new = (
                import_type == IMPORT_NEW_KEY_MATERIAL
                if import_type is not None
                else not current.imported_materials
            )
            if not new:
                if held is None:
                    raise IncorrectKeyMaterial(
                        f"The key material is not material previously imported into "
                        f"{current.arn}"
                        + (
                            ": import new material with ImportType NEW_KEY_MATERIAL"
                            if current.imported_materials
                            else ""
                        )
                    )
                return current
            if held is not None:
                if held.imported:
                    raise IncorrectKeyMaterial(
                        f"The key material is already imported into {current.arn}: import it "
                        "again with ImportType EXISTING_KEY_MATERIAL"
                    )
                return current  # a claim whose import did not finish: finish it
            if not current.imported_materials:
                first = replace(terms, version=1, imported=False, valid_to=None)
                return current.with_materials([first])
            pending = current.pending_material
            if pending is not None:
                raise CmkInvalidState(
                    f"{current.arn} already has key material {pending.material_id} in "
                    "PENDING_ROTATION state: rotate the key to it (RotateKeyOnDemand), or "
                    "delete it, before importing other new material"
                )
            if current.state is KeyState.PENDING_IMPORT:
                raise CmkInvalidState(
                    f"{current.arn} is pending import: import its missing material again "
                    "before new material"
                )
            staged = replace(
                terms,
                version=max(m.version for m in current.imported_materials) + 1,
                state=MaterialState.PENDING_ROTATION,
                imported=False,
                valid_to=None,
            )
            return current.with_materials([*current.imported_materials, staged])

        def imported(current: CustomerKey) -> CustomerKey:
            held = current.material(material_id)
            if held is None:  # a staged material deleted meanwhile
                raise CmkInvalidState(
                    f"The key material was deleted from {current.arn} during its import"
                )
            entry = replace(
                held,
                imported=True,
                expiration_model=terms.expiration_model,
                valid_to=terms.valid_to,
                description=(held.description if terms.description is None else terms.description),
            )
            return current.with_materials(
                [entry if m.version == held.version else m for m in current.imported_materials]
            )

        claimed = await self._change(caller, key_ref, action, claim, request=request)
        await self._settle_claim(caller, key_ref, key, claimed, material_id)
        held = claimed.material(material_id)
        if held is None:  # claim() always leaves it there
            raise CmkInvalidState(f"The key material is not claimed in {claimed.arn}")
        try:
            await asyncio.to_thread(
                self._keys.import_tenant_key,
                claimed.key_id,
                material,
                version=held.version,
                pending=held.state is MaterialState.PENDING_ROTATION,
            )
        except KeyAlreadyExists:
            pass  # there already: a new expiry or description, or a retry
        except KeyDestroyed as exc:
            raise CmkNotFound("the key material of this key was destroyed") from exc
        except (KeyNotFound, ValueError) as exc:
            # The ring and the record disagree (material staged into a ring holding none, or
            # below a version it holds): refused, never guessed at.
            raise CmkInvalidState(
                f"The key material of {claimed.arn} cannot be imported into its key ring now"
            ) from exc
        return await self._change(caller, key_ref, action, imported, request=request)

    async def _settle_claim(
        self,
        caller: Caller,
        key_ref: str,
        before: CustomerKey,
        claimed: CustomerKey,
        material_id: str,
    ) -> None:
        """A multi-Region key's claim checked again against its related keys, now that it is
        stored and before the shared ring takes any material: of two first imports of other
        materials into two related keys at once, each claims, then checks, so at least one
        sees the other's claim; that one withdraws its own claim (when this import made it)
        and is refused, and the ring never gets two materials for one key id."""
        if not claimed.multi_region:
            return
        try:
            await self._multi_region.check_material(claimed, material_id)
        except IncorrectKeyMaterial:

            def unclaim(current: CustomerKey) -> CustomerKey:
                if current.symmetric:
                    if before.material(material_id) is not None:
                        return current
                    kept = [
                        m
                        for m in current.imported_materials
                        if m.imported or not secrets.compare_digest(m.material_id, material_id)
                    ]
                    return current.with_materials(kept)
                if before.key_material_id is None and not current.has_material:
                    return replace(current, key_material_id=None)
                return current

            await self._change(caller, key_ref, "kms:ImportKeyMaterial", unclaim)
            raise

    @staticmethod
    def _material_public_key(key: CustomerKey, material: bytes) -> bytes | None:
        """The public key of imported material (None for symmetric and HMAC material), after
        checking that it fits the key: ``IncorrectKeyMaterial`` if not."""
        if key.symmetric:
            if len(material) != DATA_KEY_SIZE:
                raise IncorrectKeyMaterial(
                    f"The key material is {len(material) * 8} bits: {key.arn} takes 256-bit "
                    "symmetric key material"
                )
            return None
        try:
            private = check_private_key_material(
                key.key_spec,
                material,
                rsa_decrypt=key.key_usage == KEY_USAGE_ENCRYPT_DECRYPT,
                key_agreement=key.key_usage == KEY_USAGE_KEY_AGREEMENT,
            )
        except MaterialMismatch as exc:
            raise IncorrectKeyMaterial(f"The key material does not fit {key.arn}: {exc}") from None
        return None if private is None else asymmetric.public_key_info(private)

    async def _install_material(self, key: CustomerKey, material: bytes) -> None:
        """Put the claimed material of an asymmetric or HMAC key in its ring: a private key
        (or HMAC secret) beside a KEK (a symmetric key's: ``_import_symmetric``). A ring that
        holds it already (an import that did not finish) is left as it is: only the claimed
        material ever gets in."""
        try:
            with contextlib.suppress(KeyAlreadyExists):
                await asyncio.to_thread(self._keys.create_tenant_key, key.key_id)
            await asyncio.to_thread(
                self._keys.import_private_key,
                key.key_id,
                key.key_spec,
                material,
                rsa_decrypt=key.key_usage == KEY_USAGE_ENCRYPT_DECRYPT,
                key_agreement=key.key_usage == KEY_USAGE_KEY_AGREEMENT,
            )
        except KeyAlreadyExists:
            pass
        except KeyDestroyed as exc:
            raise CmkNotFound("the key material of this key was destroyed") from exc
        except AlgorithmNotOffered as exc:  # a token's limit: ML-DSA in a PKCS#11 2.40 HSM
            raise UnsupportedKeyOperation(str(exc)) from None

    def _check_expiration(self, model: str, valid_to: datetime | None) -> datetime | None:
        if model == EXPIRATION_KEY_MATERIAL_DOES_NOT_EXPIRE:
            if valid_to is not None:
                raise InvalidKeyParameter(
                    "ValidTo is not valid when ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE"
                )
            return None
        if model != EXPIRATION_KEY_MATERIAL_EXPIRES:
            raise InvalidKeyParameter(f"ExpirationModel {model[:64]} is not valid")
        if valid_to is None:
            raise InvalidKeyParameter(
                "ValidTo is required when ExpirationModel is KEY_MATERIAL_EXPIRES"
            )
        now = self._clock()
        if valid_to <= now:
            raise InvalidKeyParameter("ValidTo must be in the future")
        if valid_to > now + timedelta(days=MAX_MATERIAL_VALIDITY_DAYS):
            raise InvalidKeyParameter(
                f"ValidTo must be at most {MAX_MATERIAL_VALIDITY_DAYS} days from now"
            )
        return valid_to

    async def _open_import(
        self, key: CustomerKey, import_token: bytes, encrypted_material: bytes
    ) -> bytes:
        """The material, unwrapped with the private key the token seals for ``key``."""
        try:
            token = importing.ImportToken.decode(import_token)
            blob = CiphertextBlob.decode(token.sealed_private_key)
        except (importing.TokenFormatError, InvalidCiphertext):
            raise InvalidImportToken("The import token is not valid") from None
        if blob.key_id != importing.IMPORT_TOKEN_RING:
            raise InvalidImportToken("The import token is not valid")
        if token.valid_to <= self._clock():
            raise ExpiredImportToken("The import token expired: call GetParametersForImport again")
        context = importing.token_context(key.arn, token.algorithm, token.key_spec, token.valid_to)
        try:
            private_der = await self._open_in(importing.IMPORT_TOKEN_RING, blob, context)
        except (InvalidCiphertext, CmkNotFound):
            # Altered, made for another key, or sealed by another installation.
            raise InvalidImportToken(f"The import token is not valid for {key.arn}") from None
        try:
            return await asyncio.to_thread(
                importing.unwrap_material, private_der, token.algorithm, encrypted_material
            )
        except importing.MaterialUnwrapError as exc:
            raise InvalidCiphertext(
                f"The encrypted key material does not decrypt with this import token's "
                f"wrapping key and {token.algorithm}: {exc}"
            ) from None

    async def delete_imported_key_material(
        self, caller: Caller, key_ref: str, material_id: str | None = None
    ) -> CustomerKey:
        """Delete the key's material from the root-key provider at once (every ciphertext of
        the key stays unreadable until the same material is imported again); the key goes
        back to PendingImport (a key pending deletion stays so)."""
        action = "kms:DeleteImportedKeyMaterial"
        key = self._external(await self._resolve(caller, key_ref, action))
        if key.imported_materials:
            return await self._delete_symmetric_material(caller, key_ref, key, material_id)
        if material_id is not None and material_id != key.key_material_id:
            raise CmkNotFound(f"{key.arn} has no key material {material_id[:64]}")
        if key.multi_region:
            # The record first: related keys may still need the shared ring's material, which
            # goes only with the last of them; a failure after this leaves material nobody
            # names (imported again, it is taken back), never a record whose ring lost it.
            changed = await self._change(caller, key_ref, action, lambda k: k.without_material())
            held = key.key_material_id
            if key.has_material and (
                held is None or not await self._multi_region.material_held_elsewhere(key, held)
            ):
                await self._provider(self._keys.withdraw_tenant_key, key.key_id)
            return changed
        # The material first: a failure after it leaves a key that refuses its uses, never
        # a key that says it has no material while the provider still holds it.
        await self._provider(self._keys.withdraw_tenant_key, key.key_id)
        return await self._change(caller, key_ref, action, lambda k: k.without_material())

    async def _delete_symmetric_material(
        self, caller: Caller, key_ref: str, key: CustomerKey, material_id: str | None
    ) -> CustomerKey:
        """Delete one material of a symmetric key (its current one when none is named) from
        its version of the ring, at once. Material the key needs takes it to PendingImport
        until the same material is imported again; pending material is simply gone (it was
        never associated with the key), and the key stays as it was."""
        if material_id is None:
            target = next(m for m in key.imported_materials if m.state is MaterialState.CURRENT)
        else:
            found = key.material(material_id)
            if found is None:
                raise CmkNotFound(f"{key.arn} has no key material {material_id[:64]}")
            target = found
        if not target.imported:
            raise CmkInvalidState(
                f"Key material {target.material_id} of {key.arn} is not imported (PENDING_IMPORT)"
            )
        # The material first, as for a whole ring: a failure after it leaves a record that
        # still shows material the ring no longer holds, whose uses then fail. A multi-Region
        # key's record first instead, its material withdrawn after, and only if no related
        # key holds it (as in ``delete_imported_key_material``).
        if not key.multi_region:
            await self._provider(self._keys.withdraw_tenant_key, key.key_id, target.version)

        def deleted(current: CustomerKey) -> CustomerKey:
            kept: list[KeyMaterial] = []
            for held in current.imported_materials:
                if held.version != target.version:
                    kept.append(held)
                elif held.associated:
                    kept.append(replace(held, imported=False, valid_to=None))
            return current.with_materials(kept)

        changed = await self._change(caller, key_ref, "kms:DeleteImportedKeyMaterial", deleted)
        if key.multi_region and not await self._multi_region.material_held_elsewhere(
            key, target.material_id
        ):
            await self._provider(self._keys.withdraw_tenant_key, key.key_id, target.version)
        return changed
