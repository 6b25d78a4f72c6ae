"""The shared cluster's PostgreSQL URLs: one database per target, and psql's form of the URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from andromede.settings import load_settings
from bench.andromede_rados import gateway_environment
from bench.cluster import database_url, libpq_url

URL = "postgresql+asyncpg://andromede:0a1b2c@127.0.0.1:54321/andromede"


def test_database_url_names_another_database_on_the_same_server() -> None:
    assert database_url(URL, "bench_x2") == (
        "postgresql+asyncpg://andromede:0a1b2c@127.0.0.1:54321/bench_x2"
    )


def test_libpq_url_drops_the_driver_only() -> None:
    assert libpq_url(URL) == "postgresql://andromede:0a1b2c@127.0.0.1:54321/andromede"
    assert libpq_url("postgresql://u@h/d") == "postgresql://u@h/d"


def test_gateway_environment_is_read_as_postgres_and_rados_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = gateway_environment(URL, Path("/c/ceph.conf"), Path("/c/client.keyring"))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.effective_database_url == URL
    assert settings.blob_backend == "rados"
    assert settings.ceph_conf == Path("/c/ceph.conf")
    assert settings.ceph_keyring == Path("/c/client.keyring")
    assert (settings.ceph_user, settings.ceph_pool) == ("client.andromede", "andromede-bench")
