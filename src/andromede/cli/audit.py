"""``andromede audit``: download a transparency log's trail, have it cosigned by witnesses
(0122) and verify it offline (0105).

``download`` fetches, from the management API and signed with SigV4 (service ``andromede``)
by the key of an aws-style credentials file, a log's latest checkpoint and every entry up to
it, in pages; with ``--trusted`` (a checkpoint or an earlier trail) it adds the consistency
proof from that checkpoint's size. ``verify`` needs nothing but the trail and the region's
public key (``<data-dir>/audit-log.pub``, or ``GET /api/v1/audit/public-key``): it exits 0
when everything verifies and 1 with the reason otherwise (:mod:`andromede.audit.verify`).
``cosign`` submits the trail's checkpoint to witnesses (C2SP tlog-witness, ``andromede witness
serve`` or any other), each with the consistency proof from the size it last cosigned, and
adds their cosignatures to the checkpoint; ``verify --witness-key`` then requires them.
"""

from __future__ import annotations

import base64
import configparser
import hashlib
import json
import ssl
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

import httpx
import typer
from rich.console import Console

from andromede.audit.verify import (
    TRAIL_FORMAT,
    TrailInvalid,
    trail_consistency_proof,
    verify_cosignatures,
    verify_trail,
)
from andromede.http import sigv4

__all__ = ["audit"]

audit = typer.Typer(no_args_is_help=True, help="The audit trail: download and verify it.")
err = Console(stderr=True, soft_wrap=True)  # a reason on one line, as scripts read it
_SERVICE = "andromede"
_TIMEOUT = 30.0


def _credentials(path: Path, profile: str) -> tuple[str, str, str | None]:
    """The access key id, the secret and, for temporary credentials (a role session, an
    officer's MFA session: decision 0113), the session token."""
    parser = configparser.ConfigParser()
    if not parser.read(path):
        raise typer.BadParameter(f"cannot read {path}")
    if profile not in parser:
        raise typer.BadParameter(f"no profile [{profile}] in {path}")
    section = parser[profile]
    return (
        section["aws_access_key_id"],
        section["aws_secret_access_key"],
        section.get("aws_session_token"),
    )


class _Api:
    def __init__(self, endpoint: str, region: str, keys: tuple[str, str, str | None]) -> None:
        self._endpoint = endpoint.rstrip("/")
        self._region = region
        self._keys = keys
        self._client = httpx.Client(timeout=_TIMEOUT, trust_env=False)

    def get(self, path: str, **params: int) -> Any:
        query = urlencode(sorted(params.items()))
        url = f"{self._endpoint}/api/v1/audit{path}" + (f"?{query}" if query else "")
        response = self._client.get(url, headers=self._signed(url, query))
        if response.status_code != 200:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise typer.BadParameter(f"{response.status_code} from {url}: {detail}")
        return response.json()

    def _signed(self, url: str, query: str) -> dict[str, str]:
        parts = urlsplit(url)
        amz_date = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        day = amz_date[:8]
        signed = {"host": parts.netloc, "x-amz-date": amz_date}
        token = self._keys[2]
        if token is not None:
            signed["x-amz-security-token"] = token
        canonical = sigv4.canonical_request(
            "GET", parts.path, query, signed, tuple(signed),
            hashlib.sha256(b"").hexdigest(), presigned=False,
        )  # fmt: skip
        scope = f"{day}/{self._region}/{_SERVICE}/aws4_request"
        key = sigv4.derive_signing_key(self._keys[1], day, self._region, _SERVICE)
        signature = sigv4.sign(key, sigv4.string_to_sign(amz_date, scope, canonical))
        headers = {
            "X-Amz-Date": amz_date,
            "Authorization": f"{sigv4.ALGORITHM} Credential={self._keys[0]}/{scope}, "
            f"SignedHeaders={';'.join(signed)}, Signature={signature}",
        }
        if token is not None:
            headers["X-Amz-Security-Token"] = token
        return headers


def _trusted_note(path: Path) -> str:
    """A checkpoint note, from its own file or from an earlier trail's."""
    text = path.read_text()
    if text.lstrip().startswith("{"):
        try:
            note = json.loads(text)["checkpoint"]
        except (ValueError, KeyError, TypeError) as exc:
            raise typer.BadParameter(f"{path} is not a trail with a checkpoint") from exc
        if not isinstance(note, str):
            raise typer.BadParameter(f"{path} is not a trail with a checkpoint")
        return note
    return text


def _trusted_size(note: str) -> int:
    lines = note.split("\n")
    if len(lines) < 2 or not lines[1].isdigit():
        raise typer.BadParameter("the trusted checkpoint has no tree size")
    return int(lines[1])


