"""Aliases of customer keys, each of one region and pointing at a key of its own account
and region (decision 0138): CreateAlias, UpdateAlias, DeleteAlias, ListAliases.

Mixed into :class:`~andromede.kms.customer_keys.CustomerKeyService`; split off only for size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from andromede.kms.keys_errors import CmkAccessDenied, CmkNotFound, InvalidKeyParameter
from andromede.kms.keys_interface import Caller
from andromede.kms.keys_model import Alias, check_alias_name

if TYPE_CHECKING:  # custom_key_stores imports customer_keys' Caller and KeyAuthoriser
    pass

from andromede.kms.customer_keys_core import CustomerKeysCore

__all__ = ["AliasesMixin"]


class AliasesMixin(CustomerKeysCore):
    """Aliases (mixed into CustomerKeyService)."""

    async def create_alias(self, caller: Caller, alias_name: str, target_ref: str) -> Alias:
        name = self._alias_name(alias_name)
        key = await self._own_key(caller, target_ref, "kms:CreateAlias")
        now = self._clock()
        # The alias is this region's, and so is its key: _own_key resolves in this region
        # only, so a key of another region is not found, as on AWS.
        alias = Alias(
            caller.account_id,
            name,
            key.record_id,
            created_at=now,
            updated_at=now,
            region=self._region,
        )
        await self._store.insert_alias(alias)
        return alias

    async def update_alias(self, caller: Caller, alias_name: str, target_ref: str) -> None:
        name = self._alias_name(alias_name)
        current = await self._store.get_alias(caller.account_id, self._region, name)
        if current is None:
            raise CmkNotFound(f"Alias {self._alias_arn(caller, name)} is not found.")
        old_key = await self._store.get_key(current.key_id)
        if old_key is not None:
            caller.resources.append(old_key.arn)
            if not await self._authoriser.allowed(caller, "kms:UpdateAlias", old_key, {}):
                raise CmkAccessDenied("not allowed to kms:UpdateAlias on the alias's key")
        key = await self._own_key(caller, target_ref, "kms:UpdateAlias")
        await self._store.point_alias(
            caller.account_id, self._region, name, key.record_id, self._clock()
        )

    async def delete_alias(self, caller: Caller, alias_name: str) -> None:
        name = self._alias_name(alias_name)
        alias = await self._store.get_alias(caller.account_id, self._region, name)
        if alias is None:
            raise CmkNotFound(f"Alias {self._alias_arn(caller, name)} is not found.")
        key = await self._store.get_key(alias.key_id)
        if key is not None:
            caller.resources.append(key.arn)
            if not await self._authoriser.allowed(caller, "kms:DeleteAlias", key, {}):
                raise CmkAccessDenied("not allowed to kms:DeleteAlias on the alias's key")
        await self._store.delete_alias(caller.account_id, self._region, name)

    async def list_aliases(
        self, caller: Caller, *, key_ref: str | None, limit: int, marker: str | None
    ) -> tuple[list[Alias], str | None]:
        await self._allow_identity(caller, "kms:ListAliases")
        key_id = None
        if key_ref is not None:
            key_id = (await self._own_key(caller, key_ref, None)).record_id
        aliases = await self._store.list_aliases(
            caller.account_id, self._region, key_id=key_id, after=marker, limit=limit + 1
        )
        more = len(aliases) > limit
        aliases = aliases[:limit]
        return aliases, aliases[-1].name if more else None

    @staticmethod
    def alias_arn(alias: Alias) -> str:
        return alias.arn

    def _alias_arn(self, caller: Caller, name: str) -> str:
        return f"arn:aws:kms:{self._region}:{caller.account_id}:{name}"

    @staticmethod
    def _alias_name(name: str) -> str:
        try:
            return check_alias_name(name)
        except (ValueError, PermissionError) as exc:
            raise InvalidKeyParameter(str(exc)) from None
