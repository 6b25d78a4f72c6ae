"""Hypervisor hosts: the agent each host runs, its mutual-TLS listener, and the hosts a
gateway drives.

One group of ``andromede.settings.Settings``, which is composed of them all; the fields keep
their ``ANDROMEDE_<NAME>`` environment variables and TOML keys.
Its rules across several of its fields are plain methods, which ``Settings`` runs in a fixed
order once every field is valid.
"""

from __future__ import annotations

import socket
from pathlib import Path

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
)

_HOST_NAME = r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,251}[A-Za-z0-9])?$"


class HypervisorHostSettings(BaseModel):
    """One hypervisor host a gateway drives: the name its agent reports and where it listens.

    Declared in the ``hypervisor_hosts`` list of the TOML file (``[[hypervisor_hosts]]``
    tables) or as JSON in ``ANDROMEDE_HYPERVISOR_HOSTS``. A host joins only when it is named
    here; its agent must present a certificate of ``hypervisor_agent_tls_ca`` valid for the
    URL's host, and report this name (``hypervisor_host_name`` on that host).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_HOST_NAME, description="Host name its agent reports.")
    url: str = Field(
        pattern=r"^https://(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}/?$",
        description="https://ADDRESS:PORT of the host's agent (mutual TLS).",
    )


class HostSettings(BaseModel):
    """The hypervisor agents and the hosts a gateway drives."""

    hypervisor_agent_timeout: float = Field(
        default=30.0,
        gt=0,
        description="Seconds serve waits for its hypervisor agent to answer at start.",
    )
    hypervisor_host_name: str = Field(
        default_factory=socket.gethostname,
        pattern=_HOST_NAME,
        description="Name this host's hypervisor agent reports and instances record (default:"
        " the machine's hostname); a gateway's hypervisor_hosts must name it so.",
    )
    hypervisor_agent_listen: str = Field(
        default="",
        description="HOST:PORT where the hypervisor agent also listens over mutual TLS for"
        " gateways on other machines (empty: its unix socket only); needs"
        " hypervisor_agent_tls_cert, _key and _ca.",
    )
    hypervisor_agent_tls_cert: Path | None = Field(
        default=None,
        description="PEM certificate (chain) the agent presents on hypervisor_agent_listen;"
        " signed by hypervisor_agent_tls_ca and valid for the address gateways dial.",
    )
    hypervisor_agent_tls_key: Path | None = Field(
        default=None, description="PEM private key of hypervisor_agent_tls_cert."
    )
    hypervisor_agent_tls_ca: Path | None = Field(
        default=None,
        description="PEM CA that signs the gateways' client certificates and the agents'"
        " certificates: each side accepts only a peer it signed.",
    )
    hypervisor_hosts: tuple[HypervisorHostSettings, ...] = Field(
        default=(),
        description="Hypervisor hosts this gateway drives over mutual TLS (name, url); empty:"
        " the local agent that serve starts on its unix socket.",
    )
    hypervisor_agent_connect_timeout: float = Field(
        default=5.0,
        gt=0,
        description="Seconds a gateway waits to connect to a hypervisor agent before it takes"
        " the host as unreachable (placement goes on with the others).",
    )
    hypervisor_agent_query_timeout: float = Field(
        default=30.0,
        gt=0,
        description="Seconds a gateway waits for a hypervisor agent to answer a question (its"
        " capacity, what it runs, a console) before it takes the host as unreachable.",
    )
    hypervisor_client_tls_cert: Path | None = Field(
        default=None,
        description="PEM client certificate the gateway presents to the agents of"
        " hypervisor_hosts (signed by hypervisor_agent_tls_ca).",
    )
    hypervisor_client_tls_key: Path | None = Field(
        default=None, description="PEM private key of hypervisor_client_tls_cert."
    )

    def _agent_listener_has_its_certificates(self) -> None:
        # A network listener without mutual TLS would hand the host's guests to anyone.
        if not self.hypervisor_agent_listen:
            return
        host, _, port = self.hypervisor_agent_listen.rpartition(":")
        if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError("hypervisor_agent_listen must be HOST:PORT (port 1 to 65535)")
        missing = [
            name
            for name in (
                "hypervisor_agent_tls_cert",
                "hypervisor_agent_tls_key",
                "hypervisor_agent_tls_ca",
            )
            if getattr(self, name) is None
        ]
        if missing:
            raise ValueError(f"hypervisor_agent_listen needs {', '.join(missing)} (mutual TLS)")

    @property
    def hypervisor_agent_address(self) -> tuple[str, int] | None:
        """Where the agent listens over mutual TLS (brackets of an IPv6 address removed)."""
        if not self.hypervisor_agent_listen:
            return None
        host, _, port = self.hypervisor_agent_listen.rpartition(":")
        return host.strip("[]"), int(port)
