"""EventBridge's and Pipes' limits: each default is AWS's published quota of an account in a
Region (the quotas page, ``eb-quota.html``), never lower without a reason written down, and
each a setting an operator may change (decision 0408)."""

from __future__ import annotations

import pytest

from andromede.settings import Settings, load_settings

# AWS's default per account per Region (or per bus, per rule, per call), as published.
AWS_QUOTAS = {
    "events_max_connections": 3000,
    "events_max_api_destinations": 3000,
    "events_max_buses": 100,
    "events_max_endpoints": 100,
    "events_max_rules": 300,
    "events_max_targets": 5,
    "events_max_put_entries": 10,
    "events_max_policy_size": 10240,
    "events_max_input": 8192,
    "pipes_max_pipes": 1000,
}


@pytest.fixture
def defaults(monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in Settings.model_fields:
        monkeypatch.delenv(f"ANDROMEDE_{name.upper()}", raising=False)
    return load_settings()


@pytest.mark.parametrize(("name", "quota"), sorted(AWS_QUOTAS.items()))
def test_each_limit_defaults_to_awss_quota(defaults: Settings, name: str, quota: int) -> None:
    assert getattr(defaults, name) == quota


def test_the_event_pattern_may_be_longer_than_awss() -> None:
    # AWS's quota is 2,048 characters (adjustable); 4,096 was chosen in decision 0192 and a
    # longer limit refuses nothing AWS accepts.
    assert Settings.model_fields["events_max_pattern_length"].default >= 2048


@pytest.mark.parametrize("name", sorted(AWS_QUOTAS))
def test_each_limit_is_an_operators_setting(
    monkeypatch: pytest.MonkeyPatch, defaults: Settings, name: str
) -> None:
    monkeypatch.setenv(f"ANDROMEDE_{name.upper()}", "7")
    assert getattr(load_settings(), name) == 7
