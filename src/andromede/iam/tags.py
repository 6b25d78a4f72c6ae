"""IAM users' and roles' tags (part of IdentityService; decision 0067), and the rules managed
policies' and instance profiles' tags follow too (decision 0074).

Validated as IAM validates them: at most 50 per user or role; keys of 1 to 128 and values of at
most 256 characters, letters, digits and white space of any script and ``_ . : / = + - @``; no
``aws:`` prefix (InvalidInput); keys unique regardless of case, as IAM compares them, so
tagging ``Team`` replaces ``team``. A change drops this worker's cached policies, whose
``aws:PrincipalTag`` keys come from the tags.
"""

from __future__ import annotations

import unicodedata
from dataclasses import replace
from typing import Final

from andromede.iam.errors import InvalidInput, LimitExceeded
from andromede.iam.model import Role, Tags, User
from andromede.iam.service_core import ServiceCore

__all__ = ["TAGS_PER_ENTITY", "TagsMixin", "check_tags", "merged", "over", "without"]

TAGS_PER_ENTITY: Final = 50
_KEY_MAX: Final = 128
_VALUE_MAX: Final = 256
_PUNCTUATION: Final = frozenset("_.:/=+-@")


def _allowed(text: str) -> bool:
    return all(ch in _PUNCTUATION or unicodedata.category(ch)[0] in ("L", "N", "Z") for ch in text)


def check_tags(tags: Tags) -> Tags:
    """``tags`` if IAM takes them as one request's tags (InvalidInput otherwise)."""
    seen: set[str] = set()
    for key, value in tags:
        if not 1 <= len(key) <= _KEY_MAX or not _allowed(key):
            raise InvalidInput(f"The tag key {key[:_KEY_MAX]!r} is not valid")
        if len(value) > _VALUE_MAX or not _allowed(value):
            raise InvalidInput(f"The value of the tag {key!r} is not valid")
        if key.lower().startswith("aws:"):
            raise InvalidInput("Tag keys starting with 'aws:' are reserved for AWS use")
        if key.lower() in seen:
            raise InvalidInput(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive."
            )
        seen.add(key.lower())
    if len(tags) > TAGS_PER_ENTITY:
        raise LimitExceeded(f"Cannot exceed quota for TagsPerUser/Role: {TAGS_PER_ENTITY}")
    return tags


def over(current: Tags, added: Tags) -> Tags:
    """``current`` with ``added`` standing over the same keys (in any case): session tags over
    their role's, with no quota (each side was checked on its own)."""
    replaced = {key.lower() for key, _ in added}
    return tuple(t for t in current if t[0].lower() not in replaced) + tuple(added)


def without(current: Tags, keys: list[str]) -> Tags:
    """``current`` without the tags of ``keys`` (in any case): an Untag call."""
    gone = {key.lower() for key in keys}
    return tuple(t for t in current if t[0].lower() not in gone)


def merged(current: Tags, added: Tags) -> Tags:
    """``current`` with ``added`` set: a key already there (in any case) takes the new value
    and spelling in its place, a new key goes last. LimitExceeded past the quota."""
    new = dict((key.lower(), (key, value)) for key, value in check_tags(added))
    result = [new.pop(key.lower(), (key, value)) for key, value in current]
    result += new.values()
    if len(result) > TAGS_PER_ENTITY:
        raise LimitExceeded(f"Cannot exceed quota for TagsPerUser/Role: {TAGS_PER_ENTITY}")
    return tuple(result)


class TagsMixin(ServiceCore):
    async def tag_user(self, tenant_id: str, user_name: str, tags: Tags) -> None:
        await self._tag(User, tenant_id, user_name, tags)

    async def untag_user(self, tenant_id: str, user_name: str, keys: list[str]) -> None:
        await self._untag(User, tenant_id, user_name, keys)

    async def list_user_tags(self, tenant_id: str, user_name: str) -> Tags:
        return (await self._user_or_role(User, tenant_id, user_name)).tags

    async def tag_role(self, tenant_id: str, role_name: str, tags: Tags) -> None:
        await self._tag(Role, tenant_id, role_name, tags)

    async def untag_role(self, tenant_id: str, role_name: str, keys: list[str]) -> None:
        await self._untag(Role, tenant_id, role_name, keys)

    async def list_role_tags(self, tenant_id: str, role_name: str) -> Tags:
        return (await self._user_or_role(Role, tenant_id, role_name)).tags

    async def _tag(
        self, kind: type[User] | type[Role], tenant_id: str, name: str, tags: Tags
    ) -> None:
        entity = await self._user_or_role(kind, tenant_id, name)
        await self._retag(entity, merged(entity.tags, tags))

    async def _untag(
        self, kind: type[User] | type[Role], tenant_id: str, name: str, keys: list[str]
    ) -> None:
        entity = await self._user_or_role(kind, tenant_id, name)
        await self._retag(entity, without(entity.tags, keys))

    async def _retag(self, entity: User | Role, tags: Tags) -> None:
        await self._store.update_entity(replace(entity, tags=tags))
        self._policy_cache.clear()