@audit.command()
def download(
    log: Annotated[str, typer.Argument(help="'platform', or the tenant's account id or name.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the trail.")],
    endpoint: Annotated[
        str, typer.Option(envvar="ANDROMEDE_API_ENDPOINT", help="The management API's URL.")
    ] = "http://127.0.0.1:9001",
    credentials_file: Annotated[
        Path,
        typer.Option(
            help=(
                "aws-style credentials file: the tenant root's, a user's or a session's "
                "(aws_session_token) allowed andromede:GetAudit*, or an operator's."
            )
        ),
    ] = Path("admin-credentials"),
    profile: Annotated[str, typer.Option(help="Profile in the credentials file.")] = "andromede",
    region: Annotated[
        str, typer.Option(envvar="ANDROMEDE_REGION", help="The deployment's region (SigV4).")
    ] = "eu-fr-1",
    page_size: Annotated[
        int, typer.Option(min=1, help="Entries per request (at most audit_max_entries).")
    ] = 1000,
    trusted: Annotated[
        Path | None,
        typer.Option(help="A checkpoint or trail kept from before: add the consistency proof."),
    ] = None,
    cosigned: Annotated[
        bool,
        typer.Option(
            help="The checkpoint the region's witnesses last cosigned, with their cosignatures "
            "(verify --witness-key), instead of the latest."
        ),
    ] = False,
) -> None:
    """Download a log's latest (or latest cosigned) checkpoint and all its entries up to it
    into one JSON trail."""
    api = _Api(endpoint, region, _credentials(credentials_file, profile))
    checkpoint = api.get(f"/logs/{log}/{'cosigned-checkpoint' if cosigned else 'checkpoint'}")
    size: int = checkpoint["size"]
    # Entries past the retention were pruned: the hashes standing for them come instead.
    pruned = api.get(f"/logs/{log}/pruned")
    first: int = pruned["size"]
    entries: list[str] = []
    while first + len(entries) < size:
        start = first + len(entries)
        page = api.get(f"/logs/{log}/entries", start=start, end=min(size, start + page_size))
        entries.extend(page["entries"])
    trail: dict[str, Any] = {
        "format": TRAIL_FORMAT,
        "log": checkpoint["log"],
        "checkpoint": checkpoint["checkpoint"],
        "entries": entries,
    }
    if first:
        trail["pruned"] = {"size": first, "hashes": pruned["hashes"]}
    if checkpoint.get("key_transitions"):  # the key was rotated: the chain (decision 0140)
        trail["key_transitions"] = checkpoint["key_transitions"]
    if trusted is not None:
        old = _trusted_size(_trusted_note(trusted))
        if old <= size:
            proof = api.get(f"/logs/{log}/proofs/consistency", first=old, second=size)
            trail["consistency"] = {"first": old, "hashes": proof["hashes"]}
    output.write_text(json.dumps(trail, indent=1) + "\n")
    err.print(f"{size} entries of log {checkpoint['log']} written to {output} ({first} pruned)")


def _submit(
    client: httpx.Client, url: str, trail: Mapping[str, Any], old: int, api: _Api | None
) -> httpx.Response:
    size = _trusted_size(str(trail["checkpoint"]))
    if trail.get("pruned") is not None and 0 < old < size:
        # The trail no longer holds its first entries: the log's API proves from them.
        if api is None:
            raise TrailInvalid("the trail is pruned: give --endpoint and --credentials-file")
        hashes = api.get(f"/logs/{trail['log']}/proofs/consistency", first=old, second=size)
        encoded = [str(h) for h in hashes["hashes"]]
    else:
        encoded = [base64.b64encode(node).decode() for node in trail_consistency_proof(trail, old)]
    body = "\n".join([f"old {old}", *encoded]) + "\n\n" + str(trail["checkpoint"])
    return client.post(f"{url.rstrip('/')}/add-checkpoint", content=body.encode())


def _teach(client: httpx.Client, url: str, trail: Mapping[str, Any]) -> None:
    """Give the witness the trail's key transitions (decision 0140's addendum), so one that
    trusts an earlier key follows them; it checks each itself, and one that takes none (404,
    another implementation) is left to refuse the checkpoint if it does not know its key."""
    for transition in trail.get("key_transitions") or []:
        statement = transition.get("statement") if isinstance(transition, dict) else None
        if isinstance(statement, str):
            client.post(f"{url.rstrip('/')}/add-key-transition", content=statement.encode())


