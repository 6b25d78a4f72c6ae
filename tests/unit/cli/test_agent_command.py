"""``andromede agent --listen``: a network listener only with mutual TLS, refused otherwise
before anything of the host is touched."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from andromede.cli.main import app
from andromede.settings import Settings


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        if name.startswith("hypervisor"):
            monkeypatch.delenv(f"ANDROMEDE_{name.upper()}", raising=False)


def test_a_listener_without_its_certificates_is_a_configuration_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["agent", "--data-dir", str(tmp_path), "--listen", "127.0.0.1:7443"]
    )
    assert result.exit_code == 2, result.output
    assert "hypervisor_agent_tls_cert" in result.stderr
    assert not (tmp_path / "compute").exists()  # no driver was built


def test_unreadable_certificates_are_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("CERT", "KEY", "CA"):
        monkeypatch.setenv(f"ANDROMEDE_HYPERVISOR_AGENT_TLS_{name}", str(tmp_path / "missing.pem"))
    result = CliRunner().invoke(
        app, ["agent", "--data-dir", str(tmp_path), "--listen", "127.0.0.1:7443"]
    )
    assert result.exit_code == 2, result.output
    assert "TLS certificate, key or CA" in result.stderr
    assert not (tmp_path / "compute").exists()


def test_an_underlay_the_host_does_not_hold_stops_the_agent_with_a_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A host that cannot do what its settings ask (here: an overlay endpoint on an address it
    does not hold; or bridges it cannot build) says so in one line and exits 1, no traceback."""
    monkeypatch.setenv("ANDROMEDE_HYPERVISOR", "qemu")
    monkeypatch.setenv("ANDROMEDE_HYPERVISOR_NETWORKING", "bridge")
    monkeypatch.setenv("ANDROMEDE_HYPERVISOR_UNDERLAY_ADDRESS", "192.0.2.77")
    monkeypatch.setenv("ANDROMEDE_HYPERVISOR_STATE_DIR", str(tmp_path / "h"))
    result = CliRunner().invoke(app, ["agent", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert "hypervisor:" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
