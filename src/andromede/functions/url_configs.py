"""Lambda's function URLs (decision 0312), no I/O but the memory twin: a function's or an
alias's ``FunctionUrlConfig`` (its url-id, ``AuthType``, ``Cors`` and ``InvokeMode``) as a
value, the checks AWS makes on them, the url-id (32 lowercase letters and digits, drawn at
random, as AWS's), the ``UrlConfigStore`` interface and its in-memory twin (SQL in
``url_configs_sql``).

A configuration is kept per function and qualifier (``$LATEST`` when the call names none, or
an alias: AWS refuses a version), and found again by its url-id when a request reaches the
URL; the url-id is unique across every account and kept across updates."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, replace
from typing import Any, Final, Protocol

from andromede.functions.errors import InvalidParameterValue
from andromede.functions.qualifier_rows import MemoryQualifierRows

__all__ = [
    "AUTH_TYPES",
    "INVOKE_MODES",
    "FunctionUrlConfig",
    "MemoryUrlConfigStore",
    "UrlConfigStore",
    "UrlCors",
    "checked_url_config",
    "new_url_id",
]

AUTH_TYPES: Final = ("AWS_IAM", "NONE")
INVOKE_MODES: Final = ("BUFFERED", "RESPONSE_STREAM")
# base32's letters and digits in lower case, as AWS's url-ids read.
_URL_ID_ALPHABET: Final = "abcdefghijklmnopqrstuvwxyz234567"
URL_ID_LENGTH: Final = 32
URL_ID: Final = re.compile(rf"[a-z0-9]{{{URL_ID_LENGTH}}}")
_MAX_ITEMS: Final = 100
_MAX_METHODS: Final = 6
_MAX_AGE: Final = 86_400


def new_url_id() -> str:
    return "".join(secrets.choice(_URL_ID_ALPHABET) for _ in range(URL_ID_LENGTH))


@dataclass(frozen=True, slots=True)
class UrlCors:
    allow_credentials: bool | None = None
    allow_headers: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    allow_origins: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None

    def shape(self) -> dict[str, Any]:
        """The ``Cors`` member as AWS answers it: only what was set."""
        shape: dict[str, Any] = {}
        if self.allow_credentials is not None:
            shape["AllowCredentials"] = self.allow_credentials
        for member, values in (
            ("AllowHeaders", self.allow_headers),
            ("AllowMethods", self.allow_methods),
            ("AllowOrigins", self.allow_origins),
            ("ExposeHeaders", self.expose_headers),
        ):
            if values:
                shape[member] = list(values)
        if self.max_age is not None:
            shape["MaxAge"] = self.max_age
        return shape

    @classmethod
    def of(cls, value: object) -> UrlCors | None:
        """A ``Cors`` member checked as AWS checks it; None when absent or empty."""
        if value is None:
            return None
        if not isinstance(value, dict):
            raise InvalidParameterValue("Cors must be an object")
        credentials = value.get("AllowCredentials")
        if credentials is not None and not isinstance(credentials, bool):
            raise InvalidParameterValue("Cors AllowCredentials must be a boolean")
        max_age = value.get("MaxAge")
        if max_age is not None and (
            isinstance(max_age, bool)
            or not isinstance(max_age, int)
            or not 0 <= max_age <= _MAX_AGE
        ):
            raise InvalidParameterValue(
                f"1 validation error detected: Value '{str(max_age)[:32]}' at 'cors.maxAge' "
                f"failed to satisfy constraint: Member must have value less than or equal to "
                f"{_MAX_AGE}"
            )
        cors = cls(
            allow_credentials=credentials,
            allow_headers=_strings(value.get("AllowHeaders"), "allowHeaders", 1024, _MAX_ITEMS),
            allow_methods=tuple(
                m.upper() if m != "*" else m
                for m in _strings(value.get("AllowMethods"), "allowMethods", 6, _MAX_METHODS)
            ),
            allow_origins=_strings(value.get("AllowOrigins"), "allowOrigins", 253, _MAX_ITEMS),
            expose_headers=_strings(value.get("ExposeHeaders"), "exposeHeaders", 1024, _MAX_ITEMS),
            max_age=max_age,
        )
        return cors if cors != cls() else None


def _strings(value: object, member: str, longest: int, most: int) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > most:
        raise InvalidParameterValue(
            f"1 validation error detected: Value at 'cors.{member}' failed to satisfy "
            f"constraint: Member must have length less than or equal to {most}"
        )
    for item in value:
        if not isinstance(item, str) or not 1 <= len(item) <= longest:
            raise InvalidParameterValue(
                f"1 validation error detected: Value '{str(item)[:64]}' at 'cors.{member}' "
                f"failed to satisfy constraint: Member must have length less than or equal to "
                f"{longest}"
            )
    return tuple(value)


@dataclass(frozen=True, slots=True)
class FunctionUrlConfig:
    tenant_id: str
    name: str
    qualifier: str  # "$LATEST" or an alias
    url_id: str
    auth_type: str
    cors: UrlCors | None = None
    invoke_mode: str = "BUFFERED"
    created: int = 0  # ms
    last_modified: int = 0  # ms

    def replaced(self, **fields: object) -> FunctionUrlConfig:
        return replace(self, **fields)  # type: ignore[arg-type]


def _choice(value: object, member: str, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise InvalidParameterValue(
            f"1 validation error detected: Value '{str(value)[:32]}' at '{member}' failed to "
            f"satisfy constraint: Member must satisfy enum value set: [{', '.join(allowed)}]"
        )
    return value


def checked_url_config(
    params: dict[str, Any], current: FunctionUrlConfig, *, update: bool
) -> FunctionUrlConfig:
    """``current`` with the call's members: CreateFunctionUrlConfig needs ``AuthType``;
    UpdateFunctionUrlConfig changes only the members given (a ``Cors`` given replaces the
    whole), as AWS does."""
    changes: dict[str, object] = {}
    if params.get("AuthType") is not None or not update:
        changes["auth_type"] = _choice(params.get("AuthType"), "authType", AUTH_TYPES)
    if params.get("InvokeMode") is not None:
        changes["invoke_mode"] = _choice(params["InvokeMode"], "invokeMode", INVOKE_MODES)
    if "Cors" in params and (params["Cors"] is not None or not update):
        changes["cors"] = UrlCors.of(params["Cors"])
    return current.replaced(**changes)


class UrlConfigStore(Protocol):
    async def create(self, config: FunctionUrlConfig) -> bool:
        """Keep a new ``config``; False when the function and qualifier have one already
        (or, most unlikely, its url-id is taken)."""

    async def replace(self, config: FunctionUrlConfig) -> None:
        """Replace the function's and qualifier's configuration (its url-id unchanged)."""

    async def get(self, tenant_id: str, name: str, qualifier: str) -> FunctionUrlConfig | None: ...

    async def by_url_id(self, url_id: str) -> FunctionUrlConfig | None: ...

    async def configs(self, tenant_id: str, name: str) -> list[FunctionUrlConfig]:
        """The function's configurations, by qualifier."""

    async def delete(self, tenant_id: str, name: str, qualifier: str | None) -> int:
        """Remove one qualifier's configuration, or every one of the function (None)."""

    async def forget_tenant(self, tenant_id: str) -> int: ...


class MemoryUrlConfigStore(MemoryQualifierRows[FunctionUrlConfig]):
    async def create(self, config: FunctionUrlConfig) -> bool:
        key = (config.tenant_id, config.name, config.qualifier)
        if key in self._items or await self.by_url_id(config.url_id) is not None:
            return False
        self._keep(config)
        return True

    async def replace(self, config: FunctionUrlConfig) -> None:
        self._keep(config)

    async def by_url_id(self, url_id: str) -> FunctionUrlConfig | None:
        return next((c for c in self._items.values() if c.url_id == url_id), None)

    async def configs(self, tenant_id: str, name: str) -> list[FunctionUrlConfig]:
        return self._function_items(tenant_id, name)
