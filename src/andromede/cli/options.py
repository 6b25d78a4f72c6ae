"""What the operator's commands share: where their settings come from (``--config``,
``--data-dir``), which tenant they act on (``--tenant``), ``--json``, and how they fail — a
configuration error exits 2, a refused change 1, each said on stderr, never a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from andromede.errors import ConfigurationError
from andromede.settings import Settings, load_settings

__all__ = [
    "ConfigOption",
    "DataDirOption",
    "JsonOption",
    "TenantOption",
    "err",
    "failed",
    "settings_from",
]

err = Console(stderr=True)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="TOML settings file (also ANDROMEDE_CONFIG).")
]
DataDirOption = Annotated[
    Path | None, typer.Option("--data-dir", help="Data folder (ANDROMEDE_DATA_DIR).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
TenantOption = Annotated[str, typer.Option("--tenant", help="Tenant name or account id.")]


def settings_from(config: Path | None, data_dir: Path | None) -> Settings:
    """The settings, or exit 2 with the configuration error."""
    try:
        return load_settings(config, data_dir=data_dir)
    except ConfigurationError as exc:
        err.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc


def failed(exc: Exception) -> typer.Exit:
    """The exit (1) of a command whose change was refused, said on stderr."""
    err.print(f"[red]{type(exc).__name__}:[/red] {exc}")
    return typer.Exit(1)
