"""Settings of networked hypervisor agents: the listener's certificates, the declared hosts."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from andromede.compute_adapters import hypervisor_drivers
from andromede.errors import ConfigurationError
from andromede.hypervisor.remote import RemoteDriver
from andromede.settings import Settings, load_settings

TLS_AGENT = {
    "hypervisor_agent_tls_cert": "/pki/agent.pem",
    "hypervisor_agent_tls_key": "/pki/agent-key.pem",
    "hypervisor_agent_tls_ca": "/pki/ca.pem",
}
TLS_GATEWAY = {
    "hypervisor_client_tls_cert": "/pki/gateway.pem",
    "hypervisor_client_tls_key": "/pki/gateway-key.pem",
    "hypervisor_agent_tls_ca": "/pki/ca.pem",
}
HOSTS = [
    {"name": "hv-1", "url": "https://10.1.0.1:7443"},
    {"name": "hv-2", "url": "https://[fd00::2]:7443"},
]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        if name.startswith("hypervisor"):
            monkeypatch.delenv(f"ANDROMEDE_{name.upper()}", raising=False)


def test_by_default_an_agent_listens_on_its_socket_only_under_the_machine_name(
    tmp_path: Path,
) -> None:
    settings = load_settings(data_dir=tmp_path)
    assert settings.hypervisor_agent_listen == ""
    assert settings.hypervisor_agent_address is None
    assert settings.hypervisor_host_name == socket.gethostname()
    assert settings.hypervisor_hosts == ()


def test_an_agent_listener_with_its_certificates(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, hypervisor_agent_listen="0.0.0.0:7443", **TLS_AGENT)
    assert settings.hypervisor_agent_address == ("0.0.0.0", 7443)  # noqa: S104
    ipv6 = load_settings(data_dir=tmp_path, hypervisor_agent_listen="[::]:7443", **TLS_AGENT)
    assert ipv6.hypervisor_agent_address == ("::", 7443)


@pytest.mark.parametrize("left_out", sorted(TLS_AGENT))
def test_an_agent_listener_without_any_of_its_certificates_is_refused(
    tmp_path: Path, left_out: str
) -> None:
    given = {k: v for k, v in TLS_AGENT.items() if k != left_out}
    with pytest.raises(ConfigurationError, match=left_out):
        load_settings(data_dir=tmp_path, hypervisor_agent_listen="127.0.0.1:7443", **given)


@pytest.mark.parametrize("listen", ["7443", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", ":1"])
def test_a_malformed_listen_address_is_refused(tmp_path: Path, listen: str) -> None:
    with pytest.raises(ConfigurationError, match="HOST:PORT"):
        load_settings(data_dir=tmp_path, hypervisor_agent_listen=listen, **TLS_AGENT)


def test_hosts_from_a_toml_file(tmp_path: Path) -> None:
    config = tmp_path / "andromede.toml"
    config.write_text(
        'hypervisor = "qemu"\n'
        'hypervisor_client_tls_cert = "/pki/gateway.pem"\n'
        'hypervisor_client_tls_key = "/pki/gateway-key.pem"\n'
        'hypervisor_agent_tls_ca = "/pki/ca.pem"\n'
        "[[hypervisor_hosts]]\n"
        'name = "hv-1"\n'
        'url = "https://10.1.0.1:7443"\n'
        "[[hypervisor_hosts]]\n"
        'name = "hv-2.example.eu"\n'
        'url = "https://hv-2.example.eu:7443"\n'
    )
    settings = load_settings(config, data_dir=tmp_path)
    assert [(h.name, h.url) for h in settings.hypervisor_hosts] == [
        ("hv-1", "https://10.1.0.1:7443"),
        ("hv-2.example.eu", "https://hv-2.example.eu:7443"),
    ]


def test_hosts_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ANDROMEDE_HYPERVISOR", "qemu")
    monkeypatch.setenv(
        "ANDROMEDE_HYPERVISOR_HOSTS", '[{"name": "hv-1", "url": "https://10.1.0.1:7443"}]'
    )
    settings = load_settings(data_dir=tmp_path, **TLS_GATEWAY)
    assert [h.name for h in settings.hypervisor_hosts] == ["hv-1"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"hypervisor": "memory"}, "hypervisor = qemu"),
        ({"hypervisor_hosts": [HOSTS[0], {**HOSTS[1], "name": "hv-1"}]}, "name of its own"),
        ({"hypervisor_hosts": [{"name": "hv-1", "url": "http://10.1.0.1:7443"}]}, "url"),
        ({"hypervisor_hosts": [{"name": "hv-1", "url": "https://10.1.0.1"}]}, "url"),
        ({"hypervisor_hosts": [{"name": "-bad", "url": "https://10.1.0.1:1"}]}, "name"),
        ({"hypervisor_hosts": [{**HOSTS[0], "extra": 1}]}, "extra"),
        ({"hypervisor_client_tls_key": None}, "hypervisor_client_tls_key"),
        ({"hypervisor_agent_tls_ca": None}, "hypervisor_agent_tls_ca"),
    ],
)
def test_declared_hosts_that_cannot_be_reached_safely_are_refused(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    given: dict[str, object] = {
        "hypervisor": "qemu",
        "hypervisor_hosts": HOSTS,
        **TLS_GATEWAY,
        **change,
    }
    with pytest.raises(ConfigurationError, match=message):
        load_settings(data_dir=tmp_path, **given)


async def test_a_gateway_with_hosts_drives_one_remote_driver_each(
    tmp_path: Path, short_dir: Path, pki_files: dict[str, Path]
) -> None:
    settings = load_settings(
        data_dir=tmp_path,
        hypervisor_state_dir=short_dir,
        hypervisor="qemu",
        hypervisor_hosts=HOSTS,
        hypervisor_client_tls_cert=pki_files["cert"],
        hypervisor_client_tls_key=pki_files["key"],
        hypervisor_agent_tls_ca=pki_files["ca"],
    )
    drivers = hypervisor_drivers(settings)
    try:
        assert [d.host for d in drivers] == ["hv-1", "hv-2"]
        assert all(isinstance(d, RemoteDriver) for d in drivers)
    finally:
        for driver in drivers:
            await driver.close()


async def test_without_hosts_a_gateway_drives_its_local_agent_under_the_host_name(
    tmp_path: Path, short_dir: Path
) -> None:
    settings = load_settings(
        data_dir=tmp_path,
        hypervisor_state_dir=short_dir,
        hypervisor="qemu",
        hypervisor_host_name="hv-local.example",
    )
    [driver] = hypervisor_drivers(settings)
    try:
        assert isinstance(driver, RemoteDriver) and driver.host == "hv-local.example"
    finally:
        await driver.close()


@pytest.fixture
def pki_files(tmp_path: Path) -> dict[str, Path]:
    import trustme

    ca = trustme.CA()
    leaf = ca.issue_cert("gateway.example")
    files = {"ca": tmp_path / "ca.pem", "cert": tmp_path / "gw.pem", "key": tmp_path / "gw-key.pem"}
    ca.cert_pem.write_to_path(str(files["ca"]))
    leaf.cert_chain_pems[0].write_to_path(str(files["cert"]))
    leaf.private_key_pem.write_to_path(str(files["key"]))
    return files
