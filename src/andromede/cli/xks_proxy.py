"""``andromede xks-proxy``: the External Key Store proxy a customer runs beside their HSM.

``serve`` answers AWS KMS's (or Andromède KMS's) XKS API calls over HTTPS with the keys of a
PKCS#11 token (``andromede.xks``); the other commands manage those keys and the SigV4
credentials. They open the token themselves and may run while ``serve`` runs: the token
makes what one process creates, disables or destroys visible to the other's next request.

Options are also environment variables ``ANDROMEDE_XKS_<NAME>`` (shown by ``--help``). The
PIN is read from a file, never from the command line; secrets are printed once, to standard
output, and never logged.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import tempfile
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from andromede.errors import ConfigurationError
from andromede.xks.credentials import (
    MAX_CREDENTIALS,
    SERVICE,
    Credential,
    load_credentials,
    new_credential,
)
from andromede.xks.errors import XksError
from andromede.xks.model import API_ROOT, check_uri_path_prefix
from andromede.xks.settings import ENV_PREFIX, XksProxySettings
from andromede.xks.token import KeyInfo, Token

__all__ = ["xks_proxy"]

xks_proxy = typer.Typer(
    no_args_is_help=True,
    help="External Key Store (XKS) proxy: AWS's XKS API over the AES keys of a PKCS#11 HSM.",
)
out = Console(soft_wrap=True)
err = Console(stderr=True)


def _env(name: str) -> str:
    return f"{ENV_PREFIX}{name.upper()}"


ModuleOption = Annotated[
    Path, typer.Option("--pkcs11-module", envvar=_env("pkcs11_module"),
                       help="Path of the HSM's PKCS#11 library (.so).")
]  # fmt: skip
TokenOption = Annotated[
    str, typer.Option("--token-label", envvar=_env("token_label"), help="Label of the token.")
]
PinOption = Annotated[
    Path, typer.Option("--pin-file", envvar=_env("pin_file"),
                       help="File holding the token's user PIN (never the PIN itself).")
]  # fmt: skip
LabelOption = Annotated[
    str, typer.Option("--label", help="The key's externalKeyId (its CKA_LABEL in the token).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def _fail(message: str, code: int) -> typer.Exit:
    err.print(message, markup=False, highlight=False)
    return typer.Exit(code)


def _with_token(
    module: Path, token_label: str, pin_file: Path, work: Callable[[Token], Any]
) -> Any:
    from andromede.xks.assembly import open_token

    try:
        token = open_token(module, token_label, pin_file)
    except ConfigurationError as exc:
        raise _fail(f"configuration error: {exc}", 2) from exc
    try:
        return work(token)
    except XksError as exc:
        raise _fail(f"{exc.error_name}: {exc.message}", 1) from exc
    finally:
        token.close()


def _key_json(info: KeyInfo) -> dict[str, Any]:
    return {
        "externalKeyId": info.key_id,
        "keySpec": info.key_spec,
        "keyUsage": list(info.key_usage),
        "keyStatus": info.key_status,
    }


@xks_proxy.command("create-key")
def create_key(
    label: LabelOption,
    pkcs11_module: ModuleOption,
    token_label: TokenOption,
    pin_file: PinOption,
) -> None:
    """Generate a non-extractable AES-256 key in the token; print its externalKeyId."""
    info: KeyInfo = _with_token(pkcs11_module, token_label, pin_file,
                                lambda token: token.create_key(label))  # fmt: skip
    typer.echo(info.key_id)


@xks_proxy.command("list-keys")
def list_keys(
    pkcs11_module: ModuleOption,
    token_label: TokenOption,
    pin_file: PinOption,
    as_json: JsonOption = False,
) -> None:
    """List the token's AES keys whose label is an externalKeyId, with usage and status."""
    infos: list[KeyInfo] = _with_token(pkcs11_module, token_label, pin_file,
                                       lambda token: token.list_keys())  # fmt: skip
    if as_json:
        typer.echo(json.dumps([_key_json(info) for info in infos], indent=2))
        return
    table = Table("externalKeyId", "keySpec", "keyUsage", "keyStatus")
    for info in infos:
        table.add_row(info.key_id, info.key_spec, ",".join(info.key_usage), info.key_status)
    out.print(table)


@xks_proxy.command("disable-key")
def disable_key(
    label: LabelOption,
    pkcs11_module: ModuleOption,
    token_label: TokenOption,
    pin_file: PinOption,
) -> None:
    """Disable a key: the proxy reports it DISABLED and the token refuses to use it."""
    info: KeyInfo = _with_token(pkcs11_module, token_label, pin_file,
                                lambda token: token.set_enabled(label, False))  # fmt: skip
    typer.echo(f"{info.key_id} {info.key_status}")


