"""The web console against the whole composition root in process: an ``Application`` on a
temporary data folder, reached with httpx on the management API's port, as a browser would."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from andromede.app import Application
from andromede.audit.access_service import OperatorAccessService
from andromede.iam.service import IdentityService
from andromede.settings import load_settings

__all__ = [
    "CONSOLE",
    "PASSWORD",
    "ConsoleHarness",
    "console_harness",
    "csrf",
    "csrf_of",
    "log_in",
]

PASSWORD = "Correct-Horse-42"
CONSOLE = "http://127.0.0.1:9001/console"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(page: httpx.Response) -> str:
    found = _CSRF.search(page.text)
    assert found is not None, page.text
    return found.group(1)


@dataclass
class ConsoleHarness:
    application: Application

    @property
    def identity(self) -> IdentityService:
        running = self.application._running
        assert running is not None
        return running.identity

    def application_operator_access(self) -> OperatorAccessService:
        running = self.application._running
        assert running is not None and running.console.console.operator_access is not None
        return running.console.console.operator_access

    @property
    def admin_tenant_id(self) -> str:
        assert self.application.bootstrap is not None
        return self.application.bootstrap.tenant.id

    @asynccontextmanager
    async def client(self, **headers: str) -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=self.application)
        async with httpx.AsyncClient(
            transport=transport, base_url=CONSOLE, headers=headers, follow_redirects=False
        ) as client:
            yield client

    async def user_with_password(self, tenant_id: str, name: str) -> None:
        if name != "root":
            await self.identity.create_user(tenant_id, name)
        await self.identity.create_login_profile(tenant_id, name, PASSWORD)


async def log_in(
    client: httpx.AsyncClient, account: str, user: str, password: str = PASSWORD, **extra: Any
) -> httpx.Response:
    form = await client.get("/login")
    return await client.post(
        "/login",
        data={
            "csrf": csrf_of(form),
            "account": account,
            "user": user,
            "password": password,
            **extra,
        },
    )


async def csrf(client: httpx.AsyncClient, path: str = "/buckets") -> str:
    return csrf_of(await client.get(path))


@asynccontextmanager
async def console_harness(tmp_path: Path, **overrides: Any) -> AsyncIterator[ConsoleHarness]:
    settings = load_settings(
        data_dir=tmp_path / "data", s3_port=9000, api_port=9001, region="eu-fr-1", **overrides
    )
    application = Application(settings)
    await application.start()
    try:
        yield ConsoleHarness(application)
    finally:
        await application.stop()
