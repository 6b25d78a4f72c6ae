"""``andromede admin audit-key rotate``: the region's audit log signing key replaced by a new
one (decision 0140).

The new key is a new key file in ``<data-dir>/keys/`` (``--to file``) or an Ed25519 pair made
in the root key provider's PKCS#11 token (``--to hsm``, which moves a region that started on
the key file into the HSM). The transition is signed by the outgoing and the incoming key and
recorded in the database with the new current key in one transaction; the running gateways
sign with the new key from their next checkpoint on (they read the registry), and verifiers
pinning the old key follow the transition that every trail now carries.
"""

from __future__ import annotations

import asyncio
import json
from enum import StrEnum
from typing import Annotated, Literal

import typer

from andromede.audit.errors import AuditError
from andromede.cli.options import ConfigOption, DataDirOption, JsonOption, err, settings_from
from andromede.errors import ConfigurationError

__all__ = ["audit_key_app"]

audit_key_app = typer.Typer(no_args_is_help=True, help="The audit log's signing key.")


class Where(StrEnum):
    file = "file"
    hsm = "hsm"


class Reason(StrEnum):
    scheduled = "scheduled"
    compromise = "compromise"
    move = "move"


@audit_key_app.command("rotate")
def rotate(
    to: Annotated[
        Where,
        typer.Option(help="Where the new key lives: a new key file in keys/, or the HSM token."),
    ],
    reason: Annotated[
        Reason,
        typer.Option(help="Why, written in the transition every verifier sees."),
    ] = Reason.scheduled,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Replace the region's log signing key, the old key vouching for the new (decision 0140).

    With --to file the other gateways of the region install the new key from the sealed copy
    the database keeps (sealed under secrets.key, which they share) at their next checkpoint;
    for a compromise no copy is kept: copy the new key file to the keys/ folder of every other
    gateway BEFORE running this. With --to hsm every gateway needs the token."""
    from andromede.app import rotate_audit_signing_key  # late: the application stack is heavy

    settings = settings_from(config, data_dir)
    try:
        where: Literal["file", "hsm"] = "file" if to is Where.file else "hsm"
        rotation = asyncio.run(rotate_audit_signing_key(settings, to=where, reason=reason.value))
    except (AuditError, ConfigurationError) as exc:
        err.print(f"[red]{type(exc).__name__}:[/red] {exc}")
        raise typer.Exit(1) from exc
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "generation": rotation.generation,
                    "old_verifier_key": rotation.old,
                    "verifier_key": rotation.new,
                    "where": rotation.where,
                },
                indent=2,
            )
        )
    else:
        typer.echo(f"generation {rotation.generation}: {rotation.old} -> {rotation.new}")
        typer.echo(f"the new key: {rotation.where}")
    # What to do next, on standard error whatever the output's form.
    if to is Where.file and reason is Reason.compromise:
        err.print("copy that file to the keys/ folder of every other gateway of the region")
    elif to is Where.file:
        err.print(
            "the other gateways install it from its copy sealed under secrets.key in the"
            " database (decision 0140)"
        )
    if reason is Reason.compromise:
        err.print(
            "compromised key: once every gateway signs with the new key, delete the old key's"
            " file (serve removes it by itself only after audit_old_key_retention) or token"
            " pair, and have verifiers pin the new key (decision 0140)"
        )
