"""``andromede witness``: run a transparency-log witness (decision 0122).

``key`` makes a witness key (Ed25519, written 0600, never printed) and prints its cosigner
verifier key, which those who verify trails are given. ``serve`` answers C2SP tlog-witness
``add-checkpoint`` for the logs of the regions whose verifier keys it is given
(``<data-dir>/audit-log.pub`` of each region, or ``GET /api/v1/audit/public-key``), and
``add-key-transition`` (a region's key rotated: it follows the statement both keys signed,
decision 0140), keeping the latest checkpoint it cosigned per log and the rotations it
followed in a state file, over HTTPS with ``--tls-cert`` and
``--tls-key`` (a region accepts plain HTTP only to a loopback witness). A witness is only worth
its independence: run it where the operator of the logs it watches has no hand — at a tenant, an
auditor, a regulator.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)
from rich.console import Console

from andromede.audit.cosignature import format_cosigner_key
from andromede.audit.note import NoteError, parse_verifier_key, public_key_bytes

__all__ = ["witness"]

witness = typer.Typer(
    no_args_is_help=True,
    help="A transparency-log witness (C2SP tlog-witness): cosign checkpoints that extend.",
)
err = Console(stderr=True)

NameOption = Annotated[
    str, typer.Option(help="The witness's name, a schema-less URL (witness.example.org/w1).")
]
KeyFileOption = Annotated[Path, typer.Option(help="The witness's private key (PEM, 0600).")]


def _load_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(f"cannot read a private key from {path}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise typer.BadParameter(f"{path} is not an Ed25519 key")
    return key


@witness.command()
def key(name: NameOption, key_file: KeyFileOption) -> None:
    """Make the witness's key and print its cosigner verifier key."""
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise typer.BadParameter(f"{key_file} exists: a witness keeps its key") from exc
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    try:
        typer.echo(format_cosigner_key(name, public_key_bytes(private.public_key())))
    except NoteError as exc:
        os.unlink(key_file)
        raise typer.BadParameter(str(exc)) from exc


@witness.command()
def serve(
    name: NameOption,
    key_file: KeyFileOption,
    state: Annotated[Path, typer.Option(help="Where the latest cosigned checkpoints are kept.")],
    region_key: Annotated[
        list[Path],
        typer.Option(
            help="A region's audit verifier key file (repeat for several regions, or for a"
            " region's new key after a rotation)."
        ),
    ],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free one).")] = 9090,
    prefix: Annotated[str, typer.Option(help="Path before /add-checkpoint.")] = "",
    tls_cert: Annotated[
        Path | None, typer.Option(help="Certificate chain (PEM) to serve HTTPS with.")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option(help="Its private key (PEM).")] = None,
) -> None:
    """Cosign the checkpoints of those regions' logs that extend what was cosigned before."""
    import uvicorn

    from andromede.audit.witness import FileWitnessState, Witness
    from andromede.audit.witness_app import witness_app

    # A region rotated its key (decision 0140): both keys given, either one's signature counts.
    regions: dict[str, list[bytes]] = {}
    for path in region_key:
        try:
            region, public = parse_verifier_key(path.read_text())
        except (OSError, NoteError) as exc:
            raise typer.BadParameter(f"{path}: not a region's verifier key") from exc
        regions.setdefault(region, []).append(public)
    private = _load_key(key_file)
    try:
        shown = format_cosigner_key(name, public_key_bytes(private.public_key()))
    except NoteError as exc:
        raise typer.BadParameter(str(exc)) from exc
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )  # fmt: skip
    app = witness_app(Witness(name, private, regions, FileWitnessState(state)), prefix=prefix)
    if (tls_cert is None) != (tls_key is None):
        raise typer.BadParameter("--tls-cert and --tls-key go together")
    scheme = "http" if tls_cert is None else "https"
    err.print(
        f"witness {shown} for {', '.join(sorted(regions))} on {scheme}://{host}:{port}{prefix}",
        soft_wrap=True,
    )
    uvicorn.run(
        app, host=host, port=port, log_config=None, access_log=False, server_header=False,
        ssl_certfile=None if tls_cert is None else str(tls_cert),
        ssl_keyfile=None if tls_key is None else str(tls_key),
        # Regions keep their connections open between rounds: a stop does not wait on them.
        timeout_graceful_shutdown=5,
    )  # fmt: skip
