"""Region settings: declared regions, the default one, the served ones, where data goes."""

from __future__ import annotations

from pathlib import Path

import pytest

from andromede.errors import ConfigurationError
from andromede.settings import load_settings


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    names = ("REGION", "REGIONS", "SERVED_REGIONS", "CEPH_POOL", "BLOB_BACKEND", "CEPH_CONF")
    for name in (*names, "INLINE_OBJECT_REGIONS", "INLINE_OBJECT_MAX_BYTES"):
        monkeypatch.delenv(f"ANDROMEDE_{name}", raising=False)


def test_without_regions_there_is_one_made_of_region_and_ceph_pool(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, region="eu-fr-1", ceph_pool="legacy")
    [only] = settings.declared_regions
    assert (only.name, only.jurisdiction) == ("eu-fr-1", None)
    assert settings.region_pool("eu-fr-1") == "legacy"
    assert settings.served_region_names == {"eu-fr-1"}
    assert settings.region_directory("eu-fr-1") == tmp_path / "objects"


def test_regions_from_a_toml_file(tmp_path: Path) -> None:
    config = tmp_path / "andromede.toml"
    config.write_text(
        'region = "eu-paris-1"\n'
        'blob_backend = "rados"\n'
        'ceph_conf = "/etc/ceph/ceph.conf"\n'
        'ceph_pool = "paris-pool"\n'
        'served_regions = ["eu-berlin-1"]\n'
        "[[regions]]\n"
        'name = "eu-paris-1"\n'
        'jurisdiction = "FR"\n'
        "[[regions]]\n"
        'name = "eu-berlin-1"\n'
        'jurisdiction = "DE"\n'
        'ceph_pool = "berlin-pool"\n'
        'endpoint = "https://s3.berlin.example.eu"\n'
    )
    settings = load_settings(config, data_dir=tmp_path)
    assert [r.name for r in settings.declared_regions] == ["eu-paris-1", "eu-berlin-1"]
    assert settings.region_pool("eu-paris-1") == "paris-pool"  # the default falls back
    assert settings.region_pool("eu-berlin-1") == "berlin-pool"
    assert settings.served_region_names == {"eu-berlin-1"}
    berlin = settings.region_settings("eu-berlin-1")
    assert berlin is not None and berlin.endpoint == "https://s3.berlin.example.eu"
    assert settings.region_directory("eu-berlin-1") == tmp_path / "objects-eu-berlin-1"


def test_regions_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "ANDROMEDE_REGIONS", '[{"name": "eu-fr-1", "jurisdiction": "FR"}, {"name": "eu-de-1"}]'
    )
    monkeypatch.setenv("ANDROMEDE_SERVED_REGIONS", '["eu-de-1"]')
    settings = load_settings(region="eu-fr-1")
    assert settings.served_region_names == {"eu-de-1"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"regions": [{"name": "a1"}, {"name": "a1"}], "region": "a1"}, "name of its own"),
        ({"regions": [{"name": "a1"}]}, "must be one of regions"),
        ({"served_regions": ["elsewhere"]}, "not declared"),
        ({"inline_object_regions": ["elsewhere"]}, "inline_object_regions names regions not"),
        ({"inline_object_max_bytes": -1}, "inline_object_max_bytes"),
        ({"inline_object_max_bytes": 1024 * 1024 + 1}, "inline_object_max_bytes"),
        ({"regions": [{"name": "eu-fr-1", "jurisdiction": "France"}]}, "jurisdiction"),
        ({"regions": [{"name": "eu-fr-1", "pool": "x"}]}, "pool"),
        (
            {
                "blob_backend": "rados",
                "ceph_conf": "/c",
                "regions": [{"name": "eu-fr-1"}, {"name": "eu-de-1"}],
            },
            "needs a ceph_pool",
        ),
        (
            {
                "blob_backend": "rados",
                "ceph_conf": "/c",
                "ceph_pool": "p",
                "regions": [{"name": "eu-fr-1"}, {"name": "eu-de-1", "ceph_pool": "p"}],
            },
            "pool of its own",
        ),
    ],
)
def test_inconsistent_regions_are_refused(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_settings(**{"region": "eu-fr-1", **overrides})


def test_small_objects_stay_inline_on_local_disk_and_on_rados_only_where_named() -> None:
    # Decision 0028: the metadata database holds small objects' bytes only where residency
    # allows it; on local disk it lives on the same host as every region's folder.
    regions = [{"name": "eu-fr-1", "ceph_pool": "fr"}, {"name": "eu-de-1", "ceph_pool": "de"}]
    local = load_settings(region="eu-fr-1", regions=regions)
    assert local.inline_region_names == {"eu-fr-1", "eu-de-1"}
    rados = {"blob_backend": "rados", "ceph_conf": "/c", "region": "eu-fr-1", "regions": regions}
    assert load_settings(**rados).inline_region_names == frozenset()
    named = load_settings(**rados, inline_object_regions=["eu-fr-1"])
    assert named.inline_region_names == {"eu-fr-1"}
    assert load_settings(**rados, inline_object_max_bytes=0).inline_object_max_bytes == 0
