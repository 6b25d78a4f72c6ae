"""Settings: sources and precedence, unknown keys rejected, every setting documented."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from andromede.errors import ConfigurationError
from andromede.settings import Settings, load_settings

ROOT = Path(__file__).parents[2]


@pytest.mark.parametrize("document", ["docs/configuration.md", "README.md"])
def test_every_setting_is_documented(document: str) -> None:
    text = (ROOT / document).read_text()
    missing = [
        name
        for name in Settings.model_fields
        if f"`{name}`" not in text or f"`ANDROMEDE_{name.upper()}`" not in text
    ]
    assert missing == []


def test_every_setting_has_a_description() -> None:
    assert [n for n, f in Settings.model_fields.items() if not f.description] == []


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(f"ANDROMEDE_{name.upper()}", raising=False)
    settings = load_settings()
    assert settings.s3_port == 9000
    assert settings.s3_host == "127.0.0.1"
    assert settings.max_object_size == 5 * 1024**3
    assert settings.min_part_size == 5 * 1024**2
    assert settings.max_parts == 10_000
    assert settings.max_key_length == 1024
    assert settings.max_user_metadata_size == 2048
    assert settings.fsync is True


def test_precedence_file_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "andromede.toml"
    config.write_text('s3_port = 9100\nregion = "eu-de-1"\ndata_dir = "/srv/a"\n')
    monkeypatch.setenv("ANDROMEDE_REGION", "eu-es-2")
    settings = load_settings(config, data_dir=tmp_path / "cli")
    assert settings.s3_port == 9100  # from the file
    assert settings.region == "eu-es-2"  # the environment beats the file
    assert settings.data_dir == tmp_path / "cli"  # an explicit override beats both


def test_unknown_key_in_file_is_rejected(tmp_path: Path) -> None:
    config = tmp_path / "andromede.toml"
    config.write_text("s3_prot = 9100\n")
    with pytest.raises(ConfigurationError, match="s3_prot"):
        load_settings(config)


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not found"):
        load_settings(tmp_path / "absent.toml")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("s3_port", "70000"),
        ("region", "Not A Region"),
        ("max_parts", "10001"),
        ("log_level", "loud"),
    ],
)
def test_invalid_values_are_rejected(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(f"ANDROMEDE_{name.upper()}", value)
    with pytest.raises(ConfigurationError):
        load_settings()


def test_tls_needs_both_halves(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="tls_cert and tls_key"):
        load_settings(tls_cert=tmp_path / "cert.pem")


@pytest.mark.parametrize(
    ("s3_domain", "website_domain"),
    [("s3.example.org", "s3.example.org"), ("s3.example.org", "example.org.")],
)
def test_the_website_domain_never_swallows_the_s3_domain(
    s3_domain: str, website_domain: str
) -> None:
    # BUCKET.s3.example.org would be read as the website of "BUCKET.s3", not the S3 API.
    with pytest.raises(ConfigurationError, match="website_domain"):
        load_settings(s3_domain=s3_domain, website_domain=website_domain)
    apart = load_settings(s3_domain=s3_domain, website_domain="s3-website.example.org")
    assert apart.website_domain == "s3-website.example.org"
    off = load_settings(s3_domain=s3_domain, website_domain="")
    assert off.website_domain == ""


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.s3_port = 1  # type: ignore[misc]


def test_database_url_defaults_to_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    assert settings.database_url is None
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'metadata.sqlite3'}"


def test_database_url_is_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgresql+asyncpg://andromede:hunter2-secret@db.example:5432/andromede"
    monkeypatch.setenv("ANDROMEDE_DATABASE_URL", url)
    settings = load_settings()
    assert settings.effective_database_url == url
    assert "hunter2-secret" not in repr(settings) and "hunter2-secret" not in str(settings)
    monkeypatch.setenv("ANDROMEDE_DATABASE_URL", "mysql://root:hunter2-secret@db/andromede")
    with pytest.raises(ConfigurationError, match="database_url") as error:
        load_settings()
    assert "hunter2-secret" not in str(error.value)


@pytest.mark.parametrize("seconds", [0, -1, 61])
def test_the_audit_flush_interval_is_bounded(seconds: float) -> None:
    with pytest.raises(ValidationError, match="audit_flush_interval"):
        Settings(audit_flush_interval=seconds)


@pytest.mark.parametrize("size", [0, 5 * 1024 * 1024 - 1, 5 * 1024**3 + 1])
def test_the_console_upload_part_size_is_bounded(size: int) -> None:
    with pytest.raises(ValidationError, match="console_upload_part_size"):
        Settings(console_upload_part_size=size)
    assert Settings().console_upload_part_size == 8 * 1024 * 1024
    assert Settings(console_upload_part_size=5 * 1024 * 1024).console_upload_part_size > 0
    with pytest.raises(ValidationError, match="at least min_part_size"):
        Settings(min_part_size=16 * 1024 * 1024)


@pytest.mark.parametrize("entries", [0, -1, 100_001])
def test_the_audit_entries_per_request_are_bounded(entries: int) -> None:
    with pytest.raises(ValidationError, match="audit_max_entries"):
        Settings(audit_max_entries=entries)


def test_the_xks_settings_and_their_limits(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        xks_timeout=0.25,
        xks_allowed_networks=("10.0.0.0/8", "fd00::/8"),
        xks_ca_bundle=tmp_path / "ca.pem",
    )
    assert settings.xks_timeout == 0.25
    assert settings.xks_allowed_networks == ("10.0.0.0/8", "fd00::/8")
    assert Settings(data_dir=tmp_path).xks_timeout == 2.0
    for timeout in (0.0, 0.01, 31.0):
        with pytest.raises(ValidationError, match="xks_timeout"):
            Settings(data_dir=tmp_path, xks_timeout=timeout)
    with pytest.raises(ValidationError, match="xks_allowed_networks"):
        Settings(data_dir=tmp_path, xks_allowed_networks=("not-a-network",))
    with pytest.raises(ValidationError, match="oidc_allowed_networks"):
        Settings(data_dir=tmp_path, oidc_allowed_networks=("300.0.0.0/8",))


def test_the_xks_connection_and_client_certificate_settings_and_their_limits(
    tmp_path: Path,
) -> None:
    assert Settings(data_dir=tmp_path).xks_max_connections == 10
    assert Settings(data_dir=tmp_path, xks_max_connections=1).xks_max_connections == 1
    assert Settings(data_dir=tmp_path, xks_max_connections=1000).xks_max_connections == 1000
    for count in (0, -1, 1001):
        with pytest.raises(ValidationError, match="xks_max_connections"):
            Settings(data_dir=tmp_path, xks_max_connections=count)
    both = Settings(
        data_dir=tmp_path,
        xks_client_cert=tmp_path / "gateway.pem",
        xks_client_key=tmp_path / "gateway-key.pem",
    )
    assert both.xks_client_key == tmp_path / "gateway-key.pem"
    for alone in ({"xks_client_cert": tmp_path / "c.pem"}, {"xks_client_key": tmp_path / "k"}):
        with pytest.raises(ValidationError, match="xks_client_cert and xks_client_key"):
            Settings(data_dir=tmp_path, **alone)


@pytest.mark.parametrize("seconds", [0, -1, 301])
def test_the_billing_flush_interval_is_bounded(seconds: float) -> None:
    with pytest.raises(ValidationError, match="billing_flush_interval"):
        Settings(billing_flush_interval=seconds)


@pytest.mark.parametrize("seconds", [0, 0.5, 3601])
def test_the_billing_sample_interval_is_bounded(seconds: float) -> None:
    with pytest.raises(ValidationError, match="billing_sample_interval"):
        Settings(billing_sample_interval=seconds)


@pytest.mark.parametrize("seconds", [0, -1, 3601])
def test_the_instance_shutdown_check_interval_is_bounded(seconds: float) -> None:
    """Decision 0145: how often a guest's own power-off is looked for."""
    with pytest.raises(ValidationError, match="instance_shutdown_check_interval"):
        Settings(instance_shutdown_check_interval=seconds)
    assert Settings().instance_shutdown_check_interval == 10.0


