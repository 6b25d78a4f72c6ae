"""The settings of SNS subscriptions and Publish (decision 0163): their defaults (SNS's
256 KiB), their bounds, the endpoint URL's form, and the base URL derived from the S3
listener when none is set."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from andromede.settings import Settings
from andromede.wiring.pubsub import sns_base_url


def test_defaults_and_the_derived_base_url(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, s3_port=9123)
    assert settings.sns_max_message_size == 262_144
    assert settings.sns_max_subscriptions_per_topic == 10_000
    assert sns_base_url(settings) == "http://127.0.0.1:9123"
    named = Settings(data_dir=tmp_path, sns_endpoint_url="https://sns.example:443/")
    assert sns_base_url(named) == "https://sns.example:443"


@pytest.mark.parametrize(
    "values",
    [
        {"sns_max_message_size": 262_145},
        {"sns_max_message_size": 10},
        {"sns_max_subscriptions_per_topic": 0},
        {"sns_endpoint_url": "ftp://sns.example"},
        {"sns_endpoint_url": "https://sns.example/path"},
        {"sns_endpoint_url": "https://user@sns.example"},
    ],
)
def test_values_refused(tmp_path: Path, values: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Settings(data_dir=tmp_path, **values)  # type: ignore[arg-type]
