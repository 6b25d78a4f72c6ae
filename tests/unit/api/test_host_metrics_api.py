"""Decision 0389: the hypervisor hosts' supervised network processes as a Prometheus
exposition on the management API (``GET /api/v1/hosts/metrics``), in process on memory hosts:
the operators read it, a tenant (its administrator too) is refused, a host that does not
answer is an ``agent_up`` of 0 with no other sample, the text format is well formed, and
Prometheus's bearer token (``api_metrics_token_file``) opens that route alone."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.api.host_metrics import exposition
from andromede.compute.driver import SupervisedProcesses
from andromede.compute.driver_memory import MemoryDriver
from andromede.compute.errors import HostUnreachable
from andromede.compute.host_processes import HostProcesses
from andromede.errors import ConfigurationError
from support.apiclient import ApiHarness, api_harness
from unit.api.test_audit_trail_api import assert_problem

PATH = "/api/v1/hosts/metrics"
PASSWORD = "Correct-Horse-42"
_SAMPLE = re.compile(r'^([a-z_]+)\{((?:[a-z]+="(?:[^"\\]|\\.)*",?)*)\} (\d+)$')
_LABEL = re.compile(r'([a-z]+)="((?:[^"\\]|\\.)*)"')


def parse(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], int]:
    """The samples of a text-format exposition, checking what a scraper checks: every line a
    HELP, a TYPE or a sample; a family's TYPE before its samples, its samples together."""
    assert text.endswith("\n")
    samples: dict[tuple[str, frozenset[tuple[str, str]]], int] = {}
    typed: list[str] = []
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in {"gauge", "counter"} and name not in typed
            typed.append(name)
            continue
        found = _SAMPLE.match(line)
        assert found, line
        name = found[1]
        assert typed and name == typed[-1], f"{name} outside its family"
        labels = frozenset(_LABEL.findall(found[2]))
        assert (name, labels) not in samples
        samples[name, labels] = int(found[3])
    return samples