@pytest.mark.parametrize("seconds", [0, 0.5, 3601])
def test_the_image_creation_lease_is_bounded(seconds: float) -> None:
    """Decision 0148: how long a gateway holds a CreateImage's background work."""
    with pytest.raises(ValidationError, match="image_creation_lease"):
        Settings(image_creation_lease=seconds)
    assert Settings().image_creation_lease == 60.0
    assert Settings(image_creation_lease=5).image_creation_lease == 5.0


def test_credit_notes_and_invoices_have_prefixes_apart() -> None:
    """Decision 0126: a number names one document, an invoice or a credit note."""
    assert Settings().billing_credit_note_prefix == "AV"
    assert Settings(billing_credit_note_prefix="CN").billing_credit_note_prefix == "CN"
    with pytest.raises(ValidationError, match="billing_credit_note_prefix must differ"):
        Settings(billing_credit_note_prefix="INV")
    for prefix in ("av", "", "A" * 17, "AV-1"):
        with pytest.raises(ValidationError, match="billing_credit_note_prefix"):
            Settings(billing_credit_note_prefix=prefix)


@pytest.mark.parametrize("country", ["fr", "FRA", "", "F1"])
def test_the_issuer_country_is_an_iso_code(country: str) -> None:
    with pytest.raises(ValidationError, match="billing_issuer_country"):
        Settings(billing_issuer_country=country)


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("FR76 3000 6000 0112 3456 7890 189", "FR7630006000011234567890189"),
        ("fr7630006000011234567890189", "FR7630006000011234567890189"),
        ("DE89 3704 0044 0532 0130 00", "DE89370400440532013000"),
        ("BE68539007547034", "BE68539007547034"),  # the shortest SEPA one, 16
        ("MT84MALT011000012345MTLCAST001S", "MT84MALT011000012345MTLCAST001S"),  # 31, letters
        ("FR02 3000 6000 0112 3456 7890 163", "FR0230006000011234567890163"),
        ("", ""),
    ],
)
def test_the_issuer_iban_is_kept_without_its_spaces(given: str, kept: str) -> None:
    """Decision 0136: an IBAN as banks print it is its electronic form once loaded."""
    assert Settings(billing_issuer_iban=given).billing_issuer_iban == kept


