"""Settings of the overlay's underlay: its address, and the namespace that may hold it."""

from __future__ import annotations

from pathlib import Path

import pytest

from andromede.compute_adapters import hypervisor_host_driver
from andromede.errors import ConfigurationError
from andromede.settings import Settings, load_settings


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        if name.startswith("hypervisor"):
            monkeypatch.delenv(f"ANDROMEDE_{name.upper()}", raising=False)


def test_by_default_the_underlay_is_in_the_hosts_own_namespace(tmp_path: Path) -> None:
    assert load_settings(data_dir=tmp_path).hypervisor_underlay_netns == ""


@pytest.mark.parametrize("name", ["underlay", "vrf-lan.2", "u1a2b3a", "_x", "a" * 254])
def test_an_underlay_namespace_named_as_ip_netns_names_them(tmp_path: Path, name: str) -> None:
    settings = load_settings(
        data_dir=tmp_path,
        hypervisor_underlay_address="192.0.2.1",
        hypervisor_underlay_netns=name,
    )
    assert settings.hypervisor_underlay_netns == name


@pytest.mark.parametrize(
    "name", [".", "..", "-n", "a/b", "../etc", "with space", "semi;colon", "é", "a" * 255]
)
def test_a_namespace_name_ip_netns_would_refuse_or_misread_is_refused(
    tmp_path: Path, name: str
) -> None:
    with pytest.raises(ConfigurationError, match="hypervisor_underlay_netns"):
        load_settings(
            data_dir=tmp_path,
            hypervisor_underlay_address="192.0.2.1",
            hypervisor_underlay_netns=name,
        )


def test_an_underlay_namespace_without_an_underlay_address_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="needs hypervisor_underlay_address"):
        load_settings(data_dir=tmp_path, hypervisor_underlay_netns="underlay")


def test_the_agents_driver_opens_its_vxlan_sockets_in_the_underlay_namespace(
    tmp_path: Path, short_dir: Path
) -> None:
    settings = load_settings(
        data_dir=tmp_path,
        hypervisor="qemu",
        hypervisor_state_dir=short_dir,
        hypervisor_underlay_address="192.0.2.1",
        hypervisor_vxlan_port=4790,
        hypervisor_underlay_netns="underlay",
    )
    layout = hypervisor_host_driver(settings)._config.network_layout
    assert (layout.underlay_address, layout.vxlan_port, layout.underlay_netns) == (
        "192.0.2.1",
        4790,
        "underlay",
    )


def test_the_vxlan_port_leaves_the_next_one_for_the_peering_segments(tmp_path: Path) -> None:
    """The VPC peering segments listen on the overlay port plus one (decision 0139's
    addendum): the last UDP port is refused, the one before it taken."""
    assert load_settings(data_dir=tmp_path, hypervisor_vxlan_port=65534).hypervisor_vxlan_port == (
        65534
    )
    with pytest.raises(ConfigurationError, match="hypervisor_vxlan_port"):
        load_settings(data_dir=tmp_path, hypervisor_vxlan_port=65535)
