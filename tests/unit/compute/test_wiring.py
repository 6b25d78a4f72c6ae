"""The compute settings and the composition root's factories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from andromede.compute.driver_memory import MemoryDriver
from andromede.compute_adapters import compute_limits, hypervisor_drivers
from andromede.errors import ConfigurationError
from andromede.settings import load_settings


def test_default_catalogue_has_ec2s_names(tmp_path: Path) -> None:
    limits = compute_limits(load_settings(data_dir=tmp_path))
    sizes = {t.name: (t.vcpus, t.memory_mib) for t in limits.instance_types}
    assert sizes["t3.nano"] == (2, 512)
    assert sizes["t2.nano"] == (1, 512)
    assert sizes["m5.large"] == (2, 8192)
    assert limits.max_user_data_size == 16 * 1024
    assert limits.availability_zone == "eu-fr-1a"


def test_operator_defined_types_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANDROMEDE_INSTANCE_TYPES", json.dumps({"tiny": [1, 256, 2]}))
    limits = compute_limits(load_settings(data_dir=tmp_path))
    assert [(t.name, t.vcpus, t.memory_mib, t.root_disk_gib) for t in limits.instance_types] == [
        ("tiny", 1, 256, 2)
    ]


@pytest.mark.parametrize("types", [{"bad": [0, 512, 8]}, {"bad": [1, 8, 8]}, {"": [1, 512, 8]}])
def test_nonsense_types_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, types: dict[str, list[int]]
) -> None:
    monkeypatch.setenv("ANDROMEDE_INSTANCE_TYPES", json.dumps(types))
    with pytest.raises(ConfigurationError):
        load_settings(data_dir=tmp_path)


def test_the_memory_hypervisor_has_the_configured_capacity(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, memory_hypervisor_vcpus=3)
    [driver] = hypervisor_drivers(settings)
    assert isinstance(driver, MemoryDriver)
    assert driver.storage_domain == driver.host  # its own (memory) disk


def test_unknown_hypervisors_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        load_settings(data_dir=tmp_path, hypervisor="vmware")


def test_the_launch_template_quotas_are_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    defaults = compute_limits(load_settings(data_dir=tmp_path))
    assert (defaults.max_launch_templates, defaults.max_launch_template_versions) == (5000, 10000)
    monkeypatch.setenv("ANDROMEDE_MAX_LAUNCH_TEMPLATES_PER_TENANT", "3")
    monkeypatch.setenv("ANDROMEDE_MAX_LAUNCH_TEMPLATE_VERSIONS", "7")
    limits = compute_limits(load_settings(data_dir=tmp_path))
    assert (limits.max_launch_templates, limits.max_launch_template_versions) == (3, 7)
    for name in (
        "ANDROMEDE_MAX_LAUNCH_TEMPLATES_PER_TENANT",
        "ANDROMEDE_MAX_LAUNCH_TEMPLATE_VERSIONS",
    ):
        monkeypatch.setenv(name, "0")
        with pytest.raises(ConfigurationError):
            load_settings(data_dir=tmp_path)
        monkeypatch.setenv(name, "3")