@pytest.mark.parametrize(
    ("iban", "why"),
    [
        ("FR76 3000 6000 0112 3456 7890 188", "check digits do not match"),  # one digit off
        ("FR76 3000 6000 0112 3456 7890 198", "check digits do not match"),  # two swapped
        ("FR77 3000 6000 0112 3456 7890 189", "check digits do not match"),
        # Check digits that pass mod 97 but are never issued (99 is 02 mod 97, 01 is 98).
        ("FR99 3000 6000 0112 3456 7890 163", "check digits do not match"),
        ("FR01 3000 6000 0112 3456 7890 181", "check digits do not match"),
        ("7630006000011234567890189", "not an IBAN"),
        ("FR76-3000-6000-0112-3456-7890-189", "not an IBAN"),
        ("FR76300060", "not an IBAN"),
        ("FR76" + "1" * 31, "not an IBAN"),
    ],
)
def test_a_wrong_issuer_iban_is_refused_at_load(
    monkeypatch: pytest.MonkeyPatch, iban: str, why: str
) -> None:
    monkeypatch.setenv("ANDROMEDE_BILLING_ISSUER_IBAN", iban)
    with pytest.raises(ConfigurationError, match=f"billing_issuer_iban: .*{why}"):
        load_settings()


def test_the_issuer_bic_is_iso_9362_and_names_the_ibans_bank() -> None:
    iban = "FR7630006000011234567890189"
    for bic in ("AGRIFRPP", "agrifrpp882", "BNPAFRPPXXX"):
        assert Settings(billing_issuer_iban=iban, billing_issuer_bic=bic).billing_issuer_bic == (
            bic.upper()
        )
    for bic in ("AGRIFRP", "AGRIFRPP88", "AGRI FR PP", "AGRI12PP", "AGRIFRPP8821"):
        with pytest.raises(ValidationError, match="billing_issuer_bic: not a BIC"):
            Settings(billing_issuer_iban=iban, billing_issuer_bic=bic)
    with pytest.raises(ValidationError, match="billing_issuer_bic needs billing_issuer_iban"):
        Settings(billing_issuer_bic="AGRIFRPP")


