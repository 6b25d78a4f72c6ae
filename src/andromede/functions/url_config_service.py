"""Lambda's function URL configuration operations (decision 0312): Create, Get, Update,
Delete and List of a function's ``FunctionUrlConfig`` over a
:class:`~andromede.functions.url_configs.UrlConfigStore`, and the URL each is served at
(:class:`UrlEndpoint`: ``<scheme>://<url-id>.lambda-url.<region>.<domain>[:port]/``). The
function and the qualifier named must exist: ``$LATEST`` when none is named, or an alias —
a version is refused, as AWS refuses it. A new configuration draws a url-id no other holds;
updates keep it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from andromede.functions.errors import (
    InvalidParameterValue,
    ResourceConflict,
    ResourceNotFound,
)
from andromede.functions.model import LATEST
from andromede.functions.qualifier_pages import function_qualifier_page
from andromede.functions.service import FunctionsService
from andromede.functions.url_configs import (
    URL_ID,
    FunctionUrlConfig,
    UrlConfigStore,
    checked_url_config,
    new_url_id,
)

__all__ = ["FunctionUrls", "UrlEndpoint"]

_DRAWS: Final = 4  # url-ids drawn before giving up (a clash is one in 2^160)
_LABEL: Final = "lambda-url"


def _now() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class UrlEndpoint:
    """Where function URLs are served: ``<url-id>.lambda-url.<region>.<domain>`` on the
    gateway's S3 listener (its scheme and port)."""

    domain: str = "localhost"
    scheme: str = "http"
    port: int = 80

    def url(self, url_id: str, region: str) -> str:
        default = {"http": 80, "https": 443}.get(self.scheme)
        port = "" if self.port == default else f":{self.port}"
        return f"{self.scheme}://{url_id}.{_LABEL}.{region}.{self.domain}{port}/"

    def url_id(self, host: str, region: str) -> str | None:
        """The url-id a request's ``Host`` names on this endpoint and Region; None when it
        names none."""
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        suffix = f".{_LABEL}.{region}.{self.domain}".lower()
        name = name.lower().rstrip(".")
        if not name.endswith(suffix):
            return None
        url_id = name[: -len(suffix)]
        return url_id if URL_ID.fullmatch(url_id) else None


class FunctionUrls:
    def __init__(
        self,
        store: UrlConfigStore,
        functions: FunctionsService,
        endpoint: UrlEndpoint | None = None,
        clock: Callable[[], int] = _now,
    ) -> None:
        self.store = store
        self.endpoint = endpoint or UrlEndpoint()
        self._functions = functions
        self._clock = clock

    def url(self, config: FunctionUrlConfig) -> str:
        return self.endpoint.url(config.url_id, self._functions.region)

    def arn(self, config: FunctionUrlConfig) -> str:
        qualifier = None if config.qualifier == LATEST else config.qualifier
        return self._functions.arn(config.tenant_id, config.name, qualifier)

    async def create(
        self, tenant_id: str, name: str, qualifier: str | None, params: dict[str, Any]
    ) -> FunctionUrlConfig:
        wanted = await self._qualifier(tenant_id, name, qualifier)
        now = self._clock()
        for _ in range(_DRAWS):
            config = checked_url_config(
                params,
                FunctionUrlConfig(tenant_id, name, wanted, new_url_id(), "", created=now),
                update=False,
            ).replaced(last_modified=now)
            if await self.store.create(config):
                return config
            if await self.store.get(tenant_id, name, wanted) is not None:
                raise ResourceConflict(
                    "Failed to create function url config for [functionArn = "
                    f"{self._functions.arn(tenant_id, name, wanted)}]. Error message:  "
                    "FunctionUrlConfig exists for this Lambda function"
                )
        raise ResourceConflict("No url-id could be drawn for the function URL: try again")

    async def update(
        self, tenant_id: str, name: str, qualifier: str | None, params: dict[str, Any]
    ) -> FunctionUrlConfig:
        current = await self.get(tenant_id, name, qualifier)
        changed = checked_url_config(params, current, update=True).replaced(
            last_modified=self._clock()
        )
        await self.store.replace(changed)
        return changed

    async def get(self, tenant_id: str, name: str, qualifier: str | None) -> FunctionUrlConfig:
        wanted = await self._qualifier(tenant_id, name, qualifier)
        found = await self.store.get(tenant_id, name, wanted)
        if found is None:
            raise ResourceNotFound("The resource you requested does not exist.")
        return found

    async def delete(self, tenant_id: str, name: str, qualifier: str | None) -> None:
        found = await self.get(tenant_id, name, qualifier)
        await self.store.delete(tenant_id, name, found.qualifier)

    async def list(
        self, tenant_id: str, name: str, marker: object, max_items: object
    ) -> tuple[list[FunctionUrlConfig], str | None]:
        return await function_qualifier_page(
            self._functions, self.store, tenant_id, name, marker, max_items
        )

    async def by_host(self, host: str) -> FunctionUrlConfig | None:
        """The configuration a request's ``Host`` names, if any."""
        url_id = self.endpoint.url_id(host, self._functions.region)
        return None if url_id is None else await self.store.by_url_id(url_id)

    async def forget(self, tenant_id: str, name: str, qualifier: str | None) -> None:
        """What a deleted function (None) or alias leaves of its URLs."""
        await self.store.delete(tenant_id, name, qualifier)

    async def _qualifier(self, tenant_id: str, name: str, qualifier: str | None) -> str:
        record = await self._functions.record(tenant_id, name)
        wanted = qualifier or LATEST
        if wanted == LATEST:
            return wanted
        if wanted.isdigit():
            raise InvalidParameterValue(
                f"Function URLs are given to $LATEST or an alias, not to a version: {wanted}"
            )
        if record.alias(wanted) is None:
            raise ResourceNotFound(
                f"Function not found: {self._functions.arn(tenant_id, name, wanted)}"
            )
        return wanted
