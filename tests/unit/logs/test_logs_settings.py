"""Decision 0186's limits are settings: each read from ``ANDROMEDE_LOGS_*``, refused when not
positive, and handed to the service ``serve`` builds."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from andromede.settings import Settings
from andromede.wiring.logs import export_service, insights_service, live_tails, logs_service
from support.keys import key_service_in


def test_limits_reach_the_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "LOGS_MAX_GROUPS": "7",
        "LOGS_MAX_EVENTS": "8",
        "LOGS_MAX_BATCH_SIZE": "9000",
        "LOGS_LIST_PAGE": "5",
        "LOGS_EVENTS_PAGE": "6",
        "LOGS_FILTER_SCAN": "60",
        "LOGS_MAX_RESPONSE_SIZE": "4096",
        "LOGS_MAX_METRIC_FILTERS": "3",
        "LOGS_METRIC_FILTER_CACHE": "0.25",
        "LOGS_METRIC_TALLY_KEYS": "11",
        "LOGS_MAX_RESOURCE_POLICIES": "2",
    }.items():
        monkeypatch.setenv(f"ANDROMEDE_{name}", value)
    settings = Settings(data_dir=tmp_path)
    service = logs_service(settings, None, key_service_in(tmp_path / "keys"), None)  # type: ignore[arg-type]
    limits = service.limits
    assert (limits.max_groups, limits.max_events, limits.max_batch_bytes) == (7, 8, 9000)
    assert (limits.page, limits.events_page, limits.filter_scan) == (5, 6, 60)
    assert limits.max_response_bytes == 4096
    assert (limits.max_metric_filters, limits.metric_filter_cache_ms) == (3, 250)
    assert limits.metric_tally_keys == service.tally._max_keys == 11
    assert limits.max_resource_policies == 2


@pytest.mark.parametrize(
    "name",
    [
        "logs_max_groups",
        "logs_max_events",
        "logs_retention_interval",
        "logs_retention_batch",
        "logs_max_metric_filters",
        "logs_metric_filter_cache",
        "logs_metric_flush_interval",
        "logs_metric_tally_keys",
        "logs_max_resource_policies",
        "logs_query_max_concurrent",
        "logs_query_timeout",
        "logs_query_retention",
        "logs_query_max_groups",
        "logs_query_max_rows",
        "logs_query_max_patterns",
        "logs_live_tail_max_sessions",
        "logs_live_tail_max_session",
        "logs_max_query_definitions",
    ],
)
def test_not_positive_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValidationError):
        Settings(data_dir=tmp_path, **{name: 0})


def test_query_limits_reach_logs_insights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "LOGS_QUERY_MAX_CONCURRENT": "3",
        "LOGS_QUERY_TIMEOUT": "1.5",
        "LOGS_QUERY_RETENTION": "60",
        "LOGS_QUERY_MAX_GROUPS": "4",
        "LOGS_QUERY_MAX_ROWS": "5",
        "LOGS_MAX_QUERY_DEFINITIONS": "6",
        "LOGS_QUERY_PARTIAL_INTERVAL": "0.25",
        "LOGS_QUERY_MAX_PATTERNS": "7",
    }.items():
        monkeypatch.setenv(f"ANDROMEDE_{name}", value)
    settings = Settings(data_dir=tmp_path)
    logs = logs_service(settings, None, key_service_in(tmp_path / "keys"), None)  # type: ignore[arg-type]
    limits = insights_service(settings, None, logs, None).limits  # type: ignore[arg-type]
    assert (limits.max_concurrent, limits.timeout_ms, limits.retention_ms) == (3, 1500, 60_000)
    assert (limits.max_groups, limits.max_rows, limits.max_definitions) == (4, 5, 6)
    assert (limits.partial_interval, limits.max_patterns) == (0.25, 7)
    # Zero writes the partial results after every chunk; below zero is refused.
    assert (
        Settings(data_dir=tmp_path, logs_query_partial_interval=0).logs_query_partial_interval == 0
    )
    with pytest.raises(ValidationError):
        Settings(data_dir=tmp_path, logs_query_partial_interval=-1)


def test_live_tail_settings_reach_its_sessions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Session 50: the live tail's bound of sessions and their length, from the environment."""
    monkeypatch.setenv("ANDROMEDE_LOGS_LIVE_TAIL_MAX_SESSIONS", "3")
    monkeypatch.setenv("ANDROMEDE_LOGS_LIVE_TAIL_MAX_SESSION", "60.5")
    settings = Settings(data_dir=tmp_path)
    logs = logs_service(settings, None, key_service_in(tmp_path / "keys"), None)  # type: ignore[arg-type]
    limits = live_tails(settings, logs).limits
    assert (limits.max_sessions, limits.max_session, limits.interval) == (3, 60.5, 1.0)
    monkeypatch.delenv("ANDROMEDE_LOGS_LIVE_TAIL_MAX_SESSIONS")
    monkeypatch.delenv("ANDROMEDE_LOGS_LIVE_TAIL_MAX_SESSION")
    defaults = Settings(data_dir=tmp_path / "d")
    assert (defaults.logs_live_tail_max_sessions, defaults.logs_live_tail_max_session) == (
        15,
        10_800.0,
    )


def test_export_and_record_settings_reach_their_services(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Session 49: the export tasks' batch, object size and lease, and GetLogGroupFields'
    sample, from ``ANDROMEDE_LOGS_*``; zero and negative refused."""
    for name, value in {
        "LOGS_EXPORT_BATCH": "7",
        "LOGS_EXPORT_MAX_OBJECT_SIZE": "4096",
        "LOGS_EXPORT_LEASE": "2.5",
        "LOGS_EXPORT_INTERVAL": "0.5",
        "LOGS_RECORD_FIELDS_SAMPLE": "9",
    }.items():
        monkeypatch.setenv(f"ANDROMEDE_{name}", value)
    settings = Settings(data_dir=tmp_path)
    logs = logs_service(settings, None, key_service_in(tmp_path / "keys"), None)  # type: ignore[arg-type]
    exports = export_service(settings, None, logs, None, None)  # type: ignore[arg-type]
    assert (exports.limits.batch, exports.limits.max_object_size) == (7, 4096)
    assert exports.limits.lease_ms == 2500
    assert (settings.logs_export_interval, settings.logs_record_fields_sample) == (0.5, 9)
    for name in (
        "logs_export_batch",
        "logs_export_max_object_size",
        "logs_export_lease",
        "logs_export_interval",
        "logs_record_fields_sample",
    ):
        with pytest.raises(ValidationError):
            Settings(data_dir=tmp_path, **{name: 0})