@pytest.mark.parametrize("seconds", [0, 3599, 2_592_001])
def test_the_operator_access_request_ttl_is_bounded(seconds: int) -> None:
    with pytest.raises(ValidationError, match="operator_access_request_ttl"):
        Settings(operator_access_request_ttl=seconds)
    assert Settings().operator_access_request_ttl == 7 * 86_400
    assert Settings(operator_access_request_ttl=3600).operator_access_request_ttl == 3600


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("audit_witness_interval", 0),
        ("audit_witness_interval", 86401),
        ("audit_witness_timeout", 0),
        ("audit_witness_timeout", 301),
        ("max_route_tables_per_vpc", 0),
        ("max_route_tables_per_vpc", 10001),
        ("max_routes_per_route_table", 0),
        ("max_routes_per_route_table", 1001),
    ],
)
def test_the_witness_and_route_limits_are_bounded(name: str, value: float) -> None:
    with pytest.raises(ValidationError, match=name):
        Settings(**{name: value})


def test_audit_witnesses_are_urls_with_cosigner_keys() -> None:
    key = "w.example/1+0a1b2c3d+BAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    kept = Settings(audit_witnesses=[{"url": "https://w.example/w1", "key": key}])
    assert kept.audit_witnesses[0].url == "https://w.example/w1"
    assert Settings(audit_witnesses=[{"url": "http://127.0.0.1:9090", "key": key}])
    for bad in (
        {"url": "ftp://w.example", "key": key},
        {"url": "http://w.example/w1", "key": key},
        {"url": "https://w.example/w1", "key": "not a key"},
        {"url": "https://w.example/w1", "key": key, "extra": 1},
    ):
        with pytest.raises(ValidationError, match="audit_witnesses"):
            Settings(audit_witnesses=[bad])


@pytest.mark.parametrize("domain", ["Example.net", "example..net", "-example.net", "a b"])
def test_the_access_point_domain_is_a_dns_domain_or_empty(domain: str) -> None:
    with pytest.raises(ConfigurationError, match="s3_access_point_domain"):
        load_settings(s3_access_point_domain=domain)
    assert load_settings(s3_access_point_domain="").s3_access_point_domain == ""
    assert load_settings().s3_access_point_domain == "localhost"


@pytest.mark.parametrize("domain", ["Example.net", "example..net", "-example.net", "a b"])
def test_the_multi_region_access_point_domain_is_a_dns_domain_or_empty(domain: str) -> None:
    with pytest.raises(ConfigurationError, match="s3_multi_region_access_point_domain"):
        load_settings(s3_multi_region_access_point_domain=domain)
    assert load_settings(s3_multi_region_access_point_domain="amazonaws.com") is not None
    assert load_settings().s3_multi_region_access_point_domain == "localhost"


def test_the_multi_region_access_point_quota() -> None:
    assert load_settings().max_multi_region_access_points_per_account == 100
    with pytest.raises(ConfigurationError, match="max_multi_region_access_points_per_account"):
        load_settings(max_multi_region_access_points_per_account=-1)


def test_fips_access_point_endpoints_are_off_unless_declared() -> None:
    # Decision 0392: only a deployment whose cryptography is FIPS-validated turns them on.
    assert load_settings().s3_access_point_fips_endpoints is False
    assert load_settings(s3_access_point_fips_endpoints=True).s3_access_point_fips_endpoints
    with pytest.raises(ConfigurationError, match="s3_access_point_fips_endpoints"):
        load_settings(s3_access_point_fips_endpoints="perhaps")
