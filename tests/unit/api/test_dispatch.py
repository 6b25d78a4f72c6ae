"""The composition root sends the management API's port to the API and every other port to S3,
so a bucket named "api" stays a bucket."""

from __future__ import annotations

from pathlib import Path

import httpx

from andromede.app import Application
from andromede.settings import load_settings


async def test_the_port_a_request_arrived_on_picks_the_api(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data", s3_port=9000, api_port=9001)
    application = Application(settings)
    await application.start()
    try:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport) as client:
            on_api = await client.get("http://127.0.0.1:9001/api/v1/health")
            on_s3 = await client.get("http://127.0.0.1:9000/api/v1/health")
    finally:
        await application.stop()
    assert on_api.status_code == 200 and on_api.json() == {"status": "ok"}
    assert on_s3.headers["content-type"] == "application/xml"
    assert b"<Error>" in on_s3.content
