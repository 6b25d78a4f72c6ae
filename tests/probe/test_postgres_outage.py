"""PostgreSQL stops under a running gateway: requests get 503 ServiceUnavailable (never a 500,
never a corrupt object), and the gateway recovers by itself once PostgreSQL is back."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from probe.probe_support import wait_until
from support.postgres import PrivateCluster
from support.rawclient import raw_client_for
from support.server import running_server

pytestmark = pytest.mark.probe


def test_a_postgresql_outage_is_503_then_recovers(
    private_postgres: PrivateCluster, tmp_path: Path
) -> None:
    env = {"ANDROMEDE_DATABASE_URL": private_postgres.url, "ANDROMEDE_DATABASE_TIMEOUT": "3"}
    with running_server(tmp_path / "data", extra_env=env) as server:
        raw = raw_client_for(server)
        assert raw.request("PUT", "/outage").status == 200
        stored = {f"k{n}": os.urandom(4096 + n) for n in range(3)}
        for key, body in stored.items():
            assert raw.request("PUT", f"/outage/{key}", body=body).status == 200

        private_postgres.stop()
        during = [
            raw.request("GET", "/outage/k0"),
            raw.request("PUT", "/outage/during", body=b"x" * 4096),
            raw.request("GET", "/outage", query="list-type=2"),
            raw.request("DELETE", "/outage/k1"),
        ]
        for reply in during:
            assert reply.status == 503, (reply.status, reply.body[:300])
            assert b"<Code>ServiceUnavailable</Code>" in reply.body

        private_postgres.start()
        # No restart of the gateway: the first requests after PostgreSQL is back succeed.
        assert wait_until(lambda: raw.request("GET", "/outage/k0").status == 200, 15)
        for key, body in stored.items():
            got = raw.request("GET", f"/outage/{key}")
            assert (got.status, got.body) == (200, body), key
        # A client retrying what failed during the outage now succeeds.
        assert raw.request("PUT", "/outage/during", body=b"x" * 4096).status == 200
        assert raw.request("DELETE", "/outage/k1").status == 204
        assert raw.request("GET", "/outage/k1").status == 404
        assert server.log_path is not None
        log = server.log_path.read_text()
    # The access log has one line per request, with its status: 503s, never a 500.
    assert " 503 in=" in log
    assert " 500 in=" not in log and "unexpected error" not in log
