"""The management API's listener settings."""

from __future__ import annotations

import pytest

from andromede.errors import ConfigurationError
from andromede.settings import load_settings


def test_defaults_listen_on_loopback_9001(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ANDROMEDE_API_HOST", "ANDROMEDE_API_PORT", "ANDROMEDE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert (settings.api_host, settings.api_port) == ("127.0.0.1", 9001)


def test_the_api_port_must_differ_from_s3s() -> None:
    with pytest.raises(ConfigurationError, match="api_port and s3_port must differ"):
        load_settings(s3_port=9100, api_port=9100)
    assert load_settings(s3_port=0, api_port=0).api_port == 0  # both picked by the kernel