@xks_proxy.command("enable-key")
def enable_key(
    label: LabelOption,
    pkcs11_module: ModuleOption,
    token_label: TokenOption,
    pin_file: PinOption,
) -> None:
    """Enable a disabled key again (the usages it had are restored)."""
    info: KeyInfo = _with_token(pkcs11_module, token_label, pin_file,
                                lambda token: token.set_enabled(label, True))  # fmt: skip
    typer.echo(f"{info.key_id} {info.key_status}")


@xks_proxy.command("delete-key")
def delete_key(
    label: LabelOption,
    pkcs11_module: ModuleOption,
    token_label: TokenOption,
    pin_file: PinOption,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Destroy a key in the token: everything encrypted under it becomes unreadable for good
    (crypto-shredding). There is no undo."""
    if not yes:
        typer.confirm(
            f"Destroy {label}? Every ciphertext under it becomes unreadable for good", abort=True
        )
    _with_token(pkcs11_module, token_label, pin_file, lambda token: token.delete_key(label))
    typer.echo(f"{label} destroyed")


@xks_proxy.command("new-credential")
def new_credential_command(
    uri_path_prefix: Annotated[
        str, typer.Option(envvar=_env("uri_path_prefix"), help="Optional path before /kms/xks/v1.")
    ] = "",
    append_to: Annotated[
        Path | None,
        typer.Option(
            help="Also add the pair to this credentials file (TOML, or JSON when .json; created "
            "0600 if missing); a running proxy takes it at its next request."
        ),
    ] = None,
) -> None:
    """Print a fresh SigV4 access key id and secret as the JSON file the AWS KMS console (and
    CreateCustomKeyStore's XksProxyUriPath and XksProxyAuthenticationCredential) take."""
    try:
        prefix = check_uri_path_prefix(uri_path_prefix)
    except ValueError as exc:
        raise _fail(f"configuration error: {exc}", 2) from exc
    credential = new_credential()
    if append_to is not None:
        try:
            _append_credential(append_to, credential)
        except ConfigurationError as exc:
            raise _fail(f"configuration error: {exc}", 2) from exc
    typer.echo(
        json.dumps(
            {
                "XksProxyUriPath": prefix + API_ROOT,
                "XksProxyAuthenticationCredential": {
                    "AccessKeyId": credential.access_key_id,
                    "RawSecretAccessKey": credential.secret(),
                },
            },
            indent=2,
        )
    )


def _append_credential(path: Path, credential: Credential) -> None:
    """Add ``credential`` to the file at ``path``, replaced atomically (0600)."""
    existing = load_credentials(path) if path.exists() else ()
    if len(existing) >= MAX_CREDENTIALS:
        raise ConfigurationError(
            f"{path} already holds {MAX_CREDENTIALS} credentials: remove the old ones first"
        )
    pairs = [*existing, credential]
    if path.suffix == ".json":
        text = json.dumps(
            {"credentials": [{"access_key_id": c.access_key_id,
                              "secret_access_key": c.secret()} for c in pairs]},
            indent=2,
        ) + "\n"  # fmt: skip
    else:
        # The formats' characters (A-Z 2-7; A-Z a-z 0-9 + / =) need no TOML escaping.
        text = "".join(
            f'[[credentials]]\naccess_key_id = "{c.access_key_id}"\n'
            f'secret_access_key = "{c.secret()}"\n\n'
            for c in pairs
        )
        tomllib.loads(text)  # what is written must read back
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _setting(name: str) -> Any:
    """The option of a setting: its environment variable and its description (the settings
    are the one source of both)."""
    return typer.Option(
        f"--{name.replace('_', '-')}",
        envvar=_env(name),
        help=XksProxySettings.model_fields[name].description,
    )


def _default(name: str) -> Any:
    return XksProxySettings.model_fields[name].default


@xks_proxy.command()
def serve(
    tls_cert: Annotated[Path, _setting("tls_cert")],
    tls_key: Annotated[Path, _setting("tls_key")],
    credentials_file: Annotated[Path, _setting("credentials_file")],
    pkcs11_module: Annotated[Path, _setting("pkcs11_module")],
    token_label: Annotated[str, _setting("token_label")],
    pin_file: Annotated[Path, _setting("pin_file")],
    audit_log: Annotated[Path, _setting("audit_log")],
    host: Annotated[str, _setting("host")] = _default("host"),
    port: Annotated[int, _setting("port")] = _default("port"),
    uri_path_prefix: Annotated[str, _setting("uri_path_prefix")] = _default("uri_path_prefix"),
    region: Annotated[str, _setting("region")] = _default("region"),
    authorization_file: Annotated[Path | None, _setting("authorization_file")] = None,
    tls_client_ca: Annotated[Path | None, _setting("tls_client_ca")] = None,
    tls_client_subject: Annotated[str | None, _setting("tls_client_subject")] = None,
    max_body_size: Annotated[int, _setting("max_body_size")] = _default("max_body_size"),
    body_read_timeout: Annotated[float, _setting("body_read_timeout")] = _default(
        "body_read_timeout"
    ),
    hsm_timeout: Annotated[float, _setting("hsm_timeout")] = _default("hsm_timeout"),
    max_in_flight: Annotated[int, _setting("max_in_flight")] = _default("max_in_flight"),
    keep_alive_timeout: Annotated[int, _setting("keep_alive_timeout")] = _default(
        "keep_alive_timeout"
    ),
) -> None:
    """Serve the XKS API (GetKeyMetadata, Encrypt, Decrypt, GetHealthStatus) over HTTPS."""
    try:
        settings = XksProxySettings(
            host=host, port=port, tls_cert=tls_cert, tls_key=tls_key,
            tls_client_ca=tls_client_ca, tls_client_subject=tls_client_subject,
            uri_path_prefix=uri_path_prefix, region=region, credentials_file=credentials_file,
            pkcs11_module=pkcs11_module, token_label=token_label, pin_file=pin_file,
            audit_log=audit_log, authorization_file=authorization_file,
            max_body_size=max_body_size, body_read_timeout=body_read_timeout,
            hsm_timeout=hsm_timeout, max_in_flight=max_in_flight,
            keep_alive_timeout=keep_alive_timeout,
        )  # fmt: skip
    except ValidationError as exc:
        raise _fail(f"configuration error: {_first_error(exc)}", 2) from exc
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        code = _run(settings)
    except ConfigurationError as exc:
        raise _fail(f"configuration error: {exc}", 2) from exc
    except OSError as exc:  # the port in use, an address not on this host
        raise _fail(f"cannot listen: {exc}", 1) from exc
    raise typer.Exit(code)


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}"


def _run(settings: XksProxySettings) -> int:
    import uvicorn
    import uvloop

    from andromede.cli.workers import bind_listener
    from andromede.cli.workers import serve as serve_on
    from andromede.xks.assembly import open_proxy, subject_checked, tls_context

    context = tls_context(settings.tls_cert, settings.tls_key, settings.tls_client_ca)
    with open_proxy(settings) as proxy:
        sock = bind_listener(settings.host, settings.port)
        try:
            config = uvicorn.Config(
                proxy.app,
                loop="uvloop",
                http="httptools",
                lifespan="on",
                log_config=None,
                access_log=False,
                server_header=False,
                proxy_headers=False,
                timeout_keep_alive=settings.keep_alive_timeout,
                timeout_graceful_shutdown=5,
            )
            config.load()
            # uvicorn builds its own context from file names; the proxy's (TLS 1.2 at least,
            # forward-secret AEAD suites only) replaces it before the server starts.
            config.ssl = context
            if settings.tls_client_subject is not None:
                config.http_protocol_class = subject_checked(
                    config.http_protocol_class, settings.tls_client_subject
                )
            server = uvicorn.Server(config)
            port = sock.getsockname()[1]

            def started() -> None:
                shown = settings.host if settings.host not in ("0.0.0.0", "::") else "localhost"  # noqa: S104
                count = len(proxy.credentials.current())
                err.print(
                    f"XKS proxy serving https://{shown}:{port}{settings.uri_path_prefix}{API_ROOT}"
                    f" (SigV4 service {SERVICE}, region {settings.region}, token "
                    f"{settings.token_label!r}, {count} credential(s), audit log "
                    f"{settings.audit_log})",
                    soft_wrap=True,
                )

            _ignoring_stop_signals(lambda: uvloop.run(serve_on(server, [sock], started)))
        finally:
            sock.close()
    return 0 if server.started else 1


def _ignoring_stop_signals(run: Callable[[], None]) -> None:
    """uvicorn re-raises the signal that stopped it after draining; a graceful stop exits 0."""

    def ignore(signum: int, frame: object) -> None:
        return None

    previous = {s: signal.signal(s, ignore) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        run()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
