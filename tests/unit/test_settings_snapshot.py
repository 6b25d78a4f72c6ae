"""Settings: the fields, their environment variables and the validation errors stay as recorded.

``settings_snapshot.json`` was written from the single-class ``Settings`` before it was split into
one mixin per concern: every field's type, default, description, alias, constraints and
environment variable, and the message each validator gives. A split, a move or a reordering of
the settings modules must leave all of it alone. A setting added or changed on purpose updates
the snapshot: ``PYTHONPATH=src:tests python tests/unit/test_settings_snapshot.py``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic.fields import FieldInfo
from pydantic_settings import EnvSettingsSource

from andromede.errors import ConfigurationError
from andromede.settings import MIB, Settings, load_settings

SNAPSHOT = Path(__file__).with_name("settings_snapshot.json")

# Where a class is declared (andromede.settings or one of its modules) is no part of a
# field's type: a class moving between the settings modules keeps the setting unchanged.
_MODULE_PATH = re.compile(r"andromede\.settings(?:\.\w+)*\.(?=[A-Z])")
# pydantic's "For further information visit https://errors.pydantic.dev/<version>/..." lines
# name the installed version, not the setting.
_HELP_LINE = re.compile(r"\n\s*For further information visit \S+")

_INVALID: dict[str, dict[str, Any]] = {
    "s3_port": {"s3_port": 70000},
    "several fields": {"s3_port": 70000, "max_parts": 10001, "log_level": "loud"},
    "region": {"region": "Not A Region"},
    "route53_region_coordinates": {"route53_region_coordinates": {"x-1": "91,0"}},
    "route53_client_locations": {"route53_client_locations": {"10.0.0.0/8": "nowhere-1"}},
    "database_url": {"database_url": "mysql://u:secret@db/x"},
    "oidc_allowed_networks": {"oidc_allowed_networks": ["10.0.0.0/33"]},
    "xks_allowed_networks": {"xks_allowed_networks": ["nonsense"]},
    "notification_endpoint_allow_cidrs": {"notification_endpoint_allow_cidrs": ["1.2.3/x"]},
    "hypervisor_dns_upstream": {"hypervisor_dns_upstream": ["::1"]},
    "saml_endpoints": {"saml_endpoints": ["http://idp.example"]},
    "iban shape": {"billing_issuer_iban": "FR76"},
    "iban check digits": {"billing_issuer_iban": "FR7630006000011234567890188"},
    "bic shape": {"billing_issuer_iban": "FR7630006000011234567890189", "billing_issuer_bic": "X"},
    "bic without iban": {"billing_issuer_bic": "BNPAFRPP"},
    "billing prefixes": {"billing_credit_note_prefix": "INV"},
    "audit hsm key": {"audit_signing_key": "hsm"},
    "tls pair": {"tls_cert": "/tmp/cert.pem"},
    "console parts": {"console_upload_part_size": 5 * MIB, "min_part_size": 6 * MIB},
    "xks client pair": {"xks_client_key": "/tmp/key.pem"},
    "website domain": {"website_domain": "localhost", "s3_domain": "s3.localhost"},
    "imds margin": {"imds_credentials_refresh_margin": 3600, "imds_credentials_duration": 3600},
    "transit cidr": {"hypervisor_transit_cidr": "10.0.0.0/30"},
    "transit bad": {"hypervisor_transit_cidr": "10.0.0.0/99"},
    "transit overlaps": {
        "hypervisor_transit_cidr": "10.0.0.0/16",
        "hypervisor_public_cidr": "10.0.1.0/24",
    },
    "elastic bad": {"elastic_ip_cidr": "nonsense"},
    "underlay address": {"hypervisor_underlay_address": "10.0.0.300"},
    "underlay netns": {"hypervisor_underlay_netns": "underlay"},
    "rados": {"blob_backend": "rados"},
    "rbd": {"hypervisor_volume_backend": "rbd"},
    "listeners": {"api_port": 9000, "s3_port": 9000},
    "agent listen shape": {"hypervisor_agent_listen": "nohost"},
    "agent listen tls": {"hypervisor_agent_listen": "127.0.0.1:7001"},
    "hosts hypervisor": {"hypervisor_hosts": [{"name": "h1", "url": "https://10.0.0.1:7001"}]},
    "hosts names": {
        "hypervisor": "qemu",
        "hypervisor_hosts": [
            {"name": "h1", "url": "https://10.0.0.1:7001"},
            {"name": "h1", "url": "https://10.0.0.2:7001"},
        ],
    },
    "hosts tls": {
        "hypervisor": "qemu",
        "hypervisor_hosts": [{"name": "h1", "url": "https://10.0.0.1:7001"}],
    },
    "regions names": {"regions": [{"name": "eu-fr-1"}, {"name": "eu-fr-1"}]},
    "regions default": {"regions": [{"name": "eu-de-1"}]},
    "served regions": {"served_regions": ["eu-xx-9"]},
    "inline regions": {"inline_object_regions": ["eu-xx-9"]},
    "rados pools": {
        "blob_backend": "rados",
        "ceph_conf": "/etc/ceph/ceph.conf",
        "regions": [{"name": "eu-fr-1"}, {"name": "eu-de-1", "ceph_pool": "andromede"}],
    },
    "instance types": {"instance_types": {"t9.bad": [0, 512, 8]}},
    "vpce port": {"hypervisor_vpce_port": 16925},
    "witness http": {
        "audit_witnesses": [{"url": "http://witness.example", "key": "w+0a0b0c0d+AA=="}]
    },
    "region shape": {"regions": [{"name": "eu-fr-1", "endpoint": "ftp://x"}]},
}

# Two rules broken at once, of different groups: the one reported is the first in the order the
# rules ran in when Settings was one class.
_PAIRS: list[tuple[str, str]] = [
    ("bic without iban", "tls pair"),
    ("audit hsm key", "tls pair"),
    ("tls pair", "console parts"),
    ("xks client pair", "website domain"),
    ("website domain", "imds margin"),
    ("imds margin", "transit overlaps"),
    ("rados", "rbd"),
    ("console parts", "listeners"),
    ("listeners", "agent listen tls"),
    ("hosts tls", "served regions"),
    ("served regions", "instance types"),
    ("bic without iban", "instance types"),
]


def _field(name: str, field: FieldInfo) -> dict[str, Any]:
    (env,) = EnvSettingsSource(Settings)._extract_field_info(field, name)
    default = (
        f"factory:{field.default_factory.__name__}"  # type: ignore[union-attr]
        if field.default_factory is not None
        else repr(field.default)
    )
    return {
        "annotation": _MODULE_PATH.sub("", repr(field.annotation)),
        "default": default,
        "description": field.description,
        "alias": field.alias,
        "validation_alias": repr(field.validation_alias),
        "metadata": _MODULE_PATH.sub("", repr(field.metadata)),
        "env": [env[1], env[2]],
    }


def _error(overrides: dict[str, Any]) -> list[str]:
    try:
        load_settings(**overrides)
    except ConfigurationError as exc:
        # Errors of several fields are listed in the order the fields are declared; the
        # lines, not their order, are the contract.
        return sorted(_HELP_LINE.sub("", str(exc)).splitlines())
    raise AssertionError(f"accepted: {overrides}")


def _describe() -> dict[str, Any]:
    return {
        "fields": {name: _field(name, f) for name, f in Settings.model_fields.items()},
        "errors": {case: _error(overrides) for case, overrides in _INVALID.items()},
        "pairs": {" + ".join(pair): _error(_pair(pair)) for pair in _PAIRS},
    }


def _pair(pair: tuple[str, str]) -> dict[str, Any]:
    return {**_INVALID[pair[0]], **_INVALID[pair[1]]}


@pytest.fixture
def _no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(f"ANDROMEDE_{name.upper()}", raising=False)
    monkeypatch.delenv("ANDROMEDE_CONFIG", raising=False)


@pytest.mark.usefixtures("_no_environment")
def test_fields_are_unchanged() -> None:
    recorded = json.loads(SNAPSHOT.read_text())["fields"]
    current = _describe()["fields"]
    assert sorted(current) == sorted(recorded)
    assert {n: f for n, f in current.items() if f != recorded[n]} == {}


@pytest.mark.usefixtures("_no_environment")
@pytest.mark.parametrize("case", sorted(_INVALID))
def test_validation_errors_are_unchanged(case: str) -> None:
    recorded = json.loads(SNAPSHOT.read_text())["errors"]
    assert _error(_INVALID[case]) == recorded[case]


@pytest.mark.usefixtures("_no_environment")
@pytest.mark.parametrize("pair", _PAIRS, ids=" + ".join)
def test_the_first_broken_rule_is_still_the_one_told(pair: tuple[str, str]) -> None:
    recorded = json.loads(SNAPSHOT.read_text())["pairs"]
    assert _error(_pair(pair)) == recorded[" + ".join(pair)]


def test_every_case_is_recorded() -> None:
    recorded = json.loads(SNAPSHOT.read_text())
    assert sorted(recorded["errors"]) == sorted(_INVALID)
    assert sorted(recorded["pairs"]) == sorted(" + ".join(pair) for pair in _PAIRS)


if __name__ == "__main__":
    import os

    for key in [k for k in os.environ if k.startswith("ANDROMEDE_")]:
        del os.environ[key]
    SNAPSHOT.write_text(json.dumps(_describe(), indent=1, ensure_ascii=False) + "\n")
