"""The web console against the whole composition root in process: an ``Application`` on a
temporary data folder, reached with httpx on the management API's port, as a browser would."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import Any

import httpx

from andromede.app import Application
from andromede.audit.access_service import OperatorAccessService
from andromede.audit.model import AuditEvent
from andromede.compute.service import ComputeService
from andromede.http.asgi import TRUSTED_PRINCIPAL_SCOPE_KEY
from andromede.iam.service import IdentityService
from andromede.settings import load_settings
from support.schema import migrated_sqlite

__all__ = [
    "CONSOLE",
    "PASSWORD",
    "TWO_REGIONS",
    "WIRE_ORIGIN",
    "ConsoleHarness",
    "alert_text",
    "console_harness",
    "csrf",
    "csrf_of",
    "form_html",
    "log_in",
]

PASSWORD = "Correct-Horse-42"
CONSOLE = "http://127.0.0.1:9001/console"
# The request a test's own wire call stands for: one to the console's port.
WIRE_ORIGIN = {"client": ("127.0.0.1", 1), "server": ("127.0.0.1", 9001), "scheme": "http"}
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
# Two declared Regions, the console's (``console_harness``'s region) first.
TWO_REGIONS = [{"name": "eu-fr-1"}, {"name": "eu-de-1"}]


def alert_text(page: httpx.Response) -> str:
    """The refusal a page shows (its ``role="alert"`` paragraph), as the reader reads it."""
    return unescape(page.text.split('role="alert">', 1)[1].split("</p>", 1)[0])


def form_html(page: httpx.Response, form_id: str) -> str:
    """The inside of the page's form of that id."""
    return page.text.split(f'id="{form_id}"', 1)[1].split("</form>", 1)[0]


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

    async def wires(self, client: httpx.AsyncClient) -> tuple[Any, Any]:
        """The console's wires and the client's signed-in principal, for a test to read a
        service's own answer apart from the page (called with ``WIRE_ORIGIN``)."""
        running = self.application._running
        assert running is not None
        principal = await self.identity.resolve_console_session(client.cookies["andromede_console"])
        return running.console.console, principal

    @asynccontextmanager
    async def without(self, client: httpx.AsyncClient, wire: str) -> AsyncIterator[None]:
        """The console for the block as on a server serving no ``wire`` (``route53``,
        ``states``, ...): that wire None, put back after."""
        wires, _principal = await self.wires(client)
        kept = getattr(wires, wire)
        setattr(wires, wire, None)
        try:
            yield
        finally:
            setattr(wires, wire, kept)

    async def multipart_uploads(self, client: httpx.AsyncClient, bucket: str) -> list[str]:
        """The keys of the bucket's multipart uploads in progress: S3's ListMultipartUploads,
        called in process as the client's signed-in user."""
        running = self.application._running
        assert running is not None
        principal = await self.identity.resolve_console_session(client.cookies["andromede_console"])
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "GET", "scheme": "http", "path": f"/{bucket}",
            "raw_path": f"/{bucket}".encode(), "query_string": b"uploads=",
            "headers": [(b"host", b"127.0.0.1")], "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 9000), TRUSTED_PRINCIPAL_SCOPE_KEY: principal,
        }  # fmt: skip
        answer: list[bytes] = []
        status = 0

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            else:
                answer.append(message.get("body", b""))

        await running.s3(scope, receive, send)
        body = b"".join(answer)
        assert status == 200, body
        root = ET.fromstring(body)  # noqa: S314 - the test's own server's answer
        return [e.text or "" for e in root.iter() if e.tag.endswith("}Key") or e.tag == "Key"]

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
    # The blob folders made at each start were most of a console test's time on a loaded
    # machine (4,096 mkdirs); made at first write instead, as the test servers do.
    overrides.setdefault("blob_directories_at_start", False)
    data_dir = tmp_path / "data"
    if "database_url" not in overrides and not data_dir.exists():
        # A copy of a database at the latest schema, as the test servers start from
        # (support/server.py): creating the ~130 tables from the models took 0.12 s of CPU at
        # every console test's start, more than most tests' own work. The creation keeps its
        # tests (tests/unit/db).
        data_dir.mkdir(mode=0o700, parents=True)
        migrated_sqlite(data_dir / "metadata.sqlite3")
    settings = load_settings(
        data_dir=data_dir, s3_port=9000, api_port=9001, region="eu-fr-1", **overrides
    )
    application = Application(settings)
    await application.start()
    try:
        yield ConsoleHarness(application)
    finally:
        await application.stop()


def running_compute(console: ConsoleHarness) -> ComputeService:
    """The compute service of the harness's running application."""
    running = console.application._running
    assert running is not None and isinstance(running.compute, ComputeService)
    return running.compute


async def sign_in_root(
    console: ConsoleHarness, client: httpx.AsyncClient, account: str = "admin"
) -> str:
    """Signs ``client`` in as the account's root (``admin``, or a new tenant of that name);
    the account's id."""
    tenant = (
        console.admin_tenant_id
        if account == "admin"
        else (await console.identity.create_tenant(account)).tenant.id
    )
    await console.user_with_password(tenant, "root")
    assert (await log_in(client, account, "root")).status_code == 303
    return tenant


async def logged_events(console: ConsoleHarness, tenant: str) -> list[AuditEvent]:
    """The tenant's log, flushed first."""
    running = console.application._running
    assert running is not None
    await running.audit.flush()
    listed = await running.audit._store.list_events(tenant, after_id=0, limit=1000)
    return [event for _, event in listed]
