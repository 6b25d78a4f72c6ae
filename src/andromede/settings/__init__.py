"""Typed, frozen settings: the one place every tunable of Andromède is declared.

Settings come, highest priority first, from explicit overrides (the CLI flags), ``ANDROMEDE_*``
environment variables, then a TOML file (``--config`` or ``ANDROMEDE_CONFIG``), then the defaults
below. Unknown keys are rejected wherever they come from, so a typo never silently falls back to a
default. Every field carries a one-line description; ``docs/configuration.md`` lists them all and a
test keeps the two in step. Secrets never live here in clear: they come from the environment or
``*_FILE`` paths, and a setting that may hold one (``database_url``) is a ``SecretStr``, masked
wherever the settings are printed.

``Settings`` is composed of one group per concern, each a module of this package that declares
its fields with the validators that read only them: ``server`` (data folder, database,
listeners, workers, logging), ``s3`` (the S3 domains and request limits), ``storage`` (regions,
blob backend, durability, lifecycle, replication), ``notifications``, ``identity`` (IAM, console
sign-in, OIDC and SAML federation), ``kms`` (key provider, caches, XKS), ``audit``, ``billing``,
``compute`` (hypervisor, instances, images, metadata service), ``network`` (VPCs, underlay,
elastic IPs, Route 53), ``route53_places`` (the GeoIP file placing Route 53's clients),
``hosts`` (hypervisor agents), ``metrics`` (CloudWatch metrics), ``secrets``
(Secrets Manager), ``logs`` (CloudWatch Logs), ``events`` (EventBridge),
``loadbalancing`` (Network Load Balancers), ``firehose`` (Amazon Data Firehose),
``kinesis`` (Kinesis Data Streams), ``ssm`` (Systems Manager Parameter Store), ``acm``
(Certificate Manager), ``dynamodb`` (DynamoDB) and ``functions`` (Lambda). What reads
fields of two groups, the sources and ``load_settings`` stay here.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from pydantic import model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from andromede.errors import ConfigurationError
from andromede.settings.acm import AcmSettings
from andromede.settings.audit import AuditSettings, AuditWitnessSettings
from andromede.settings.billing import BillingSettings
from andromede.settings.compute import ComputeSettings
from andromede.settings.dynamodb import DynamoSettings
from andromede.settings.events import EventsSettings
from andromede.settings.firehose import FirehoseSettings
from andromede.settings.functions import FunctionsSettings
from andromede.settings.hosts import HostSettings, HypervisorHostSettings
from andromede.settings.identity import IdentitySettings
from andromede.settings.kinesis import KinesisSettings
from andromede.settings.kms import KmsSettings
from andromede.settings.loadbalancing import LoadBalancingSettings
from andromede.settings.logs import LogsSettings
from andromede.settings.metrics import MetricsSettings
from andromede.settings.network import NetworkSettings
from andromede.settings.notifications import NotificationSettings
from andromede.settings.route53_places import Route53PlacesSettings
from andromede.settings.s3 import S3Settings
from andromede.settings.secrets import SecretsSettings
from andromede.settings.server import ServerSettings
from andromede.settings.ssm import SsmSettings
from andromede.settings.storage import RegionSettings, StorageSettings
from andromede.settings.units import GIB, KIB, MIB

__all__ = [
    "GIB",
    "KIB",
    "MIB",
    "AuditWitnessSettings",
    "HypervisorHostSettings",
    "RegionSettings",
    "Settings",
    "load_settings",
]

_CONFIG_ENV = "ANDROMEDE_CONFIG"
_ENV_PREFIX = "ANDROMEDE_"


# pydantic lists the fields of the last base first: the groups are named last to first so that
# ``Settings.model_fields`` starts with the server's, as docs/configuration.md does.
class Settings(
    FunctionsSettings,
    DynamoSettings,
    AcmSettings,
    KinesisSettings,
    SsmSettings,
    FirehoseSettings,
    SecretsSettings,
    LogsSettings,
    EventsSettings,
    LoadBalancingSettings,
    MetricsSettings,
    HostSettings,
    Route53PlacesSettings,
    NetworkSettings,
    ComputeSettings,
    BillingSettings,
    AuditSettings,
    KmsSettings,
    IdentitySettings,
    NotificationSettings,
    StorageSettings,
    S3Settings,
    ServerSettings,
    BaseSettings,
):
    """Every setting of an Andromède process. Frozen: read once at start, never mutated."""

    model_config = SettingsConfigDict(
        env_prefix=_ENV_PREFIX,
        extra="forbid",
        frozen=True,
        validate_default=True,
        # A rejected value is not echoed back: it may be a secret (database_url's password).
        hide_input_in_errors=True,
    )

    @model_validator(mode="after")
    def _rules_hold(self) -> Settings:
        # Each group keeps its rules across its own fields (plain methods), and the rules that
        # read two groups are below; one validator runs them all, in the order they ran when
        # Settings was one class (pydantic would order validators by base class): a
        # configuration that breaks two rules is still told of the same one.
        for rule in (
            self._bic_names_the_ibans_bank,
            self._billing_documents_apart,
            self._audit_signing_key_has_a_token,
            self._tls_pair,
            self._console_parts_complete,
            self._xks_client_pair,
            self._website_domain_apart,
            self._imds_refreshes_before_expiry,
            self._tenant_network_ranges,
            self._rados_needs_a_cluster,
            self._rbd_volumes_need_a_cluster,
            self._distinct_listeners,
            self._agent_listener_has_its_certificates,
            self._hypervisor_hosts_are_reachable,
            self._regions_consistent,
            self._instance_types_are_sane,
            self._endpoint_port_apart,
        ):
            rule()
        return self

    def _endpoint_port_apart(self) -> None:
        # Both listeners bind each transit address (decision 0160): one port each.
        if self.hypervisor_vpce_port == self.imds_port:
            raise ValueError("hypervisor_vpce_port and imds_port must differ")
        if self.vpc_endpoint_tls_cert is not None and self.hypervisor_vpce_tls_port in (
            self.imds_port,
            self.hypervisor_vpce_port,
        ):
            raise ValueError("hypervisor_vpce_tls_port must differ from the other two")
        if (self.vpc_endpoint_tls_cert is None) != (self.vpc_endpoint_tls_key is None):
            raise ValueError("vpc_endpoint_tls_cert and vpc_endpoint_tls_key go together")

    # -- what reads the fields of two groups --------------------------------------------------
    def _audit_signing_key_has_a_token(self) -> None:
        if self.audit_signing_key == "hsm" and self.key_provider != "pkcs11":
            raise ValueError("audit_signing_key = hsm needs key_provider = pkcs11 (its token)")

    @property
    def audit_signing_key_in_token(self) -> bool:
        """Whether the audit log signing key is the token's (``audit_signing_key``, which
        follows ``key_provider`` when unset)."""
        if self.audit_signing_key is None:
            return self.key_provider == "pkcs11"
        return self.audit_signing_key == "hsm"

    def _console_parts_complete(self) -> None:
        # Every console part but the last is this size: below S3's smallest part, every
        # multipart upload from the console would fail at completion with EntityTooSmall.
        if self.console_upload_part_size < self.min_part_size:
            raise ValueError("console_upload_part_size must be at least min_part_size")

    def _rbd_volumes_need_a_cluster(self) -> None:
        # QEMU gets the cephx key from the keyring (a QMP secret), never a keyring of its own.
        if self.hypervisor_volume_backend == "rbd" and (
            self.ceph_conf is None or self.ceph_keyring is None
        ):
            raise ValueError("hypervisor_volume_backend = rbd needs ceph_conf and ceph_keyring")

    def _hypervisor_hosts_are_reachable(self) -> None:
        if not self.hypervisor_hosts:
            return
        if self.hypervisor != "qemu":
            raise ValueError("hypervisor_hosts needs hypervisor = qemu")
        names = [h.name for h in self.hypervisor_hosts]
        if len(set(names)) != len(names):
            raise ValueError("hypervisor_hosts: every host needs a name of its own")
        missing = [
            name
            for name in (
                "hypervisor_client_tls_cert",
                "hypervisor_client_tls_key",
                "hypervisor_agent_tls_ca",
            )
            if getattr(self, name) is None
        ]
        if missing:
            raise ValueError(f"hypervisor_hosts needs {', '.join(missing)} (mutual TLS)")

    def region_directory(self, name: str) -> Path:
        """Where a region's blobs live with the local backend: the default region keeps the
        folder every blob went to before regions existed."""
        if name == self.region:
            return self.data_dir / "objects"
        return self.data_dir / f"objects-{name}"

    @property
    def availability_zone(self) -> str:
        """The one availability zone of the region (EC2 names it region + letter)."""
        return f"{self.region}a"

    @property
    def hypervisor_dir(self) -> Path:
        """The QEMU hypervisor's state directory on this host."""
        return self.hypervisor_state_dir or self.data_dir / "compute" / "host"

    @property
    def hypervisor_agent_socket(self) -> Path:
        return self.hypervisor_dir / "agent.sock"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = os.environ.get(_CONFIG_ENV)
        sources: list[PydanticBaseSettingsSource] = [init_settings]
        if _environment_names_a_setting():
            sources.append(env_settings)
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)


