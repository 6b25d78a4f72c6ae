"""Decision 0228's wiring: the settings reach the service's limits; ``serve``'s factory puts
the app under ``kinesis``, starts the upkeep (retention, on-demand scaling: its settings'
bounds), gives billing's sampler its reading (decision 0255) and the tenant closer what
forgets a closed tenant's streams (over the SQLite store); the shared port hands Kinesis its
calls (signed, and unsigned ones naming its target, which it refuses in its own words)."""

from __future__ import annotations

import asyncio
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from andromede.api_routing import api_service
from andromede.db.database import open_database
from andromede.kinesis.model import StreamMode
from andromede.kinesis.service import Entry
from andromede.settings import Settings
from andromede.wiring.kinesis import kinesis_api, kinesis_limits, put_units
from support.keys import key_service_in
from support.kinesisapp import kinesis_world
from support.schema import migrated_sqlite
from support.waiting import until


def test_settings_reach_the_limits() -> None:
    settings = Settings(kinesis_max_shards=7, kinesis_max_on_demand_streams=2,
                        kinesis_iterator_lifetime=9)  # fmt: skip
    limits = kinesis_limits(settings)
    assert (limits.max_shards, limits.max_on_demand_streams) == (7, 2)
    assert limits.iterator_lifetime_ms == 9000
    assert put_units([1, 25 * 1024, 25 * 1024 + 1]) == 4


def test_the_scaling_settings_are_bounded() -> None:
    settings = Settings(kinesis_max_on_demand_shards=8, kinesis_scale_interval=900)
    assert (settings.kinesis_max_on_demand_shards, settings.kinesis_scale_interval) == (8, 900)
    for wrong in ({"kinesis_max_on_demand_shards": 0}, {"kinesis_scale_interval": 901},
                  {"kinesis_scale_interval": 0}):  # fmt: skip
        with pytest.raises(ValidationError):
            Settings(**wrong)


async def test_serve_wires_the_app_upkeep_and_tenant_closer(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, region="eu-fr-1", kinesis_trim_interval=0.01,
                        kinesis_scale_interval=0.01, kinesis_shard_write_records=10)  # fmt: skip
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    keys = key_service_in(tmp_path / "keys")
    try:
        async for world in kinesis_world(tmp_path / "w"):
            apis: dict[str, Any] = {}
            task, forget, held = kinesis_api(apis, settings, db, keys, world.identity,
                                       world.audit, None, world.billing, world.customer_keys,
                                       world.sink)  # fmt: skip
            try:
                app = apis["kinesis"]
                await app.service.create(world.tenant_id, "s", 2, StreamMode.PROVISIONED)
                await app.service.put(world.tenant_id, "s", [Entry("k", b"data")])
                # Billing's reading is of this store's streams (decision 0255).
                shard_hours = (await held())["kinesis.shard-hours"]
                assert shard_hours == {(world.tenant_id, "eu-fr-1"): 2}
                await asyncio.sleep(0.05)  # the upkeep ran: nothing past retention to trim
                assert not task.done()
                # The scaler's round sees the writes the service took: 8 records of 10 a
                # second into one shard of an on-demand stream split it.
                await app.service.create(world.tenant_id, "od", None, StreamMode.ON_DEMAND)
                await app.service.put(world.tenant_id, "od", [Entry("k", b"x")] * 8)
                # Its next round, however late a loaded machine runs it.
                scaled = await until(partial(app.service.get, world.tenant_id, "od"),
                                     lambda stream: len(stream.open_shards) > 4)  # fmt: skip
                assert len(scaled.open_shards) == 5 and not task.done()
                assert await forget(world.tenant_id) == 2
                assert await app.service.store.get(world.tenant_id, "s") is None
            finally:
                task.cancel()
    finally:
        keys.close()
        await db.close()


def test_the_shared_port_routes_kinesis() -> None:
    signed = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "query_string": b"",
        "headers": [
            (b"authorization", b"AWS4-HMAC-SHA256 Credential=AK/20261206/eu-fr-1/kinesis/"
             b"aws4_request, SignedHeaders=host, Signature=00"),
        ],
    }  # fmt: skip
    assert api_service(signed) == "kinesis"
    unsigned = dict(signed, headers=[(b"x-amz-target", b"Kinesis_20131202.ListStreams")])
    assert api_service(unsigned) == "kinesis"
