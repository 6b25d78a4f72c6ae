"""The application wires identity from the settings and writes batched key use at shutdown."""

from __future__ import annotations

import configparser
from pathlib import Path

from andromede.app import Application, open_identity
from andromede.settings import load_settings


async def test_key_use_noted_while_serving_is_written_at_stop(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data", identity_cache_ttl=5.0)
    application = Application(settings)
    await application.start()
    try:
        running = application._running
        assert running is not None
        assert running.identity._limits.cache_ttl == 5.0
        credentials = configparser.ConfigParser()
        credentials.read(settings.credentials_path)
        key_id = credentials["andromede"]["aws_access_key_id"]
        running.identity.note_access_key_use(key_id, "s3", settings.region)
    finally:
        await application.stop()
    async with open_identity(settings) as identity:
        account = (await identity.list_tenants())[0].id
        used = await identity.get_access_key_last_used(account, key_id)
    assert used.last_used_at is not None
    assert (used.service_name, used.region) == ("s3", settings.region)