@audit.command()
def cosign(
    trail: Annotated[Path, typer.Argument(help="A trail written by 'andromede audit download'.")],
    witness: Annotated[
        list[str], typer.Option(help="A witness's URL prefix (repeat for several witnesses).")
    ],
    endpoint: Annotated[
        str | None,
        typer.Option(help="The management API, for a pruned trail's proofs (with credentials)."),
    ] = None,
    credentials_file: Annotated[
        Path | None, typer.Option(help="aws-style credentials, for a pruned trail's proofs.")
    ] = None,
    profile: Annotated[str, typer.Option(help="Profile in the credentials file.")] = "andromede",
    region: Annotated[
        str, typer.Option(envvar="ANDROMEDE_REGION", help="The deployment's region (SigV4).")
    ] = "eu-fr-1",
    ca_file: Annotated[
        Path | None,
        typer.Option(help="CA certificates (PEM) a witness's HTTPS certificate chains to."),
    ] = None,
) -> None:
    """Ask witnesses to cosign the trail's checkpoint (C2SP tlog-witness), giving each the
    trail's key transitions (which an Andromède witness follows) and the consistency proof
    from the size it holds, computed from the trail; their cosignatures are added to the
    trail's checkpoint."""
    try:
        content = json.loads(trail.read_text())
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(f"{trail} is not a readable JSON trail") from exc
    note = content.get("checkpoint") if isinstance(content, dict) else None
    if not isinstance(note, str):
        raise typer.BadParameter(f"{trail} is not a trail with a checkpoint")
    api = None
    if endpoint is not None and credentials_file is not None:
        api = _Api(endpoint, region, _credentials(credentials_file, profile))
    added: list[str] = []
    failed = 0
    verify: ssl.SSLContext | bool = (
        True if ca_file is None else ssl.create_default_context(cafile=str(ca_file))
    )
    with httpx.Client(timeout=_TIMEOUT, trust_env=False, verify=verify) as client:
        for url in witness:
            try:
                _teach(client, url, content)
                # The witness's size first (old 0 answers 409 with it), unless it has none.
                answer = _submit(client, url, content, 0, api)
                if answer.status_code == 409 and answer.text.strip().isdigit():
                    answer = _submit(client, url, content, int(answer.text.strip()), api)
            except (httpx.HTTPError, TrailInvalid, typer.BadParameter) as exc:
                err.print(f"[red]{url}[/red]: {exc}")
                failed += 1
                continue
            if answer.status_code != 200 or not answer.text.startswith("\u2014 "):
                err.print(f"[red]{url}[/red]: {answer.status_code} {answer.text.strip()[:200]}")
                failed += 1
                continue
            added += [line for line in answer.text.splitlines() if line not in note]
    content["checkpoint"] = note + "".join(f"{line}\n" for line in added)
    trail.write_text(json.dumps(content, indent=1) + "\n")
    err.print(f"{len(added)} cosignature(s) added to {trail}")
    if failed:
        raise typer.Exit(1)


@audit.command()
def verify(
    trail: Annotated[Path, typer.Argument(help="A trail written by 'andromede audit download'.")],
    public_key: Annotated[
        Path, typer.Option(help="The region's verifier key (<data-dir>/audit-log.pub).")
    ],
    trusted: Annotated[
        Path | None,
        typer.Option(help="A checkpoint or trail verified before: the log must extend it."),
    ] = None,
    witness_key: Annotated[
        list[Path] | None,
        typer.Option(help="A witness's cosigner key file: its cosignature is required."),
    ] = None,
    quorum: Annotated[
        int | None,
        typer.Option(min=1, help="How many of the --witness-key witnesses must have cosigned."),
    ] = None,
) -> None:
    """Verify a trail offline: signature, every entry, (with --trusted) append-only, and (with
    --witness-key) the witnesses' cosignatures on its checkpoint."""
    try:
        content = json.loads(trail.read_text())
    except (OSError, ValueError) as exc:
        err.print(f"[red]FAILED[/red]: {trail} is not a readable JSON trail")
        raise typer.Exit(1) from exc
    if not isinstance(content, dict):
        err.print(f"[red]FAILED[/red]: {trail} is not a trail")
        raise typer.Exit(1)
    try:
        verified = verify_trail(
            content,
            public_key.read_text(),
            trusted=None if trusted is None else _trusted_note(trusted),
        )
    except TrailInvalid as exc:
        err.print(f"[red]FAILED[/red]: {exc}")
        raise typer.Exit(1) from exc
    since = "" if verified.trusted_size is None else f", extending {verified.trusted_size}"
    if verified.key_transitions:
        since += f", across {verified.key_transitions} key transition(s)"
    witnessed = ""
    if witness_key:
        try:
            keys = [path.read_text() for path in witness_key]
            found = verify_cosignatures(
                content.get("checkpoint"), keys, quorum or len(keys), now=time.time()
            )
        except (OSError, TrailInvalid) as exc:
            err.print(f"[red]FAILED[/red]: {exc}")
            raise typer.Exit(1) from exc
        witnessed = f", cosigned by {', '.join(c.name for c in found)}"
    typer.echo(f"OK: {verified.origin}, {verified.size} entries{since}{witnessed}")
