"""The bucket settings page lists the account's access points on the bucket (decision 0157),
as S3 Control's ListAccessPoints answers the signed-in user; in French too."""

from __future__ import annotations

import httpx

from andromede.console.wire_s3control import S3ControlWire
from support.console import ConsoleHarness, csrf, log_in

BUCKET = "shared"


async def _root_with_point(console: ConsoleHarness, client: httpx.AsyncClient) -> None:
    await console.user_with_password(console.admin_tenant_id, "root")
    assert (await log_in(client, "admin", "root")).status_code == 303
    token = await csrf(client)
    for name in (BUCKET, "elsewhere"):
        created = await client.post(
            "/buckets", data={"csrf": token, "name": name, "region": "eu-fr-1"}
        )
        assert created.status_code == 303, created.text
    running = console.application._running
    assert running is not None
    principal = await console.identity.resolve_console_session(client.cookies["andromede_console"])
    wire = S3ControlWire(running.apis["s3control"])
    origin = {"scheme": "http", "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 9000)}
    for name, bucket in (("analytics", BUCKET), ("other-ap", "elsewhere")):
        body = f"<CreateAccessPointRequest><Bucket>{bucket}</Bucket></CreateAccessPointRequest>"
        await wire._request(
            origin, principal, "PUT", body.encode(), path=f"/v20180820/accesspoint/{name}"
        )


async def test_the_buckets_access_points_are_listed(console: ConsoleHarness) -> None:
    async with console.client() as client:
        await _root_with_point(console, client)
        page = await client.get(f"/buckets/{BUCKET}/settings")
        assert page.status_code == 200, page.text
        assert 'id="access-points-table"' in page.text
        assert "analytics-" in page.text and "-s3alias" in page.text
        assert f":{console.admin_tenant_id}:accesspoint/analytics" in page.text
        assert "other-ap" not in page.text  # another bucket's
        empty = await client.get("/buckets/elsewhere/settings")
        assert "other-ap" in empty.text and "analytics" not in empty.text


async def test_the_section_in_french(console: ConsoleHarness) -> None:
    async with console.client(**{"accept-language": "fr-FR,fr;q=0.9"}) as client:
        await console.user_with_password(console.admin_tenant_id, "root")
        assert (await log_in(client, "admin", "root")).status_code == 303
        token = await csrf(client)
        created = await client.post(
            "/buckets", data={"csrf": token, "name": BUCKET, "region": "eu-fr-1"}
        )
        assert created.status_code == 303, created.text
        page = await client.get(f"/buckets/{BUCKET}/settings")
        assert "Points d’accès" in page.text  # noqa: RUF001 - French apostrophe
        assert "Aucun point d’accès de votre compte" in page.text  # noqa: RUF001
