"""The proxy's settings: every one an option of ``serve`` with its environment variable,
documented, and bounded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer.main
from pydantic import ValidationError

from andromede.cli.xks_proxy import xks_proxy
from andromede.xks.settings import ENV_PREFIX, MIN_BODY_SIZE, XksProxySettings

ROOT = Path(__file__).parents[3]
REQUIRED: dict[str, Any] = {
    "tls_cert": Path("c.pem"),
    "tls_key": Path("k.pem"),
    "credentials_file": Path("creds.toml"),
    "pkcs11_module": Path("libsofthsm2.so"),
    "token_label": "xks",
    "pin_file": Path("pin"),
    "audit_log": Path("audit.log"),
}


@pytest.mark.parametrize("document", ["docs/configuration.md", "README.md"])
def test_every_setting_is_documented(document: str) -> None:
    text = (ROOT / document).read_text()
    missing = [
        name
        for name in XksProxySettings.model_fields
        if f"`{name}`" not in text or f"`{ENV_PREFIX}{name.upper()}`" not in text
    ]
    assert missing == []


def test_every_setting_is_an_option_of_serve_with_its_variable() -> None:
    command = typer.main.get_command(xks_proxy).commands["serve"]  # type: ignore[attr-defined]
    options = {param.name: param for param in command.params}
    for name, field in XksProxySettings.model_fields.items():
        assert field.description, name
        assert options[name].envvar == f"{ENV_PREFIX}{name.upper()}", name
    assert set(options) == set(XksProxySettings.model_fields)


def test_defaults() -> None:
    settings = XksProxySettings(**REQUIRED)
    assert (settings.host, settings.port, settings.region) == ("127.0.0.1", 8443, "eu-fr-1")
    assert settings.uri_path_prefix == ""
    assert settings.max_body_size == 64 * 1024
    assert settings.authorization_file is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("port", 70000),
        ("region", "Not A Region"),
        ("uri_path_prefix", "/a.b"),
        ("uri_path_prefix", "/" + "a" * 117),
        ("token_label", "t" * 33),
        ("max_body_size", MIN_BODY_SIZE - 1),
        ("max_body_size", 1024 * 1024 + 1),
        ("body_read_timeout", 0),
        ("body_read_timeout", 61),
        ("hsm_timeout", 0),
        ("hsm_timeout", 61),
        ("max_in_flight", 0),
        ("max_in_flight", 10_001),
        ("keep_alive_timeout", 0),
        ("keep_alive_timeout", 3601),
    ],
)
def test_limits(name: str, value: Any) -> None:
    with pytest.raises(ValidationError):
        XksProxySettings(**{**REQUIRED, name: value})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("max_body_size", MIN_BODY_SIZE),
        ("max_body_size", 1024 * 1024),
        ("hsm_timeout", 60),
        ("max_in_flight", 1),
        ("uri_path_prefix", "/" + "a" * 116),
    ],
)
def test_limits_are_inclusive(name: str, value: Any) -> None:
    XksProxySettings(**{**REQUIRED, name: value})


def test_unknown_settings_are_refused() -> None:
    with pytest.raises(ValidationError):
        XksProxySettings(**REQUIRED, pin="1234")


def test_mutual_tls_needs_both_the_ca_and_the_subject() -> None:
    both = XksProxySettings(
        **REQUIRED, tls_client_ca=Path("ca.pem"), tls_client_subject="cks.kms.eu-fr-1.example"
    )
    assert both.tls_client_subject == "cks.kms.eu-fr-1.example"
    assert XksProxySettings(**REQUIRED).tls_client_ca is None
    for alone in ({"tls_client_ca": Path("ca.pem")}, {"tls_client_subject": "a.example"}):
        with pytest.raises(ValidationError, match="tls_client_ca and tls_client_subject"):
            XksProxySettings(**REQUIRED, **alone)
    for subject in ("", "a" * 65, "CN=a,O=b", "a b"):
        with pytest.raises(ValidationError, match="tls_client_subject"):
            XksProxySettings(**REQUIRED, tls_client_ca=Path("ca.pem"), tls_client_subject=subject)
    assert (
        XksProxySettings(
            **REQUIRED, tls_client_ca=Path("ca.pem"), tls_client_subject="a" * 64
        ).tls_client_subject
        == "a" * 64
    )