@functools.cache
def _setting_variables() -> frozenset[str]:
    return frozenset(f"{_ENV_PREFIX}{name}".lower() for name in Settings.model_fields)


def _environment_names_a_setting() -> bool:
    """Whether an ``ANDROMEDE_<setting>`` variable is set, in any case (pydantic reads them
    case-insensitively). Without one the environment source is left out: it gives nothing then,
    and it costs what the rest of the build does twice over (pydantic-settings inspects each of
    the ~580 fields' types on every build, ~18 ms of a 28 ms ``Settings()``), which every
    process start and every in-process test harness paid (decision 0309)."""
    variables = _setting_variables()
    return any(key.lower() in variables for key in os.environ)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings: overrides (non-None only) > environment > TOML file > defaults."""
    given = {name: value for name, value in overrides.items() if value is not None}
    try:
        if config_file is not None:
            if not config_file.is_file():
                raise ConfigurationError(f"configuration file not found: {config_file}")
            previous = os.environ.get(_CONFIG_ENV)
            os.environ[_CONFIG_ENV] = str(config_file)
            try:
                return Settings(**given)
            finally:
                if previous is None:
                    del os.environ[_CONFIG_ENV]
                else:
                    os.environ[_CONFIG_ENV] = previous
        return Settings(**given)
    except ValueError as exc:  # pydantic.ValidationError is a ValueError
        raise ConfigurationError(str(exc)) from exc