def sample(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return name, frozenset(labels.items())


class _Silent(MemoryDriver):
    async def supervised_processes(self) -> dict[str, SupervisedProcesses]:
        raise HostUnreachable("host-c did not answer")


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[ApiHarness]:
    async with api_harness(tmp_path) as harness:
        first = harness.hosts[0]
        assert isinstance(first, MemoryDriver)
        first.supervised = {
            "dhcp": SupervisedProcesses(3, up=2, down=1),
            "resolver": SupervisedProcesses(0, up=1, down=0),
        }
        second = MemoryDriver("host-b")
        second.supervised = {"forwarder": SupervisedProcesses(5, up=0, down=1)}
        harness.hosts += [second, _Silent("host-c")]
        yield harness


async def test_an_operator_scrapes_each_hosts_restarts_and_states(api: ApiHarness) -> None:
    async with api.as_operator() as client:
        response = await client.get(PATH)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert parse(response.text) == {
        sample("andromede_host_agent_up", host="host-a"): 1,
        sample("andromede_host_agent_up", host="host-b"): 1,
        sample("andromede_host_agent_up", host="host-c"): 0,
        sample("andromede_host_process_restarts_total", host="host-a", kind="dhcp"): 3,
        sample("andromede_host_process_restarts_total", host="host-a", kind="resolver"): 0,
        sample("andromede_host_process_restarts_total", host="host-b", kind="forwarder"): 5,
        sample("andromede_host_processes", host="host-a", kind="dhcp", state="up"): 2,
        sample("andromede_host_processes", host="host-a", kind="dhcp", state="down"): 1,
        sample("andromede_host_processes", host="host-a", kind="resolver", state="up"): 1,
        sample("andromede_host_processes", host="host-a", kind="resolver", state="down"): 0,
        sample("andromede_host_processes", host="host-b", kind="forwarder", state="up"): 0,
        sample("andromede_host_processes", host="host-b", kind="forwarder", state="down"): 1,
    }
    assert "# TYPE andromede_host_process_restarts_total counter" in response.text
    assert "did not answer" not in response.text  # the error stays out of the samples


async def test_a_tenant_cannot_read_the_hosts_metrics(api: ApiHarness) -> None:
    """The hosts are every tenant's: their administrator (AdministratorAccess) is refused as
    any of their users is, by SigV4 or by a console session, and nothing of the hosts is in
    the answer."""
    await api.identity.create_login_profile(api.admin_tenant_id, "root", PASSWORD)
    async with api.as_admin() as client:
        signed = await client.get(PATH)
        login = await client.post(
            "/api/v1/login", json={"account": "admin", "user_name": "root", "password": PASSWORD}
        )
    assert_problem(signed, 403, "operators-only")
    assert "host-a" not in signed.text
    token = login.json()["token"]
    async with api.client(headers={"Authorization": f"Bearer {token}"}) as client:
        assert_problem(await client.get(PATH), 403, "operators-only")
    async with api.client() as client:
        assert_problem(await client.get(PATH), 401, "not-authenticated")


async def test_the_document_describes_the_exposition(api: ApiHarness) -> None:
    async with api.client() as client:
        document = (await client.get("/api/v1/openapi.json")).json()
    responses = document["paths"][PATH]["get"]["responses"]
    assert set(responses["200"]["content"]) == {"text/plain"}
    assert set(responses["401"]["content"]) == {"application/problem+json"}


def test_label_values_are_escaped() -> None:
    odd = HostProcesses('rack "b"\\2\nx', {"dhcp": SupervisedProcesses(1, 1, 0)})
    text = exposition([odd])
    assert 'host="rack \\"b\\"\\\\2\\nx"' in text
    assert len(text.splitlines()) == 2 * 3 + 4  # nothing broke a line
    assert parse(text)[sample("andromede_host_agent_up", host='rack \\"b\\"\\\\2\\nx')] == 1


def test_no_host_is_an_exposition_of_empty_families() -> None:
    assert parse(exposition([])) == {}


# -- the scrape token (api_metrics_token_file) --------------------------------------------------
TOKEN = "k7Q2x9VbN4mR8tW1yZ6cH3jL5pS0dF2g"  # 32 characters, as `openssl rand -base64 24` gives


async def test_prometheus_scrapes_with_the_token_which_opens_nothing_else(tmp_path: Path) -> None:
    token_file = tmp_path / "metrics-token"
    token_file.write_text(TOKEN + "\n")
    async with api_harness(tmp_path / "data", api_metrics_token_file=token_file) as api:
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        async with api.client(headers=bearer) as client:
            scraped = await client.get(PATH)
            whoami = await client.get("/api/v1/whoami")
            tenants = await client.get("/api/v1/tenants")
        async with api.client(headers={"Authorization": f"Bearer {TOKEN[:-1]}x"}) as client:
            wrong = await client.get(PATH)
        async with api.as_operator() as client:  # operators still sign
            signed = await client.get(PATH)
    assert scraped.status_code == 200, scraped.text
    assert parse(scraped.text)[sample("andromede_host_agent_up", host="host-a")] == 1
    assert signed.status_code == 200
    # Anywhere else the token is no console session's: not authenticated.
    assert_problem(whoami, 401, "not-authenticated")
    assert_problem(tenants, 401, "not-authenticated")
    assert_problem(wrong, 401, "not-authenticated")


@pytest.mark.parametrize("content", ["short-token", TOKEN + " " + TOKEN, "x" * 257, None])
async def test_a_bad_token_file_stops_the_start(tmp_path: Path, content: str | None) -> None:
    token_file = tmp_path / "metrics-token"
    if content is not None:
        token_file.write_text(content)
    with pytest.raises(ConfigurationError, match="api_metrics_token_file") as raised:
        async with api_harness(tmp_path / "data", api_metrics_token_file=token_file):
            pass
    assert TOKEN not in str(raised.value)  # the token is never told
