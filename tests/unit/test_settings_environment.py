"""Settings' environment source: read when a variable names a setting, left out otherwise
(decision 0309), with the same result either way."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest
from pydantic_settings import PydanticBaseSettingsSource

import andromede.settings as settings_module
from andromede.settings import Settings


@pytest.fixture(autouse=True)
def _no_setting_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(f"ANDROMEDE_{name.upper()}", raising=False)
    monkeypatch.delenv("ANDROMEDE_CONFIG", raising=False)


def _sources() -> tuple[str, ...]:
    named = {
        name: cast(PydanticBaseSettingsSource, name)
        for name in ("init", "env", "dotenv", "secrets")
    }
    chosen = Settings.settings_customise_sources(
        Settings, named["init"], named["env"], named["dotenv"], named["secrets"]
    )
    return tuple(cast(str, source) for source in chosen)


def test_the_environment_source_is_read_only_when_a_variable_names_a_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Variables of the prefix that name no setting (the test suite's own) do not count.
    monkeypatch.setenv("ANDROMEDE_TEST_REQUIRE_ALL", "1")
    assert _sources() == ("init",)
    monkeypatch.setenv("ANDROMEDE_S3_PORT", "9100")
    assert _sources() == ("init", "env")


def test_a_variable_in_another_case_is_still_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("andromede_Region", "eu-es-2")
    assert Settings().region == "eu-es-2"


def test_leaving_the_source_out_changes_no_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    without = Settings(data_dir=tmp_path, region="eu-de-1")
    monkeypatch.setattr(settings_module, "_environment_names_a_setting", lambda: True)
    assert _sources() == ("init", "env")
    read = Settings(data_dir=tmp_path, region="eu-de-1")
    assert without.model_dump() == read.model_dump()
