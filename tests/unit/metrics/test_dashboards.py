"""Decision 0185's dashboard checks and service, over the in-memory store: AWS's body
structure (widgets array, types, positions and sizes, metric widgets' metrics and region,
text and alarm widgets' properties) with the data paths of its errors, warnings for what is
stored but shows nothing here, the name's characters, the bounds (body size, widgets, quota,
page), pages by name and prefix, deletion all or nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from andromede.db.database import open_database
from andromede.metrics.dashboards import (
    DashboardLimits,
    DashboardService,
    MemoryDashboardStore,
    check_body,
    dashboard_arn,
)
from andromede.metrics.errors import (
    InvalidParameterInput,
    InvalidParameterValue,
    LimitExceeded,
    ResourceNotFound,
)
from andromede.settings import Settings
from andromede.wiring.metrics import dashboard_service
from support.schema import migrated_sqlite

REGION = "eu-fr-1"
LIMITS = DashboardLimits(max_per_account=3, max_body_size=2000, max_widgets=2, list_page=2)


def metric_widget(**overrides: Any) -> dict[str, Any]:
    widget: dict[str, Any] = {
        "type": "metric", "x": 0, "y": 0, "width": 12, "height": 6,
        "properties": {
            "metrics": [["App", "CPU", "Host", "web-1"], [".", "Load", ".", ".", {"stat": "Max"}],
                        [{"expression": "m1 * 2", "label": "double"}]],
            "region": REGION, "period": 300, "stat": "Average",
        },
    }  # fmt: skip
    widget.update(overrides)
    return widget


def body(*widgets: Any, **extra: Any) -> str:
    return json.dumps({"widgets": list(widgets), **extra})


def errors_of(text: str) -> tuple[tuple[str, str], ...]:
    with pytest.raises(InvalidParameterInput) as caught:
        check_body(text, REGION, LIMITS)
    return caught.value.messages


def test_a_valid_body_has_no_message() -> None:
    text = body(metric_widget(), {"type": "text", "x": 0, "y": 7, "width": 3, "height": 3,
                                  "properties": {"markdown": "Hello"}}, start="-PT6H")  # fmt: skip
    assert check_body(text, REGION, LIMITS) == []
    assert check_body(body(), REGION, LIMITS) == []  # an empty widgets array is valid
    # AWS places and sizes a widget given no position or size.
    assert check_body(body({"type": "text", "properties": {"markdown": "x"}}), REGION, LIMITS) == []


def test_the_structure_errors_and_their_paths() -> None:
    assert errors_of("not json") == (("", "The field DashboardBody must be a valid JSON object"),)
    assert errors_of("[]") == (("", "Should be object"),)
    assert errors_of("{}") == (("", "Should have required property 'widgets'"),)
    assert errors_of('{"widgets": {}}') == (("/widgets", "Should be array"),)
    assert errors_of(body({}, {}, {})) == (("/widgets", "Should NOT have more than 2 items"),)
    assert errors_of(body({"x": 0, "properties": {}})) == (
        ("/widgets/0", "Should have required property 'type'"),
    )
    [(path, message)] = errors_of(body({"type": "pie", "properties": {}}))
    assert path == "/widgets/0/type" and "allowed values" in message
    assert errors_of(body(metric_widget(x=24, y=-1, width=0, height=1001))) == (
        ("/widgets/0/x", "Should be <= 23"),
        ("/widgets/0/y", "Should be >= 0"),
        ("/widgets/0/width", "Should be >= 1"),
        ("/widgets/0/height", "Should be <= 1000"),
    )
    assert errors_of(body(metric_widget(x="0", width=True))) == (
        ("/widgets/0/x", "Should be integer"),
        ("/widgets/0/width", "Should be integer"),
    )
    assert errors_of(body({"type": "metric"})) == (
        ("/widgets/0", "Should have required property 'properties'"),
    )


def test_each_widget_types_properties() -> None:
    assert errors_of(body(metric_widget(properties={"metrics": [["App", "CPU"]]}))) == (
        ("/widgets/0/properties", "Should have required property 'region'"),
    )
    assert errors_of(body(metric_widget(properties={"region": REGION}))) == (
        ("/widgets/0/properties", "Should have required property 'metrics'"),
    )
    bad = {"region": REGION, "metrics": [["App", 3], [], [{"label": "x"}], "m"]}
    assert errors_of(body(metric_widget(properties=bad))) == (
        ("/widgets/0/properties/metrics/0/1", "Should be string"),
        ("/widgets/0/properties/metrics/1", "Should be a non-empty array"),
        ("/widgets/0/properties/metrics/2", "Should have required property 'expression'"),
        ("/widgets/0/properties/metrics/3", "Should be a non-empty array"),
    )
    assert errors_of(body({"type": "text", "properties": {}})) == (
        ("/widgets/0/properties", "Should have required property 'markdown'"),
    )
    [(path, _)] = errors_of(body({"type": "alarm", "properties": {"alarms": [1]}}))
    assert path == "/widgets/0/properties"
    # Every error is reported, with AWS's message form.
    with pytest.raises(InvalidParameterInput) as caught:
        check_body(body({"type": "text"}, {"x": 0}), REGION, LIMITS)
    assert caught.value.message.startswith(
        "The dashboard body is invalid, there are 2 validation errors: ["
    )


def test_warnings_for_what_shows_nothing_here() -> None:
    other = metric_widget(properties={"metrics": [["App", "CPU"]], "region": "us-east-1"})
    logs = {"type": "log", "properties": {"query": "fields @message", "region": REGION}}
    warnings = check_body(body(other, logs), REGION, LIMITS)
    assert [path for path, _ in warnings] == ["/widgets/0/properties/region", "/widgets/1"]
    assert "us-east-1" in warnings[0][1] and "Logs" in warnings[1][1]


def test_the_body_size_bound() -> None:
    text = body({"type": "text", "properties": {"markdown": "x" * 2000}})
    with pytest.raises(InvalidParameterInput, match="larger than 2000 bytes"):
        check_body(text, REGION, LIMITS)
    with pytest.raises(InvalidParameterInput, match="required"):
        check_body(None, REGION, LIMITS)


async def test_put_get_list_delete_over_the_service() -> None:
    service = DashboardService(MemoryDashboardStore(), REGION, LIMITS)
    for name in ("web-b", "web_a", "db"):
        assert await service.put("t1", name, body(metric_widget())) == []
    await service.put("t2", "web-c", body())  # another account's
    held = await service.get("t1", "web_a")
    assert (held.name, json.loads(held.body)["widgets"][0]["type"]) == ("web_a", "metric")
    assert held.size == len(body(metric_widget()))
    with pytest.raises(LimitExceeded):
        await service.put("t1", "fourth", body())
    await service.put("t1", "db", body())  # replacing is not creating: within the quota
    assert (await service.get("t1", "db")).body == body()
    page, token = await service.page("t1", None, None)
    assert [d.name for d in page] == ["db", "web-b"] and token is not None
    page, token = await service.page("t1", None, token)
    assert ([d.name for d in page], token) == (["web_a"], None)
    page, _ = await service.page("t1", "web", None)
    assert [d.name for d in page] == ["web-b", "web_a"]
    assert (await service.page("t1", "WEB", None))[0] == []  # the prefix is case-sensitive
    with pytest.raises(ResourceNotFound):
        await service.delete("t1", ["web-b", "web-c"])  # web-c is t2's: nothing deleted
    assert len((await service.page("t1", "web", None))[0]) == 2
    await service.delete("t1", ["web-b", "web_a", "web-b"])
    assert [d.name for d in (await service.page("t1", None, None))[0]] == ["db"]
    with pytest.raises(ResourceNotFound):
        await service.get("t1", "web-b")


async def test_names_prefixes_and_tokens_refused() -> None:
    service = DashboardService(MemoryDashboardStore(), REGION, LIMITS)
    for name in ("", "a b", "é", "x" * 256, None):
        with pytest.raises(InvalidParameterInput, match="DashboardName"):
            await service.put("t1", name, body())
    await service.put("t1", "x" * 255, body())
    with pytest.raises(InvalidParameterValue):
        await service.page("t1", "a/b", None)
    with pytest.raises(InvalidParameterValue):
        await service.page("t1", None, "%%%")
    with pytest.raises(InvalidParameterValue):
        await service.delete("t1", [])
    with pytest.raises(InvalidParameterValue):
        await service.get("t1", None)


def test_the_arn_is_global() -> None:
    assert dashboard_arn("123", "ops") == "arn:aws:cloudwatch::123:dashboard/ops"


async def test_the_settings_are_the_services_limits(tmp_path: Path) -> None:
    """Each dashboard bound is a setting (decision 0185), handed on by ``wiring.metrics``
    and enforced over the SQL store."""
    settings = Settings(
        data_dir=tmp_path,
        region=REGION,
        dashboard_max_per_account=1,
        dashboard_max_body_size=100,
        dashboard_max_widgets=1,
        dashboard_list_page=1,
    )
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    try:
        service = dashboard_service(settings, db)
        assert service.limits == DashboardLimits(1, 100, 1, 1)
        await service.put("t1", "one", body())
        with pytest.raises(LimitExceeded):
            await service.put("t1", "two", body())
        with pytest.raises(InvalidParameterInput, match="larger than 100"):
            await service.put(
                "t1", "one", body({"type": "text", "properties": {"markdown": "x" * 99}})
            )
        with pytest.raises(InvalidParameterInput, match="more than 1 items"):
            await service.put("t1", "one", body({}, {}))
        assert [d.name for d in (await service.page("t1", None, None))[0]] == ["one"]
    finally:
        await db.close()
